package corpus

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"time"

	"github.com/ophicleide/ophicleide/internal/bytesize"

	"github.com/ophicleide/ophicleide/internal/tokenize"
)

// LimitError is the error of a Reader that reached one of its Limits. Its
// message names the limit and is meant for the user who gave the inputs.
type LimitError struct {
	Source string // the source being read (or about to be opened) when the limit was reached

	// Total tells a limit of all sources together (MaxTotalBytes,
	// MaxReadTime) from the limit of one source (MaxSourceBytes).
	Total bool

	Limit    int64         // the byte limit reached, or 0 for MaxReadTime
	Duration time.Duration // MaxReadTime when that is the limit reached, else 0
	Err      error         // for MaxReadTime, the error that stopped the source; else nil
}

// Error returns, for example, "upload:big: the text is larger than the
// limit of 64 MiB (after decompression)".
func (e *LimitError) Error() string {
	switch {
	case e.Duration > 0:
		return fmt.Sprintf("fetching and reading the model's inputs took longer than the limit of %s (stopped at %s)", e.Duration, e.Source)
	case e.Total:
		return fmt.Sprintf("the model's text is larger than the limit of %s for all its inputs together (reached in %s, after decompression)", bytesize.Format(e.Limit), e.Source)
	}
	return fmt.Sprintf("%s: the text is larger than the limit of %s (after decompression)", e.Source, bytesize.Format(e.Limit))
}

// Unwrap returns e.Err.
func (e *LimitError) Unwrap() error { return e.Err }

// CompressionError is the error of a source that is compressed more than
// once (gzip inside gzip) or in a format other than gzip. Such a source is
// refused before its content is decompressed.
type CompressionError struct {
	Source string
	Format string // of the content found: "gzip", "zstd", "xz", "bzip2", "zip", "7z"
	Nested bool   // the format was found inside a gzip stream
}

func (e *CompressionError) Error() string {
	if e.Nested {
		return fmt.Sprintf("%s: is compressed more than once (%s inside gzip); send plain text or a single gzip layer", e.Source, e.Format)
	}
	return fmt.Sprintf("%s: is compressed with %s, which is not decompressed; send plain text or a single gzip layer", e.Source, e.Format)
}

// SourceError is the error of a source that could not be opened or read.
// Its message names the source and is meant for the user who gave the
// inputs: the server's own file names are left out (a file error reads
// "upload:NAME: cannot be read (permission denied)"); Err keeps every
// detail, for logs.
type SourceError struct {
	Source string
	Err    error
}

func (e *SourceError) Error() string { return e.Source + ": " + userText(e.Err) }

// Unwrap returns e.Err.
func (e *SourceError) Unwrap() error { return e.Err }

// userText is err's message without the server's paths, nor the
// tokenizer's byte offsets.
func userText(err error) string {
	var (
		pe    *fs.PathError
		re    *tokenize.ReadError
		errno syscall.Errno
	)
	switch {
	case errors.As(err, &pe):
		if errors.As(pe.Err, &errno) {
			return "cannot be read (" + errno.Error() + ")"
		}
		return "cannot be read"
	case errors.As(err, &re) && re.Err != nil:
		return userText(re.Err)
	case err == nil:
		return "unknown error"
	}
	return err.Error()
}
