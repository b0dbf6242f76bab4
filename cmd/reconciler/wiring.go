package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/awsclient"
	"github.com/driftless/driftless/pkg/observe"
	"github.com/driftless/driftless/pkg/preflight"
	"github.com/driftless/driftless/pkg/reconcile"
	"github.com/driftless/driftless/pkg/source"
)

// daemon is everything a config file wires together. The service builds a
// new one on every reload; the metric recorders outlive it.
type daemon struct {
	cfg        *Config
	log        *slog.Logger
	reconciler *reconcile.Reconciler
	// applier is the reconciler's applier, for a command to set its
	// progress output and a person's overrides.
	applier *apply.Applier
	// healer carries the clusters' drains for approved changes over a
	// reload.
	healer *apply.Healer
	// dir is set in local-directory mode, to watch it.
	dir *source.Dir
	// trusted wraps a git source: it keeps the last trusted revision in
	// force when the head is refused. Nil in local-directory mode.
	trusted *source.KeepTrusted
	// webhook is the receiver, when the config enables one and a trigger
	// channel was given.
	webhook *source.Webhook
}

// newLogger builds the one logger of the process. level, when not nil,
// is set from cfg and read by the handler, so a reload can change it.
func newLogger(cfg LogConfig, w io.Writer, level *slog.LevelVar) *slog.Logger {
	if level == nil {
		level = new(slog.LevelVar)
	}
	level.Set(parseLevel(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func parseLevel(s string) slog.Level {
	var level slog.Level
	_ = level.UnmarshalText([]byte(s)) // validated with the config
	return level
}

// recorders are the metric recorders of the libraries the daemon wires.
// They are made and registered once per process, so counters keep
// counting across reloads.
type recorders struct {
	aws       *awsclient.Metrics
	loop      *reconcile.Metrics
	webhook   *source.WebhookMetrics
	preflight *preflight.Metrics
}

func newRecorders(reg prometheus.Registerer) (*recorders, error) {
	r := &recorders{aws: awsclient.NewMetrics(), loop: reconcile.NewMetrics(), webhook: source.NewWebhookMetrics(), preflight: preflight.NewMetrics()}
	if err := r.aws.Register(reg); err != nil {
		return nil, fmt.Errorf("register AWS metrics: %w", err)
	}
	if err := r.loop.Register(reg); err != nil {
		return nil, fmt.Errorf("register loop metrics: %w", err)
	}
	if err := r.webhook.Register(reg); err != nil {
		return nil, fmt.Errorf("register webhook metrics: %w", err)
	}
	if err := r.preflight.Register(reg); err != nil {
		return nil, fmt.Errorf("register pre-flight metrics: %w", err)
	}
	return r, nil
}

// wire builds the source, the AWS clients and the reconciler from cfg and
// registers their metrics on reg. hook, when set, sees every AWS call. It
// serves the one-shot commands and tests; the service uses build.
func wire(ctx context.Context, cfg *Config, log *slog.Logger, reg prometheus.Registerer, opts reconcile.Options, hook func(awsclient.Call)) (*daemon, error) {
	rec, err := newRecorders(reg)
	if err != nil {
		return nil, err
	}
	return build(ctx, cfg, log, rec, opts, hook, buildEnv{getenv: os.Getenv, now: time.Now})
}

// buildEnv is what build takes from the process rather than the config.
type buildEnv struct {
	// trigger, when set, receives the webhook's requests for a cycle;
	// without it no webhook is built.
	trigger chan<- struct{}
	// getenv reads the environment variables that hold secrets.
	getenv func(string) string
	// now is the clock of refusals.
	now func() time.Time
	// prev is the daemon this one replaces on a reload, if any: its last
	// trusted snapshot stays in force if the repo is the same.
	prev *daemon
	// fetching, when set, is called as every fetch of the repo begins:
	// a cycle has started, whatever woke the loop.
	fetching func()
	// touch, when set, is called after every fetch of the repo: a sign of
	// progress for the watchdog.
	touch func()
	// drainer drains a cluster before an approved change stops its
	// fleet; nil (no fleet loop) lets only a forced stop go ahead.
	drainer apply.Drainer
}

// progressSource tells the service when a cycle starts (every cycle
// begins with a fetch) and that it moves on.
type progressSource struct {
	reconcile.Source
	fetching, touch func()
}

func (p progressSource) Fetch(ctx context.Context) (source.Snapshot, error) {
	if p.fetching != nil {
		p.fetching()
	}
	snap, err := p.Source.Fetch(ctx)
	if p.touch != nil {
		p.touch()
	}
	return snap, err
}

// build wires one daemon from cfg, with the process's recorders.
func build(ctx context.Context, cfg *Config, log *slog.Logger, rec *recorders, opts reconcile.Options, hook func(awsclient.Call), env buildEnv) (*daemon, error) {
	d := &daemon{cfg: cfg, log: log}
	var src reconcile.Source
	gc, err := cfg.gitConfig()
	if err != nil {
		return nil, err
	}
	if gc == nil {
		d.dir = source.NewDir(cfg.Repo.Dir, log.With("component", "source"))
		src = d.dir
	} else {
		g, err := source.NewGit(*gc, log.With("component", "source"))
		if err != nil {
			return nil, err
		}
		d.trusted = source.NewKeepTrusted(g, env.now, log.With("component", "source"))
		if p := env.prev; p != nil && p.trusted != nil && sameRepo(p.cfg, cfg) {
			d.trusted.Adopt(p.trusted)
		}
		src = d.trusted
	}
	if env.fetching != nil || env.touch != nil {
		src = progressSource{Source: src, fetching: env.fetching, touch: env.touch}
	}
	if env.trigger != nil && cfg.Webhook.Enabled() {
		wc, err := cfg.webhookConfig(env.getenv)
		if err != nil {
			return nil, err
		}
		if d.webhook, err = source.NewWebhook(wc, env.trigger, rec.webhook, log); err != nil {
			return nil, err
		}
	}

	awsRec := &awsclient.Recorder{Metrics: rec.aws, Log: log.With("component", "aws"), OnCall: hook}
	clients, err := awsclient.New(ctx, awsclient.Config{Region: cfg.AWS.Region, Endpoint: cfg.AWS.Endpoint}, awsRec)
	if err != nil {
		return nil, fmt.Errorf("AWS clients: %w", err)
	}
	if opts.Preflight == nil {
		// Every create and update is checked against the account first.
		if opts.Preflight, err = newChecker(ctx, cfg.AWS, awsRec, rec.preflight); err != nil {
			return nil, err
		}
	}
	observer := &observe.Observer{
		Stacks: clients.CFN, Groups: clients.ASG, Instances: clients.EC2,
		Log: log.With("component", "observe"),
	}
	if every := cfg.AWS.driftInterval(); every > 0 {
		observer.Detector, observer.DriftInterval = clients.CFN, every
	}
	obs := reconcile.DesiredObserverFunc(observer.Observe)
	app := &apply.Applier{
		Stacks:       clients.CFN,
		Groups:       clients.ASG,
		Images:       clients.SSM,
		RoleARN:      cfg.AWS.CloudFormationRoleARN,
		Log:          log.With("component", "apply"),
		PollInterval: pollInterval(cfg),
		Timeout:      cfg.StackTimeout,
	}
	opts.Prune, opts.PruneLimit = cfg.Prune, cfg.PruneLimit
	opts.Concurrency, opts.Interval = cfg.Concurrency, cfg.Repo.PollInterval
	d.applier = app
	// The healer stops the fleet around approved changes that need it and
	// heals drift; the applier makes the stack calls.
	healer := &apply.Healer{
		Stacks: app, Groups: clients.ASG, HeadNodes: clients.EC2,
		Log:          log.With("component", "apply"),
		PollInterval: pollInterval(cfg),
		Timeout:      cfg.StackTimeout,
		Drainer:      env.drainer,
		DrainTimeout: cfg.Fleet.DrainTimeout,
	}
	if p := env.prev; p != nil && p.healer != nil {
		healer.Adopt(p.healer)
	}
	d.healer = healer
	d.reconciler = reconcile.New(src, obs, healer, opts, log, rec.loop)
	return d, nil
}

// sameRepo reports whether two configs follow the same branch and
// sub-directory of the same remote.
func sameRepo(a, b *Config) bool {
	return a.Repo.URL == b.Repo.URL && a.Repo.Branch == b.Repo.Branch && a.Repo.Path == b.Repo.Path
}

// pollInterval is how often a stack is polled while waiting: quickly for an
// emulator, which finishes at once, gently for AWS.
func pollInterval(cfg *Config) time.Duration {
	if cfg.AWS.Endpoint != "" && (strings.Contains(cfg.AWS.Endpoint, "127.0.0.1") || strings.Contains(cfg.AWS.Endpoint, "localhost")) {
		return 200 * time.Millisecond
	}
	return 10 * time.Second
}
