package word2vec

import (
	"context"
	"os"
	"strconv"
	"testing"
)

// TestDevTrain trains on $W2V_FILE and prints the stats (development aid).
func TestDevTrain(t *testing.T) {
	path := os.Getenv("W2V_FILE")
	if path == "" {
		t.Skip("W2V_FILE not set")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg := DefaultConfig()
	cfg.Threads = 2
	if n, _ := strconv.Atoi(os.Getenv("W2V_THREADS")); n > 0 {
		cfg.Threads = n
	}
	if os.Getenv("W2V_CBOW") != "" {
		cfg.Arch = CBOW
		cfg.Alpha = 0.025
	}
	if os.Getenv("W2V_HS") != "" {
		cfg.Loss = HierarchicalSoftmax
	}
	if e, _ := strconv.Atoi(os.Getenv("W2V_EPOCHS")); e > 0 {
		cfg.Epochs = e
	}
	res, err := Train(context.Background(), cfg, newFieldsSource(f, 10000))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res.Stats)
	if out := os.Getenv("W2V_OUT"); out != "" {
		o, _ := os.Create(out)
		defer o.Close()
		writeTextForDev(o, res)
	}
}

func writeTextForDev(o *os.File, res *Result) {
	s := res.Vectors
	b := []byte(strconv.Itoa(s.Len()) + " " + strconv.Itoa(s.Dim()) + "\n")
	for i := 0; i < s.Len(); i++ {
		b = append(b, s.Word(i)...)
		for _, v := range s.Row(i) {
			b = append(b, ' ')
			b = strconv.AppendFloat(b, float64(v), 'g', 6, 32)
		}
		b = append(b, '\n')
		if len(b) > 1<<20 {
			o.Write(b)
			b = b[:0]
		}
	}
	o.Write(b)
}
