// Package params holds a server's bounds on the training parameters a
// request may ask for (Limits), published at GET /limits and checked at
// POST /models. They are the server's policy, the same for every engine;
// whether an engine can train a model at all is that engine's Validate
// (internal/trainer/native.Validate for the native one).
package params

import (
	"fmt"

	"github.com/ophicleide/ophicleide"
)

// Limits are a server's bounds on the training parameters a request may
// ask for: what makes sense for Word2Vec rather than anything that fits an
// int. The trainer itself accepts wider values (the offline CLI is the
// user's own machine); a server that trains for others refuses beyond
// these with a 400 naming the field. Servers publish them (GET /limits).
type Limits struct {
	MaxDim      int     `json:"maxDim"`
	MaxWindow   int     `json:"maxWindow"`
	MaxNegative int     `json:"maxNegative"`
	MaxEpochs   int     `json:"maxEpochs"`
	MaxAlpha    float64 `json:"maxAlpha"`
}

// DefaultLimits are the limits of a server not told otherwise. Published
// models use dimensions of 50-300 (GoogleNews 300, fastText 300), windows
// of 2-10, 5-20 negatives, 1-20 epochs and learning rates of 0.025-0.1;
// the defaults leave ample room above that.
func DefaultLimits() Limits {
	return Limits{MaxDim: 1000, MaxWindow: 50, MaxNegative: 50, MaxEpochs: 100, MaxAlpha: 1}
}

// Validate reports a limit that is not positive (a misconfigured server).
func (l Limits) Validate() error {
	switch {
	case l.MaxDim < 1, l.MaxWindow < 1, l.MaxNegative < 1, l.MaxEpochs < 1:
		return fmt.Errorf("parameter limits must be 1 or more: %+v", l)
	case !(l.MaxAlpha > 0):
		return fmt.Errorf("the alpha limit must be above 0, got %g", l.MaxAlpha)
	}
	return nil
}

// Check checks p against l only (what an engine accepts is its own
// Validate's business): the first parameter over its limit is an EINVALID
// *ophicleide.Error naming its API field and the limit.
func (l Limits) Check(p ophicleide.Params) error {
	over := func(field string, got, limit any) error {
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: field,
			Message: fmt.Sprintf("%s %v is above this server's limit of %v (GET /limits lists them)", field, got, limit)}
	}
	switch {
	case p.Dim > l.MaxDim:
		return over("dim", p.Dim, l.MaxDim)
	case p.Window > l.MaxWindow:
		return over("window", p.Window, l.MaxWindow)
	case p.Negative > l.MaxNegative:
		return over("negative", p.Negative, l.MaxNegative)
	case p.Epochs > l.MaxEpochs:
		return over("epochs", p.Epochs, l.MaxEpochs)
	case p.Alpha > l.MaxAlpha:
		return over("alpha", p.Alpha, l.MaxAlpha)
	}
	return nil
}
