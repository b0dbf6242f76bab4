package scale

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// Queue ties one scheduler queue (Slurm partition, SGE or Torque queue)
// to the Auto Scaling group whose instances serve it.
type Queue struct {
	// Name is the scheduler's queue name. Jobs of other queues are not
	// this group's demand; with a single queue, jobs that name no queue
	// count too.
	Name string
	// Group is the Auto Scaling group's name.
	Group  string
	Config Config
}

// LoopConfig is what NewLoop needs for one cluster.
type LoopConfig struct {
	Cluster   string
	Scheduler Scheduler
	Fleet     Fleet
	Queues    []Queue
	// Metrics may be nil.
	Metrics *Metrics
	// Logger may be nil.
	Logger *slog.Logger
}

// Loop is the fleet loop of one cluster. It is not safe for concurrent
// use: the daemon calls RunOnce for a cluster from one goroutine.
type Loop struct {
	cfg    LoopConfig
	log    *slog.Logger
	memory map[string]Memory
}

// NewLoop checks the configuration and makes a loop with empty memory:
// every idle clock starts at the first round.
func NewLoop(cfg LoopConfig) (*Loop, error) {
	if cfg.Scheduler == nil || cfg.Fleet == nil {
		return nil, errors.New("scale: a loop needs a scheduler and a fleet")
	}
	if len(cfg.Queues) == 0 {
		return nil, fmt.Errorf("scale: cluster %s has no queues", cfg.Cluster)
	}
	seen := map[string]bool{}
	for _, q := range cfg.Queues {
		if q.Group == "" || seen[q.Group] {
			return nil, fmt.Errorf("scale: cluster %s: queue %q needs a group of its own", cfg.Cluster, q.Name)
		}
		seen[q.Group] = true
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Loop{cfg: cfg, log: log.With("cluster", cfg.Cluster), memory: map[string]Memory{}}, nil
}

// Report says what one round saw, decided and did.
type Report struct {
	Cluster string
	Groups  []GroupReport
	// Unmapped names scheduler nodes that belong to none of the groups.
	Unmapped []string
	// Wake is the earliest of the groups' Decision.Wake: when an idle
	// node reaches its idle time. Zero when no node will.
	Wake time.Time
}

// GroupReport is one group's part of a round.
type GroupReport struct {
	Queue    string
	Group    Group
	Decision Decision
	// What the actuator carried out, by node name.
	Drained, Resumed, Terminated, Replaced []string
	// DesiredSet is the desired capacity the actuator set, or -1.
	DesiredSet int
	// Kept lists planned terminations the re-check called off.
	Kept []NodeAction
	// Err joins the errors of this group's steps.
	Err error
}

// RunOnce takes one look at the scheduler and the groups, plans each
// group and carries the plans out. It returns an error when the scheduler
// could not be read; failures of single groups or steps are in the report
// (and joined into the error) and leave the other groups unaffected.
func (l *Loop) RunOnce(ctx context.Context, now time.Time) (Report, error) {
	c := l.cfg
	rep := Report{Cluster: c.Cluster}
	state, err := c.Scheduler.Snapshot(ctx)
	if err != nil {
		c.Metrics.failed(c.Cluster, "snapshot")
		return rep, fmt.Errorf("scale %s: scheduler snapshot: %w", c.Cluster, err)
	}
	c.Metrics.observeNodes(c.Cluster, state.Nodes)

	var groups []Group
	var errs []error
	described := map[string]bool{}
	for _, q := range c.Queues {
		g, err := c.Fleet.Group(ctx, q.Group)
		if err != nil {
			c.Metrics.failed(c.Cluster, "describe")
			errs = append(errs, fmt.Errorf("describe group %s: %w", q.Group, err))
			continue
		}
		groups = append(groups, g)
		described[q.Group] = true
	}
	byGroup, unmapped := MapNodes(state.Nodes, groups)
	for _, n := range unmapped {
		rep.Unmapped = append(rep.Unmapped, n.Name)
	}

	for _, q := range c.Queues {
		if !described[q.Group] {
			continue
		}
		g := groups[slices.IndexFunc(groups, func(g Group) bool { return g.Name == q.Group })]
		in := Input{
			Group:  g,
			Nodes:  byGroup[g.Name],
			Jobs:   queueJobs(state.Jobs, q.Name, len(c.Queues) == 1),
			Config: q.Config,
			Memory: l.memory[g.Name],
		}
		d := Plan(in, now)
		c.Metrics.observePlan(c.Cluster, in, d, now)
		gr, drained := l.act(ctx, q, g, d)
		l.memory[g.Name] = d.Next.Confirm(drained, now).Touch(gr.Resumed, now)
		if gr.Err != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", g.Name, gr.Err))
		}
		rep.Groups = append(rep.Groups, gr)
		if w := d.Wake; !w.IsZero() && (rep.Wake.IsZero() || w.Before(rep.Wake)) {
			rep.Wake = w
		}
	}
	c.Metrics.ran(c.Cluster, now)
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("scale %s: %w", c.Cluster, err)
	}
	return rep, nil
}

// queueJobs picks the jobs of one queue.
func queueJobs(jobs []Job, queue string, only bool) []Job {
	var out []Job
	for _, j := range jobs {
		if j.Queue == queue || (only && (j.Queue == "" || queue == "")) {
			out = append(out, j)
		}
	}
	return out
}

// recheck is the last look at the scheduler before an instance is
// destroyed: one fresh snapshot per group, taken after that group's drains.
type recheck struct {
	nodes  map[string]Node
	wanted map[string]bool
}

func newRecheck(ctx context.Context, sched Scheduler) (*recheck, error) {
	s, err := sched.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	r := &recheck{nodes: map[string]Node{}, wanted: map[string]bool{}}
	for _, n := range s.Nodes {
		r.nodes[n.Name] = n
	}
	for _, j := range s.Jobs {
		if j.Pending && j.Eligible {
			for _, n := range j.RequiredNodes {
				r.wanted[n] = true
			}
		}
	}
	return r, nil
}

// verdict says what to do with a node the plan would terminate: terminate
// it only when it is still drained, runs nothing and no waiting job asks
// for it; resume it when work arrived for it; otherwise leave it drained.
func (r *recheck) verdict(name string) (terminate, resume bool, why string) {
	n, ok := r.nodes[name]
	switch {
	case !ok:
		return false, false, "the node is gone from the scheduler"
	case n.State == Draining || n.SlotsUsed > 0:
		return false, true, "a job started on the node while it was draining"
	case r.wanted[name]:
		return false, true, "a waiting job asks for the node"
	case n.State != Drained:
		return false, false, "the node is " + string(n.State)
	}
	return true, false, ""
}

// act carries out one decision: resume, replace, drain, then one fresh
// look at the scheduler, terminate what is still drained and idle (both
// the nodes drained in earlier rounds and those just drained), and
// finally raise the desired capacity.
func (l *Loop) act(ctx context.Context, q Queue, g Group, d Decision) (GroupReport, []string) {
	c := l.cfg
	log := l.log.With("group", g.Name)
	gr := GroupReport{Queue: q.Name, Group: g, Decision: d, DesiredSet: -1}
	var errs []error
	fail := func(step string, err error) {
		c.Metrics.failed(c.Cluster, step)
		errs = append(errs, err)
	}
	resume := func(a NodeAction, why string) {
		if err := c.Scheduler.Resume(ctx, a.Node); err != nil {
			fail("resume", fmt.Errorf("resume %s: %w", a.Node, err))
			return
		}
		gr.Resumed = append(gr.Resumed, a.Node)
		c.Metrics.drainCancelled(c.Cluster, g.Name)
		log.Info("drain cancelled", "node", a.Node, "reason", why)
	}

	for _, a := range d.Resume {
		resume(a, a.Reason)
	}

	for _, a := range d.Replace {
		if err := c.Fleet.Terminate(ctx, a.InstanceID, false); err != nil {
			fail("terminate", fmt.Errorf("replace %s (%s): %w", a.Node, a.InstanceID, err))
			continue
		}
		gr.Replaced = append(gr.Replaced, a.Node)
		c.Metrics.action(c.Cluster, g.Name, "replace", ReasonNodeDown, 1)
		log.Info("down node replaced", "node", a.Node, "instance", a.InstanceID, "reason", a.Reason)
		if err := c.Scheduler.Remove(ctx, a.Node); err != nil {
			fail("remove", fmt.Errorf("remove %s: %w", a.Node, err))
		}
	}

	candidates := slices.Clone(d.Terminate)
	for _, a := range d.Drain {
		if err := c.Scheduler.Drain(ctx, a.Node, a.Reason); err != nil {
			fail("drain", fmt.Errorf("drain %s: %w", a.Node, err))
			continue
		}
		gr.Drained = append(gr.Drained, a.Node)
		candidates = append(candidates, a)
		log.Info("idle node drained", "node", a.Node, "reason", a.Reason)
	}

	desired := g.Desired
	stillDrained := map[string]bool{}
	for _, n := range gr.Drained {
		stillDrained[n] = true
	}
	if len(candidates) > 0 {
		rc, err := newRecheck(ctx, c.Scheduler)
		if err != nil {
			fail("snapshot", fmt.Errorf("re-check before terminating: %w", err))
			candidates = nil
		}
		for _, a := range candidates {
			term, res, why := rc.verdict(a.Node)
			if !term {
				gr.Kept = append(gr.Kept, NodeAction{Node: a.Node, InstanceID: a.InstanceID, Reason: why})
				log.Info("termination called off by the re-check", "node", a.Node, "reason", why)
				if res {
					resume(a, why)
					delete(stillDrained, a.Node)
				}
				continue
			}
			if err := c.Fleet.Terminate(ctx, a.InstanceID, true); err != nil {
				fail("terminate", fmt.Errorf("terminate %s (%s): %w", a.Node, a.InstanceID, err))
				continue
			}
			desired--
			delete(stillDrained, a.Node)
			gr.Terminated = append(gr.Terminated, a.Node)
			c.Metrics.action(c.Cluster, g.Name, "down", ReasonIdle, 1)
			log.Info("idle node terminated", "node", a.Node, "instance", a.InstanceID, "reason", a.Reason)
			if err := c.Scheduler.Remove(ctx, a.Node); err != nil {
				fail("remove", fmt.Errorf("remove %s: %w", a.Node, err))
			}
		}
	}

	if d.Desired > g.Desired {
		if err := c.Fleet.SetDesiredCapacity(ctx, g.Name, d.Desired); err != nil {
			fail("set_desired", fmt.Errorf("set desired capacity %d: %w", d.Desired, err))
		} else {
			gr.DesiredSet, desired = d.Desired, d.Desired
			c.Metrics.action(c.Cluster, g.Name, "up", ReasonPendingJobs, d.Desired-g.Desired)
			log.Info("scaled up", "from", g.Desired, "to", d.Desired, "reason", d.DesiredReason)
		}
	} else if len(d.NeverFit) > 0 {
		log.Warn("pending jobs can never fit", "jobs", d.NeverFit)
	}
	c.Metrics.desiredNow(c.Cluster, g.Name, desired)
	gr.Err = errors.Join(errs...)
	return gr, slices.Sorted(maps.Keys(stillDrained))
}
