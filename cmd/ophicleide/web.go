package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	ophttp "github.com/ophicleide/ophicleide/internal/http"
	"github.com/ophicleide/ophicleide/internal/web"
)

// runWeb is the web role: the page, with /api/ proxied to a training
// server (the `api` or `serve` role), as the original front end ran.
func runWeb(ctx context.Context, e *env, args []string) error {
	fs, cfg := webFlags(e)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	return cfg.run(ctx, e)
}

// webConfig is the web role's configuration.
type webConfig struct {
	addr        string
	training    string
	publicHosts string

	target *url.URL // set by validate: training, parsed
}

// webFlags returns the web role's FlagSet and the configuration its
// parsing fills in.
func webFlags(e *env) (*flag.FlagSet, *webConfig) {
	c := &webConfig{}
	fs := flag.NewFlagSet("web", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&c.addr, "addr", net.JoinHostPort("127.0.0.1", e.envOr("8081", "OPH_WEB_PORT", "OPHICLEIDE_WEB_PORT")),
		"listen address (port from env OPH_WEB_PORT or OPHICLEIDE_WEB_PORT)")
	defTraining := "http://" + net.JoinHostPort(e.envOr("127.0.0.1", "OPH_TRAINING_ADDR", "OPHICLEIDE_TRAINING_ADDR"),
		e.envOr("8080", "OPH_TRAINING_PORT", "OPHICLEIDE_TRAINING_PORT"))
	fs.StringVar(&c.training, "training", defTraining,
		"base URL of the training server (env OPH_TRAINING_ADDR and OPH_TRAINING_PORT, or OPHICLEIDE_TRAINING_ADDR and OPHICLEIDE_TRAINING_PORT)")
	fs.StringVar(&c.publicHosts, "public-host", e.envOr("", "OPH_PUBLIC_HOSTS"), "with a loopback --addr, host names served besides localhost and loopback addresses, comma-separated (env OPH_PUBLIC_HOSTS); others get 421 (DNS rebinding)")
	return fs, c
}

func (c *webConfig) validate() error {
	target, err := url.Parse(c.training)
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return fmt.Errorf("--training %q: want a URL such as http://127.0.0.1:8080", c.training)
	}
	c.target = target
	return nil
}

// handler is the web role's: the page and the proxy behind the host check.
func (c *webConfig) handler(log *slog.Logger) (http.Handler, error) {
	// The training server behind the proxy sees only the proxy's Host:
	// the web role checks its own.
	page, err := ophttp.GuardHosts(web.Handler(c.target, log, ophttp.RuntimeMetrics()), ophttp.HostPolicy{Addr: c.addr, PublicHosts: splitList(c.publicHosts)})
	if err != nil {
		return nil, usagef("%v", err)
	}
	return page, nil
}

func (c *webConfig) run(ctx context.Context, e *env) error {
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	log.Info("starting", "role", "web", "version", version, "addr", c.addr, "training", c.target.Redacted())
	page, err := c.handler(log)
	if err != nil {
		return err
	}
	return serveUntilDone(ctx, e, log, c.addr, 512, ophttp.Deadlines(page, time.Minute), func() {})
}
