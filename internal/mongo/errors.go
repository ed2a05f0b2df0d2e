package mongo

import (
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/ophicleide/ophicleide"
)

func notFound(what, id string) error {
	return ophicleide.Errorf(ophicleide.ENOTFOUND, "%s %q not found", what, id)
}

// outOfSpace are the server's answers that mean it cannot store more:
// MongoDB's OutOfDiskSpace (14031), its errors from a full disk, Atlas's
// space quota, and SQLite's full database under FerretDB.
var outOfSpace = struct {
	codes    []int
	messages []string
}{
	codes:    []int{14031},
	messages: []string{"No space left on device", "over your space quota", "database or disk is full", "Disk quota exceeded"},
}

// unavailable maps driver errors that mean "the database is not there" to
// EUNAVAILABLE and those that mean "the database is full" to EFULL;
// others pass through.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		full := false
		for _, c := range outOfSpace.codes {
			full = full || se.HasErrorCode(c)
		}
		for _, m := range outOfSpace.messages {
			full = full || se.HasErrorMessage(m)
		}
		if full {
			return &ophicleide.Error{Code: ophicleide.EFULL, Message: "the database's disk is full: nothing was stored; free space or delete models, then retry", Err: err}
		}
	}
	var ce mongo.CommandError
	if mongo.IsNetworkError(err) || mongo.IsTimeout(err) || errors.Is(err, mongo.ErrClientDisconnected) ||
		(errors.As(err, &ce) && ce.HasErrorLabel("NetworkError")) || strings.Contains(err.Error(), "server selection") {
		return &ophicleide.Error{Code: ophicleide.EUNAVAILABLE, Message: "the database does not answer", Err: err}
	}
	return err
}

// leaseLost is the error of every lease method whose lease is not current.
func leaseLost(op string) error {
	return fmt.Errorf("mongo: %s: %w", op, ophicleide.ErrLeaseLost)
}
