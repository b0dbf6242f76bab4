package fleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/scale"
)

var _ apply.Drainer = (*Manager)(nil)

// pauses holds the clusters whose loop is paused for an approved change
// and a lock per cluster that a round holds, so a drain never runs beside
// a round that sizes the same cluster.
type pauses struct {
	mu     sync.Mutex
	paused map[string]bool
	rounds map[string]*sync.Mutex
}

func (p *pauses) round(cluster string) *sync.Mutex {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rounds == nil {
		p.rounds = map[string]*sync.Mutex{}
	}
	l, ok := p.rounds[cluster]
	if !ok {
		l = &sync.Mutex{}
		p.rounds[cluster] = l
	}
	return l
}

func (p *pauses) set(cluster string, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused == nil {
		p.paused = map[string]bool{}
	}
	if on {
		p.paused[cluster] = true
	} else {
		delete(p.paused, cluster)
	}
}

func (p *pauses) is(cluster string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused[cluster]
}

// Paused reports whether the cluster's loop is paused for an approved
// change (DrainAll).
func (m *Manager) Paused(cluster string) bool { return m.pauses.is(cluster) }

// Adopt takes over prev's paused clusters, so a manager that replaces
// another (a reloaded configuration) does not size a cluster being
// drained. Call it before Run.
func (m *Manager) Adopt(prev *Manager) {
	prev.pauses.mu.Lock()
	defer prev.pauses.mu.Unlock()
	for c := range prev.pauses.paused {
		m.pauses.set(c, true)
	}
}

// scheduler connects to the cluster's scheduler for a drain.
func (m *Manager) scheduler(ctx context.Context, cluster string) (scale.Scheduler, func(), error) {
	t, ok := m.target(cluster)
	switch {
	case !ok:
		return nil, nil, fmt.Errorf("%w: no fleet loop runs for %s", apply.ErrNoScheduler, cluster)
	case t.Scheduler == AWSBatch:
		return nil, nil, fmt.Errorf("%w: %s is an awsbatch cluster", apply.ErrNoScheduler, cluster)
	}
	sched, closer, err := m.cfg.Connect(ctx, t)
	if err != nil {
		return nil, nil, fmt.Errorf("reach the head node: %w", err)
	}
	return sched, func() { _ = closer.Close() }, nil
}

// DrainAll pauses the cluster's loop, waits for a running round to end,
// and drains every node that takes work (idle, allocated, mixed, booting
// or unknown); drained, down and powered-down nodes are left as they are.
func (m *Manager) DrainAll(ctx context.Context, cluster, reason string) error {
	sched, done, err := m.scheduler(ctx, cluster)
	if err != nil {
		return err
	}
	defer done()
	if !m.pauses.is(cluster) {
		m.pauses.set(cluster, true)
		m.log.Info("fleet loop paused for an approved change", "cluster", cluster, "reason", reason)
	}
	l := m.pauses.round(cluster)
	l.Lock()
	l.Unlock() //nolint:staticcheck // waits for the round in flight
	st, err := sched.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("read the nodes: %w", err)
	}
	var errs []error
	for _, n := range st.Nodes {
		switch n.State {
		case scale.Drained, scale.Draining, scale.Down, scale.PoweredDown:
			// Takes no new work already. A node drained by a person
			// keeps their reason, and ResumeAll leaves it drained.
			continue
		}
		if err := sched.Drain(ctx, n.Name, reason); err != nil {
			errs = append(errs, fmt.Errorf("drain %s: %w", n.Name, err))
			continue
		}
		m.log.Info("node drained for an approved change", "cluster", cluster, "node", n.Name, "state", string(n.State))
	}
	return errors.Join(errs...)
}

// Busy counts the jobs that run on the cluster.
func (m *Manager) Busy(ctx context.Context, cluster string) (int, error) {
	sched, done, err := m.scheduler(ctx, cluster)
	if err != nil {
		return 0, err
	}
	defer done()
	st, err := sched.Snapshot(ctx)
	if err != nil {
		return 0, fmt.Errorf("read the jobs: %w", err)
	}
	n := 0
	for _, j := range st.Jobs {
		if !j.Pending {
			n++
		}
	}
	return n, nil
}

// ResumeAll resumes the nodes drained for an approved change (their
// reason starts with apply.DrainReasonPrefix) and lifts the pause. Nodes a
// person or the loop's scale-down drained stay drained.
func (m *Manager) ResumeAll(ctx context.Context, cluster string) error {
	defer func() {
		if m.pauses.is(cluster) {
			m.pauses.set(cluster, false)
			m.log.Info("fleet loop resumed after an approved change", "cluster", cluster)
		}
	}()
	sched, done, err := m.scheduler(ctx, cluster)
	if err != nil {
		return err
	}
	defer done()
	st, err := sched.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("read the nodes: %w", err)
	}
	var errs []error
	for _, n := range st.Nodes {
		if !strings.HasPrefix(n.Reason, apply.DrainReasonPrefix) {
			continue
		}
		if err := sched.Resume(ctx, n.Name); err != nil {
			errs = append(errs, fmt.Errorf("resume %s: %w", n.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Settle resumes every paused cluster whose change, in a reconcile
// cycle's plan, no longer stops the fleet: the change was reverted or
// its approval withdrawn while its nodes drained, or it is done. A
// cluster whose stack is busy (Wait) is left paused: its update may
// still be running.
func (m *Manager) Settle(ctx context.Context, changes []diff.Change) {
	for _, ch := range changes {
		if !m.pauses.is(ch.Cluster) || ch.Action == diff.Wait || (ch.Action == diff.Update && ch.StopFleet) {
			continue
		}
		if err := m.ResumeAll(ctx, ch.Cluster); err != nil {
			m.log.Warn("resuming the nodes of a cluster whose change no longer stops its fleet", "cluster", ch.Cluster, "error", err)
		}
	}
}
