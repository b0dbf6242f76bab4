package reconcile

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics records what the loop does. It owns its collectors; register them
// on the daemon's registry with Register.
type Metrics struct {
	cycles        *prometheus.CounterVec
	cycleDuration prometheus.Histogram
	actions       *prometheus.CounterVec
	clusters      *prometheus.GaugeVec
	specErrors    *prometheus.GaugeVec
	lastSync      prometheus.Gauge
	syncInfo      *prometheus.GaugeVec
	fetches       *prometheus.CounterVec
	clusterState  *prometheus.GaugeVec
	sched         *schedMetrics
	drift         *driftMetrics

	revision string
	files    map[string]bool
}

// NewMetrics builds the loop's collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		cycles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_cycles_total",
			Help: "Reconcile cycles run, by result (ok, error).",
		}, []string{"result"}),
		cycleDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "driftless_cycle_duration_seconds",
			Help:    "Time one reconcile cycle took, from fetch to the last apply.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800},
		}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_cluster_actions_total",
			Help: "Actions carried out on clusters, by action (create, update, delete) and result (ok, error).",
		}, []string{"action", "result"}),
		clusters: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftless_clusters",
			Help: "Clusters by condition (Ready, Reconciling, Stalled, Blocked) after the last cycle.",
		}, []string{"condition"}),
		clusterState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftless_cluster_condition",
			Help: "1 for the condition each cluster is in after the last cycle.",
		}, []string{"cluster", "condition"}),
		specErrors: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftless_spec_errors",
			Help: "Errors found in each invalid spec file of the last checkout; absent when the file is valid.",
		}, []string{"file"}),
		lastSync: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "driftless_last_sync_timestamp_seconds",
			Help: "Unix time of the end of the last cycle that completed without a cycle-level error.",
		}),
		syncInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftless_sync_info",
			Help: "1, labelled with the repo revision of the last successful cycle.",
		}, []string{"revision"}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_source_fetches_total",
			Help: "Fetches of the cluster repo, by result (ok, error).",
		}, []string{"result"}),
		sched: newSchedMetrics(),
		drift: newDriftMetrics(),
		files: make(map[string]bool),
	}
}

// Register adds the collectors to reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	for _, c := range append([]prometheus.Collector{m.cycles, m.cycleDuration, m.actions, m.clusters, m.clusterState, m.specErrors, m.lastSync, m.syncInfo, m.fetches}, append(m.sched.collectors(), m.drift.collectors()...)...) {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *Metrics) cycle(ok bool, seconds float64) {
	m.cycles.WithLabelValues(result(ok)).Inc()
	m.cycleDuration.Observe(seconds)
}

func (m *Metrics) fetch(ok bool) { m.fetches.WithLabelValues(result(ok)).Inc() }

func (m *Metrics) action(action string, ok bool) { m.actions.WithLabelValues(action, result(ok)).Inc() }

func (m *Metrics) synced(revision string, unix float64) {
	m.lastSync.Set(unix)
	if revision != m.revision {
		if m.revision != "" {
			m.syncInfo.DeleteLabelValues(m.revision)
		}
		m.revision = revision
	}
	m.syncInfo.WithLabelValues(revision).Set(1)
}

// invalid replaces the set of invalid files; series of files that became
// valid or vanished are deleted.
func (m *Metrics) invalid(errs map[string]int) {
	for f := range m.files {
		if _, ok := errs[f]; !ok {
			m.specErrors.DeleteLabelValues(f)
			delete(m.files, f)
		}
	}
	for f, n := range errs {
		m.specErrors.WithLabelValues(f).Set(float64(n))
		m.files[f] = true
	}
}

// conditions publishes the status table; clusters that went away lose
// their series.
func (m *Metrics) conditions(list []ClusterStatus, gone []string) {
	for _, name := range gone {
		m.clusterState.DeletePartialMatch(prometheus.Labels{"cluster": name})
		m.sched.forget(name)
		m.drift.forget(name)
	}
	counts := map[Condition]int{Ready: 0, Reconciling: 0, Stalled: 0, Blocked: 0}
	for _, st := range list {
		counts[st.Condition]++
		for _, c := range []Condition{Ready, Reconciling, Stalled, Blocked} {
			v := 0.0
			if c == st.Condition {
				v = 1
			}
			m.clusterState.WithLabelValues(st.Cluster, string(c)).Set(v)
		}
	}
	for c, n := range counts {
		m.clusters.WithLabelValues(string(c)).Set(float64(n))
	}
}

func result(ok bool) string {
	if ok {
		return "ok"
	}
	return "error"
}
