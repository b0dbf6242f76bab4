package slurm

import (
	"context"
	"errors"
	"fmt"

	"github.com/driftless/driftless/pkg/scale"
)

var _ scale.Scheduler = (*Slurm)(nil)

// Slurm is the fleet loop's view of one Slurm cluster.
type Slurm struct {
	run  scale.Runner
	rest *REST
}

// New reads Slurm with sinfo --json and squeue --json and changes nodes
// with scontrol, all through run. With rest set, Snapshot reads through
// slurmrestd instead and node changes go through slurmrestd too when its
// API version has a node endpoint (v0.0.39 and later); run may then be nil.
func New(run scale.Runner, rest *REST) (*Slurm, error) {
	if run == nil && (rest == nil || !rest.canUpdate()) {
		return nil, errors.New("slurm: node changes need a runner for scontrol or slurmrestd v0.0.39 or later")
	}
	return &Slurm{run: run, rest: rest}, nil
}

// Snapshot reads nodes, then jobs. A job that starts between the two reads
// shows as running on a node still listed idle; the planner never drains a
// node on one look, and the actuator re-checks before it terminates.
func (s *Slurm) Snapshot(ctx context.Context) (scale.State, error) {
	if s.rest != nil {
		return s.rest.Snapshot(ctx)
	}
	out, err := s.run.Run(ctx, nil, "sinfo", "--json")
	if err != nil {
		return scale.State{}, err
	}
	nodes, err := ParseNodes(out)
	if err != nil {
		return scale.State{}, err
	}
	out, err = s.run.Run(ctx, nil, "squeue", "--json")
	if err != nil {
		return scale.State{}, err
	}
	jobs, err := ParseJobs(out)
	if err != nil {
		return scale.State{}, err
	}
	return scale.State{Nodes: nodes, Jobs: jobs}, nil
}

// Drain sets DRAIN with the reason; running jobs go on.
func (s *Slurm) Drain(ctx context.Context, node, reason string) error {
	if s.rest != nil && s.rest.canUpdate() {
		return s.rest.updateNode(ctx, node, "DRAIN", reason)
	}
	return s.scontrol(ctx, "update", "NodeName="+node, "State=DRAIN", "Reason="+reason)
}

// Resume clears DRAIN.
func (s *Slurm) Resume(ctx context.Context, node string) error {
	if s.rest != nil && s.rest.canUpdate() {
		return s.rest.updateNode(ctx, node, "RESUME", "")
	}
	return s.scontrol(ctx, "update", "NodeName="+node, "State=RESUME")
}

// Remove deletes the node from Slurm. Only dynamic nodes (slurmd -Z) and
// nodes added with scontrol create can be deleted; a node written in
// slurm.conf is set DOWN with a reason instead, so no job is sent to it.
func (s *Slurm) Remove(ctx context.Context, node string) error {
	if s.rest != nil && s.rest.canUpdate() {
		if err := s.rest.deleteNode(ctx, node); err == nil {
			return nil
		}
		return s.rest.updateNode(ctx, node, "DOWN", scale.DrainReasonPrefix+" instance terminated")
	}
	if err := s.scontrol(ctx, "delete", "NodeName="+node); err == nil {
		return nil
	}
	return s.scontrol(ctx, "update", "NodeName="+node, "State=DOWN",
		"Reason="+scale.DrainReasonPrefix+" instance terminated")
}

func (s *Slurm) scontrol(ctx context.Context, args ...string) error {
	if s.run == nil {
		return fmt.Errorf("slurm: scontrol %v: no runner", args)
	}
	_, err := s.run.Run(ctx, nil, "scontrol", args...)
	return err
}
