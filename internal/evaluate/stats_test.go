package evaluate

import (
	"math"
	"slices"
	"testing"
)

func TestRanksTies(t *testing.T) {
	// scipy.stats.rankdata([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]).
	got := ranks([]float64{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5})
	want := []float64{4.5, 1.5, 6, 1.5, 8, 11, 3, 10, 8, 4.5, 8}
	if !slices.Equal(got, want) {
		t.Errorf("ranks = %v, want %v", got, want)
	}
	nan := math.NaN()
	got = ranks([]float64{nan, 2, nan, 1, 2})
	want = []float64{4, 2.5, 5, 1, 2.5} // NaNs last, in order, untied (numpy)
	if !slices.Equal(got, want) {
		t.Errorf("ranks with NaN = %v, want %v", got, want)
	}
}

func TestSpearmanHandComputed(t *testing.T) {
	for _, c := range []struct {
		name string
		x, y []float64
		want float64
	}{
		// ranks x 1 2.5 2.5 4, y 1 3 2 4: deviations (-1.5 0 0 1.5) and
		// (-1.5 .5 -.5 1.5), so rho = 4.5/sqrt(4.5*5) = 3/sqrt(10).
		{"tie in x", []float64{1, 2, 2, 3}, []float64{1, 3, 2, 4}, 3 / math.Sqrt(10)},
		// ranks x 1 3 3 3 5: deviations (-2 0 0 0 2) against (-2 -1 0 1 2),
		// rho = 8/sqrt(8*10) = 2/sqrt(5).
		{"three tied", []float64{10, 20, 20, 20, 30}, []float64{1, 2, 3, 4, 5}, 2 / math.Sqrt(5)},
		// ties on both sides: ranks x 1.5 1.5 3 4, y 1 2.5 2.5 4; deviations
		// (-1 -1 .5 1.5) and (-1.5 0 0 1.5): rho = 3.75/sqrt(4.5*4.5) = 5/6.
		{"ties both sides", []float64{0, 0, 1, 7}, []float64{-3, 5, 5, 6}, 5.0 / 6},
		{"monotone", []float64{1, 2, 3, 4}, []float64{10, 100, 1000, 10000}, 1},
		{"reversed", []float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, -1},
	} {
		if got := Spearman(c.x, c.y); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: Spearman = %v, want %v", c.name, got, c.want)
		}
	}
	for _, c := range []struct {
		name string
		x, y []float64
	}{
		{"empty", nil, nil},
		{"one", []float64{1}, []float64{2}},
		{"constant", []float64{1, 1, 1}, []float64{1, 2, 3}},
	} {
		if got := Spearman(c.x, c.y); !math.IsNaN(got) {
			t.Errorf("%s: Spearman = %v, want NaN", c.name, got)
		}
	}
}

func TestPearson(t *testing.T) {
	// x - mean = (-1 0 1), y - mean = (-2 1 1): r = 3/sqrt(2*6).
	if got, want := Pearson([]float64{1, 2, 3}, []float64{0, 3, 3}), 3/math.Sqrt(12); math.Abs(got-want) > 1e-12 {
		t.Errorf("Pearson = %v, want %v", got, want)
	}
}
