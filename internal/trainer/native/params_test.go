package native

import (
	"testing"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/tokenize"
	"github.com/ophicleide/ophicleide/internal/word2vec"
)

func TestSubwordParams(t *testing.T) {
	cfg, _, err := config(ophicleide.Params{MinN: 2, MaxN: 5, Bucket: 1000})
	if err != nil || cfg.MinN != 2 || cfg.MaxN != 5 || cfg.Bucket != 1000 {
		t.Fatalf("got %+v %v", cfg, err)
	}
	if p := Effective(ophicleide.Params{MinN: 3, MaxN: 6}); p.Bucket != 2_000_000 {
		t.Fatalf("effective bucket %d, want 2000000", p.Bucket)
	}
	if p := Effective(ophicleide.Params{}); p.MinN != 0 || p.MaxN != 0 || p.Bucket != 0 {
		t.Fatalf("effective params without subwords %+v", p)
	}
}

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
		{ophicleide.Params{MinN: 3}, "minn"},
		{ophicleide.Params{MinN: 7, MaxN: 6}, "minn"},
		{ophicleide.Params{MinN: -1, MaxN: 6}, "minn"},
		{ophicleide.Params{MinN: 3, MaxN: 11}, "maxn"},
		{ophicleide.Params{MinN: 3, MaxN: -6}, "maxn"},
		{ophicleide.Params{MinN: 3, MaxN: 6, Bucket: 10_000_001}, "bucket"},
		{ophicleide.Params{MinN: 3, MaxN: 6, Bucket: -1}, "bucket"},
		{ophicleide.Params{Bucket: 100}, "bucket"},
	} {
		err := Validate(c.p)
		e, ok := err.(*ophicleide.Error)
		if !ok || e.Code != ophicleide.EINVALID || e.Field != c.field {
			t.Errorf("%+v: got %v, want EINVALID on %s", c.p, err, c.field)
		}
	}
}
