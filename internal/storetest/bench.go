package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
)

// BenchClaims measures the job queue of a store: for 1, 2 and 4
// concurrent workers, each claiming a job and completing it at once until
// the queue is empty, the latency of ClaimJob (p50, p99) and the jobs
// finished per second. Every iteration queues jobs anew in a fresh store.
func BenchClaims(b *testing.B, open func(b *testing.B) ophicleide.Store) {
	const jobs = 200
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			var lat []time.Duration
			var busy time.Duration
			for b.Loop() {
				b.StopTimer()
				s := open(b)
				for i := range jobs {
					if err := s.CreateModel(b.Context(), NewModel(time.Duration(i)*time.Millisecond), nil); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				start := time.Now()
				var mu sync.Mutex
				var wg sync.WaitGroup
				for w := range workers {
					wg.Go(func() {
						for {
							t0 := time.Now()
							l, err := s.ClaimJob(b.Context(), fmt.Sprintf("w%d", w), time.Minute)
							took := time.Since(t0)
							if err != nil {
								b.Error(err)
								return
							}
							if l == nil {
								return
							}
							mu.Lock()
							lat = append(lat, took)
							mu.Unlock()
							if err := s.CompleteJob(b.Context(), l, ophicleide.Completion{Stats: ophicleide.Stats{}}); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				busy += time.Since(start)
				b.StopTimer()
				s.Close()
				b.StartTimer()
			}
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "claim-ms-p50")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "claim-ms-p99")
			}
			b.ReportMetric(float64(jobs*b.N)/busy.Seconds(), "jobs/s")
		})
	}
}
