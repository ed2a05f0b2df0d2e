package vectors

import (
	"io"
	"runtime"
	"strconv"
)

// The TensorFlow Embedding Projector's files (projector.tensorflow.org,
// "Load"): vectors.tsv holds one row per word, its values separated by
// tabs, no header; metadata.tsv the words in the same order, one a line,
// no header (the Projector reads a single column without one).

// WriteTSV writes the raw vectors of s as the Projector's vectors.tsv,
// in row order, each value in the shortest form that reads back as the
// same float32. It writes row by row (nothing is buffered whole); wrap w
// in a bufio.Writer.
func WriteTSV(w io.Writer, s *Set) error {
	defer runtime.KeepAlive(s)
	buf := make([]byte, 0, 16*s.dim)
	for i := range s.words {
		buf = buf[:0]
		for j, v := range s.Row(i) {
			if j > 0 {
				buf = append(buf, '\t')
			}
			buf = strconv.AppendFloat(buf, float64(v), 'g', -1, 32)
		}
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// WriteTSVMetadata writes the words of s as the Projector's metadata.tsv,
// one a line in row order (words hold no white space: New refuses it).
func WriteTSVMetadata(w io.Writer, s *Set) error {
	for _, word := range s.words {
		if _, err := io.WriteString(w, word+"\n"); err != nil {
			return err
		}
	}
	return nil
}
