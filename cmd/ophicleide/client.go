package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
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
	// defaultToken is the key used when --token is not given: the one
	// before the command, else OPHICLEIDE_TOKEN. It is not the flag's
	// default, which -h prints.
	defaultToken string
}

// clientFlags adds --server, --token and --json to a client command; the
// same flags given before the command (e.global) are their defaults.
func clientFlags(e *env, fs *flag.FlagSet) *clientOptions {
	server, token := e.envOr("http://127.0.0.1:8080", "OPHICLEIDE_SERVER"), e.getenv("OPHICLEIDE_TOKEN")
	if e.global.server != nil {
		server = *e.global.server
	}
	if e.global.token != nil {
		token = *e.global.token
	}
	return &clientOptions{
		defaultToken: token,
		server:       fs.String("server", server, "server URL (env OPHICLEIDE_SERVER)"),
		token:        fs.String("token", "", "API key, sent as \"Authorization: Bearer KEY\" (env OPHICLEIDE_TOKEN, which keeps it out of the process list and the shell history)"),
		asJSON:       fs.Bool("json", e.global.json, "print JSON instead of a table"),
	}
}

func (o *clientOptions) client() *client.Client {
	token := *o.token
	if token == "" {
		token = o.defaultToken
	}
	return client.New(*o.server).WithToken(token)
}

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

// shortIDs returns the ids of ms cut to the shortest prefix, of at least
// client.MinIDPrefix characters, that tells them apart (what the tables
// show; Resolve accepts any unique prefix that long).
func shortIDs(ms []*ophicleide.Model) []string {
	n := client.MinIDPrefix
	for ; ; n++ {
		seen := map[string]bool{}
		clash := false
		for _, m := range ms {
			p := m.ID[:min(n, len(m.ID))]
			clash = clash || (seen[p] && len(m.ID) > n)
			seen[p] = true
		}
		if !clash {
			break
		}
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID[:min(n, len(m.ID))]
	}
	return out
}

func modelTable(e *env, ms []*ophicleide.Model) {
	ids := shortIDs(ms)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tVOCABULARY\tWORDS\tCREATED\tDETAILS")
	for i, m := range ms {
		vocab, words, details := "-", "-", ""
		if m.Stats != nil {
			vocab, words = fmt.Sprint(m.Stats.VocabSize), fmt.Sprint(m.Stats.CorpusWords)
		}
		switch {
		case m.Error != "":
			details = m.Error
		case m.Progress != nil && (m.Status == ophicleide.StatusTraining || m.Status == ophicleide.StatusQueued || m.Status == ophicleide.StatusImporting):
			details = modelProgressLine(m.Progress)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ids[i], m.Name, m.Status, vocab, words, m.Created.Local().Format(time.DateTime), details)
	}
	tw.Flush()
}

const modelsUsage = `usage: ophicleide models COMMAND [flags]

commands:
  list          the models on the server, newest first
  create        train a model: --name NAME (--url URL | --file PATH)... [parameters] [--wait]
  get MODEL     one model (a row of the table)
  show MODEL    one model's card: sources, parameters, statistics, evaluation scores
  delete MODEL  delete a model and its queries
  export MODEL  its vectors: [--format binary|text|tsv|tsv-metadata] [--output FILE]

MODEL is a model's id, the first 8 or more characters of its id (as the
tables show it), or its name when no other model has that name.
Common flags: --server URL (env OPHICLEIDE_SERVER), --token KEY (env
OPHICLEIDE_TOKEN), --json. Run "ophicleide models COMMAND -h" for a
command's flags.`

// modelsSubcommand finds the subcommand of "models": its first argument
// that is neither a flag nor the value of --server or --token, so that
// "models --server URL list" works. It returns it and the other arguments.
func modelsSubcommand(args []string) (string, []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' {
			return a, append(args[:i:i], args[i+1:]...)
		}
		if name, _, has := strings.Cut(strings.TrimLeft(a, "-"), "="); !has && (name == "server" || name == "token") {
			i++
		}
	}
	return "", args
}

// modelParam is a training parameter of "models create": its flag and
// its API field.
type modelParam struct {
	flag, field string
	positive    bool // the API refuses 0 and below
}

var modelParams = []modelParam{
	{"engine", "engine", false}, {"model", "model", false}, {"loss", "loss", false}, {"tokenizer", "tokenizer", false},
	{"dim", "dim", true}, {"window", "window", true}, {"negative", "negative", true}, {"min-count", "minCount", true},
	{"sample", "sample", false}, {"epochs", "epochs", true}, {"alpha", "alpha", true}, {"seed", "seed", false},
	{"max-vocab", "maxVocab", false}, {"partitions", "partitions", true}, {"max-sentence-length", "maxSentenceLength", true},
	{"minn", "minn", false}, {"maxn", "maxn", false}, {"bucket", "bucket", true},
}

// paramFlags adds the training parameters to fs, the page's "Advanced"
// fields; none has a default of its own (the server's apply).
func paramFlags(fs *flag.FlagSet) {
	fs.String("engine", "", "training engine: native or spark (Spark MLlib; the server needs --spark) (default: the server's, native)")
	fs.String("model", "", "architecture: skipgram or cbow (default skipgram)")
	fs.String("loss", "", "output layer: ns (negative sampling) or hs (hierarchical softmax) (default ns)")
	fs.String("tokenizer", "", "unicode, classic (the 2016 original's) or whitespace (default unicode)")
	fs.Int("dim", 0, "vector dimension (default 100)")
	fs.Int("window", 0, "maximum context distance (default 5)")
	fs.Int("negative", 0, "negative samples, ns only (default 5)")
	fs.Int("min-count", 0, "ignore words seen fewer times (default 5)")
	fs.Float64("sample", 0, "subsampling threshold of frequent words, below 1; 0 disables it (default 1e-3)")
	fs.Int("epochs", 0, "passes over the corpus (default 5)")
	fs.Float64("alpha", 0, "start learning rate (default 0.025 for skipgram, 0.05 for cbow)")
	fs.Uint64("seed", 0, "random seed (default: the server's, fixed)")
	fs.Int("max-vocab", 0, "keep at most this many most frequent words (default: no cap)")
	fs.Int("minn", 0, "subwords: shortest character n-gram, 1 to --maxn (fastText's -minn)")
	fs.Int("maxn", 0, "subwords: longest character n-gram, at most 10 (default 0: no subwords)")
	fs.Int("bucket", 0, "subwords: rows the n-grams are hashed into (default 2000000 with --maxn)")
	fs.Int("partitions", 0, "--engine spark: partitions of the training data (default 1)")
	fs.Int("max-sentence-length", 0, "--engine spark: longest sentence before it is split (default 1000)")
}

// givenParams returns the parameters given on the command line by their
// API names, refusing as the API does a positive-only one at 0 or below.
func givenParams(fs *flag.FlagSet) (map[string]any, error) {
	given := map[string]*flag.Flag{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = f })
	out := map[string]any{}
	for _, p := range modelParams {
		f := given[p.flag]
		if f == nil {
			continue
		}
		g, ok := f.Value.(flag.Getter)
		if !ok {
			continue
		}
		v := g.Get()
		if p.positive {
			if x, _ := strconv.ParseFloat(f.Value.String(), 64); !(x > 0) {
				return nil, usagef("--%s must be above 0 (leave it out for the server's default)", p.flag)
			}
		}
		switch {
		case p.flag == "sample" && v.(float64) == 0:
			v = -1.0 // the API's "no subsampling" (0 there is the default)
		case p.flag == "max-vocab" && v.(int) < 0:
			return nil, usagef("--max-vocab must be 0 (no cap) or more")
		}
		out[p.field] = v
	}
	return out, nil
}

// flagOfField adds the flag's name to a refusal by the server that names
// a parameter's API field.
func flagOfField(err error) error {
	var e *ophicleide.Error
	if !errors.As(err, &e) || e.Field == "" {
		return err
	}
	for _, p := range modelParams {
		if p.field == e.Field {
			out := *e
			out.Message = "--" + p.flag + ": " + e.Message
			return &out
		}
	}
	return err
}

// runModels is "ophicleide models list|create|get|delete|export".
func runModels(ctx context.Context, e *env, args []string) (err error) {
	sub, args := modelsSubcommand(args)
	switch sub {
	case "":
		for _, a := range args {
			if a == "-h" || a == "-help" || a == "--help" {
				fmt.Fprintln(e.stdout, modelsUsage)
				return flag.ErrHelp
			}
		}
		return usagef("%s", modelsUsage)
	case "help":
		fmt.Fprintln(e.stdout, modelsUsage)
		return flag.ErrHelp
	}
	synopsis := map[string]string{
		"list":   "[flags]",
		"create": "--name NAME (--url URL | --file PATH)... [parameters] [--wait] [flags]",
		"get":    "MODEL [flags]", "show": "MODEL [flags]", "delete": "MODEL [flags]",
		"export": "MODEL [--format binary|text|tsv|tsv-metadata] [--output FILE] [flags]",
	}[sub]
	if synopsis == "" {
		return usagef("unknown models command %q (list, create, get, show, delete, export; ophicleide models -h)", sub)
	}
	fs := newFlags(e, "models "+sub, synopsis)
	opts := clientFlags(e, fs)
	asJSON := opts.asJSON
	var urls, files listFlag
	var name, callback, format, output *string
	var wait, quiet *bool
	var poll *time.Duration
	switch sub {
	case "create":
		name = fs.String("name", "", "model name (required; another model may have it too: ids tell them apart)")
		fs.Var(&urls, "url", "URL of plain text to train on (repeatable)")
		fs.Var(&files, "file", "local text file to upload and train on, `PATH` (repeatable; sent as the page sends files)")
		callback = fs.String("callback", "", "URL the server calls when the model is ready (as the original's callback)")
		paramFlags(fs)
		wait = fs.Bool("wait", false, "wait until the model is ready (exit 0) or failed (exit 1 with the reason), showing its progress on stderr")
		quiet = fs.Bool("quiet", false, "with --wait: no progress on stderr")
		poll = fs.Duration("poll", 500*time.Millisecond, "with --wait: how often to ask the server")
	case "export":
		format = fs.String("format", "binary", "binary, text (word2vec formats), tsv or tsv-metadata (the Embedding Projector's vectors and metadata)")
		output = fs.String("output", "", "file to write (default stdout)")
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	c := opts.client()
	defer func() { err = explainAccess(err, c.HasToken()) }()
	switch sub {
	case "list":
		if err := noArgs(pos); err != nil {
			return err
		}
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
		if err := noArgs(pos); err != nil {
			return err
		}
		if *name == "" || len(urls)+len(files) == 0 {
			return usagef("give --name and at least one --url or --file")
		}
		if *poll <= 0 {
			return usagef("--poll must be above 0")
		}
		params, err := givenParams(fs)
		if err != nil {
			return err
		}
		m, err := c.CreateModelRequest(ctx, client.ModelRequest{Name: *name, URLs: urls, Files: files, Callback: *callback, Params: params})
		if err != nil {
			return flagOfField(err)
		}
		if *wait {
			if m, err = waitReady(ctx, e, c, m, *quiet, *poll); err != nil {
				return err
			}
		}
		if *asJSON {
			return printJSON(e, m)
		}
		modelTable(e, []*ophicleide.Model{m})
		return nil
	}
	if len(pos) != 1 {
		if len(pos) > 1 {
			return usagef("give one MODEL, not %s", quoteAll(pos))
		}
		return usagef("give one MODEL (an id, its first 8 or more characters, or a name)")
	}
	id, err := c.Resolve(ctx, pos[0])
	if err != nil {
		return err
	}
	switch sub {
	case "get", "show":
		m, err := c.Model(ctx, id)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e, m)
		}
		if sub == "show" {
			showModel(e, m)
			return nil
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

// waitReady polls the model m until it is ready or failed, showing its
// progress on stderr unless quiet, and returns it ready; failed is an
// error with the model's reason.
func waitReady(ctx context.Context, e *env, c *client.Client, m *ophicleide.Model, quiet bool, poll time.Duration) (*ophicleide.Model, error) {
	var pp *progressPrinter
	if !quiet {
		pp = newProgressPrinter(e.stderr)
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		switch m.Status {
		case ophicleide.StatusReady:
			if pp != nil {
				pp.end()
				if st := m.Stats; st != nil {
					fmt.Fprintf(e.stderr, "ready: %d corpus words, %d words in vocabulary, %.2f s training\n", st.CorpusWords, st.VocabSize, st.TrainingSeconds)
				}
			}
			return m, nil
		case ophicleide.StatusFailed:
			if pp != nil {
				pp.end()
			}
			return nil, fmt.Errorf("model %s (%s) failed: %s", m.ID, m.Name, cmpOr(m.Error, "no reason given"))
		}
		if pp != nil {
			pp.model(m.Status, m.Progress)
		}
		select {
		case <-ctx.Done():
			if pp != nil {
				pp.end()
				fmt.Fprintf(e.stderr, "stopped waiting; model %s goes on (ophicleide models get %s)\n", m.ID, m.ID)
			}
			return nil, ctx.Err()
		case <-tick.C:
		}
		next, err := c.Model(ctx, m.ID)
		var oe *ophicleide.Error
		switch {
		case errors.As(err, &oe) && oe.Code == ophicleide.ENOTFOUND:
			return nil, fmt.Errorf("model %s (%s) was deleted while training", m.ID, m.Name)
		case err != nil:
			return nil, err
		}
		m = next
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
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

// roleOnlyFlag returns the first of args that is a flag of the read-api
// role and not of fs (--addr, --mongo, ...): someone starting the
// read-only role under its old name, "query".
func roleOnlyFlag(e *env, fs *flag.FlagSet, args []string) string {
	scratch := *e
	scratch.envRead = nil
	role, _ := roleFlags(&scratch, roleQuery)
	for _, a := range args {
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if fs.Lookup(name) == nil && role.Lookup(name) != nil {
			return a
		}
	}
	return ""
}

// runQuery is "ophicleide query MODEL WORD".
func runQuery(ctx context.Context, e *env, args []string) (err error) {
	fs, cfg := queryClientFlags(e)
	if f := roleOnlyFlag(e, fs, args); f != "" {
		return usagef("%s is a flag of the server roles: the read-only API server is \"ophicleide %s\"; \"ophicleide query MODEL WORD\" asks a running server", f, roleQuery)
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		fs.Usage()
		return usagef("give MODEL and WORD (the read-only API server role is \"ophicleide %s\")", roleQuery)
	case len(pos) == 1:
		return usagef("give MODEL and WORD, not only %q", pos[0])
	case len(pos) > 2:
		return usagef("give MODEL and one WORD; unexpected arguments %s", quoteAll(pos[2:]))
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

// showModel prints one model's card: what it was trained on and with,
// its statistics and its evaluation.
func showModel(e *env, m *ophicleide.Model) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s  %s\n", m.ID, m.Name)
	status := string(m.Status)
	if m.Status == ophicleide.StatusTraining || m.Status == ophicleide.StatusQueued || m.Status == ophicleide.StatusImporting {
		if line := modelProgressLine(m.Progress); line != "" && line != status {
			status += ": " + line
		}
	}
	fmt.Fprintf(tw, "status\t%s (created %s)\n", status, m.Created.Local().Format(time.DateTime))
	if m.Error != "" {
		fmt.Fprintf(tw, "error\t%s\n", m.Error)
	}
	if m.Owner != "" {
		fmt.Fprintf(tw, "owner\t%s\n", m.Owner)
	}
	for _, u := range m.URLs {
		fmt.Fprintf(tw, "url\t%s\n", u)
	}
	for _, u := range m.Uploads {
		fmt.Fprintf(tw, "upload\t%s\n", u)
	}
	if p := paramsLine(m.Params); p != "" {
		fmt.Fprintf(tw, "params\t%s\n", p)
	}
	if st := m.Stats; st != nil {
		line := fmt.Sprintf("%d corpus words, %d words in vocabulary, %.2f s training", st.CorpusWords, st.VocabSize, st.TrainingSeconds)
		if st.WordsPerSecond > 0 {
			line += fmt.Sprintf(", %.0f words/s", st.WordsPerSecond)
		}
		fmt.Fprintf(tw, "stats\t%s\n", line)
	}
	tw.Flush()
	if m.Evaluation != nil {
		printEvaluation(e, m.Evaluation)
	} else if m.Status == ophicleide.StatusReady {
		fmt.Fprintln(e.stdout, "evaluation: none (not computed for this model)")
	}
}

// paramsLine is the parameters a model records, in the flags' order,
// with their API names (those not set are left out).
func paramsLine(p ophicleide.Params) string {
	b, _ := json.Marshal(p)
	var fields map[string]json.RawMessage
	json.Unmarshal(b, &fields)
	var out []string
	for _, mp := range modelParams {
		if v, ok := fields[mp.field]; ok {
			out = append(out, mp.field+" "+strings.Trim(string(v), `"`))
		}
	}
	return strings.Join(out, ", ")
}

// printEvaluation prints a model's scores, one set a line.
func printEvaluation(e *env, ev *ophicleide.Evaluation) {
	fmt.Fprintf(e.stdout, "evaluation (%.2f s):\n", ev.Seconds)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  SET\tSCORE\tCOVERAGE\tDETAILS")
	for _, a := range ev.Analogies {
		fmt.Fprintf(tw, "  %s\t%.2f%%\t%.1f%% (%d/%d questions)\tanalogy accuracy (3CosAdd); semantic %.2f%%, syntactic %.2f%%\n",
			a.Name, 100*a.Accuracy, 100*a.Coverage, a.Answered, a.Questions, 100*a.Semantic, 100*a.Syntactic)
	}
	for _, s := range ev.Similarities {
		fmt.Fprintf(tw, "  %s\t%.4f\t%.1f%% (%d/%d pairs)\tSpearman\n", s.Name, s.Spearman, 100*s.Coverage, s.Covered, s.Pairs)
	}
	tw.Flush()
}

// runCompare is "ophicleide compare A B [WORD]".
func runCompare(ctx context.Context, e *env, args []string) (err error) {
	fs := newFlags(e, "compare", "MODEL_A MODEL_B [WORD] [--count N] [--moved N]   (MODEL: an id, its first 8+ characters, or a unique name)")
	opts := clientFlags(e, fs)
	count := fs.Int("count", 10, "WORD's neighbours shown in each model")
	moved := fs.Int("moved", 20, "how many of the words that moved most to show")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) < 2:
		return usagef("give two models (and optionally a WORD)")
	case len(pos) > 3:
		return usagef("give two models and at most one WORD; unexpected arguments %s", quoteAll(pos[3:]))
	case *count < 1 || *moved < 1:
		return usagef("--count and --moved must be at least 1")
	}
	c := opts.client()
	defer func() { err = explainAccess(err, c.HasToken()) }()
	var ids [2]string
	for i := range ids {
		if ids[i], err = c.Resolve(ctx, pos[i]); err != nil {
			return err
		}
	}
	word := ""
	if len(pos) == 3 {
		word = strings.ToLower(pos[2])
	}
	cmp, err := c.Compare(ctx, ids[0], ids[1], word, *count, *moved)
	if err != nil {
		return err
	}
	if *opts.asJSON {
		return printJSON(e, cmp)
	}
	fmt.Fprintf(e.stdout, "a: %s (%s)\nb: %s (%s)\n%d shared words, aligned on %d\n", cmp.A.Name, cmp.A.ID, cmp.B.Name, cmp.B.ID, cmp.Shared, cmp.Aligned)
	if n := cmp.Neighbours; n != nil {
		fmt.Fprintf(e.stdout, "\nneighbours of %q (overlap %d, Jaccard %.2f):\n", cmp.Word, len(n.Overlap), n.Jaccard)
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  #\tA\t\tB\t")
		for i := range max(len(n.A), len(n.B)) {
			var a, as, b, bs string
			if i < len(n.A) {
				a, as = n.A[i].Word, fmt.Sprintf("%.4f", n.A[i].Score)
			}
			if i < len(n.B) {
				b, bs = n.B[i].Word, fmt.Sprintf("%.4f", n.B[i].Score)
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", i+1, a, as, b, bs)
		}
		tw.Flush()
	}
	if len(cmp.Moved) > 0 {
		fmt.Fprintf(e.stdout, "\nmoved most (distance 1 - cosine after alignment; nearest words in a / in b):\n")
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		for _, m := range cmp.Moved {
			fmt.Fprintf(tw, "  %s\t%.3f\t%s\t/ %s\n", m.Word, m.Distance, strings.Join(m.A, ", "), strings.Join(m.B, ", "))
		}
		tw.Flush()
	}
	return nil
}
