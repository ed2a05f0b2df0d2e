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
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ophicleide/ophicleide"
	"golang.org/x/net/netutil"

	"github.com/ophicleide/ophicleide/internal/bolt"
	"github.com/ophicleide/ophicleide/internal/bytesize"
	"github.com/ophicleide/ophicleide/internal/corpus"
	"github.com/ophicleide/ophicleide/internal/fetch"
	ophttp "github.com/ophicleide/ophicleide/internal/http"
	"github.com/ophicleide/ophicleide/internal/mongo"
	"github.com/ophicleide/ophicleide/internal/params"
	"github.com/ophicleide/ophicleide/internal/service"
	"github.com/ophicleide/ophicleide/internal/sysmem"
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
	roleQuery  = "query"  // the read-only API: GET endpoints and POST /queries
)

func runServe(ctx context.Context, e *env, args []string) error {
	return runRole(ctx, e, roleServe, args)
}
func runAPI(ctx context.Context, e *env, args []string) error { return runRole(ctx, e, roleAPI, args) }
func runWorker(ctx context.Context, e *env, args []string) error {
	return runRole(ctx, e, roleWorker, args)
}

// runQueryCmd is "query": the query role when it gets no arguments or a
// flag only the roles have (ophicleide query --addr :8080 --mongo URL), the
// client command otherwise (ophicleide query MODEL WORD).
func runQueryCmd(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return runRole(ctx, e, roleQuery, args)
	}
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && slices.Contains([]string{"addr", "data-dir", "mongo", "mongo-secret-dir", "cache-mb"}, name) {
			return runRole(ctx, e, roleQuery, args)
		}
	}
	return runQuery(ctx, e, args)
}

// runRole runs one role: the REST API and/or training workers over the
// embedded store.
func runRole(ctx context.Context, e *env, role string, args []string) error {
	defWorkers := 1
	if role == roleAPI || role == roleQuery {
		defWorkers = 0
	}
	fs := newFlags(e, role, "[--addr HOST:PORT] [--data-dir DIR | --mongo URL] [--workers N] [--allow-private-urls]")
	addr := fs.String("addr", defaultAddr(), "listen address (env REST_ADDR, REST_PORT)")
	dataDir := fs.String("data-dir", envOr("./ophicleide-data", "OPH_DATA_DIR", "OPHICLEIDE_DATA_DIR"), "directory of the embedded store (env OPH_DATA_DIR)")
	workers := fs.Int("workers", defWorkers, "in-process training workers (0: none)")
	allowPrivate := fs.Bool("allow-private-urls", os.Getenv("OPH_ALLOW_PRIVATE_URLS") == "true", "let models train from loopback/private/link-local addresses (env OPH_ALLOW_PRIVATE_URLS=true); off by default so user URLs cannot reach the server's own network")
	threads := fs.Int("threads", 0, "training goroutines per worker (0: all cores for the worker role; all cores but one where the process also answers queries, so queries stay fast while a model trains)")
	cacheMB := fs.Int64("cache-mb", 1024, "memory for loaded models, MiB")
	lease := fs.Duration("lease", 30*time.Second, "how long a worker's claim on a job lasts without renewal (a crashed worker's job is taken up after this)")
	fetchMB := fs.Int64("max-url-mb", fetch.DefaultMaxBytes>>20, "largest text accepted per URL, MiB (after decompression)")
	mongoURL := fs.String("mongo", envOr("", "MONGO", "OPH_MONGO_URL"), "MongoDB URL, mongodb://HOST:PORT/DATABASE (env MONGO, OPH_MONGO_URL); empty: the embedded store in --data-dir")
	secretDir := fs.String("mongo-secret-dir", envOr(defaultSecretDir(), "MONGO_SECRET_DIR"), "directory holding the MongoDB username and password files")
	poll := fs.Duration("poll", 2*time.Second, "how often an idle worker looks for a job (jittered, backing off to 4x)")
	lim := params.DefaultLimits()
	fs.IntVar(&lim.MaxDim, "max-dim", lim.MaxDim, "largest vector dimension a model may ask for")
	fs.IntVar(&lim.MaxWindow, "max-window", lim.MaxWindow, "largest window a model may ask for")
	fs.IntVar(&lim.MaxNegative, "max-negative", lim.MaxNegative, "most negative samples a model may ask for")
	fs.IntVar(&lim.MaxEpochs, "max-epochs", lim.MaxEpochs, "most epochs a model may ask for")
	fs.Float64Var(&lim.MaxAlpha, "max-alpha", lim.MaxAlpha, "largest learning rate a model may ask for")
	modelMB := fs.Int64("max-model-mb", corpus.DefaultMaxTotalBytes>>20, "largest text of one model, all URLs and uploads together, MiB (after decompression)")
	jobMemory := fs.String("max-job-memory", envOr("auto", "OPH_MAX_JOB_MEMORY"), "memory one training job may use, e.g. 2GiB or 512MiB; auto: the container's memory limit (else the machine's) less the model cache and 512 MiB, shared by the workers (env OPH_MAX_JOB_MEMORY)")
	jobTime := fs.Duration("max-job-time", 4*time.Hour, "wall-clock limit of one job, fetching included (0: none)")
	publicHosts := fs.String("public-host", envOr("", "OPH_PUBLIC_HOSTS"), "comma-separated host names served besides loopback ones when bound to a loopback address, e.g. the name a local reverse proxy forwards (env OPH_PUBLIC_HOSTS); other names get 421, which stops DNS rebinding")
	allowedOrigins := fs.String("allowed-origin", envOr("", "OPH_ALLOWED_ORIGINS"), "comma-separated origins (https://tools.example) whose web pages may write to the API from a browser; other sites' pages are refused with 403 (env OPH_ALLOWED_ORIGINS)")
	maxQueries := fs.Int("max-queries", ophicleide.DefaultMaxQueries, "queries kept in the history, oldest removed first (-1: all)")
	dataMB := fs.Int64("max-data-mb", 0, "size limit of the embedded store's data directory, MiB; writes beyond it answer 507 (0: none)")
	fetchTime := fs.Duration("max-fetch-time", 30*time.Minute, "limit on fetching and reading all of one model's URLs and uploads (0: none); a URL slower than 1 KiB/s over 30 s fails sooner")
	maxAttempts := fs.Int("max-attempts", 3, "claims of a job before it fails (a job whose worker dies each time cannot crash-loop the fleet)")
	maxConns := fs.Int("max-conns", 512, "most concurrent client connections; more wait to be accepted")
	idle := fs.Duration("idle-timeout", time.Minute, "a connection that sends or reads nothing for this long is closed (slow clients; transfers that keep moving are never cut)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := lim.Validate(); err != nil {
		return usagef("%v", err)
	}
	if *maxAttempts < 1 || *maxConns < 1 || *idle <= 0 || *modelMB < 1 || *fetchMB < 1 || *jobTime < 0 || *fetchTime < 0 {
		return usagef("--max-attempts, --max-conns, --idle-timeout, --max-model-mb and --max-url-mb must be positive, --max-job-time 0 or more")
	}
	if *workers < 0 {
		return usagef("--workers must be 0 or more")
	}
	if role == roleQuery && *workers > 0 {
		return usagef("the query role runs no workers")
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	if role == roleWorker && *workers < 1 {
		return usagef("the worker role needs --workers 1 or more")
	}
	storeDesc := "embedded " + *dataDir
	if *mongoURL != "" {
		storeDesc = mongo.Redact(mongoURLOf(*mongoURL))
	}
	if *threads == 0 && role != roleWorker {
		*threads = max(1, runtime.GOMAXPROCS(0)-1)
	}
	cacheBytes := *cacheMB << 20
	if role == roleWorker {
		cacheBytes = 0 // no API, no loaded models
	}
	memLimit, memFrom, err := jobMemoryLimit(*jobMemory, cacheBytes, *workers)
	if err != nil {
		return err
	}
	log.Info("starting", "role", role, "version", version, "addr", *addr, "store", storeDesc, "workers", *workers,
		"allow_private_urls", *allowPrivate, "threads", *threads, "cache_mb", *cacheMB, "max_url_mb", *fetchMB, "lease", *lease, "poll", *poll,
		"max_model_mb", *modelMB, "max_job_memory_mb", memLimit>>20, "max_job_memory_from", memFrom, "max_job_time", *jobTime,
		"max_attempts", *maxAttempts, "max_fetch_time", *fetchTime, "max_queries", *maxQueries, "max_data_mb", *dataMB, "max_conns", *maxConns, "idle_timeout", *idle, "limits", fmt.Sprintf("%+v", lim))

	if role != roleWorker {
		// Spooled uploads of a process killed mid-request (an hour old:
		// another process may be receiving one now).
		if n, err := ophttp.CleanStaleMultipartFiles(os.TempDir(), time.Hour); err != nil {
			log.Warn("removing stale multipart files", "err", err)
		} else if n > 0 {
			log.Info("removed stale multipart files", "count", n)
		}
	}
	store, err := openStore(ctx, *dataDir, *mongoURL, *secretDir, storeLimits{queries: *maxQueries, bytes: *dataMB << 20})
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
	jobCfg := worker.Config{Threads: *threads, Lease: *lease, Poll: *poll,
		MaxAttempts: *maxAttempts, MaxJobTime: *jobTime, MemoryLimit: memLimit,
		Corpus: corpus.Limits{MaxSourceBytes: *fetchMB << 20, MaxTotalBytes: *modelMB << 20, MaxReadTime: *fetchTime},
		Notify: func(ctx context.Context, url string, body []byte) error {
			return f.Post(ctx, url, "application/json", body)
		}}
	var wg sync.WaitGroup
	host, _ := os.Hostname()
	for i := range *workers {
		cfg := jobCfg
		cfg.Owner = fmt.Sprintf("%s:%d/%d", host, os.Getpid(), i)
		w := worker.New(store, fetchFn, log, cfg)
		ws = append(ws, w)
		wg.Go(func() { w.Run(workCtx) })
	}
	wake := func() {
		for _, w := range ws {
			w.Wake()
		}
	}
	models, queries := service.New(store, *cacheMB<<20, service.Config{
		Validate: lim.Check, // the native trainer's parameters, within the flags' limits
		Precheck: func(ctx context.Context, p ophicleide.Params, uploads map[string]io.Reader) error {
			// As the workers will train it (with the roles' shared limits).
			return worker.Precheck(ctx, jobCfg, p, uploads)
		},
		Wake: wake,
		Limits: ophicleide.Limits{
			Params: ophicleide.ParamLimits(lim), MaxJobMemoryBytes: memLimit, MaxURLBytes: *fetchMB << 20, MaxModelBytes: *modelMB << 20,
			MaxJobSeconds: jobTime.Seconds(), MaxAttempts: *maxAttempts,
		},
	})
	api := ophttp.NewServer(models, queries, log, version)
	if _, err := api.WithHostPolicy(ophttp.HostPolicy{Addr: *addr, PublicHosts: splitList(*publicHosts), AllowedOrigins: splitList(*allowedOrigins)}); err != nil {
		return usagef("%v", err)
	}
	var handler http.Handler = api
	switch role {
	case roleServe:
		handler = api.WithPage(web.Page())
	case roleQuery:
		handler = api.ReadOnly()
	}
	if role == roleWorker {
		handler = ophttp.HealthHandler(store)
		if handler, err = ophttp.GuardHosts(handler, ophttp.HostPolicy{Addr: *addr, PublicHosts: splitList(*publicHosts)}); err != nil {
			return usagef("%v", err)
		}
	}

	// Graceful shutdown: stop accepting, let requests finish, hand running
	// jobs back to the queue.
	handler = ophttp.Deadlines(handler, *idle)
	return serveUntilDone(ctx, e, log, *addr, *maxConns, handler, func() {
		stopWork()
		wg.Wait()
	})
}

// mongoURLOf accepts the original's MONGO, which may be a bare host name.
func mongoURLOf(v string) string {
	if strings.Contains(v, "://") {
		return v
	}
	return "mongodb://" + v + "/" + mongo.DefaultDatabase
}

// defaultSecretDir is where the seed's deployments mount the MongoDB
// credentials, if it exists here.
func defaultSecretDir() string {
	const dir = "/etc/mongo-secret"
	if _, err := os.Stat(dir); err == nil {
		return dir
	}
	return ""
}

// storeLimits: the query history's cap (0: the store's default, negative:
// none) and the embedded store's size (0: none).
type storeLimits struct {
	queries int
	bytes   int64
}

// openStore opens MongoDB when a URL is given, else the embedded store.
// MongoDB credentials come from the URL, or from the files
// MONGO_USERNAME_FILE and MONGO_PASSWORD_FILE, or from "username" and
// "password" in secretDir; they are never logged.
func openStore(ctx context.Context, dataDir, mongoURL, secretDir string, lim storeLimits) (ophicleide.Store, error) {
	if mongoURL == "" {
		return bolt.Open(ctx, dataDir, bolt.MaxQueries(lim.queries), bolt.MaxBytes(lim.bytes))
	}
	cfg := mongo.Config{URL: mongoURLOf(mongoURL), MaxQueries: lim.queries}
	userFile, passFile := os.Getenv("MONGO_USERNAME_FILE"), os.Getenv("MONGO_PASSWORD_FILE")
	if userFile == "" && secretDir != "" {
		userFile, passFile = filepath.Join(secretDir, "username"), filepath.Join(secretDir, "password")
	}
	if userFile != "" {
		user, err := os.ReadFile(userFile)
		if err != nil {
			return nil, fmt.Errorf("reading the MongoDB username: %w", err)
		}
		pass, err := os.ReadFile(passFile)
		if err != nil {
			return nil, fmt.Errorf("reading the MongoDB password: %w", err)
		}
		cfg.Username, cfg.Password = strings.TrimSpace(string(user)), strings.TrimRight(string(pass), "\r\n")
	}
	return mongo.Open(ctx, cfg)
}

// serveUntilDone listens on addr and serves handler until ctx ends, then
// shuts the server down gracefully: it stops accepting and lets requests
// in flight finish (for up to 20 s). It returns early with the server's
// error if serving fails. after runs once serving has stopped, either way.
func serveUntilDone(ctx context.Context, e *env, log *slog.Logger, addr string, maxConns int, handler http.Handler, after func()) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if maxConns > 0 {
		ln = netutil.LimitListener(ln, maxConns)
	}
	log.Info("listening", "url", "http://"+ln.Addr().String())
	if e.onListen != nil {
		e.onListen(ln.Addr().String())
	}
	// Headers must arrive within 10 s and a kept-alive connection closes
	// after 2 idle minutes; bodies and responses are bounded by
	// ophttp.Deadlines, which every role's handler goes through.
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
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

// jobMemoryLimit is --max-job-memory: a size such as 2GiB, or auto: the
// container's (else the machine's) memory less the model cache and 512
// MiB of headroom for the rest of the process, divided among the workers,
// and never below 256 MiB. It returns the limit and where it came from.
func jobMemoryLimit(flag string, cacheBytes int64, workers int) (int64, string, error) {
	if flag != "auto" {
		n, err := bytesize.Parse(flag)
		if err != nil || n < 0 {
			return 0, "", usagef("--max-job-memory: %q is not a size like 2GiB, 512MiB or auto", flag)
		}
		return n, "--max-job-memory", nil
	}
	total, from, err := sysmem.Limit()
	if err != nil {
		return 0, "", fmt.Errorf("--max-job-memory auto: %w (give a size)", err)
	}
	n := (total - cacheBytes - 512<<20) / int64(max(workers, 1))
	return max(n, 256<<20), from, nil
}

// splitList splits a comma-separated flag value, dropping empty entries.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
