package main

import (
	"context"
	"fmt"

	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/fleet"
)

var _ apply.Drainer = (*fleetRunner)(nil)

// manager is the fleet manager in force; an error wrapping
// apply.ErrNoScheduler when the fleet loop is off.
func (r *fleetRunner) current(cluster string) (*fleet.Manager, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur == nil {
		return nil, fmt.Errorf("%w: the fleet loop is off, so %s cannot be drained", apply.ErrNoScheduler, cluster)
	}
	return r.cur.m, nil
}

// DrainAll drains the cluster with the manager in force.
func (r *fleetRunner) DrainAll(ctx context.Context, cluster, reason string) error {
	m, err := r.current(cluster)
	if err != nil {
		return err
	}
	return m.DrainAll(ctx, cluster, reason)
}

// Busy counts the cluster's running jobs with the manager in force.
func (r *fleetRunner) Busy(ctx context.Context, cluster string) (int, error) {
	m, err := r.current(cluster)
	if err != nil {
		return 0, err
	}
	return m.Busy(ctx, cluster)
}

// ResumeAll resumes the cluster with the manager in force.
func (r *fleetRunner) ResumeAll(ctx context.Context, cluster string) error {
	m, err := r.current(cluster)
	if err != nil {
		return err
	}
	return m.ResumeAll(ctx, cluster)
}
