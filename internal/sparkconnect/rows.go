package sparkconnect

import (
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TokensColumn is the column of a RowsFile: one sentence's tokens a row.
const TokensColumn = "tokens"

// batchTokens is about how many tokens one Arrow record holds.
const batchTokens = 1 << 18

// RowsFile is sentences written as an Arrow IPC stream of one column,
// tokens (list<string>), in a temporary file, ready for UploadRows.
// Memory is one record's worth of tokens; the file holds the rest.
type RowsFile struct {
	f      *os.File
	schema *arrow.Schema
	w      *ipc.Writer
	b      *array.ListBuilder
	words  *array.StringBuilder
	tokens int
	rows   int64
}

// NewRowsFile creates the file in dir (os.TempDir when "").
func NewRowsFile(dir string) (*RowsFile, error) {
	f, err := os.CreateTemp(dir, "ophicleide-spark-*.arrow")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // gone when closed, whatever happens
	schema := arrow.NewSchema([]arrow.Field{{Name: TokensColumn, Type: arrow.ListOf(arrow.BinaryTypes.String)}}, nil)
	b := array.NewListBuilder(memory.DefaultAllocator, arrow.BinaryTypes.String)
	return &RowsFile{f: f, schema: schema, w: ipc.NewWriter(f, ipc.WithSchema(schema)), b: b, words: b.ValueBuilder().(*array.StringBuilder)}, nil
}

// Add appends one sentence.
func (r *RowsFile) Add(sentence [][]byte) error {
	r.b.Append(true)
	for _, w := range sentence {
		r.words.BinaryBuilder.Append(w)
	}
	r.tokens += len(sentence)
	r.rows++
	if r.tokens >= batchTokens {
		return r.flush()
	}
	return nil
}

// Rows is the number of sentences added.
func (r *RowsFile) Rows() int64 { return r.rows }

func (r *RowsFile) flush() error {
	if r.b.Len() == 0 {
		return nil
	}
	arr := r.b.NewArray()
	defer arr.Release()
	rec := array.NewRecord(r.schema, []arrow.Array{arr}, int64(arr.Len()))
	defer rec.Release()
	r.tokens = 0
	if err := r.w.Write(rec); err != nil {
		return fmt.Errorf("writing the rows for Spark: %w", err)
	}
	return nil
}

// Finish ends the stream and returns it to read, with its size.
func (r *RowsFile) Finish() (io.ReadSeeker, int64, error) {
	if err := r.flush(); err != nil {
		return nil, 0, err
	}
	if err := r.w.Close(); err != nil {
		return nil, 0, fmt.Errorf("writing the rows for Spark: %w", err)
	}
	size, err := r.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, 0, err
	}
	return r.f, size, nil
}

// Close removes the file.
func (r *RowsFile) Close() error {
	r.b.Release()
	return r.f.Close()
}
