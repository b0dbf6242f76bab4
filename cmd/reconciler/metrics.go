package main

import (
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/pkg/reconcile"
)

// serviceMetrics are the daemon's own metrics: what the service adds
// around the loop (build, configuration reloads, trust of the repo head,
// per-cluster revisions). The libraries' recorders are in recorders.
type serviceMetrics struct {
	buildInfo    *prometheus.GaugeVec
	reloads      *prometheus.CounterVec
	reloadOK     prometheus.Gauge
	reloadTime   prometheus.Gauge
	pollInterval prometheus.Gauge
	untrusted    prometheus.GaugeFunc
	revisions    *revisionCollector
}

// newServiceMetrics makes the recorder. refused reports whether the repo
// head is refused right now; statuses lists the clusters /status shows.
func newServiceMetrics(refused func() bool, statuses func() []reconcile.ClusterStatus) *serviceMetrics {
	m := &serviceMetrics{
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftless_build_info",
			Help: "1, labelled with the version of the running daemon and the Go it was built with.",
		}, []string{"version", "goversion"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_config_reloads_total",
			Help: "Configuration reloads (SIGHUP or a change to the file), by result (ok, rejected).",
		}, []string{"result"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "driftless_config_last_reload_successful",
			Help: "1 when the last configuration load was taken, 0 when it was rejected and the previous configuration stays in force.",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "driftless_config_last_reload_success_timestamp_seconds",
			Help: "Unix time the configuration in force was loaded.",
		}),
		pollInterval: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "driftless_poll_interval_seconds",
			Help: "The configured time between cycles (repo.pollInterval), for alerts that judge how late a sync is.",
		}),
		untrusted: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "driftless_source_untrusted",
			Help: "1 while the branch head is refused because it is not signed by a trusted key; the last trusted revision stays in force.",
		}, func() float64 {
			if refused() {
				return 1
			}
			return 0
		}),
		revisions: &revisionCollector{
			desc: prometheus.NewDesc("driftless_cluster_revision_info",
				"1 per cluster, labelled with the repo revision recorded on its live stack (applied) and the one that declares it now (declared).",
				[]string{"cluster", "applied", "declared"}, nil),
			statuses: statuses,
		},
	}
	m.buildInfo.WithLabelValues(version, runtime.Version()).Set(1)
	m.reloadOK.Set(1)
	for _, r := range []string{"ok", "rejected"} {
		m.reloads.WithLabelValues(r)
	}
	return m
}

// Register registers every metric on reg.
func (m *serviceMetrics) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.buildInfo, m.reloads, m.reloadOK, m.reloadTime, m.pollInterval, m.untrusted, m.revisions} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// loaded records a configuration taken into force at now.
func (m *serviceMetrics) loaded(cfg *Config, now time.Time, reload bool) {
	if reload {
		m.reloads.WithLabelValues("ok").Inc()
	}
	m.reloadOK.Set(1)
	m.reloadTime.Set(float64(now.UnixNano()) / 1e9)
	m.pollInterval.Set(cfg.Repo.PollInterval.Seconds())
}

// rejected records a configuration that was not taken.
func (m *serviceMetrics) rejected() {
	m.reloads.WithLabelValues("rejected").Inc()
	m.reloadOK.Set(0)
}

// revisionCollector reads the status table at scrape time, so a cluster's
// series goes when the cluster does.
type revisionCollector struct {
	desc     *prometheus.Desc
	statuses func() []reconcile.ClusterStatus
}

// Describe implements prometheus.Collector.
func (c *revisionCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *revisionCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.statuses() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, 1, st.Cluster, st.Applied, st.Declared)
	}
}
