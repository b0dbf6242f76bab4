package reconcile

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// schedMetrics are the collectors of the per-cluster schedule and of the
// prune guards. They belong to Metrics and are registered with it.
type schedMetrics struct {
	refusals *prometheus.CounterVec
	inFlight prometheus.Gauge
	failures *prometheus.GaugeVec
	next     *prometheus.GaugeVec
	duration *prometheus.HistogramVec
}

func newSchedMetrics() *schedMetrics {
	return &schedMetrics{
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_prune_refusals_total",
			Help: "Deletes of stacks whose spec left the repo that a guard refused although pruning is on, counted per cluster and cycle, by guard (empty_checkout, unreadable_spec, termination_protection, limit, unknown_status).",
		}, []string{"reason"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "driftless_applies_in_flight",
			Help: "Applies started and not yet ended, waiting for a concurrency slot included.",
		}),
		failures: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftless_cluster_consecutive_failures",
			Help: "Applies of a cluster that failed in a row; absent when its last apply succeeded.",
		}, []string{"cluster"}),
		next: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftless_cluster_next_attempt_timestamp_seconds",
			Help: "Unix time before which a failing cluster is not tried again; absent when it is not backing off.",
		}, []string{"cluster"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "driftless_apply_duration_seconds",
			Help:    "Time one apply took, waiting for CloudFormation included, by action and result.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600},
		}, []string{"action", "result"}),
	}
}

func (m *schedMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.refusals, m.inFlight, m.failures, m.next, m.duration}
}

// failing publishes a cluster's failures and next attempt.
func (m *schedMetrics) failing(cluster string, failures int, next time.Time) {
	if failures == 0 {
		m.forget(cluster)
		return
	}
	m.failures.WithLabelValues(cluster).Set(float64(failures))
	if next.IsZero() {
		m.next.DeleteLabelValues(cluster)
		return
	}
	m.next.WithLabelValues(cluster).Set(float64(next.UnixNano()) / 1e9)
}

// forget deletes a cluster's series.
func (m *schedMetrics) forget(cluster string) {
	m.failures.DeleteLabelValues(cluster)
	m.next.DeleteLabelValues(cluster)
}
