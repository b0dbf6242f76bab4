package fleet

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/driftless/driftless/pkg/scale"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a clock whose timers fire when the test advances it.
type fakeClock struct {
	mu      sync.Mutex
	cond    *sync.Cond
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newClock() *fakeClock { return newClockAt(t0) }

func newClockAt(at time.Time) *fakeClock {
	c := &fakeClock{now: at}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	c.cond.Broadcast()
	return ch
}

// waitTimers waits until n timers are pending: the goroutines that set
// them are idle.
func (c *fakeClock) waitTimers(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.waiters) < n {
		c.cond.Wait()
	}
}

// advance moves the clock and fires the timers that are due.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			keep = append(keep, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = keep
}

// memScheduler is an in-memory scheduler; block, when set, holds every
// snapshot until it is closed: a head node that stopped answering.
type memScheduler struct {
	mu    sync.Mutex
	state scale.State
	block chan struct{}
}

func (s *memScheduler) Snapshot(ctx context.Context) (scale.State, error) {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return scale.State{}, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state, nil
}
func (s *memScheduler) Drain(context.Context, string, string) error { return nil }
func (s *memScheduler) Resume(context.Context, string) error        { return nil }
func (s *memScheduler) Remove(context.Context, string) error        { return nil }

// memFleet is an in-memory Auto Scaling with one group per name.
type memFleet struct {
	mu     sync.Mutex
	groups map[string]scale.Group
}

func (f *memFleet) Group(_ context.Context, name string) (scale.Group, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.groups[name]
	if !ok {
		return g, errors.New("no group " + name)
	}
	return g, nil
}

func (f *memFleet) SetDesiredCapacity(_ context.Context, name string, n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groups[name]
	g.Desired = n
	f.groups[name] = g
	return nil
}

func (f *memFleet) Terminate(context.Context, string, bool) error { return nil }

// bed is a manager over in-memory schedulers and groups, with a fake
// clock and every round sent to rounds.
type bed struct {
	t        *testing.T
	clock    *fakeClock
	fleet    *memFleet
	scheds   map[string]*memScheduler
	connects map[string]int
	mu       sync.Mutex
	rounds   chan Round
	reg      *prometheus.Registry
	m        *Manager
	logs     strings.Builder
	stop     func()
}

func newBed(t *testing.T) *bed {
	b := &bed{t: t, clock: newClock(), fleet: &memFleet{groups: map[string]scale.Group{}},
		scheds: map[string]*memScheduler{}, connects: map[string]int{}, rounds: make(chan Round, 100),
		reg: prometheus.NewPedanticRegistry()}
	metrics := scale.NewMetrics()
	if err := metrics.Register(b.reg); err != nil {
		t.Fatal(err)
	}
	var err error
	b.m, err = New(Config{
		Interval: time.Hour,
		Connect: func(_ context.Context, tg Target) (scale.Scheduler, io.Closer, error) {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.connects[tg.Cluster]++
			s, ok := b.scheds[tg.Cluster]
			if !ok {
				return nil, nil, ErrNoTransport
			}
			return s, nopCloser{}, nil
		},
		Fleet: b.fleet, Metrics: metrics, Now: b.clock.Now, After: b.clock.After,
		Logger:  slog.New(slog.NewTextHandler(&syncWriter{b: &b.logs, mu: &b.mu}, nil)),
		OnRound: func(r Round) { b.rounds <- r },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = b.m.Run(ctx); close(done) }()
	b.stop = func() { cancel(); <-done }
	t.Cleanup(b.stop)
	return b
}

type syncWriter struct {
	b  *strings.Builder
	mu *sync.Mutex
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// cluster adds a cluster with one idle node in a group of one.
func (b *bed) cluster(name string) Target {
	group := name + "-compute"
	b.mu.Lock()
	b.scheds[name] = &memScheduler{state: scale.State{Nodes: []scale.Node{
		{Name: name + "-n1", InstanceID: "i-" + name, State: scale.Idle, Slots: 2},
	}}}
	b.mu.Unlock()
	b.fleet.mu.Lock()
	b.fleet.groups[group] = scale.Group{Name: group, Min: 0, Max: 4, Desired: 1,
		Instances: []scale.Instance{{ID: "i-" + name, Lifecycle: "InService", Healthy: true}}}
	b.fleet.mu.Unlock()
	return Target{Cluster: name, Scheduler: Slurm, HeadNode: "10.0.0.1",
		Queues: []Queue{{Queue: scale.Queue{Name: "compute", Group: group, Config: scale.DefaultConfig()}}}}
}

func (b *bed) round(cluster string) Round {
	b.t.Helper()
	select {
	case r := <-b.rounds:
		if r.Cluster != cluster {
			b.t.Fatalf("round of %s, want %s", r.Cluster, cluster)
		}
		return r
	case <-time.After(10 * time.Second):
		b.t.Fatalf("no round of %s", cluster)
	}
	return Round{}
}

func (b *bed) exposition() string {
	b.t.Helper()
	mfs, err := b.reg.Gather()
	if err != nil {
		b.t.Fatal(err)
	}
	var s strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&s, mf); err != nil {
			b.t.Fatal(err)
		}
	}
	return s.String()
}

// TestManagerWakesAtTheIdleDeadline: after a round that sees a node go
// idle, the next round is due when the node reaches its idle time, not at
// the next interval; at that round the node is drained.
func TestManagerWakesAtTheIdleDeadline(t *testing.T) {
	b := newBed(t)
	b.m.Sync([]Target{b.cluster("a")})
	r := b.round("a")
	if r.Err != nil || !r.At.Equal(t0) || !r.Next.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("first round at %v next %v err %v; want the next at the idle deadline", r.At, r.Next, r.Err)
	}
	b.clock.waitTimers(1)
	b.clock.advance(10 * time.Minute)
	r = b.round("a")
	if g := r.Report.Groups; len(g) != 1 || len(g[0].Drained) != 1 {
		t.Fatalf("round at the deadline: %+v", r.Report)
	}
	if !r.Next.Equal(r.At.Add(time.Hour)) {
		t.Fatalf("next round %v, want an interval later", r.Next)
	}
}

// TestManagerSlowHeadNode: a cluster whose head node does not answer
// holds up no other cluster's rounds.
func TestManagerSlowHeadNode(t *testing.T) {
	b := newBed(t)
	slow, fast := b.cluster("slow"), b.cluster("fast")
	release := make(chan struct{})
	b.scheds["slow"].block = release
	defer close(release)
	b.m.Sync([]Target{slow, fast})
	b.round("fast")
	b.clock.waitTimers(1)
	for range 3 {
		b.clock.advance(time.Hour)
		if r := b.round("fast"); r.Err != nil {
			t.Fatal(r.Err)
		}
		b.clock.waitTimers(1)
	}
}

// TestManagerFollowsTargets: a new target starts a loop, a changed one
// restarts it (connecting again), a removed one stops it and its metrics
// go; a head node that cannot be reached is logged once and counted.
func TestManagerFollowsTargets(t *testing.T) {
	b := newBed(t)
	a := b.cluster("a")
	b.m.Sync([]Target{a})
	b.round("a")
	if !strings.Contains(b.exposition(), `driftless_scale_nodes{cluster="a",state="idle"} 1`) {
		t.Fatalf("no series for a:\n%s", b.exposition())
	}

	a2 := a
	a2.HeadNode = "10.0.0.2"
	b.m.Sync([]Target{a2})
	b.round("a")
	b.mu.Lock()
	n := b.connects["a"]
	b.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d connections after the head node moved, want 2", n)
	}

	lost := Target{Cluster: "lost", Scheduler: Slurm, Queues: a.Queues}
	b.m.Sync([]Target{lost})
	for range 2 {
		if r := b.round("lost"); !errors.Is(r.Err, ErrNoTransport) {
			t.Fatalf("round of an unreachable cluster: %v", r.Err)
		}
		b.clock.waitTimers(1)
		b.clock.advance(time.Hour)
	}
	b.round("lost")
	// a's loop stops in its own goroutine.
	exp := b.exposition()
	for deadline := time.Now().Add(10 * time.Second); strings.Contains(exp, `cluster="a"`); exp = b.exposition() {
		if time.Now().After(deadline) {
			t.Fatalf("series of the removed cluster a remain:\n%s", exp)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(exp, `driftless_scale_errors_total{cluster="lost",step="connect"} 3`) {
		t.Errorf("failed connections not counted:\n%s", exp)
	}
	b.mu.Lock()
	logs := b.logs.String()
	b.mu.Unlock()
	if n := strings.Count(logs, "fleet loop round failed\""); n != 1 {
		t.Errorf("the unreachable head node was logged %d times at error level, want once:\n%s", n, logs)
	}
}
