package reconcile_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/reconcile"
	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/source"
	"github.com/driftless/driftless/pkg/spec"
)

const driftSpec = `version: 1
name: alpha
region: us-east-1
scheduler: slurm
vpc: vpc-0123456789abcdef0
headNode:
  instanceType: t3.medium
  subnet: subnet-0123456789abcdef0
  sshFrom: 192.0.2.0/24
compute:
  - name: compute
    instanceType: c5.large
    maxNodes: 4
`

// recordingApplier records the changes the loop hands over. The loop's
// part is under test here; the applier's is tested against moto in
// pkg/apply.
type recordingApplier struct {
	mu      sync.Mutex
	applied []diff.Change
}

func (a *recordingApplier) Apply(_ context.Context, ch diff.Change, _ string) (apply.Result, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.applied = append(a.applied, ch)
	return apply.Result{Cluster: ch.Cluster, Action: ch.Action, StackStatus: "UPDATE_COMPLETE"}, nil
}

// liveStack is the stack the daemon made from text, settled.
func liveStack(t *testing.T, text string) diff.Live {
	t.Helper()
	c, errs := spec.Parse("alpha.yaml", []byte(text))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	st, err := render.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	l := diff.Live{Cluster: "alpha", StackName: st.Name, StackID: "arn:stack/" + st.Name, Status: "CREATE_COMPLETE",
		Hash: st.Hash, Revision: "r1", Tags: map[string]string{render.TagCluster: "alpha"}}
	for _, g := range st.Groups {
		l.Groups = append(l.Groups, diff.LiveGroup{Name: g.Name, Min: g.Min, Max: g.Max})
	}
	return l
}

func TestDriftAndHoldsInTheLoop(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "alpha.yaml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(driftSpec)
	live := liveStack(t, driftSpec)
	var seen map[string]string
	obs := reconcile.DesiredObserverFunc(func(_ context.Context, desired map[string]string) ([]diff.Live, error) {
		seen = desired
		l := live
		l.Groups = append([]diff.LiveGroup(nil), live.Groups...)
		if desired["alpha"] != l.Hash {
			l.Template = []byte(mustRender(t, driftSpec))
		}
		return []diff.Live{l}, nil
	})
	app := &recordingApplier{}
	reg := prometheus.NewRegistry()
	m := reconcile.NewMetrics()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := reconcile.New(source.NewDir(dir, log), obs, app, reconcile.Options{}, log, m)
	cycle := func() {
		t.Helper()
		if _, err := r.Reconcile(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	drift := func(kind string) float64 {
		t.Helper()
		v, _ := metric(t, reg, "driftless_cluster_drift", map[string]string{"cluster": "alpha", "kind": kind})
		return v
	}

	// A group's maximum edited behind the repo's back: healed, reported.
	live.Groups[0].Max = 9
	cycle()
	if seen["alpha"] != live.Hash {
		t.Errorf("the observer was told %v, want alpha's hash", seen)
	}
	if len(app.applied) != 1 || app.applied[0].Action != diff.Heal || app.applied[0].Drift[0].Max != 4 {
		t.Fatalf("applied %+v, want one heal back to max 4", app.applied)
	}
	if st, _ := r.Statuses().Get("alpha"); st.Condition != reconcile.Ready || st.Reason != "Healed" || !strings.Contains(st.Message, "0/9") {
		t.Errorf("status %+v, want Ready/Healed saying what differed", st)
	}
	if drift("group_limits") != 1 || drift("tags") != 0 {
		t.Errorf("drift metric group_limits=%v tags=%v", drift("group_limits"), drift("tags"))
	}
	if !strings.Contains(logs.String(), "kind=group_limits") {
		t.Errorf("drift not logged:\n%s", logs)
	}

	// Healed: the next cycle is in sync and the metric back to 0.
	live.Groups[0].Max = 4
	cycle()
	if st, _ := r.Statuses().Get("alpha"); st.Reason != "InSync" || drift("group_limits") != 0 {
		t.Errorf("after the heal: status %+v, drift %v", st, drift("group_limits"))
	}

	// A head node instance type change is held until approved.
	write(strings.Replace(driftSpec, "instanceType: t3.medium", "instanceType: c5.xlarge", 1))
	app.applied = nil
	cycle()
	if len(app.applied) != 0 {
		t.Errorf("a held change was applied: %+v", app.applied)
	}
	st, _ := r.Statuses().Get("alpha")
	if st.Condition != reconcile.Blocked || st.Reason != diff.HoldApproval || !strings.Contains(st.Message, "headNode.instanceType=c5.xlarge") {
		t.Errorf("status %+v, want Blocked/NeedsApproval naming the approval", st)
	}
	if v, ok := metric(t, reg, "driftless_cluster_held", map[string]string{"cluster": "alpha", "reason": diff.HoldApproval}); !ok || v != 1 {
		t.Errorf("driftless_cluster_held{reason=NeedsApproval} = %v, %v", v, ok)
	}

	// Approved: applied with the fleet stopped first; the held series goes.
	write(strings.Replace(driftSpec, "instanceType: t3.medium", "instanceType: c5.xlarge", 1) +
		"policy:\n  approve: [\"headNode.instanceType=c5.xlarge\"]\n")
	cycle()
	if len(app.applied) != 1 || app.applied[0].Action != diff.Update || !app.applied[0].StopFleet {
		t.Fatalf("applied %+v, want one update with the fleet stopped", app.applied)
	}
	if _, ok := metric(t, reg, "driftless_cluster_held", map[string]string{"cluster": "alpha", "reason": diff.HoldApproval}); ok {
		t.Error("the held series outlived the hold")
	}
}

func mustRender(t *testing.T, text string) string {
	t.Helper()
	c, errs := spec.Parse("alpha.yaml", []byte(text))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	st, err := render.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(st.Template)
}
