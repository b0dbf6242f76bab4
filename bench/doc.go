// Package bench replays a job trace in the Standard Workload Format of the
// Parallel Workloads Archive through the fleet loop's real planner, with a
// simulated clock and node boot delay, beside two baselines run the same
// way: a static fleet of the maximum size, and ParallelCluster 2.x's
// policy. The command in cmd/replay prints the comparison; docs/scaling.md
// has the table and how to reproduce it.
package bench
