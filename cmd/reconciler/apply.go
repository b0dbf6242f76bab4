package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/reconcile"
)

// retainFlag is --retain CLUSTER=ID[,ID...], repeatable: the resources a
// person allows a retried delete (or a continued rollback) to leave as
// they are.
type retainFlag map[string][]string

func (r retainFlag) String() string {
	var parts []string
	for c, ids := range r {
		parts = append(parts, c+"="+strings.Join(ids, ","))
	}
	return strings.Join(parts, " ")
}

func (r retainFlag) Set(v string) error {
	cluster, ids, ok := strings.Cut(v, "=")
	if !ok || cluster == "" || ids == "" {
		return fmt.Errorf("want CLUSTER=LOGICAL-ID[,LOGICAL-ID...], got %q", v)
	}
	n := 0
	for _, id := range strings.Split(ids, ",") {
		if id = strings.TrimSpace(id); id != "" {
			r[cluster] = append(r[cluster], id)
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("no logical id in %q", v)
	}
	return nil
}

// runApply is `reconciler apply`: one cycle, waiting for every stack it
// changes, with a progress line per stack event and a summary. Exit 1 when
// a cluster failed or needs a person (Stalled or Blocked).
func runApply(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "/etc/driftless/config.yaml", "daemon config file")
	output := fs.String("output", "text", "text or json; with json, progress goes to stderr")
	quiet := fs.Bool("quiet", false, "no progress lines, only the result")
	timeout := fs.Duration("timeout", 0, "longest wait for one stack operation (default: the config's stackTimeout)")
	pruneLimit := fs.String("prune-limit", "", "most clusters this run may delete, overriding the config's pruneLimit; -1 lifts the cap (a person's override for this run)")
	retain := retainFlag{}
	fs.Var(retain, "retain", "CLUSTER=ID[,ID...]: resources a retried delete of a DELETE_FAILED stack may leave behind, or a continued rollback may skip (repeatable)")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if *output != "text" && *output != "json" {
		return &exitError{code: 2, err: fmt.Errorf("--output must be text or json, got %q", *output)}
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	if *pruneLimit != "" {
		n, err := strconv.Atoi(*pruneLimit)
		if err != nil || n < -1 {
			return &exitError{code: 2, err: fmt.Errorf("--prune-limit must be -1, 0 or a positive count, got %q", *pruneLimit)}
		}
		cfg.PruneLimit = n
	}
	if *timeout > 0 {
		cfg.StackTimeout = *timeout
	}

	progress := stdout
	if *output == "json" {
		progress = stderr
	}
	// Progress lines are the account of what happens; the log keeps to
	// warnings and errors unless they are off.
	level := new(slog.LevelVar)
	log := newLogger(cfg.Log, stderr, level)
	if !*quiet {
		level.Set(max(level.Level(), slog.LevelWarn))
	}
	d, err := wire(ctx, cfg, log, prometheus.NewRegistry(), reconcile.Options{}, nil)
	if err != nil {
		return err
	}
	if len(retain) > 0 {
		d.applier.Retain = retain
	}
	p := &progressPrinter{w: progress}
	if !*quiet {
		d.applier.Progress = p.event
	}

	start := time.Now()
	rep, err := d.reconciler.Reconcile(ctx)
	if err != nil {
		return err
	}
	statuses := d.reconciler.Statuses().List()
	if *output == "json" {
		if err := json.NewEncoder(stdout).Encode(statuses); err != nil {
			return err
		}
	} else {
		p.summary(rep, statuses, time.Since(start))
	}
	stuck := 0
	for _, st := range statuses {
		if st.Condition == reconcile.Stalled || st.Condition == reconcile.Blocked {
			stuck++
		}
	}
	if n := max(rep.Failed(), stuck); n > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d clusters failed or need a person", n)}
	}
	return nil
}

// progressPrinter writes one line per stack event, from every cluster's
// apply at once.
type progressPrinter struct {
	mu     sync.Mutex
	w      io.Writer
	header bool
}

func (p *progressPrinter) event(e apply.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.header {
		fmt.Fprintf(p.w, "%-8s %-20s %-28s %-36s %s\n", "ELAPSED", "CLUSTER", "RESOURCE", "STATUS", "REASON")
		p.header = true
	}
	fmt.Fprintf(p.w, "%8s %-20s %-28s %-36s %s\n", clockElapsed(e.Elapsed), e.Cluster, eventResource(e), e.Status, oneLine(e.Reason))
}

// summary prints what the cycle did, then every cluster's status.
func (p *progressPrinter) summary(rep *reconcile.Report, statuses []reconcile.ClusterStatus, took time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	done := map[diff.Action]int{}
	failed, blocked, unchanged := 0, 0, 0
	for _, o := range rep.Outcomes {
		switch {
		case o.Change.Action == diff.Blocked || o.Change.Action == diff.Skip || o.Change.Refused != "":
			blocked++
		case o.Err != nil:
			failed++
		case o.Started:
			done[o.Change.Action]++
		case o.Change.Action == diff.None:
			unchanged++
		}
	}
	if p.header {
		fmt.Fprintln(p.w)
	}
	w := p.w
	fmt.Fprintf(w, "Apply of %s finished in %s: %d created, %d updated, %d deleted, %d recreated, %d rolled back, %d waited for; %d failed, %d need a person, %d unchanged.\n\n",
		shortRevision(rep.Revision), took.Round(time.Second), done[diff.Create], done[diff.Update], done[diff.Delete],
		done[diff.Recreate], done[diff.ContinueRollback], done[diff.Wait], failed, blocked, unchanged)
	for _, st := range statuses {
		line := fmt.Sprintf("%-20s %-12s %-14s %s", st.Cluster, st.Condition, st.StackStatus, oneLine(st.Message))
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}

func eventResource(e apply.Event) string {
	if e.Type == "AWS::CloudFormation::Stack" {
		return e.Resource + " (stack)"
	}
	return e.Resource
}

// clockElapsed is m:ss, or h:mm:ss past an hour.
func clockElapsed(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func shortRevision(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
