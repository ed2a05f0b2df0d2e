package http

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
)

// TestMetricsLabelsBounded: the method was a label, so 15,000 made-up
// methods gave a 23 MB scrape. Labels come only from the router's
// patterns and the standard methods.
func TestMetricsLabelsBounded(t *testing.T) {
	a := startAPI(t, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string {
		const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		b := make([]byte, n)
		for i := range b {
			b[i] = letters[rng.IntN(len(letters))]
		}
		return string(b)
	}
	var methods []string
	paths := []string{"/models", "/queries", "/", "/api/models", someModel, someModel + "/similar"}
	for i := range 500 {
		m := "M" + word(20)
		methods = append(methods, m)
		path := paths[i%len(paths)]
		if i%2 == 0 {
			path = "/" + strings.ToLower(word(30)) + "/" + strings.ToLower(word(10))
		}
		req, err := http.NewRequest(m, a.base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed && resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s %s: %d", m, path, resp.StatusCode)
		}
	}
	r := a.do("GET", "/metrics", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("metrics: %d", r.status)
	}
	scrape := string(r.body)
	if len(scrape) > 64<<10 {
		t.Errorf("the scrape is %d bytes after 500 made-up requests", len(scrape))
	}
	for _, m := range methods {
		if strings.Contains(scrape, m) {
			t.Fatalf("the scrape names the made-up method %s", m)
		}
	}
	if strings.Contains(scrape, "/models/"+someModel[len("/models/"):]) || strings.Contains(scrape, "qwerty") {
		t.Errorf("the scrape names a request path")
	}
	for _, want := range []string{`method="other",route="unmatched",status="405"`, `method="other",route="unmatched",status="404"`} {
		if !strings.Contains(scrape, want) {
			t.Errorf("the scrape lacks %s", want)
		}
	}
}
