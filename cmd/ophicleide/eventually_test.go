package main

import (
	"testing"
	"time"
)

// eventually calls poll every interval until it reports done, and fails
// the test with what poll last saw if timeout passes first. poll may fail
// the test itself when what it sees can no longer change for the better.
func eventually(t testing.TB, timeout, every time.Duration, poll func() (done bool, saw string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		done, saw := poll()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done after %s; last saw: %s", timeout, saw)
		}
		time.Sleep(every)
	}
}
