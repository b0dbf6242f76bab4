package inventory

import (
	"testing"

	"github.com/driftless/driftless/pkg/reconcile"
)

func TestIdleNodes(t *testing.T) {
	text := `# HELP driftless_scale_nodes Scheduler nodes of the cluster by state.
# TYPE driftless_scale_nodes gauge
driftless_scale_nodes{cluster="alpha",state="idle"} 3
driftless_scale_nodes{cluster="alpha",state="allocated"} 5
driftless_scale_nodes{cluster="beta",state="idle"} 0
# TYPE driftless_other gauge
driftless_other 1
`
	got, err := idleNodes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["alpha"] != 3 || got["beta"] != 0 {
		t.Errorf("idle %v", got)
	}
}

func TestOverlay(t *testing.T) {
	inv := &Inventory{Source: "computed", Clusters: []Cluster{
		{Name: "alpha", Condition: "Ready", Reason: "InSync"},
		{Name: "beta", Condition: "Reconciling", Reason: "Pending"},
	}}
	inv.Overlay(&Daemon{
		Statuses: []reconcile.ClusterStatus{{Cluster: "beta", Condition: reconcile.Stalled, Reason: "ApplyFailed", Message: "boom", Declared: "rev9"}},
		Idle:     map[string]int{"alpha": 2},
	})
	a, b := inv.Clusters[0], inv.Clusters[1]
	if inv.Source != "daemon" || a.Condition != "Ready" || a.Idle == nil || *a.Idle != 2 {
		t.Errorf("alpha %+v", a)
	}
	if b.Condition != "Stalled" || b.Reason != "ApplyFailed" || b.Message != "boom" || b.DeclaredRevision != "rev9" || b.Idle != nil {
		t.Errorf("beta %+v", b)
	}
}
