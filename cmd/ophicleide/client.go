package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/client"
)

// clientOptions are the flags every client command has.
type clientOptions struct {
	server, token *string
	asJSON        *bool
}

// clientFlags adds --server, --token and --json to a client command.
func clientFlags(e *env, fs *flag.FlagSet) *clientOptions {
	return &clientOptions{
		server: fs.String("server", e.envOr("http://127.0.0.1:8080", "OPHICLEIDE_SERVER"), "server URL (env OPHICLEIDE_SERVER)"),
		token:  fs.String("token", e.getenv("OPHICLEIDE_TOKEN"), "API key, sent as \"Authorization: Bearer KEY\" (env OPHICLEIDE_TOKEN, which keeps it out of the process list and the shell history)"),
		asJSON: fs.Bool("json", false, "print JSON instead of a table"),
	}
}

func (o *clientOptions) client() *client.Client { return client.New(*o.server).WithToken(*o.token) }

// explainAccess adds to the server's words on a refused key, role or
// rate what the user can do about it; the error keeps its code. The key
// itself is never part of a message.
func explainAccess(err error, hadToken bool) error {
	var e *ophicleide.Error
	if !errors.As(err, &e) {
		return err
	}
	hint := ""
	switch e.Code {
	case ophicleide.EUNAUTHORIZED:
		hint = "this server needs an API key: give --token KEY or set OPHICLEIDE_TOKEN"
		if hadToken {
			hint = "the server does not know the key given (--token or OPHICLEIDE_TOKEN): mistyped, revoked or rotated?"
		}
	case ophicleide.EFORBIDDEN:
		hint = "the key's role does not allow this (read keys list and query; write keys also create models and delete or export their own; admin keys do anything)"
	case ophicleide.ELIMITED:
		hint = "try again later"
		if e.RetryAfter > 0 {
			hint = "try again in " + e.RetryAfter.Round(time.Second).String()
		}
	default:
		return err
	}
	out := *e
	out.Message = e.Message + "; " + hint
	return &out
}

func printJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func modelTable(e *env, ms []*ophicleide.Model) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tVOCABULARY\tWORDS\tCREATED\tDETAILS")
	for _, m := range ms {
		vocab, words, details := "-", "-", ""
		if m.Stats != nil {
			vocab, words = fmt.Sprint(m.Stats.VocabSize), fmt.Sprint(m.Stats.CorpusWords)
		}
		switch {
		case m.Error != "":
			details = m.Error
		case m.Progress != nil && m.Status == ophicleide.StatusTraining:
			details = fmt.Sprintf("%s %.0f%%", m.Progress.Phase, 100*m.Progress.Fraction)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Name, m.Status, vocab, words, m.Created.Local().Format(time.DateTime), details)
	}
	tw.Flush()
}

// runModels is "ophicleide models list|create|get|delete|export".
func runModels(ctx context.Context, e *env, args []string) (err error) {
	if len(args) == 0 {
		return usagef("usage: ophicleide models list|create|get|delete|export [flags]")
	}
	sub, args := args[0], args[1:]
	fs := newFlags(e, "models "+sub, "[flags]")
	opts := clientFlags(e, fs)
	asJSON := opts.asJSON
	var urls listFlag
	var name, format, output *string
	var minCount, epochs *int
	switch sub {
	case "create":
		name = fs.String("name", "", "model name (required)")
		fs.Var(&urls, "url", "URL of plain text to train on (repeatable)")
		minCount = fs.Int("min-count", 0, "ignore words seen fewer times (0: server default)")
		epochs = fs.Int("epochs", 0, "passes over the corpus (0: server default)")
	case "export":
		format = fs.String("format", "binary", "binary or text")
		output = fs.String("output", "", "file to write (default stdout)")
	case "list", "get", "delete":
	default:
		return usagef("unknown models command %q (list, create, get, delete, export)", sub)
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	c := opts.client()
	defer func() { err = explainAccess(err, c.HasToken()) }()
	switch sub {
	case "list":
		ms, err := c.Models(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e, ms)
		}
		modelTable(e, ms)
		return nil
	case "create":
		if *name == "" || len(urls) == 0 {
			return usagef("give --name and at least one --url")
		}
		m, err := c.CreateModel(ctx, *name, urls, ophicleide.Params{MinCount: *minCount, Epochs: *epochs})
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e, m)
		}
		modelTable(e, []*ophicleide.Model{m})
		return nil
	}
	if len(pos) != 1 {
		return usagef("give one MODEL (an id or a name)")
	}
	id, err := c.Resolve(ctx, pos[0])
	if err != nil {
		return err
	}
	switch sub {
	case "get":
		m, err := c.Model(ctx, id)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e, m)
		}
		modelTable(e, []*ophicleide.Model{m})
	case "delete":
		if err := c.DeleteModel(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "deleted %s\n", id)
	case "export":
		if *output == "" || *output == "-" {
			return c.Export(ctx, id, *format, e.stdout)
		}
		out, err := createOutput(*output, e.stdout)
		if err != nil {
			return err
		}
		defer out.abort()
		if err := c.Export(ctx, id, *format, out.w); err != nil {
			return err
		}
		return out.commit()
	}
	return nil
}

// queryClient is the configuration of "ophicleide query MODEL WORD".
type queryClient struct {
	*clientOptions
	count *int
}

func queryClientFlags(e *env) (*flag.FlagSet, *queryClient) {
	fs := newFlags(e, "query", "MODEL WORD [--count N]   (MODEL: an id or a name)")
	q := &queryClient{clientOptions: clientFlags(e, fs)}
	q.count = fs.Int("count", 10, "how many neighbours (1-100)")
	return fs, q
}

// runQuery is "ophicleide query MODEL WORD".
func runQuery(ctx context.Context, e *env, args []string) (err error) {
	fs, cfg := queryClientFlags(e)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("give MODEL and WORD")
	}
	c := cfg.client()
	defer func() { err = explainAccess(err, c.HasToken()) }()
	id, err := c.Resolve(ctx, pos[0])
	if err != nil {
		return err
	}
	q, err := c.Query(ctx, id, strings.ToLower(pos[1]), *cfg.count)
	if err != nil {
		return err
	}
	if *cfg.asJSON {
		return printJSON(e, q)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for i, r := range q.Results {
		fmt.Fprintf(tw, "%d\t%s\t%.4f\n", i+1, r.Word, r.Score)
	}
	return tw.Flush()
}
