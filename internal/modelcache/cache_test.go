package modelcache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ophicleide/ophicleide/internal/vectors"
)

func set(t testing.TB, words int) *vectors.Set {
	t.Helper()
	ws := make([]string, words)
	vs := make([]float32, words*4)
	for i := range ws {
		ws[i] = fmt.Sprintf("w%d", i)
		vs[i*4] = float32(i + 1)
	}
	s, err := vectors.New(ws, 4, vs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLoadsOnceUnderConcurrency(t *testing.T) {
	var loads atomic.Int32
	release := make(chan struct{})
	want := set(t, 10)
	c := New(1<<20, func(ctx context.Context, id string) (*vectors.Set, error) {
		loads.Add(1)
		<-release
		return want, nil
	})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			got, err := c.Get(context.Background(), "m")
			if err != nil || got != want {
				t.Errorf("Get = %v, %v", got, err)
			}
		})
	}
	close(release)
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d loads for 20 concurrent Gets, want 1", n)
	}
	if _, err := c.Get(context.Background(), "m"); err != nil || loads.Load() != 1 {
		t.Fatal("a cached model was loaded again")
	}
}

func TestEvictsLeastRecentlyUsedByBytes(t *testing.T) {
	sets := map[string]*vectors.Set{"a": set(t, 100), "b": set(t, 100), "c": set(t, 100)}
	var loads atomic.Int32
	one := Size(sets["a"])
	c := New(2*one, func(ctx context.Context, id string) (*vectors.Set, error) {
		loads.Add(1)
		return sets[id], nil
	})
	ctx := context.Background()
	for _, id := range []string{"a", "b", "a", "c"} { // c evicts b, the least recently used
		if _, err := c.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if n, b := c.Stats(); n != 2 || b != 2*one {
		t.Fatalf("holding %d models, %d bytes; want 2, %d", n, b, 2*one)
	}
	loads.Store(0)
	c.Get(ctx, "a")
	c.Get(ctx, "c")
	if loads.Load() != 0 {
		t.Fatal("a or c was evicted instead of b")
	}
	c.Get(ctx, "b")
	if loads.Load() != 1 {
		t.Fatal("b was not evicted")
	}
}

func TestErrorsAreNotCached(t *testing.T) {
	fail := true
	c := New(1<<20, func(ctx context.Context, id string) (*vectors.Set, error) {
		if fail {
			return nil, errors.New("store unavailable")
		}
		return set(t, 3), nil
	})
	if _, err := c.Get(context.Background(), "m"); err == nil {
		t.Fatal("no error")
	}
	fail = false
	if _, err := c.Get(context.Background(), "m"); err != nil {
		t.Fatalf("error cached: %v", err)
	}
}

func TestRemove(t *testing.T) {
	var loads atomic.Int32
	c := New(1<<20, func(ctx context.Context, id string) (*vectors.Set, error) {
		loads.Add(1)
		return set(t, 3), nil
	})
	ctx := context.Background()
	c.Get(ctx, "m")
	c.Remove("m")
	if n, _ := c.Stats(); n != 0 {
		t.Fatal("removed model still held")
	}
	c.Get(ctx, "m")
	if loads.Load() != 2 {
		t.Fatal("removed model not loaded again")
	}
}

func TestRemoveDuringLoadDiscardsResult(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	c := New(1<<20, func(ctx context.Context, id string) (*vectors.Set, error) {
		close(started)
		<-release
		return set(t, 3), nil
	})
	done := make(chan error)
	go func() {
		_, err := c.Get(context.Background(), "m")
		done <- err
	}()
	<-started
	c.Remove("m")
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Stats(); n != 0 {
		t.Fatal("a model removed while loading was kept")
	}
}

func TestCallerContext(t *testing.T) {
	release := make(chan struct{})
	c := New(1<<20, func(ctx context.Context, id string) (*vectors.Set, error) {
		<-release
		return set(t, 3), nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Get(ctx, "m"); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	close(release)
	if _, err := c.Get(context.Background(), "m"); err != nil {
		t.Fatal(err)
	}
}
