package word2vec

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ophicleide/ophicleide/internal/tokenize"
)

// trainBoth trains text with cfg with the corpus in memory and on file
// and fails unless the vectors are identical bit for bit.
func trainBoth(t *testing.T, cfg Config, text string) {
	t.Helper()
	mem, err := Train(context.Background(), cfg, src(text))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DiskCorpus, cfg.TempDir = true, t.TempDir()
	disk, err := Train(context.Background(), cfg, src(text))
	if err != nil {
		t.Fatal(err)
	}
	if !sameVectors(mem, disk) {
		t.Fatalf("vectors differ with the corpus on file")
	}
	if mem.Stats.TrainWords != disk.Stats.TrainWords || mem.Stats.Sentences != disk.Stats.Sentences {
		t.Fatalf("stats differ: %+v and %+v", mem.Stats, disk.Stats)
	}
	if w := EstimateMemory(cfg, disk.Stats.VocabSize); disk.Stats.MemoryBytes != w || mem.Stats.MemoryBytes <= w {
		t.Fatalf("memory figures: in memory %d, on file %d, weights %d", mem.Stats.MemoryBytes, disk.Stats.MemoryBytes, w)
	}
}

// TestDiskCorpusSameModel: with one thread and a seed, every
// architecture and loss trains the same vectors from the corpus on file.
func TestDiskCorpusSameModel(t *testing.T) {
	text := synthetic(400, 1)
	for _, arch := range []Arch{SkipGram, CBOW} {
		for _, loss := range []Loss{NegativeSampling, HierarchicalSoftmax} {
			t.Run(string(arch)+"-"+string(loss), func(t *testing.T) {
				cfg := smallConfig()
				cfg.Arch, cfg.Loss = arch, loss
				if loss == HierarchicalSoftmax {
					cfg.Negative = 0
				}
				trainBoth(t, cfg, text)
			})
		}
	}
}

// bigText is a corpus of about 2.6M stored ids (three blocks), some of
// its words under the min count so that finish compacts across blocks.
func bigText() string {
	var b strings.Builder
	b.WriteString(synthetic(200000, 2))
	for i := range 3000 {
		b.WriteString("rare" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676)) + " cat\n")
	}
	return b.String()
}

// TestDiskCorpusSameModelBlocks: a corpus of several blocks, on file
// from the start and spilled by the memory limit while counting, trains
// the same vectors as in memory.
func TestDiskCorpusSameModelBlocks(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 2.4M words three times")
	}
	text := bigText()
	cfg := Config{Dim: 8, Window: 2, Negative: 2, MinCount: 2, Epochs: 1, Threads: 1, Seed: 5}
	trainBoth(t, cfg, text)

	// A limit under the corpus in memory but over the weights: the
	// counting pass moves it to a file at its first check.
	cfg.TempDir = t.TempDir()
	cfg.MemoryLimit = 6 << 20
	c, err := countWords(context.Background(), src(text), cfg, func(int64, float64) {})
	if err != nil {
		t.Fatal(err)
	}
	if !c.tokens.onFile() || c.tokens.n < 2*blockSize || c.tokens.bytes() != 0 {
		t.Fatalf("stored corpus of %d ids: on file %v, %d bytes in memory", c.tokens.n, c.tokens.onFile(), c.tokens.bytes())
	}
	c.tokens.close()
	spilled, err := Train(context.Background(), cfg, src(text))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MemoryLimit, cfg.TempDir = 0, ""
	mem, err := Train(context.Background(), cfg, src(text))
	if err != nil {
		t.Fatal(err)
	}
	if !sameVectors(mem, spilled) || spilled.Stats.MemoryBytes >= 6<<20 {
		t.Fatalf("spilled while counting: vectors differ or memory figure %d", spilled.Stats.MemoryBytes)
	}
}

// TestFinishSpills: a corpus that fits the limit while counting but not
// beside the weights moves to a file after compaction, and trains.
func TestFinishSpills(t *testing.T) {
	text := synthetic(2000, 3)
	cfg := Config{Dim: 50, MinCount: 1, Threads: 1, Epochs: 1, TempDir: t.TempDir()}
	c := countAndFinish(t, text, cfg)
	weights := EstimateMemory(cfg, len(c.words))
	ids := storedIDs(c)
	cfg.MemoryLimit = weights + blockSize*4 - 1 // the one block does not fit beside them
	d := countAndFinish(t, text, cfg)
	if !d.tokens.onFile() || !slices.Equal(storedIDs(d), ids) {
		t.Fatalf("on file %v; ids equal %v", d.tokens.onFile(), slices.Equal(storedIDs(d), ids))
	}
	if _, err := Train(context.Background(), cfg, src(text)); err != nil {
		t.Fatal(err)
	}
}

// TestCorpusFileErrors: a temporary directory that does not exist or is
// a file is a *CorpusFileError whose message names neither.
func TestCorpusFileErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tmp := range []string{filepath.Join(dir, "missing"), file} {
		cfg := smallConfig()
		cfg.DiskCorpus, cfg.TempDir = true, tmp
		_, err := Train(context.Background(), cfg, src(synthetic(10, 1)))
		var fe *CorpusFileError
		if !errors.As(err, &fe) || strings.Contains(err.Error(), dir) || !strings.HasPrefix(err.Error(), "creating the temporary file for the corpus: ") {
			t.Errorf("temporary directory %s: %v", tmp, err)
		}
	}
}

// sameVectors reports whether a and b have the same words and rows, bit
// for bit.
func sameVectors(a, b *Result) bool {
	if !slices.Equal(a.Vectors.Words(), b.Vectors.Words()) {
		return false
	}
	for i := range a.Vectors.Len() {
		if !slices.Equal(a.Vectors.Row(i), b.Vectors.Row(i)) {
			return false
		}
	}
	return true
}

// BenchmarkTrainDiskCorpus compares training words/s with the corpus in
// memory and on file (in page cache): Pride and Prejudice, or the gzipped
// corpus at $OPH_BENCH_CORPUS, one epoch of skip-gram with 2 threads. Each
// iteration trains both ways, alternating which goes first, so that both
// see the same noise of a shared machine; file/memory is the ratio of
// their words/s.
func BenchmarkTrainDiskCorpus(b *testing.B) {
	text, err := os.ReadFile("../../testdata/pride-and-prejudice_1342-0.txt")
	if p := os.Getenv("OPH_BENCH_CORPUS"); p != "" {
		text, err = readGzip(p)
	}
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	var words, secs [2]float64
	for i := range b.N {
		for k := range 2 {
			disk := (i+k)%2 == 1
			cfg := Config{Threads: 2, Epochs: 1, Seed: 1, DiskCorpus: disk, TempDir: dir}
			sc, err := tokenize.NewScanner(bytes.NewReader(text), tokenize.Options{})
			if err != nil {
				b.Fatal(err)
			}
			res, err := Train(context.Background(), cfg, sc)
			if err != nil {
				b.Fatal(err)
			}
			m := 0
			if disk {
				m = 1
			}
			words[m] += float64(res.Stats.CorpusWords * int64(cfg.Epochs))
			secs[m] += res.Stats.TrainSeconds
		}
	}
	mem, file := words[0]/secs[0], words[1]/secs[1]
	b.ReportMetric(mem, "memory-words/s")
	b.ReportMetric(file, "file-words/s")
	b.ReportMetric(file/mem, "file/memory")
}

func readGzip(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}
