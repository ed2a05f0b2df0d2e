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
		{"web", "serve the web page, proxying /api/ to a training server (--training)", runWeb},
		{"models", "list|create|get|delete|export models on a running server (--server)", runModels},
		{"query", "query MODEL WORD: nearest words on a running server (--server); query --addr ... [--mongo URL]: run the read-only API role (GET endpoints and POST /queries)", runQueryCmd},
		{"train", "train word vectors from text files (or stdin) into a vectors file", runTrain},
		{"similar", "nearest words to a word in a vectors file", runSimilar},
		{"analogy", "a is to b as c is to ? (3CosAdd) in a vectors file", runAnalogy},
		{"similarity", "cosine similarity of two words in a vectors file", runSimilarity},
		{"eval", "score a vectors file on analogy and word-similarity sets", runEval},
		{"convert", "convert a vectors file between word2vec text and binary", runConvert},
		{"version", "print the version", func(_ context.Context, e *env, _ []string) error {
			fmt.Fprintln(e.stdout, "ophicleide", version)
			return nil
		}},
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
	fmt.Fprintf(w, "usage: ophicleide COMMAND [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun \"ophicleide COMMAND -h\" for a command's flags.\n")
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
		err := c.run(ctx, e, args[1:])
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
