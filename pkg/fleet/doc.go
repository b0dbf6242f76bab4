// Package fleet runs the fleet loop of every live cluster the daemon
// manages, beside the reconcile loop: one goroutine per cluster on its own
// schedule, so a slow head node never holds up another cluster.
//
// The daemon hands it the clusters after each reconcile cycle
// (FromChanges turns a cycle's changes into Targets; Manager.Sync takes
// them), and the manager starts, restarts and stops the loops to match.
// A Slurm, Grid Engine or Torque cluster gets a scale.Loop that reaches its
// head node through a Transport (SSH with a checked host key, or the local
// machine); an awsbatch cluster gets an observer of its compute
// environment and job queue.
//
// It never changes stacks: what it changes is desired capacity, scheduler
// nodes and instances, through pkg/scale.
package fleet
