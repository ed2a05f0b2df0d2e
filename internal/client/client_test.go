package client

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
)

// TestResultsAfterTheCall: the methods that decode into a wrapper return
// what the server answered (the result is read after the request, not
// before it), and nil with the error when the server refuses.
func TestResultsAfterTheCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.Method + " " + r.URL.Path {
		case "GET /models/m1":
			json.NewEncoder(w).Encode(map[string]any{"model": ophicleide.Model{ID: "m1", Name: "austen"}})
		case "POST /queries":
			json.NewEncoder(w).Encode(map[string]any{"query": ophicleide.Query{ID: "q1", Word: "darcy", ModelID: "m1"}})
		case "POST /models":
			json.NewEncoder(w).Encode(ophicleide.Model{ID: "m2", Name: "emma"})
		case "GET /models":
			json.NewEncoder(w).Encode(ophicleide.ModelPage{Models: []*ophicleide.Model{{ID: "m1"}}})
		case "GET /queries":
			json.NewEncoder(w).Encode(ophicleide.QueryPage{Queries: []*ophicleide.Query{{ID: "q1"}}})
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"errors":[{"details":"no such thing"}]}`))
		}
	}))
	defer srv.Close()
	c := New(srv.URL)
	ctx := t.Context()

	if m, err := c.Model(ctx, "m1"); err != nil || m == nil || m.Name != "austen" {
		t.Errorf("Model = %+v, %v", m, err)
	}
	if q, err := c.Query(ctx, "m1", "darcy", 3); err != nil || q == nil || q.Word != "darcy" {
		t.Errorf("Query = %+v, %v", q, err)
	}
	if m, err := c.CreateModel(ctx, "emma", nil, ophicleide.Params{}); err != nil || m.ID != "m2" {
		t.Errorf("CreateModel = %+v, %v", m, err)
	}
	if p, err := c.ModelsPage(ctx, ophicleide.Page{}); err != nil || len(p.Models) != 1 {
		t.Errorf("ModelsPage = %+v, %v", p, err)
	}
	if p, err := c.Queries(ctx, "", ophicleide.Page{}); err != nil || len(p.Queries) != 1 {
		t.Errorf("Queries = %+v, %v", p, err)
	}
	m, err := c.Model(ctx, "nope")
	if m != nil || ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
		t.Errorf("Model of an unknown id = %+v, %v; want nil, ENOTFOUND", m, err)
	}
}

// TestClientSendsTokenAndMapsAccessErrors: with a token every request
// carries "Authorization: Bearer TOKEN" (without one, no Authorization);
// 401, 403 and 429 come back as EUNAUTHORIZED, EFORBIDDEN and ELIMITED
// with the server's words, 429 with Retry-After in seconds or as a date;
// no message holds the token.
func TestClientSendsTokenAndMapsAccessErrors(t *testing.T) {
	const secret = "s3cret-token-value"
	var seen []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		auth := r.Header.Get("Authorization")
		switch {
		case auth == "":
			w.Header().Set("WWW-Authenticate", `Bearer realm="ophicleide"`)
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"errors":[{"status":401,"title":"Unauthorized","details":"this server needs an API key"}]}`))
		case auth != "Bearer "+secret:
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"errors":[{"status":401,"title":"Unauthorized","details":"unknown API key"}]}`))
		case r.Method == "DELETE":
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"errors":[{"status":403,"title":"Forbidden","details":"a read key may not delete models"}]}`))
		case r.URL.Path == "/queries":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"errors":[{"status":429,"title":"Too Many Requests","details":"over the rate limit of this key"}]}`))
		case r.URL.Path == "/models" && r.Method == "POST":
			w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"errors":[{"status":429,"details":"this key has 2 models queued or training, its quota"}]}`))
		default:
			json.NewEncoder(w).Encode(ophicleide.ModelPage{Models: []*ophicleide.Model{{ID: "m1", Name: "austen"}}})
		}
	}))
	defer srv.Close()
	ctx := t.Context()

	anon := New(srv.URL)
	_, err := anon.Models(ctx)
	if ophicleide.ErrorCode(err) != ophicleide.EUNAUTHORIZED || !strings.Contains(ophicleide.ErrorMessage(err), "needs an API key") {
		t.Errorf("no key: %v (code %s), want EUNAUTHORIZED with the server's words", err, ophicleide.ErrorCode(err))
	}
	if _, err := anon.WithToken("wrong").Models(ctx); ophicleide.ErrorCode(err) != ophicleide.EUNAUTHORIZED || strings.Contains(err.Error(), "wrong") {
		t.Errorf("unknown key: %v", err)
	}
	c := anon.WithToken(secret)
	if anon.HasToken() || !c.HasToken() {
		t.Error("WithToken changed the original client or HasToken is wrong")
	}
	if ms, err := c.Models(ctx); err != nil || len(ms) != 1 {
		t.Errorf("Models with the key: %v, %v", ms, err)
	}
	err = c.DeleteModel(ctx, "m1")
	if ophicleide.ErrorCode(err) != ophicleide.EFORBIDDEN || !strings.Contains(err.Error(), "may not delete") || !strings.Contains(err.Error(), "HTTP 403") {
		t.Errorf("403: %v (code %s)", err, ophicleide.ErrorCode(err))
	}
	_, err = c.Query(ctx, "m1", "darcy", 3)
	var e *ophicleide.Error
	if !errors.As(err, &e) || e.Code != ophicleide.ELIMITED || e.RetryAfter != 7*time.Second {
		t.Errorf("429 with Retry-After 7: %#v", err)
	}
	_, err = c.CreateModel(ctx, "emma", []string{"http://example.com/emma.txt"}, ophicleide.Params{})
	if !errors.As(err, &e) || e.Code != ophicleide.ELIMITED || e.RetryAfter < 80*time.Second || e.RetryAfter > 100*time.Second {
		t.Errorf("429 with a Retry-After date 90 s ahead: %#v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("an error holds the token: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, s := range seen {
		wantKey := i >= 2
		if got := strings.HasSuffix(s, " Bearer "+secret); got != wantKey {
			t.Errorf("request %d (%s): sent the key %v, want %v", i, s, got, wantKey)
		}
	}
	if !strings.HasSuffix(seen[0], "/models ") {
		t.Errorf("a client without a token sent Authorization: %q", seen[0])
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"": 0, "3": 3 * time.Second, " 120 ": 2 * time.Minute, "-1": 0, "soon": 0,
		now.Add(time.Minute).Format(http.TimeFormat): time.Minute, now.Add(-time.Minute).Format(http.TimeFormat): 0,
	} {
		if got := retryAfter(h, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
}
