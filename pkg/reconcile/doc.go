// Package reconcile is the daemon's loop: fetch the cluster repo, load and
// render every spec, observe what is live, plan, and apply, once per cycle.
// It owns the per-cluster status and the cycle metrics.
//
// It holds no AWS or git specifics: those come in through small interfaces.
package reconcile
