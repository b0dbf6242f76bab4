// Package batch is the client side of awsbatch clusters: submitting a
// command as a job (single-node, multi-node or array), listing jobs by
// status, reading a job's output from CloudWatch Logs, cancelling or
// terminating jobs, describing the cluster's job queue and compute
// environment, and listing the compute environment's instances. It is what
// ParallelCluster's awsbsub, awsbstat, awsbout, awsbkill, awsbqueues and
// awsbhosts did. Each function takes the few SDK calls it makes as a small
// interface. It never changes the cluster's stack; the one thing it
// registers is the multi-node job definition derived from the stack's own
// (see Submit).
package batch
