package apply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/driftless/driftless/pkg/diff"
)

// Drainer is what the Healer needs from the scheduler of a cluster whose
// fleet an approved change stops: pkg/fleet implements it over the
// scheduler adapters and the cluster's fleet loop.
type Drainer interface {
	// DrainAll drains every compute node of the cluster with reason and
	// keeps its fleet loop from growing or shrinking it until ResumeAll.
	// It may be called again while the drain goes on: nodes that joined
	// since are drained too. It returns an error wrapping
	// ErrNoScheduler when the cluster has no scheduler to drain.
	DrainAll(ctx context.Context, cluster, reason string) error
	// Busy counts the jobs still running on the cluster's compute nodes.
	Busy(ctx context.Context, cluster string) (jobs int, err error)
	// ResumeAll returns the nodes DrainAll drained to service and lets
	// the fleet loop size the cluster again.
	ResumeAll(ctx context.Context, cluster string) error
}

// DrainReasonPrefix starts the reason DrainAll is given, so the nodes a
// drain for an update left behind can be told from those a person or the
// fleet loop's scale-down drained.
const DrainReasonPrefix = "driftless: approved update"

// DefaultDrainTimeout is how long a cluster's jobs may run on after its
// nodes were drained for an approved change before the daemon stops
// waiting and asks a person.
const DefaultDrainTimeout = 2 * time.Hour

// ForceStopApproval is the line of policy.approve that lets the daemon
// stop a cluster's fleet without draining it first: jobs still running
// are lost. diff.Change.ForceStop says whether the spec carries it.
const ForceStopApproval = diff.ForceStopApproval

// ErrNoScheduler says a cluster's scheduler cannot be reached to drain it
// (no fleet loop runs for it, or it is an awsbatch cluster), so an
// approved change that stops its fleet waits for ForceStopApproval.
var ErrNoScheduler = errors.New("no scheduler to drain the cluster with")

// DrainingError says the cluster's nodes are drained for an approved
// change and jobs still run on them: the change waits, and the next
// cycle looks again. It is not a failure.
type DrainingError struct {
	Cluster string
	Jobs    int
	Since   time.Time
}

func (e *DrainingError) Error() string {
	return fmt.Sprintf("compute nodes of %s drained for the approved change since %s; waiting for %d running jobs to end before stopping the fleet",
		e.Cluster, e.Since.UTC().Format(time.RFC3339), e.Jobs)
}

// DrainTimeoutError says jobs still ran when the drain timeout passed.
// They are not killed: the nodes stay drained and the change waits for a
// person to cancel the jobs or approve ForceStopApproval.
type DrainTimeoutError struct {
	Cluster string
	Jobs    int
	After   time.Duration
}

func (e *DrainTimeoutError) Error() string {
	return fmt.Sprintf("%d jobs still run on %s after %s of drain; they are not killed: cancel them, or add %q to the spec's policy.approve to stop the fleet with them running; reverting the change resumes the nodes",
		e.Jobs, e.Cluster, e.After, ForceStopApproval)
}

// drains remembers, per cluster, when its drain for an approved change
// began and for which desired template; it lives as long as the Healer.
type drains struct {
	mu    sync.Mutex
	since map[string]drainStart
}

type drainStart struct {
	hash string
	at   time.Time
}

// start returns when the drain for the change to hash began: now, unless
// the same change was already draining (another change restarts it).
func (d *drains) start(cluster, hash string, now time.Time) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.since == nil {
		d.since = map[string]drainStart{}
	}
	if s, ok := d.since[cluster]; ok && s.hash == hash {
		return s.at
	}
	d.since[cluster] = drainStart{hash: hash, at: now}
	return now
}

// Adopt takes over prev's drains in progress, so a Healer that replaces
// another (a reloaded configuration) keeps counting their time from when
// they began. Call it before the first Apply.
func (h *Healer) Adopt(prev *Healer) {
	prev.drains.mu.Lock()
	defer prev.drains.mu.Unlock()
	h.drains.mu.Lock()
	defer h.drains.mu.Unlock()
	if h.drains.since == nil {
		h.drains.since = map[string]drainStart{}
	}
	for c, s := range prev.drains.since {
		h.drains.since[c] = s
	}
}

func (d *drains) end(cluster string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.since, cluster)
}

// drainReason names the approved change on the drained nodes.
func drainReason(ch diff.Change, revision string) string {
	var fields []string
	for _, f := range ch.Fields {
		if f.StopFleet && f.Approved {
			fields = append(fields, f.Path)
		}
	}
	r := DrainReasonPrefix
	if len(fields) > 0 {
		r += " of " + strings.Join(fields, ", ")
	}
	if len(revision) > 12 {
		revision = revision[:12]
	}
	if revision != "" {
		r += " (" + revision + ")"
	}
	return r
}

// drained drains the cluster and reports whether its jobs are done: nil
// when the fleet may be stopped now, a *DrainingError while jobs run, a
// *DrainTimeoutError when they ran past the timeout, or the failure.
func (h *Healer) drained(ctx context.Context, log *slog.Logger, ch diff.Change, revision string) error {
	if h.Drainer == nil {
		return fmt.Errorf("%w: the fleet loop is off; add %q to the spec's policy.approve to stop the fleet without draining it", ErrNoScheduler, ForceStopApproval)
	}
	hash := ""
	if ch.Desired != nil {
		hash = ch.Desired.Hash
	}
	since := h.drains.start(ch.Cluster, hash, h.now())
	if err := h.Drainer.DrainAll(ctx, ch.Cluster, drainReason(ch, revision)); err != nil {
		if errors.Is(err, ErrNoScheduler) {
			h.drains.end(ch.Cluster)
			return fmt.Errorf("drain %s: %w; add %q to the spec's policy.approve to stop the fleet without draining it", ch.Cluster, err, ForceStopApproval)
		}
		return fmt.Errorf("drain %s: %w", ch.Cluster, err)
	}
	jobs, err := h.Drainer.Busy(ctx, ch.Cluster)
	if err != nil {
		return fmt.Errorf("count the jobs of %s: %w", ch.Cluster, err)
	}
	if jobs == 0 {
		log.InfoContext(ctx, "compute nodes drained and idle", "drained_for", h.now().Sub(since).Round(time.Second).String())
		return nil
	}
	timeout := h.DrainTimeout
	if timeout <= 0 {
		timeout = DefaultDrainTimeout
	}
	if waited := h.now().Sub(since); waited >= timeout {
		return &DrainTimeoutError{Cluster: ch.Cluster, Jobs: jobs, After: timeout}
	}
	log.InfoContext(ctx, "waiting for jobs on drained nodes before stopping the fleet", "jobs", jobs)
	return &DrainingError{Cluster: ch.Cluster, Jobs: jobs, Since: since}
}

// resume returns the drained nodes to service once the change is done.
func (h *Healer) resume(ctx context.Context, log *slog.Logger, cluster string) error {
	h.drains.end(cluster)
	if err := h.Drainer.ResumeAll(ctx, cluster); err != nil {
		return fmt.Errorf("resume the nodes of %s: %w", cluster, err)
	}
	log.InfoContext(ctx, "compute nodes resumed")
	return nil
}
