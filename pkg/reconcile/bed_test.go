package reconcile_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/driftless/driftless/internal/testbed/faults"
	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/awsclient"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/observe"
	"github.com/driftless/driftless/pkg/reconcile"
	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/source"
)

var emulator moto.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.Close()
	os.Exit(code)
}

// bed is a reconciler over a local directory of specs, talking to a fresh
// moto through the fault proxy.
type bed struct {
	t     *testing.T
	dir   string
	proxy *faults.Proxy
	cfn   *cloudformation.Client // straight to moto, for checks
	net   moto.Network
	reg   *prometheus.Registry
	logs  *syncBuffer
	clock *clock
}

func newBed(t *testing.T) *bed {
	t.Helper()
	srv := moto.Start(t)
	b := &bed{t: t, dir: t.TempDir(), clock: newClock()}
	b.proxy = faults.Start(t, srv.Endpoint, 7)
	cfg := srv.AWSConfig()
	b.cfn = cloudformation.NewFromConfig(cfg)
	b.net = moto.NewNetwork(t, t.Context(), ec2.NewFromConfig(cfg))
	return b
}

// write commits nothing: it writes one spec file into the directory.
func (b *bed) write(cluster string, maxNodes int, extra string) {
	b.t.Helper()
	spec := fmt.Sprintf(`version: 1
name: %s
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
    minNodes: 0
    initialNodes: 1
    maxNodes: %d
%s`, cluster, b.net.VPC, b.net.Subnet, maxNodes, extra)
	if err := os.WriteFile(filepath.Join(b.dir, cluster+".yaml"), []byte(spec), 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *bed) remove(cluster string) {
	b.t.Helper()
	if err := os.Remove(filepath.Join(b.dir, cluster+".yaml")); err != nil {
		b.t.Fatal(err)
	}
}

// reconciler wires a fresh reconciler, as a (re)started daemon would.
func (b *bed) reconciler(opts reconcile.Options) *reconcile.Reconciler {
	b.t.Helper()
	b.reg, b.logs = prometheus.NewRegistry(), &syncBuffer{}
	log := slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	awsMetrics := awsclient.NewMetrics()
	if err := awsMetrics.Register(b.reg); err != nil {
		b.t.Fatal(err)
	}
	cl, err := awsclient.New(b.t.Context(), awsclient.Config{Region: moto.Region, Endpoint: b.proxy.URL, MaxBackoff: 20 * time.Millisecond},
		&awsclient.Recorder{Metrics: awsMetrics})
	if err != nil {
		b.t.Fatal(err)
	}
	app := &apply.Applier{Stacks: cl.CFN, Groups: cl.ASG, Images: cl.SSM, Log: log, PollInterval: 20 * time.Millisecond, Timeout: time.Minute}
	obs := reconcile.ObserverFunc(func(ctx context.Context) ([]diff.Live, error) { return observe.Observe(ctx, cl.CFN, cl.ASG) })
	m := reconcile.NewMetrics()
	if err := m.Register(b.reg); err != nil {
		b.t.Fatal(err)
	}
	if opts.Now == nil {
		opts.Now = b.clock.Now
	}
	if opts.Rand == nil {
		opts.Rand = func() float64 { return 0.5 } // no jitter
	}
	return reconcile.New(source.NewDir(b.dir, log), obs, app, opts, log, m)
}

// cycle runs one cycle and fails the test when the cycle as a whole
// failed.
func (b *bed) cycle(r *reconcile.Reconciler) *reconcile.Report {
	b.t.Helper()
	rep, err := r.Reconcile(b.t.Context())
	if err != nil {
		b.t.Fatalf("cycle: %v\nlogs:\n%s", err, b.logs)
	}
	return rep
}

func (b *bed) status(r *reconcile.Reconciler, cluster string) reconcile.ClusterStatus {
	b.t.Helper()
	st, ok := r.Statuses().Get(cluster)
	if !ok {
		b.t.Fatalf("no status for %s", cluster)
	}
	return st
}

// stackStatus is what moto holds, whatever the proxy shows.
func (b *bed) stackStatus(cluster string) string {
	b.t.Helper()
	out, err := b.cfn.DescribeStacks(b.t.Context(), &cloudformation.DescribeStacksInput{StackName: aws.String(render.StackName(cluster))})
	if err != nil {
		return "gone"
	}
	return string(out.Stacks[0].StackStatus)
}

// waitFor polls cond until it holds; the applies under test run in the
// background and end when moto and the proxy let them.
func (b *bed) waitFor(what string, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			b.t.Fatalf("gave up waiting: %s\nlogs:\n%s", what, b.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// outcome finds a cluster's outcome in a report.
func outcome(rep *reconcile.Report, cluster string) reconcile.Outcome {
	for _, o := range rep.Outcomes {
		if o.Change.Cluster == cluster {
			return o
		}
	}
	return reconcile.Outcome{}
}

// clock is a test clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer is a log sink shared by the applies' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// metric reads one series of reg: a counter's or gauge's value, or a
// histogram's count; ok is false when the series does not exist.
func metric(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !matches(m, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func matches(m *dto.Metric, labels map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := labels[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(labels)
}

func contains(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
