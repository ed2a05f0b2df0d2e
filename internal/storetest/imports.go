package storetest

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
)

// Imports pins the long import's life (BeginImport, SetImportProgress,
// EndImport, FailStaleImports): a model importing is seen by every
// reader, ends ready with its vectors or failed with the writer's
// reason, is never ended twice, may be deleted mid-way, and a stale one
// (its process died) is failed with ImportInterrupted while a live one is
// left alone. open returns a fresh store; Imports closes it.
func Imports(t *testing.T, open opener) {
	newStore := func(t *testing.T) ophicleide.Store {
		s := open(t)
		t.Cleanup(func() { s.Close() })
		return s
	}
	importing := func(t *testing.T, s ophicleide.Store) *ophicleide.Model {
		t.Helper()
		m := NewModel(0)
		m.URLs, m.Callback, m.Params = []string{}, "", ophicleide.Params{}
		m.Progress = &ophicleide.Progress{Phase: "importing"}
		if err := s.BeginImport(ctx(t), m); err != nil {
			t.Fatalf("BeginImport: %v", err)
		}
		return m
	}
	status := func(t *testing.T, s ophicleide.Store, id string) *ophicleide.Model {
		t.Helper()
		got, err := s.FindModel(ctx(t), id)
		if err != nil {
			t.Fatalf("FindModel: %v", err)
		}
		return got
	}
	vectors := func(body string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, body); return err }
	}

	t.Run("SeenThenReady", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		m := importing(t, s)
		if got := status(t, s, m.ID); got.Status != ophicleide.StatusImporting || got.Name != m.Name || got.Progress == nil || got.Progress.Phase != "importing" {
			t.Fatalf("after BeginImport: %+v", got)
		}
		page, err := s.PageModels(ctx(t), ophicleide.Page{})
		if err != nil || len(page.Models) != 1 || page.Models[0].Status != ophicleide.StatusImporting {
			t.Fatalf("PageModels: %+v, %v", page, err)
		}
		c, err := s.CountModels(ctx(t))
		if err != nil || c.ByStatus[ophicleide.StatusImporting] != 1 || c.ByStatus[ophicleide.StatusQueued] != 0 {
			t.Fatalf("CountModels: %+v, %v", c, err)
		}
		if l, err := s.ClaimJob(ctx(t), "w", time.Minute); l != nil || err != nil {
			t.Fatalf("ClaimJob with a model importing: %+v, %v; want no job", l, err)
		}
		before := status(t, s, m.ID).Updated
		time.Sleep(2 * time.Millisecond)
		if err := s.SetImportProgress(ctx(t), m.ID, ophicleide.Progress{Phase: "importing", Fraction: 0.5, Words: 1234}); err != nil {
			t.Fatalf("SetImportProgress: %v", err)
		}
		got := status(t, s, m.ID)
		if got.Progress == nil || got.Progress.Fraction != 0.5 || got.Progress.Words != 1234 || !got.Updated.After(before) {
			t.Fatalf("after SetImportProgress: %+v (updated %v, was %v)", got.Progress, got.Updated, before)
		}
		if err := s.SetEvaluation(ctx(t), m.ID, &ophicleide.Evaluation{}); ophicleide.ErrorCode(err) != ophicleide.ECONFLICT {
			t.Errorf("SetEvaluation of an importing model: %v, want ECONFLICT", err)
		}
		m.Params.Dim = 3
		m.Stats = &ophicleide.Stats{VocabSize: 2}
		if err := s.EndImport(ctx(t), m, vectors("vectors")); err != nil {
			t.Fatalf("EndImport: %v", err)
		}
		got = status(t, s, m.ID)
		if got.Status != ophicleide.StatusReady || got.Progress != nil || got.Params.Dim != 3 || got.Stats == nil || got.Stats.VocabSize != 2 || got.Error != "" {
			t.Fatalf("after EndImport: %+v", got)
		}
		if b := readVectors(t, s, m.ID); b != "vectors" {
			t.Fatalf("vectors %q", b)
		}
		c, err = s.CountModels(ctx(t))
		if err != nil || c.ByStatus[ophicleide.StatusImporting] != 0 || c.ByStatus[ophicleide.StatusReady] != 1 {
			t.Fatalf("CountModels after: %+v, %v", c, err)
		}
		// Ended: no more progress, no second end, and it is not stale.
		wantCode(t, "SetImportProgress of a ready model", s.SetImportProgress(ctx(t), m.ID, ophicleide.Progress{}), ophicleide.ECONFLICT)
		wantCode(t, "EndImport twice", s.EndImport(ctx(t), m, vectors("again")), ophicleide.ECONFLICT)
		if n, err := s.FailStaleImports(ctx(t), time.Now().Add(time.Hour)); err != nil || n != 0 {
			t.Fatalf("FailStaleImports after the end: %d, %v", n, err)
		}
		if b := readVectors(t, s, m.ID); b != "vectors" {
			t.Fatalf("vectors after a second EndImport: %q", b)
		}
	})

	t.Run("WriteFails", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		m := importing(t, s)
		reason := &ophicleide.Error{Code: ophicleide.EINVALID, Field: "file", Message: "not a word2vec vectors file: the input ends after 10 of 3000000 rows"}
		err := s.EndImport(ctx(t), m, func(w io.Writer) error { io.WriteString(w, "partial"); return reason })
		if !errors.Is(err, reason) {
			t.Fatalf("EndImport = %v, want an error wrapping the writer's", err)
		}
		got := status(t, s, m.ID)
		if got.Status != ophicleide.StatusFailed || got.Error != reason.Message || got.Progress != nil {
			t.Fatalf("after a failed write: %+v", got)
		}
		if _, err := s.OpenVectors(ctx(t), m.ID); err == nil {
			t.Error("vectors of a failed import can be opened")
		}
		c, err := s.CountModels(ctx(t))
		if err != nil || c.ByStatus[ophicleide.StatusFailed] != 1 || c.ByStatus[ophicleide.StatusImporting] != 0 {
			t.Fatalf("CountModels: %+v, %v", c, err)
		}
		// An error that is not the domain's is shown as an internal error.
		m2 := importing(t, s)
		s.EndImport(ctx(t), m2, func(io.Writer) error { return errors.New("/secret/path: boom") })
		if got := status(t, s, m2.ID); got.Status != ophicleide.StatusFailed || strings.Contains(got.Error, "secret") {
			t.Fatalf("a raw error as the reason: %+v", got)
		}
	})

	t.Run("Conflicts", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		m := importing(t, s)
		wantCode(t, "BeginImport of an existing ID", s.BeginImport(ctx(t), m), ophicleide.ECONFLICT)
		wantField(t, "BeginImport of a bad ID", s.BeginImport(ctx(t), &ophicleide.Model{ID: "../x"}), ophicleide.EINVALID, "id")
		queued := NewModel(time.Second)
		mustCreate(t, s, queued, nil)
		wantCode(t, "BeginImport over a queued model", s.BeginImport(ctx(t), &ophicleide.Model{ID: queued.ID, Name: "x"}), ophicleide.ECONFLICT)
		wantCode(t, "SetImportProgress of a queued model", s.SetImportProgress(ctx(t), queued.ID, ophicleide.Progress{}), ophicleide.ECONFLICT)
		wantCode(t, "EndImport of a queued model", s.EndImport(ctx(t), queued, vectors("v")), ophicleide.ECONFLICT)
		wantCode(t, "SetImportProgress of no model", s.SetImportProgress(ctx(t), NewID(), ophicleide.Progress{}), ophicleide.ENOTFOUND)
		if got := status(t, s, queued.ID); got.Status != ophicleide.StatusQueued {
			t.Fatalf("the queued model became %s", got.Status)
		}
	})

	t.Run("DeletedMidway", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		m := importing(t, s)
		if err := s.DeleteModel(ctx(t), m.ID); err != nil {
			t.Fatalf("DeleteModel of an importing model: %v", err)
		}
		wantCode(t, "SetImportProgress after delete", s.SetImportProgress(ctx(t), m.ID, ophicleide.Progress{}), ophicleide.ENOTFOUND)
		wantCode(t, "EndImport after delete", s.EndImport(ctx(t), m, vectors("v")), ophicleide.ENOTFOUND)
		// Deleted while write runs: nothing is stored.
		m2 := importing(t, s)
		err := s.EndImport(ctx(t), m2, func(w io.Writer) error {
			if err := s.DeleteModel(ctx(t), m2.ID); err != nil {
				t.Errorf("DeleteModel during write: %v", err)
			}
			_, err := io.WriteString(w, "v")
			return err
		})
		wantCode(t, "EndImport of a model deleted during write", err, ophicleide.ENOTFOUND)
		if _, err := s.FindModel(ctx(t), m2.ID); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
			t.Fatalf("a model deleted during its import: %v", err)
		}
		c, err := s.CountModels(ctx(t))
		if err != nil || c.ByStatus[ophicleide.StatusImporting] != 0 {
			t.Fatalf("CountModels: %+v, %v", c, err)
		}
		if u, err := s.Usage(ctx(t), m2.Owner); err != nil || u.Bytes != 0 {
			t.Fatalf("Usage after deleted imports: %+v, %v", u, err)
		}
	})

	t.Run("Stale", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		stale := importing(t, s)
		cutoff := time.Now().Add(time.Second)
		time.Sleep(1100 * time.Millisecond) // stores keep milliseconds at least
		live := importing(t, s)
		if err := s.SetImportProgress(ctx(t), live.ID, ophicleide.Progress{Phase: "importing"}); err != nil {
			t.Fatal(err)
		}
		n, err := s.FailStaleImports(ctx(t), cutoff)
		if err != nil || n != 1 {
			t.Fatalf("FailStaleImports = %d, %v; want 1", n, err)
		}
		got := status(t, s, stale.ID)
		if got.Status != ophicleide.StatusFailed || got.Error != ophicleide.ImportInterrupted || got.Progress != nil {
			t.Fatalf("the stale import: %+v", got)
		}
		if got := status(t, s, live.ID); got.Status != ophicleide.StatusImporting {
			t.Fatalf("the live import became %s", got.Status)
		}
		// The importer of the stale one comes back too late.
		wantCode(t, "EndImport of a failed import", s.EndImport(ctx(t), stale, vectors("v")), ophicleide.ECONFLICT)
		wantCode(t, "SetImportProgress of a failed import", s.SetImportProgress(ctx(t), stale.ID, ophicleide.Progress{}), ophicleide.ECONFLICT)
		if got := status(t, s, stale.ID); got.Status != ophicleide.StatusFailed {
			t.Fatalf("the stale import became %s", got.Status)
		}
		if n, err := s.FailStaleImports(ctx(t), cutoff); err != nil || n != 0 {
			t.Fatalf("FailStaleImports again = %d, %v", n, err)
		}
		c, err := s.CountModels(ctx(t))
		if err != nil || c.ByStatus[ophicleide.StatusImporting] != 1 || c.ByStatus[ophicleide.StatusFailed] != 1 {
			t.Fatalf("CountModels: %+v, %v", c, err)
		}
		if err := s.EndImport(ctx(t), live, vectors("live")); err != nil {
			t.Fatalf("EndImport of the live import: %v", err)
		}
	})
}

// readVectors reads the stored vectors of a model whole (tests' files
// are a few bytes).
func readVectors(t *testing.T, s ophicleide.Store, id string) string {
	t.Helper()
	rc, err := s.OpenVectors(ctx(t), id)
	if err != nil {
		t.Fatalf("OpenVectors: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
