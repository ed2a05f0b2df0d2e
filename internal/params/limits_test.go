package params

import (
	"testing"

	"github.com/ophicleide/ophicleide"
)

// TestServerLimits reproduces issue 10: alpha 5 and 1000 negatives were
// accepted (and crashed the trainer); the server's limits refuse them.
func TestServerLimits(t *testing.T) {
	l := DefaultLimits()
	if err := l.Check(ophicleide.Params{Dim: 300, Window: 10, Negative: 20, Epochs: 20, Alpha: 0.1}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p     ophicleide.Params
		field string
	}{
		{ophicleide.Params{Alpha: 5}, "alpha"},
		{ophicleide.Params{Negative: 1000}, "negative"},
		{ophicleide.Params{Window: 51}, "window"},
		{ophicleide.Params{Dim: 1001}, "dim"},
		{ophicleide.Params{Dim: 20000}, "dim"},
		{ophicleide.Params{Epochs: 101}, "epochs"},
	} {
		err := l.Check(c.p)
		e, ok := err.(*ophicleide.Error)
		if !ok || e.Code != ophicleide.EINVALID || e.Field != c.field {
			t.Errorf("%+v: got %v, want EINVALID on %s", c.p, err, c.field)
		}
	}
	if err := (Limits{MaxDim: 2000, MaxWindow: 50, MaxNegative: 50, MaxEpochs: 100, MaxAlpha: 1}).Check(ophicleide.Params{Dim: 1500}); err != nil {
		t.Errorf("a raised limit still refuses: %v", err)
	}
	if err := DefaultLimits().Check(ophicleide.Params{Alpha: -1, Model: "glove"}); err != nil {
		t.Errorf("Check checks more than the limits (the engine's Validate does the rest): %v", err)
	}
	if (Limits{}).Validate() == nil {
		t.Error("zero limits validate")
	}
}
