package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/awsclient"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/observe"
	"github.com/driftless/driftless/pkg/reconcile"
	"github.com/driftless/driftless/pkg/source"
)

// daemon is everything a config file wires together.
type daemon struct {
	cfg        *Config
	log        *slog.Logger
	reconciler *reconcile.Reconciler
	// dir is set in local-directory mode, to watch it.
	dir *source.Dir
}

// newLogger builds the one logger of the process.
func newLogger(cfg LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// wire builds the source, the AWS clients and the reconciler from cfg and
// registers their metrics on reg. hook, when set, sees every AWS call.
func wire(ctx context.Context, cfg *Config, log *slog.Logger, reg prometheus.Registerer, opts reconcile.Options, hook func(awsclient.Call)) (*daemon, error) {
	d := &daemon{cfg: cfg, log: log}
	var src reconcile.Source
	if cfg.Repo.Dir != "" {
		d.dir = source.NewDir(cfg.Repo.Dir, log.With("component", "source"))
		src = d.dir
	} else {
		g, err := source.NewGit(source.GitConfig{
			URL:      cfg.Repo.URL,
			Branch:   cfg.Repo.Branch,
			Path:     cfg.Repo.Path,
			CacheDir: cfg.Repo.CacheDir,
		}, log.With("component", "source"))
		if err != nil {
			return nil, err
		}
		src = g
	}

	rec := &awsclient.Recorder{Metrics: awsclient.NewMetrics(), Log: log.With("component", "aws"), OnCall: hook}
	if err := rec.Metrics.Register(reg); err != nil {
		return nil, fmt.Errorf("register AWS metrics: %w", err)
	}
	clients, err := awsclient.New(ctx, awsclient.Config{Region: cfg.AWS.Region, Endpoint: cfg.AWS.Endpoint}, rec)
	if err != nil {
		return nil, fmt.Errorf("AWS clients: %w", err)
	}
	obs := reconcile.ObserverFunc(func(ctx context.Context) ([]diff.Live, error) {
		return observe.Observe(ctx, clients.CFN, clients.ASG)
	})
	app := &apply.Applier{
		Stacks:       clients.CFN,
		Groups:       clients.ASG,
		Log:          log.With("component", "apply"),
		PollInterval: pollInterval(cfg),
		Timeout:      cfg.StackTimeout,
	}
	metrics := reconcile.NewMetrics()
	if err := metrics.Register(reg); err != nil {
		return nil, fmt.Errorf("register loop metrics: %w", err)
	}
	opts.Prune, opts.PruneLimit = cfg.Prune, cfg.PruneLimit
	opts.Concurrency, opts.Interval = cfg.Concurrency, cfg.Repo.PollInterval
	d.reconciler = reconcile.New(src, obs, app, opts, log, metrics)
	return d, nil
}

// pollInterval is how often a stack is polled while waiting: quickly for an
// emulator, which finishes at once, gently for AWS.
func pollInterval(cfg *Config) time.Duration {
	if cfg.AWS.Endpoint != "" && (strings.Contains(cfg.AWS.Endpoint, "127.0.0.1") || strings.Contains(cfg.AWS.Endpoint, "localhost")) {
		return 200 * time.Millisecond
	}
	return 10 * time.Second
}
