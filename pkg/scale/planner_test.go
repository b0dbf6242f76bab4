package scale

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// node builds a node of 2 slots backed by instance i-<name>.
func node(name string, st NodeState) Node {
	n := Node{Name: name, InstanceID: "i-" + name, State: st, Slots: 2}
	switch st {
	case Allocated, Draining:
		n.SlotsUsed = 2
	case Mixed:
		n.SlotsUsed = 1
	}
	return n
}

func drainedByUs(name string) Node {
	n := node(name, Drained)
	n.Reason = DrainReasonPrefix + " idle since earlier"
	return n
}

func group(min, desired, max int, names ...string) Group {
	g := Group{Name: "g", Min: min, Desired: desired, Max: max}
	for _, n := range names {
		g.Instances = append(g.Instances, Instance{ID: "i-" + n, Lifecycle: "InService", Healthy: true})
	}
	return g
}

func pending(id string, nodes, slots int) Job {
	return Job{ID: id, Pending: true, Eligible: true, Nodes: nodes, Slots: slots}
}

func idleFor(d time.Duration, names ...string) map[string]time.Time {
	m := map[string]time.Time{}
	for _, n := range names {
		m[n] = t0.Add(-d)
	}
	return m
}

func names(as []NodeAction) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Node)
	}
	return out
}

func TestPlan(t *testing.T) {
	cfg := DefaultConfig()
	tests := []struct {
		name          string
		in            Input
		wantDesired   int
		wantDrain     []string
		wantTerminate []string
		wantResume    []string
		wantReplace   []string
		wantNeverFit  []string
		wantReason    string
	}{
		{
			name:        "empty group stays empty",
			in:          Input{Group: group(0, 0, 10), Config: cfg},
			wantDesired: 0,
			wantReason:  "no pending demand",
		},
		{
			name: "job needing more nodes than are up grows the group in one round",
			in: Input{Group: group(1, 1, 10, "a"), Config: cfg,
				Nodes: []Node{node("a", Idle)},
				Jobs:  []Job{pending("1", 4, 4)}},
			wantDesired: 4,
			wantReason:  "1 pending jobs need 4 nodes; 1 idle, 0 coming",
		},
		{
			name: "growth is capped at the maximum",
			in: Input{Group: group(0, 2, 5, "a", "b"), Config: cfg,
				Nodes: []Node{node("a", Allocated), node("b", Allocated)},
				Jobs:  []Job{pending("1", 4, 8), pending("2", 2, 4)}},
			wantDesired: 5,
			wantReason:  "capped at the maximum 5",
		},
		{
			name: "a job bigger than the maximum is reported and grows nothing",
			in: Input{Group: group(0, 0, 4), Config: Config{IdleTime: time.Minute, ScaleUp: true, SlotsPerNode: 2},
				Jobs: []Job{pending("big", 8, 8)}},
			wantDesired:  0,
			wantNeverFit: []string{"big"},
		},
		{
			name: "slots beyond one node spread over several nodes",
			in: Input{Group: group(0, 0, 4), Config: Config{IdleTime: time.Minute, ScaleUp: true, SlotsPerNode: 4},
				Jobs: []Job{pending("1", 1, 16)}},
			wantDesired: 4,
		},
		{
			name: "an empty group sizes demand by the instance type's slots",
			in: Input{Group: group(0, 0, 10), Config: Config{ScaleUp: true, InstanceSlots: 2},
				Jobs: []Job{pending("mpi", 1, 16)}},
			wantDesired: 8,
		},
		{
			name: "nodes that report their slots win over the instance type",
			in: Input{Group: group(0, 1, 10, "a"), Config: Config{ScaleUp: true, InstanceSlots: 8},
				Nodes: []Node{node("a", Allocated)},
				Jobs:  []Job{pending("mpi", 1, 8)}},
			wantDesired: 5,
		},
		{
			name: "small jobs are packed into nodes by slots",
			in: Input{Group: group(0, 0, 10), Config: Config{ScaleUp: true, SlotsPerNode: 4},
				Jobs: []Job{pending("1", 1, 1), pending("2", 1, 1), pending("3", 1, 2), pending("4", 1, 1)}},
			wantDesired: 2,
		},
		{
			name: "free slots on a mixed node absorb a small job",
			in: Input{Group: group(0, 1, 10, "a"), Config: cfg,
				Nodes: []Node{node("a", Mixed)},
				Jobs:  []Job{pending("1", 1, 1)}},
			wantDesired: 1,
		},
		{
			name: "capacity already coming is not asked for twice",
			in: Input{Group: group(0, 3, 10, "a"), Config: cfg,
				Nodes: []Node{node("a", Allocated)},
				Jobs:  []Job{pending("1", 2, 2)}},
			wantDesired: 3,
		},
		{
			name: "an exclusive job takes a whole node",
			in: Input{Group: group(0, 1, 10, "a"), Config: cfg,
				Nodes: []Node{node("a", Mixed)},
				Jobs:  []Job{{ID: "1", Pending: true, Eligible: true, Nodes: 1, Slots: 1, Exclusive: true}}},
			wantDesired: 2,
		},
		{
			name: "held and dependent jobs do not grow the group",
			in: Input{Group: group(0, 0, 10), Config: cfg,
				Jobs: []Job{{ID: "1", Pending: true, Eligible: false, Nodes: 3, Slots: 3}}},
			wantDesired: 0,
		},
		{
			name: "running jobs are not demand",
			in: Input{Group: group(0, 1, 10, "a"), Config: cfg,
				Nodes: []Node{node("a", Allocated)},
				Jobs:  []Job{{ID: "1", Nodes: 1, Slots: 2}}},
			wantDesired: 1,
		},
		{
			name: "scale-up disabled says so and keeps the size",
			in: Input{Group: group(0, 0, 10), Config: Config{IdleTime: time.Minute},
				Jobs: []Job{pending("1", 2, 2)}},
			wantDesired: 0,
			wantReason:  "scale-up is disabled",
		},
		{
			name: "at the maximum already",
			in: Input{Group: group(0, 2, 2, "a", "b"), Config: cfg,
				Nodes: []Node{node("a", Allocated), node("b", Allocated)},
				Jobs:  []Job{pending("1", 1, 2)}},
			wantDesired: 2,
			wantReason:  "at its maximum 2",
		},
		{
			name: "demand resumes a node the loop drained before growing",
			in: Input{Group: group(0, 2, 10, "a", "b"), Config: cfg,
				Nodes: []Node{node("a", Allocated), drainedByUs("b")},
				Jobs:  []Job{pending("1", 2, 4)}},
			wantDesired: 3,
			wantResume:  []string{"b"},
		},
		{
			name: "a job asking for a draining node gets it back",
			in: Input{Group: group(1, 3, 10, "a", "b", "c"), Config: cfg,
				Nodes: []Node{node("a", Idle), drainedByUs("b"), node("c", Idle)},
				Jobs:  []Job{{ID: "7", Pending: true, Eligible: true, Nodes: 1, Slots: 1, RequiredNodes: []string{"b"}}}},
			wantDesired: 3,
			wantResume:  []string{"b"},
		},
		{
			name: "a job that landed while the node was draining cancels the drain",
			in: Input{Group: group(0, 1, 10, "a"), Config: cfg,
				Nodes:  []Node{{Name: "a", InstanceID: "i-a", State: Draining, Slots: 2, SlotsUsed: 1}},
				Memory: Memory{Drains: map[string]time.Time{"a": t0.Add(-time.Minute)}}},
			wantDesired: 1,
			wantResume:  []string{"a"},
		},
		{
			name: "a node a person drained is left alone",
			in: Input{Group: group(0, 2, 10, "a", "b"), Config: cfg,
				Nodes: []Node{{Name: "a", InstanceID: "i-a", State: Drained, Slots: 2, Reason: "bad DIMM"},
					{Name: "b", InstanceID: "i-b", State: Draining, Slots: 2, SlotsUsed: 2, Reason: "maintenance"}},
				Jobs: []Job{pending("1", 1, 2)}},
			wantDesired: 3,
		},
		{
			name: "idle past the idle time is drained, longest idle first, never below the minimum",
			in: Input{Group: group(1, 3, 10, "a", "b", "c"), Config: cfg,
				Nodes: []Node{node("a", Idle), node("b", Idle), node("c", Idle)},
				Memory: Memory{IdleSince: map[string]time.Time{
					"a": t0.Add(-11 * time.Minute), "b": t0.Add(-30 * time.Minute), "c": t0.Add(-20 * time.Minute)}}},
			wantDesired: 3,
			wantDrain:   []string{"b", "c"},
		},
		{
			name: "idle for less than the idle time is kept",
			in: Input{Group: group(0, 2, 10, "a", "b"), Config: cfg,
				Nodes:  []Node{node("a", Idle), node("b", Idle)},
				Memory: Memory{IdleSince: idleFor(9*time.Minute, "a", "b")}},
			wantDesired: 2,
		},
		{
			name: "the scheduler's later last-busy time restarts the clock",
			in: Input{Group: group(0, 1, 10, "a"), Config: cfg,
				Nodes:  []Node{{Name: "a", InstanceID: "i-a", State: Idle, Slots: 2, Since: t0.Add(-time.Minute)}},
				Memory: Memory{IdleSince: idleFor(time.Hour, "a")}},
			wantDesired: 1,
		},
		{
			name: "a node that went idle since the previous round keeps the scheduler's time",
			in: Input{Group: group(0, 2, 10, "a", "b"), Config: cfg,
				Nodes: []Node{{Name: "a", InstanceID: "i-a", State: Idle, Slots: 2, Since: t0.Add(-10*time.Minute - 30*time.Second)},
					{Name: "b", InstanceID: "i-b", State: Idle, Slots: 2, Since: t0.Add(-time.Hour)}},
				Memory: Memory{Round: t0.Add(-11 * time.Minute)}},
			wantDesired: 2,
			wantDrain:   []string{"a"},
		},
		{
			name: "a restart forgets idle clocks: nothing is drained in the first round",
			in: Input{Group: group(0, 2, 10, "a", "b"), Config: cfg,
				Nodes: []Node{{Name: "a", InstanceID: "i-a", State: Idle, Slots: 2, Since: t0.Add(-time.Hour)}, node("b", Idle)}},
			wantDesired: 2,
		},
		{
			name: "idle nodes are kept while any job waits",
			in: Input{Group: group(0, 3, 3, "a", "b", "c"), Config: cfg,
				Nodes:  []Node{node("a", Idle), node("b", Allocated), node("c", Allocated)},
				Jobs:   []Job{pending("1", 2, 4)},
				Memory: Memory{IdleSince: idleFor(time.Hour, "a")}},
			wantDesired: 3,
		},
		{
			name: "a drained node confirmed in an earlier round is terminated",
			in: Input{Group: group(1, 3, 10, "a", "b", "c"), Config: cfg,
				Nodes:  []Node{node("a", Idle), drainedByUs("b"), drainedByUs("c")},
				Memory: Memory{Drains: map[string]time.Time{"b": t0.Add(-time.Minute), "c": t0.Add(-2 * time.Minute)}}},
			wantDesired:   1,
			wantTerminate: []string{"c", "b"},
			wantReason:    "2 idle nodes retired",
		},
		{
			name: "terminations stop at the minimum",
			in: Input{Group: group(2, 3, 10, "a", "b", "c"), Config: cfg,
				Nodes:  []Node{node("a", Allocated), drainedByUs("b"), drainedByUs("c")},
				Memory: Memory{Drains: map[string]time.Time{"b": t0.Add(-time.Minute), "c": t0.Add(-2 * time.Minute)}}},
			wantDesired:   2,
			wantTerminate: []string{"c"},
		},
		{
			name: "a drain found after a restart is re-checked for a round before termination",
			in: Input{Group: group(0, 1, 10, "a"), Config: cfg,
				Nodes: []Node{drainedByUs("a")}},
			wantDesired: 1,
		},
		{
			name: "drains and pending terminations share the budget above the minimum",
			in: Input{Group: group(1, 3, 10, "a", "b", "c"), Config: cfg,
				Nodes:  []Node{node("a", Idle), node("b", Idle), drainedByUs("c")},
				Memory: Memory{IdleSince: idleFor(time.Hour, "a", "b"), Drains: map[string]time.Time{"c": t0.Add(-time.Minute)}}},
			wantDesired:   2,
			wantTerminate: []string{"c"},
			wantDrain:     []string{"a"},
		},
		{
			name: "desired above the instances counts only the instances for scale-down",
			in: Input{Group: group(1, 5, 10, "a", "b"), Config: cfg,
				Nodes:  []Node{node("a", Idle), node("b", Idle)},
				Memory: Memory{IdleSince: idleFor(time.Hour, "a", "b")}},
			wantDesired: 5,
			wantDrain:   []string{"a"},
		},
		{
			name: "a node down past the grace period is replaced",
			in: Input{Group: group(2, 2, 10, "a", "b"), Config: cfg,
				Nodes:  []Node{{Name: "a", InstanceID: "i-a", State: Down, Reason: "Not responding"}, node("b", Down)},
				Memory: Memory{DownSince: map[string]time.Time{"a": t0.Add(-6 * time.Minute), "b": t0.Add(-time.Minute)}}},
			wantDesired: 2,
			wantReplace: []string{"a"},
		},
		{
			name: "nodes without an instance are never acted on",
			in: Input{Group: group(0, 1, 10, "a"), Config: cfg,
				Nodes:  []Node{{Name: "x", State: Idle}, {Name: "y", State: Down}},
				Memory: Memory{IdleSince: idleFor(time.Hour, "x"), DownSince: idleFor(time.Hour, "y")}},
			wantDesired: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Plan(tt.in, t0)
			if d.Desired != tt.wantDesired {
				t.Errorf("desired = %d, want %d (%s)", d.Desired, tt.wantDesired, d.DesiredReason)
			}
			check := func(what string, got []NodeAction, want []string) {
				t.Helper()
				if !slices.Equal(names(got), want) {
					t.Errorf("%s = %v, want %v", what, names(got), want)
				}
			}
			check("drain", d.Drain, tt.wantDrain)
			check("terminate", d.Terminate, tt.wantTerminate)
			check("resume", d.Resume, tt.wantResume)
			check("replace", d.Replace, tt.wantReplace)
			var unfit []string
			for _, u := range d.NeverFit {
				unfit = append(unfit, u.Job)
			}
			if !slices.Equal(unfit, tt.wantNeverFit) {
				t.Errorf("never fit = %v, want %v", unfit, tt.wantNeverFit)
			}
			if tt.wantReason != "" && !strings.Contains(d.DesiredReason, tt.wantReason) {
				t.Errorf("reason = %q, want it to contain %q", d.DesiredReason, tt.wantReason)
			}
		})
	}
}

// TestPlanNeverBelowMin drives many rounds over every small group shape
// and checks the invariants that protect running work.
func TestPlanNeverBelowMin(t *testing.T) {
	states := []NodeState{Idle, Allocated, Mixed, Drained, Draining, Down}
	for min := 0; min <= 3; min++ {
		for size := min; size <= 5; size++ {
			for seed := 0; seed < 60; seed++ {
				var nodes []Node
				var ids []string
				mem := Memory{IdleSince: map[string]time.Time{}, Drains: map[string]time.Time{}, DownSince: map[string]time.Time{}}
				for i := range size {
					name := fmt.Sprintf("n%d", i)
					st := states[(seed*7+i*3+seed/5)%len(states)]
					n := node(name, st)
					if (seed+i)%2 == 0 && (st == Drained || st == Draining) {
						n.Reason = DrainReasonPrefix + " idle"
						mem.Drains[name] = t0.Add(-time.Hour)
					}
					mem.IdleSince[name] = t0.Add(-time.Hour)
					mem.DownSince[name] = t0.Add(-time.Hour)
					nodes = append(nodes, n)
					ids = append(ids, name)
				}
				g := group(min, size, 8, ids...)
				d := Plan(Input{Group: g, Nodes: nodes, Config: DefaultConfig(), Memory: mem}, t0)
				if got := g.Desired - len(d.Terminate) - len(d.Drain); got < min && len(d.Terminate)+len(d.Drain) > 0 {
					t.Fatalf("min %d size %d seed %d: %d terminated + %d drained leaves %d", min, size, seed, len(d.Terminate), len(d.Drain), got)
				}
				if d.Desired < g.Desired-len(d.Terminate) || d.Desired < min && d.Desired != g.Desired {
					t.Fatalf("desired %d from %d", d.Desired, g.Desired)
				}
				byName := map[string]Node{}
				for _, n := range nodes {
					byName[n.Name] = n
				}
				for _, a := range slices.Concat(d.Terminate, d.Drain) {
					if n := byName[a.Node]; n.State.Busy() || n.SlotsUsed > 0 {
						t.Fatalf("seed %d: %s acted on busy node %+v", seed, a.Node, n)
					}
				}
				for _, a := range d.Terminate {
					if n := byName[a.Node]; n.State != Drained || !ours(n, mem) {
						t.Fatalf("terminated %+v", n)
					}
				}
			}
		}
	}
}

func TestPlanDoesNotModifyInput(t *testing.T) {
	mem := Memory{IdleSince: idleFor(time.Hour, "a"), Drains: map[string]time.Time{"b": t0.Add(-time.Minute)}}
	in := Input{Group: group(0, 2, 4, "a", "b"), Nodes: []Node{node("b", Drained), node("a", Idle)},
		Config: DefaultConfig(), Memory: mem}
	before := fmt.Sprint(in)
	a, b := Plan(in, t0), Plan(in, t0)
	if fmt.Sprint(in) != before {
		t.Fatal("Plan modified its input")
	}
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("Plan is not deterministic")
	}
}

func TestDemandToCapacity(t *testing.T) {
	in := Input{Group: group(0, 0, 4), Config: DefaultConfig(), Jobs: []Job{pending("1", 2, 2)}}
	d := Plan(in, t0)
	if d.Next.DemandSince != t0 || d.Desired != 2 {
		t.Fatalf("first round: since %v desired %d", d.Next.DemandSince, d.Desired)
	}
	// Two rounds later the nodes have joined and the job runs.
	in = Input{Group: group(0, 2, 4, "a", "b"), Config: DefaultConfig(),
		Nodes:  []Node{node("a", Allocated), node("b", Allocated)},
		Jobs:   []Job{{ID: "1", Nodes: 2, Slots: 2}},
		Memory: d.Next}
	d = Plan(in, t0.Add(4*time.Minute))
	if d.DemandMet != 4*time.Minute || !d.Next.DemandSince.IsZero() {
		t.Fatalf("met %v since %v", d.DemandMet, d.Next.DemandSince)
	}
}

func TestIdleToTerminationAcrossRounds(t *testing.T) {
	cfg := Config{IdleTime: 10 * time.Minute, ScaleUp: true}
	g := group(1, 2, 4, "a", "b")
	nodes := []Node{node("a", Idle), node("b", Idle)}
	var mem Memory
	now := t0
	var drained, terminated []string
	for round := 0; round < 20 && len(terminated) == 0; round++ {
		d := Plan(Input{Group: g, Nodes: nodes, Config: cfg, Memory: mem}, now)
		mem = d.Next.Confirm(names(d.Drain), now)
		for _, a := range d.Drain {
			drained = append(drained, a.Node)
			for i := range nodes {
				if nodes[i].Name == a.Node {
					nodes[i].State, nodes[i].Reason = Drained, a.Reason
				}
			}
		}
		terminated = names(d.Terminate)
		now = now.Add(time.Minute)
	}
	if len(drained) != 1 || !slices.Equal(drained, terminated) {
		t.Fatalf("drained %v terminated %v", drained, terminated)
	}
	if got := now.Sub(t0); got < 11*time.Minute {
		t.Fatalf("terminated after %v, before the idle time", got)
	}
}

func TestPlanWake(t *testing.T) {
	cfg := DefaultConfig()
	tests := []struct {
		name string
		in   Input
		want time.Time
	}{
		{name: "no idle node: no wake", in: Input{Group: group(0, 1, 4, "a"), Config: cfg, Nodes: []Node{node("a", Allocated)}}},
		{
			name: "the earliest future idle deadline",
			in: Input{Group: group(0, 3, 4, "a", "b", "c"), Config: cfg,
				Nodes:  []Node{node("a", Idle), node("b", Idle), node("c", Idle)},
				Memory: Memory{IdleSince: map[string]time.Time{"a": t0.Add(-2 * time.Minute), "b": t0.Add(-7 * time.Minute), "c": t0.Add(-time.Hour)}}},
			want: t0.Add(3 * time.Minute),
		},
		{
			name: "a first-seen node's deadline counts from now",
			in:   Input{Group: group(0, 1, 4, "a"), Config: cfg, Nodes: []Node{node("a", Idle)}},
			want: t0.Add(10 * time.Minute),
		},
		{
			name: "the scheduler's time for a node that went idle since the previous round",
			in: Input{Group: group(0, 1, 4, "a"), Config: cfg,
				Nodes:  []Node{{Name: "a", InstanceID: "i-a", State: Idle, Slots: 2, Since: t0.Add(-40 * time.Second)}},
				Memory: Memory{Round: t0.Add(-time.Minute)}},
			want: t0.Add(10*time.Minute - 40*time.Second),
		},
		{
			name: "a node past its deadline is not a wake",
			in: Input{Group: group(1, 1, 4, "a"), Config: cfg, Nodes: []Node{node("a", Idle)},
				Memory: Memory{IdleSince: idleFor(time.Hour, "a")}},
		},
		{
			name: "nodes without an instance are not waited for",
			in:   Input{Group: group(0, 0, 4), Config: cfg, Nodes: []Node{{Name: "x", State: Idle}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Plan(tt.in, t0).Wake; !got.Equal(tt.want) {
				t.Fatalf("wake = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRetiredAtTheDeadline follows the wakes: a node that went idle at a
// known time is drained exactly when it has been idle for the idle time,
// and not a moment before.
func TestRetiredAtTheDeadline(t *testing.T) {
	cfg := DefaultConfig()
	g := group(0, 1, 4, "a")
	busy := Input{Group: g, Config: cfg, Nodes: []Node{node("a", Allocated)}}
	d := Plan(busy, t0)
	idleAt := t0.Add(25 * time.Second)
	idle := func(m Memory) Input {
		return Input{Group: g, Config: cfg, Memory: m,
			Nodes: []Node{{Name: "a", InstanceID: "i-a", State: Idle, Slots: 2, Since: idleAt}}}
	}
	now := t0.Add(time.Minute)
	for range 15 {
		d = Plan(idle(d.Next), now)
		if len(d.Drain) > 0 {
			break
		}
		if d.Wake.IsZero() {
			t.Fatalf("no wake at %v", now)
		}
		now = now.Add(time.Minute)
		if d.Wake.Before(now) {
			now = d.Wake
		}
	}
	if !slices.Equal(names(d.Drain), []string{"a"}) || !now.Equal(idleAt.Add(cfg.IdleTime)) {
		t.Fatalf("drained %v at %v, want a at %v", names(d.Drain), now, idleAt.Add(cfg.IdleTime))
	}
}
