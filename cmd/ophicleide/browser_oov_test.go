package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserOutOfVocabulary: a model trained through the API with
// subwords (minn 3, maxn 6, bucket 100,000) shows the neighbours of a
// word it never saw, marked as built from its character n-grams; a model
// without subwords answers the same word with the server's suggestions
// (nearest by spelling) as buttons, and clicking one asks for it.
func TestBrowserOutOfVocabulary(t *testing.T) {
	ctx := browser(t)
	src := books(t)
	base := startServer(t, "--allow-private-urls", "--workers", "2")
	ids := map[string]string{}
	for name, params := range map[string]string{
		"austen-subwords": `{"epochs": 3, "minn": 3, "maxn": 6, "bucket": 100000}`,
		"austen-plain":    `{"epochs": 3}`,
	} {
		var m struct{ ID string }
		body := fmt.Sprintf(`{"name": %q, "urls": [%q], "params": %s}`, name, src.URL+"/austen.txt", params)
		if code, _ := call(t, "POST", base+"/models", body, &m); code != 201 {
			t.Fatalf("create %s: %d", name, code)
		}
		ids[name] = m.ID
	}
	for _, id := range ids {
		waitModel(t, base, id, "ready")
	}
	s := newShots(t, ctx, "oov")

	// darcys is not a token of the book (the tokenizer keeps darcy's).
	sub := ids["austen-subwords"]
	do(t, ctx, "unseen word", chromedp.Navigate(base+"/#/query/"+sub+"/darcys"),
		chromedp.WaitVisible(chromedp.CSS("#result-list li")), chromedp.WaitVisible(chromedp.CSS("#results-oov")))
	if got := text(t, ctx, "#results-oov"); !strings.Contains(got, "“darcys” is not in the vocabulary") || !strings.Contains(got, "character n-grams") {
		t.Fatalf("oov note: %q", got)
	}
	// The page shows the API's answer for the word's n-gram vector
	// (what the neighbours are is the engine's to test).
	words := eval[[]string](t, ctx, `[...document.querySelectorAll("#result-list .word")].map(e => e.textContent)`)
	var api struct {
		Results [][2]any
		OOV     bool `json:"oov"`
	}
	if code, _ := call(t, "GET", base+"/models/"+sub+"/similar?word=darcys&count=10", "", &api); code != 200 || !api.OOV {
		t.Fatalf("GET similar darcys: %d %+v", code, api)
	}
	var want []string
	for _, r := range api.Results {
		want = append(want, r[1].(string))
	}
	if !slices.Equal(words, want) {
		t.Fatalf("neighbours of darcys on the page %v, the API's %v", words, want)
	}
	t.Logf("darcys (not in the vocabulary): %v", words)
	if got := text(t, ctx, "#query-error"); got != "" {
		t.Fatalf("error shown with the answer: %q", got)
	}
	s.take("oov")

	// An analogy and a similarity with an unseen word say which.
	do(t, ctx, "analogy with an unseen word", chromedp.SetValue(chromedp.CSS("#analogy-a"), "elizabet"),
		chromedp.SetValue(chromedp.CSS("#analogy-b"), "jane"), chromedp.SetValue(chromedp.CSS("#analogy-c"), "darcys"),
		chromedp.Click(chromedp.CSS("#analogy-submit")), chromedp.WaitVisible(chromedp.CSS("#analogy-list li")))
	eventually(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
		got := text(t, ctx, "#analogy-note")
		return strings.Contains(got, "built from their character n-grams: darcys, elizabet"), got
	})
	do(t, ctx, "similarity with an unseen word", chromedp.SetValue(chromedp.CSS("#similarity-a"), "darcys"),
		chromedp.SetValue(chromedp.CSS("#similarity-b"), "darcy"), chromedp.Click(chromedp.CSS("#similarity-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#similarity-result .oov-note")))
	s.take("analogy-similarity")

	// A known word: no note.
	do(t, ctx, "known word", chromedp.Navigate(base+"/#/query/"+sub+"/elizabeth"),
		chromedp.WaitVisible(chromedp.CSS("#result-list li")), chromedp.WaitNotVisible(chromedp.CSS("#results-oov")))
	if got := text(t, ctx, "#results-title"); !strings.Contains(got, "elizabeth") {
		t.Fatalf("title for elizabeth: %q", got)
	}

	// Without subwords: the 400's suggestions, clickable.
	plain := ids["austen-plain"]
	do(t, ctx, "unknown word", chromedp.Navigate(base+"/#/query/"+plain+"/darcys"),
		chromedp.WaitVisible(chromedp.CSS("#suggestions button")))
	if got := text(t, ctx, "#query-error"); !strings.Contains(got, "“darcys” is not in the vocabulary") {
		t.Fatalf("unknown word message: %q", got)
	}
	sugg := eval[[]string](t, ctx, `[...document.querySelectorAll("#suggestions button")].map(e => e.textContent)`)
	if len(sugg) == 0 || len(sugg) > 5 || sugg[0] != "darcy" || !strings.Contains(text(t, ctx, "#suggestions"), "Did you mean") {
		t.Fatalf("suggestions for darcys: %v", sugg)
	}
	s.take("suggestions")
	do(t, ctx, "click a suggestion", chromedp.Click(chromedp.CSS("#suggestions button")),
		chromedp.WaitVisible(chromedp.CSS("#result-list li")))
	if got := text(t, ctx, "#results-title"); !strings.Contains(got, "“darcy”") {
		t.Fatalf("after the click: %q", got)
	}
	if eval[bool](t, ctx, `!document.querySelector("#results-oov").hidden`) {
		t.Fatal("a known word is marked as built from n-grams")
	}
	s.take("suggestion-clicked")

	// The history marks the query of the unseen word.
	do(t, ctx, "history", chromedp.Click(chromedp.CSS("#nav-history")), chromedp.WaitVisible(chromedp.CSS("#history-list .card")))
	if got := text(t, ctx, "#history-list"); !strings.Contains(got, "darcys") || !strings.Contains(got, "not in the vocabulary (from its n-grams)") {
		t.Fatalf("history: %q", got)
	}
	s.take("history")
}
