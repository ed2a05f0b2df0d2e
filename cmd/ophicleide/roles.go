package main

import (
	"context"
	"flag"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/bytesize"
	"github.com/ophicleide/ophicleide/internal/corpus"
	"github.com/ophicleide/ophicleide/internal/fetch"
	ophttp "github.com/ophicleide/ophicleide/internal/http"
	"github.com/ophicleide/ophicleide/internal/params"
	"github.com/ophicleide/ophicleide/internal/sparkconnect"
)

// Roles of the server binary.
const (
	roleServe  = "serve"  // REST API + workers + store: everything in one process
	roleAPI    = "api"    // REST API, with --workers in-process workers (default 0)
	roleWorker = "worker" // training workers only; /healthz and /readyz on --addr
	// roleQuery is the read-only API: GET endpoints and POST /queries. Its
	// name is not "query", the client command (query MODEL WORD), so a
	// mistyped client command cannot start a server.
	roleQuery = "read-api"
)

// serverRoles are the roles that run over a store (web is apart: it has
// no store and its own flags).
var serverRoles = []string{roleServe, roleAPI, roleWorker, roleQuery}

func runServe(ctx context.Context, e *env, args []string) error {
	return runRole(ctx, e, roleServe, args)
}
func runAPI(ctx context.Context, e *env, args []string) error { return runRole(ctx, e, roleAPI, args) }
func runWorker(ctx context.Context, e *env, args []string) error {
	return runRole(ctx, e, roleWorker, args)
}
func runReadAPI(ctx context.Context, e *env, args []string) error {
	return runRole(ctx, e, roleQuery, args)
}

// runRole runs one server role in three steps: its configuration from
// flags and environment, checked, then run.
func runRole(ctx context.Context, e *env, role string, args []string) error {
	fs, cfg := roleFlags(e, role)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	return cfg.run(ctx, e)
}

// roleConfig is a server role's configuration: its flags, with defaults
// from the environment. validate checks it and fills in what depends on
// other settings (threads, the job memory limit).
type roleConfig struct {
	role           string
	addr           string
	dataDir        string
	workers        int
	allowPrivate   bool
	threads        int
	cacheMB        int64
	tmpDir         string // --tmp-dir: a job's corpus of word ids when it does not fit in memory
	countLimit     int    // --count-limit: distinct words counted before the rarest are pruned
	indexMinWords  int    // --index-min-words: vocabulary from which a model gets an approximate index (0: ann.DefaultMinRows; <0: none)
	lease          time.Duration
	fetchMB        int64
	mongoURL       string
	secretDir      string
	mongoUserFile  string // env MONGO_USERNAME_FILE (and MONGO_PASSWORD_FILE): credentials instead of secretDir's
	mongoPassFile  string
	poll           time.Duration
	limits         params.Limits
	modelMB        int64
	jobMemory      string // --max-job-memory as given: a size or auto
	jobTime        time.Duration
	publicHosts    string
	allowedOrigins string
	maxQueries     int
	dataMB         int64
	fetchTime      time.Duration
	maxAttempts    int
	maxConns       int
	idle           time.Duration
	keysFile       string  // --keys: the API keys (internal/auth); "" with noAuth or on loopback: an open server
	publicRead     bool    // --public-read: requests without a key may read
	noAuth         bool    // --no-auth: no keys, on purpose, on any address
	metricsAuth    bool    // --metrics-auth: /metrics needs a key
	rate           float64 // --rate, --rate-burst: reads per caller (0: none)
	rateBurst      int
	writeRate      float64 // --write-rate, --write-burst: writes per caller (0: none)
	writeBurst     int
	corsOrigins    string
	sparkURL       string // --spark: the Spark Connect endpoint of the spark engine ("" : none)
	sparkSchemes   string // --spark-schemes: URL schemes Spark reads itself
	sparkRetry     time.Duration

	// Quotas per key (internal/service; admins are exempt).
	maxJobsPerKey  int    // --max-jobs-per-key (0: none)
	bytesPerKey    string // --max-bytes-per-key as given: a size, 0 for none
	maxBytesPerKey int64  // set by validate

	importSize       string // --max-import-size as given
	maxImportBytes   int64  // set by validate
	vectorCacheDir   string // --vector-cache-dir: local copies of MongoDB's vectors ("" none)
	vectorCacheSize  string // --vector-cache-size, parsed into vectorCacheBytes
	vectorCacheBytes int64

	// Set by validate.
	memLimit int64  // bytes one job may use
	memFrom  string // where memLimit comes from
}

// roleFlags returns the FlagSet of a server role and the configuration
// its parsing fills in.
func roleFlags(e *env, role string) (*flag.FlagSet, *roleConfig) {
	c := &roleConfig{role: role, limits: params.DefaultLimits()}
	defWorkers := 1
	if role == roleAPI || role == roleQuery {
		defWorkers = 0
	}
	fs := newFlags(e, role, "[--addr HOST:PORT] [--data-dir DIR | --mongo URL] [--workers N] [--allow-private-urls]")
	fs.StringVar(&c.addr, "addr", defaultAddr(e), "listen address (env REST_ADDR, REST_PORT)")
	fs.StringVar(&c.dataDir, "data-dir", e.envOr("./ophicleide-data", "OPH_DATA_DIR", "OPHICLEIDE_DATA_DIR"), "directory of the embedded store (env OPH_DATA_DIR)")
	fs.IntVar(&c.workers, "workers", defWorkers, "in-process training workers (0: none)")
	fs.BoolVar(&c.allowPrivate, "allow-private-urls", e.getenv("OPH_ALLOW_PRIVATE_URLS") == "true", "let models train from loopback/private/link-local addresses (env OPH_ALLOW_PRIVATE_URLS=true); off by default so user URLs cannot reach the server's own network")
	fs.IntVar(&c.threads, "threads", 0, "training goroutines per worker (0: all cores for the worker role; all cores but one where the process also answers queries, so queries stay fast while a model trains)")
	fs.Int64Var(&c.cacheMB, "cache-mb", 1024, "memory for loaded models, MiB")
	if role == roleServe || role == roleAPI || role == roleWorker {
		fs.StringVar(&c.tmpDir, "tmp-dir", e.envOr("", "OPH_TMP_DIR"), "directory for a training job's corpus as word ids (4 bytes a word) when it does not fit in --max-job-memory beside the weights; the file has no name (gone even after a crash); default: DATA-DIR/tmp with the embedded store, else the system's temporary directory (env OPH_TMP_DIR)")
		fs.IntVar(&c.countLimit, "count-limit", 0, "distinct words a job counts before pruning the rarest, as word2vec.c does (words pruned early can miss the vocabulary); 0: half of --max-job-memory at ~100 bytes a word")
	}
	fs.IntVar(&c.indexMinWords, "index-min-words", 0, "vocabulary size from which a loaded model gets an approximate nearest-neighbour index, built in the background and stored with it (0: 100,000, above which it beats the exact scan many times over; negative: never; exact=true still asks for the exact scan)")
	fs.DurationVar(&c.lease, "lease", 30*time.Second, "how long a worker's claim on a job lasts without renewal (a crashed worker's job is taken up after this)")
	fs.Int64Var(&c.fetchMB, "max-url-mb", fetch.DefaultMaxBytes>>20, "largest text accepted per URL, MiB (after decompression)")
	fs.StringVar(&c.mongoURL, "mongo", e.envOr("", "MONGO", "OPH_MONGO_URL"), "MongoDB URL, mongodb://HOST:PORT/DATABASE (env MONGO, OPH_MONGO_URL); empty: the embedded store in --data-dir")
	fs.StringVar(&c.secretDir, "mongo-secret-dir", e.envOr(defaultSecretDir(), "MONGO_SECRET_DIR"), "directory holding the MongoDB username and password files")
	c.mongoUserFile, c.mongoPassFile = e.getenv("MONGO_USERNAME_FILE"), e.getenv("MONGO_PASSWORD_FILE")
	fs.DurationVar(&c.poll, "poll", 2*time.Second, "how often an idle worker looks for a job (jittered, backing off to 4x)")
	lim := &c.limits
	fs.IntVar(&lim.MaxDim, "max-dim", lim.MaxDim, "largest vector dimension a model may ask for")
	fs.IntVar(&lim.MaxWindow, "max-window", lim.MaxWindow, "largest window a model may ask for")
	fs.IntVar(&lim.MaxNegative, "max-negative", lim.MaxNegative, "most negative samples a model may ask for")
	fs.IntVar(&lim.MaxEpochs, "max-epochs", lim.MaxEpochs, "most epochs a model may ask for")
	fs.Float64Var(&lim.MaxAlpha, "max-alpha", lim.MaxAlpha, "largest learning rate a model may ask for")
	fs.Int64Var(&c.modelMB, "max-model-mb", corpus.DefaultMaxTotalBytes>>20, "largest text of one model, all URLs and uploads together, MiB (after decompression)")
	fs.StringVar(&c.jobMemory, "max-job-memory", e.envOr("auto", "OPH_MAX_JOB_MEMORY"), "memory one training job may use, e.g. 2GiB or 512MiB; auto: the container's memory limit (else the machine's) less the model cache and 512 MiB, shared by the workers (env OPH_MAX_JOB_MEMORY)")
	fs.DurationVar(&c.jobTime, "max-job-time", 4*time.Hour, "wall-clock limit of one job, fetching included (0: none)")
	fs.StringVar(&c.publicHosts, "public-host", e.envOr("", "OPH_PUBLIC_HOSTS"), "comma-separated host names served besides loopback ones when bound to a loopback address, e.g. the name a local reverse proxy forwards (env OPH_PUBLIC_HOSTS); other names get 421, which stops DNS rebinding")
	fs.StringVar(&c.allowedOrigins, "allowed-origin", e.envOr("", "OPH_ALLOWED_ORIGINS"), "comma-separated origins (https://tools.example) whose web pages may write to the API from a browser; other sites' pages are refused with 403 (env OPH_ALLOWED_ORIGINS)")
	fs.IntVar(&c.maxQueries, "max-queries", ophicleide.DefaultMaxQueries, "queries kept in the history, oldest removed first (-1: all)")
	fs.Int64Var(&c.dataMB, "max-data-mb", 0, "size limit of the embedded store's data directory, MiB; writes beyond it answer 507 (0: none)")
	fs.DurationVar(&c.fetchTime, "max-fetch-time", 30*time.Minute, "limit on fetching and reading all of one model's URLs and uploads (0: none); a URL slower than 1 KiB/s over 30 s fails sooner")
	fs.IntVar(&c.maxAttempts, "max-attempts", 3, "claims of a job before it fails (a job whose worker dies each time cannot crash-loop the fleet)")
	fs.IntVar(&c.maxConns, "max-conns", 512, "most concurrent client connections; more wait to be accepted")
	fs.DurationVar(&c.idle, "idle-timeout", time.Minute, "a connection that sends or reads nothing for this long is closed (slow clients; transfers that keep moving are never cut)")
	fs.Float64Var(&c.rate, "rate", 50, "requests per second per caller (a key; an anonymous caller's address), GET and POST /queries (0: no limit); over it, 429 with Retry-After")
	fs.IntVar(&c.rateBurst, "rate-burst", 100, "requests a caller may send at once above --rate")
	fs.Float64Var(&c.writeRate, "write-rate", 2, "writes per second per caller: POST /models, POST /models/import, DELETE (0: no limit)")
	fs.IntVar(&c.writeBurst, "write-burst", 10, "writes a caller may send at once above --write-rate")
	fs.StringVar(&c.corsOrigins, "cors-origins", e.envOr("", "OPH_CORS_ORIGINS"), "comma-separated origins (https://notebooks.example) whose web pages may call the API from a browser (CORS, preflights answered); they may also write, as with --allowed-origin (env OPH_CORS_ORIGINS); empty: CORS off")
	fs.IntVar(&c.maxJobsPerKey, "max-jobs-per-key", 4, "models one key may have queued or training; more answer 429 (0: no limit; admin keys are exempt)")
	fs.StringVar(&c.bytesPerKey, "max-bytes-per-key", "0", "bytes of uploads and vectors one key's models may store, e.g. 2GiB; more answer 507 (0: no limit; admin keys are exempt)")
	fs.StringVar(&c.importSize, "max-import-size", e.envOr(bytesize.Format(ophttp.DefaultMaxImportBytes), "OPH_MAX_IMPORT_SIZE"), "largest POST /models/import body, e.g. 4GiB (env OPH_MAX_IMPORT_SIZE); the default holds a 3M x 300 word2vec text file; imports stream, so this bounds disk and time, not memory; more answer 413")
	if role != roleWorker {
		fs.StringVar(&c.vectorCacheDir, "vector-cache-dir", e.getenv("OPH_VECTOR_CACHE_DIR"), "with --mongo: a local directory where this replica keeps copies of models' vectors, so a model's first query after a restart or an eviction from --cache-mb maps a local file instead of downloading it from GridFS (env OPH_VECTOR_CACHE_DIR; empty: none; ignored with the embedded store, whose vectors are local files)")
		fs.StringVar(&c.vectorCacheSize, "vector-cache-size", e.envOr("16GiB", "OPH_VECTOR_CACHE_SIZE"), "the most bytes of copies kept in --vector-cache-dir, least recently used removed first, e.g. 16GiB (env OPH_VECTOR_CACHE_SIZE)")
	}
	fs.StringVar(&c.keysFile, "keys", e.envOr(defaultKeysFile(), "OPH_KEYS_FILE"), "file of API keys, one a line: NAME ROLE SECRET (ROLE admin, write or read; SECRET may be sha256:HEX), re-read when it changes (env OPH_KEYS_FILE; default "+keysFileDefault+" when it exists); without keys a server listens only on loopback, unless --no-auth")
	fs.BoolVar(&c.publicRead, "public-read", e.getenv("OPH_PUBLIC_READ") == "true", "requests without a key may read: every GET and POST /queries (env OPH_PUBLIC_READ=true); needs --keys")
	fs.BoolVar(&c.noAuth, "no-auth", e.getenv("OPH_NO_AUTH") == "true", "serve without keys on any address: anyone who can reach it may do anything (env OPH_NO_AUTH=true)")
	fs.BoolVar(&c.metricsAuth, "metrics-auth", e.getenv("OPH_METRICS_AUTH") == "true", "GET /metrics needs a key, of any role (env OPH_METRICS_AUTH=true); needs --keys")
	fs.StringVar(&c.sparkURL, "spark", e.envOr("", "OPH_SPARK_URL"), "Spark Connect URL of the spark training engine, sc://HOST:PORT[/;token=...;use_ssl=true] (env OPH_SPARK_URL); empty: models asking for \"engine\": \"spark\" are refused")
	fs.StringVar(&c.sparkSchemes, "spark-schemes", e.envOr("", "OPH_SPARK_SCHEMES"), "comma-separated URL schemes of storage that Spark reads itself for spark models, e.g. s3a,hdfs,gs,abfs (env OPH_SPARK_SCHEMES); such inputs never pass through the workers, and anyone who may train can make Spark read whatever its credentials reach there (never file on a shared server: Spark would read its own disks); empty: none")
	fs.DurationVar(&c.sparkRetry, "spark-retry", time.Minute, "how long a spark job keeps retrying a Spark Connect server it cannot reach before the model fails")
	return fs, c
}

// validate checks the configuration (mistakes are usage errors) and sets
// what follows from it.
func (c *roleConfig) validate() error {
	if err := c.limits.Validate(); err != nil {
		return usagef("%v", err)
	}
	if c.maxAttempts < 1 || c.maxConns < 1 || c.idle <= 0 || c.modelMB < 1 || c.fetchMB < 1 || c.jobTime < 0 || c.fetchTime < 0 {
		return usagef("--max-attempts, --max-conns, --idle-timeout, --max-model-mb and --max-url-mb must be positive, --max-job-time 0 or more")
	}
	if c.workers < 0 {
		return usagef("--workers must be 0 or more")
	}
	if c.rate < 0 || c.writeRate < 0 || (c.rate > 0 && c.rateBurst < 1) || (c.writeRate > 0 && c.writeBurst < 1) {
		return usagef("--rate and --write-rate must be 0 (no limit) or more, --rate-burst and --write-burst at least 1 when their rate is set")
	}
	if c.maxJobsPerKey < 0 {
		return usagef("--max-jobs-per-key must be 0 (no limit) or more")
	}
	var perr error
	if c.maxBytesPerKey, perr = bytesize.Parse(c.bytesPerKey); perr != nil || c.maxBytesPerKey < 0 {
		return usagef("--max-bytes-per-key: %q is not a size such as 2GiB (0: no limit)", c.bytesPerKey)
	}
	if c.maxImportBytes, perr = bytesize.Parse(c.importSize); perr != nil || c.maxImportBytes < 1 {
		return usagef("--max-import-size: %q is not a size such as 10GiB", c.importSize)
	}
	if c.countLimit < 0 {
		return usagef("--count-limit must be 0 (from the memory limit) or more")
	}
	if c.tmpDir == "" && c.mongoURL == "" && c.workers > 0 {
		c.tmpDir = filepath.Join(c.dataDir, "tmp")
	}
	if c.vectorCacheDir != "" {
		if c.vectorCacheBytes, perr = bytesize.Parse(c.vectorCacheSize); perr != nil || c.vectorCacheBytes < 1 {
			return usagef("--vector-cache-size: %q is not a size above 0, such as 16GiB", c.vectorCacheSize)
		}
	}
	if err := c.validateAuth(); err != nil {
		return err
	}
	if c.sparkURL != "" {
		if _, err := sparkconnect.ParseURL(c.sparkURL); err != nil {
			return usagef("--spark: %v", err)
		}
		if c.sparkRetry < 0 {
			return usagef("--spark-retry must be 0 or more")
		}
	} else if c.sparkSchemes != "" {
		return usagef("--spark-schemes needs --spark URL")
	}
	if c.role == roleQuery && c.workers > 0 {
		return usagef("the %s role runs no workers", roleQuery)
	}
	if c.role == roleWorker && c.workers < 1 {
		return usagef("the worker role needs --workers 1 or more")
	}
	if c.threads == 0 && c.role != roleWorker {
		c.threads = max(1, runtime.GOMAXPROCS(0)-1)
	}
	var err error
	c.memLimit, c.memFrom, err = jobMemoryLimit(c.jobMemory, c.cacheBytes(), c.workers)
	return err
}

// cacheBytes is the memory for loaded models: none in the worker role,
// which answers no queries.
func (c *roleConfig) cacheBytes() int64 {
	if c.role == roleWorker {
		return 0
	}
	return c.cacheMB << 20
}

// keysFileDefault is where the manifests mount the keys Secret.
const keysFileDefault = "/etc/ophicleide/keys"

// defaultKeysFile is keysFileDefault if it exists here.
func defaultKeysFile() string {
	if _, err := os.Stat(keysFileDefault); err == nil {
		return keysFileDefault
	}
	return ""
}

// validateAuth checks the access flags: a server without keys listens
// only on a loopback address, unless --no-auth says it may be open
// anywhere; --public-read and --metrics-auth need keys.
func (c *roleConfig) validateAuth() error {
	if c.keysFile != "" && c.noAuth {
		return usagef("--no-auth and --keys %s exclude each other: give one (the keys file may come from OPH_KEYS_FILE or be %s, which exists)", c.keysFile, keysFileDefault)
	}
	if c.keysFile == "" && (c.publicRead || c.metricsAuth) {
		return usagef("--public-read and --metrics-auth need --keys FILE: without keys everyone may do everything")
	}
	if c.keysFile == "" && !c.noAuth && !isLoopbackAddr(c.addr) {
		return usagef("refusing to listen on %s without API keys: anyone who could reach it could delete, export and train models. Give --keys FILE (env OPH_KEYS_FILE; one key a line: NAME ROLE SECRET), or --no-auth (env OPH_NO_AUTH=true) to serve it open on purpose", c.addr)
	}
	return nil
}

// isLoopbackAddr reports whether addr (host:port) listens on loopback
// only: localhost or a loopback IP. An empty host is every interface.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// defaultAddr is REST_ADDR:REST_PORT (the original's names), else
// 127.0.0.1:8080.
func defaultAddr(e *env) string {
	host := e.envOr("127.0.0.1", "REST_ADDR")
	port := e.envOr("8080", "REST_PORT")
	return net.JoinHostPort(host, port)
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
