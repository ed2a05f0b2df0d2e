package ann

import (
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"github.com/ophicleide/ophicleide/internal/vectors"
)

// synthetic returns a deterministic clustered set of n rows of dimension
// dim, shaped like word vectors rather than like easy benchmark data:
//
//   - n/500 clusters (at least 1) with unit random centres, their sizes
//     skewed (cluster floor(c*u^2) for a uniform u: a few big ones, many
//     small), rows in a random order as a frequency order is to topics;
//   - a row is its cluster's centre, plus a point of a random rank-8
//     subspace of its cluster (norm ~0.6: what ranks neighbours within a
//     cluster), plus isotropic noise of norm ~0.3 in all dim directions
//     (which makes the true top 10 depend on small differences, the hard
//     part for any approximate index), times a random scale in [0.5, 2)
//     (norms differ, as frequent and rare words' do).
//
// Neighbours within a cluster score ~0.6-0.8, other rows ~0.0-0.2.
func synthetic(tb testing.TB, n, dim int, seed uint64) *vectors.Set {
	tb.Helper()
	const rank = 8
	nc := max(1, n/500)
	crng := rand.New(rand.NewPCG(seed, 1))
	centres := make([]float32, nc*dim)
	bases := make([]float32, nc*rank*dim)
	for j := range nc {
		c := centres[j*dim : (j+1)*dim]
		var s float64
		for i := range c {
			v := crng.NormFloat64()
			c[i] = float32(v)
			s += v * v
		}
		for i := range c {
			c[i] /= float32(math.Sqrt(s))
		}
		for i := range bases[j*rank*dim : (j+1)*rank*dim] {
			bases[j*rank*dim+i] = float32(crng.NormFloat64() * 0.6 / math.Sqrt(float64(rank*dim)))
		}
	}
	vecs := make([]float32, n*dim)
	const chunk = 4096
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for lo := 0; lo < n; lo += chunk {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			rng := rand.New(rand.NewPCG(seed, uint64(lo)+2))
			z := make([]float64, rank)
			noise := 0.3 / math.Sqrt(float64(dim))
			for i := lo; i < min(lo+chunk, n); i++ {
				u := rng.Float64()
				j := int(float64(nc) * u * u)
				row := vecs[i*dim : (i+1)*dim]
				copy(row, centres[j*dim:(j+1)*dim])
				for r := range z {
					z[r] = rng.NormFloat64()
				}
				b := bases[j*rank*dim : (j+1)*rank*dim]
				for r, zr := range z {
					br := b[r*dim : (r+1)*dim]
					for d := range row {
						row[d] += float32(zr) * br[d]
					}
				}
				scale := float32(0.5 + 1.5*rng.Float64())
				for d := range row {
					row[d] = (row[d] + float32(rng.NormFloat64()*noise)) * scale
				}
			}
		})
	}
	wg.Wait()
	words := make([]string, n)
	for i := range words {
		words[i] = "w" + strconv.Itoa(i)
	}
	s, err := vectors.New(words, dim, vecs)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// recallAt measures recall@k of ix against the exact scan over nq rows
// drawn at random, each searched as Nearest does (its unit row, itself
// excluded).
func recallAt(tb testing.TB, ix *Index, k, ef, nq int, seed uint64) float64 {
	tb.Helper()
	set := ix.Set()
	rng := rand.New(rand.NewPCG(seed, 99))
	hit, total := 0, 0
	for range nq {
		i := rng.IntN(set.Len())
		q := set.UnitRow(i)
		want := set.SearchExact(q, k, 0, []int{i})
		got := ix.SearchEf(q, k, ef, []int{i})
		in := make(map[string]bool, len(got))
		for _, g := range got {
			in[g.Word] = true
		}
		for _, w := range want {
			if in[w.Word] {
				hit++
			}
		}
		total += len(want)
	}
	return float64(hit) / float64(total)
}
