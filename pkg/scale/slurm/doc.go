// Package slurm adapts Slurm to the fleet loop. It reads nodes and jobs as
// JSON, from sinfo --json and squeue --json run through a scale.Runner or
// from slurmrestd, and drains, resumes and removes nodes with scontrol (or
// slurmrestd's node endpoint from v0.0.39 on).
//
// The JSON shapes of Slurm 22.05 (OpenAPI v0.0.38) are the reference; the
// parser also accepts the shapes of later versions, where a node's state
// is a list of words, numbers may come wrapped as {"set","infinite",
// "number"}, and a job's state is a list too.
package slurm
