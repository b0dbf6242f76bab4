package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/driftless/driftless/pkg/reconcile"
)

// generation is one configuration's wired parts and the loop running them.
// A reload builds the next generation and lets the running one finish its
// cycle before the next one starts, so a reload never cuts an apply short.
type generation struct {
	id   int
	cfg  *Config
	d    *daemon
	gate *gate
	// cancel ends the loop's context; done receives Run's result.
	cancel context.CancelFunc
	done   chan error
}

// cycleStarted tells g's gate that a cycle began, whatever woke the loop
// (its timer, a trigger, or an apply that finished in the background).
func (g *generation) cycleStarted() {
	if g.gate != nil {
		g.gate.begin()
	}
}

// start runs g's loop (and, in local-directory mode, its watcher) under a
// context of its own.
func (s *service) start(ctx context.Context, g *generation) {
	gctx, cancel := context.WithCancel(ctx)
	g.cancel = cancel
	after := s.opts.after
	if after == nil {
		after = time.After
	}
	loopTrigger := make(chan struct{}, 1)
	g.gate = newGate(cancel, after, s.now, loopTrigger)
	go g.gate.forward(gctx, s.trigger)
	if g.d.dir != nil {
		go func() {
			if err := g.d.dir.Watch(gctx, s.trigger); err != nil && gctx.Err() == nil {
				s.log.Error("watching the spec directory stopped; polling only", "error", err)
			}
		}()
	}
	go func() {
		g.done <- g.d.reconciler.Run(gctx, loopTrigger, reconcile.Hooks{
			After: g.gate.after,
			AfterCycle: func(rep *reconcile.Report, err error) {
				s.afterCycle(g, rep, err)
				g.gate.idle()
			},
		})
	}()
}

// reload reads the config file again. A config that does not load, or
// whose parts cannot be wired, is rejected with one log line and the
// running configuration stays. force reloads even when the file did not
// change (SIGHUP: a secret file may have).
func (s *service) reload(ctx context.Context, why string, force bool) {
	raw, err := os.ReadFile(s.opts.path)
	if err == nil && !force && bytes.Equal(raw, s.raw) {
		return
	}
	_ = s.opts.notify.Reloading("reloading configuration: " + why)
	var cfg *Config
	if err == nil {
		cfg, err = parseConfig(s.opts.path, raw)
	}
	var g *generation
	if err == nil {
		s.keepUnreloadable(cfg)
		prev := s.cur.Load()
		if s.next != nil {
			prev = s.next
		}
		g, err = s.build(ctx, cfg, prev)
	}
	if err != nil {
		msg := err.Error()
		s.reloadErr.Store(&msg)
		s.metrics.rejected()
		s.log.Error("configuration rejected; the running configuration stays in force", "file", s.opts.path, "trigger", why, "error", err)
		_ = s.opts.notify.Ready("configuration rejected; previous configuration in force: " + firstLine(msg))
		return
	}
	s.reloadErr.Store(nil)
	s.cfg, s.raw = cfg, raw
	s.level.Set(parseLevel(cfg.Log.Level))
	s.webhook.Store(g.d.webhook)
	s.metrics.loaded(cfg, s.now(), true)
	s.next = g
	cur := s.cur.Load()
	busy, _ := cur.gate.state()
	cur.gate.stop()
	if busy {
		s.log.Info("configuration reloaded; it takes effect when the running cycle ends", "trigger", why, "generation", g.id)
	} else {
		s.log.Info("configuration reloaded", "trigger", why, "generation", g.id)
	}
	_ = s.opts.notify.Ready("configuration reloaded")
}

// keepUnreloadable keeps the settings a reload cannot change in a running
// process (the listeners, the webhook path, the log format) at their
// values, and says so.
func (s *service) keepUnreloadable(cfg *Config) {
	old := s.cfg
	warn := func(key string, from, to any) {
		s.log.Warn("this setting takes effect at the next restart; the running value stays", "key", key, "running", from, "new", to)
	}
	if cfg.Listen != old.Listen {
		warn("listen", old.Listen, cfg.Listen)
		cfg.Listen = old.Listen
	}
	if cfg.Log.Format != old.Log.Format {
		warn("log.format", old.Log.Format, cfg.Log.Format)
		cfg.Log.Format = old.Log.Format
	}
	if cfg.Webhook.Enabled() && !old.Webhook.Enabled() {
		warn("webhook", "off", "on")
		cfg.Webhook = WebhookConfig{}
		return
	}
	if cfg.Webhook.Enabled() {
		if cfg.Webhook.Path != old.Webhook.Path {
			warn("webhook.path", old.Webhook.Path, cfg.Webhook.Path)
			cfg.Webhook.Path = old.Webhook.Path
		}
		if cfg.Webhook.Listen != old.Webhook.Listen {
			warn("webhook.listen", old.Webhook.Listen, cfg.Webhook.Listen)
			cfg.Webhook.Listen = old.Webhook.Listen
		}
	}
}

func firstLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// watchConfig reports changes of the config file's content on changed. It
// watches the file's directory, which sees editors that write a new file
// and rename it over the old one, and symlink swaps, and compares content
// so that a touch or an unrelated file in the directory reloads nothing.
func (s *service) watchConfig(ctx context.Context, changed chan<- struct{}) {
	path, err := filepath.Abs(s.opts.path)
	if err != nil {
		s.log.Warn("config file changes are not watched; send SIGHUP to reload", "error", err)
		return
	}
	w, err := fsnotify.NewWatcher()
	if err == nil {
		err = w.Add(filepath.Dir(path))
	}
	if err != nil {
		s.log.Warn("config file changes are not watched; send SIGHUP to reload", "error", err)
		if w != nil {
			w.Close()
		}
		return
	}
	defer w.Close()
	last, _ := os.ReadFile(path)
	timer := time.NewTimer(s.opts.configDebounce)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if ev.Op != fsnotify.Chmod {
				timer.Reset(s.opts.configDebounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			s.log.Warn("watching the config file", "error", err)
			timer.Reset(s.opts.configDebounce)
		case <-timer.C:
			now, err := os.ReadFile(path)
			if err == nil && bytes.Equal(now, last) {
				continue
			}
			// A missing file is reported too: the reload rejects it
			// loudly and the running configuration stays.
			last = now
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}
}

// gate stands between a generation's loop and what wakes it (its timer
// and the trigger channel), so that the service knows whether a cycle is
// running and can stop the loop between cycles, never in the middle of
// one. Exactly one wake-up ends each wait; a trigger that arrives during a
// cycle is kept and starts the next cycle as soon as this one ends, as a
// buffered trigger channel would.
type gate struct {
	timer       func(time.Duration) <-chan time.Time
	now         func() time.Time
	cancel      context.CancelFunc
	loopTrigger chan struct{}

	mu       sync.Mutex
	busy     bool      // a cycle is running
	since    time.Time // when the cycle or the wait began
	pending  bool      // a trigger arrived during the cycle
	stopping bool
	wake     chan struct{} // closed when the current wait ends
	stopped  chan struct{} // closed by stop
}

// newGate returns the gate of a loop that is about to run its first cycle.
func newGate(cancel context.CancelFunc, timer func(time.Duration) <-chan time.Time, now func() time.Time, loopTrigger chan struct{}) *gate {
	return &gate{
		timer: timer, now: now, cancel: cancel, loopTrigger: loopTrigger,
		busy: true, since: now(), wake: make(chan struct{}), stopped: make(chan struct{}),
	}
}

// state says whether a cycle is running and since when (or since when the
// loop has been waiting).
func (g *gate) state() (busy bool, since time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.busy, g.since
}

func (g *gate) isStopping() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stopping
}

// begin ends the current wait and marks a cycle running; false when the
// wait already ended (a cycle runs) or the loop is to stop.
func (g *gate) begin() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.beginLocked()
}

func (g *gate) beginLocked() bool {
	if g.busy || g.stopping {
		return false
	}
	g.busy, g.since = true, g.now()
	close(g.wake)
	return true
}

// idle is called when a cycle ends; a stop asked for during the cycle
// takes effect now.
func (g *gate) idle() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.busy, g.since = false, g.now()
	g.wake = make(chan struct{})
	if g.stopping {
		g.cancel()
	}
}

// stop ends the loop: at once when it waits, after the cycle when one
// runs.
func (g *gate) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopping {
		return
	}
	g.stopping = true
	close(g.stopped)
	if !g.busy {
		g.cancel()
	}
}

// poke is a trigger. It starts a cycle when the loop waits, is kept for
// later when a cycle runs, and is refused (false) when the loop is
// stopping, so the caller can hand it to the next generation.
func (g *gate) poke() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopping {
		return false
	}
	if g.busy {
		g.pending = true
		return true
	}
	g.beginLocked()
	select {
	case g.loopTrigger <- struct{}{}:
	default:
	}
	return true
}

// forward moves triggers from the service's channel to the loop through
// the gate until the loop stops.
func (g *gate) forward(ctx context.Context, trigger chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.stopped:
			return
		case <-trigger:
			if !g.poke() {
				select {
				case trigger <- struct{}{}:
				default:
				}
				return
			}
		}
	}
}

// after is the loop's timer (reconcile.Hooks.After): it fires after d
// unless a trigger ended the wait first, and at once when a trigger
// arrived during the cycle that just ended.
func (g *gate) after(d time.Duration) <-chan time.Time {
	out := make(chan time.Time, 1)
	g.mu.Lock()
	if g.pending && !g.busy && !g.stopping {
		g.pending = false
		g.beginLocked()
		g.mu.Unlock()
		out <- g.now()
		return out
	}
	wake, stopped := g.wake, g.stopped
	g.mu.Unlock()
	timer := g.timer(d)
	go func() {
		select {
		case t := <-timer:
			if g.begin() {
				out <- t
			}
		case <-wake:
		case <-stopped:
		}
	}()
	return out
}
