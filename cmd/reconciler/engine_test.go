package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/internal/testbed/faults"
	"github.com/driftless/driftless/pkg/awsclient"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/reconcile"
	"github.com/driftless/driftless/pkg/render"
)

// testClock is a clock the test moves; backoffs are measured on it.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// behindProxy puts the fault proxy between the bed's daemons and moto.
func (b *bed) behindProxy(seed uint64) *faults.Proxy {
	b.t.Helper()
	p := faults.Start(b.t, b.server.Endpoint, seed)
	b.cfg.AWS.Endpoint = p.URL
	return p
}

// startWith wires a fresh daemon with loop options, as a restarted process
// would be.
func (b *bed) startWith(ctx context.Context, opts reconcile.Options) *daemon {
	b.t.Helper()
	b.calls, b.logs, b.reg = &calls{}, &syncBuffer{}, prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := wire(ctx, b.cfg, log, b.reg, opts, b.calls.record)
	if err != nil {
		b.t.Fatalf("wire: %v", err)
	}
	return d
}

// count counts the calls of op naming the stack (or its groups), or
// only those that succeeded.
func (c *calls) count(op, stack string, succeededOnly bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, call := range c.list {
		if succeededOnly && call.Err != nil {
			continue
		}
		if call.Operation == op && strings.HasPrefix(target(call.Input), stack) {
			n++
		}
	}
	return n
}

// sum adds up every series of a counter.
func sum(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue series
				}
			}
			total += m.GetCounter().GetValue()
		}
	}
	return total
}

// TestThrottledFleetConverges: with 30% of every AWS call throttled, 20
// clusters declared at once all converge; no stack gets a second
// CreateStack and none is lost; the retries show in the metrics.
func TestThrottledFleetConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 20 clusters under throttling take about two minutes (the SDK's adaptive retry slows a throttled client down)")
	}
	const clusters = 20
	b := newBed(t)
	proxy := b.behindProxy(2026)
	f := faults.Throttling()
	f.Share = 0.3
	proxy.Inject(f)

	files := map[string]string{}
	for i := range clusters {
		name := fmt.Sprintf("c%02d", i)
		files["clusters/"+name+".yaml"] = clusterSpec(b.net, name, "slurm", 4)
	}
	b.repo.Commit(t, "twenty clusters", files)
	clock := &testClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	d := b.startWith(t.Context(), reconcile.Options{Now: clock.Now})

	cycles := 0
	for ; cycles < 15; cycles++ {
		if _, err := d.reconciler.Reconcile(t.Context()); err != nil {
			// The whole cycle failed (its DescribeStacks ran out of
			// retries): the daemon would retry it, so does the test.
			t.Logf("cycle %d failed: %v", cycles, err)
		}
		ready := 0
		for _, st := range d.reconciler.Statuses().List() {
			if st.Condition == reconcile.Ready {
				ready++
			}
		}
		if ready == clusters {
			break
		}
		// Let every backoff pass.
		clock.Advance(reconcile.DefaultRetryMax)
	}
	t.Logf("converged after %d cycles; %d calls throttled", cycles+1, proxy.Hits())

	out, err := b.cfn.DescribeStacks(t.Context(), &cloudformation.DescribeStacksInput{})
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]string{}
	for _, s := range out.Stacks {
		live[aws.ToString(s.StackName)] = string(s.StackStatus)
	}
	statuses := map[string]reconcile.ClusterStatus{}
	for _, st := range d.reconciler.Statuses().List() {
		statuses[st.Cluster] = st
	}
	for i := range clusters {
		name := fmt.Sprintf("c%02d", i)
		stack := render.StackName(name)
		if live[stack] != "CREATE_COMPLETE" {
			t.Errorf("%s: stack %q", name, live[stack])
		}
		if st := statuses[name]; st.Condition != reconcile.Ready {
			t.Errorf("%s: %s %s: %s", name, st.Condition, st.Reason, st.Message)
		}
		if n := proxy.Forwarded("CreateStack", stack); n != 1 {
			t.Errorf("%s: %d CreateStack reached AWS, want 1", name, n)
		}
		// A CreateStack whose every attempt was throttled never reached
		// AWS and failed; the next cycle sends it again, rightly. What
		// must not happen is a second create that succeeds.
		if n := b.calls.count("CreateStack", stack, true); n != 1 {
			t.Errorf("%s: %d CreateStack calls succeeded, want 1", name, n)
		}
	}
	if len(live) != clusters {
		t.Errorf("%d stacks live, want %d", len(live), clusters)
	}
	if proxy.Hits() == 0 {
		t.Fatal("nothing was throttled")
	}
	if n := sum(t, b.reg, "driftless_aws_retries_total", nil); n == 0 {
		t.Error("driftless_aws_retries_total shows no retries")
	}
	t.Logf("retries counted: %v; calls that failed after their retries, throttled: %v",
		sum(t, b.reg, "driftless_aws_retries_total", nil), sum(t, b.reg, "driftless_aws_errors_total", map[string]string{"class": "throttle"}))
}

// TestRestartDuringCreate: the daemon is stopped while it waits for a
// create; the next one waits on the same stack and sends nothing again.
func TestRestartDuringCreate(t *testing.T) {
	b := newBed(t)
	proxy := b.behindProxy(1)
	stack := render.StackName("alpha")
	// The create is accepted but the stack stays busy, as a head node
	// being configured keeps it for many minutes.
	proxy.SetStatus(stack, "CREATE_IN_PROGRESS", "")
	b.repo.Commit(t, "alpha", map[string]string{"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 4)})

	// The first daemon is killed (its context cancelled) after it sent
	// the create and polled the busy stack twice.
	ctx1, kill := context.WithCancel(t.Context())
	defer kill()
	var created, polls atomic.Int32
	proxy.OnCall(func(c faults.Call) {
		switch {
		case c.Action == "CreateStack" && c.Stack == stack:
			created.Add(1)
		case c.Action == "DescribeStacks" && c.Stack == stack && created.Load() > 0:
			if polls.Add(1) == 3 {
				kill()
			}
		}
	})
	d1 := b.startWith(ctx1, reconcile.Options{})
	rep, err := d1.reconciler.Reconcile(ctx1)
	if err == nil {
		t.Fatal("the first daemon's cycle ended without being killed")
	}
	if o := findOutcome(rep, "alpha"); o.Change.Action != diff.Create || o.Err == nil {
		t.Fatalf("first daemon: %+v", o)
	}
	if got := created.Load(); got != 1 {
		t.Fatalf("%d CreateStack before the kill", got)
	}

	// The second daemon finds the stack busy and waits; the stack
	// completes while it waits.
	var polls2 atomic.Int32
	proxy.OnCall(func(c faults.Call) {
		if c.Action == "DescribeStacks" && c.Stack == stack && polls2.Add(1) == 4 {
			proxy.ClearStatus(stack)
		}
	})
	d2 := b.startWith(t.Context(), reconcile.Options{})
	rep = b.cycle(d2)
	if o := findOutcome(rep, "alpha"); o.Change.Action != diff.Wait || !o.Started || o.Err != nil {
		t.Fatalf("second daemon: %s %v (%s)", o.Change.Action, o.Err, o.Change.Reason)
	}
	if got := created.Load(); got != 1 {
		t.Errorf("%d CreateStack in all, want 1", got)
	}
	if n := b.calls.count("CreateStack", stack, false) + b.calls.count("UpdateStack", stack, false) + b.calls.count("DeleteStack", stack, false); n != 0 {
		t.Errorf("the second daemon changed the stack %d times", n)
	}
	// The killed create never sized the compute group; the wait did.
	if n := b.calls.count("SetDesiredCapacity", stack, false); n != 1 {
		t.Errorf("SetDesiredCapacity sent %d times by the second daemon, want 1", n)
	}
	st, _ := d2.reconciler.Statuses().Get("alpha")
	if st.Condition != reconcile.Ready || st.StackStatus != "CREATE_COMPLETE" {
		t.Errorf("alpha: %+v", st)
	}
	if !strings.Contains(b.logs.String(), "waiting for the operation running on the stack") {
		t.Errorf("the second daemon did not say it waits:\n%s", b.logs)
	}
	// And the next cycle has nothing to do.
	rep = b.cycle(d2)
	if o := findOutcome(rep, "alpha"); o.Change.Action != diff.None {
		t.Errorf("after the wait: %s (%s)", o.Change.Action, o.Change.Reason)
	}
}

// TestEmptyCheckoutPrunesNothing: with pruning on, a checkout that
// declares no cluster deletes nothing, however it is applied; each
// refusal is logged once and counted every cycle.
func TestEmptyCheckoutPrunesNothing(t *testing.T) {
	b := newBed(t)
	b.cfg.Prune = true
	b.repo.Commit(t, "two clusters", map[string]string{
		"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 4),
		"clusters/beta.yaml":  clusterSpec(b.net, "beta", "slurm", 4),
		"clusters/README.md":  "the clusters\n",
	})
	d := b.start()
	b.cycle(d)

	// The specs' directory vanishes from the repo: the cycle fails as a
	// whole and nothing is planned, let alone deleted.
	b.repo.Commit(t, "no directory", nil, "clusters/alpha.yaml", "clusters/beta.yaml", "clusters/README.md")
	b.calls.reset()
	if _, err := d.reconciler.Reconcile(t.Context()); err == nil {
		t.Error("a checkout without the specs' directory planned a cycle")
	}
	// The directory is there and declares nothing.
	b.repo.Commit(t, "an empty directory", map[string]string{"clusters/README.md": "no clusters here\n"})
	for range 2 {
		rep := b.cycle(d)
		for _, c := range []string{"alpha", "beta"} {
			o := findOutcome(rep, c)
			if o.Change.Action != diff.Retain || o.Change.Refused != diff.RefusedEmptyCheckout {
				t.Errorf("%s: %s refused %q", c, o.Change.Action, o.Change.Refused)
			}
			st, _ := d.reconciler.Statuses().Get(c)
			if st.Condition != reconcile.Blocked || st.Reason != "PruneRefused" || !strings.Contains(st.Message, "empty checkout") {
				t.Errorf("%s: %+v", c, st)
			}
		}
	}
	if m := b.calls.mutating(); len(m) != 0 {
		t.Errorf("an empty checkout changed something: %v", m)
	}
	if n := sum(t, b.reg, "driftless_prune_refusals_total", map[string]string{"reason": "empty_checkout"}); n != 4 {
		t.Errorf("driftless_prune_refusals_total{reason=empty_checkout} = %v, want 4 (2 clusters, 2 cycles)", n)
	}
	if n := strings.Count(b.logs.String(), `msg="prune refused"`); n != 2 {
		t.Errorf("%d refusal log lines, want one per cluster:\n%s", n, b.logs)
	}

	// A person's override of the prune limit does not override this
	// guard: reconciler apply --prune-limit -1 deletes nothing either.
	cfgPath := writeConfig(t, b.cfg)
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"apply", "--config", cfgPath, "--prune-limit", "-1", "--quiet"}, &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 1 {
		t.Errorf("apply exit %d, want 1 (clusters need a person); stdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, c := range []string{"alpha", "beta"} {
		if st := b.stack(c).Stacks[0].StackStatus; st != "CREATE_COMPLETE" {
			t.Errorf("%s: %s after apply --prune-limit -1 on an empty checkout", c, st)
		}
	}
}

// TestPruneLimitOverride: removing most clusters at once is refused; a
// person's --prune-limit -1 on reconciler apply carries it out.
func TestPruneLimitOverride(t *testing.T) {
	b := newBed(t)
	b.cfg.Prune = true
	b.repo.Commit(t, "three clusters", map[string]string{
		"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 4),
		"clusters/beta.yaml":  clusterSpec(b.net, "beta", "slurm", 4),
		"clusters/gamma.yaml": clusterSpec(b.net, "gamma", "slurm", 4),
	})
	d := b.start()
	b.cycle(d)
	b.repo.Commit(t, "keep only alpha", nil, "clusters/beta.yaml", "clusters/gamma.yaml")
	rep := b.cycle(d)
	for _, c := range []string{"beta", "gamma"} {
		if o := findOutcome(rep, c); o.Change.Refused != diff.RefusedLimit {
			t.Errorf("%s: %s refused %q, want the limit", c, o.Change.Action, o.Change.Refused)
		}
	}
	if n := sum(t, b.reg, "driftless_prune_refusals_total", map[string]string{"reason": "limit"}); n != 2 {
		t.Errorf("limit refusals counted %v, want 2", n)
	}

	cfgPath := writeConfig(t, b.cfg)
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"apply", "--config", cfgPath, "--prune-limit", "-1"}, &stdout, &stderr); err != nil {
		t.Fatalf("apply --prune-limit -1: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	for _, c := range []string{"beta", "gamma"} {
		out, err := b.cfn.DescribeStacks(t.Context(), &cloudformation.DescribeStacksInput{StackName: aws.String(render.StackName(c))})
		if err == nil && len(out.Stacks) == 1 && out.Stacks[0].StackStatus != "DELETE_COMPLETE" {
			t.Errorf("%s still %s after the override", c, out.Stacks[0].StackStatus)
		}
	}
	if !strings.Contains(stdout.String(), "2 deleted") {
		t.Errorf("summary does not count the deletes:\n%s", stdout.String())
	}
}

// TestApplyCommand: progress lines as stack events arrive, a summary, and
// --quiet and --output json.
func TestApplyCommand(t *testing.T) {
	b := newBed(t)
	proxy := b.behindProxy(3)
	stack := render.StackName("alpha")
	// moto records only the stack's own events; the proxy adds the
	// resources' as a real create would show them.
	proxy.AddEvents(stack,
		faults.Event{Resource: "HeadNode", Type: "AWS::EC2::Instance", Status: "CREATE_IN_PROGRESS", Reason: "Resource creation Initiated"},
		faults.Event{Resource: "HeadNode", Type: "AWS::EC2::Instance", Status: "CREATE_COMPLETE"},
	)
	b.repo.Commit(t, "alpha", map[string]string{"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 4)})
	cfgPath := writeConfig(t, b.cfg)

	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"apply", "--config", cfgPath}, &stdout, &stderr); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	t.Logf("reconciler apply:\n%s", out)
	for _, want := range []string{
		"ELAPSED", "alpha", "HeadNode", "CREATE_IN_PROGRESS", "Resource creation Initiated",
		"driftless-alpha (stack)", "CREATE_COMPLETE",
		"1 created, 0 updated, 0 deleted", "alpha                Ready",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(stderr.String(), "level=INFO") {
		t.Errorf("info log lines mixed into the progress:\n%s", stderr.String())
	}

	// Nothing to do, quietly: no progress, the summary only.
	stdout.Reset()
	stderr.Reset()
	if err := run(t.Context(), []string{"apply", "--config", cfgPath, "--quiet"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stdout.String(), "ELAPSED") || !strings.Contains(stdout.String(), "1 unchanged") {
		t.Errorf("--quiet output:\n%s", stdout.String())
	}

	// JSON on stdout, progress (none here) on stderr.
	stdout.Reset()
	if err := run(t.Context(), []string{"apply", "--config", cfgPath, "--output", "json"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var list []reconcile.ClusterStatus
	if err := json.Unmarshal(stdout.Bytes(), &list); err != nil || len(list) != 1 || list[0].Condition != reconcile.Ready {
		t.Errorf("json output %q: %v", stdout.String(), err)
	}

	// Flags are checked.
	for _, args := range [][]string{{"--prune-limit", "-2"}, {"--retain", "alpha"}, {"--output", "yaml"}} {
		err := run(t.Context(), append([]string{"apply", "--config", cfgPath}, args...), &stdout, &stderr)
		if code := exitCode(err, &stderr); code != 2 {
			t.Errorf("apply %v: exit %d, want 2", args, code)
		}
	}
}

func findOutcome(rep *reconcile.Report, cluster string) reconcile.Outcome {
	if rep == nil {
		return reconcile.Outcome{}
	}
	for _, o := range rep.Outcomes {
		if o.Change.Cluster == cluster {
			return o
		}
	}
	return reconcile.Outcome{}
}

// writeConfig writes cfg as a config file for the commands.
func writeConfig(t *testing.T, cfg *Config) string {
	t.Helper()
	text := fmt.Sprintf(`repo:
  url: %s
  branch: %s
  path: %s
  cacheDir: %s
aws:
  region: %s
  endpoint: %s
prune: %v
pruneLimit: %d
log:
  level: info
`, cfg.Repo.URL, cfg.Repo.Branch, cfg.Repo.Path, filepath.Join(t.TempDir(), "cache"), cfg.AWS.Region, cfg.AWS.Endpoint, cfg.Prune, cfg.PruneLimit)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// stackFailuresRun drives the failed stack states through the daemon, for
// TestIAMPolicy: a failed rollback continued, a stack that never came up
// explained from its events, and a failed delete retried and its
// leftovers listed. moto has none of these states; the proxy makes them.
func stackFailuresRun(t *testing.T) []awsclient.Call {
	b := newBed(t)
	proxy := b.behindProxy(4)
	b.cfg.Prune, b.cfg.PruneLimit = true, -1
	b.repo.Commit(t, "three clusters", map[string]string{
		"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 4),
		"clusters/beta.yaml":  clusterSpec(b.net, "beta", "slurm", 4),
		"clusters/gamma.yaml": clusterSpec(b.net, "gamma", "slurm", 4),
	})
	d := b.start()
	b.cycle(d)

	alpha, beta, gamma := render.StackName("alpha"), render.StackName("beta"), render.StackName("gamma")
	proxy.SetStatus(alpha, "UPDATE_ROLLBACK_FAILED", "")
	proxy.Handle("ContinueUpdateRollback", func(c faults.Call) faults.Answer {
		proxy.SetStatus(c.Stack, "UPDATE_ROLLBACK_COMPLETE", "")
		return faults.EmptyResult("ContinueUpdateRollback")
	})
	proxy.SetStatus(gamma, "ROLLBACK_COMPLETE", "")
	proxy.AddEvents(gamma,
		faults.Event{Resource: gamma, Type: "AWS::CloudFormation::Stack", Status: "CREATE_IN_PROGRESS"},
		faults.Event{Resource: "HeadNode", Type: "AWS::EC2::Instance", Status: "CREATE_FAILED", Reason: "insufficient capacity"})
	proxy.SetStatus(beta, "DELETE_FAILED", "")
	b.repo.Commit(t, "retire beta", nil, "clusters/beta.yaml")

	rep, err := d.reconciler.Reconcile(t.Context())
	if err != nil {
		t.Fatalf("cycle: %v", err)
	}
	want := map[string]diff.Action{"alpha": diff.ContinueRollback, "beta": diff.Delete, "gamma": diff.Blocked}
	for c, a := range want {
		if o := findOutcome(rep, c); o.Change.Action != a || o.Err == nil {
			t.Errorf("%s: %s %v, want %s and its failure reported", c, o.Change.Action, o.Err, a)
		}
	}
	return b.calls.all()
}
