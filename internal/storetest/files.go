package storetest

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
)

// testFiles: the large blobs, uploads and vectors: what CreateModel
// accepts, ImportModel, PutVectors and OpenVectors, and when uploads go.
func testFiles(t *testing.T, open opener) {
	t.Run("UploadsMismatch", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		m.Uploads = []string{"a.txt"}
		err := s.CreateModel(ctx(t), m, map[string]io.Reader{"b.txt": strings.NewReader("x")})
		wantCode(t, "CreateModel with uploads not matching Model.Uploads", err, ophicleide.EINVALID)
		_, err = s.FindModel(ctx(t), m.ID)
		wantCode(t, "FindModel after a failed create", err, ophicleide.ENOTFOUND)
		wantQueueLength(t, s, 0)
	})

	// UploadsRefused: uploads that ophicleide.CheckUploads refuses are
	// EINVALID (Field "uploads") in every store, before any is read.
	t.Run("UploadsRefused", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for _, c := range []struct {
			what  string
			names []string
			data  []string // names given a reader
			nils  []string // names given a nil reader
		}{
			{"another name", []string{"a.txt"}, []string{"b.txt"}, nil},
			{"a name twice", []string{"a.txt", "a.txt"}, []string{"a.txt"}, nil},
			{"a name twice and another", []string{"a.txt", "a.txt"}, []string{"a.txt", "b.txt"}, nil},
			{"a name without data", []string{"a.txt", "b.txt"}, []string{"a.txt"}, nil},
			{"a nil reader", []string{"a.txt", "b.txt"}, []string{"a.txt"}, []string{"b.txt"}},
			{"data without names", nil, []string{"a.txt"}, nil},
		} {
			uploads := map[string]io.Reader{}
			var readers []*watchedReader
			for _, name := range c.data {
				r := &watchedReader{r: strings.NewReader("data of " + name)}
				uploads[name], readers = r, append(readers, r)
			}
			for _, name := range c.nils {
				uploads[name] = nil
			}
			m := NewModel(0)
			m.Uploads = c.names
			wantField(t, "CreateModel with "+c.what, s.CreateModel(ctx(t), m, uploads), ophicleide.EINVALID, "uploads")
			for _, r := range readers {
				if r.read {
					t.Errorf("CreateModel with %s read an upload", c.what)
				}
			}
			_, err := s.FindModel(ctx(t), m.ID)
			wantCode(t, "FindModel after CreateModel with "+c.what, err, ophicleide.ENOTFOUND)
		}
		wantQueueLength(t, s, 0)
	})

	t.Run("Import", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		m.URLs = []string{}
		write := func(w io.Writer) error { _, err := w.Write([]byte("imported vectors")); return err }
		if err := s.ImportModel(ctx(t), m, write); err != nil {
			t.Fatalf("ImportModel: %v", err)
		}
		wantStatus(t, s, m.ID, ophicleide.StatusReady)
		if got := readAll(t)(s.OpenVectors(ctx(t), m.ID)); string(got) != "imported vectors" {
			t.Errorf("vectors %q", got)
		}
		if n, err := s.QueueLength(ctx(t)); err != nil || n != 0 {
			t.Errorf("an imported model queued a job: %d %v", n, err)
		}
		if err := s.ImportModel(ctx(t), m, write); ophicleide.ErrorCode(err) != ophicleide.ECONFLICT {
			t.Errorf("importing an existing id: %v, want ECONFLICT", err)
		}
		failed := NewModel(1)
		if err := s.ImportModel(ctx(t), failed, func(io.Writer) error { return errors.New("disk full") }); err == nil {
			t.Fatal("a failing write was accepted")
		}
		if _, err := s.FindModel(ctx(t), failed.ID); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
			t.Errorf("a failed import left a model: %v", err)
		}
		if err := s.DeleteModel(ctx(t), m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.OpenVectors(ctx(t), m.ID); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
			t.Errorf("vectors of a deleted imported model: %v", err)
		}
	})

	// ImportConflict: importing an existing ID is ECONFLICT before write
	// is called, and the model stays as it was.
	t.Run("ImportConflict", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		queued := NewModel(0)
		mustCreate(t, s, queued, nil)
		imported := NewModel(time.Second)
		if err := s.ImportModel(ctx(t), imported, func(w io.Writer) error { _, err := w.Write([]byte("v1")); return err }); err != nil {
			t.Fatal(err)
		}
		for _, m := range []*ophicleide.Model{queued, imported} {
			dup := NewModel(2 * time.Second)
			dup.ID, dup.Name = m.ID, "a second import"
			called := false
			err := s.ImportModel(ctx(t), dup, func(w io.Writer) error { called = true; _, err := w.Write([]byte("v2")); return err })
			wantCode(t, "ImportModel of an existing ID", err, ophicleide.ECONFLICT)
			if called {
				t.Error("ImportModel called write for an ID that exists")
			}
			if got := mustFind(t, s, m.ID); got.Name != m.Name {
				t.Errorf("name %q after a conflicting import, want %q", got.Name, m.Name)
			}
		}
		wantStatus(t, s, queued.ID, ophicleide.StatusQueued)
		wantQueueLength(t, s, 1)
		if got := readAll(t)(s.OpenVectors(ctx(t), imported.ID)); string(got) != "v1" {
			t.Errorf("vectors %q after a conflicting import, want %q", got, "v1")
		}
	})

	// ImportWriteError: a failing write is wrapped, stores nothing, and
	// leaves the ID free.
	t.Run("ImportWriteError", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		boom := errors.New("the source broke off")
		err := s.ImportModel(ctx(t), m, func(w io.Writer) error { w.Write([]byte("partial")); return boom })
		if !errors.Is(err, boom) {
			t.Fatalf("ImportModel = %v, want an error wrapping the writer's", err)
		}
		_, err = s.FindModel(ctx(t), m.ID)
		wantCode(t, "FindModel after a failed import", err, ophicleide.ENOTFOUND)
		if err := s.ImportModel(ctx(t), m, func(w io.Writer) error { _, err := w.Write([]byte("whole")); return err }); err != nil {
			t.Fatalf("ImportModel after a failed one: %v", err)
		}
		if got := readAll(t)(s.OpenVectors(ctx(t), m.ID)); string(got) != "whole" {
			t.Errorf("vectors %q", got)
		}
	})

	t.Run("PutVectorsWriteError", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m, n := NewModel(0), NewModel(time.Second)
		mustCreate(t, s, m, nil)
		mustCreate(t, s, n, nil)
		boom := errors.New("disk on fire")
		failing := func(w io.Writer) error {
			w.Write([]byte("partial"))
			return boom
		}

		// Without earlier vectors: none afterwards.
		l := mustClaim(t, s, "w", time.Minute)
		if err := s.PutVectors(ctx(t), l, failing); !errors.Is(err, boom) {
			t.Fatalf("PutVectors = %v, want an error wrapping the writer's", err)
		}
		if err := s.CompleteJob(ctx(t), l, ophicleide.Completion{Stats: ophicleide.Stats{}}); err != nil {
			t.Fatalf("CompleteJob: %v", err)
		}
		_, err := s.OpenVectors(ctx(t), m.ID)
		wantCode(t, "OpenVectors after a failed write", err, ophicleide.ENOTFOUND)

		// With earlier vectors: those stay.
		l = mustClaim(t, s, "w", time.Minute)
		if err := putVectors(t, s, l, []byte("good")); err != nil {
			t.Fatal(err)
		}
		if err := s.PutVectors(ctx(t), l, failing); !errors.Is(err, boom) {
			t.Fatalf("PutVectors = %v, want an error wrapping the writer's", err)
		}
		if err := s.CompleteJob(ctx(t), l, ophicleide.Completion{Stats: ophicleide.Stats{}}); err != nil {
			t.Fatalf("CompleteJob: %v", err)
		}
		if got := readAll(t)(s.OpenVectors(ctx(t), n.ID)); string(got) != "good" {
			t.Errorf("vectors %q after a failed replacement, want %q", got, "good")
		}
	})

	// PutVectorsLostLease: a lease already lost is told so before write
	// is called.
	t.Run("PutVectorsLostLease", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		mustCreate(t, s, NewModel(0), nil)
		l := mustClaim(t, s, "w", time.Minute)
		if err := s.ReleaseJob(ctx(t), l); err != nil {
			t.Fatal(err)
		}
		called := false
		wantLost(t, "PutVectors of a released lease", s.PutVectors(ctx(t), l, func(io.Writer) error { called = true; return nil }))
		if called {
			t.Error("PutVectors called write for a lost lease")
		}
	})

	// UploadsGoWhenTheJobEnds: issue 10, uploads were kept forever. They
	// stay while a retry may read them (a lapsed lease, a released job)
	// and go when the model ends ready or failed; the model keeps their
	// names.
	t.Run("UploadsGoWhenTheJobEnds", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		done, failed := NewModel(0), NewModel(time.Second)
		for _, m := range []*ophicleide.Model{done, failed} {
			m.Uploads = []string{"a.txt", "b.txt"}
			mustCreate(t, s, m, map[string]io.Reader{"a.txt": strings.NewReader("a of " + m.ID), "b.txt": strings.NewReader("b")})
		}
		l := mustClaim(t, s, "w1", -time.Millisecond) // lapses at once
		if got := readAll(t)(s.OpenUpload(ctx(t), done.ID, "a.txt")); string(got) != "a of "+done.ID {
			t.Fatalf("upload while training: %q", got)
		}
		l = mustClaim(t, s, "w2", time.Minute) // the retry
		if l.ModelID != done.ID || l.Attempt != 2 {
			t.Fatalf("retry lease %+v", l)
		}
		if err := s.ReleaseJob(ctx(t), l); err != nil {
			t.Fatal(err)
		}
		l = mustClaim(t, s, "w3", time.Minute)
		if got := readAll(t)(s.OpenUpload(ctx(t), done.ID, "a.txt")); string(got) != "a of "+done.ID {
			t.Fatalf("upload on a retry: %q", got)
		}
		if err := putVectors(t, s, l, []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := s.CompleteJob(ctx(t), l, ophicleide.Completion{Stats: ophicleide.Stats{Sources: []ophicleide.SourceStats{{URL: "upload:a.txt", Bytes: 10}}}}); err != nil {
			t.Fatal(err)
		}
		lf := mustClaim(t, s, "w", time.Minute)
		if err := s.FailJob(ctx(t), lf, "no words"); err != nil {
			t.Fatal(err)
		}
		for _, m := range []*ophicleide.Model{done, failed} {
			for _, name := range m.Uploads {
				_, err := s.OpenUpload(ctx(t), m.ID, name)
				wantCode(t, "OpenUpload after the job ended", err, ophicleide.ENOTFOUND)
			}
			if got := mustFind(t, s, m.ID); !reflect.DeepEqual(got.Uploads, m.Uploads) {
				t.Errorf("uploads named %v after the job ended, want %v", got.Uploads, m.Uploads)
			}
		}
		if got := mustFind(t, s, done.ID); got.Stats == nil || len(got.Stats.Sources) != 1 || got.Stats.Sources[0].Bytes != 10 {
			t.Errorf("stats of the ready model %+v", got.Stats)
		}
		if err := s.CompleteJob(ctx(t), l, ophicleide.Completion{Stats: ophicleide.Stats{}}); err != nil {
			t.Errorf("CompleteJob repeated after the uploads went: %v", err)
		}
		if err := s.DeleteModel(ctx(t), done.ID); err != nil {
			t.Errorf("DeleteModel of a model whose uploads went: %v", err)
		}
	})

	t.Run("VectorsOnlyWhenReady", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		_, err := s.OpenVectors(ctx(t), m.ID)
		wantCode(t, "OpenVectors of a queued model", err, ophicleide.ENOTFOUND)
	})
}

// watchedReader records whether it was read.
type watchedReader struct {
	r    io.Reader
	read bool
}

func (w *watchedReader) Read(p []byte) (int, error) {
	w.read = true
	return w.r.Read(p)
}
