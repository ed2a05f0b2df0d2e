package fetch

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ophicleide/ophicleide/internal/bytesize"
)

// rateReader fails the reads of a response body that arrives slower than
// min bytes per second. The rate is measured over windows of window of the
// time spent waiting in Read, so a caller that pauses between reads is not
// held against the server. A timer armed at each Read fires once the
// window is over even if that Read never returns (a stalled connection):
// it ends the window and, if too few bytes came, calls abort, which
// cancels the request and so unblocks the Read. No goroutine runs per
// read.
type rateReader struct {
	r      io.Reader
	min    int64 // bytes per second
	window time.Duration
	abort  func(error)

	mu      sync.Mutex
	waited  time.Duration // spent in Read in this window, before the current Read
	n       int64         // bytes of this window
	reading time.Time     // start of the current Read, or zero
	timer   *time.Timer
	err     error // sticky: the *slowError, or errStopped
}

var errStopped = errorString("the body is closed")

func newRateReader(r io.Reader, min int64, window time.Duration, abort func(error)) *rateReader {
	return &rateReader{r: r, min: min, window: window, abort: abort}
}

func (r *rateReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	if r.err != nil {
		r.mu.Unlock()
		return 0, r.err
	}
	r.reading = time.Now()
	if r.timer == nil {
		r.timer = time.AfterFunc(r.window-r.waited, r.expired)
	} else {
		r.timer.Reset(r.window - r.waited)
	}
	r.mu.Unlock()

	n, err := r.r.Read(p)

	r.mu.Lock()
	defer r.mu.Unlock()
	r.timer.Stop()
	if r.err != nil { // the timer ended the window, too slow: err is the abort's
		return n, r.err
	}
	r.waited += time.Since(r.reading)
	r.reading = time.Time{}
	r.n += int64(n)
	if r.waited >= r.window {
		if r.tooSlow() {
			return n, r.err
		}
		r.waited, r.n = 0, 0
	}
	return n, err
}

// expired runs when a Read has waited out the rest of the window.
func (r *rateReader) expired() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil || r.reading.IsZero() { // stopped, or the Read returned meanwhile
		return
	}
	now := time.Now()
	r.waited += now.Sub(r.reading)
	r.reading = now
	if r.waited < r.window { // a Read restarted the timer meanwhile
		r.timer.Reset(r.window - r.waited)
		return
	}
	if r.tooSlow() {
		return
	}
	r.waited, r.n = 0, 0
	r.timer.Reset(r.window)
}

// tooSlow checks the window that just ended; if too few bytes came, it
// records the error and aborts the request. r.mu is held.
func (r *rateReader) tooSlow() bool {
	if float64(r.n) >= float64(r.min)*r.waited.Seconds() {
		return false
	}
	r.err = &slowError{n: r.n, window: r.window, min: r.min}
	r.abort(r.err)
	return true
}

// stop disarms the timer for good.
func (r *rateReader) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
	}
	if r.err == nil {
		r.err = errStopped
	}
}

// slowError is the cause of a KindTimeout error for a body that came
// slower than Options.MinRate.
type slowError struct {
	n      int64
	window time.Duration
	min    int64
}

func (e *slowError) Error() string {
	sent := bytesize.Format(e.n)
	if e.n == 0 {
		sent = "nothing"
	}
	return fmt.Sprintf("the server sent %s in the last %s, slower than the minimum of %s/s", sent, e.window, bytesize.Format(e.min))
}

func (e *slowError) Timeout() bool { return true }
