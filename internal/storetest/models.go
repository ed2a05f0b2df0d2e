package storetest

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
)

// testModels: CreateModel, FindModel, PageModels, CountModels,
// DeleteModel and the IDs they accept.
func testModels(t *testing.T, open opener) {
	t.Run("CreateFind", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		m.Uploads = []string{"pride.txt", "emma.txt"}
		uploads := map[string]io.Reader{
			"pride.txt": strings.NewReader("It is a truth universally acknowledged"),
			"emma.txt":  strings.NewReader(""),
		}
		mustCreate(t, s, m, uploads)
		want := *m
		want.Status = ophicleide.StatusQueued
		wantModel(t, mustFind(t, s, m.ID), &want, true)

		got := readAll(t)(s.OpenUpload(ctx(t), m.ID, "pride.txt"))
		if string(got) != "It is a truth universally acknowledged" {
			t.Errorf("upload = %q", got)
		}
		if got := readAll(t)(s.OpenUpload(ctx(t), m.ID, "emma.txt")); len(got) != 0 {
			t.Errorf("empty upload = %q", got)
		}
		_, err := s.OpenUpload(ctx(t), m.ID, "persuasion.txt")
		wantCode(t, "OpenUpload of an unknown name", err, ophicleide.ENOTFOUND)
	})

	t.Run("NoUploads", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		m.URLs = []string{"https://example.org/only"}
		mustCreate(t, s, m, nil)
		want := *m
		want.Status = ophicleide.StatusQueued
		wantModel(t, mustFind(t, s, m.ID), &want, true)
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		id := NewID()
		_, err := s.FindModel(ctx(t), id)
		wantCode(t, "FindModel", err, ophicleide.ENOTFOUND)
		wantCode(t, "DeleteModel", s.DeleteModel(ctx(t), id), ophicleide.ENOTFOUND)
		_, err = s.OpenUpload(ctx(t), id, "a.txt")
		wantCode(t, "OpenUpload", err, ophicleide.ENOTFOUND)
		_, err = s.OpenVectors(ctx(t), id)
		wantCode(t, "OpenVectors", err, ophicleide.ENOTFOUND)
	})

	t.Run("Conflict", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		m.Uploads = []string{"a.txt"}
		mustCreate(t, s, m, map[string]io.Reader{"a.txt": strings.NewReader("first")})
		dup := NewModel(time.Hour)
		dup.ID, dup.Name, dup.Uploads = m.ID, "second", []string{"a.txt"}
		err := s.CreateModel(ctx(t), dup, map[string]io.Reader{"a.txt": strings.NewReader("second")})
		wantCode(t, "CreateModel of an existing ID", err, ophicleide.ECONFLICT)
		if got := mustFind(t, s, m.ID); got.Name != m.Name {
			t.Errorf("name %q after a conflicting create, want %q", got.Name, m.Name)
		}
		if got := readAll(t)(s.OpenUpload(ctx(t), m.ID, "a.txt")); string(got) != "first" {
			t.Errorf("upload %q after a conflicting create, want %q", got, "first")
		}
		wantQueueLength(t, s, 1)
	})

	t.Run("ListNewestFirst", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		page, err := s.PageModels(ctx(t), ophicleide.Page{})
		if err != nil || page.Models == nil || len(page.Models) != 0 || page.Next != "" {
			t.Fatalf("PageModels of an empty store = %+v, %v; want an empty, non-nil list", page, err)
		}
		a, b, c := NewModel(time.Second), NewModel(3*time.Second), NewModel(2*time.Second)
		for _, m := range []*ophicleide.Model{a, b, c} {
			mustCreate(t, s, m, nil)
		}
		ms := pageAll(t, s, ophicleide.MaxPageLimit)
		if got, want := modelIDs(ms), []string{b.ID, c.ID, a.ID}; !reflect.DeepEqual(got, want) {
			t.Fatalf("PageModels = %v, want %v", got, want)
		}
		want := *b
		want.Status = ophicleide.StatusQueued
		wantModel(t, ms[0], &want, true)
	})

	t.Run("PageModels", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		page, err := s.PageModels(ctx(t), ophicleide.Page{})
		if err != nil || len(page.Models) != 0 || page.Next != "" {
			t.Fatalf("PageModels of an empty store = %+v, %v", page, err)
		}
		// 3 models per creation time: the cursor must order ties by ID.
		var all []*ophicleide.Model
		for i := range 11 {
			m := NewModel(time.Duration(i/3) * time.Second)
			mustCreate(t, s, m, nil)
			all = append(all, m)
		}
		sortNewestFirst(all, func(m *ophicleide.Model) (time.Time, string) { return m.Created, m.ID })
		for _, limit := range []int{1, 2, 3, 4, 11, 12} {
			if got, want := modelIDs(pageAll(t, s, limit)), modelIDs(all); !reflect.DeepEqual(got, want) {
				t.Fatalf("pages of %d: %v\nwant %v", limit, got, want)
			}
		}
		page, err = s.PageModels(ctx(t), ophicleide.Page{Limit: 4})
		if err != nil {
			t.Fatal(err)
		}
		want := *all[0]
		want.Status = ophicleide.StatusQueued
		wantModel(t, page.Models[0], &want, true)
		wantBadPages(t, func(p ophicleide.Page) error { _, err := s.PageModels(ctx(t), p); return err })
	})

	// PageEdges: a full last page has no Next; a cursor stays valid when
	// its model is deleted (it is a position); a cursor below every model
	// gives an empty page.
	t.Run("PageEdges", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		var all []*ophicleide.Model
		for i := range 4 {
			m := NewModel(time.Duration(i) * time.Second)
			mustCreate(t, s, m, nil)
			all = append(all, m)
		}
		sortNewestFirst(all, func(m *ophicleide.Model) (time.Time, string) { return m.Created, m.ID })
		first, err := s.PageModels(ctx(t), ophicleide.Page{Limit: 2})
		if err != nil || first.Next == "" {
			t.Fatalf("first page: %+v, %v", first, err)
		}
		if err := s.DeleteModel(ctx(t), first.Models[1].ID); err != nil {
			t.Fatal(err)
		}
		second, err := s.PageModels(ctx(t), ophicleide.Page{Limit: 2, After: first.Next})
		if err != nil {
			t.Fatalf("the page after a deleted model's cursor: %v", err)
		}
		if got, want := modelIDs(second.Models), modelIDs(all[2:]); !reflect.DeepEqual(got, want) {
			t.Fatalf("the page after a deleted model's cursor: %v, want %v", got, want)
		}
		if second.Next != "" {
			t.Errorf("a full last page has Next %q, want none", second.Next)
		}
		below := ophicleide.Cursor{Created: base.Add(-time.Hour), ID: "z"}.String()
		past, err := s.PageModels(ctx(t), ophicleide.Page{After: below})
		if err != nil || past.Models == nil || len(past.Models) != 0 || past.Next != "" {
			t.Fatalf("the page below every model = %+v, %v; want an empty, non-nil list", past, err)
		}
	})

	// InvalidID: every store refuses the IDs ophicleide.CheckModelID
	// refuses, before it reads an upload or calls write.
	t.Run("InvalidID", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for _, id := range []string{"", "a/b", "../x", "a.b", "é", strings.Repeat("x", 129)} {
			m := NewModel(0)
			m.ID, m.Uploads = id, []string{"a.txt"}
			r := &watchedReader{r: strings.NewReader("x")}
			err := s.CreateModel(ctx(t), m, map[string]io.Reader{"a.txt": r})
			wantField(t, fmt.Sprintf("CreateModel(%q)", id), err, ophicleide.EINVALID, "id")
			if r.read {
				t.Errorf("CreateModel(%q) read an upload", id)
			}
			called := false
			err = s.ImportModel(ctx(t), m, func(io.Writer) error { called = true; return nil })
			wantField(t, fmt.Sprintf("ImportModel(%q)", id), err, ophicleide.EINVALID, "id")
			if called {
				t.Errorf("ImportModel(%q) called write", id)
			}
		}
		wantQueueLength(t, s, 0)
		if got := pageAll(t, s, 10); len(got) != 0 {
			t.Errorf("models after refused IDs: %v", modelIDs(got))
		}
		if err := s.CreateModel(ctx(t), &ophicleide.Model{ID: strings.Repeat("x", 128), Created: base}, nil); err != nil {
			t.Errorf("CreateModel of a 128-character ID: %v", err)
		}
	})

	t.Run("CountModels", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		wantCounts := func(queued, training, ready, failed int, wps float64) {
			t.Helper()
			c, err := s.CountModels(ctx(t))
			if err != nil {
				t.Fatalf("CountModels: %v", err)
			}
			want := map[ophicleide.Status]int{ophicleide.StatusQueued: queued, ophicleide.StatusTraining: training,
				ophicleide.StatusReady: ready, ophicleide.StatusFailed: failed, ophicleide.StatusImporting: 0}
			if !reflect.DeepEqual(c.ByStatus, want) || c.WordsPerSecond != wps {
				t.Fatalf("CountModels = %v %v, want %v %v", c.ByStatus, c.WordsPerSecond, want, wps)
			}
		}
		wantCounts(0, 0, 0, 0, 0)
		ms := []*ophicleide.Model{NewModel(0), NewModel(time.Second), NewModel(2 * time.Second), NewModel(3 * time.Second)}
		for _, m := range ms {
			mustCreate(t, s, m, nil)
		}
		imported := NewModel(4 * time.Second)
		if err := s.ImportModel(ctx(t), imported, func(w io.Writer) error { _, err := w.Write([]byte("v")); return err }); err != nil {
			t.Fatal(err)
		}
		wantCounts(4, 0, 1, 0, 0)
		done, failed, slow, fast := mustClaim(t, s, "w", time.Minute), mustClaim(t, s, "w", time.Minute),
			mustClaim(t, s, "w", time.Minute), mustClaim(t, s, "w", -time.Millisecond) // lapsed: still training
		for l, wps := range map[*ophicleide.Lease]float64{slow: 1000.5, fast: 250000} {
			if err := s.UpdateProgress(ctx(t), l, ophicleide.Progress{Phase: "training", WordsPerSecond: wps}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CompleteJob(ctx(t), done, ophicleide.Completion{Stats: ophicleide.Stats{}}); err != nil {
			t.Fatal(err)
		}
		if err := s.CompleteJob(ctx(t), done, ophicleide.Completion{Stats: ophicleide.Stats{}}); err != nil { // a repeat counts once
			t.Fatal(err)
		}
		if err := s.FailJob(ctx(t), failed, "no"); err != nil {
			t.Fatal(err)
		}
		wantCounts(0, 2, 2, 1, 251000.5)
		if err := s.ReleaseJob(ctx(t), slow); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{done.ModelID, failed.ModelID, imported.ID} {
			if err := s.DeleteModel(ctx(t), id); err != nil {
				t.Fatal(err)
			}
		}
		wantCounts(1, 1, 0, 0, 250000)
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		keep, del := NewModel(0), NewModel(time.Second)
		del.Uploads = []string{"a.txt"}
		mustCreate(t, s, keep, nil)
		mustCreate(t, s, del, map[string]io.Reader{"a.txt": strings.NewReader("gone")})
		if err := s.DeleteModel(ctx(t), del.ID); err != nil {
			t.Fatalf("DeleteModel: %v", err)
		}
		_, err := s.FindModel(ctx(t), del.ID)
		wantCode(t, "FindModel after DeleteModel", err, ophicleide.ENOTFOUND)
		_, err = s.OpenUpload(ctx(t), del.ID, "a.txt")
		wantCode(t, "OpenUpload after DeleteModel", err, ophicleide.ENOTFOUND)
		wantCode(t, "DeleteModel again", s.DeleteModel(ctx(t), del.ID), ophicleide.ENOTFOUND)
		if got := modelIDs(pageAll(t, s, 1)); !reflect.DeepEqual(got, []string{keep.ID}) {
			t.Fatalf("PageModels after DeleteModel = %v, want [%s]", got, keep.ID)
		}
		wantQueueLength(t, s, 1)
		if l := mustClaim(t, s, "w", time.Minute); l.ModelID != keep.ID {
			t.Fatalf("claimed %s, want %s", l.ModelID, keep.ID)
		}
		wantNoClaim(t, s)

		// The ID can be used again, with new uploads.
		again := NewModel(2 * time.Second)
		again.ID, again.Uploads = del.ID, []string{"a.txt"}
		mustCreate(t, s, again, map[string]io.Reader{"a.txt": strings.NewReader("new")})
		if got := readAll(t)(s.OpenUpload(ctx(t), again.ID, "a.txt")); string(got) != "new" {
			t.Errorf("upload of a re-created model = %q", got)
		}
	})
}

// pageAll reads every model through PageModels, limit at a time, and
// checks that only the last page has no Next.
func pageAll(t *testing.T, s ophicleide.Store, limit int) []*ophicleide.Model {
	t.Helper()
	var all []*ophicleide.Model
	p := ophicleide.Page{Limit: limit}
	for range 1000 {
		page, err := s.PageModels(ctx(t), p)
		if err != nil {
			t.Fatalf("PageModels(%+v): %v", p, err)
		}
		if len(page.Models) > limit || (page.Next != "" && len(page.Models) != limit) {
			t.Fatalf("PageModels(%+v): %d models, next %q", p, len(page.Models), page.Next)
		}
		all = append(all, page.Models...)
		if page.Next == "" {
			return all
		}
		p.After = page.Next
	}
	t.Fatal("PageModels never ended")
	return nil
}

// wantBadPages checks that list refuses bad limits and cursors, naming
// the field.
func wantBadPages(t *testing.T, list func(ophicleide.Page) error) {
	t.Helper()
	for _, p := range []ophicleide.Page{{Limit: -1}, {Limit: ophicleide.MaxPageLimit + 1}, {After: "not a cursor!"}, {After: "AAAA"}} {
		err := list(p)
		wantCode(t, fmt.Sprintf("page %+v", p), err, ophicleide.EINVALID)
		var e *ophicleide.Error
		if errors.As(err, &e) && ((p.Limit != 0 && e.Field != "limit") || (p.After != "" && e.Field != "after")) {
			t.Errorf("page %+v: field %q", p, e.Field)
		}
	}
}
