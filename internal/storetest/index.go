package storetest

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// testIndex: a ready model's approximate index is kept beside its
// vectors (ophicleide.IndexStore), replaced whole, refused for models
// that are not ready, and removed with the model, even by a delete that
// lands while it is written.
func testIndex(t *testing.T, open opener) {
	t.Parallel()
	s := open(t)
	set, err := vectors.New([]string{"a", "b", "c"}, 2, []float32{1, 0, 0, 1, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	ready := func(t *testing.T) *ophicleide.Model {
		t.Helper()
		m := NewModel(0)
		m.URLs = []string{}
		if err := s.ImportModel(ctx(t), m, func(w io.Writer) error { return vectors.WriteCompact(w, set) }); err != nil {
			t.Fatalf("ImportModel: %v", err)
		}
		return m
	}
	put := func(id string, data []byte) error {
		return s.PutIndex(ctx(t), id, func(w io.Writer) error { _, err := w.Write(data); return err })
	}
	wantIndex := func(t *testing.T, id string, want []byte) {
		t.Helper()
		rc, err := s.OpenIndex(ctx(t), id)
		if want == nil {
			if err == nil {
				rc.Close()
			}
			wantCode(t, "OpenIndex", err, ophicleide.ENOTFOUND)
			return
		}
		if got := readAll(t)(rc, err); !bytes.Equal(got, want) {
			t.Fatalf("OpenIndex = %d bytes, want %d", len(got), len(want))
		}
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, more than one write buffer

	t.Run("RoundTripAndReplace", func(t *testing.T) {
		m := ready(t)
		wantIndex(t, m.ID, nil)
		if err := put(m.ID, big); err != nil {
			t.Fatalf("PutIndex: %v", err)
		}
		wantIndex(t, m.ID, big)
		if err := put(m.ID, []byte("second")); err != nil {
			t.Fatalf("PutIndex again: %v", err)
		}
		wantIndex(t, m.ID, []byte("second"))
		// A failed write keeps the index there was.
		boom := errors.New("boom")
		err := s.PutIndex(ctx(t), m.ID, func(w io.Writer) error { w.Write([]byte("part")); return boom })
		if !errors.Is(err, boom) {
			t.Fatalf("PutIndex of a failing write = %v, want it wrapped", err)
		}
		wantIndex(t, m.ID, []byte("second"))
		if err := s.DeleteModel(ctx(t), m.ID); err != nil {
			t.Fatal(err)
		}
		wantIndex(t, m.ID, nil)
		// A model made again with the same ID has no index.
		again := NewModel(0)
		again.ID, again.URLs = m.ID, []string{}
		if err := s.ImportModel(ctx(t), again, func(w io.Writer) error { return vectors.WriteCompact(w, set) }); err != nil {
			t.Fatal(err)
		}
		wantIndex(t, m.ID, nil)
	})
	t.Run("NotReady", func(t *testing.T) {
		wantCode(t, "PutIndex of no model", put(NewID(), []byte("x")), ophicleide.ENOTFOUND)
		wantIndex(t, NewID(), nil)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		wrote := false
		err := s.PutIndex(ctx(t), m.ID, func(w io.Writer) error { wrote = true; return nil })
		wantCode(t, "PutIndex of a queued model", err, ophicleide.ENOTFOUND)
		if wrote {
			t.Error("PutIndex of a queued model wrote before refusing")
		}
		wantIndex(t, m.ID, nil)
	})
	t.Run("DeletedWhileWritten", func(t *testing.T) {
		m := ready(t)
		err := s.PutIndex(ctx(t), m.ID, func(w io.Writer) error {
			if _, err := w.Write(big); err != nil {
				return err
			}
			return s.DeleteModel(ctx(t), m.ID)
		})
		wantCode(t, "PutIndex of a model deleted meanwhile", err, ophicleide.ENOTFOUND)
		wantIndex(t, m.ID, nil)
	})
}
