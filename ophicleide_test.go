package ophicleide

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

func TestResultWireFormat(t *testing.T) {
	b, err := json.Marshal([]Result{{Word: "bingley", Score: 0.75}})
	if err != nil || string(b) != `[[0.75,"bingley"]]` {
		t.Fatalf("got %s %v", b, err)
	}
	var back []Result
	if err := json.Unmarshal(b, &back); err != nil || back[0] != (Result{"bingley", 0.75}) {
		t.Fatalf("round trip: %v %v", back, err)
	}
	for _, bad := range []string{`[[1]]`, `[{"word":"x"}]`, `[["x",1]]`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	e := Errorf(ENOTFOUND, "model %q not found", "x")
	wrapped := fmt.Errorf("loading: %w", e)
	if ErrorCode(wrapped) != ENOTFOUND || ErrorMessage(wrapped) != `model "x" not found` {
		t.Fatalf("got %q %q", ErrorCode(wrapped), ErrorMessage(wrapped))
	}
	other := errors.New("disk exploded at /var/secret")
	if ErrorCode(other) != EINTERNAL || ErrorMessage(other) != "internal error" {
		t.Fatal("an unknown error must be internal with a generic message")
	}
	if ErrorCode(nil) != "" {
		t.Fatal("nil has no code")
	}
}
