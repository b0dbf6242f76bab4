package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/driftless/driftless/internal/testbed/prometheus"
	slurmbed "github.com/driftless/driftless/internal/testbed/slurm"
	"github.com/driftless/driftless/pkg/awsclient"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/fleet"
	"github.com/driftless/driftless/pkg/reconcile"
	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/scale/asgfleet"
	"github.com/driftless/driftless/pkg/sdnotify"
	"github.com/driftless/driftless/pkg/spec"
)

func TestFleetConfig(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       string // an error the config must give, or "" for none
	}{
		{name: "nothing said: on, every minute, over ssh", yaml: ""},
		{name: "ssh with key and known hosts", yaml: "fleet:\n  ssh:\n    user: centos\n    keyFile: /k\n    knownHostsFile: /kh\n"},
		{name: "a key without known hosts: the published host keys", yaml: "fleet:\n  ssh:\n    keyFile: /k\n"},
		{name: "known hosts without a key", yaml: "fleet:\n  ssh:\n    knownHostsFile: /kh\n", want: "fleet.ssh needs keyFile"},
		{name: "ssh settings with the local transport", yaml: "fleet:\n  transport: local\n  ssh:\n    keyFile: /k\n", want: "fleet.ssh applies to fleet.transport ssh"},
		{name: "an unknown transport", yaml: "fleet:\n  transport: ssm\n", want: "fleet.transport must be ssh or local"},
		{name: "an interval under a second", yaml: "fleet:\n  interval: 10ms\n", want: "fleet.interval must be at least 1s"},
		{name: "an environment entry without a name", yaml: "fleet:\n  env: [\"=x\"]\n", want: "fleet.env entries are NAME=value"},
		{name: "a mistyped key", yaml: "fleet:\n  intervall: 1m\n", want: "intervall"},
		{name: "a negative drain timeout", yaml: "fleet:\n  drainTimeout: -1m\n", want: "fleet.drainTimeout must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig("config.yaml", []byte("repo:\n  dir: /srv/clusters\naws:\n  region: us-east-1\n"+tt.yaml))
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.yaml == "" && (!cfg.Fleet.on() || cfg.Fleet.Interval != time.Minute || cfg.Fleet.Transport != "ssh") {
				t.Errorf("defaults %+v", cfg.Fleet)
			}
		})
	}
}

// clock is a fake clock for the daemon's fleet loop: it starts at the real
// time (so a real scheduler's timestamps stay in the past) and its timers
// fire when the test advances it.
type clock struct {
	mu     sync.Mutex
	cond   *sync.Cond
	now    time.Time
	timers []timer
}

type timer struct {
	at time.Time
	ch chan time.Time
}

func newClock() *clock {
	c := &clock{now: time.Now()}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, timer{c.now.Add(d), ch})
	c.cond.Broadcast()
	return ch
}

// advanceTo waits for a timer to be set, then moves the clock to at and
// fires the timers due.
func (c *clock) advanceTo(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.timers) == 0 {
		c.cond.Wait()
	}
	c.now = at
	keep := c.timers[:0]
	for _, tm := range c.timers {
		if tm.at.After(at) {
			keep = append(keep, tm)
		} else {
			tm.ch <- at
		}
	}
	c.timers = keep
}

// fleetBed is a daemon with the fleet loop on, the local transport to a
// real Slurm, and the emulator behind both.
type fleetBed struct {
	*bed
	sl     *slurmbed.Cluster
	clock  *clock
	rounds chan fleet.Round
	run    *running
	asg    *asgfleet.Fleet
	nodeOf map[string]string
}

func newFleetBed(t *testing.T, started func(addr string)) *fleetBed {
	t.Helper()
	sl := slurmbed.Start(t, slurmbed.Options{Nodes: 4, CPUs: 2})
	b := &fleetBed{bed: newBed(t), sl: sl, clock: newClock(), rounds: make(chan fleet.Round, 16), nodeOf: map[string]string{}}
	b.cfg.Prune = true
	b.cfg.Listen = freeAddr(t)
	if started != nil {
		started(b.cfg.Listen)
	}
	b.asg = asgfleet.New(b.bed.asg, b.bed.ec2)
	return b
}

// serve starts the service as serve does, with the fleet loop on the
// bed's clock.
func (b *fleetBed) serve(path string) {
	t := b.t
	t.Helper()
	r := &running{notify: listenNotify(t), reload: make(chan struct{}, 1), done: make(chan error, 1), logs: &syncBuffer{}, path: path}
	b.logs, b.calls = r.logs, &calls{}
	notifier, err := sdnotify.New(r.notify.path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	r.cancel = cancel
	if r.s, err = newService(ctx, serviceOptions{path: path, stderr: r.logs, getenv: os.Getenv, notify: notifier, hook: b.calls.record}); err != nil {
		t.Fatalf("start: %v", err)
	}
	r.s.fleet.now, r.s.fleet.after = b.clock.Now, b.clock.After
	r.s.fleet.onRound = func(rd fleet.Round) { b.rounds <- rd }
	b.reg, r.addr = r.s.reg, r.s.cfg.Listen
	go func() { r.done <- r.s.run(ctx, r.reload) }()
	r.notify.expect(t, r.logs, "READY=1")
	t.Cleanup(func() { r.stop(t) })
	b.run = r
}

// cycle asks the daemon for a reconcile cycle now and waits for it.
func (b *fleetBed) cycle(rev string) {
	b.t.Helper()
	b.run.s.trigger <- struct{}{}
	b.run.cycle(b.t, rev)
}

func (b *fleetBed) round() fleet.Round {
	b.t.Helper()
	select {
	case r := <-b.rounds:
		for _, g := range r.Report.Groups {
			b.t.Logf("%s round: desired %d->%d (%s) terminated %v", r.Cluster, g.Group.Desired, g.Decision.Desired, g.Decision.DesiredReason, g.Terminated)
		}
		return r
	case <-time.After(2 * time.Minute):
		b.t.Fatalf("no fleet round\nlogs:\n%s", b.logs)
	}
	return fleet.Round{}
}

// boot plays the cloud for alpha's group: every in-service instance gets
// a Slurm node with its id in the Comment; nodes whose instance is gone
// stop.
func (b *fleetBed) boot() {
	b.t.Helper()
	g, err := b.asg.Group(b.t.Context(), render.GroupName("alpha", "compute"))
	if err != nil {
		b.t.Fatal(err)
	}
	live := map[string]bool{}
	for _, in := range g.Instances {
		if !in.InService() {
			continue
		}
		live[in.ID] = true
		if _, ok := b.nodeOf[in.ID]; ok {
			continue
		}
		used := slices.Collect(func(yield func(string) bool) {
			for _, n := range b.nodeOf {
				if !yield(n) {
					return
				}
			}
		})
		i := slices.IndexFunc(b.sl.Nodes(), func(n string) bool { return !slices.Contains(used, n) && !b.sl.Running(n) })
		if err := b.sl.StartNode(b.t.Context(), b.sl.Nodes()[i], in.ID); err != nil {
			b.t.Fatal(err)
		}
		b.nodeOf[in.ID] = b.sl.Nodes()[i]
	}
	for id, n := range b.nodeOf {
		if !live[id] {
			if err := b.sl.StopNode(b.t.Context(), n); err != nil {
				b.t.Fatal(err)
			}
			delete(b.nodeOf, id)
		}
	}
}

func (b *fleetBed) desired() (desired, inService int) {
	b.t.Helper()
	g, err := b.asg.Group(b.t.Context(), render.GroupName("alpha", "compute"))
	if err != nil {
		b.t.Fatal(err)
	}
	return g.Desired, g.InService()
}

const batchSpecFmt = `version: 1
name: %s
region: us-east-1
scheduler: awsbatch
vpc: %s
headNode:
  instanceType: t3.medium
  subnet: %s
  sshFrom: 192.0.2.0/24
batch:
  minVCPUs: 0
  desiredVCPUs: 2
  maxVCPUs: 8
`

// fleetRun drives `reconciler run` with the fleet loop on: a Slurm cluster
// reached with the local transport grows for a waiting job in the first
// round after its stack appears and retires its idle nodes at their idle
// deadline down to its minimum; an awsbatch cluster's compute environment
// is observed; a cluster whose spec leaves the repo loses its loop and its
// series. It returns every AWS call the daemon made.
func fleetRun(t *testing.T) []awsclient.Call { return fleetRunWith(t, nil, nil) }

// fleetRunWith is fleetRun; started, when set, is called with the daemon's
// listen address before it starts, and checkpoint once the Slurm cluster
// has grown and shrunk, while its loop still runs.
func fleetRunWith(t *testing.T, started func(addr string), checkpoint func()) []awsclient.Call {
	b := newFleetBed(t, started)
	rev := b.repo.Commit(t, "alpha and jobs", map[string]string{
		"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 4),
		"clusters/jobs.yaml":  fmt.Sprintf(batchSpecFmt, "jobs", b.net.VPC, b.net.Subnet),
	})
	path := filepath.Join(t.TempDir(), "config.yaml")
	b.writeConfig(path, fmt.Sprintf("prune: true\nfleet:\n  transport: local\n  interval: 1h\n  env: [%q]\n", b.sl.Env[0]))
	b.serve(path)
	b.run.cycle(t, rev)
	b.run.settled(t, "alpha", rev)

	// The stack is there: its instance boots as a node, and a job waits
	// for three nodes. The next cycle hands the cluster to the fleet loop,
	// whose first round raises the desired capacity.
	b.boot()
	job, err := b.sl.Submit(t.Context(), "-N", "3", "--wrap", "sleep 1")
	if err != nil {
		t.Fatal(err)
	}
	b.calls.reset()
	b.cycle(rev)
	var alpha fleet.Round
	for seen := map[string]bool{}; !seen["alpha"] || !seen["jobs"]; {
		r := b.round()
		if r.Err != nil {
			t.Fatalf("%s: %v\nlogs:\n%s", r.Cluster, r.Err, b.logs)
		}
		seen[r.Cluster] = true
		if r.Cluster == "alpha" {
			alpha = r
		}
	}
	if d, _ := b.desired(); d != 3 {
		t.Fatalf("desired capacity %d after the first round, want 3\nlogs:\n%s", d, b.logs)
	}
	var sets []string
	for _, c := range b.calls.all() {
		if in, ok := c.Input.(*autoscaling.SetDesiredCapacityInput); ok {
			sets = append(sets, fmt.Sprintf("%s=%d", aws.ToString(in.AutoScalingGroupName), aws.ToInt32(in.DesiredCapacity)))
		}
	}
	if want := []string{render.GroupName("alpha", "compute") + "=3"}; !slices.Equal(sets, want) {
		t.Errorf("SetDesiredCapacity calls %v, want %v", sets, want)
	}
	metrics := b.metricsText()
	for _, want := range []string{
		`driftless_scale_group_desired_capacity{cluster="alpha",group="driftless-alpha-compute"} 3`,
		`driftless_scale_actions_total{cluster="alpha",direction="up",group="driftless-alpha-compute",reason="pending_jobs"} 2`,
		`driftless_batch_vcpus{cluster="jobs",kind="max"} 8`,
		`driftless_batch_jobs{cluster="jobs",state="runnable"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// The job runs on the new nodes and ends; the idle nodes go at their
	// idle deadline, down to the minimum of 1.
	b.boot()
	if err := b.sl.WaitJobsDone(t.Context(), 2*time.Minute); err != nil {
		t.Fatalf("job %s: %v", job, err)
	}
	for i := 0; ; i++ {
		b.clock.advanceTo(alpha.Next.Add(time.Second))
		for alpha = b.round(); alpha.Cluster != "alpha"; alpha = b.round() {
		}
		if alpha.Err != nil {
			t.Fatal(alpha.Err)
		}
		b.boot()
		if len(alpha.Report.Groups[0].Terminated) > 0 {
			break
		}
		if i == 4 {
			t.Fatalf("no node retired after %d rounds", i)
		}
	}
	if d, n := b.desired(); d != 1 || n != 1 || len(alpha.Report.Groups[0].Terminated) != 2 {
		t.Fatalf("after retiring %v: desired %d, in service %d; want 1", alpha.Report.Groups[0].Terminated, d, n)
	}
	if checkpoint != nil {
		checkpoint()
	}

	// alpha's spec leaves the repo: the stack is pruned, the loop stops
	// and its series go.
	rev = b.repo.Commit(t, "retire alpha", nil, "clusters/alpha.yaml")
	b.cycle(rev)
	b.run.settled(t, "alpha", "")
	b.cycle(rev)
	for deadline := time.Now().Add(time.Minute); strings.Contains(b.metricsText(), `cluster="alpha"`); {
		if time.Now().After(deadline) {
			t.Fatalf("alpha's fleet series remain:\n%s", b.metricsText())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return b.calls.all()
}

func (b *fleetBed) metricsText() string {
	b.t.Helper()
	code, body := b.run.get(b.t, "/metrics")
	if code != 200 {
		b.t.Fatalf("/metrics: %d", code)
	}
	return string(body)
}

// TestDaemonFleetLoop is the daemon's fleet loop end to end.
func TestDaemonFleetLoop(t *testing.T) {
	calls := fleetRun(t)
	var terminated int
	for _, c := range calls {
		if in, ok := c.Input.(*autoscaling.TerminateInstanceInAutoScalingGroupInput); ok {
			if !aws.ToBool(in.ShouldDecrementDesiredCapacity) {
				t.Errorf("instance %s terminated without decrementing", aws.ToString(in.InstanceId))
			}
			terminated++
		}
	}
	if terminated != 2 {
		t.Errorf("%d instances terminated, want 2", terminated)
	}
}

// TestDashboardFleetPanels asks a real Prometheus, scraping a daemon whose
// fleet loop grew and shrank a cluster, every query of the dashboard's
// fleet panels: each must return data.
func TestDashboardFleetPanels(t *testing.T) {
	var prom *prometheus.Server
	fleetRunWith(t, func(addr string) {
		prom = prometheus.Start(t, prometheus.Options{Targets: []string{addr}})
	}, func() {
		// increase() needs two samples of every series, the one the
		// last round made too: two scrapes after the run.
		prom.WaitScraped(t, time.Now())
		prom.WaitScraped(t, time.Now())
		n := 0
		for name, expr := range readDashboard(t).queries() {
			if !strings.Contains(expr, "driftless_scale_") && !strings.Contains(expr, "driftless_batch_") {
				continue
			}
			n++
			res, err := prom.Query(t.Context(), expr, time.Time{})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(res) == 0 {
				t.Errorf("%s: no data for %s", name, expr)
			}
		}
		if n == 0 {
			t.Error("the dashboard has no fleet panel")
		}
	})
}

// TestFleetSwitchedOff: a reload that turns the fleet loop off stops the
// loops and deletes their series once their rounds are done.
func TestFleetSwitchedOff(t *testing.T) {
	reg := promclient.NewPedanticRegistry()
	r, err := newFleetRunner(slog.New(slog.DiscardHandler), reg, awsclient.NewMetrics(), nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	rounds := make(chan fleet.Round, 4)
	r.onRound = func(rd fleet.Round) { rounds <- rd }
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r.start(ctx)
	defer r.stop(10 * time.Second)

	c, errs := spec.Parse("hpc.yaml", []byte(`version: 1
name: hpc
region: us-east-1
scheduler: slurm
vpc: vpc-0123456789abcdef0
headNode:
  instanceType: t3.medium
  subnet: subnet-0123456789abcdef0
  sshFrom: 192.0.2.0/24
compute:
  - instanceType: c5.large
    maxNodes: 4
`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	st, err := render.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	rep := &reconcile.Report{Cycle: reconcile.Cycle{Changes: []diff.Change{{Cluster: "hpc", Action: diff.None, Desired: st,
		Live: &diff.Live{Cluster: "hpc", Status: "CREATE_COMPLETE", Groups: []diff.LiveGroup{{Name: render.GroupName("hpc", "compute")}}}}}}}
	load := func(extra string) *Config {
		cfg, err := parseConfig("config.yaml", []byte("repo:\n  dir: /srv/clusters\naws:\n  region: us-east-1\n  endpoint: http://127.0.0.1:1\n"+extra))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}

	// No SSH key: the round cannot reach the head node, and says so.
	r.sync(load(""), rep)
	if rd := <-rounds; !errors.Is(rd.Err, fleet.ErrNoTransport) {
		t.Fatalf("round: %v", rd.Err)
	}
	if !strings.Contains(gatherText(t, reg), `driftless_scale_errors_total{cluster="hpc",step="connect"} 1`) {
		t.Fatalf("connect failure not counted:\n%s", gatherText(t, reg))
	}
	r.sync(load("fleet:\n  enabled: false\n"), rep)
	for deadline := time.Now().Add(10 * time.Second); strings.Contains(gatherText(t, reg), `cluster="hpc"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("series remain after the fleet loop was switched off:\n%s", gatherText(t, reg))
		}
	}
}

func gatherText(t *testing.T, reg *promclient.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}
