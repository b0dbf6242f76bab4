package awsbatch

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics records what the observer sees. Register it once on the
// daemon's registry and call Forget when a cluster goes away. A nil
// *Metrics records nothing.
type Metrics struct {
	vcpus    *prometheus.GaugeVec
	jobs     *prometheus.GaugeVec
	errors   *prometheus.CounterVec
	observed *prometheus.GaugeVec
}

// NewMetrics makes an unregistered recorder.
func NewMetrics() *Metrics {
	return &Metrics{
		vcpus: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftless_batch_vcpus",
			Help: "vCPUs of the AWS Batch compute environment of an awsbatch cluster, by kind (min, desired, max).",
		}, []string{"cluster", "kind"}),
		jobs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftless_batch_jobs",
			Help: "Unfinished jobs of an awsbatch cluster's job queue, by state (submitted, pending, runnable, starting, running).",
		}, []string{"cluster", "state"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_batch_errors_total",
			Help: "Looks at an awsbatch cluster's compute environment and job queue that failed.",
		}, []string{"cluster"}),
		observed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftless_batch_last_observed_timestamp_seconds",
			Help: "When the compute environment and job queue of an awsbatch cluster were last read.",
		}, []string{"cluster"}),
	}
}

// Register registers every metric on r.
func (m *Metrics) Register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.vcpus, m.jobs, m.errors, m.observed} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Forget deletes every series of a cluster.
func (m *Metrics) Forget(cluster string) {
	if m == nil {
		return
	}
	l := prometheus.Labels{"cluster": cluster}
	m.vcpus.DeletePartialMatch(l)
	m.jobs.DeletePartialMatch(l)
	m.errors.DeletePartialMatch(l)
	m.observed.DeletePartialMatch(l)
}

func (m *Metrics) observe(cluster string, o Observation, now time.Time) {
	if m == nil {
		return
	}
	m.vcpus.WithLabelValues(cluster, "min").Set(float64(o.MinVCPUs))
	m.vcpus.WithLabelValues(cluster, "desired").Set(float64(o.DesiredVCPUs))
	m.vcpus.WithLabelValues(cluster, "max").Set(float64(o.MaxVCPUs))
	for _, st := range JobStates {
		m.jobs.WithLabelValues(cluster, strings.ToLower(string(st))).Set(float64(o.Jobs[st]))
	}
	m.observed.WithLabelValues(cluster).Set(float64(now.Unix()))
}

func (m *Metrics) failed(cluster string) {
	if m != nil {
		m.errors.WithLabelValues(cluster).Inc()
	}
}
