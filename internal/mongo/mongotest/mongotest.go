// Package mongotest gives tests a real MongoDB-protocol server: the
// MongoDB named by OPH_TEST_MONGO_URL when it is set, else FerretDB (its
// SQLite handler on a temporary directory) started in this process on
// 127.0.0.1, once per test binary. No MongoDB server can be installed
// here; FerretDB speaks the wire protocol and is a Go module.
package mongotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// EnvURL names a real MongoDB for the tests, e.g. mongodb://127.0.0.1:27017.
const EnvURL = "OPH_TEST_MONGO_URL"

var server = sync.OnceValues(func() (string, error) {
	if u := os.Getenv(EnvURL); u != "" {
		return u, nil
	}
	dir, err := os.MkdirTemp("", "ophicleide-ferretdb-")
	if err != nil {
		return "", err
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return "", err
	}
	go f.Run(context.Background()) // lives as long as the test binary
	uri := make(chan string, 1)
	go func() { uri <- f.MongoDBURI() }() // waits for the listener
	select {
	case u := <-uri:
		return u, nil
	case <-time.After(30 * time.Second):
		return "", context.DeadlineExceeded
	}
})

// URL returns the URL of a fresh database on the test server: each call
// names a database of its own, so tests do not see each other's data.
func URL(t testing.TB) string {
	t.Helper()
	base, err := server()
	if err != nil {
		t.Fatalf("starting FerretDB: %v", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("test MongoDB URL %q: %v", base, err)
	}
	var b [6]byte
	rand.Read(b[:])
	u.Path = "/ophtest_" + hex.EncodeToString(b[:])
	return u.String()
}
