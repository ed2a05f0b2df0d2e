package spark

import (
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/sparkconnect"
	"github.com/ophicleide/ophicleide/internal/trainer"
)

// expectedStages is about how many stages Spark's Word2Vec.fit runs:
// learning the vocabulary (three stages, as measured on Spark 4.3), then
// two for each iteration. Progress is the share of their tasks done.
func expectedStages(epochs int) int { return 3 + 2*epochs }

// progress turns Spark's stage progress into the model's.
type progress struct {
	job    trainer.Job
	start  time.Time
	stages int
	words  int64             // tokens to train on over all epochs, when known
	seen   map[int64]float64 // stage -> fraction of its tasks done
	last   float64
	sent   time.Time
}

func (p *progress) report(phase string, f, eta float64) {
	if p.job.Progress != nil {
		p.job.Progress(ophicleide.Progress{Phase: phase, Fraction: f, EtaSeconds: eta})
	}
}

// fit receives the fit's execution progress: the fraction is the share
// of the expected stages' tasks done, never going back, and below 1 until
// the vectors are read.
func (p *progress) fit(stages []sparkconnect.Stage) {
	if p.seen == nil {
		p.seen = map[int64]float64{}
	}
	for _, s := range stages {
		switch {
		case s.Finished:
			p.seen[s.ID] = 1
		case s.Tasks > 0:
			p.seen[s.ID] = float64(s.Done) / float64(s.Tasks)
		}
	}
	var sum float64
	for _, f := range p.seen {
		sum += f
	}
	f := min(sum/float64(max(p.stages, len(p.seen)+1)), 0.99)
	if f < p.last {
		f = p.last
	}
	interval := p.job.ProgressInterval
	if interval == 0 {
		interval = time.Second
	}
	if f == p.last && time.Since(p.sent) < interval {
		return
	}
	p.last, p.sent = f, time.Now()
	var eta, wps float64
	el := time.Since(p.start).Seconds()
	if f > 0.01 {
		eta = el/f - el
	}
	if el > 0 {
		wps = f * float64(p.words) / el
	}
	if p.job.Progress != nil {
		p.job.Progress(ophicleide.Progress{Phase: "training", Fraction: f, EtaSeconds: eta, WordsPerSecond: wps})
	}
}
