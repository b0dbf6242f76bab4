package scale

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// DrainReasonPrefix starts every drain reason the loop writes. A drained
// node whose reason starts with it was drained by the loop, so the loop
// may finish the job (terminate it) even after a restart forgot the drain;
// a node a person drained for any other reason is never touched.
const DrainReasonPrefix = "driftless:"

// Input is everything the planner decides on for one group: the nodes
// mapped to its instances, the jobs of its queue, its limits, the policy,
// and the memory the previous round handed on.
type Input struct {
	Group  Group
	Nodes  []Node
	Jobs   []Job
	Config Config
	Memory Memory
}

// Memory is what the planner carries from one round to the next. It lives
// only in the daemon's memory on purpose: after a restart every clock
// starts at the restart, so a restart can delay a scale-down but never
// hasten one.
type Memory struct {
	// IdleSince is when each idle node was first seen idle.
	IdleSince map[string]time.Time
	// DownSince is when each down node was first seen down.
	DownSince map[string]time.Time
	// Drains holds the nodes the loop drained and when the drain was
	// confirmed by the actuator.
	Drains map[string]time.Time
	// DemandSince is when pending demand first exceeded the idle nodes;
	// zero while there is none.
	DemandSince time.Time
	// Round is when the previous round looked; zero in a daemon's first
	// round.
	Round time.Time
}

// NodeAction is one thing to do to one node.
type NodeAction struct {
	Node       string
	InstanceID string
	Reason     string
}

// Unfit is a pending job the group can never run, however far it grows.
type Unfit struct {
	Job    string
	Reason string
}

// Demand sums what the eligible pending jobs of a queue need.
type Demand struct {
	// Jobs is the number of eligible pending jobs counted.
	Jobs int
	// Nodes is how many whole nodes they need beyond the free slots of
	// partly used nodes.
	Nodes int
	// Free is the number of idle nodes, and Coming the capacity already
	// asked for that has not joined the scheduler yet.
	Free   int
	Coming int
}

// Shortfall is how many nodes the demand needs beyond what is free or
// coming.
func (d Demand) Shortfall() int {
	return max(0, d.Nodes-d.Free-d.Coming)
}

// Decision is the planner's output for one group. The actuator carries it
// out in this order: resume, replace, terminate, drain, desired capacity.
type Decision struct {
	// Desired is the group's desired capacity after this round, and
	// DesiredReason why. It only rises by SetDesiredCapacity; it falls
	// only through terminations that decrement it, so no instance with a
	// job is ever picked by Auto Scaling.
	Desired       int
	DesiredReason string
	// Drain lists idle nodes to drain in the scheduler. All of them fit
	// above the minimum, so the actuator terminates, in the same round,
	// those a fresh look after the drain finds still drained and idle.
	Drain []NodeAction
	// Terminate lists drained, still idle nodes to terminate with
	// ShouldDecrementDesiredCapacity.
	Terminate []NodeAction
	// Resume lists drained or draining nodes to return to service because
	// work arrived for them.
	Resume []NodeAction
	// Replace lists nodes down past the grace period: their instances are
	// terminated without decrementing, so the group launches new ones.
	Replace []NodeAction
	// NeverFit lists pending jobs bigger than the group can ever be.
	NeverFit []Unfit
	Demand   Demand
	// DemandMet is, in the round the idle nodes first cover the demand,
	// how long the demand waited; zero otherwise.
	DemandMet time.Duration
	// Wake is the earliest moment after now at which an idle node of the
	// group reaches its idle time, zero when none will. A loop that looks
	// again then retires the node at its deadline instead of at the first
	// regular round after it.
	Wake time.Time
	// Next is the memory to hand to the next round once the actuator has
	// confirmed what it did (see Memory.Confirm).
	Next Memory
}

// ScaleUp reports whether the decision raises the group's desired
// capacity.
func (d Decision) ScaleUp(g Group) bool { return d.Desired > g.Desired }

// Empty reports whether the decision asks the actuator to do nothing.
func (d Decision) Empty(g Group) bool {
	return !d.ScaleUp(g) && len(d.Drain)+len(d.Terminate)+len(d.Resume)+len(d.Replace) == 0
}

// ours reports whether the loop drained the node: it remembers the drain,
// or the scheduler kept the reason the loop wrote.
func ours(n Node, m Memory) bool {
	if _, ok := m.Drains[n.Name]; ok {
		return true
	}
	return strings.HasPrefix(n.Reason, DrainReasonPrefix)
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Plan decides what one group needs now. It is pure: the same input and
// now always give the same decision, and the input is not modified.
func Plan(in Input, now time.Time) Decision {
	g, cfg := in.Group, in.Config
	d := Decision{Next: Memory{
		Round:     now,
		IdleSince: map[string]time.Time{},
		DownSince: map[string]time.Time{},
		Drains:    map[string]time.Time{},
	}}

	nodes := slices.Clone(in.Nodes)
	slices.SortFunc(nodes, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	byName := make(map[string]Node, len(nodes))
	for _, n := range nodes {
		byName[n.Name] = n
	}

	// Clocks. A clock starts when the planner first sees the state and
	// moves later when the scheduler says the state began later.
	for _, n := range nodes {
		switch n.State {
		case Idle:
			since, ok := in.Memory.IdleSince[n.Name]
			if !ok {
				since = now
				// A node seen busy (or not at all) by the previous round
				// went idle since then; the scheduler's own time for it
				// is exact. In a first round there is no previous look,
				// and the clock starts now.
				if !in.Memory.Round.IsZero() && n.Since.After(in.Memory.Round) && !n.Since.After(now) {
					since = n.Since
				}
			}
			d.Next.IdleSince[n.Name] = later(since, n.Since)
		case Down:
			since, ok := in.Memory.DownSince[n.Name]
			if !ok {
				since = now
			}
			d.Next.DownSince[n.Name] = later(since, n.Since)
		case Drained, Draining:
			if at, ok := in.Memory.Drains[n.Name]; ok {
				d.Next.Drains[n.Name] = at
			}
		}
	}

	for _, n := range nodes {
		if n.State != Idle || n.InstanceID == "" {
			continue
		}
		if at := d.Next.IdleSince[n.Name].Add(cfg.IdleTime); at.After(now) && (d.Wake.IsZero() || at.Before(d.Wake)) {
			d.Wake = at
		}
	}

	slotsPerNode := cfg.SlotsPerNode
	if slotsPerNode <= 0 {
		for _, n := range nodes {
			slotsPerNode = max(slotsPerNode, n.Slots)
		}
	}
	if slotsPerNode <= 0 {
		slotsPerNode = cfg.InstanceSlots
	}
	slotsPerNode = max(slotsPerNode, 1)

	// Work that must go back to a node the loop drained.
	resume := map[string]string{}
	for _, n := range nodes {
		if n.State == Draining && ours(n, in.Memory) {
			resume[n.Name] = "a job started on the node while it was draining"
		}
	}

	// Demand.
	free, coming, joined, freeSlots := 0, 0, 0, 0
	for _, n := range nodes {
		switch n.State {
		case Idle:
			free++
		case Booting:
			coming++
		case Mixed:
			freeSlots += max(0, n.Slots-n.SlotsUsed)
		}
		if n.State != PoweredDown {
			joined++
		}
	}
	coming += max(0, g.Desired-joined)

	wholeNodes, smallSlots := 0, 0
	jobs := slices.Clone(in.Jobs)
	slices.SortFunc(jobs, func(a, b Job) int { return strings.Compare(a.ID, b.ID) })
	for _, j := range jobs {
		if !j.Pending || !j.Eligible {
			continue
		}
		if len(j.RequiredNodes) > 0 {
			// New nodes would carry other names; the job can only be
			// helped by giving it back the nodes it names.
			for _, r := range j.RequiredNodes {
				if n, ok := byName[r]; ok && (n.State == Drained || n.State == Draining) && ours(n, in.Memory) {
					resume[r] = "job " + j.ID + " asks for the node"
				}
			}
			continue
		}
		need := max(j.Nodes, 1, ceilDiv(j.Slots, slotsPerNode))
		if need > g.Max {
			d.NeverFit = append(d.NeverFit, Unfit{Job: j.ID, Reason: fmt.Sprintf(
				"needs %d nodes of %d slots, the group's maximum is %d", need, slotsPerNode, g.Max)})
			continue
		}
		d.Demand.Jobs++
		if need == 1 && !j.Exclusive {
			smallSlots += max(j.Slots, 1)
		} else {
			wholeNodes += need
		}
	}
	d.Demand.Nodes = wholeNodes + ceilDiv(max(0, smallSlots-freeSlots), slotsPerNode)
	d.Demand.Free, d.Demand.Coming = free, coming

	if d.Demand.Nodes > free {
		d.Next.DemandSince = in.Memory.DemandSince
		if d.Next.DemandSince.IsZero() {
			d.Next.DemandSince = now
		}
	} else if !in.Memory.DemandSince.IsZero() {
		d.DemandMet = now.Sub(in.Memory.DemandSince)
	}

	d.Desired = g.Desired
	d.DesiredReason = "no pending demand"
	short := d.Demand.Shortfall()
	if d.Demand.Nodes > 0 {
		d.DesiredReason = fmt.Sprintf("%d pending jobs need %d nodes; %d idle, %d coming",
			d.Demand.Jobs, d.Demand.Nodes, free, coming)
	}
	if short > 0 {
		// The cheapest capacity is a node the loop is draining.
		resumed := 0
		for _, n := range nodes {
			if short == 0 {
				break
			}
			if _, done := resume[n.Name]; done {
				continue
			}
			if n.State == Drained && ours(n, in.Memory) {
				resume[n.Name] = "pending jobs need the node"
				short--
				resumed++
			}
		}
		if resumed > 0 {
			d.DesiredReason += fmt.Sprintf("; %d drained nodes resumed", resumed)
		}
	}
	if short > 0 {
		want := min(g.Desired+short, g.Max)
		switch {
		case !cfg.ScaleUp:
			d.DesiredReason = fmt.Sprintf("%d pending jobs need %d more nodes; scale-up is disabled",
				d.Demand.Jobs, short)
		case want <= g.Desired:
			d.DesiredReason = fmt.Sprintf("%d pending jobs need %d more nodes; the group is at its maximum %d",
				d.Demand.Jobs, short, g.Max)
		default:
			d.Desired = want
			d.DesiredReason = fmt.Sprintf("%d pending jobs need %d nodes; %d idle, %d coming",
				d.Demand.Jobs, d.Demand.Nodes, free, coming)
			if want < g.Desired+short {
				d.DesiredReason += fmt.Sprintf("; capped at the maximum %d", g.Max)
			}
		}
	}

	for _, name := range slices.Sorted(maps.Keys(resume)) {
		n := byName[name]
		d.Resume = append(d.Resume, NodeAction{Node: name, InstanceID: n.InstanceID, Reason: resume[name]})
		delete(d.Next.Drains, name)
	}

	// Replacement of nodes down past the grace period. The group keeps its
	// size: Auto Scaling launches a new instance for each one.
	for _, n := range nodes {
		if n.State != Down || n.InstanceID == "" {
			continue
		}
		since := d.Next.DownSince[n.Name]
		if now.Sub(since) >= cfg.DownGrace {
			d.Replace = append(d.Replace, NodeAction{Node: n.Name, InstanceID: n.InstanceID,
				Reason: fmt.Sprintf("down since %s: %s", since.UTC().Format(time.RFC3339), n.Reason)})
		}
	}

	// Scale-down only when no eligible job waits: a waiting job may be
	// about to land on any idle node.
	if d.Demand.Nodes > 0 {
		return d
	}
	budget := max(0, min(g.Desired, len(g.Instances))-g.Min)
	var drained []Node
	for _, n := range nodes {
		if n.State == Drained && n.SlotsUsed == 0 && n.InstanceID != "" && ours(n, in.Memory) {
			if _, ok := resume[n.Name]; !ok {
				drained = append(drained, n)
			}
		}
	}
	// Terminate the nodes whose drain an earlier round confirmed and that
	// are still drained and idle now. A node drained by the loop before a
	// restart is remembered this round and terminated in the next.
	slices.SortStableFunc(drained, func(a, b Node) int {
		return d.Next.Drains[a.Name].Compare(d.Next.Drains[b.Name])
	})
	for _, n := range drained {
		at, ok := in.Memory.Drains[n.Name]
		if !ok {
			d.Next.Drains[n.Name] = now
			budget--
			continue
		}
		if budget <= 0 || !at.Before(now) {
			budget--
			continue
		}
		d.Terminate = append(d.Terminate, NodeAction{Node: n.Name, InstanceID: n.InstanceID,
			Reason: "drained at " + at.UTC().Format(time.RFC3339) + " and still idle"})
		budget--
	}
	d.Desired = g.Desired - len(d.Terminate)
	if len(d.Terminate) > 0 {
		d.DesiredReason = fmt.Sprintf("%d idle nodes retired", len(d.Terminate))
	}

	// Drain the nodes idle longest, as far as the minimum allows.
	var idle []Node
	for _, n := range nodes {
		if n.State == Idle && n.InstanceID != "" && now.Sub(d.Next.IdleSince[n.Name]) >= cfg.IdleTime {
			idle = append(idle, n)
		}
	}
	slices.SortStableFunc(idle, func(a, b Node) int {
		return d.Next.IdleSince[a.Name].Compare(d.Next.IdleSince[b.Name])
	})
	for _, n := range idle {
		if budget <= 0 {
			break
		}
		since := d.Next.IdleSince[n.Name]
		d.Drain = append(d.Drain, NodeAction{Node: n.Name, InstanceID: n.InstanceID,
			Reason: DrainReasonPrefix + " idle since " + since.UTC().Format(time.RFC3339)})
		budget--
	}
	return d
}

// Confirm returns the memory for the next round from the decision's, given
// which drains the actuator carried out at time at. A drain that failed is
// forgotten, so the node is planned afresh.
func (m Memory) Confirm(drained []string, at time.Time) Memory {
	out := Memory{
		IdleSince:   maps.Clone(m.IdleSince),
		DownSince:   maps.Clone(m.DownSince),
		Drains:      maps.Clone(m.Drains),
		DemandSince: m.DemandSince,
		Round:       m.Round,
	}
	if out.Drains == nil {
		out.Drains = map[string]time.Time{}
	}
	for _, n := range drained {
		out.Drains[n] = at
	}
	return out
}

// Touch restarts the idle clocks of nodes at time at: the actuator calls
// off a drain because work arrived, so the node was busy even if the next
// look finds it idle again.
func (m Memory) Touch(nodes []string, at time.Time) Memory {
	if len(nodes) == 0 {
		return m
	}
	out := m.Confirm(nil, at)
	if out.IdleSince == nil {
		out.IdleSince = map[string]time.Time{}
	}
	for _, n := range nodes {
		out.IdleSince[n] = at
		delete(out.Drains, n)
	}
	return out
}

func ceilDiv(a, b int) int {
	if a <= 0 {
		return 0
	}
	return (a + b - 1) / b
}
