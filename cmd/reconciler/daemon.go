package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/driftless/driftless/pkg/awsclient"
	"github.com/driftless/driftless/pkg/reconcile"
	"github.com/driftless/driftless/pkg/sdnotify"
	"github.com/driftless/driftless/pkg/source"
)

// defaultWedgeAfter is how long a cycle may go without any sign of progress
// (an AWS call answered, the repo fetched) before the loop counts as
// wedged: /healthz fails and the systemd watchdog restarts the service.
// Every AWS call is bounded well below it, and a stack being waited for is
// polled every few seconds.
const defaultWedgeAfter = 10 * time.Minute

// runDaemon is `reconciler run`: the long-running service.
func runDaemon(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "/etc/driftless/config.yaml", "daemon config file")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	notifier, err := sdnotify.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	watchdog, err := sdnotify.WatchdogInterval(os.Getenv, os.Getpid())
	if err != nil {
		return err
	}
	// SIGHUP reloads the configuration. SIGINT and SIGTERM end ctx (main).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case reload <- struct{}{}:
				default: // one reload pending covers this one
				}
			}
		}
	}()

	s, err := newService(ctx, serviceOptions{
		path:     *configPath,
		stderr:   stderr,
		getenv:   os.Getenv,
		notify:   notifier,
		watchdog: watchdog,
	})
	if err != nil {
		_ = notifier.Stopping("start failed: " + err.Error())
		return err
	}
	return s.run(ctx, reload)
}

// serviceOptions are what the service takes from the process; tests set
// the hooks.
type serviceOptions struct {
	path     string
	stderr   io.Writer
	getenv   func(string) string
	notify   *sdnotify.Notifier
	watchdog time.Duration
	// now is the clock; time.Now when nil.
	now func() time.Time
	// hook sees every AWS call; tests record them.
	hook func(awsclient.Call)
	// after replaces the loop's timer; tests use it so no test waits for
	// a poll interval.
	after func(time.Duration) <-chan time.Time
	// wedgeAfter overrides defaultWedgeAfter.
	wedgeAfter time.Duration
	// configDebounce is how long the config file must be quiet before a
	// change to it is read.
	configDebounce time.Duration
}

// service is the running daemon: one process-wide registry, logger,
// listener and trigger channel, and a generation of wired parts per
// configuration in force.
type service struct {
	opts    serviceOptions
	now     func() time.Time
	level   *slog.LevelVar
	log     *slog.Logger
	reg     *prometheus.Registry
	rec     *recorders
	metrics *serviceMetrics
	// fleet runs the fleet loops beside the reconcile loop (fleet.go).
	fleet *fleetRunner
	// trigger asks for a cycle now: webhooks and directory changes send
	// on it, the running generation takes from it.
	trigger chan struct{}

	// cfg and raw are the configuration in force and its bytes; written
	// by the run goroutine only.
	cfg *Config
	raw []byte
	gen int
	// next is a generation taken by a reload, waiting for the running
	// one to finish its cycle; run goroutine only.
	next *generation

	cur       atomic.Pointer[generation] // whose loop runs
	shown     atomic.Pointer[generation] // whose statuses /status serves
	webhook   atomic.Pointer[source.Webhook]
	reloadErr atomic.Pointer[string] // why the last reload was rejected
	activity  atomic.Int64           // unix nanos of the last sign of progress
	ready     atomic.Int64           // unix nanos of the first successful cycle
	lastCycle atomic.Int64           // unix nanos of the end of the last cycle
	revision  atomic.Pointer[string] // revision of the last successful cycle
}

// newService loads the configuration and wires the first generation. It
// starts nothing.
func newService(ctx context.Context, o serviceOptions) (*service, error) {
	if o.now == nil {
		o.now = time.Now
	}
	if o.wedgeAfter <= 0 {
		o.wedgeAfter = defaultWedgeAfter
	}
	if o.configDebounce <= 0 {
		o.configDebounce = source.DefaultDebounce
	}
	raw, err := os.ReadFile(o.path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := parseConfig(o.path, raw)
	if err != nil {
		return nil, err
	}
	s := &service{opts: o, now: o.now, level: new(slog.LevelVar), reg: prometheus.NewRegistry(), trigger: make(chan struct{}, 1), cfg: cfg, raw: raw}
	s.log = newLogger(cfg.Log, o.stderr, s.level)
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if s.rec, err = newRecorders(s.reg); err != nil {
		return nil, err
	}
	s.metrics = newServiceMetrics(s.refused, s.statuses)
	if err := s.metrics.Register(s.reg); err != nil {
		return nil, fmt.Errorf("register service metrics: %w", err)
	}
	if s.fleet, err = newFleetRunner(s.log, s.reg, s.rec.aws, o.hook, s.now); err != nil {
		return nil, err
	}
	g, err := s.build(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	s.cur.Store(g)
	s.shown.Store(g)
	s.webhook.Store(g.d.webhook)
	s.metrics.loaded(cfg, s.now(), false)
	s.touch()
	return s, nil
}

// build wires a generation for cfg. prev is the generation it replaces.
func (s *service) build(ctx context.Context, cfg *Config, prev *generation) (*generation, error) {
	g := &generation{cfg: cfg, done: make(chan error, 1)}
	env := buildEnv{trigger: s.trigger, getenv: s.opts.getenv, now: s.now, touch: s.touch, fetching: g.cycleStarted, drainer: s.fleet}
	if prev != nil {
		env.prev = prev.d
	}
	hook := func(c awsclient.Call) {
		s.touch()
		if s.opts.hook != nil {
			s.opts.hook(c)
		}
	}
	// Applies run on in the background across cycles, so a slow stack
	// holds up no other cluster; a new generation shares the old one's
	// schedule, so no cluster gets a second operation across a reload.
	d, err := build(ctx, cfg, s.log, s.rec, reconcile.Options{Background: true, CycleWait: reconcile.DefaultCycleWait}, hook, env)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		d.reconciler.Adopt(prev.d.reconciler)
	}
	s.gen++
	g.id, g.d = s.gen, d
	return g, nil
}

// touch records a sign of progress.
func (s *service) touch() { s.activity.Store(s.now().UnixNano()) }

// refused reports whether the repo head is refused right now.
func (s *service) refused() bool {
	g := s.shown.Load()
	return g != nil && g.d.trusted != nil && g.d.trusted.Refused() != nil
}

// statuses lists the clusters of the generation whose status is shown.
func (s *service) statuses() []reconcile.ClusterStatus {
	if g := s.shown.Load(); g != nil {
		return g.d.reconciler.Statuses().List()
	}
	return nil
}

// run serves and reconciles until ctx ends. reload asks for the
// configuration to be read again (SIGHUP).
func (s *service) run(ctx context.Context, reload <-chan struct{}) error {
	cfg := s.cfg
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	servers := []*http.Server{{Handler: s.mux(cfg), ReadHeaderTimeout: 10 * time.Second}}
	listeners := []net.Listener{ln}
	if cfg.Webhook.Enabled() && cfg.Webhook.Listen != "" {
		wln, err := net.Listen("tcp", cfg.Webhook.Listen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s (webhook.listen): %w", cfg.Webhook.Listen, err)
		}
		mux := http.NewServeMux()
		mux.Handle(cfg.Webhook.Path, s.webhookHandler())
		servers = append(servers, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second})
		listeners = append(listeners, wln)
	}
	serveErr := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { serveErr <- srv.Serve(listeners[i]) }()
	}
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for _, srv := range servers {
			_ = srv.Shutdown(shutdownCtx)
		}
	}()

	configChanged := make(chan struct{}, 1)
	go s.watchConfig(ctx, configChanged)
	s.fleet.start(ctx)
	s.start(ctx, s.cur.Load())
	attrs := []any{"version", version, "listen", ln.Addr().String(), "repo", repoDisplay(cfg), "region", cfg.AWS.Region}
	if cfg.Webhook.Enabled() {
		attrs = append(attrs, "webhook", cfg.Webhook.Path)
		if len(listeners) > 1 {
			attrs = append(attrs, "webhook_listen", listeners[1].Addr().String())
		}
	}
	s.log.Info("driftless started", attrs...)
	_ = s.opts.notify.Ready("started; first cycle running")
	if s.opts.watchdog > 0 {
		go s.runWatchdog(ctx)
	}

	for {
		cur := s.cur.Load()
		select {
		case <-ctx.Done():
			return s.stop(cur, nil)
		case <-reload:
			s.reload(ctx, "SIGHUP", true)
		case <-configChanged:
			s.reload(ctx, "config file changed", false)
		case err := <-cur.done:
			if ctx.Err() != nil {
				return s.stop(cur, nil)
			}
			if s.next == nil {
				return s.stop(cur, fmt.Errorf("reconcile loop stopped: %v", err))
			}
			next := s.next
			s.next = nil
			s.cur.Store(next)
			s.start(ctx, next)
			s.log.Info("new configuration in force", "generation", next.id)
		case err := <-serveErr:
			return s.stop(cur, fmt.Errorf("http server: %w", err))
		}
	}
}

// stop waits for the loop to end after ctx was cancelled and says so to
// the service manager.
func (s *service) stop(cur *generation, err error) error {
	_ = s.opts.notify.Stopping("stopping")
	s.log.Info("driftless stopping")
	cur.gate.stop()
	cur.cancel()
	select {
	case <-cur.done:
	case <-time.After(10 * time.Second):
		s.log.Warn("the reconcile loop did not stop within 10s")
	}
	s.fleet.stop(10 * time.Second)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// runWatchdog pings systemd at half the watchdog interval while the loop
// makes progress.
func (s *service) runWatchdog(ctx context.Context) {
	t := time.NewTicker(s.opts.watchdog / 2)
	defer t.Stop()
	if err := s.opts.notify.RunWatchdog(ctx, t.C, s.check); err != nil {
		s.log.Error("reconcile loop wedged; asking systemd to restart the service", "error", err)
	}
}

// check says whether the loop is wedged at now: a cycle is running and
// nothing has moved for wedgeAfter.
func (s *service) check(now time.Time) error {
	g := s.cur.Load()
	if g == nil || g.gate == nil {
		return nil
	}
	busy, since := g.gate.state()
	if !busy {
		return nil
	}
	last := time.Unix(0, s.activity.Load())
	if since.After(last) {
		last = since
	}
	if idle := now.Sub(last); idle > s.opts.wedgeAfter {
		return fmt.Errorf("reconcile loop wedged: the running cycle has shown no progress for %s", idle.Round(time.Second))
	}
	return nil
}

// afterCycle records a finished cycle of generation g.
func (s *service) afterCycle(g *generation, rep *reconcile.Report, err error) {
	now := s.now()
	s.lastCycle.Store(now.UnixNano())
	s.touch()
	if err == nil {
		s.ready.CompareAndSwap(0, now.UnixNano())
		if rep != nil {
			s.revision.Store(&rep.Revision)
		}
	}
	s.shown.Store(g)
	if err == nil {
		s.fleet.sync(g.cfg, rep)
	}
	_ = s.opts.notify.Status(s.statusLine(g, rep, err))
}

// statusLine is the one line systemctl status shows.
func (s *service) statusLine(g *generation, rep *reconcile.Report, err error) string {
	var b strings.Builder
	if err != nil {
		fmt.Fprintf(&b, "cycle failed: %v", err)
	} else if rep != nil {
		counts := map[reconcile.Condition]int{}
		list := g.d.reconciler.Statuses().List()
		for _, st := range list {
			counts[st.Condition]++
		}
		fmt.Fprintf(&b, "revision %s: %d clusters", short(rep.Revision), len(list))
		for _, c := range []reconcile.Condition{reconcile.Ready, reconcile.Reconciling, reconcile.Stalled, reconcile.Blocked} {
			if counts[c] > 0 {
				fmt.Fprintf(&b, ", %d %s", counts[c], c)
			}
		}
	}
	if g.d.trusted != nil {
		if r := g.d.trusted.Refused(); r != nil {
			fmt.Fprintf(&b, "; head %s refused (%s)", short(r.Revision), r.Reason)
		}
	}
	line := b.String()
	if len(line) > 200 {
		line = line[:200] + "…"
	}
	return line
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// repoDisplay names the repo for logs and /status.
func repoDisplay(cfg *Config) string {
	if cfg.Repo.Dir != "" {
		return cfg.Repo.Dir
	}
	if u, err := url.Parse(cfg.Repo.URL); err == nil && strings.Contains(cfg.Repo.URL, "://") {
		return u.Redacted()
	}
	return cfg.Repo.URL
}

// mux serves the daemon's HTTP endpoints.
func (s *service) mux(cfg *Config) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.check(s.now()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if s.ready.Load() == 0 {
			http.Error(w, "no cycle has succeeded yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s.status())
	})
	if cfg.Webhook.Enabled() && cfg.Webhook.Listen == "" {
		mux.Handle(cfg.Webhook.Path, s.webhookHandler())
	}
	return mux
}

// webhookHandler hands a delivery to the webhook of the configuration in
// force, which a reload may change (a rotated secret) or switch off.
func (s *service) webhookHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := s.webhook.Load()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// statusDoc is what /status answers.
type statusDoc struct {
	// Source is the cluster repo and the revision in force.
	Source sourceStatus `json:"source"`
	// Config is the configuration in force.
	Config configStatus `json:"config"`
	// Clusters is every cluster's condition, sorted by name.
	Clusters []reconcile.ClusterStatus `json:"clusters"`
}

type sourceStatus struct {
	Repo   string `json:"repo"`
	Branch string `json:"branch,omitempty"`
	Path   string `json:"path,omitempty"`
	// Revision is the revision of the last successful cycle.
	Revision string `json:"revision,omitempty"`
	// Refused is the branch head that was refused as untrusted; while it
	// is set, Revision is the last trusted revision, still in force.
	Refused *source.Refusal `json:"refused,omitempty"`
}

type configStatus struct {
	File       string `json:"file"`
	Generation int    `json:"generation"`
	// ReloadPending says a new configuration was taken and waits for the
	// running cycle to end.
	ReloadPending bool `json:"reloadPending,omitempty"`
	// LastReloadError says why the last reload was rejected; the
	// configuration in force is the one before it.
	LastReloadError string `json:"lastReloadError,omitempty"`
}

func (s *service) status() statusDoc {
	g := s.shown.Load()
	cur := s.cur.Load()
	doc := statusDoc{
		Source: sourceStatus{Repo: repoDisplay(g.cfg), Path: g.cfg.Repo.Path},
		Config: configStatus{File: s.opts.path, Generation: g.id, ReloadPending: cur.gate != nil && cur.gate.isStopping()},
	}
	if g.cfg.Repo.URL != "" {
		doc.Source.Branch = g.cfg.Repo.Branch
	}
	if e := s.reloadErr.Load(); e != nil {
		doc.Config.LastReloadError = *e
	}
	if rev := s.revision.Load(); rev != nil {
		doc.Source.Revision = *rev
	}
	if g.d.trusted != nil {
		doc.Source.Refused = g.d.trusted.Refused()
	}
	doc.Clusters = g.d.reconciler.Statuses().List()
	if doc.Clusters == nil {
		doc.Clusters = []reconcile.ClusterStatus{}
	}
	return doc
}
