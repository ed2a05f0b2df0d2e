package native

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/corpus"
	"github.com/ophicleide/ophicleide/internal/trainer"
)

func inputs(text string) trainer.Inputs {
	return trainer.Inputs{Sources: []corpus.Source{{Name: "upload:t", Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(text)), nil
	}}}}
}

// TestTrainFailuresAreForUsers: word2vec's typed failures reach the
// worker as application errors whose message is the reason it shows.
func TestTrainFailuresAreForUsers(t *testing.T) {
	e := New(Config{Threads: 1})
	for _, c := range []struct {
		p    ophicleide.Params
		text string
		want string
	}{
		{ophicleide.Params{}, "", "the corpus contains no words"},
		{ophicleide.Params{}, "one two three", "no word occurs at least 5 times"},
		{ophicleide.Params{Dim: -1}, "a a a a a", "invalid training parameters: invalid dim"},
	} {
		_, err := e.Train(context.Background(), trainer.Job{Params: c.p, Inputs: inputs(c.text)})
		var ae *ophicleide.Error
		if !errors.As(err, &ae) || ae.Code != ophicleide.EINVALID || !strings.HasPrefix(ae.Message, c.want) {
			t.Errorf("%+v %q: got %v, want EINVALID %q", c.p, c.text, err, c.want)
		}
	}
	if _, err := New(Config{Threads: -1}).Train(context.Background(), trainer.Job{Inputs: inputs("a")}); ophicleide.ErrorMessage(err) != "invalid training parameters: invalid threads: -1 is not between 1 and 4096" {
		t.Errorf("engine threads: %v", err)
	}
}

// TestTrainReportsProgressAndStats: phases as the API shows them
// ("fetching" while reading URLs), and figures per input.
func TestTrainReportsProgressAndStats(t *testing.T) {
	in := inputs(strings.Repeat("the cat sat on the mat ", 50))
	in.Fetched = true
	var phases []string
	res, err := New(Config{Threads: 1}).Train(context.Background(), trainer.Job{Params: ophicleide.Params{Dim: 10, MinCount: 1, Epochs: 1}, Inputs: in,
		Progress: func(p ophicleide.Progress) {
			if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
				phases = append(phases, p.Phase)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(phases, ",") != "fetching,training" {
		t.Errorf("phases %v", phases)
	}
	if res.Vectors.Len() != 5 || res.Vectors.Words()[0] != "the" || res.Stats.CorpusWords != 300 || res.Stats.VocabSize != 5 ||
		len(res.Stats.Sources) != 1 || res.Stats.Sources[0].URL != "upload:t" || res.Stats.Sources[0].Words != 300 {
		t.Fatalf("result: %d words, stats %+v", res.Vectors.Len(), res.Stats)
	}
}
