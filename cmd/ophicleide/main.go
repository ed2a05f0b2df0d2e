// Command ophicleide trains Word2Vec models from text and answers
// "which words are most like this one?".
//
// Offline commands (no server): train, similar, analogy, similarity, eval,
// convert. Run "ophicleide help" for usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// env is what a command may touch of the outside world, so tests can run
// commands in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	onListen       func(addr string) // tests: told the address a server listens on
	keysPoll       time.Duration     // tests: how often the keys file is looked at (0: auth.DefaultPoll)
	// The environment, read through getenv (environ.go): lookupEnv
	// replaces os.Getenv if set, envRead records the names read if set.
	lookupEnv func(name string) string
	envRead   *nameSet
	// global holds the client flags given before the command
	// (ophicleide --server URL models list): the client commands take
	// them as their defaults.
	global globalFlags
}

// globalFlags are the flags that may come before a command: the client
// commands' --server, --token and --json.
type globalFlags struct {
	server, token *string
	json          bool
	given         []string // their names as given, for the refusal of a command that has none
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run everything in one process: REST API, training worker, embedded store", runServe},
		{"api", "run the REST API (in-process workers with --workers N)", runAPI},
		{"worker", "run training workers only (health probes on --addr)", runWorker},
		{roleQuery, "run the read-only API: GET endpoints and POST /queries, to scale queries by replicas", runReadAPI},
		{"web", "serve the web page, proxying /api/ to a training server (--training)", runWebChecked},
		{"models", "list|create|get|show|delete|export models on a running server (--server)", runModels},
		{"query", "query MODEL WORD: nearest words on a running server (--server)", runQuery},
		{"compare", "compare A B [WORD]: two models on a running server, the words that moved most and WORD's neighbours in both", runCompare},
		{"train", "train word vectors from text files (or stdin) into a vectors file", runTrain},
		{"similar", "nearest words to a word in a vectors file", runSimilar},
		{"analogy", "a is to b as c is to ? (3CosAdd) in a vectors file", runAnalogy},
		{"similarity", "cosine similarity of two words in a vectors file", runSimilarity},
		{"eval", "score a vectors file on analogy and word-similarity sets", runEval},
		{"convert", "convert a vectors file between word2vec text and binary", runConvert},
		{"version", "print the version", runVersion},
	}
}

// hiddenCommands run like the others but are not in the usage: they are
// for tools, not people.
func hiddenCommands() []command {
	return []command{
		{"describe", "print the roles' flags, environment variables and HTTP paths as JSON (deploy/check reads it)", runDescribe},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: ophicleide [--server URL] [--token KEY] [--json] COMMAND [flags] [arguments]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun \"ophicleide COMMAND -h\" for a command's flags. --server, --token and --json\n"+
		"(the client commands' flags) may also come before the command.\n")
}

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runEnv(ctx, args, &env{stdin: stdin, stdout: stdout, stderr: stderr})
}

func runEnv(ctx context.Context, args []string, e *env) int {
	stdout, stderr := e.stdout, e.stderr
	args, err := e.global.parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "ophicleide: %v\n\n", err)
		usage(stderr)
		return 2
	}
	if len(args) == 0 && len(e.global.given) > 0 {
		fmt.Fprintf(stderr, "ophicleide: %s given but no command\n\n", strings.Join(e.global.given, ", "))
		usage(stderr)
		return 2
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range append(commands(), hiddenCommands()...) {
		if c.name != args[0] {
			continue
		}
		var err error
		if len(e.global.given) > 0 && !isClientCommand(c.name) {
			err = usagef("%s: only the client commands (models, query, compare) take these flags", strings.Join(e.global.given, ", "))
		} else {
			err = c.run(ctx, e, args[1:])
		}
		var ue *usageError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "ophicleide %s: %v\n", c.name, err)
			return 2
		case errors.Is(err, context.Canceled):
			fmt.Fprintf(stderr, "ophicleide %s: interrupted\n", c.name)
			return 130
		default:
			fmt.Fprintf(stderr, "ophicleide %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "ophicleide: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// isClientCommand reports whether the command talks to a server, and so
// takes the global flags.
func isClientCommand(name string) bool {
	return name == "models" || name == "query" || name == "compare"
}

// parse takes the global flags off the front of args and returns the rest,
// the command first. A flag it does not know there is an error naming it
// (a command's own flags come after the command).
func (g *globalFlags) parse(args []string) ([]string, error) {
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' {
		a := args[0]
		if a == "-h" || a == "-help" || a == "--help" {
			return args, nil
		}
		if a == "--" {
			return args[1:], nil
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch name {
		case "server", "token":
			if !hasValue {
				if len(args) < 2 {
					return nil, fmt.Errorf("flag needs an argument: -%s", name)
				}
				value, args = args[1], args[1:]
			}
			if name == "server" {
				g.server = &value
			} else {
				g.token = &value
			}
		case "json":
			b := true
			if hasValue {
				var err error
				if b, err = strconv.ParseBool(value); err != nil {
					return nil, fmt.Errorf("invalid boolean value %q for -json", value)
				}
			}
			g.json = b
		default:
			return nil, fmt.Errorf("%s before the command: only --server, --token and --json may come there; a command's own flags come after it", a)
		}
		g.given = append(g.given, "--"+name)
		args = args[1:]
	}
	return args, nil
}

// noArgs refuses positional arguments of a command that takes none.
func noArgs(pos []string) error {
	if len(pos) > 0 {
		return usagef("unexpected arguments %s: this command takes flags only (a flag's value with spaces needs quotes; files are given one flag each, e.g. --input a.txt --input b.txt)", quoteAll(pos))
	}
	return nil
}

// quoteAll quotes each argument, for messages that name them.
func quoteAll(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = strconv.Quote(a)
	}
	return strings.Join(q, " ")
}

func runVersion(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "version", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "ophicleide", version)
	return nil
}

// runWebChecked is the web role, refusing stray arguments first (the web
// role's own parsing leaves them be).
func runWebChecked(ctx context.Context, e *env, args []string) error {
	scratch := *e
	scratch.stderr, scratch.envRead = io.Discard, nil
	fs, _ := webFlags(&scratch)
	if pos, err := parse(fs, args); err == nil {
		if err := noArgs(pos); err != nil {
			return err
		}
	}
	return runWeb(ctx, e, args)
}

// newFlags returns a FlagSet that reports errors instead of exiting.
func newFlags(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: ophicleide %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags that may come before or after positional arguments
// (ophicleide similar --model m.bin darcy --count 10) and returns the
// positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}
