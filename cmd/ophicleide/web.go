package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	ophttp "github.com/ophicleide/ophicleide/internal/http"
	"github.com/ophicleide/ophicleide/internal/web"
)

// runWeb is the web role: the page, with /api/ proxied to a training
// server (the `api` or `serve` role), as the original front end ran.
func runWeb(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("web", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	addr := fs.String("addr", net.JoinHostPort("127.0.0.1", envOr("8081", "OPH_WEB_PORT", "OPHICLEIDE_WEB_PORT")),
		"listen address (port from env OPH_WEB_PORT or OPHICLEIDE_WEB_PORT)")
	defTraining := "http://" + net.JoinHostPort(envOr("127.0.0.1", "OPH_TRAINING_ADDR", "OPHICLEIDE_TRAINING_ADDR"),
		envOr("8080", "OPH_TRAINING_PORT", "OPHICLEIDE_TRAINING_PORT"))
	training := fs.String("training", defTraining,
		"base URL of the training server (env OPH_TRAINING_ADDR and OPH_TRAINING_PORT, or OPHICLEIDE_TRAINING_ADDR and OPHICLEIDE_TRAINING_PORT)")
	publicHosts := fs.String("public-host", envOr("", "OPH_PUBLIC_HOSTS"), "with a loopback --addr, host names served besides localhost and loopback addresses, comma-separated (env OPH_PUBLIC_HOSTS); others get 421 (DNS rebinding)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	target, err := url.Parse(*training)
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return fmt.Errorf("--training %q: want a URL such as http://127.0.0.1:8080", *training)
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	log.Info("starting", "role", "web", "version", version, "addr", *addr, "training", target.Redacted())

	// The training server behind the proxy sees only the proxy's Host:
	// the web role checks its own.
	page, err := ophttp.GuardHosts(web.Handler(target, log, ophttp.RuntimeMetrics()), ophttp.HostPolicy{Addr: *addr, PublicHosts: splitList(*publicHosts)})
	if err != nil {
		return usagef("%v", err)
	}
	return serveUntilDone(ctx, e, log, *addr, 512, ophttp.Deadlines(page, time.Minute), func() {})
}
