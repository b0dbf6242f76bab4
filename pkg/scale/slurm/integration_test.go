package slurm_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/internal/testbed/moto"
	slurmbed "github.com/driftless/driftless/internal/testbed/slurm"
	"github.com/driftless/driftless/pkg/scale"
	"github.com/driftless/driftless/pkg/scale/asgfleet"
	"github.com/driftless/driftless/pkg/scale/internal/scaletest"
	"github.com/driftless/driftless/pkg/scale/remote"
	"github.com/driftless/driftless/pkg/scale/slurm"
)

// world is a real Slurm beside an Auto Scaling group on the emulator. boot
// plays the cloud: every in-service instance without a node gets a node
// slot whose slurmd starts with the instance id in its Comment, and every
// node whose instance left the group stops.
type world struct {
	t     *testing.T
	ctx   context.Context
	sl    *slurmbed.Cluster
	fleet *asgfleet.Fleet
	group string
	// nodeOf maps instance ids to node slots.
	nodeOf map[string]string
}

func (w *world) boot() {
	w.t.Helper()
	g, err := w.fleet.Group(w.ctx, w.group)
	if err != nil {
		w.t.Fatal(err)
	}
	live := map[string]bool{}
	for _, in := range g.Instances {
		if !in.InService() {
			continue
		}
		live[in.ID] = true
		if _, ok := w.nodeOf[in.ID]; ok {
			continue
		}
		used := map[string]bool{}
		for _, n := range w.nodeOf {
			used[n] = true
		}
		slot := ""
		for _, n := range w.sl.Nodes() {
			if !used[n] && !w.sl.Running(n) && w.state(n) != "" {
				slot = n
				break
			}
		}
		if slot == "" {
			w.t.Fatalf("no node slot left for %s", in.ID)
		}
		if err := w.sl.StartNode(w.ctx, slot, in.ID); err != nil {
			w.t.Fatal(err)
		}
		w.nodeOf[in.ID] = slot
		w.t.Logf("instance %s booted as %s", in.ID, slot)
	}
	for id, n := range w.nodeOf {
		if !live[id] {
			if err := w.sl.StopNode(w.ctx, n); err != nil {
				w.t.Fatal(err)
			}
			delete(w.nodeOf, id)
			w.t.Logf("instance %s of %s is gone", id, n)
		}
	}
}

func (w *world) group_() scale.Group {
	w.t.Helper()
	g, err := w.fleet.Group(w.ctx, w.group)
	if err != nil {
		w.t.Fatal(err)
	}
	return g
}

func (w *world) state(node string) string {
	w.t.Helper()
	st, err := w.sl.NodeState(w.ctx, node)
	if err != nil {
		w.t.Fatal(err)
	}
	return st
}

func round(t *testing.T, l *scale.Loop, ctx context.Context, now time.Time) scale.Report {
	t.Helper()
	rep, err := l.RunOnce(ctx, now)
	if err != nil {
		t.Fatalf("round at %s: %v", now.Format(time.TimeOnly), err)
	}
	for _, g := range rep.Groups {
		d := g.Decision
		t.Logf("round %s: desired %d->%d (%s) drained %v resumed %v terminated %v kept %d",
			now.Format(time.TimeOnly), g.Group.Desired, d.Desired, d.DesiredReason, g.Drained, g.Resumed, g.Terminated, len(g.Kept))
	}
	return rep
}

// TestFleetLoopAgainstSlurm is the end-to-end check of the fleet loop: a
// real Slurm 22.05, the real Auto Scaling client against the emulator.
func TestFleetLoopAgainstSlurm(t *testing.T) {
	sl := slurmbed.Start(t, slurmbed.Options{Nodes: 5, CPUs: 2})
	srv := moto.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	cfg := srv.AWSConfig()
	const min, max = 1, 4
	name := scaletest.Group(t, ctx, cfg, min, 1, max)
	w := &world{t: t, ctx: ctx, sl: sl, group: name, nodeOf: map[string]string{},
		fleet: asgfleet.New(autoscaling.NewFromConfig(cfg), ec2.NewFromConfig(cfg))}
	w.boot()

	sched, err := slurm.New(&remote.Local{Env: sl.Env}, nil)
	if err != nil {
		t.Fatal(err)
	}
	metrics := scale.NewMetrics()
	reg := prometheus.NewPedanticRegistry()
	if err := metrics.Register(reg); err != nil {
		t.Fatal(err)
	}
	qcfg := scale.DefaultConfig()
	qcfg.IdleTime = 10 * time.Minute
	racer := &racing{Scheduler: sched}
	loop, err := scale.NewLoop(scale.LoopConfig{
		Cluster: "hpc", Scheduler: racer, Fleet: w.fleet, Metrics: metrics,
		Queues: []scale.Queue{{Name: "compute", Group: name, Config: qcfg}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The loop's clock is simulated, starting at the real time so Slurm's
	// own timestamps (last_busy) stay in the past.
	now := time.Now()
	tick := func(d time.Duration) time.Time { now = now.Add(d); return now }

	// 1. A job that needs more nodes than are up: desired capacity rises
	// on the emulator in one iteration.
	job, err := sl.Submit(ctx, "-N", "3", "--wrap", "sleep 1")
	if err != nil {
		t.Fatal(err)
	}
	round(t, loop, ctx, tick(0))
	if g := w.group_(); g.Desired != 3 {
		t.Fatalf("after one round desired = %d, want 3", g.Desired)
	}
	if got := sumMetric(t, reg, "driftless_scale_actions_total"); got != 2 {
		t.Errorf("scale-up actions = %v, want 2", got)
	}
	w.boot()
	if err := sl.WaitJobsDone(ctx, 90*time.Second); err != nil {
		t.Fatalf("job %s: %v", job, err)
	}

	// 2. Nodes idle past the idle time are drained, re-checked and
	// terminated, never below the minimum. A job lands on the first node
	// right before its drain, between the loop's look and its action: the
	// re-check finds it draining with a job, so it is resumed and kept.
	round(t, loop, ctx, tick(time.Minute)) // idle clocks start
	var raced, racedJob string
	racer.before = func(node string) {
		raced = node
		if racedJob, err = sl.Submit(ctx, "-w", node, "--wrap", "sleep 3"); err != nil {
			t.Fatal(err)
		}
		if err := waitState(ctx, sl, racedJob, "RUNNING"); err != nil {
			t.Fatal(err)
		}
	}
	rep := round(t, loop, ctx, tick(11*time.Minute))
	gr := rep.Groups[0]
	if len(gr.Drained) != 2 {
		t.Fatalf("drained %v, want 2 nodes (3 up, minimum 1)", gr.Drained)
	}
	gone := gr.Drained[1]
	if gr.Drained[0] != raced || !slices.Equal(gr.Resumed, []string{raced}) || !slices.Equal(gr.Terminated, []string{gone}) {
		t.Fatalf("drained %v resumed %v terminated %v; want %s kept and %s terminated",
			gr.Drained, gr.Resumed, gr.Terminated, raced, gone)
	}
	if g := w.group_(); g.Desired != 2 || g.InService() != 2 {
		t.Fatalf("after one termination: desired %d in service %d, want 2", g.Desired, g.InService())
	}
	// sinfo adds "*" while a loaded machine's slurmd is slow to answer.
	if st := strings.TrimSuffix(w.state(raced), "*"); st != "allocated" && st != "mixed" {
		t.Errorf("kept node %s is %q, want it running its job", raced, st)
	}
	// Remove deletes the node (22.05 deletes an unused node even when
	// slurm.conf lists it) or, where it cannot, sets it down.
	if st := w.state(gone); st != "" && !strings.HasPrefix(st, "down") {
		t.Errorf("terminated node %s is %q in Slurm, want it deleted or down", gone, st)
	}
	w.boot()
	if err := sl.WaitJobsDone(ctx, 60*time.Second); err != nil {
		t.Fatalf("job on the kept node: %v", err)
	}
	if got := sumMetric(t, reg, "driftless_scale_drains_cancelled_total"); got != 1 {
		t.Errorf("drains cancelled = %v, want 1", got)
	}

	// 4. Everything idle for long: the group shrinks to its minimum and
	// not below, and the last node is never drained.
	for range 6 {
		round(t, loop, ctx, tick(11*time.Minute))
		w.boot()
		if g := w.group_(); g.Desired < min || g.InService() < min {
			t.Fatalf("group below its minimum: %+v", g)
		}
	}
	g := w.group_()
	if g.Desired != min || g.InService() != min || len(w.nodeOf) != min {
		t.Fatalf("after the idle rounds: desired %d, in service %d, nodes %v", g.Desired, g.InService(), w.nodeOf)
	}
	for _, n := range w.nodeOf {
		if st := w.state(n); st != "idle" {
			t.Errorf("last node %s is %q, want idle", n, st)
		}
	}
	if n := sumMetric(t, reg, "driftless_scale_nodes"); n != 3 {
		t.Errorf("nodes metric sums to %v, want 3 (5 slots, 2 deleted)", n)
	}
}

// racing is the real Slurm adapter with a hook that runs once, right
// before the next drain: a way to land a job between the loop's look at
// the scheduler and its drain, deterministically.
type racing struct {
	scale.Scheduler
	before func(node string)
}

func (r *racing) Drain(ctx context.Context, node, reason string) error {
	if f := r.before; f != nil {
		r.before = nil
		f(node)
	}
	return r.Scheduler.Drain(ctx, node, reason)
}

func waitState(ctx context.Context, sl *slurmbed.Cluster, job, want string) error {
	var st string
	for range 50 {
		var err error
		if st, err = sl.JobState(ctx, job); err != nil {
			return err
		}
		if st == want {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("job %s is %q, want %s", job, st, want)
}

// sumMetric sums every series of a counter or gauge family.
func sumMetric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}
