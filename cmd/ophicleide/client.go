package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/client"
)

// clientFlags adds --server and --json to a client command.
func clientFlags(e *env, fs *flag.FlagSet) (server *string, asJSON *bool) {
	server = fs.String("server", e.envOr("http://127.0.0.1:8080", "OPHICLEIDE_SERVER"), "server URL (env OPHICLEIDE_SERVER)")
	asJSON = fs.Bool("json", false, "print JSON instead of a table")
	return server, asJSON
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
func runModels(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("usage: ophicleide models list|create|get|delete|export [flags]")
	}
	sub, args := args[0], args[1:]
	fs := newFlags(e, "models "+sub, "[flags]")
	server, asJSON := clientFlags(e, fs)
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
	c := client.New(*server)
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
	server *string
	asJSON *bool
	count  *int
}

func queryClientFlags(e *env) (*flag.FlagSet, *queryClient) {
	fs := newFlags(e, "query", "MODEL WORD [--count N]   (MODEL: an id or a name)")
	q := &queryClient{}
	q.server, q.asJSON = clientFlags(e, fs)
	q.count = fs.Int("count", 10, "how many neighbours (1-100)")
	return fs, q
}

// runQuery is "ophicleide query MODEL WORD".
func runQuery(ctx context.Context, e *env, args []string) error {
	fs, cfg := queryClientFlags(e)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("give MODEL and WORD")
	}
	c := client.New(*cfg.server)
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
