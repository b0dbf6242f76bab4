package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/source"
	"github.com/driftless/driftless/pkg/spec"
)

// Source gives the loop one whole checkout of the cluster repo.
type Source interface {
	Fetch(ctx context.Context) (source.Snapshot, error)
}

// Observer lists our live stacks with their groups.
type Observer interface {
	Observe(ctx context.Context) ([]diff.Live, error)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(ctx context.Context) ([]diff.Live, error)

// Observe calls f.
func (f ObserverFunc) Observe(ctx context.Context) ([]diff.Live, error) { return f(ctx) }

// Applier carries out one cluster's change.
type Applier interface {
	Apply(ctx context.Context, ch diff.Change, revision string) (apply.Result, error)
}

// Options are the daemon settings the loop reads.
type Options struct {
	// Prune allows deleting stacks whose spec left the repo.
	Prune bool
	// PruneLimit caps deletes per cycle; see diff.Input.PruneLimit.
	PruneLimit int
	// Concurrency is how many clusters are applied at once (default 4).
	Concurrency int
	// Interval is the poll interval between cycles (default 1 minute).
	Interval time.Duration
	// DryRun plans but applies nothing.
	DryRun bool
	// Background lets applies run on after their cycle ends: the daemon's
	// mode, so a slow cluster holds up no other and no cycle. A cycle
	// waits CycleWait for its applies (zero: not at all), then leaves the
	// rest running. Without Background a cycle waits for all its applies
	// (reconciler apply).
	Background bool
	CycleWait  time.Duration
	// After returns a channel that fires after d, for CycleWait; nil
	// means time.After.
	After func(d time.Duration) <-chan time.Time
	// RetryBase and RetryMax bound the backoff of a cluster whose applies
	// keep failing (defaults DefaultRetryBase, DefaultRetryMax).
	RetryBase, RetryMax time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand draws the jitter of backoffs from [0, 1); nil means
	// math/rand/v2.
	Rand func() float64
	// Preflight, when set, checks each cluster against the account
	// before a create, update or recreate; a cluster that fails is held
	// and nothing is sent to CloudFormation for it.
	Preflight Preflight
}

// Reconciler runs cycles. Make one with New.
type Reconciler struct {
	src     Source
	obs     Observer
	app     Applier
	opts    Options
	log     *slog.Logger
	metrics *Metrics
	status  *Statuses
	now     func() time.Time
	sched   *scheduler

	// refusals remembers the prune guard last logged per cluster, so a
	// refusal is logged when it starts or changes, not every cycle.
	refusals map[string]string

	// reported remembers the errors last logged per file, so a broken
	// spec is logged when it changes, not every cycle.
	reported map[string]string
}

// New builds a reconciler. metrics may be nil.
func New(src Source, obs Observer, app Applier, opts Options, log *slog.Logger, metrics *Metrics) *Reconciler {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	if metrics == nil {
		metrics = NewMetrics()
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = DefaultRetryBase
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = DefaultRetryMax
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Reconciler{
		src: src, obs: obs, app: app, opts: opts, log: log, metrics: metrics,
		status: NewStatuses(), now: now, reported: make(map[string]string),
		sched: newScheduler(opts.Concurrency), refusals: make(map[string]string),
	}
}

// Statuses returns the live status table.
func (r *Reconciler) Statuses() *Statuses { return r.status }

// Cycle is one planned cycle: what was read and what would be done.
type Cycle struct {
	Revision string
	// Invalid maps each broken spec file to its errors (spec or render).
	Invalid map[string]spec.Errors
	// InvalidFiles maps a cluster whose spec is broken to its files.
	InvalidFiles map[string][]string
	Changes      []diff.Change
}

// Outcome is what happened to one cluster in a cycle.
type Outcome struct {
	Change diff.Change
	Result apply.Result
	Err    error
	// Started is set when the cycle started an apply of the change. With
	// Options.Background its Result and Err stay empty when it ended after
	// the cycle let go of it.
	Started bool
	// ended is set when Result and Err hold the apply's end.
	ended bool
	// Deferred says why a change that needs work was not started (one of
	// the Deferred* values).
	Deferred string
}

// Report is a finished cycle.
type Report struct {
	Cycle
	Outcomes []Outcome
}

// Failed counts the clusters whose apply failed, or whose stack is in a
// failed state.
func (r *Report) Failed() int {
	n := 0
	for _, o := range r.Outcomes {
		if o.Err != nil {
			n++
		}
	}
	return n
}

// Plan fetches, loads, renders and observes, and returns what a cycle
// would do. It changes nothing.
func (r *Reconciler) Plan(ctx context.Context) (*Cycle, error) {
	snap, err := r.src.Fetch(ctx)
	r.metrics.fetch(err == nil)
	if err != nil {
		return nil, fmt.Errorf("fetch cluster repo: %w", err)
	}
	// Files are named by their path in the repo, so every message points
	// at the file a person edits.
	files := make(map[string][]byte, len(snap.Files))
	for name, data := range snap.Files {
		files[path.Join(snap.Dir, name)] = data
	}
	set := spec.Load(files)
	invalid := make(map[string]spec.Errors, len(set.Invalid)+len(snap.Skipped))
	for f, es := range set.Invalid {
		invalid[f] = es
	}
	invalidNames := append([]string(nil), set.InvalidNames...)
	invalidFiles := make(map[string][]string, len(set.InvalidFiles))
	for name, fs := range set.InvalidFiles {
		invalidFiles[name] = append([]string(nil), fs...)
	}
	nameUnknown := set.NameUnknown
	for name, why := range snap.Skipped {
		// A file the source would not read (too large, a symlink) may
		// declare a live cluster: it is broken, not deleted.
		f := path.Join(snap.Dir, name)
		invalid[f] = spec.Errors{{File: f, Msg: "not read: " + why.Error()}}
		nameUnknown = true
	}
	var stacks []*render.Stack
	recreate := make(map[string]bool)
	for _, c := range set.Clusters {
		st, err := render.Render(c)
		if err != nil {
			invalid[c.File] = spec.Errors{{File: c.File, Msg: "render: " + err.Error()}}
			invalidNames = append(invalidNames, c.Name)
			invalidFiles[c.Name] = append(invalidFiles[c.Name], c.File)
			continue
		}
		stacks = append(stacks, st)
		if c.Policy.RecreateFailed {
			recreate[c.Name] = true
		}
	}
	r.reportInvalid(invalid)

	live, err := r.observe(ctx, stacks)
	if err != nil {
		return nil, fmt.Errorf("observe live stacks: %w", err)
	}
	changes := diff.Plan(diff.Input{
		Desired:     stacks,
		Invalid:     invalidNames,
		NameUnknown: nameUnknown,
		Live:        live,
		Prune:       r.opts.Prune,
		PruneLimit:  r.opts.PruneLimit,

		RecreateFailed: recreate,
	})
	r.preflight(ctx, changes, set.Clusters)
	return &Cycle{Revision: snap.Revision, Invalid: invalid, InvalidFiles: invalidFiles, Changes: changes}, nil
}

// Reconcile runs one cycle: plan, then apply every change that needs work,
// up to Options.Concurrency clusters at once. A failing cluster does not
// stop the others; its error is in the report and its status. A cluster
// with an apply still running, or backing off after failures, is left
// alone. With Options.Background the cycle waits at most CycleWait for its
// applies.
func (r *Reconciler) Reconcile(ctx context.Context) (*Report, error) {
	start := r.now()
	mark := r.sched.mark()
	c, err := r.Plan(ctx)
	if err != nil {
		r.metrics.cycle(false, r.now().Sub(start).Seconds())
		return nil, err
	}
	rep := &Report{Cycle: *c, Outcomes: make([]Outcome, len(c.Changes))}
	r.recordRefusals(c.Changes)
	r.recordDrift(ctx, c.Changes)
	b := r.dispatch(ctx, rep, mark)
	limit := time.Duration(-1) // all of them
	if r.opts.Background {
		limit = r.opts.CycleWait
	}
	after := r.opts.After
	if after == nil {
		after = time.After
	}
	b.wait(ctx, limit, after)
	r.record(rep)
	end := r.now()
	r.metrics.cycle(true, end.Sub(start).Seconds())
	r.metrics.synced(c.Revision, float64(end.UnixNano())/1e9)
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	return rep, nil
}

// reportInvalid logs each broken file's errors when they differ from what
// was logged before, and publishes the counts.
func (r *Reconciler) reportInvalid(invalid map[string]spec.Errors) {
	counts := make(map[string]int, len(invalid))
	for f, es := range invalid {
		counts[f] = len(es)
		if text := es.Error(); r.reported[f] != text {
			r.reported[f] = text
			for _, e := range es {
				r.log.Warn("invalid spec", "file", e.File, "line", e.Line, "column", e.Column, "field", e.Field, "error", e.Msg)
			}
		}
	}
	for f := range r.reported {
		if _, ok := invalid[f]; !ok {
			delete(r.reported, f)
			r.log.Info("spec valid again", "file", f)
		}
	}
	r.metrics.invalid(counts)
}

// record turns a report into per-cluster statuses and metrics. A cluster
// whose apply ended after the plan was observed keeps the status its apply
// left.
func (r *Reconciler) record(rep *Report) {
	now := r.now()
	keep := make(map[string]bool)
	for _, o := range rep.Outcomes {
		ch := o.Change
		keep[ch.Cluster] = true
		switch {
		case o.Deferred == DeferredStale:
			continue
		case o.Started && !o.ended && !r.running(ch.Cluster):
			continue // ended after the cycle let go; its end set the status
		case o.ended && ch.Action == diff.Delete && o.Err == nil:
			delete(keep, ch.Cluster) // gone
			continue
		}
		st := r.clusterStatus(rep.Revision, o, now)
		st = heldByPreflight(st, ch)
		if ch.Action == diff.Skip {
			if msg := rep.invalidMessage(ch.Cluster); msg != "" {
				st.Message = msg
			}
		}
		r.status.set(st)
	}
	gone := r.status.retain(keep)
	r.metrics.conditions(r.status.List(), gone)
}

// invalidMessage quotes the errors of a broken cluster's files, so its
// status names the file, line and field to fix.
func (c *Cycle) invalidMessage(cluster string) string {
	var lines []string
	for _, f := range c.InvalidFiles[cluster] {
		for _, e := range c.Invalid[f] {
			lines = append(lines, e.Error())
		}
	}
	return strings.Join(lines, "; ")
}
