package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ophicleide/ophicleide"
	"golang.org/x/net/netutil"

	"github.com/ophicleide/ophicleide/internal/auth"
	"github.com/ophicleide/ophicleide/internal/bolt"
	"github.com/ophicleide/ophicleide/internal/bytesize"
	"github.com/ophicleide/ophicleide/internal/corpus"
	"github.com/ophicleide/ophicleide/internal/fetch"
	ophttp "github.com/ophicleide/ophicleide/internal/http"
	"github.com/ophicleide/ophicleide/internal/mongo"
	"github.com/ophicleide/ophicleide/internal/service"
	"github.com/ophicleide/ophicleide/internal/sysmem"
	"github.com/ophicleide/ophicleide/internal/trainer"
	"github.com/ophicleide/ophicleide/internal/trainer/native"
	"github.com/ophicleide/ophicleide/internal/trainer/spark"
	"github.com/ophicleide/ophicleide/internal/vectorcache"
	"github.com/ophicleide/ophicleide/internal/web"
	"github.com/ophicleide/ophicleide/internal/worker"
)

// run runs the role until ctx ends: it opens the store, starts the
// workers and serves the role's handler.
func (c *roleConfig) run(ctx context.Context, e *env) error {
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	storeDesc := "embedded " + c.dataDir
	if c.mongoURL != "" {
		storeDesc = mongo.Redact(mongoURLOf(c.mongoURL))
	}
	log.Info("starting", "role", c.role, "version", version, "addr", c.addr, "store", storeDesc, "workers", c.workers,
		"allow_private_urls", c.allowPrivate, "threads", c.threads, "cache_mb", c.cacheMB, "max_url_mb", c.fetchMB, "lease", c.lease, "poll", c.poll,
		"max_model_mb", c.modelMB, "max_job_memory_mb", c.memLimit>>20, "max_job_memory_from", c.memFrom, "max_job_time", c.jobTime,
		"max_attempts", c.maxAttempts, "max_fetch_time", c.fetchTime, "max_queries", c.maxQueries, "max_data_mb", c.dataMB, "max_conns", c.maxConns, "idle_timeout", c.idle, "limits", fmt.Sprintf("%+v", c.limits))

	if c.role != roleWorker {
		// Spooled uploads of a process killed mid-request (an hour old:
		// another process may be receiving one now).
		if n, err := ophttp.CleanStaleMultipartFiles(os.TempDir(), time.Hour); err != nil {
			log.Warn("removing stale multipart files", "err", err)
		} else if n > 0 {
			log.Info("removed stale multipart files", "count", n)
		}
	}
	store, err := openStore(ctx, c.storeConfig())
	if err != nil {
		return err
	}
	defer store.Close()
	proc, err := c.build(store, log)
	if err != nil {
		return err
	}
	defer proc.close()
	if proc.keys != nil {
		go proc.keys.Watch(ctx, e.keysPoll) // rotation: re-read when the file changes
	}

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var wg sync.WaitGroup
	for _, w := range proc.workers {
		wg.Go(func() { w.Run(workCtx) })
	}
	for _, f := range proc.background {
		wg.Go(func() { f(workCtx) })
	}
	// Graceful shutdown: stop accepting, let requests finish, hand running
	// jobs back to the queue.
	handler := ophttp.Deadlines(proc.handler, c.idle)
	return serveUntilDone(ctx, e, log, c.addr, c.maxConns, handler, func() {
		stopWork()
		wg.Wait()
	})
}

// process is a server role's parts over an open store: its training
// workers (not started) and its HTTP handler (the API, or the health
// probes alone in the worker role).
type process struct {
	workers []*worker.Worker
	handler http.Handler
	keys    *auth.Keyring  // nil: an open server
	closers []func() error // engines' connections
	// background runs until its context ends, beside the workers
	// (failing imports a killed process left behind).
	background []func(context.Context)
}

// close closes what build opened besides the store.
func (p *process) close() {
	for _, c := range p.closers {
		c()
	}
}

// build makes the role's workers and handler over store.
func (c *roleConfig) build(store ophicleide.Store, log *slog.Logger) (*process, error) {
	f := fetch.New(fetch.Options{AllowPrivate: c.allowPrivate, UserAgent: "ophicleide/" + version, MaxBytes: c.fetchMB << 20})
	fetchFn := func(ctx context.Context, url string) (io.ReadCloser, error) {
		b, err := f.Fetch(ctx, url)
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	proc := &process{}
	keys, err := c.openKeys(log)
	if err != nil {
		return nil, err
	}
	access := ophttp.AuthConfig{PublicRead: c.publicRead, MetricsAuth: c.metricsAuth}
	if keys != nil {
		proc.keys, access.Keys = keys, keys
	}
	jobCfg := worker.Config{Lease: c.lease, Poll: c.poll,
		MaxAttempts: c.maxAttempts, MaxJobTime: c.jobTime,
		Corpus: corpus.Limits{MaxSourceBytes: c.fetchMB << 20, MaxTotalBytes: c.modelMB << 20, MaxReadTime: c.fetchTime},
		Notify: func(ctx context.Context, url string, body []byte) error {
			return f.Post(ctx, url, "application/json", body)
		},
		Evaluate: service.EvaluateBundled} // every trained model scored on the bundled sets
	// The engines that train, chosen by each model's params.engine (see
	// internal/trainer): native always, spark with --spark.
	if c.tmpDir != "" && c.workers > 0 {
		if err := os.MkdirAll(c.tmpDir, 0o700); err != nil {
			return nil, usagef("--tmp-dir: %v", err)
		}
	}
	nativeEngine := native.New(native.Config{Threads: c.threads, MemoryLimit: c.memLimit, TempDir: c.tmpDir, CountLimit: c.countLimit})
	engines := map[string]trainer.Engine{"native": nativeEngine, "spark": nil}
	if c.sparkURL != "" {
		se, err := spark.New(spark.Config{URL: c.sparkURL, Schemes: splitList(c.sparkSchemes), RetryFor: c.sparkRetry, Log: log})
		if err != nil {
			return nil, usagef("--spark: %v", err)
		}
		proc.closers = append(proc.closers, se.Close)
		engines["spark"] = se
		log.Info("spark engine", "endpoint", se.Endpoint(), "schemes", c.sparkSchemes)
	}
	engine := trainer.NewEngines(engines, map[string]string{"spark": "its operator starts it with --spark sc://HOST:PORT, env OPH_SPARK_URL"})
	host, _ := os.Hostname()
	for i := range c.workers {
		cfg := jobCfg
		cfg.Owner = fmt.Sprintf("%s:%d/%d", host, os.Getpid(), i)
		w := worker.New(store, engine, fetchFn, log, cfg)
		proc.workers = append(proc.workers, w)
	}
	if c.role == roleWorker {
		h, err := ophttp.GuardHosts(ophttp.HealthHandlerWith(store, access), ophttp.HostPolicy{Addr: c.addr, PublicHosts: splitList(c.publicHosts)})
		if err != nil {
			return nil, usagef("%v", err)
		}
		proc.handler = h
		return proc, nil
	}

	wake := func() {
		for _, w := range proc.workers {
			w.Wake()
		}
	}
	var vecs ophicleide.VectorReader = store
	if c.vectorCacheDir != "" {
		if src, ok := store.(vectorcache.Source); ok && c.mongoURL != "" {
			vc, err := vectorcache.Open(src, c.vectorCacheDir, c.vectorCacheBytes, log)
			if err != nil {
				return nil, usagef("--vector-cache-dir: %v", err)
			}
			vecs = vc
			used, files := vc.Used()
			log.Info("vector cache", "dir", c.vectorCacheDir, "max_bytes", c.vectorCacheBytes, "kept_bytes", used, "kept_files", files)
		} else {
			log.Info("--vector-cache-dir ignored: the embedded store's vectors are local files already")
		}
	}
	cache := service.NewCache(vecs, c.cacheMB<<20)
	svcCfg := service.Config{
		// What the engine can train, within the flags' limits.
		Validate: func(p ophicleide.Params) error {
			if err := engine.Validate(p); err != nil {
				return err
			}
			return c.limits.Check(p)
		},
		Schemes: engine.Schemes,
		Precheck: func(ctx context.Context, p ophicleide.Params, uploads map[string]io.Reader) error {
			if p.Engine != "" && p.Engine != trainer.DefaultEngine {
				return nil // Spark's memory is its cluster's
			}
			// As the workers will train it (with the roles' shared limits).
			return nativeEngine.Precheck(ctx, p, uploads, jobCfg.Corpus)
		},
		Wake:           wake,
		MaxJobsPerKey:  c.maxJobsPerKey,
		MaxBytesPerKey: c.maxBytesPerKey,
		Log:            log,
		Limits: ophicleide.Limits{
			Params: ophicleide.ParamLimits(c.limits), MaxJobMemoryBytes: c.memLimit, MaxURLBytes: c.fetchMB << 20, MaxModelBytes: c.modelMB << 20,
			MaxImportBytes: c.maxImportBytes, MaxJobSeconds: c.jobTime.Seconds(), MaxAttempts: c.maxAttempts,
			Engines: engineNames(engine), SparkSchemes: splitList(c.sparkSchemes),
		},
	}
	models, queries := service.NewModels(store, cache, svcCfg), service.NewQueries(store, cache)
	// Approximate indexes of the big models this process loads, built in
	// the background until the process stops (internal/service/index.go).
	// MongoDB's indexes are copied to be mapped: to the replica's vector
	// cache disk when it has one (the system's temporary directory
	// otherwise; the copy is unlinked at once).
	idxCfg := service.IndexConfig{Store: store, Log: log, MinRows: c.indexMinWords, TempDir: c.vectorCacheDir}
	if c.indexMinWords < 0 {
		idxCfg.MinRows = math.MaxInt
	}
	proc.background = append(proc.background, func(ctx context.Context) { cache.RunIndexes(ctx, idxCfg) })
	if c.role != roleQuery {
		// Imports a killed process left importing become failed ("the
		// import was interrupted"): the embedded store is this process's
		// alone, so at once; a shared MongoDB's once they show no
		// progress for a while.
		proc.background = append(proc.background, func(ctx context.Context) { models.RecoverImports(ctx, c.mongoURL == "") })
	}
	api := ophttp.NewServer(models, queries, log, version).WithAuth(access)
	// CORS origins may also write: the guard trusts them as --allowed-origin.
	cors, err := ophttp.CORSOrigins(splitList(c.corsOrigins))
	if err != nil {
		return nil, usagef("%v", err)
	}
	if _, err := api.WithHostPolicy(ophttp.HostPolicy{Addr: c.addr, PublicHosts: splitList(c.publicHosts), AllowedOrigins: append(splitList(c.allowedOrigins), cors...)}); err != nil {
		return nil, usagef("%v", err)
	}
	// Rate limits per caller, after authentication. An open server's
	// callers (no keys) are limited per address only off loopback
	// (--no-auth on a shared address); on loopback it serves one user.
	listenHost, _, _ := net.SplitHostPort(c.addr)
	ip := net.ParseIP(listenHost)
	rates := ophttp.RateLimits{Read: ophttp.Rate{PerSecond: c.rate, Burst: c.rateBurst}, Write: ophttp.Rate{PerSecond: c.writeRate, Burst: c.writeBurst},
		LimitOpen: listenHost != "localhost" && (ip == nil || !ip.IsLoopback())}
	if err := rates.Validate(); err != nil {
		return nil, usagef("--rate, --write-rate: %v", err)
	}
	api.Use(api.RateLimit(rates))
	proc.handler = api
	switch c.role {
	case roleServe:
		proc.handler = api.WithPage(web.Page())
	case roleQuery:
		proc.handler = api.ReadOnly()
	}
	// CORS outside the server: preflights carry no key.
	if proc.handler, err = ophttp.CORS(proc.handler, cors); err != nil {
		return nil, usagef("%v", err)
	}
	return proc, nil
}

// openKeys reads the keys file (a malformed one is an error naming the
// line) and logs how the server is protected; nil without keys.
func (c *roleConfig) openKeys(log *slog.Logger) (*auth.Keyring, error) {
	if c.keysFile == "" {
		what := "no keys"
		if c.noAuth {
			what = "--no-auth"
		}
		log.Warn(fmt.Sprintf("%s: anyone who can reach %s may do anything", what, c.addr))
		return nil, nil
	}
	keys, err := auth.Open(c.keysFile, log)
	if err != nil {
		return nil, err
	}
	log.Info("API keys", "file", c.keysFile, "keys", keys.Len(), "public_read", c.publicRead, "metrics_auth", c.metricsAuth)
	return keys, nil
}

// mongoURLOf accepts the original's MONGO, which may be a bare host name.
func mongoURLOf(v string) string {
	if strings.Contains(v, "://") {
		return v
	}
	return "mongodb://" + v + "/" + mongo.DefaultDatabase
}

// storeConfig is where the store is and its limits: the query history's
// cap (0: the store's default, negative: none) and the embedded store's
// size (0: none).
type storeConfig struct {
	dataDir, mongoURL, secretDir string
	userFile, passFile           string // MONGO_USERNAME_FILE, MONGO_PASSWORD_FILE
	maxQueries                   int
	maxBytes                     int64
}

func (c *roleConfig) storeConfig() storeConfig {
	return storeConfig{dataDir: c.dataDir, mongoURL: c.mongoURL, secretDir: c.secretDir,
		userFile: c.mongoUserFile, passFile: c.mongoPassFile, maxQueries: c.maxQueries, maxBytes: c.dataMB << 20}
}

// openStore opens MongoDB when a URL is given, else the embedded store.
// MongoDB credentials come from the URL, or from the files
// MONGO_USERNAME_FILE and MONGO_PASSWORD_FILE, or from "username" and
// "password" in the secret directory; they are never logged.
func openStore(ctx context.Context, sc storeConfig) (ophicleide.Store, error) {
	if sc.mongoURL == "" {
		return bolt.Open(ctx, sc.dataDir, bolt.MaxQueries(sc.maxQueries), bolt.MaxBytes(sc.maxBytes))
	}
	cfg := mongo.Config{URL: mongoURLOf(sc.mongoURL), MaxQueries: sc.maxQueries}
	userFile, passFile := sc.userFile, sc.passFile
	if userFile == "" && sc.secretDir != "" {
		userFile, passFile = filepath.Join(sc.secretDir, "username"), filepath.Join(sc.secretDir, "password")
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

// engineNames are the process's engines, the default first.
func engineNames(e *trainer.Engines) []string {
	names := []string{trainer.DefaultEngine}
	for _, n := range e.Names() {
		if n != trainer.DefaultEngine {
			names = append(names, n)
		}
	}
	return names
}
