package service

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/bolt"
)

// Access control over a real embedded store, with principals in the
// context as the HTTP adapter puts them.

var (
	alice  = ophicleide.Principal{Name: "alice", Role: ophicleide.RoleWrite}
	bob    = ophicleide.Principal{Name: "bob", Role: ophicleide.RoleWrite}
	reader = ophicleide.Principal{Name: "reader", Role: ophicleide.RoleRead}
	anon   = ophicleide.Principal{Role: ophicleide.RoleRead, Anonymous: true, Addr: "192.0.2.7"}
	root   = ophicleide.Principal{Name: "root", Role: ophicleide.RoleAdmin}
	// odd: key names are arbitrary strings.
	odd = ophicleide.Principal{Name: "a\x00b c:/o:alice", Role: ophicleide.RoleWrite}
)

func as(p ophicleide.Principal) context.Context {
	return ophicleide.WithPrincipal(context.Background(), p)
}

// process is a context without a principal: the process, an admin "".
var process = context.Background()

func urlRequest(name string) ophicleide.ModelRequest {
	return ophicleide.ModelRequest{Name: name, URLs: []string{"https://example.org/secret.txt"}, Callback: "https://example.org/hook?token=s3cret"}
}

// trained creates a model as p and trains it to ready with per-source
// stats, through the store as a worker would.
func trained(t *testing.T, store *bolt.Store, models *Models, p ophicleide.Principal, name string) *ophicleide.Model {
	t.Helper()
	m, err := models.Create(as(p), urlRequest(name))
	if err != nil {
		t.Fatalf("Create as %q: %v", p.Name, err)
	}
	l, err := store.ClaimJob(process, "w", time.Minute)
	if err != nil || l == nil || l.ModelID != m.ID {
		t.Fatalf("ClaimJob: %+v %v", l, err)
	}
	if err := store.PutVectors(process, l, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := store.CompleteJob(process, l, ophicleide.Completion{Stats: ophicleide.Stats{VocabSize: 3, CorpusWords: 9,
		Sources: []ophicleide.SourceStats{{URL: m.URLs[0], Bytes: 40, Words: 9}}}}); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOwnerRecorded(t *testing.T) {
	store := openStore(t)
	models, _ := New(store, 1<<20, Config{})
	cases := []struct {
		p    ophicleide.Principal
		want string
	}{{alice, "alice"}, {root, "root"}, {odd, odd.Name}, {ophicleide.PrincipalFrom(process), ""}}
	for _, c := range cases {
		m, err := models.Create(as(c.p), urlRequest("m"))
		if err != nil {
			t.Fatalf("Create as %q: %v", c.p.Name, err)
		}
		imp, err := models.Import(as(c.p), "imp", strings.NewReader(austen))
		if err != nil {
			t.Fatalf("Import as %q: %v", c.p.Name, err)
		}
		for _, id := range []string{m.ID, imp.ID} {
			if got, err := store.FindModel(process, id); err != nil || got.Owner != c.want {
				t.Errorf("stored owner %q, %v; want %q", got.Owner, err, c.want)
			}
		}
		if m.Owner != c.want || imp.Owner != c.want {
			t.Errorf("returned owners %q, %q; want %q", m.Owner, imp.Owner, c.want)
		}
	}
	if m, err := models.Create(process, urlRequest("open")); err != nil || m.Owner != "" {
		t.Errorf("Create without a principal: owner %q, %v", m.Owner, err)
	}
	// Readers and anonymous callers create nothing, whatever the
	// transport checked.
	for _, p := range []ophicleide.Principal{reader, anon, {Name: "x", Role: "bogus"}} {
		_, err := models.Create(as(p), urlRequest("m"))
		wantError(t, "Create as "+p.Name, err, ophicleide.EFORBIDDEN, "", "creating a model needs a key with the write or admin role")
		_, err = models.Import(as(p), "imp", strings.NewReader(austen))
		wantError(t, "Import as "+p.Name, err, ophicleide.EFORBIDDEN, "", "importing a model needs a key with the write or admin role")
	}
}

func TestDeleteByOwner(t *testing.T) {
	store := openStore(t)
	models, _ := New(store, 1<<20, Config{})
	ofAlice, err := models.Create(as(alice), urlRequest("alice's"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []ophicleide.Principal{bob, odd} {
		err := models.Delete(as(p), ofAlice.ID)
		wantError(t, "Delete by another writer", err, ophicleide.EFORBIDDEN, "", `model "alice's" belongs to another key; only its owner or an admin may delete it`)
	}
	for _, p := range []ophicleide.Principal{reader, anon, {Name: "alice", Role: ophicleide.RoleRead}} {
		wantError(t, "Delete by "+p.Name, models.Delete(as(p), ofAlice.ID), ophicleide.EFORBIDDEN, "", "deleting a model needs a key with the write or admin role")
	}
	// An anonymous principal that carries a name owns nothing.
	wantError(t, "Delete anonymous", models.Delete(as(ophicleide.Principal{Name: "alice", Role: ophicleide.RoleWrite, Anonymous: true}), ofAlice.ID),
		ophicleide.EFORBIDDEN, "", "write or admin role")
	wantError(t, "Delete of an unknown model", models.Delete(as(alice), "no-such-model"), ophicleide.ENOTFOUND, "", "not found")
	if _, err := store.FindModel(process, ofAlice.ID); err != nil {
		t.Fatalf("a refused delete removed the model: %v", err)
	}
	if err := models.Delete(as(alice), ofAlice.ID); err != nil {
		t.Fatalf("Delete by the owner: %v", err)
	}
	// Admins delete any model: a writer's, and one made before keys,
	// which no writer owns.
	ofBob, _ := models.Create(as(bob), urlRequest("bob's"))
	open, _ := models.Create(process, urlRequest("open"))
	wantError(t, "Delete of an unowned model by a writer", models.Delete(as(alice), open.ID), ophicleide.EFORBIDDEN, "", "belongs to another key")
	if err := models.Delete(as(root), ofBob.ID); err != nil {
		t.Fatalf("Delete by an admin: %v", err)
	}
	if err := models.Delete(process, open.ID); err != nil {
		t.Fatalf("Delete by the process: %v", err)
	}
}

func TestExportByOwner(t *testing.T) {
	models, queries := New(openStore(t), 1<<20, Config{})
	m, err := models.Import(as(alice), "alice's", strings.NewReader(austen))
	if err != nil {
		t.Fatal(err)
	}
	_, err = queries.Export(as(bob), m.ID, "text")
	wantError(t, "Export by another writer", err, ophicleide.EFORBIDDEN, "", `model "alice's" belongs to another key; only its owner or an admin may export it`)
	for _, p := range []ophicleide.Principal{reader, anon} {
		_, err = queries.Export(as(p), m.ID, "text")
		wantError(t, "Export by "+p.Name, err, ophicleide.EFORBIDDEN, "", "exporting a model needs a key with the write or admin role")
	}
	for _, ctx := range []context.Context{as(alice), as(root), process} {
		e, err := queries.Export(ctx, m.ID, "text")
		if err != nil {
			t.Fatalf("Export: %v", err)
		}
		var b strings.Builder
		if err := e.Write(&b); err != nil || !strings.HasPrefix(b.String(), "5 3\n") {
			t.Fatalf("exported %q, %v", b.String(), err)
		}
	}
}

func TestRedaction(t *testing.T) {
	store := openStore(t)
	models, _ := New(store, 1<<20, Config{})
	m := trained(t, store, models, alice, "alice's")
	full := func(ctx context.Context) []*ophicleide.Model {
		t.Helper()
		got, err := models.FindModel(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		page, err := models.PageModels(ctx, ophicleide.Page{})
		if err != nil || len(page.Models) != 1 {
			t.Fatalf("PageModels: %+v %v", page, err)
		}
		return []*ophicleide.Model{got, page.Models[0]}
	}
	for _, ctx := range []context.Context{as(alice), as(root), process} {
		for _, got := range full(ctx) {
			if got.Owner != "alice" || !slices.Equal(got.URLs, m.URLs) || got.Callback != m.Callback || len(got.Stats.Sources) != 1 {
				t.Errorf("owner or admin sees %+v", got)
			}
		}
	}
	for _, p := range []ophicleide.Principal{bob, reader, anon, odd} {
		for _, got := range full(as(p)) {
			if got.Owner != "" || got.URLs == nil || len(got.URLs) != 0 || got.Callback != "" || got.Stats.Sources != nil {
				t.Errorf("%q sees %+v, stats %+v", p.Name, got, got.Stats)
			}
			if got.Name != m.Name || got.Status != ophicleide.StatusReady || got.Stats.VocabSize != 3 || got.Stats.CorpusWords != 9 {
				t.Errorf("%q lost what it may see: %+v", p.Name, got)
			}
			b, _ := json.Marshal(got)
			if s := string(b); !strings.Contains(s, `"urls":[]`) || strings.Contains(s, "secret") || strings.Contains(s, "callback") ||
				strings.Contains(s, "owner") || strings.Contains(s, "sources") {
				t.Errorf("%q reads %s", p.Name, s)
			}
		}
	}
	// Redaction changes copies only.
	if got, _ := store.FindModel(process, m.ID); got.Callback != m.Callback || len(got.URLs) != 1 {
		t.Errorf("the stored model changed: %+v", got)
	}
}

func TestQueryHistoryPerOwner(t *testing.T) {
	models, queries := New(openStore(t), 1<<20, Config{})
	m, err := models.Import(process, "austen", strings.NewReader(austen))
	if err != nil {
		t.Fatal(err)
	}
	asked := map[string][]string{} // owner -> query IDs, newest first
	ask := func(ctx context.Context, word string) *ophicleide.Query {
		t.Helper()
		q, err := queries.Query(ctx, ophicleide.QueryRequest{ModelID: m.ID, Word: word, Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		asked[q.Owner] = append([]string{q.ID}, asked[q.Owner]...)
		return q
	}
	qa := ask(as(alice), "darcy")
	ask(as(alice), "jane")
	qb := ask(as(bob), "darcy")
	qn := ask(as(anon), "darcy")
	ask(as(ophicleide.Principal{Name: "ignored", Role: ophicleide.RoleRead, Anonymous: true}), "jane")
	qp := ask(process, "darcy")
	ask(as(root), "darcy")
	qo := ask(as(odd), "darcy")
	if qa.Owner != "alice" || qn.Owner != "" || qp.Owner != "" || qo.Owner != odd.Name {
		t.Fatalf("owners %q %q %q %q", qa.Owner, qn.Owner, qp.Owner, qo.Owner)
	}
	var all []string
	for _, ids := range asked {
		all = append(all, ids...)
	}
	page := func(ctx context.Context, model string) []string {
		t.Helper()
		var ids []string
		p := ophicleide.Page{Limit: 2}
		for {
			qs, err := queries.PageQueries(ctx, model, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range qs.Queries {
				ids = append(ids, q.ID)
			}
			if qs.Next == "" {
				return ids
			}
			p.After = qs.Next
		}
	}
	same := func(a, b []string) bool {
		a, b = slices.Clone(a), slices.Clone(b)
		slices.Sort(a)
		slices.Sort(b)
		return slices.Equal(a, b)
	}
	for _, c := range []struct {
		ctx  context.Context
		who  string
		want []string
	}{
		{as(alice), "alice", asked["alice"]},
		{as(bob), "bob", asked["bob"]},
		{as(odd), "odd", asked[odd.Name]},
		{as(reader), "reader", nil},
		{as(anon), "anonymous", asked[""]}, // anonymous and the open server's
		{as(root), "admin", all},
		{process, "process", all},
	} {
		if got := page(c.ctx, ""); !same(got, c.want) {
			t.Errorf("%s sees %v, want %v", c.who, got, c.want)
		}
		if got := page(c.ctx, m.ID); !same(got, c.want) {
			t.Errorf("%s sees of the model %v, want %v", c.who, got, c.want)
		}
	}
	if got := page(as(alice), asked["alice"][0]); len(got) != 0 {
		t.Errorf("queries of a model ID that is a query's: %v", got)
	}
	if got := page(as(alice), ""); !slices.Equal(got, asked["alice"]) {
		t.Errorf("alice's in order: %v, want %v", got, asked["alice"])
	}
	for _, c := range []struct {
		ctx context.Context
		q   *ophicleide.Query
		ok  bool
	}{
		{as(alice), qa, true}, {as(bob), qa, false}, {as(anon), qa, false}, {as(reader), qa, false},
		{as(root), qa, true}, {process, qb, true}, {as(anon), qn, true}, {as(anon), qp, true},
		{as(alice), qn, false}, {as(odd), qo, true}, {as(ophicleide.Principal{Name: "a", Role: ophicleide.RoleRead}), qo, false},
	} {
		got, err := queries.FindQuery(c.ctx, c.q.ID)
		if c.ok && (err != nil || got.ID != c.q.ID) {
			t.Errorf("FindQuery(%s) as %q: %v", c.q.Owner, ophicleide.PrincipalFrom(c.ctx).Name, err)
		}
		if !c.ok {
			wantError(t, "FindQuery of another's query", err, ophicleide.ENOTFOUND, "", "not found")
		}
	}
}

func TestJobQuota(t *testing.T) {
	store := openStore(t)
	models, _ := New(store, 1<<20, Config{MaxJobsPerKey: 2})
	if l := models.Limits(); l.MaxJobsPerKey != 2 || l.MaxBytesPerKey != 0 {
		t.Errorf("Limits: %+v", l)
	}
	for range 2 {
		if _, err := models.Create(as(alice), urlRequest("m")); err != nil {
			t.Fatal(err)
		}
	}
	_, err := models.Create(as(alice), urlRequest("m"))
	wantError(t, "a third job", err, ophicleide.ELIMITED, "", "this key has 2 models queued or training, the limit; wait for one to end")
	var e *ophicleide.Error
	if errorsAs(err, &e) && e.RetryAfter != 0 {
		t.Errorf("RetryAfter %v for a quota", e.RetryAfter)
	}
	// Imports train nothing: not limited by jobs.
	if _, err := models.Import(as(alice), "imp", strings.NewReader(austen)); err != nil {
		t.Errorf("Import at the job quota: %v", err)
	}
	// Per owner; admins and the process are exempt.
	for _, ctx := range []context.Context{as(bob), as(bob), as(root), as(root), as(root), process, process, process} {
		if _, err := models.Create(ctx, urlRequest("m")); err != nil {
			t.Errorf("Create as %q: %v", ophicleide.PrincipalFrom(ctx).Name, err)
		}
	}
	// A job that ends makes room (training still counts).
	l, err := store.ClaimJob(process, "w", time.Minute)
	if err != nil || l == nil {
		t.Fatal(l, err)
	}
	_, err = models.Create(as(alice), urlRequest("m"))
	wantError(t, "while one trains", err, ophicleide.ELIMITED, "", "the limit")
	if err := store.FailJob(process, l, "no"); err != nil {
		t.Fatal(err)
	}
	if _, err := models.Create(as(alice), urlRequest("m")); err != nil {
		t.Errorf("after a job ended: %v", err)
	}
	// No quota with 0.
	free, _ := New(store, 1<<20, Config{})
	if _, err := free.Create(as(alice), urlRequest("m")); err != nil {
		t.Errorf("without a quota: %v", err)
	}
}

func TestByteQuota(t *testing.T) {
	store := openStore(t)
	models, _ := New(store, 1<<20, Config{MaxBytesPerKey: 1000})
	if l := models.Limits(); l.MaxBytesPerKey != 1000 || l.MaxJobsPerKey != 0 {
		t.Errorf("Limits: %+v", l)
	}
	upload := func(n int) ophicleide.ModelRequest {
		return ophicleide.ModelRequest{Name: "up", Uploads: []ophicleide.Upload{{Name: "a.txt", Text: strings.NewReader(strings.Repeat("w ", n/2))}}}
	}
	if _, err := models.Create(as(alice), upload(600)); err != nil {
		t.Fatal(err)
	}
	_, err := models.Create(as(alice), upload(600))
	wantError(t, "uploads over the quota", err, ophicleide.EFULL, "", "this key stores 600 bytes of uploads and vectors; with these uploads (600 bytes) it would exceed its quota of 1000 bytes")
	if _, err := models.Create(as(alice), upload(400)); err != nil {
		t.Fatalf("up to the quota: %v", err)
	}
	for _, req := range []ophicleide.ModelRequest{urlRequest("m"), upload(2)} {
		_, err = models.Create(as(alice), req)
		wantError(t, "at the quota", err, ophicleide.EFULL, "", "this key stores 1000 bytes of uploads and vectors, its quota of 1000 bytes: nothing was stored")
	}
	_, err = models.Import(as(alice), "imp", strings.NewReader(austen))
	wantError(t, "Import at the quota", err, ophicleide.EFULL, "", "its quota of 1000 bytes")
	// Others, admins and the process are not alice.
	for _, ctx := range []context.Context{as(bob), as(root), process} {
		if _, err := models.Create(ctx, upload(900)); err != nil {
			t.Errorf("Create as %q: %v", ophicleide.PrincipalFrom(ctx).Name, err)
		}
	}
	// An import is counted as its vectors are written (~150 bytes here):
	// beyond the quota it stores nothing.
	_, err = models.Import(as(bob), "imp", strings.NewReader(austen))
	wantError(t, "Import beyond the quota", err, ophicleide.EFULL, "", "these vectors would take this key beyond its quota of 1000 bytes")
	if u, err := store.Usage(process, "bob"); err != nil || u.Bytes != 900 {
		t.Errorf("bob's usage after the refused import: %+v %v", u, err)
	}
	small, _ := New(store, 1<<20, Config{MaxBytesPerKey: 10 << 20})
	if _, err := small.Import(as(bob), "imp", strings.NewReader(austen)); err != nil {
		t.Errorf("Import under the quota: %v", err)
	}
}

func errorsAs(err error, e **ophicleide.Error) bool { return errors.As(err, e) }
