package scale

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics records what the fleet loop sees and does. Create it with
// NewMetrics, register it on the daemon's registry with Register, and
// call Forget when a cluster goes away so its series go too. A nil
// *Metrics records nothing.
type Metrics struct {
	nodes           *prometheus.GaugeVec
	idleNodes       *prometheus.GaugeVec
	pendingJobs     *prometheus.GaugeVec
	pendingNodes    *prometheus.GaugeVec
	unfitJobs       *prometheus.GaugeVec
	desired         *prometheus.GaugeVec
	inService       *prometheus.GaugeVec
	minSize         *prometheus.GaugeVec
	maxSize         *prometheus.GaugeVec
	actions         *prometheus.CounterVec
	drainsCancelled *prometheus.CounterVec
	demandToCap     *prometheus.HistogramVec
	errors          *prometheus.CounterVec
	lastRun         *prometheus.GaugeVec
}

// The bounded values of the reason label of driftless_scale_actions_total.
const (
	ReasonPendingJobs = "pending_jobs"
	ReasonIdle        = "idle"
	ReasonNodeDown    = "node_down"
)

// NewMetrics makes an unregistered recorder.
func NewMetrics() *Metrics {
	cg := []string{"cluster", "group"}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "driftless_scale_" + name, Help: help}, labels)
	}
	return &Metrics{
		nodes:        gauge("nodes", "Scheduler nodes of the cluster by state (idle, allocated, mixed, draining, drained, down, powered-down, booting, unknown).", "cluster", "state"),
		idleNodes:    gauge("idle_nodes", "Nodes of the group idle for at least the idle time, the candidates for scale-down.", cg...),
		pendingJobs:  gauge("pending_jobs", "Eligible pending jobs of the group's queue that more nodes would start.", cg...),
		pendingNodes: gauge("pending_nodes", "Nodes the pending jobs of the group's queue need.", cg...),
		unfitJobs:    gauge("unfit_jobs", "Pending jobs larger than the group's maximum size.", cg...),
		desired:      gauge("group_desired_capacity", "The Auto Scaling group's desired capacity.", cg...),
		inService:    gauge("group_in_service_instances", "The Auto Scaling group's instances in service.", cg...),
		minSize:      gauge("group_min_size", "The Auto Scaling group's minimum size.", cg...),
		maxSize:      gauge("group_max_size", "The Auto Scaling group's maximum size.", cg...),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_scale_actions_total",
			Help: "Scale actions carried out, by direction (up, down, replace) and reason (pending_jobs, idle, node_down).",
		}, []string{"cluster", "group", "direction", "reason"}),
		drainsCancelled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_scale_drains_cancelled_total",
			Help: "Nodes returned to service after a drain because work arrived for them.",
		}, cg),
		demandToCap: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "driftless_scale_demand_to_capacity_seconds",
			Help:    "Time from pending demand exceeding the idle nodes to idle nodes covering it.",
			Buckets: []float64{10, 30, 60, 120, 180, 300, 450, 600, 900, 1200, 1800, 3600},
		}, cg),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_scale_errors_total",
			Help: "Failed steps of the fleet loop, by step (connect, snapshot, describe, drain, resume, terminate, remove, set_desired).",
		}, []string{"cluster", "step"}),
		lastRun: gauge("last_run_timestamp_seconds", "When the fleet loop last completed a round for the cluster.", "cluster"),
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.nodes, m.idleNodes, m.pendingJobs, m.pendingNodes, m.unfitJobs,
		m.desired, m.inService, m.minSize, m.maxSize, m.actions, m.drainsCancelled, m.demandToCap,
		m.errors, m.lastRun}
}

// Register registers every metric on r.
func (m *Metrics) Register(r prometheus.Registerer) error {
	for _, c := range m.collectors() {
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
	for _, c := range []interface{ DeletePartialMatch(prometheus.Labels) int }{
		m.nodes, m.idleNodes, m.pendingJobs, m.pendingNodes, m.unfitJobs, m.desired, m.inService,
		m.minSize, m.maxSize, m.actions, m.drainsCancelled, m.demandToCap, m.errors, m.lastRun,
	} {
		c.DeletePartialMatch(l)
	}
}

func (m *Metrics) observeNodes(cluster string, nodes []Node) {
	if m == nil {
		return
	}
	count := map[NodeState]int{}
	for _, n := range nodes {
		count[n.State]++
	}
	for _, s := range NodeStates {
		m.nodes.WithLabelValues(cluster, string(s)).Set(float64(count[s]))
	}
}

func (m *Metrics) observePlan(cluster string, in Input, d Decision, now time.Time) {
	if m == nil {
		return
	}
	g := in.Group
	idle := 0
	for _, n := range in.Nodes {
		if since, ok := d.Next.IdleSince[n.Name]; ok && n.State == Idle && now.Sub(since) >= in.Config.IdleTime {
			idle++
		}
	}
	m.idleNodes.WithLabelValues(cluster, g.Name).Set(float64(idle))
	m.pendingJobs.WithLabelValues(cluster, g.Name).Set(float64(d.Demand.Jobs))
	m.pendingNodes.WithLabelValues(cluster, g.Name).Set(float64(d.Demand.Nodes))
	m.unfitJobs.WithLabelValues(cluster, g.Name).Set(float64(len(d.NeverFit)))
	m.minSize.WithLabelValues(cluster, g.Name).Set(float64(g.Min))
	m.maxSize.WithLabelValues(cluster, g.Name).Set(float64(g.Max))
	m.inService.WithLabelValues(cluster, g.Name).Set(float64(g.InService()))
	m.desired.WithLabelValues(cluster, g.Name).Set(float64(g.Desired))
	if d.DemandMet > 0 {
		m.demandToCap.WithLabelValues(cluster, g.Name).Observe(d.DemandMet.Seconds())
	}
}

func (m *Metrics) action(cluster, group, direction, reason string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.actions.WithLabelValues(cluster, group, direction, reason).Add(float64(n))
}

func (m *Metrics) desiredNow(cluster, group string, n int) {
	if m != nil {
		m.desired.WithLabelValues(cluster, group).Set(float64(n))
	}
}

func (m *Metrics) drainCancelled(cluster, group string) {
	if m != nil {
		m.drainsCancelled.WithLabelValues(cluster, group).Inc()
	}
}

func (m *Metrics) failed(cluster, step string) {
	if m != nil {
		m.errors.WithLabelValues(cluster, step).Inc()
	}
}

// Failed counts a failed step that happens outside a round, such as
// reaching the head node (step "connect"), in driftless_scale_errors_total.
func (m *Metrics) Failed(cluster, step string) { m.failed(cluster, step) }

func (m *Metrics) ran(cluster string, now time.Time) {
	if m != nil {
		m.lastRun.WithLabelValues(cluster).Set(float64(now.Unix()))
	}
}
