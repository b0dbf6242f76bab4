package awsclient

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts AWS calls for Prometheus. Labels are bounded: a service
// and an operation the code calls, and an error class.
type Metrics struct {
	calls    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	retries  *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics makes the collectors; Register exposes them.
func NewMetrics() *Metrics {
	return &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_aws_calls_total",
			Help: "AWS API calls made, counted once per call whatever its retries.",
		}, []string{"service", "operation"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_aws_errors_total",
			Help: "AWS API calls that failed after their retries, by error class (throttle, 5xx, denied, network, canceled, other).",
		}, []string{"service", "operation", "class"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_aws_retries_total",
			Help: "Attempts of AWS API calls beyond the first.",
		}, []string{"service", "operation"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "driftless_aws_call_duration_seconds",
			Help:    "Time spent in one AWS API call, retries and backoff included.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"service", "operation"}),
	}
}

// Register adds the collectors to reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	var errs []error
	for _, c := range []prometheus.Collector{m.calls, m.errors, m.retries, m.duration} {
		errs = append(errs, reg.Register(c))
	}
	return errors.Join(errs...)
}

func (m *Metrics) observe(c Call) {
	m.calls.WithLabelValues(c.Service, c.Operation).Inc()
	m.duration.WithLabelValues(c.Service, c.Operation).Observe(c.Duration.Seconds())
	if c.Attempts > 1 {
		m.retries.WithLabelValues(c.Service, c.Operation).Add(float64(c.Attempts - 1))
	}
	if c.Err != nil {
		m.errors.WithLabelValues(c.Service, c.Operation, string(c.Class)).Inc()
	}
}
