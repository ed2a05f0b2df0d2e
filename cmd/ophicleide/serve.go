package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/ophicleide/ophicleide/internal/bolt"
	"github.com/ophicleide/ophicleide/internal/fetch"
	ophttp "github.com/ophicleide/ophicleide/internal/http"
	"github.com/ophicleide/ophicleide/internal/web"
	"github.com/ophicleide/ophicleide/internal/worker"
)

// envOr returns the first non-empty environment variable of names, or def.
func envOr(def string, names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return def
}

// defaultAddr is REST_ADDR:REST_PORT (the original's names), else
// 127.0.0.1:8080.
func defaultAddr() string {
	host := envOr("127.0.0.1", "REST_ADDR")
	port := envOr("8080", "REST_PORT")
	return net.JoinHostPort(host, port)
}

// Roles of the server binary.
const (
	roleServe  = "serve"  // REST API + workers + store: everything in one process
	roleAPI    = "api"    // REST API, with --workers in-process workers (default 0)
	roleWorker = "worker" // training workers only; /healthz and /readyz on --addr
)

func runServe(ctx context.Context, e *env, args []string) error {
	return runRole(ctx, e, roleServe, args)
}
func runAPI(ctx context.Context, e *env, args []string) error { return runRole(ctx, e, roleAPI, args) }
func runWorker(ctx context.Context, e *env, args []string) error {
	return runRole(ctx, e, roleWorker, args)
}

// runRole runs one role: the REST API and/or training workers over the
// embedded store.
func runRole(ctx context.Context, e *env, role string, args []string) error {
	defWorkers := 1
	if role == roleAPI {
		defWorkers = 0
	}
	fs := newFlags(e, role, "[--addr HOST:PORT] [--data-dir DIR] [--workers N] [--allow-private-urls]")
	addr := fs.String("addr", defaultAddr(), "listen address (env REST_ADDR, REST_PORT)")
	dataDir := fs.String("data-dir", envOr("./ophicleide-data", "OPH_DATA_DIR", "OPHICLEIDE_DATA_DIR"), "directory of the embedded store (env OPH_DATA_DIR)")
	workers := fs.Int("workers", defWorkers, "in-process training workers (0: none)")
	allowPrivate := fs.Bool("allow-private-urls", os.Getenv("OPH_ALLOW_PRIVATE_URLS") == "true", "let models train from loopback/private/link-local addresses (env OPH_ALLOW_PRIVATE_URLS=true); off by default so user URLs cannot reach the server's own network")
	threads := fs.Int("threads", 0, "training goroutines per worker (0: all cores)")
	cacheMB := fs.Int64("cache-mb", 1024, "memory for loaded models, MiB")
	lease := fs.Duration("lease", 30*time.Second, "how long a worker's claim on a job lasts without renewal (a crashed worker's job is taken up after this)")
	fetchMB := fs.Int64("max-url-mb", fetch.DefaultMaxBytes>>20, "largest text accepted per URL, MiB (after decompression)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *workers < 0 {
		return usagef("--workers must be 0 or more")
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	for _, name := range []string{"MONGO", "OPH_MONGO_URL"} {
		if os.Getenv(name) != "" {
			// Accepting the name and silently using another store would
			// lose an operator's data where they do not expect it.
			return fmt.Errorf("%s is set, but this version has only the embedded store (MongoDB support is coming); unset it to use --data-dir", name)
		}
	}
	if role == roleWorker && *workers < 1 {
		return usagef("the worker role needs --workers 1 or more")
	}
	log.Info("starting", "role", role, "version", version, "addr", *addr, "data_dir", *dataDir, "workers", *workers,
		"allow_private_urls", *allowPrivate, "threads", *threads, "cache_mb", *cacheMB, "max_url_mb", *fetchMB, "lease", *lease)

	store, err := bolt.Open(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer store.Close()

	f := fetch.New(fetch.Options{AllowPrivate: *allowPrivate, UserAgent: "ophicleide/" + version, MaxBytes: *fetchMB << 20})
	fetchFn := func(ctx context.Context, url string) (io.ReadCloser, error) {
		b, err := f.Fetch(ctx, url)
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var ws []*worker.Worker
	var wg sync.WaitGroup
	host, _ := os.Hostname()
	for i := range *workers {
		w := worker.New(store, fetchFn, log, worker.Config{Owner: fmt.Sprintf("%s:%d/%d", host, os.Getpid(), i), Threads: *threads, Lease: *lease,
			Notify: func(ctx context.Context, url string, body []byte) error {
				return f.Post(ctx, url, "application/json", body)
			}})
		ws = append(ws, w)
		wg.Go(func() { w.Run(workCtx) })
	}
	wake := func() {
		for _, w := range ws {
			w.Wake()
		}
	}
	api := ophttp.NewServer(store, *cacheMB<<20, log, version, wake)
	var handler http.Handler = api
	if role == roleServe {
		handler = api.WithPage(web.Page())
	}
	if role == roleWorker {
		handler = ophttp.HealthHandler(store)
	}

	// Graceful shutdown: stop accepting, let requests finish, hand running
	// jobs back to the queue.
	return serveUntilDone(ctx, e, log, *addr, handler, func() {
		stopWork()
		wg.Wait()
	})
}

// serveUntilDone listens on addr and serves handler until ctx ends, then
// shuts the server down gracefully: it stops accepting and lets requests
// in flight finish (for up to 20 s). It returns early with the server's
// error if serving fails. after runs once serving has stopped, either way.
func serveUntilDone(ctx context.Context, e *env, log *slog.Logger, addr string, handler http.Handler, after func()) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Info("listening", "url", "http://"+ln.Addr().String())
	if e.onListen != nil {
		e.onListen(ln.Addr().String())
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		after()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	after()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}
