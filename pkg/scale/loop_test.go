package scale

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// fakeScheduler is an in-memory scheduler whose next snapshot can be
// changed from inside Drain: the race between the planner's look and the
// actuator's drain, which no real scheduler produces on demand.
type fakeScheduler struct {
	state   State
	onDrain func(f *fakeScheduler, node string)
	calls   []string
}

func (f *fakeScheduler) Snapshot(context.Context) (State, error) {
	return State{Nodes: slices.Clone(f.state.Nodes), Jobs: slices.Clone(f.state.Jobs)}, nil
}

func (f *fakeScheduler) set(node string, fn func(*Node)) {
	for i := range f.state.Nodes {
		if f.state.Nodes[i].Name == node {
			fn(&f.state.Nodes[i])
		}
	}
}

func (f *fakeScheduler) Drain(_ context.Context, node, reason string) error {
	f.calls = append(f.calls, "drain "+node)
	f.set(node, func(n *Node) { n.State, n.Reason = Drained, reason })
	if f.onDrain != nil {
		f.onDrain(f, node)
	}
	return nil
}

func (f *fakeScheduler) Resume(_ context.Context, node string) error {
	f.calls = append(f.calls, "resume "+node)
	f.set(node, func(n *Node) { n.State, n.Reason = Idle, "" })
	return nil
}

func (f *fakeScheduler) Remove(_ context.Context, node string) error {
	f.calls = append(f.calls, "remove "+node)
	return nil
}

type fakeFleet struct {
	g     Group
	calls []string
	fail  error
}

func (f *fakeFleet) Group(context.Context, string) (Group, error) { return f.g, nil }
func (f *fakeFleet) SetDesiredCapacity(_ context.Context, _ string, n int) error {
	f.calls = append(f.calls, "desired")
	f.g.Desired = n
	return nil
}
func (f *fakeFleet) Terminate(_ context.Context, id string, decrement bool) error {
	if f.fail != nil {
		return f.fail
	}
	f.calls = append(f.calls, "terminate "+id)
	if decrement {
		f.g.Desired--
	}
	return nil
}

func TestLoopReCheck(t *testing.T) {
	tests := []struct {
		name           string
		onDrain        func(f *fakeScheduler, node string)
		fleetErr       error
		wantTerminated []string
		wantResumed    []string
		wantErr        bool
	}{
		{name: "still idle after the drain: terminated", wantTerminated: []string{"a"}},
		{
			name: "a job started before the drain: resumed",
			onDrain: func(f *fakeScheduler, n string) {
				f.set(n, func(n *Node) { n.State, n.SlotsUsed = Draining, 1 })
			},
			wantResumed: []string{"a"},
		},
		{
			name: "a waiting job names the node: resumed",
			onDrain: func(f *fakeScheduler, n string) {
				f.state.Jobs = append(f.state.Jobs, Job{ID: "9", Pending: true, Eligible: true, Nodes: 1, Slots: 1, RequiredNodes: []string{n}})
			},
			wantResumed: []string{"a"},
		},
		{name: "the fleet refuses: reported, node stays drained", fleetErr: errors.New("throttled"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sched := &fakeScheduler{state: State{Nodes: []Node{
				{Name: "a", InstanceID: "i-a", State: Idle, Slots: 2},
				{Name: "b", InstanceID: "i-b", State: Allocated, Slots: 2, SlotsUsed: 2},
			}}, onDrain: tt.onDrain}
			fleet := &fakeFleet{g: group(1, 2, 4, "a", "b"), fail: tt.fleetErr}
			l, err := NewLoop(LoopConfig{Cluster: "c", Scheduler: sched, Fleet: fleet,
				Queues: []Queue{{Name: "q", Group: "g", Config: DefaultConfig()}}, Metrics: NewMetrics()})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := l.RunOnce(ctx, t0); err != nil {
				t.Fatal(err)
			}
			rep, err := l.RunOnce(ctx, t0.Add(11*time.Minute))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			gr := rep.Groups[0]
			if !slices.Equal(gr.Drained, []string{"a"}) || !slices.Equal(gr.Terminated, tt.wantTerminated) || !slices.Equal(gr.Resumed, tt.wantResumed) {
				t.Fatalf("drained %v terminated %v resumed %v; calls %v %v", gr.Drained, gr.Terminated, gr.Resumed, sched.calls, fleet.calls)
			}
			if len(tt.wantTerminated) > 0 && (fleet.g.Desired != 1 || !slices.Contains(sched.calls, "remove a")) {
				t.Fatalf("desired %d, calls %v", fleet.g.Desired, sched.calls)
			}
			if tt.wantErr && l.memory["g"].Drains["a"].IsZero() {
				t.Fatal("a drained node whose termination failed is not remembered")
			}
		})
	}
}

func TestNewLoopChecks(t *testing.T) {
	for _, cfg := range []LoopConfig{
		{},
		{Scheduler: &fakeScheduler{}, Fleet: &fakeFleet{}},
		{Scheduler: &fakeScheduler{}, Fleet: &fakeFleet{}, Queues: []Queue{{Name: "a", Group: "g"}, {Name: "b", Group: "g"}}},
	} {
		if _, err := NewLoop(cfg); err == nil {
			t.Errorf("NewLoop(%+v) accepted", cfg)
		}
	}
}
