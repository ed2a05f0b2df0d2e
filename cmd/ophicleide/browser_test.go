package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide/internal/sparkconnect/sparktest"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// browser starts headless Chromium (Debian's package, which `make test`
// installs) and returns a context for chromedp actions. Without Chromium
// the test is skipped, unless OPH_BROWSER_REQUIRED is set (make test sets
// it, so a missing browser fails there).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("OPH_BROWSER_REQUIRED") != "" {
			t.Fatal("no Chromium found (apt-get install chromium)")
		}
		t.Skip("no Chromium found; make test installs it")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	// Accept the delete confirmation.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	// The first run starts the browser, which lives as long as the
	// context of that run: no timeout on it (steps get their own).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// shots keeps a screenshot of each step and writes them all out if the
// test fails (or always, when OPH_TEST_ARTIFACTS names a directory), to
// OPH_TEST_ARTIFACTS (default: a directory under the system's temp dir).
type shots struct {
	t     *testing.T
	ctx   context.Context
	names []string
	pngs  [][]byte
}

func newShots(t *testing.T, ctx context.Context, prefix string) *shots {
	s := &shots{t: t, ctx: ctx}
	t.Cleanup(func() {
		if !t.Failed() && os.Getenv("OPH_TEST_ARTIFACTS") == "" {
			return
		}
		last := "final"
		if t.Failed() {
			last = "at-failure"
		}
		if buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(80)); err == nil {
			s.names, s.pngs = append(s.names, last), append(s.pngs, buf)
		}
		dir := os.Getenv("OPH_TEST_ARTIFACTS")
		if dir == "" {
			dir = filepath.Join(os.TempDir(), "ophicleide-test-artifacts")
		}
		os.MkdirAll(dir, 0o755)
		for i, png := range s.pngs {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%02d-%s.jpg", prefix, i, s.names[i])), png, 0o644)
		}
		t.Logf("screenshots in %s", dir)
	})
	return s
}

func (s *shots) take(name string) {
	if buf, err := chromedp.Run(s.ctx, chromedp.FullScreenshot(80)); err == nil {
		s.names, s.pngs = append(s.names, name), append(s.pngs, buf)
	}
}

// do runs steps, each run limited to 90 s.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval returns the value of a JavaScript expression.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text returns the text content of the first node matching sel.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// pageWeight counts the bytes transferred while ctx loads url.
func pageWeight(t *testing.T, ctx context.Context, url string) int64 {
	var bytes atomic.Int64
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventLoadingFinished); ok {
			bytes.Add(int64(e.EncodedDataLength))
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "first load", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#models-title")))
	time.Sleep(300 * time.Millisecond) // the first GET /models
	return bytes.Load()
}

// TestBrowserTrainQueryDelete drives the page served by `serve` in
// headless Chromium: train from a book URL (after a parameter error),
// watch it become ready, query darcy, see the list and the plot, an
// unknown word with suggestions, an analogy, the history, then delete.
func TestBrowserTrainQueryDelete(t *testing.T) {
	ctx := browser(t)
	src := books(t)
	base := startServer(t, "--allow-private-urls")
	weight := pageWeight(t, ctx, base+"/")
	t.Logf("first load of the page: %d bytes transferred", weight)
	browseFlow(t, ctx, base, src.URL, "serve")
}

// TestBrowserThroughWebRole runs the same flow against the web role
// proxying to a separate api process, then stops the api process and
// checks the page says so while the web process keeps serving.
func TestBrowserThroughWebRole(t *testing.T) {
	ctx := browser(t)
	src := books(t)
	apiBase, stopAPI, _ := startRoleIn(t, "api", t.TempDir(), "--allow-private-urls", "--workers", "1")
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			stopAPI()
		}
	})
	webBase := startWeb(t, apiBase)
	browseFlow(t, ctx, webBase, src.URL, "web")

	stopAPI()
	stopped = true
	do(t, ctx, "reload without a training server", chromedp.Navigate(webBase+"/"),
		chromedp.WaitVisible(chromedp.CSS("#unavailable")))
	if got := text(t, ctx, "#unavailable"); !strings.Contains(got, "Training service unavailable") {
		t.Fatalf("banner: %q", got)
	}
	code, _ := call(t, "GET", webBase+"/healthz", "", nil)
	if code != 200 {
		t.Fatalf("web role healthz after the api stopped: %d", code)
	}
}

func startWeb(t *testing.T, training string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &syncBuffer{}, onListen: func(a string) { addr <- a }}
	done := make(chan int, 1)
	go func() { done <- runEnv(ctx, []string{"web", "--addr", "127.0.0.1:0", "--training", training}, e) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case a := <-addr:
		return "http://" + a
	case code := <-done:
		t.Fatalf("web role exited with %d", code)
	}
	return ""
}

func browseFlow(t *testing.T, ctx context.Context, base, books, prefix string) {
	s := newShots(t, ctx, prefix)
	do(t, ctx, "open the page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#models-empty")))
	if got := text(t, ctx, "#models-empty"); !strings.Contains(got, "No models yet") {
		t.Fatalf("empty state: %q", got)
	}
	s.take("empty")

	// A bad parameter: the API's message, in words, next to the parameters.
	do(t, ctx, "fill the form", chromedp.Click(chromedp.CSS("#train summary")),
		chromedp.SendKeys(chromedp.CSS("#train-name"), "austen"),
		chromedp.SetValue(chromedp.CSS("#train-urls"), "\n  "+books+"/austen.txt  \n\n"),
		chromedp.Click(chromedp.CSS("details.advanced summary")),
		chromedp.SetValue(chromedp.CSS(`input[name="window"]`), "-3"),
		chromedp.Click(chromedp.CSS("#train-submit")),
		chromedp.WaitVisible(chromedp.CSS(`.field-error[data-for="params"]`)))
	msg := text(t, ctx, `.field-error[data-for="params"]`)
	if !strings.Contains(msg, "window") || strings.Contains(msg, "{") {
		t.Fatalf("parameter error shown as %q", msg)
	}
	s.take("param-error")

	do(t, ctx, "train", chromedp.SetValue(chromedp.CSS(`input[name="window"]`), ""),
		chromedp.SetValue(chromedp.CSS(`input[name="epochs"]`), "3"),
		chromedp.Click(chromedp.CSS("#train-submit")),
		chromedp.WaitVisible(chromedp.CSS(`li.model[data-status]`)))
	s.take("training")
	do(t, ctx, "wait for ready", chromedp.WaitVisible(chromedp.CSS(`li.model[data-status="ready"]`)))
	card := text(t, ctx, `li.model[data-status="ready"]`)
	for _, want := range []string{"austen", "ready", books + "/austen.txt", "words in the vocabulary"} {
		if !strings.Contains(card, want) {
			t.Fatalf("model card %q lacks %q", card, want)
		}
	}
	s.take("ready")

	do(t, ctx, "query darcy", chromedp.Click(chromedp.CSS(`li.model[data-status="ready"] a[href="#query"]`)),
		chromedp.WaitVisible(chromedp.CSS("#query-word")),
		chromedp.SendKeys(chromedp.CSS("#query-word"), "darcy"),
		chromedp.Click(chromedp.CSS("#query-submit")),
		chromedp.WaitVisible(chromedp.CSS("#result-list li")),
		chromedp.WaitVisible(chromedp.CSS("#plot circle")))
	results := eval[[]string](t, ctx, `[...document.querySelectorAll("#result-list .word")].map(e => e.textContent)`)
	// Pride and Prejudice's people: a small model's exact order moves
	// with its seed, its cast does not.
	people := 0
	for _, w := range results {
		if contains([]string{"bingley", "bingley's", "wickham", "jane", "bennet", "collins", "lydia", "elizabeth", "kitty",
			"lucas", "hurst", "gardiner", "charlotte", "lizzy", "catherine", "darcy's", "denny", "fitzwilliam"}, w) {
			people++
		}
	}
	if len(results) != 10 || people < 3 {
		t.Fatalf("results for darcy: %v (want at least 3 of the book's people)", results)
	}
	circles := eval[int](t, ctx, `document.querySelectorAll("#plot circle").length`)
	labels := eval[int](t, ctx, `document.querySelectorAll("#plot text").length`)
	if circles != 11 || labels < 6 || labels > 11 {
		t.Fatalf("plot: %d points, %d labels; want 11 points (darcy and 10 neighbours), most labelled (labels never overlap: the rest show on hover)", circles, labels)
	}
	s.take("query")

	// At a phone's width nothing is wider than the screen.
	if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 1, Mobile: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
		t.Errorf("at 390 px the page is %d px wider than the screen", w)
	}
	s.take("query-phone")
	if _, err := chromedp.Call(ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}

	do(t, ctx, "unknown word", chromedp.SetValue(chromedp.CSS("#query-word"), "darcyx"),
		chromedp.Click(chromedp.CSS("#query-submit")),
		chromedp.WaitVisible(chromedp.CSS("#suggestions button")))
	if got := text(t, ctx, "#query-error"); !strings.Contains(got, "not in the vocabulary") {
		t.Fatalf("unknown word message: %q", got)
	}
	if got := text(t, ctx, "#suggestions"); !strings.Contains(got, "darcy") {
		t.Fatalf("suggestions: %q", got)
	}
	s.take("unknown-word")

	do(t, ctx, "analogy", chromedp.SendKeys(chromedp.CSS("#analogy-a"), "elizabeth"),
		chromedp.SendKeys(chromedp.CSS("#analogy-b"), "jane"),
		chromedp.SendKeys(chromedp.CSS("#analogy-c"), "darcy"),
		chromedp.Click(chromedp.CSS("#analogy-submit")),
		chromedp.WaitVisible(chromedp.CSS("#analogy-list li")))

	do(t, ctx, "history", chromedp.Click(chromedp.CSS("#nav-history")),
		chromedp.WaitVisible(chromedp.CSS("#history-list .card")))
	if got := text(t, ctx, "#history-list"); !strings.Contains(got, "darcy") || !strings.Contains(got, "austen") {
		t.Fatalf("history: %q", got)
	}
	s.take("history")

	do(t, ctx, "delete", chromedp.Click(chromedp.CSS("#nav-models")),
		chromedp.WaitVisible(chromedp.CSS(`li.model button.danger`)),
		chromedp.Click(chromedp.CSS(`li.model button.danger`)),
		chromedp.WaitVisible(chromedp.CSS("#models-empty")))
	s.take("deleted")
}

func contains(list []string, w string) bool {
	for _, x := range list {
		if x == w {
			return true
		}
	}
	return false
}

// TestBrowserUploadAndAutocomplete trains from a text file chosen in the
// form (no URL), then checks the word box's autocomplete suggestions come
// from the model's vocabulary.
func TestBrowserUploadAndAutocomplete(t *testing.T) {
	ctx := browser(t)
	base := startServer(t)
	book, err := filepath.Abs("../../testdata/alice-in-wonderland_11-0.txt")
	if err != nil {
		t.Fatal(err)
	}
	s := newShots(t, ctx, "upload")
	do(t, ctx, "upload", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#models-empty")),
		chromedp.Click(chromedp.CSS("#train summary")),
		chromedp.SendKeys(chromedp.CSS("#train-name"), "alice"),
		chromedp.SetUploadFiles(chromedp.CSS("#train-files"), []string{book}),
		chromedp.Click(chromedp.CSS("details.advanced summary")),
		chromedp.SetValue(chromedp.CSS(`input[name="minCount"]`), "2"),
		chromedp.Click(chromedp.CSS("#train-submit")),
		chromedp.WaitVisible(chromedp.CSS(`li.model[data-status="ready"]`)))
	if card := text(t, ctx, `li.model[data-status="ready"]`); !strings.Contains(card, "Uploaded: alice-in-wonderland_11-0") {
		t.Fatalf("model card %q does not name the upload", card)
	}
	s.take("uploaded")
	do(t, ctx, "autocomplete", chromedp.Click(chromedp.CSS(`li.model[data-status="ready"] a[href="#query"]`)),
		chromedp.WaitVisible(chromedp.CSS("#query-word")),
		chromedp.SendKeys(chromedp.CSS("#query-word"), "rab"))
	eventually(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
		opts := eval[[]string](t, ctx, `[...document.querySelectorAll("#query-words option")].map(o => o.value)`)
		if !slices.Contains(opts, "rabbit") {
			return false, fmt.Sprintf("no autocomplete suggestion rabbit for rab: %v", opts)
		}
		for _, o := range opts {
			if !strings.HasPrefix(o, "rab") {
				t.Fatalf("suggestion %q for %q", o, "rab")
			}
		}
		return true, ""
	})
	s.take("autocomplete")
}

// TestBrowserShowsProgress: a model whose download hangs shows its live
// progress (phase and bar) on its card, updated without a reload, and a
// failed model shows why.
func TestBrowserShowsProgress(t *testing.T) {
	ctx := browser(t)
	src, hanging, _ := hangingBook(t)
	base := startServer(t, "--allow-private-urls", "--workers", "2") // one hangs
	do(t, ctx, "open", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#models-empty")))
	var m struct{ ID string }
	if code, _ := call(t, "POST", base+"/models", `{"name": "slow", "urls": ["`+src.URL+`/alice.txt"]}`, &m); code != 201 {
		t.Fatalf("create: %d", code)
	}
	<-hanging
	do(t, ctx, "progress", chromedp.WaitVisible(chromedp.CSS(`li.model[data-status="training"] .progress .bar`)))
	if got := text(t, ctx, `li.model[data-status="training"] .progress-text`); !strings.Contains(got, "fetching") {
		t.Fatalf("progress text %q, want the fetching phase", got)
	}
	newShots(t, ctx, "progress").take("training")

	if code, _ := call(t, "POST", base+"/models", `{"name": "broken", "urls": ["`+src.URL+`/alice.txt"], "params": {"minCount": 100000}}`, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	do(t, ctx, "failed", chromedp.WaitVisible(chromedp.CSS(`li.model[data-status="failed"] .error`)))
	if got := text(t, ctx, `li.model[data-status="failed"] .error`); !strings.HasPrefix(got, "Failed: ") || len(got) < 20 {
		t.Fatalf("failure shown as %q", got)
	}
}

// Keys of the keyed browser tests: a write key that trains and queries,
// a read key that may not train.
const (
	browserWriteKey = "browser-writer-secret-0123456789"
	browserReadKey  = "browser-reader-secret-0123456789"
)

// keysFile writes a keys file with the two keys (the reader's as a
// sha256 hash) into a temporary directory and returns its path.
func keysFile(t *testing.T) string {
	t.Helper()
	sum := sha256.Sum256([]byte(browserReadKey))
	path := filepath.Join(t.TempDir(), "keys")
	text := "# browser test keys\nwriter write " + browserWriteKey + "\nreader read sha256:" + hex.EncodeToString(sum[:]) + "\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBrowserKeys: on a server with keys, the page asks for a key,
// refuses an unknown one in words, explains a read key's 403 when it
// tries to train, signs out, and trains and queries with a write key kept
// in sessionStorage only; no key reaches the server's log.
func TestBrowserKeys(t *testing.T) {
	ctx := browser(t)
	src := books(t)
	base, stop, logs := startRoleIn(t, "serve", t.TempDir(), "--allow-private-urls", "--keys", keysFile(t))
	t.Cleanup(stop)
	keyedFlow(t, ctx, base, src.URL, "keys")
	if l := logs.String(); strings.Contains(l, browserWriteKey) || strings.Contains(l, browserReadKey) {
		t.Errorf("a key is in the server's log:\n%s", l)
	}
}

// TestBrowserKeysThroughWebRole: the same through the web role, whose
// proxy passes the page's key to an api process with keys.
func TestBrowserKeysThroughWebRole(t *testing.T) {
	ctx := browser(t)
	src := books(t)
	apiBase, stop, logs := startRoleIn(t, "api", t.TempDir(), "--allow-private-urls", "--workers", "1", "--keys", keysFile(t))
	t.Cleanup(stop)
	keyedFlow(t, ctx, startWeb(t, apiBase), src.URL, "keys-web")
	if l := logs.String(); strings.Contains(l, browserWriteKey) || strings.Contains(l, browserReadKey) {
		t.Errorf("a key is in the api's log:\n%s", l)
	}
}

// signIn types key into the key dialog, which must be open (and clears
// its box when it opens), and submits.
func signIn(t *testing.T, ctx context.Context, what, key string) {
	t.Helper()
	do(t, ctx, what, chromedp.WaitVisible(chromedp.CSS("#key-dialog[open] #key-input")),
		chromedp.SendKeys(chromedp.CSS("#key-input"), key),
		chromedp.Click(chromedp.CSS("#key-submit")))
}

func keyedFlow(t *testing.T, ctx context.Context, base, books, prefix string) {
	s := newShots(t, ctx, prefix)
	do(t, ctx, "open the page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#key-dialog[open] #key-input")))
	if got := text(t, ctx, "#key-reason"); !strings.Contains(got, "needs an API key") {
		t.Fatalf("the dialog says %q", got)
	}
	if eval[string](t, ctx, `document.activeElement.id`) != "key-input" {
		t.Error("the key box does not have the focus when the dialog opens")
	}
	s.take("asks-for-key")

	signIn(t, ctx, "an unknown key", "not-a-key-of-this-server")
	eventually(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
		got := text(t, ctx, "#key-reason")
		return strings.Contains(got, "does not know that key"), "after an unknown key the dialog says " + got
	})
	s.take("unknown-key")

	signIn(t, ctx, "the read key", browserReadKey)
	do(t, ctx, "signed in", chromedp.WaitVisible(chromedp.CSS("#models-empty")), chromedp.WaitVisible(chromedp.CSS("#sign-out")))
	if eval[bool](t, ctx, `document.querySelector("#key-dialog").open`) {
		t.Fatal("the dialog is still open after a good key")
	}
	do(t, ctx, "train with the read key", chromedp.Click(chromedp.CSS("#train summary")),
		chromedp.SendKeys(chromedp.CSS("#train-name"), "austen"),
		chromedp.SetValue(chromedp.CSS("#train-urls"), books+"/austen.txt"),
		chromedp.Click(chromedp.CSS("#train-submit")),
		chromedp.WaitVisible(chromedp.CSS(`.field-error[data-for=""]`)))
	msg := text(t, ctx, `.field-error[data-for=""]`)
	if !strings.Contains(msg, "Not allowed") || !strings.Contains(msg, "role") || strings.Contains(msg, "{") {
		t.Fatalf("a read key's 403 shown as %q", msg)
	}
	s.take("forbidden")

	do(t, ctx, "sign out", chromedp.Click(chromedp.CSS("#sign-out")), chromedp.WaitVisible(chromedp.CSS("#need-key")))
	if k := eval[string](t, ctx, `sessionStorage.getItem("ophicleide.apiKey") || ""`); k != "" {
		t.Fatalf("after sign out the key is still kept")
	}
	s.take("signed-out")
	do(t, ctx, "sign in again", chromedp.Click(chromedp.CSS("#need-key-sign-in")))
	signIn(t, ctx, "the write key", browserWriteKey)
	do(t, ctx, "signed in as the writer", chromedp.WaitVisible(chromedp.CSS("#sign-out")), chromedp.WaitNotVisible(chromedp.CSS("#need-key")))

	if !eval[bool](t, ctx, `document.querySelector("#train").open`) {
		t.Fatal("the training form closed after the 403")
	}
	do(t, ctx, "train with the write key", chromedp.SetValue(chromedp.CSS("#train-name"), "austen"),
		chromedp.SetValue(chromedp.CSS("#train-urls"), books+"/austen.txt"),
		chromedp.Click(chromedp.CSS("details.advanced summary")),
		chromedp.SetValue(chromedp.CSS(`input[name="epochs"]`), "2"),
		chromedp.Click(chromedp.CSS("#train-submit")),
		chromedp.WaitVisible(chromedp.CSS(`li.model[data-status="ready"]`)))
	s.take("trained")

	// A reload keeps the key (the same tab's session).
	do(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`li.model[data-status="ready"]`)))
	if eval[bool](t, ctx, `document.querySelector("#key-dialog").open`) {
		t.Fatal("the page asked for the key again after a reload")
	}
	do(t, ctx, "query darcy", chromedp.Click(chromedp.CSS(`li.model[data-status="ready"] a[href="#query"]`)),
		chromedp.WaitVisible(chromedp.CSS("#query-word")),
		chromedp.SendKeys(chromedp.CSS("#query-word"), "darcy"),
		chromedp.Click(chromedp.CSS("#query-submit")),
		chromedp.WaitVisible(chromedp.CSS("#result-list li")))
	if n := eval[int](t, ctx, `document.querySelectorAll("#result-list .word").length`); n != 10 {
		t.Fatalf("%d results for darcy, want 10", n)
	}
	s.take("query")
	if k := eval[string](t, ctx, `sessionStorage.getItem("ophicleide.apiKey") || ""`); k != browserWriteKey {
		t.Errorf("sessionStorage holds %q, want the write key", k)
	}
	if n := eval[int](t, ctx, `localStorage.length + document.cookie.length`); n != 0 {
		t.Errorf("the page keeps something in localStorage or a cookie")
	}
	if html := eval[string](t, ctx, `document.documentElement.outerHTML`); strings.Contains(html, browserWriteKey) {
		t.Error("the key is written into the page")
	}
}

// TestBrowserSparkEngine: on a server with a Spark engine the form
// offers it; a model trained on Spark from an uploaded book ends ready,
// its card says so, and it answers queries. A server without one does
// not offer the choice.
func TestBrowserSparkEngine(t *testing.T) {
	ctx := browser(t)
	url := sparktest.URL(t)
	base := startServer(t, "--spark", url)
	book, err := filepath.Abs("../../testdata/pride-and-prejudice_1342-0.txt")
	if err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "train on spark", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#models-empty")),
		chromedp.Click(chromedp.CSS("#train summary")),
		chromedp.SendKeys(chromedp.CSS("#train-name"), "austen on spark"),
		chromedp.SetUploadFiles(chromedp.CSS("#train-files"), []string{book}),
		chromedp.Click(chromedp.CSS("details.advanced summary")),
		chromedp.WaitVisible(chromedp.CSS("#train-engine")),
		chromedp.SetValue(chromedp.CSS("#train-engine"), "spark"),
		chromedp.SetValue(chromedp.CSS(`input[name="partitions"]`), "2"),
		chromedp.Click(chromedp.CSS("#train-submit")),
		chromedp.WaitVisible(chromedp.CSS(`li.model[data-status="ready"]`)))
	if card := text(t, ctx, `li.model[data-status="ready"]`); !strings.Contains(card, "trained on Spark") {
		t.Fatalf("model card %q does not say it was trained on Spark", card)
	}
	newShots(t, ctx, "spark").take("ready")
	do(t, ctx, "query", chromedp.Click(chromedp.CSS(`li.model[data-status="ready"] a[href="#query"]`)),
		chromedp.WaitVisible(chromedp.CSS("#query-word")),
		chromedp.SendKeys(chromedp.CSS("#query-word"), "darcy"),
		chromedp.Click(chromedp.CSS("#query-submit")),
		chromedp.WaitVisible(chromedp.CSS("#result-list li")))
	results := eval[[]string](t, ctx, `[...document.querySelectorAll("#result-list .word")].map(e => e.textContent)`)
	if len(results) == 0 {
		t.Fatal("no neighbours shown for darcy")
	}
	t.Logf("darcy on the page: %v", results)

	plain := startServer(t)
	do(t, ctx, "no spark", chromedp.Navigate(plain+"/"), chromedp.WaitVisible(chromedp.CSS("#models-empty")),
		chromedp.Click(chromedp.CSS("#train summary")), chromedp.Click(chromedp.CSS("details.advanced summary")))
	if shown := eval[bool](t, ctx, `!document.querySelector("#train-engine").closest("label").hidden`); shown {
		t.Error("a server without Spark offers the engine choice")
	}
}
