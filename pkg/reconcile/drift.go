package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/render"
)

// DesiredObserver is an Observer that is told what the repo declares
// (cluster → template hash), so it can read what only a difference needs:
// the live template of a stack whose hash differs, which lets the plan
// explain the change field by field, and the deleted stack of a declared
// cluster, which tells a stack deleted behind the repo's back from a
// cluster never created. *observe.Observer does both.
type DesiredObserver interface {
	ObserveDesired(ctx context.Context, desired map[string]string) ([]diff.Live, error)
}

// DesiredObserverFunc adapts a function to Observer and DesiredObserver.
type DesiredObserverFunc func(ctx context.Context, desired map[string]string) ([]diff.Live, error)

// Observe calls f with nothing declared.
func (f DesiredObserverFunc) Observe(ctx context.Context) ([]diff.Live, error) { return f(ctx, nil) }

// ObserveDesired calls f.
func (f DesiredObserverFunc) ObserveDesired(ctx context.Context, desired map[string]string) ([]diff.Live, error) {
	return f(ctx, desired)
}

// observe reads what is live, telling a DesiredObserver what is declared.
func (r *Reconciler) observe(ctx context.Context, stacks []*render.Stack) ([]diff.Live, error) {
	do, ok := r.obs.(DesiredObserver)
	if !ok {
		return r.obs.Observe(ctx)
	}
	desired := make(map[string]string, len(stacks))
	for _, st := range stacks {
		desired[st.Cluster] = st.Hash
	}
	return do.ObserveDesired(ctx, desired)
}

// recordDrift logs and publishes the drift and the holds of a cycle's
// plan: driftless_cluster_drift{cluster,kind} is 1 for every kind found
// on a cluster and 0 for the others; driftless_cluster_held{cluster,reason}
// is 1 while a cluster's change is held.
func (r *Reconciler) recordDrift(ctx context.Context, changes []diff.Change) {
	m := r.metrics.drift
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	for _, ch := range changes {
		seen[ch.Cluster] = true
		m.set(ch)
		var lines []string
		for _, d := range ch.Drift {
			lines = append(lines, fmt.Sprintf("%s %s: %s", d.Kind, d.Name, d.Detail))
		}
		text := strings.Join(lines, "\n")
		if text == m.logged[ch.Cluster] {
			continue
		}
		if text == "" {
			delete(m.logged, ch.Cluster)
			r.log.InfoContext(ctx, "drift gone", "cluster", ch.Cluster)
			continue
		}
		m.logged[ch.Cluster] = text
		for _, d := range ch.Drift {
			level := slog.LevelWarn
			if d.Heal {
				level = slog.LevelInfo
			}
			r.log.Log(ctx, level, "drift", "cluster", ch.Cluster, "kind", string(d.Kind),
				"target", d.Target, "name", d.Name, "what", d.Detail, "heal", d.Heal)
		}
	}
	for name := range m.logged {
		if !seen[name] {
			delete(m.logged, name)
		}
	}
	m.retain(seen)
}

// driftMetrics are the collectors of drift and of held changes, with what
// drift was last logged per cluster, so drift is logged when it appears or
// changes rather than every cycle. They belong to Metrics and are
// registered with it.
type driftMetrics struct {
	drift    *prometheus.GaugeVec
	held     *prometheus.GaugeVec
	mu       sync.Mutex
	clusters map[string]bool
	logged   map[string]string
}

func newDriftMetrics() *driftMetrics {
	return &driftMetrics{
		drift: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftless_cluster_drift",
			Help: "1 when the last cycle found this kind of drift on the cluster (group_limits, stack_deleted, stack_failed, head_node, tags, resources), else 0.",
		}, []string{"cluster", "kind"}),
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftless_cluster_held",
			Help: "1 while the cluster's change is held for a person, by reason (NeedsApproval, NotAllowed, DriftReported, HeadNodeLost, PreflightFailed, PreflightError); absent otherwise.",
		}, []string{"cluster", "reason"}),
		clusters: map[string]bool{},
		logged:   map[string]string{},
	}
}

func (m *driftMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.drift, m.held}
}

// set publishes one cluster's drift and hold.
func (m *driftMetrics) set(ch diff.Change) {
	m.clusters[ch.Cluster] = true
	found := map[diff.DriftKind]bool{}
	for _, d := range ch.Drift {
		found[d.Kind] = true
	}
	for _, k := range diff.DriftKinds() {
		v := 0.0
		if found[k] {
			v = 1
		}
		m.drift.WithLabelValues(ch.Cluster, string(k)).Set(v)
	}
	m.held.DeletePartialMatch(prometheus.Labels{"cluster": ch.Cluster})
	if ch.Action == diff.Hold && ch.Hold != "" {
		m.held.WithLabelValues(ch.Cluster, ch.Hold).Set(1)
	}
}

// retain deletes the series of clusters that left the plan.
func (m *driftMetrics) retain(keep map[string]bool) {
	for name := range m.clusters {
		if !keep[name] {
			m.forgetLocked(name)
		}
	}
}

// forget deletes the series of a cluster gone from the status table.
func (m *driftMetrics) forget(cluster string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forgetLocked(cluster)
}

func (m *driftMetrics) forgetLocked(cluster string) {
	delete(m.clusters, cluster)
	delete(m.logged, cluster)
	m.drift.DeletePartialMatch(prometheus.Labels{"cluster": cluster})
	m.held.DeletePartialMatch(prometheus.Labels{"cluster": cluster})
}
