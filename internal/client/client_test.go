package client

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

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
