package native

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/corpus"
)

// TestPrecheckRefusesUploadOverMemoryLimit: a model trained from uploads
// only is refused at creation when its estimate is over the limit, and
// accepted when it fits.
func TestPrecheckRefusesUploadOverMemoryLimit(t *testing.T) {
	book, err := os.ReadFile("../../../testdata/pride-and-prejudice_1342-0.txt")
	if err != nil {
		t.Fatal(err)
	}
	up := func() map[string]io.Reader { return map[string]io.Reader{"austen": strings.NewReader(string(book))} }
	err = New(Config{Threads: 1, MemoryLimit: 16 << 20}).Precheck(context.Background(), ophicleide.Params{Dim: 1000, MinCount: 1}, up(), corpus.Limits{})
	if ophicleide.ErrorCode(err) != ophicleide.EINVALID || !strings.Contains(err.Error(), "more than the memory limit of 16 MiB") {
		t.Fatalf("over the limit: %v", err)
	}
	if err := New(Config{Threads: 1, MemoryLimit: 1 << 30}).Precheck(context.Background(), ophicleide.Params{Dim: 1000, MinCount: 1}, up(), corpus.Limits{}); err != nil {
		t.Fatalf("within the limit: %v", err)
	}
	if err := New(Config{Threads: 1, MemoryLimit: 16 << 20}).Precheck(context.Background(), ophicleide.Params{MinCount: 100000}, up(), corpus.Limits{}); err != nil {
		t.Fatalf("a vocabulary problem is left to the job: %v", err)
	}
	if err := New(Config{Threads: 1, MemoryLimit: 16 << 20}).Precheck(context.Background(), ophicleide.Params{Dim: 1000, MinCount: 1}, up(), corpus.Limits{MaxTotalBytes: 1000}); err != nil {
		t.Fatalf("text over the worker's limits is left to the job: %v", err)
	}
	var e *ophicleide.Error
	if err := New(Config{Threads: 1, MemoryLimit: 16 << 20}).Precheck(context.Background(), ophicleide.Params{Dim: -1}, up(), corpus.Limits{}); !errors.As(err, &e) || e.Code != ophicleide.EINVALID || e.Field != "dim" {
		t.Fatalf("invalid parameters: %v", err)
	}
}
