package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/driftless/driftless/pkg/reconcile"
)

// runDaemon is `reconciler run`: the long-running service.
func runDaemon(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "/etc/driftless/config.yaml", "daemon config file")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "driftless_build_info",
		Help: "1, labelled with the version of the running daemon and the Go it was built with.",
	}, []string{"version", "goversion"})
	buildInfo.WithLabelValues(version, runtime.Version()).Set(1)
	reg.MustRegister(buildInfo)

	d, err := wire(ctx, cfg, log, reg, reconcile.Options{}, nil)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	var ready, lastCycle atomic.Int64 // unix nanos
	srv := &http.Server{
		Handler:           d.mux(reg, &ready, &lastCycle),
		ReadHeaderTimeout: 10 * time.Second,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("driftless started", "version", version, "listen", ln.Addr().String(), "repo", cfg.Repo.URL+cfg.Repo.Dir, "region", cfg.AWS.Region)

	trigger := make(chan struct{}, 1)
	if d.dir != nil {
		go func() {
			if err := d.dir.Watch(ctx, trigger); err != nil && ctx.Err() == nil {
				log.Error("watching the spec directory stopped; polling only", "error", err)
			}
		}()
	}
	loopDone := make(chan error, 1)
	go func() {
		loopDone <- d.reconciler.Run(ctx, trigger, reconcile.Hooks{
			AfterCycle: func(_ *reconcile.Report, err error) {
				now := time.Now().UnixNano()
				lastCycle.Store(now)
				if err == nil {
					ready.CompareAndSwap(0, now)
				}
			},
		})
	}()

	select {
	case err = <-loopDone:
	case err = <-serveErr:
		err = fmt.Errorf("http server: %w", err)
	}
	log.Info("driftless stopping")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// mux serves the daemon's HTTP endpoints.
func (d *daemon) mux(reg *prometheus.Registry, ready, lastCycle *atomic.Int64) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		// Healthy while the loop keeps cycling: a wedged loop is not.
		last := lastCycle.Load()
		stale := 3*d.cfg.Repo.PollInterval + d.cfg.StackTimeout
		if last != 0 && time.Since(time.Unix(0, last)) > stale {
			http.Error(w, "loop has not finished a cycle for "+time.Since(time.Unix(0, last)).Round(time.Second).String(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ready.Load() == 0 {
			http.Error(w, "no cycle has succeeded yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(d.reconciler.Statuses().List())
	})
	return mux
}
