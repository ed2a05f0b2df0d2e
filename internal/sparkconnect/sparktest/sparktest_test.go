package sparktest_test

import (
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide/internal/sparkconnect/sparktest"
)

func TestMain(m *testing.M) { os.Exit(sparktest.Main(m)) }

// The server URL answers a TCP connection (no gRPC: the client is
// elsewhere), and a binary gets the same server on every call.
func TestURLAnswers(t *testing.T) {
	u := sparktest.URL(t)
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "sc" || p.Hostname() == "" {
		t.Fatalf("URL %q: want sc://host:port (%v)", u, err)
	}
	port := p.Port()
	if port == "" {
		port = "15002" // Spark Connect's default
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort(p.Hostname(), port), 5*time.Second)
	if err != nil {
		t.Fatalf("%s does not answer: %v", u, err)
	}
	c.Close()
	if again := sparktest.URL(t); again != u {
		t.Errorf("second URL %q, first %q: want one server per binary", again, u)
	}
}

func TestURLFromEnv(t *testing.T) {
	const want = "sc://spark.example:15002/;user_id=test"
	t.Setenv(sparktest.EnvURL, want)
	if got := sparktest.URL(t); got != want {
		t.Errorf("URL = %q with %s=%q", got, sparktest.EnvURL, want)
	}
}
