package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
)

// The OpenAPI checks read the Embedding Projector's TSV exports as text.
func init() {
	openapi3filter.RegisterBodyDecoder("text/tab-separated-values", openapi3filter.PlainBodyDecoder)
}

// TestAnalysisEndToEnd trains two models on the real server, Pride and
// Prejudice with Alice (min count 1: about 7,500 words) and Pride and
// Prejudice alone, then compares them, maps one, and asks the analysis
// endpoints, every answer validated against openapi.yaml.
func TestAnalysisEndToEnd(t *testing.T) {
	austen, err := os.ReadFile("../../testdata/pride-and-prejudice_1342-0.txt")
	if err != nil {
		t.Fatal(err)
	}
	alice, err := os.ReadFile("../../testdata/alice-in-wonderland_11-0.txt")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"/austen.txt": austen, "/alice.txt": alice}
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(b)
	}))
	t.Cleanup(src.Close)
	base := startServer(t, "--allow-private-urls")

	train := func(name string, minCount int, paths ...string) string {
		var urls []string
		for _, p := range paths {
			urls = append(urls, `"`+src.URL+p+`"`)
		}
		var m struct{ ID string }
		body := fmt.Sprintf(`{"name": %q, "urls": [%s], "params": {"minCount": %d, "epochs": 5}}`, name, strings.Join(urls, ", "), minCount)
		if code, _ := call(t, "POST", base+"/models", body, &m); code != 201 {
			t.Fatalf("create %s: %d", name, code)
		}
		return m.ID
	}
	a := train("austen-alice", 1, "/austen.txt", "/alice.txt")
	b := train("austen", 1, "/austen.txt")
	waitModel(t, base, a, "ready")
	waitModel(t, base, b, "ready")

	type comparison struct {
		A, B            struct{ ID, Name string }
		Shared, Aligned int
		Word            string
		Neighbours      struct {
			A, B    [][2]any
			Overlap []string
			Jaccard float64
		}
		Moved []struct {
			Word     string
			Distance float64
			A, B     []string
		}
	}
	var c comparison
	start := time.Now()
	code, _ := call(t, "GET", base+"/compare?a="+a+"&b="+b+"&word=darcy&count=10&moved=20", "", &c)
	took := time.Since(start)
	if code != 200 || c.A.Name != "austen-alice" || c.B.ID != b || c.Shared < 3000 || c.Aligned < 3000 || c.Aligned > c.Shared || c.Word != "darcy" {
		t.Fatalf("compare: %d %+v", code, c)
	}
	if len(c.Neighbours.A) != 10 || len(c.Neighbours.B) != 10 || c.Neighbours.Jaccard < 0 || c.Neighbours.Jaccard > 1 {
		t.Fatalf("darcy's neighbours: %+v", c.Neighbours)
	}
	if len(c.Moved) != 20 {
		t.Fatalf("%d moved", len(c.Moved))
	}
	for i, m := range c.Moved {
		if len(m.A) != 3 || len(m.B) != 3 || m.Distance <= 0 || m.Distance > 2 || i > 0 && m.Distance > c.Moved[i-1].Distance {
			t.Fatalf("moved %d: %+v", i, m)
		}
	}
	t.Logf("compare %s: %d shared, %d aligned, %v (first call); darcy's overlap %v (Jaccard %.2f); moved most: %s %.2f %v / %v",
		c.B.Name, c.Shared, c.Aligned, took, c.Neighbours.Overlap, c.Neighbours.Jaccard, c.Moved[0].Word, c.Moved[0].Distance, c.Moved[0].A, c.Moved[0].B)
	var self comparison
	if code, _ := call(t, "GET", base+"/api/compare?a="+a+"&b="+a+"&moved=3", "", &self); code != 200 || self.Moved[0].Distance > 1e-4 || self.Shared != self.Aligned && self.Aligned != 5000 {
		t.Fatalf("a model with itself: %d %+v", code, self)
	}

	type wordMap struct {
		Method string
		Words  []string
		Points [][2]float64
	}
	var m1, m2 wordMap
	start = time.Now()
	if code, _ := call(t, "GET", base+"/models/"+a+"/map?count=5000", "", &m1); code != 200 || m1.Method != "pca" || len(m1.Words) != 5000 || len(m1.Points) != 5000 {
		t.Fatalf("map: %d %d words", code, len(m1.Words))
	}
	first := time.Since(start)
	start = time.Now()
	if code, _ := call(t, "GET", base+"/models/"+a+"/map?count=1000", "", &m2); code != 200 || !slices.Equal(m2.Words, m1.Words[:1000]) || fmt.Sprint(m2.Points) != fmt.Sprint(m1.Points[:1000]) {
		t.Fatalf("map of 1000: %d", code)
	}
	t.Logf("map of 5000 words: %v first, %v cached (1000 words)", first, time.Since(start))

	// restrict: every neighbour among the 1000 most frequent words.
	var sim struct{ Results [][2]any }
	if code, _ := call(t, "GET", base+"/models/"+a+"/similar?word=darcy&count=10&restrict=1000", "", &sim); code != 200 || len(sim.Results) != 10 {
		t.Fatalf("similar restrict: %d %+v", code, sim)
	}
	for _, r := range sim.Results {
		if !slices.Contains(m2.Words, r[1].(string)) {
			t.Fatalf("restrict=1000 answered %v, not among the 1000 most frequent", r)
		}
	}
	var an struct{ Results [][2]any }
	if code, _ := call(t, "GET", base+"/models/"+a+"/analogy?positive=she,mr&negative=he&method=3cosmul&restrict=30000", "", &an); code != 200 || len(an.Results) != 5 {
		t.Fatalf("3cosmul: %d %+v", code, an)
	}
	var odd struct {
		Word    string
		Words   []struct{ Word string }
		Unknown []string
	}
	if code, _ := call(t, "GET", base+"/models/"+a+"/doesntmatch?words=darcy,bingley,wickham,collins,zzzqqq", "", &odd); code != 200 || len(odd.Words) != 4 || odd.Unknown[0] != "zzzqqq" || odd.Word == "" {
		t.Fatalf("doesntmatch: %d %+v", code, odd)
	}
	var vb struct {
		Dim     int
		Vectors map[string][]float64
		Unknown []string
	}
	if code, _ := call(t, "POST", base+"/models/"+a+"/vectors", `{"words": ["darcy", "Elizabeth", "zzzqqq"]}`, &vb); code != 200 || vb.Dim != 100 || len(vb.Vectors["Elizabeth"]) != 100 || len(vb.Unknown) != 1 {
		t.Fatalf("vectors: %d dim %d, %d vectors, unknown %v", code, vb.Dim, len(vb.Vectors), vb.Unknown)
	}

	// The Embedding Projector's two files: one row per word, same order.
	get := func(format string) []string {
		resp, err := http.Get(base + "/models/" + a + "/export?format=" + format)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		checkAgainstSpec(t, "GET", base+"/models/"+a+"/export?format="+format, resp.StatusCode, resp.Header, body)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/tab-separated-values") {
			t.Fatalf("export %s: %d %v", format, resp.StatusCode, resp.Header)
		}
		return strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	}
	rows, words := get("tsv"), get("tsv-metadata")
	if len(rows) != len(words) || len(rows) < 5000 || !slices.Equal(words[:5000], m1.Words) || len(strings.Split(rows[0], "\t")) != 100 {
		t.Fatalf("tsv: %d rows, %d words (%v...)", len(rows), len(words), words[:3])
	}
	t.Logf("model %s: %d words", a, len(words))
}
