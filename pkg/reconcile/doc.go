// Package reconcile is the daemon's loop: fetch the cluster repo, load and
// render every spec, observe what is live, plan, and apply, once per cycle.
// It owns the per-cluster status, the per-cluster schedule (one apply at a
// time per cluster, applies running on in the background across cycles,
// backoff with jitter for a cluster that keeps failing) and the cycle
// metrics.
//
// It holds no AWS or git specifics: those come in through small interfaces.
package reconcile
