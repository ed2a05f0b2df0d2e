package vectors

import (
	"slices"
	"testing"
)

// markApprox is an index that answers one marked word and records what
// it was asked, to see which searches go through an attached index.
type markApprox struct {
	calls   int
	exclude []int
	k       int
}

func (m *markApprox) Search(q []float32, k int, exclude []int) []Neighbor {
	m.calls++
	m.k, m.exclude = k, slices.Clone(exclude)
	return []Neighbor{{Word: "from-index", Score: 1}}
}

func (m *markApprox) Bytes() int64 { return 0 }

// TestSearchRouting: queries of every row (restrict 0 or >= Len) go to an
// attached index, Nearest and the analogies excluding their words there
// too; a restrict below Len and the options' Exact scan exactly; a
// detached index is no longer asked.
func TestSearchRouting(t *testing.T) {
	s, err := New([]string{"a", "b", "c", "d"}, 2, []float32{1, 0, 0, 1, 1, 1, -1, 0})
	if err != nil {
		t.Fatal(err)
	}
	exact := func(ns []Neighbor) bool { return len(ns) > 0 && ns[0].Word != "from-index" }
	a := &markApprox{}
	s.SetApprox(a)

	if ns := s.Search([]float32{1, 0}, 2, 0, nil); exact(ns) || a.k != 2 {
		t.Errorf("Search restrict 0 with an index: %v (k %d)", ns, a.k)
	}
	if ns, _ := s.Nearest("b", 3); exact(ns) || !slices.Equal(a.exclude, []int{1}) {
		t.Errorf("Nearest with an index: %v, exclude %v", ns, a.exclude)
	}
	if ns, _ := s.Analogy([]string{"a", "b"}, []string{"d"}, 1); exact(ns) || !slices.Equal(a.exclude, []int{0, 1, 3}) {
		t.Errorf("Analogy with an index: %v, exclude %v", ns, a.exclude)
	}
	// Every row: the index, restrict or not.
	for _, restrict := range []int{s.Len(), s.Len() + 5} {
		if ns, _ := s.NearestIn("b", 2, restrict); exact(ns) {
			t.Errorf("NearestIn restrict %d (all rows): %v, want the index", restrict, ns)
		}
	}
	calls := a.calls
	// Exact, whatever the restrict: the exact scan.
	for _, restrict := range []int{0, 2, s.Len()} {
		opt := SearchOptions{Restrict: restrict, Exact: true}
		if ns, _ := s.NearestWith("b", 2, opt); !exact(ns) {
			t.Errorf("NearestWith exact restrict %d: %v", restrict, ns)
		}
		if ns, _ := s.AnalogyWith([]string{"a"}, []string{"d"}, 2, opt); !exact(ns) {
			t.Errorf("AnalogyWith exact restrict %d: %v", restrict, ns)
		}
		if ns := s.SearchWith([]float32{1, 0}, 2, opt, nil); !exact(ns) {
			t.Errorf("SearchWith exact restrict %d: %v", restrict, ns)
		}
	}
	// A prefix of the rows: the exact scan.
	for _, restrict := range []int{2, 3} {
		if ns := s.Search([]float32{1, 0}, 2, restrict, nil); !exact(ns) {
			t.Errorf("Search restrict %d: %v, want the exact scan", restrict, ns)
		}
		if ns, _ := s.NearestIn("b", 2, restrict); !exact(ns) {
			t.Errorf("NearestIn restrict %d: %v, want the exact scan", restrict, ns)
		}
		if ns, _ := s.AnalogyIn([]string{"a"}, nil, 2, restrict); !exact(ns) {
			t.Errorf("AnalogyIn restrict %d: %v, want the exact scan", restrict, ns)
		}
	}
	if got := s.Search([]float32{1, 0}, 0, 0, nil); got != nil || a.calls != calls {
		t.Errorf("n 0 with an index: %v, %d calls", got, a.calls-calls)
	}
	if a.calls != calls {
		t.Errorf("restricted searches asked the index %d times", a.calls-calls)
	}
	want := s.SearchExact([]float32{1, 0}, 2, 0, nil)
	s.SetApprox(nil)
	if got := s.Search([]float32{1, 0}, 2, 0, nil); !slices.Equal(got, want) || a.calls != calls {
		t.Errorf("detached: %v, want %v", got, want)
	}
}
