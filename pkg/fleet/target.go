package fleet

import (
	"cmp"
	"slices"

	"github.com/driftless/driftless/pkg/batch"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/scale"
	"github.com/driftless/driftless/pkg/spec"
)

// The schedulers a spec can name (spec.Cluster.Scheduler).
const (
	Slurm    = "slurm"
	SGE      = "sge"
	Torque   = "torque"
	AWSBatch = "awsbatch"
)

// Stack outputs a target is read from; pkg/render writes them.
const (
	OutputHeadNodePrivateIP = "HeadNodePrivateIp"
	OutputLoginUser         = "LoginUser"
)

// Target is one live cluster the manager runs a loop for. Two equal
// targets run the same loop; a changed target restarts it.
type Target struct {
	Cluster string
	// Scheduler is slurm, sge, torque or awsbatch.
	Scheduler string
	// HeadNode is the head node's private IP address, from the stack's
	// HeadNodePrivateIp output; LoginUser is its LoginUser output.
	HeadNode  string
	LoginUser string
	// Queues are the compute queues whose groups the loop sizes.
	Queues []Queue
	// Batch names an awsbatch cluster's job queue and compute environment.
	Batch batch.Target
}

// Queue is one compute queue of a target: the scheduler's queue and its
// group with the policy of the spec's scaling section, and the instance
// type that sizes a new node.
type Queue struct {
	scale.Queue
	InstanceType string
	// OneThreadPerCore is the queue's disableHyperthreading: a node then
	// offers one slot per core rather than per vCPU.
	OneThreadPerCore bool
}

// Equal reports whether two targets run the same loop.
func (t Target) Equal(u Target) bool {
	return t.Cluster == u.Cluster && t.Scheduler == u.Scheduler && t.HeadNode == u.HeadNode &&
		t.LoginUser == u.LoginUser && t.Batch == u.Batch && slices.Equal(t.Queues, u.Queues)
}

// hasResources reports whether a stack in this status holds its groups
// and head node: the fleet loop runs for it. A stack being created, rolled
// back after a failed create, or deleted does not.
func hasResources(status string) bool {
	switch diff.StatusKind(status) {
	case diff.Stable, diff.RollbackFailed, diff.Stuck:
		return true
	case diff.InProgress:
		switch status {
		case "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
			"UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS":
			return true
		}
	}
	return false
}

// FromChanges picks, from one reconcile cycle's changes, the clusters
// whose fleet loop should run, and what each needs. It is pure.
//
//   - A cluster runs a loop when its stack exists and holds its resources
//     (see hasResources), and it is not being deleted in this cycle.
//   - The scheduler is the deployed one (the spec recorded in the live
//     template) when the cycle read the live template, else the
//     declared one: a change not applied yet does not switch adapters.
//   - The queues are the declared queues whose group exists live, with
//     the declared scaling policy, which applies at once since it is the
//     daemon's own setting rather than part of the stack.
//   - A live cluster whose spec cannot be read this cycle (invalid, or
//     its file left the repo while pruning is off) keeps the target it
//     had in prev, so a typo does not stop its fleet loop.
//
// Targets are sorted by cluster name.
func FromChanges(changes []diff.Change, prev []Target) []Target {
	before := map[string]Target{}
	for _, t := range prev {
		before[t.Cluster] = t
	}
	var out []Target
	for _, ch := range changes {
		l := ch.Live
		if l == nil || ch.Action == diff.Delete || !hasResources(l.Status) {
			continue
		}
		declared := specOf(ch.Desired)
		var deployed *spec.Cluster
		if l.Template != nil {
			deployed, _ = render.SpecFromTemplate(l.Template)
		}
		c := cmp.Or(declared, deployed)
		if c == nil {
			if t, ok := before[ch.Cluster]; ok {
				out = append(out, t)
			}
			continue
		}
		t := Target{
			Cluster:   ch.Cluster,
			Scheduler: c.Scheduler,
			HeadNode:  l.Outputs[OutputHeadNodePrivateIP],
			LoginUser: l.Outputs[OutputLoginUser],
		}
		if deployed != nil {
			t.Scheduler = deployed.Scheduler
		}
		if t.Scheduler == AWSBatch {
			t.Batch, _ = batch.TargetFromOutputs(ch.Cluster, l.Outputs)
			out = append(out, t)
			continue
		}
		t.Queues = queues(c, l)
		if len(t.Queues) > 0 {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b Target) int { return cmp.Compare(a.Cluster, b.Cluster) })
	return out
}

func specOf(st *render.Stack) *spec.Cluster {
	if st == nil {
		return nil
	}
	c, err := render.SpecFromTemplate(st.Template)
	if err != nil {
		return nil
	}
	return c
}

// queues ties the spec's queues to the live groups render named for them.
func queues(c *spec.Cluster, l *diff.Live) []Queue {
	live := map[string]bool{}
	for _, g := range l.Groups {
		live[g.Name] = true
	}
	cfg := ScaleConfig(c.Scaling)
	var out []Queue
	for _, q := range c.Compute {
		name := render.GroupName(c.Name, q.Name)
		if !live[name] {
			continue
		}
		out = append(out, Queue{
			Queue:            scale.Queue{Name: q.Name, Group: name, Config: cfg},
			InstanceType:     q.InstanceType,
			OneThreadPerCore: q.DisableHyperthreading,
		})
	}
	return out
}

// ScaleConfig is the loop's policy for a spec's scaling section; what the
// section does not say keeps scale.DefaultConfig's value.
func ScaleConfig(s spec.Scaling) scale.Config {
	cfg := scale.DefaultConfig()
	if s.IdleTime.Duration > 0 {
		cfg.IdleTime = s.IdleTime.Duration
	}
	cfg.ScaleUp = s.ScaleUp
	return cfg
}
