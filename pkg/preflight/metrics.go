package preflight

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts pre-flight checks. It owns its collectors; register them
// on the daemon's registry with Register. A nil *Metrics records nothing.
type Metrics struct {
	checks   *prometheus.CounterVec
	failures *prometheus.CounterVec
}

// NewMetrics builds the collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_preflight_checks_total",
			Help: "Pre-flight checks of a cluster against the account, by result: pass, fail (something the spec names is missing or unusable), error (a check could not run).",
		}, []string{"result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_preflight_failures_total",
			Help: "Pre-flight checks of each cluster that failed or could not run; the cluster was not created or changed.",
		}, []string{"cluster"}),
	}
}

// Register adds the collectors to reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.checks, m.failures} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Forget deletes the series of a cluster that is gone.
func (m *Metrics) Forget(cluster string) {
	if m != nil {
		m.failures.DeleteLabelValues(cluster)
	}
}

func (m *Metrics) observe(cluster string, failures int, err error) {
	if m == nil {
		return
	}
	result := "pass"
	switch {
	case err != nil:
		result = "error"
	case failures > 0:
		result = "fail"
	}
	m.checks.WithLabelValues(result).Inc()
	if result != "pass" {
		m.failures.WithLabelValues(cluster).Inc()
	}
}
