package evaluate

import (
	"math"
	"slices"
)

// Spearman returns Spearman's rank correlation of x and y: Pearson's r of
// their ranks, where tied values all get the mean of the ranks they span
// (scipy.stats.spearmanr, eval.py's spearman). It returns NaN when it is
// undefined: fewer than two values, or all of x (or of y) equal. It panics
// if x and y differ in length. It does not modify x or y.
func Spearman(x, y []float64) float64 {
	if len(x) != len(y) {
		panic("evaluate: Spearman length mismatch")
	}
	return Pearson(ranks(x), ranks(y))
}

// Pearson returns Pearson's correlation coefficient of x and y, or NaN when
// it is undefined: fewer than two values, or all of x (or of y) equal. It
// panics if x and y differ in length.
func Pearson(x, y []float64) float64 {
	if len(x) != len(y) {
		panic("evaluate: Pearson length mismatch")
	}
	if len(x) < 2 {
		return math.NaN()
	}
	mx, my := mean(x), mean(y)
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	d := math.Sqrt(sxx * syy)
	if d == 0 {
		return math.NaN()
	}
	return sxy / d
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// ranks returns the 1-based ranks of x, ties getting the mean of the ranks
// they span. NaNs rank last, each on its own (numpy's argsort).
func ranks(x []float64) []float64 {
	order := make([]int, len(x))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		a, b := x[i], x[j]
		switch {
		case math.IsNaN(a):
			if math.IsNaN(b) {
				return 0
			}
			return 1
		case math.IsNaN(b), a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	})
	r := make([]float64, len(x))
	for i := 0; i < len(order); {
		j := i
		for j+1 < len(order) && x[order[j+1]] == x[order[i]] {
			j++
		}
		rank := float64(i+j)/2 + 1
		for _, k := range order[i : j+1] {
			r[k] = rank
		}
		i = j + 1
	}
	return r
}
