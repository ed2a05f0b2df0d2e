package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// pngShots is newShots with PNG screenshots (lossless, so that labels can
// be read in them), written when the test fails or OPH_TEST_ARTIFACTS is set.
type pngShots struct {
	ctx   context.Context
	names []string
	pngs  [][]byte
}

func newPNGShots(t *testing.T, ctx context.Context, prefix string) *pngShots {
	s := &pngShots{ctx: ctx}
	t.Cleanup(func() {
		dir := os.Getenv("OPH_TEST_ARTIFACTS")
		if !t.Failed() && dir == "" {
			return
		}
		if t.Failed() {
			s.take("at-failure")
		}
		if dir == "" {
			dir = filepath.Join(os.TempDir(), "ophicleide-test-artifacts")
		}
		os.MkdirAll(dir, 0o755)
		for i, png := range s.pngs {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%02d-%s.png", prefix, i, s.names[i])), png, 0o644)
		}
		t.Logf("screenshots in %s", dir)
	})
	return s
}

func (s *pngShots) take(name string) {
	if buf, err := chromedp.Run(s.ctx, chromedp.FullScreenshot(100)); err == nil {
		s.names, s.pngs = append(s.names, name), append(s.pngs, buf)
	}
}

// exploreModels starts a server with two models of the same book and the
// same name (seeds 1 and 2), waits for both to be ready, and returns the
// server and their ids.
func exploreModels(t *testing.T) (base, a, b string) {
	t.Helper()
	src := books(t)
	base = startServer(t, "--allow-private-urls", "--workers", "2")
	ids := make([]string, 2)
	for i, seed := range []int{1, 2} {
		var m struct{ ID string }
		body := fmt.Sprintf(`{"name": "austen", "urls": [%q], "params": {"epochs": 3, "seed": %d}}`, src.URL+"/austen.txt", seed)
		if code, _ := call(t, "POST", base+"/models", body, &m); code != 201 {
			t.Fatalf("create model: %d", code)
		}
		ids[i] = m.ID
	}
	for _, id := range ids {
		eventually(t, 120*time.Second, 100*time.Millisecond, func() (bool, string) {
			var got struct {
				Model struct {
					Status string
					Error  string
				}
			}
			call(t, "GET", base+"/models/"+id, "", &got)
			if got.Model.Status == "failed" {
				t.Fatalf("model %s failed: %s", id, got.Model.Error)
			}
			return got.Model.Status == "ready", "status " + got.Model.Status
		})
	}
	return base, ids[0], ids[1]
}

// requestLog records the API requests the page makes (method and path).
type requestLog struct {
	mu   sync.Mutex
	seen []string
}

func listenRequests(t *testing.T, ctx context.Context) *requestLog {
	l := &requestLog{}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && strings.Contains(e.Request.URL, "/api/") {
			l.mu.Lock()
			l.seen = append(l.seen, e.Request.Method+" "+e.Request.URL[strings.Index(e.Request.URL, "/api/"):])
			l.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *requestLog) reset() { l.mu.Lock(); l.seen = nil; l.mu.Unlock() }

func (l *requestLog) matching(s string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.seen {
		if strings.Contains(r, s) {
			out = append(out, r)
		}
	}
	return out
}

// plotGeometry measures the plot on the screen: every label's box and the
// SVG's, and the pixels per unit of the projection along x and y (from the
// two points furthest apart on each axis).
type plotGeometry struct {
	Box    [4]float64   // left, top, right, bottom
	Labels [][4]float64 // the same for each label
	Words  []string
	PxX    float64
	PxY    float64
	Points int
}

const plotGeometryJS = `(() => {
  const svg = document.querySelector("#plot"), r = svg.getBoundingClientRect();
  const box = t => { const b = t.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
  const cs = [...svg.querySelectorAll("circle")].map(c => { const b = c.getBoundingClientRect();
    return { x: +c.dataset.x, y: +c.dataset.y, px: (b.left + b.right) / 2, py: (b.top + b.bottom) / 2 }; });
  const span = (k, p) => { let lo = cs[0], hi = cs[0]; for (const c of cs) { if (c[k] < lo[k]) lo = c; if (c[k] > hi[k]) hi = c; }
    return Math.abs(hi[p] - lo[p]) / ((hi[k] - lo[k]) || 1); };
  return { Box: [r.left, r.top, r.right, r.bottom], Labels: [...svg.querySelectorAll("text")].map(box),
    Words: [...svg.querySelectorAll("text")].map(t => t.textContent), PxX: span("x", "px"), PxY: span("y", "py"), Points: cs.length };
})()`

// checkPlot: every label inside the SVG, no two labels overlapping, one
// scale on both axes.
func checkPlot(t *testing.T, ctx context.Context, what string) plotGeometry {
	t.Helper()
	g := eval[plotGeometry](t, ctx, plotGeometryJS)
	if len(g.Labels) == 0 {
		t.Fatalf("%s: no labels", what)
	}
	const tol = 0.5
	for i, l := range g.Labels {
		if l[0] < g.Box[0]-tol || l[1] < g.Box[1]-tol || l[2] > g.Box[2]+tol || l[3] > g.Box[3]+tol {
			t.Errorf("%s: label %q at %v is outside the plot %v", what, g.Words[i], l, g.Box)
		}
		for j := 0; j < i; j++ {
			m := g.Labels[j]
			if l[0] < m[2]-tol && m[0] < l[2]-tol && l[1] < m[3]-tol && m[1] < l[3]-tol {
				t.Errorf("%s: labels %q %v and %q %v overlap", what, g.Words[i], l, g.Words[j], m)
			}
		}
	}
	if g.PxX <= 0 || g.PxY <= 0 || g.PxX/g.PxY < 0.99 || g.PxX/g.PxY > 1.01 {
		t.Errorf("%s: %.2f px per unit along x, %.2f along y: the axes' scales differ", what, g.PxX, g.PxY)
	}
	return g
}

// phoneWidth checks that at a phone's width nothing is wider than the screen.
func phoneWidth(t *testing.T, ctx context.Context, what string, s *pngShots) {
	t.Helper()
	if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 1, Mobile: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
		t.Errorf("%s: at 390 px the page is %d px wider than the screen", what, w)
	}
	s.take(strings.ReplaceAll(what, " ", "-") + "-phone")
	if _, err := chromedp.Call(ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
}

// TestBrowserExplore: the card's scores, parameters and speed; models of
// the same name told apart; a bookmarked query opens on load; the plot
// (labels inside, equal scales, one vectors request, hover, larger view,
// 100 neighbours); click-to-query from the list and the plot; the map
// (highlights, pan and zoom); analogies with 3CosMul in the history, and
// history entries reopening their query.
func TestBrowserExplore(t *testing.T) {
	ctx := browser(t)
	base, a, b := exploreModels(t)
	s := newPNGShots(t, ctx, "explore")
	reqs := listenRequests(t, ctx)

	// The cards: scores with coverage, effective parameters, words/s, ids.
	do(t, ctx, "open the models", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`li.model[data-id="`+a+`"]`)))
	eventually(t, 60*time.Second, 200*time.Millisecond, func() (bool, string) {
		n := eval[int](t, ctx, `document.querySelectorAll('li.model .evaluation .score-item').length`)
		return n >= 2*5, fmt.Sprintf("%d scores on the cards", n)
	})
	card := text(t, ctx, `li.model[data-id="`+a+`"]`)
	for _, want := range []string{"Analogies", "WS353", "SimLex", "MEN", "RW", "covered", "Parameters:", "seed 1", "dim 100", "words/s", "#" + a[:8]} {
		if !strings.Contains(card, want) {
			t.Errorf("the card %q lacks %q", card, want)
		}
	}
	for _, f := range []string{"Projector vectors (TSV)", "Projector metadata (TSV)", "Export text", "Export binary"} {
		if !strings.Contains(card, f) {
			t.Errorf("the card lacks the export %q", f)
		}
	}
	if href := eval[string](t, ctx, `document.querySelector('li.model[data-id="`+a+`"] a[href*="format=tsv-metadata"]').getAttribute("href")`); !strings.HasSuffix(href, "/models/"+a+"/export?format=tsv-metadata") {
		t.Errorf("metadata export link %q", href)
	}
	s.take("cards")

	// A bookmarked query opens on load; the two "austen" differ in the select.
	reqs.reset()
	do(t, ctx, "bookmark", chromedp.Navigate(base+"/#/query/"+a+"/darcy"), chromedp.WaitVisible(chromedp.CSS("#result-list li")),
		chromedp.WaitVisible(chromedp.CSS("#plot circle")), chromedp.WaitVisible(chromedp.CSS("#map-labels text.query")))
	words := eval[[]string](t, ctx, `[...document.querySelectorAll("#result-list .word")].map(e => e.textContent)`)
	var want struct{ Results [][2]any }
	call(t, "GET", base+"/models/"+a+"/similar?word=darcy&count=10", "", &want)
	if len(words) != 10 || len(want.Results) != 10 {
		t.Fatalf("bookmarked query shows %v, the API %v", words, want.Results)
	}
	for i, r := range want.Results {
		if words[i] != r[1] {
			t.Fatalf("bookmarked query shows %v, the API %v", words, want.Results)
		}
	}
	if got := eval[string](t, ctx, `document.querySelector("#query-model").value`); got != a {
		t.Errorf("the select shows model %s, want %s", got, a)
	}
	labels := eval[[]string](t, ctx, `[...document.querySelectorAll("#query-model option")].map(o => o.textContent)`)
	if len(labels) != 2 || labels[0] == labels[1] || !strings.Contains(labels[0], "austen") {
		t.Errorf("two models named austen in the select as %q", labels)
	}
	if vs := reqs.matching("/vectors"); len(vs) != 1 || !strings.HasPrefix(vs[0], "POST /api/models/"+a+"/vectors") {
		t.Errorf("the plot's vector requests: %v, want one POST", vs)
	}
	// Bars on the cosine's 0..1 scale: the best is not stretched to full width.
	widths := eval[[]string](t, ctx, `[...document.querySelectorAll("#result-list .bar span")].map(s => s.style.width)`)
	scores := eval[[]string](t, ctx, `[...document.querySelectorAll("#result-list .score")].map(s => s.textContent)`)
	var w0, s0 float64
	fmt.Sscanf(widths[0], "%f%%", &w0)
	fmt.Sscanf(scores[0], "%f", &s0)
	if d := w0 - s0*100; d > 0.2 || d < -0.2 {
		t.Errorf("the best bar is %s wide for a score of %s", widths[0], scores[0])
	}
	g := checkPlot(t, ctx, "plot of 10")
	if g.Points != 11 {
		t.Errorf("%d points, want 11", g.Points)
	}
	s.take("bookmarked-query")

	// Hover a point: its word and score in the tooltip.
	pt := eval[[]float64](t, ctx, `(() => { const b = document.querySelectorAll("#plot circle")[3].getBoundingClientRect(); return [(b.left+b.right)/2, (b.top+b.bottom)/2]; })()`)
	hoverWord := eval[string](t, ctx, `document.querySelectorAll("#plot circle")[3].dataset.word`)
	if _, err := chromedp.Call(ctx, input.DispatchMouseEvent, input.DispatchMouseEventParams{Type: input.DispatchMouseEventTypeMouseMoved, X: pt[0], Y: pt[1]}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, 50*time.Millisecond, func() (bool, string) {
		tip := eval[string](t, ctx, `document.querySelector("#plot-tip").hidden ? "" : document.querySelector("#plot-tip").textContent`)
		return strings.HasPrefix(tip, hoverWord+" · 0."), "tooltip " + tip
	})
	s.take("hover")

	// The larger view, at 100 neighbours.
	do(t, ctx, "100 neighbours", chromedp.Navigate(base+"/#/query/"+a+"/darcy?count=100"),
		chromedp.WaitVisible(chromedp.CSS("#result-list li:nth-child(100)")))
	eventually(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
		n := eval[int](t, ctx, `document.querySelectorAll("#plot circle").length`)
		return n == 101, fmt.Sprintf("%d points", n)
	})
	checkPlot(t, ctx, "plot of 100")
	do(t, ctx, "larger view", chromedp.Click(chromedp.CSS("#plot-expand")))
	if vb := eval[string](t, ctx, `document.querySelector("#plot").getAttribute("viewBox")`); vb != "0 0 960 600" {
		t.Errorf("larger view's viewBox %q", vb)
	}
	big := checkPlot(t, ctx, "larger plot of 100")
	if big.Box[2]-big.Box[0] < 900 {
		t.Errorf("the larger view is %.0f px wide", big.Box[2]-big.Box[0])
	}
	t.Logf("larger view: %d of 101 words labelled, %.0f px wide", len(big.Labels), big.Box[2]-big.Box[0])
	s.take("larger-100")
	do(t, ctx, "smaller view", chromedp.Click(chromedp.CSS("#plot-expand")))

	// Click a neighbour in the list: its own query, in the URL too.
	second := words[1]
	do(t, ctx, "click a neighbour", chromedp.Navigate(base+"/#/query/"+a+"/darcy"), chromedp.WaitNotPresent(chromedp.CSS("#result-list li:nth-child(11)")),
		chromedp.Click(chromedp.CSS(`#result-list li:nth-child(2) a.word`)))
	eventually(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
		got := text(t, ctx, "#results-title")
		return strings.Contains(got, "“"+second+"”"), "title " + got
	})
	if h := eval[string](t, ctx, `location.hash`); h != "#/query/"+a+"/"+second {
		t.Errorf("after a click the URL is %q", h)
	}
	// Click a point of the plot.
	target := eval[string](t, ctx, `document.querySelectorAll("#plot circle")[2].dataset.word`)
	do(t, ctx, "click a point", chromedp.Click(chromedp.CSS(`#plot circle:nth-of-type(3)`)))
	eventually(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
		got := text(t, ctx, "#results-title")
		return strings.Contains(got, "“"+target+"”"), "title " + got
	})
	s.take("clicked-point")

	// The map: the query and its neighbours highlighted; drag, wheel and
	// buttons move the viewBox.
	do(t, ctx, "map", chromedp.Navigate(base+"/#/query/"+a+"/darcy"), chromedp.WaitVisible(chromedp.CSS("#map-labels text.query")))
	if q := text(t, ctx, "#map-labels text.query"); q != "darcy" {
		t.Errorf("the map highlights %q", q)
	}
	near := eval[int](t, ctx, `document.querySelectorAll("#map-labels text.near").length`)
	circles := eval[int](t, ctx, `document.querySelectorAll("#map circle.near").length`)
	inMap := eval[int](t, ctx, `(() => { const r = new Set([...document.querySelectorAll("#result-list .word")].map(e => e.textContent));
	  return mapState.words.filter(w => r.has(w)).length; })()`)
	if circles != inMap || near < 1 || near > circles {
		t.Errorf("the map marks %d neighbours (%d of them labelled); %d are among its words", circles, near, inMap)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#map-labels text").length`); n < 30 {
		t.Errorf("the map shows only %d labels", n)
	}
	t.Logf("map: %v", eval[[]any](t, ctx, `[document.querySelector("#map").clientWidth, document.querySelector("#map").clientHeight, JSON.stringify(mapState.home), JSON.stringify(mapState.base), mapState.pts.length]`))
	viewBox := func() string { return eval[string](t, ctx, `document.querySelector("#map").getAttribute("viewBox")`) }
	vb0 := viewBox()
	do(t, ctx, "scroll the map into view", chromedp.ScrollIntoView(chromedp.CSS("#map")))
	s.take("map")
	r := eval[[]float64](t, ctx, `(() => { const b = document.querySelector("#map").getBoundingClientRect(); return [b.left, b.top, b.width, b.height]; })()`)
	cx, cy := r[0]+r[2]/2, r[1]+r[3]/2
	if _, err := chromedp.Call(ctx, input.DispatchMouseEvent, input.DispatchMouseEventParams{Type: input.DispatchMouseEventTypeMouseWheel, X: cx, Y: cy, DeltaX: 0.01, DeltaY: -300}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, 50*time.Millisecond, func() (bool, string) { v := viewBox(); return v != vb0, "viewBox " + v })
	vbZoom := viewBox()
	var w0v, w1v float64
	fmt.Sscanf(vb0, "%f %f %f", new(float64), new(float64), &w0v)
	fmt.Sscanf(vbZoom, "%f %f %f", new(float64), new(float64), &w1v)
	if !(w1v < w0v) {
		t.Errorf("the wheel did not zoom in: %q then %q", vb0, vbZoom)
	}
	steps := []input.DispatchMouseEventParams{
		{Type: input.DispatchMouseEventTypeMousePressed, X: cx, Y: cy, Button: input.MouseButtonLeft, Buttons: 1, ClickCount: 1},
		{Type: input.DispatchMouseEventTypeMouseMoved, X: cx + 40, Y: cy + 20, Button: input.MouseButtonLeft, Buttons: 1},
		{Type: input.DispatchMouseEventTypeMouseMoved, X: cx + 120, Y: cy + 60, Button: input.MouseButtonLeft, Buttons: 1},
		{Type: input.DispatchMouseEventTypeMouseReleased, X: cx + 120, Y: cy + 60, Button: input.MouseButtonLeft, Buttons: 1, ClickCount: 1},
	}
	for _, st := range steps {
		if _, err := chromedp.Call(ctx, input.DispatchMouseEvent, st); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, 50*time.Millisecond, func() (bool, string) { v := viewBox(); return v != vbZoom, "viewBox after a drag " + v })
	if h := eval[string](t, ctx, `location.hash`); h != "#/query/"+a+"/darcy" {
		t.Errorf("a drag queried a word: %q", h)
	}
	vbDrag := viewBox()
	do(t, ctx, "zoom out button", chromedp.Click(chromedp.CSS("#map-out")))
	eventually(t, 5*time.Second, 50*time.Millisecond, func() (bool, string) { v := viewBox(); return v != vbDrag, "viewBox after the button " + v })
	do(t, ctx, "reset", chromedp.Click(chromedp.CSS("#map-reset")))
	if v := viewBox(); v != vb0 {
		t.Errorf("reset gives %q, want %q", v, vb0)
	}
	s.take("map-moved")
	phoneWidth(t, ctx, "query with the map", s)

	// The other tools: similarity, odd one out, a 3CosMul analogy.
	do(t, ctx, "similarity", chromedp.SetValue(chromedp.CSS("#similarity-a"), "darcy"), chromedp.SetValue(chromedp.CSS("#similarity-b"), "bingley"),
		chromedp.Click(chromedp.CSS("#similarity-submit")), chromedp.WaitVisible(chromedp.CSS("#similarity-result .score")))
	do(t, ctx, "odd one out", chromedp.SetValue(chromedp.CSS("#odd-words"), "darcy bingley wickham zzzunknown tuesday"),
		chromedp.Click(chromedp.CSS("#odd-submit")), chromedp.WaitVisible(chromedp.CSS("#odd-result strong")))
	if got := text(t, ctx, "#odd-result"); !strings.Contains(got, "zzzunknown") {
		t.Errorf("odd one out does not list the unknown word: %q", got)
	}
	do(t, ctx, "analogy 3cosmul", chromedp.SetValue(chromedp.CSS("#analogy-a"), "elizabeth"), chromedp.SetValue(chromedp.CSS("#analogy-b"), "jane"),
		chromedp.SetValue(chromedp.CSS("#analogy-c"), "darcy"), chromedp.SetValue(chromedp.CSS("#analogy-method"), "3cosmul"),
		chromedp.Click(chromedp.CSS("#analogy-submit")), chromedp.WaitVisible(chromedp.CSS("#analogy-list li")))
	if h := eval[string](t, ctx, `location.hash`); h != "#/analogy/"+a+"/elizabeth/jane/darcy?method=3cosmul" {
		t.Errorf("analogy URL %q", h)
	}
	if vs := reqs.matching("method=3cosmul"); len(vs) == 0 {
		t.Error("no analogy request with method=3cosmul")
	}
	analogy := eval[[]string](t, ctx, `[...document.querySelectorAll("#analogy-list .word")].map(e => e.textContent)`)
	s.take("tools")

	// The history lists the query and the analogy; each reopens.
	do(t, ctx, "history", chromedp.Click(chromedp.CSS("#nav-history")), chromedp.WaitVisible(chromedp.CSS("#history-list a.card.analogy")))
	if got := text(t, ctx, "#history-list a.card.analogy"); !strings.Contains(got, "elizabeth : jane :: darcy") || !strings.Contains(got, "3CosMul") {
		t.Errorf("the analogy in the history: %q", got)
	}
	s.take("history")
	do(t, ctx, "reopen the analogy", chromedp.Click(chromedp.CSS("#history-list a.card.analogy")), chromedp.WaitVisible(chromedp.CSS("#analogy-list li")))
	if again := eval[[]string](t, ctx, `[...document.querySelectorAll("#analogy-list .word")].map(e => e.textContent)`); strings.Join(again, ",") != strings.Join(analogy, ",") {
		t.Errorf("the reopened analogy gives %v, first %v", again, analogy)
	}
	do(t, ctx, "reopen a query", chromedp.Click(chromedp.CSS("#nav-history")), chromedp.WaitVisible(chromedp.CSS(`#history-list a.card.query[href="#/query/`+a+`/darcy"]`)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#results").hidden = true`),
		chromedp.Click(chromedp.CSS(`#history-list a.card.query[href="#/query/`+a+`/darcy"]`)),
		chromedp.WaitVisible(chromedp.CSS("#results")))
	if got := text(t, ctx, "#results-title"); !strings.Contains(got, "“darcy”") {
		t.Errorf("the reopened query shows %q", got)
	}
	_ = b
}

// TestBrowserCompare: the compare view of two ready models, from its form
// and from a bookmark: the neighbours of a word side by side with the
// overlap marked, and the words that moved most with their neighbours in
// both.
func TestBrowserCompare(t *testing.T) {
	ctx := browser(t)
	base, a, b := exploreModels(t)
	s := newPNGShots(t, ctx, "compare")
	do(t, ctx, "open compare", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`li.model[data-status="ready"]`)),
		chromedp.Click(chromedp.CSS("#nav-compare")), chromedp.WaitVisible(chromedp.CSS("#compare-form")))
	if got := eval[[]string](t, ctx, `[document.querySelector("#compare-a").value, document.querySelector("#compare-b").value]`); got[0] == got[1] || got[0] == "" {
		t.Fatalf("the selects start on %v", got)
	}
	do(t, ctx, "compare darcy", chromedp.SetValue(chromedp.CSS("#compare-a"), a), chromedp.SetValue(chromedp.CSS("#compare-b"), b),
		chromedp.SetValue(chromedp.CSS("#compare-word"), "darcy"),
		chromedp.Click(chromedp.CSS("#compare-submit")), chromedp.WaitVisible(chromedp.CSS("#compare-list-a li")))
	if h := eval[string](t, ctx, `location.hash`); h != "#/compare/"+a+"/"+b+"/darcy" {
		t.Errorf("compare URL %q", h)
	}
	la := eval[[]string](t, ctx, `[...document.querySelectorAll("#compare-list-a .word")].map(e => e.textContent)`)
	lb := eval[[]string](t, ctx, `[...document.querySelectorAll("#compare-list-b .word")].map(e => e.textContent)`)
	marked := eval[[]string](t, ctx, `[...document.querySelectorAll("#compare-list-a li.overlap .word")].map(e => e.textContent)`)
	if len(la) != 10 || len(lb) != 10 {
		t.Fatalf("neighbours side by side: %v | %v", la, lb)
	}
	for _, w := range la {
		if contains(lb, w) != contains(marked, w) {
			t.Errorf("%q: in both lists %v, marked %v", w, contains(lb, w), contains(marked, w))
		}
	}
	if len(marked) == 0 {
		t.Errorf("two seeds of one book share no neighbour of darcy: %v | %v", la, lb)
	}
	moved := eval[[][]string](t, ctx, `[...document.querySelectorAll("#compare-moved-list tr")].map(tr => [...tr.children].map(td => td.textContent))`)
	if len(moved) != 20 {
		t.Fatalf("%d moved words, want 20", len(moved))
	}
	for _, row := range moved {
		if len(row) != 4 || row[0] == "" || len(strings.Split(row[2], ", ")) != 3 || len(strings.Split(row[3], ", ")) != 3 {
			t.Errorf("a moved row: %q", row)
		}
	}
	summary := text(t, ctx, "#compare-summary")
	if !strings.Contains(summary, "share") {
		t.Errorf("summary %q", summary)
	}
	s.take("compare")

	// A moved word opens its own comparison; a bookmark reopens one.
	first := moved[0][0]
	do(t, ctx, "click a moved word", chromedp.Click(chromedp.CSS("#compare-moved-list tr:first-child a.word")))
	eventually(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
		got := text(t, ctx, "#compare-neighbours-title")
		return strings.Contains(got, "“"+first+"”"), "title " + got
	})
	do(t, ctx, "bookmark", chromedp.Navigate(base+"/#/compare/"+a+"/"+b+"/darcy"), chromedp.WaitVisible(chromedp.CSS("#compare-list-b li")))
	eventually(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
		got := text(t, ctx, "#compare-neighbours-title")
		return strings.Contains(got, "“darcy”"), "the bookmarked comparison shows " + got
	})
	// At a phone's width the compare view is no wider than the screen.
	phoneWidth(t, ctx, "compare", s)

	// A word-pair file of the user's own, evaluated from the card.
	pairs := filepath.Join(t.TempDir(), "my-pairs.txt")
	if err := os.WriteFile(pairs, []byte("darcy\tbingley\t9\nelizabeth\tjane\t8\nhouse\tletter\t2\nmother\tfather\t7\nzzz\tdarcy\t1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	card := `li.model[data-id="` + a + `"]`
	do(t, ctx, "evaluate a file", chromedp.Click(chromedp.CSS("#nav-models")), chromedp.WaitVisible(chromedp.CSS(card+" .eval-own summary")),
		chromedp.Click(chromedp.CSS(card+" .eval-own summary")),
		chromedp.SetUploadFiles(chromedp.CSS(card+" .eval-file"), []string{pairs}),
		chromedp.Click(chromedp.CSS(card+" .eval-own button")),
		chromedp.WaitVisible(chromedp.CSS(card+" .evaluation.user .score-item")))
	if got := text(t, ctx, card+" .evaluation.user"); !strings.Contains(got, "my-pairs") || !strings.Contains(got, "80% covered") {
		t.Errorf("the evaluated file shows %q", got)
	}
	s.take("evaluated-file")

	var raw json.RawMessage
	if code, _ := call(t, "GET", base+"/compare?a="+a+"&b="+b, "", &raw); code != 200 {
		t.Errorf("GET /compare without a word: %d", code)
	}
	s.take("compare-bookmark")
}

// TestBrowserTrainForm: every out-of-range parameter is shown at once,
// each next to its field; the URL box shows five URLs without scrolling;
// placeholders look unlike values; a model being fetched says so (no
// words/s) and offers Cancel, which removes it.
func TestBrowserTrainForm(t *testing.T) {
	ctx := browser(t)
	src, hanging, _ := hangingBook(t)
	base := startServer(t, "--allow-private-urls")
	s := newPNGShots(t, ctx, "form")
	do(t, ctx, "open", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#models-empty")),
		chromedp.Click(chromedp.CSS("#train summary")),
		chromedp.Click(chromedp.CSS("details.advanced summary")),
		chromedp.SetValue(chromedp.CSS(`input[name="window"]`), "-3"),
		chromedp.SetValue(chromedp.CSS(`input[name="dim"]`), "0"),
		chromedp.SetValue(chromedp.CSS(`input[name="epochs"]`), "100000"),
		chromedp.SetValue(chromedp.CSS(`input[name="alpha"]`), "-1"),
		chromedp.Click(chromedp.CSS("#train-submit")),
		chromedp.WaitVisible(chromedp.CSS(`.field-error[data-field="window"]`)))
	for _, f := range []string{"window", "dim", "epochs", "alpha"} {
		if got := text(t, ctx, `.field-error[data-field="`+f+`"]`); got == "" {
			t.Errorf("no error next to %s", f)
		}
	}
	for _, f := range []string{"name", "urls"} {
		if got := text(t, ctx, `.field-error[data-for="`+f+`"]`); got == "" {
			t.Errorf("no error for the missing %s", f)
		}
	}
	if got := text(t, ctx, `.field-error[data-for="params"]`); !strings.Contains(got, "4 parameters") {
		t.Errorf("the parameters' summary: %q", got)
	}
	s.take("all-errors")

	five := "https://example.org/1.txt\nhttps://example.org/2.txt\nhttps://example.org/3.txt\nhttps://example.org/4.txt\nhttps://example.org/5.txt"
	do(t, ctx, "five URLs", chromedp.SetValue(chromedp.CSS("#train-urls"), five))
	if d := eval[int](t, ctx, `(() => { const e = document.querySelector("#train-urls"); return e.scrollHeight - e.clientHeight; })()`); d > 0 {
		t.Errorf("five URLs need %d px of scrolling", d)
	}
	colors := eval[[]string](t, ctx, `[getComputedStyle(document.querySelector("#train-name"), "::placeholder").color, getComputedStyle(document.querySelector("#train-name")).color, getComputedStyle(document.querySelector("#train-name"), "::placeholder").fontStyle]`)
	if colors[0] == colors[1] || colors[2] != "italic" {
		t.Errorf("a placeholder looks like a value: %v", colors)
	}
	s.take("five-urls")

	var m struct{ ID string }
	if code, _ := call(t, "POST", base+"/models", `{"name": "slow", "urls": ["`+src.URL+`/alice.txt"]}`, &m); code != 201 {
		t.Fatalf("create: %d", code)
	}
	<-hanging
	do(t, ctx, "fetching", chromedp.WaitVisible(chromedp.CSS(`li.model[data-status="training"] .progress-text`)))
	eventually(t, 10*time.Second, 100*time.Millisecond, func() (bool, string) {
		got := text(t, ctx, `li.model[data-status="training"] .progress-text`)
		return strings.Contains(got, "fetching") && !strings.Contains(got, "words/s"), "progress " + got
	})
	buttons := eval[[]string](t, ctx, `[...document.querySelectorAll('li.model[data-status="training"] button')].map(b => b.textContent)`)
	if !contains(buttons, "Cancel") || contains(buttons, "Delete") {
		t.Errorf("a training model offers %v", buttons)
	}
	s.take("fetching")
	do(t, ctx, "cancel", chromedp.Click(chromedp.CSS(`li.model[data-status="training"] button.danger`)), chromedp.WaitVisible(chromedp.CSS("#models-empty")))
	if code, _ := call(t, "GET", base+"/models/"+m.ID, "", nil); code != 404 {
		t.Errorf("after Cancel the model answers %d", code)
	}
}
