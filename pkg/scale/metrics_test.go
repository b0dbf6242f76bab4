package scale

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	prombed "github.com/driftless/driftless/internal/testbed/prometheus"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// exposition returns the registry's text exposition.
func exposition(t *testing.T, reg *prometheus.Registry) []byte {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// TestMetricsExposition runs rounds that touch every metric (a scale-up
// that is met, a drain called off, a termination, a failed step) and
// compares the exposition with testdata/metrics.golden; then promtool
// checks it for the exposition format's conventions.
func TestMetricsExposition(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	sched := &fakeScheduler{state: State{
		Nodes: []Node{
			{Name: "a", InstanceID: "i-a", State: Idle, Slots: 2},
			{Name: "b", InstanceID: "i-b", State: Allocated, Slots: 2, SlotsUsed: 2},
		},
		Jobs: []Job{{ID: "7", Pending: true, Eligible: true, Nodes: 3, Slots: 6}, {ID: "8", Pending: true, Eligible: true, Nodes: 9, Slots: 18}},
	}}
	fleet := &fakeFleet{g: group(1, 2, 4, "a", "b")}
	l, err := NewLoop(LoopConfig{Cluster: "hpc", Scheduler: sched, Fleet: fleet,
		Queues: []Queue{{Name: "compute", Group: "g", Config: DefaultConfig()}}, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := l.RunOnce(ctx, t0); err != nil {
		t.Fatal(err)
	}
	// The job runs on the new nodes; a and the new ones go idle, a job
	// lands on a right as it is drained, and a node is retired.
	sched.state.Jobs = nil
	sched.state.Nodes = []Node{
		{Name: "a", InstanceID: "i-a", State: Idle, Slots: 2},
		{Name: "b", InstanceID: "i-b", State: Idle, Slots: 2},
	}
	fleet.g = group(1, 4, 4, "a", "b")
	if _, err := l.RunOnce(ctx, t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	sched.onDrain = func(f *fakeScheduler, node string) {
		if node == "a" {
			f.set(node, func(n *Node) { n.State, n.SlotsUsed = Draining, 1 })
		}
	}
	fleet.g = group(0, 2, 4, "a", "b")
	if _, err := l.RunOnce(ctx, t0.Add(14*time.Minute)); err != nil {
		t.Fatal(err)
	}
	m.Failed("hpc", "connect")
	got := exposition(t, reg)

	golden := filepath.Join("testdata", "metrics.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("exposition differs from %s (run with -update after checking the change):\n%s", golden, got)
	}

	t.Run("promtool check metrics", func(t *testing.T) {
		promtool := prombed.Promtool(t)
		cmd := exec.CommandContext(t.Context(), promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(got)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	})

	m.Forget("hpc")
	if left := exposition(t, reg); len(left) != 0 {
		t.Errorf("series left after Forget:\n%s", left)
	}
	if strings.Count(string(got), "cluster=\"hpc\"") == 0 {
		t.Error("no series recorded")
	}
}
