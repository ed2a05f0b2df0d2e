package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
)

// testConcurrency: 8 workers claim and complete 50 jobs at once; each job
// is claimed exactly once.
func testConcurrency(t *testing.T, open opener) {
	t.Parallel()
	s := open(t)
	const models, workers = 50, 8
	for i := range models {
		mustCreate(t, s, NewModel(time.Duration(i)*time.Millisecond), nil)
	}
	var mu sync.Mutex
	claims := map[string]int{}
	tokens := map[string]int64{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			owner := fmt.Sprintf("worker-%d", w)
			for {
				l, err := s.ClaimJob(t.Context(), owner, time.Minute)
				if err != nil {
					t.Errorf("%s: ClaimJob: %v", owner, err)
					return
				}
				if l == nil {
					return
				}
				mu.Lock()
				claims[l.ModelID]++
				tokens[l.ModelID] = l.Token
				mu.Unlock()
				if err := s.CompleteJob(t.Context(), l, ophicleide.Completion{Stats: ophicleide.Stats{VocabSize: w}}); err != nil {
					t.Errorf("%s: CompleteJob: %v", owner, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(claims) != models {
		t.Errorf("%d models claimed, want %d", len(claims), models)
	}
	for id, n := range claims {
		if n != 1 {
			t.Errorf("model %s claimed %d times", id, n)
		}
	}
	wantQueueLength(t, s, 0)
	for _, m := range pageAll(t, s, ophicleide.MaxPageLimit) {
		if m.Status != ophicleide.StatusReady {
			t.Errorf("model %s is %s after all jobs completed", m.ID, m.Status)
		}
	}
}
