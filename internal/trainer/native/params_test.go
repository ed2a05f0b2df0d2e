package native

import (
	"testing"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/tokenize"
	"github.com/ophicleide/ophicleide/internal/word2vec"
)

func TestParams(t *testing.T) {
	cfg, mode, err := config(ophicleide.Params{Model: "cbow", Dim: 50, MinCount: 2, Tokenizer: "classic"})
	if err != nil || cfg.Arch != word2vec.CBOW || cfg.Dim != 50 || cfg.MinCount != 2 || mode != tokenize.Classic {
		t.Fatalf("got %+v %q %v", cfg, mode, err)
	}
	for _, c := range []struct {
		p     ophicleide.Params
		field string
	}{
		{ophicleide.Params{Dim: 20000}, "dim"},
		{ophicleide.Params{MinCount: -1}, "minCount"},
		{ophicleide.Params{Model: "glove"}, "model"},
		{ophicleide.Params{Tokenizer: "nltk"}, "tokenizer"},
		{ophicleide.Params{Sample: 1.5}, "sample"},
		{ophicleide.Params{MaxVocab: -3}, "maxVocab"},
	} {
		err := Validate(c.p)
		e, ok := err.(*ophicleide.Error)
		if !ok || e.Code != ophicleide.EINVALID || e.Field != c.field {
			t.Errorf("%+v: got %v, want EINVALID on %s", c.p, err, c.field)
		}
	}
}
