package ophicleide

import (
	"errors"
	"fmt"
	"time"
)

// Error codes: a small set, mapped to HTTP statuses in exactly one place
// (the HTTP adapter).
const (
	ECONFLICT    = "conflict"
	EINTERNAL    = "internal"
	EINVALID     = "invalid"
	ENOTFOUND    = "not_found"
	EUNAVAILABLE = "unavailable"
	ETOOLARGE    = "too_large"
	// EFULL: the server cannot store more (its disk or quota is full,
	// or its data directory reached its configured limit).
	EFULL = "insufficient_storage"
	// EUNAUTHORIZED: the request carries no key, or one the server does
	// not know (401). EFORBIDDEN: the key's role or ownership does not
	// allow it (403). ELIMITED: over a rate limit or a quota (429; the
	// error's RetryAfter, when set, says when to try again).
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	ELIMITED      = "rate_limited"
)

// Error is the application error: a code and a message safe to show a
// user. Field names the request field at fault, when there is one.
type Error struct {
	Code    string
	Message string
	Field   string
	Err     error // the cause, for logs; never shown to users
	// RetryAfter, for ELIMITED, is how long to wait before trying again
	// (0: not known); the HTTP adapter sends it as Retry-After.
	RetryAfter time.Duration
	// Suggestions, for a word not in a model's vocabulary, are words of
	// it nearest by spelling (at most a few; none: nil).
	Suggestions []string
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrLeaseLost is returned to a worker whose lease is no longer current.
var ErrLeaseLost = &Error{Code: ECONFLICT, Message: "the job's lease was lost (claimed by another worker, or the model was deleted)"}

// ImportInterrupted is the Error of a model whose import stopped with
// the process that ran it (ModelStore.FailStaleImports).
const ImportInterrupted = "the import was interrupted (the server stopped before the whole file was stored): import the file again"

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-safe message of the first *Error in err's
// chain, or a generic message for any other error.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	}
	return "internal error"
}
