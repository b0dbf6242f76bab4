package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/internal/testbed/moto"
	slurmbed "github.com/driftless/driftless/internal/testbed/slurm"
	"github.com/driftless/driftless/internal/testbed/sshserver"
	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/observe"
	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/scale"
	"github.com/driftless/driftless/pkg/scale/asgfleet"
	"github.com/driftless/driftless/pkg/spec"
)

// world is a live Slurm cluster as the daemon sees it: a stack created
// from a rendered spec on the emulator, whose compute group's instances
// boot as nodes of a real Slurm (each slurmd started with its instance id
// in the node's Comment), and the reconcile cycle's changes for it.
type world struct {
	t      *testing.T
	ctx    context.Context
	sl     *slurmbed.Cluster
	fleet  *asgfleet.Fleet
	ec2    *ec2.Client
	group  string
	nodeOf map[string]string // instance id → node slot
	// cfn, asg and spec let a test change the live cluster's stack.
	cfn  *cloudformation.Client
	asg  *autoscaling.Client
	spec *spec.Cluster
}

func newWorld(t *testing.T, ctx context.Context, slots int) (*world, []diff.Change) {
	t.Helper()
	sl := slurmbed.Start(t, slurmbed.Options{Nodes: slots, CPUs: 2})
	srv := moto.Start(t)
	cfg := srv.AWSConfig()
	cfn, asg, ec := cloudformation.NewFromConfig(cfg), autoscaling.NewFromConfig(cfg), ec2.NewFromConfig(cfg)
	net := moto.NewNetwork(t, ctx, ec)
	doc := fmt.Sprintf(`version: 1
name: hpc
region: us-east-1
scheduler: slurm
vpc: %s
headNode:
  instanceType: t3.medium
  subnet: %s
  sshFrom: 192.0.2.0/24
compute:
  - name: compute
    instanceType: c5.large
    minNodes: 1
    maxNodes: 4
`, net.VPC, net.Subnet)
	c, errs := spec.Parse("clusters/hpc.yaml", []byte(doc))
	if len(errs) > 0 {
		t.Fatalf("spec: %v", errs)
	}
	st, err := render.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	app := &apply.Applier{Stacks: cfn, Groups: asg, Images: ssm.NewFromConfig(cfg), Log: slog.New(slog.DiscardHandler), PollInterval: 100 * time.Millisecond, Timeout: time.Minute}
	if _, err := app.Apply(ctx, diff.Change{Cluster: "hpc", Action: diff.Create, Desired: st}, "rev1"); err != nil {
		t.Fatalf("create the stack: %v", err)
	}
	lives, err := observe.Observe(ctx, cfn, asg)
	if err != nil {
		t.Fatal(err)
	}
	changes := diff.Plan(diff.Input{Desired: []*render.Stack{st}, Live: lives})
	w := &world{t: t, ctx: ctx, sl: sl, fleet: asgfleet.New(asg, ec), ec2: ec,
		group: render.GroupName("hpc", "compute"), nodeOf: map[string]string{}, cfn: cfn, asg: asg, spec: c}
	w.boot()
	return w, changes
}

// boot plays the cloud: every in-service instance without a node gets a
// free node slot, and every node whose instance left the group stops.
func (w *world) boot() {
	w.t.Helper()
	g := w.groupNow()
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
		i := slices.IndexFunc(w.sl.Nodes(), func(n string) bool { return !used[n] && !w.sl.Running(n) })
		if i < 0 {
			w.t.Fatalf("no node slot left for %s", in.ID)
		}
		slot := w.sl.Nodes()[i]
		if err := w.sl.StartNode(w.ctx, slot, in.ID); err != nil {
			w.t.Fatal(err)
		}
		w.nodeOf[in.ID] = slot
	}
	for id, n := range w.nodeOf {
		if !live[id] {
			if err := w.sl.StopNode(w.ctx, n); err != nil {
				w.t.Fatal(err)
			}
			delete(w.nodeOf, id)
		}
	}
}

func (w *world) groupNow() scale.Group {
	w.t.Helper()
	g, err := w.fleet.Group(w.ctx, w.group)
	if err != nil {
		w.t.Fatal(err)
	}
	return g
}

// run starts a manager over the world with a fake clock starting at the
// real time (Slurm's own timestamps stay in the past) and returns it with
// its rounds.
func (w *world) run(connect Connector, reg *prometheus.Registry) (*Manager, *fakeClock, chan Round) {
	w.t.Helper()
	metrics := scale.NewMetrics()
	if err := metrics.Register(reg); err != nil {
		w.t.Fatal(err)
	}
	clock := newClockAt(time.Now())
	rounds := make(chan Round, 10)
	m, err := New(Config{Interval: time.Hour, Connect: connect, Fleet: w.fleet, InstanceTypes: w.ec2,
		Metrics: metrics, Now: clock.Now, After: clock.After, OnRound: func(r Round) { rounds <- r }})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	w.t.Cleanup(func() { cancel(); <-done })
	return m, clock, rounds
}

func next(t *testing.T, rounds chan Round) Round {
	t.Helper()
	select {
	case r := <-rounds:
		for _, g := range r.Report.Groups {
			t.Logf("round %s: desired %d->%d (%s) drained %v terminated %v; next in %v",
				r.At.Format(time.TimeOnly), g.Group.Desired, g.Decision.Desired, g.Decision.DesiredReason,
				g.Drained, g.Terminated, r.Next.Sub(r.At))
		}
		return r
	case <-time.After(2 * time.Minute):
		t.Fatal("no fleet round")
	}
	return Round{}
}

// TestManagerAgainstSlurm is the daemon's side of the fleet loop end to
// end: targets from a reconcile cycle's changes, the manager's own
// goroutine and clock, the local transport to a real Slurm 22.05 and the
// real Auto Scaling client against the emulator. A job that needs more
// nodes than are up raises the desired capacity in the first round; once
// the job is done the nodes are retired at their idle deadline (the
// manager wakes for it), down to the group's minimum.
func TestManagerAgainstSlurm(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	w, changes := newWorld(t, ctx, 4)
	targets := FromChanges(changes, nil)
	if len(targets) != 1 || targets[0].HeadNode == "" || targets[0].Queues[0].Group != w.group {
		t.Fatalf("targets %+v", targets)
	}
	if got := w.groupNow(); got.Desired != 1 || len(w.nodeOf) != 1 {
		t.Fatalf("group before: desired %d, nodes %v", got.Desired, w.nodeOf)
	}
	job, err := w.sl.Submit(ctx, "-N", "3", "--wrap", "sleep 1")
	if err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewPedanticRegistry()
	m, clock, rounds := w.run(Transport{Local: true, Env: w.sl.Env}.Connect, reg)
	m.Sync(targets)
	r := next(t, rounds)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if g := w.groupNow(); g.Desired != 3 || r.Report.Groups[0].DesiredSet != 3 {
		t.Fatalf("after one round desired = %d (set %d), want 3", g.Desired, r.Report.Groups[0].DesiredSet)
	}
	// n1 went idle in that round's look: the next round is due at its
	// idle deadline, not an hour later.
	if d := r.Next.Sub(r.At); d > scale.DefaultConfig().IdleTime {
		t.Fatalf("next round in %v", d)
	}

	w.boot()
	if err := w.sl.WaitJobsDone(ctx, 2*time.Minute); err != nil {
		t.Fatalf("job %s: %v", job, err)
	}
	// Rounds at the wakes until the idle nodes are gone; never below the
	// minimum.
	for range 4 {
		clock.waitTimers(1)
		clock.advance(r.Next.Sub(clock.Now()) + time.Second)
		r = next(t, rounds)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		w.boot()
		if g := w.groupNow(); g.Desired < 1 || g.InService() < 1 {
			t.Fatalf("group below its minimum: %+v", g)
		}
		if len(r.Report.Groups[0].Terminated) > 0 {
			break
		}
	}
	gr := r.Report.Groups[0]
	if len(gr.Terminated) != 2 {
		t.Fatalf("terminated %v, want the two idle nodes above the minimum", gr.Terminated)
	}
	if g := w.groupNow(); g.Desired != 1 || g.InService() != 1 {
		t.Fatalf("after retiring: desired %d, in service %d", g.Desired, g.InService())
	}
	// The idle time means what it says: the nodes had been idle for 10
	// minutes by the scheduler's own clock.
	for _, n := range r.Report.Groups[0].Decision.Drain {
		since, err := time.Parse(time.RFC3339, strings.TrimPrefix(n.Reason, scale.DrainReasonPrefix+" idle since "))
		if err != nil {
			t.Fatalf("drain reason %q", n.Reason)
		}
		if idle := r.At.Sub(since); idle < 10*time.Minute {
			t.Errorf("%s drained after %v idle", n.Node, idle)
		}
	}

	// The cluster goes away: its loop stops and its series go.
	m.Sync(nil)
	for deadline := time.Now().Add(time.Minute); strings.Contains(gather(t, reg), `cluster="hpc"`); {
		if time.Now().After(deadline) {
			t.Fatalf("series of a removed cluster remain:\n%s", gather(t, reg))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestManagerOverSSH reaches the head node as the daemon does by default:
// SSH to the address of the stack's head node (here a real sshd on
// 127.0.0.1), key and known_hosts from the daemon's configuration, the host
// key checked. One round raises the desired capacity; a known_hosts file
// without the head node's key stops the loop at the handshake.
func TestManagerOverSSH(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	w, changes := newWorld(t, ctx, 3)
	srv := sshserver.Start(t)
	targets := FromChanges(changes, nil)
	targets[0].HeadNode = srv.Host
	if _, err := w.sl.Submit(ctx, "-N", "2", "--wrap", "sleep 1"); err != nil {
		t.Fatal(err)
	}
	tr := Transport{
		SSH: SSH{User: srv.User, Port: srv.Port, KeyFile: srv.ClientKeyFile, KnownHostsFile: srv.KnownHostsFile},
		Env: append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, w.sl.Env...),
	}

	// A wrong host key first: the loop never gets to the scheduler.
	other := t.TempDir() + "/known_hosts"
	srv.WriteKnownHosts(t, other, sshserver.NewKey(t, t.TempDir()+"/other"))
	bad := tr
	bad.SSH.KnownHostsFile = other
	sched, closer, err := bad.Connect(ctx, targets[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sched.Snapshot(ctx); err == nil || !strings.Contains(err.Error(), "key") {
		t.Fatalf("snapshot with a wrong host key: %v", err)
	}
	closer.Close()

	m, _, rounds := w.run(tr.Connect, prometheus.NewPedanticRegistry())
	m.Sync(targets)
	r := next(t, rounds)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if g := w.groupNow(); g.Desired != 2 {
		t.Fatalf("after one round over ssh desired = %d, want 2", g.Desired)
	}
}

func gather(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			fmt.Fprintln(&b, mf.GetName(), m.GetLabel())
		}
	}
	return b.String()
}
