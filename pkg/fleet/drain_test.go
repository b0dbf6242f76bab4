package fleet

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/observe"
	"github.com/driftless/driftless/pkg/render"
)

// drainBed is a live Slurm cluster with a job running on its one node,
// its fleet loop in a manager, and an approved change that needs the
// fleet stopped (the queue's maximum 4 → 5), carried out by a Healer
// whose clock the test moves.
type drainBed struct {
	w      *world
	m      *Manager
	healer *apply.Healer
	change diff.Change
	job    string
	node   string

	mu  sync.Mutex
	now time.Time
}

func newDrainBed(t *testing.T, ctx context.Context, sleep string) *drainBed {
	t.Helper()
	w, _ := newWorld(t, ctx, 2)
	if len(w.nodeOf) != 1 {
		t.Fatalf("nodes %v, want one", w.nodeOf)
	}
	b := &drainBed{w: w, now: time.Now()}
	for _, n := range w.nodeOf {
		b.node = n
	}
	job, err := w.sl.Submit(ctx, "-N", "1", "--wrap", "sleep "+sleep)
	if err != nil {
		t.Fatal(err)
	}
	b.job = job
	b.waitJob(t, "RUNNING")

	lives, err := observe.Observe(ctx, w.cfn, w.asg)
	if err != nil {
		t.Fatal(err)
	}
	targets := FromChanges(diff.Plan(diff.Input{Desired: []*render.Stack{b.render(t, 4)}, Live: lives}), nil)
	b.m, _, _ = w.run(Transport{Local: true, Env: w.sl.Env}.Connect, prometheus.NewPedanticRegistry())
	b.m.Sync(targets)

	live := lives[slices.IndexFunc(lives, func(l diff.Live) bool { return l.Cluster == "hpc" })]
	b.change = diff.Change{Cluster: "hpc", Action: diff.Update, StopFleet: true, Desired: b.render(t, 5), Live: &live,
		Fields: []diff.FieldChange{{Path: "compute[compute].maxNodes", StopFleet: true, Approved: true}}}
	app := &apply.Applier{Stacks: w.cfn, Groups: w.asg, Log: slog.New(slog.DiscardHandler), PollInterval: 100 * time.Millisecond, Timeout: time.Minute}
	b.healer = &apply.Healer{Stacks: app, Groups: w.asg, Drainer: b.m, DrainTimeout: time.Hour,
		PollInterval: 100 * time.Millisecond, Timeout: time.Minute, Now: b.clock}
	return b
}

func (b *drainBed) clock() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.now
}

func (b *drainBed) advance(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = b.now.Add(d)
}

// render is the spec with the queue's maximum set to maxNodes.
func (b *drainBed) render(t *testing.T, maxNodes int) *render.Stack {
	t.Helper()
	c := *b.w.spec
	c.Compute = slices.Clone(c.Compute)
	c.Compute[0].MaxNodes = maxNodes
	st, err := render.Render(&c)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (b *drainBed) waitJob(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		st, err := b.w.sl.JobState(b.w.ctx, b.job)
		if err != nil {
			t.Fatal(err)
		}
		if st == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %q, want %q", b.job, st, want)
		}
	}
}

// group is the compute group's limits and desired capacity.
func (b *drainBed) group(t *testing.T) (lo, hi, desired int) {
	t.Helper()
	g := b.w.groupNow()
	return g.Min, g.Max, g.Desired
}

func (b *drainBed) liveHash(t *testing.T) string {
	t.Helper()
	lives, err := observe.Observe(b.w.ctx, b.w.cfn, b.w.asg)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lives {
		if l.Cluster == "hpc" {
			return l.Hash
		}
	}
	t.Fatal("no live stack hpc")
	return ""
}

// TestApprovedChangeWaitsForJobs: with a job running, the approved change
// drains the node, pauses the fleet loop and leaves the stack and the
// group alone, cycle after cycle; once the job has ended, the next try
// stops the fleet, updates the stack, restores the group with the new
// maximum and resumes the node.
func TestApprovedChangeWaitsForJobs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := newDrainBed(t, ctx, "15")
	before := b.liveHash(t)

	for range 2 {
		_, err := b.healer.Apply(ctx, b.change, "rev2")
		var draining *apply.DrainingError
		if !errors.As(err, &draining) || draining.Jobs != 1 {
			t.Fatalf("apply with a job running: %v, want a DrainingError for one job", err)
		}
		t.Log(err)
		b.advance(10 * time.Minute)
	}
	if st, _ := b.w.sl.NodeState(ctx, b.node); !strings.Contains(st, "drain") {
		t.Errorf("node %s is %q, want draining", b.node, st)
	}
	if !b.m.Paused("hpc") {
		t.Error("the fleet loop is not paused while the node drains")
	}
	if h := b.liveHash(t); h != before {
		t.Error("the stack was updated while the job ran")
	}
	if lo, hi, d := b.group(t); lo != 1 || hi != 4 || d != 1 || b.w.groupNow().InService() != 1 {
		t.Errorf("group %d/%d desired %d while the job ran, want 1/4 desired 1 with its node", lo, hi, d)
	}

	if err := b.w.sl.WaitJobsDone(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := b.healer.Apply(ctx, b.change, "rev2"); err != nil {
		t.Fatalf("apply after the job ended: %v", err)
	}
	if h := b.liveHash(t); h != b.change.Desired.Hash {
		t.Errorf("live hash %s after the update, want %s", h, b.change.Desired.Hash)
	}
	if lo, hi, d := b.group(t); lo != 1 || hi != 5 || d != 1 {
		t.Errorf("group %d/%d desired %d after the update, want 1/5 desired 1", lo, hi, d)
	}
	if st, _ := b.w.sl.NodeState(ctx, b.node); strings.Contains(st, "drain") {
		t.Errorf("node %s is %q after the update, want resumed", b.node, st)
	}
	if b.m.Paused("hpc") {
		t.Error("the fleet loop is still paused after the update")
	}
}

// TestApprovedChangeDrainTimeout: a job that outlasts the drain timeout
// is never killed; the change stays unapplied, the node drained, until
// the change is reverted, which resumes the node.
func TestApprovedChangeDrainTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := newDrainBed(t, ctx, "600")
	before := b.liveHash(t)

	_, err := b.healer.Apply(ctx, b.change, "rev2")
	var draining *apply.DrainingError
	if !errors.As(err, &draining) {
		t.Fatalf("first apply: %v, want a DrainingError", err)
	}
	b.advance(time.Hour + time.Minute)
	_, err = b.healer.Apply(ctx, b.change, "rev2")
	var timeout *apply.DrainTimeoutError
	if !errors.As(err, &timeout) || timeout.Jobs != 1 || !strings.Contains(err.Error(), apply.ForceStopApproval) {
		t.Fatalf("apply past the drain timeout: %v, want a DrainTimeoutError naming %s", err, apply.ForceStopApproval)
	}
	t.Log(err)
	if st, err := b.w.sl.JobState(ctx, b.job); err != nil || st != "RUNNING" {
		t.Errorf("job %s is %q (%v), want still running", b.job, st, err)
	}
	if h := b.liveHash(t); h != before {
		t.Error("the stack was updated although the drain timed out")
	}
	if lo, hi, d := b.group(t); lo != 1 || hi != 4 || d != 1 || b.w.groupNow().InService() != 1 {
		t.Errorf("group %d/%d desired %d after the timeout, want 1/4 desired 1 with its node", lo, hi, d)
	}
	if st, _ := b.w.sl.NodeState(ctx, b.node); !strings.Contains(st, "drain") {
		t.Errorf("node %s is %q, want still draining", b.node, st)
	}

	// The change is reverted: the next cycle's plan has nothing to do
	// for the cluster, and its node and loop come back.
	b.m.Settle(ctx, []diff.Change{{Cluster: "hpc", Action: diff.None}})
	if st, _ := b.w.sl.NodeState(ctx, b.node); strings.Contains(st, "drain") {
		t.Errorf("node %s is %q after the revert, want resumed", b.node, st)
	}
	if b.m.Paused("hpc") {
		t.Error("the fleet loop is still paused after the revert")
	}
	if st, err := b.w.sl.JobState(ctx, b.job); err != nil || st != "RUNNING" {
		t.Errorf("job %s is %q (%v) after the revert, want still running", b.job, st, err)
	}
	if _, err := b.w.sl.Command(ctx, "scancel", b.job); err != nil {
		t.Fatal(err)
	}
}

// TestApprovedChangeWithoutScheduler: a cluster the manager runs no loop
// for cannot be drained, so the change waits for fleet.stop=force.
func TestApprovedChangeWithoutScheduler(t *testing.T) {
	m, err := New(Config{Connect: Transport{Local: true}.Connect, Fleet: &memFleet{}})
	if err != nil {
		t.Fatal(err)
	}
	h := &apply.Healer{Drainer: m}
	ch := diff.Change{Cluster: "gone", Action: diff.Update, StopFleet: true,
		Live: &diff.Live{Cluster: "gone", Groups: []diff.LiveGroup{{Name: "g", Max: 2, Desired: 1}}}}
	_, err = h.Apply(t.Context(), ch, "rev")
	if !errors.Is(err, apply.ErrNoScheduler) || !strings.Contains(err.Error(), apply.ForceStopApproval) {
		t.Fatalf("apply: %v, want ErrNoScheduler naming %s", err, apply.ForceStopApproval)
	}
}
