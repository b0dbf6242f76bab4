package source

import "github.com/prometheus/client_golang/prometheus"

// WebhookMetrics records webhook deliveries, so that a misconfigured secret
// or someone probing the endpoint shows as a rising unauthorized count.
// Create it with NewWebhookMetrics and register it on the daemon's registry.
// A nil *WebhookMetrics records nothing.
type WebhookMetrics struct {
	deliveries *prometheus.CounterVec
}

// NewWebhookMetrics makes an unregistered recorder.
func NewWebhookMetrics() *WebhookMetrics {
	return &WebhookMetrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_webhook_deliveries_total",
			Help: "Webhook deliveries by provider (github, gitlab, generic, unknown) and result (triggered, ignored, duplicate, unauthorized, bad_request, too_large).",
		}, []string{"provider", "result"}),
	}
}

// Register registers the metrics on r.
func (m *WebhookMetrics) Register(r prometheus.Registerer) error {
	return r.Register(m.deliveries)
}

// init creates every series at zero, so that rate() and alerts see the
// first unauthorized delivery as an increase.
func (m *WebhookMetrics) init() {
	if m == nil {
		return
	}
	for _, p := range providers {
		for _, r := range results {
			m.deliveries.WithLabelValues(p, r)
		}
	}
}

func (m *WebhookMetrics) delivery(provider, result string) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(provider, result).Inc()
}
