package fleet

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/driftless/driftless/pkg/scale"
	"github.com/driftless/driftless/pkg/scale/awsbatch"
)

// Connector reaches a target's scheduler and returns the adapter and what
// to close when the cluster's loop stops. Transport.Connect is one.
type Connector func(ctx context.Context, t Target) (scale.Scheduler, io.Closer, error)

// InstanceTypes is the EC2 call that tells how many slots a new node of a
// queue offers; *ec2.Client satisfies it.
type InstanceTypes interface {
	DescribeInstanceTypes(ctx context.Context, in *ec2.DescribeInstanceTypesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error)
}

var _ InstanceTypes = (*ec2.Client)(nil)

// DefaultRoundTimeout bounds one round of one cluster when Config says
// nothing: a head node that stops answering costs its own cluster a
// round, never the others anything.
const DefaultRoundTimeout = 5 * time.Minute

// Config is what a Manager needs.
type Config struct {
	// Interval is how often each cluster's loop runs; scale.DefaultInterval
	// when zero. A loop also runs when an idle node reaches its idle time.
	Interval time.Duration
	// RoundTimeout bounds one round; DefaultRoundTimeout when zero. A
	// round is not cut short when the manager stops: a drain is always
	// followed by its re-check.
	RoundTimeout time.Duration
	// Connect reaches the scheduler of a Slurm, Grid Engine or Torque
	// cluster.
	Connect Connector
	// Fleet is Auto Scaling.
	Fleet scale.Fleet
	// InstanceTypes, if set, sizes a new node of each queue from its
	// instance type; without it the loop learns the size from the nodes.
	InstanceTypes InstanceTypes
	// Batch observes awsbatch clusters; without it they are left alone.
	Batch *awsbatch.Observer
	// Metrics and BatchMetrics may be nil; a cluster's series are
	// forgotten when it goes away.
	Metrics      *scale.Metrics
	BatchMetrics *awsbatch.Metrics
	Logger       *slog.Logger
	// Now and After are the clock; time.Now and time.After when nil.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// OnRound, if set, sees every round of every cluster. It is called
	// from the cluster's goroutine.
	OnRound func(Round)
}

// Round is what one round of one cluster saw and did.
type Round struct {
	Cluster string
	// At is the round's time, the now the planner got.
	At time.Time
	// Report is a scheduler cluster's round; Batch an awsbatch cluster's.
	Report scale.Report
	Batch  *awsbatch.Observation
	Err    error
	// Paused: the cluster is drained for an approved change and the
	// round did nothing.
	Paused bool
	// Next is when the cluster's next round is due.
	Next time.Time
}

// Manager runs one loop per target, each in its own goroutine. Make one
// with New, hand it targets with Sync (from any goroutine, at any time),
// and Run it.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	targets map[string]Target
	slots   map[string]int // by instance type and threading
	changed chan struct{}
	// pauses are the clusters drained for an approved change (drain.go).
	pauses pauses
}

// New checks the configuration and makes a manager with no targets.
func New(cfg Config) (*Manager, error) {
	if cfg.Connect == nil || cfg.Fleet == nil {
		return nil, errors.New("fleet: a manager needs a connector and a fleet")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = scale.DefaultInterval
	}
	if cfg.RoundTimeout <= 0 {
		cfg.RoundTimeout = DefaultRoundTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{cfg: cfg, log: log.With("component", "fleet"), targets: map[string]Target{},
		slots: map[string]int{}, changed: make(chan struct{}, 1)}, nil
}

// Sync sets the clusters to run loops for. A new target starts a loop, a
// changed one restarts it (its idle clocks start again: a restart can
// delay a scale-down, never hasten one), and a missing one stops it and
// forgets its metrics. It does not wait for any of that.
func (m *Manager) Sync(targets []Target) {
	next := make(map[string]Target, len(targets))
	for _, t := range targets {
		next[t.Cluster] = t
	}
	m.mu.Lock()
	m.targets = next
	m.mu.Unlock()
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// Targets returns the targets of the last Sync, sorted by cluster.
func (m *Manager) Targets() []Target {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Collect(maps.Values(m.targets))
	slices.SortFunc(out, func(a, b Target) int { return cmp.Compare(a.Cluster, b.Cluster) })
	return out
}

func (m *Manager) target(cluster string) (Target, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.targets[cluster]
	return t, ok
}

// worker is one cluster's running loop.
type worker struct {
	target   Target
	cancel   context.CancelFunc
	stopping bool
}

// Run runs the loops until ctx ends, then stops them, letting running
// rounds finish, and returns.
func (m *Manager) Run(ctx context.Context) error {
	workers := map[string]*worker{}
	exited := make(chan string)
	align := func() {
		m.mu.Lock()
		want := maps.Clone(m.targets)
		m.mu.Unlock()
		for name, w := range workers {
			if t, ok := want[name]; (!ok || !t.Equal(w.target)) && !w.stopping {
				w.stopping = true
				w.cancel()
			}
		}
		for _, name := range slices.Sorted(maps.Keys(want)) {
			if _, running := workers[name]; running {
				continue
			}
			t := want[name]
			wctx, cancel := context.WithCancel(ctx)
			workers[name] = &worker{target: t, cancel: cancel}
			go m.work(wctx, t, exited)
		}
	}
	align()
	for {
		select {
		case <-ctx.Done():
			for _, w := range workers {
				w.cancel()
			}
			for len(workers) > 0 {
				delete(workers, <-exited)
			}
			return nil
		case <-m.changed:
			align()
		case name := <-exited:
			workers[name].cancel()
			delete(workers, name)
			if _, ok := m.target(name); !ok {
				m.cfg.Metrics.Forget(name)
				m.cfg.BatchMetrics.Forget(name)
				m.log.Info("fleet loop stopped: the cluster is gone", "cluster", name)
			}
			align()
		}
	}
}

// work runs one cluster's rounds: the first at once, then every interval,
// or sooner when the planner's wake comes first.
func (m *Manager) work(ctx context.Context, t Target, exited chan<- string) {
	defer func() { exited <- t.Cluster }()
	c := &cluster{m: m, t: t, log: m.log.With("cluster", t.Cluster, "scheduler", t.Scheduler)}
	defer c.close()
	c.log.Info("fleet loop started", "head_node", t.HeadNode, "queues", len(t.Queues))
	next := m.cfg.Now()
	for {
		if wait := next.Sub(m.cfg.Now()); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-m.cfg.After(wait):
			}
		} else if ctx.Err() != nil {
			return
		}
		start := m.cfg.Now()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.RoundTimeout)
		r := c.round(rctx, start)
		cancel()
		next = start.Add(m.cfg.Interval)
		if w := r.Report.Wake; !w.IsZero() && w.Before(next) {
			next = w
		}
		r.Next = next
		if m.cfg.OnRound != nil {
			m.cfg.OnRound(r)
		}
	}
}

// cluster is the state of one cluster's loop between rounds.
type cluster struct {
	m      *Manager
	t      Target
	log    *slog.Logger
	loop   *scale.Loop
	closer io.Closer
	// failing is the last error logged, so a head node that stays
	// unreachable is logged once, not every round.
	failing string
}

func (c *cluster) close() {
	if c.closer != nil {
		if err := c.closer.Close(); err != nil {
			c.log.Debug("closing the connection to the head node", "error", err)
		}
	}
}

func (c *cluster) round(ctx context.Context, now time.Time) Round {
	r := Round{Cluster: c.t.Cluster, At: now}
	l := c.m.pauses.round(c.t.Cluster)
	l.Lock()
	defer l.Unlock()
	if c.m.pauses.is(c.t.Cluster) {
		// Drained for an approved change: the Healer owns the groups
		// until it resumes the cluster.
		r.Paused = true
		return r
	}
	if c.t.Scheduler == AWSBatch {
		if c.m.cfg.Batch == nil {
			r.Err = errors.New("no AWS Batch client")
		} else {
			obs, err := c.m.cfg.Batch.Observe(ctx, c.t.Batch, now)
			r.Batch, r.Err = &obs, err
		}
		c.report(r.Err)
		return r
	}
	if c.loop == nil {
		if err := c.open(ctx); err != nil {
			c.m.cfg.Metrics.Failed(c.t.Cluster, "connect")
			r.Err = err
			c.report(err)
			return r
		}
	}
	r.Report, r.Err = c.loop.RunOnce(ctx, now)
	c.report(r.Err)
	return r
}

// open connects to the head node and makes the cluster's loop.
func (c *cluster) open(ctx context.Context) error {
	sched, closer, err := c.m.cfg.Connect(ctx, c.t)
	if err != nil {
		return fmt.Errorf("reach the head node: %w", err)
	}
	queues := make([]scale.Queue, len(c.t.Queues))
	for i, q := range c.t.Queues {
		queues[i] = q.Queue
		if queues[i].Config.InstanceSlots == 0 {
			queues[i].Config.InstanceSlots = c.m.instanceSlots(ctx, q, c.log)
		}
	}
	loop, err := scale.NewLoop(scale.LoopConfig{
		Cluster: c.t.Cluster, Scheduler: sched, Fleet: c.m.cfg.Fleet, Queues: queues,
		Metrics: c.m.cfg.Metrics, Logger: c.m.log,
	})
	if err != nil {
		closer.Close()
		return err
	}
	c.loop, c.closer = loop, closer
	return nil
}

// report logs a round's error when it differs from the last one logged,
// and says so when the loop works again.
func (c *cluster) report(err error) {
	switch {
	case err == nil && c.failing != "":
		c.log.Info("fleet loop works again", "after", c.failing)
		c.failing = ""
	case err != nil && err.Error() != c.failing:
		c.log.Error("fleet loop round failed", "error", err)
		c.failing = err.Error()
	case err != nil:
		c.log.Debug("fleet loop round failed again", "error", err)
	}
}

// instanceSlots is what one instance of the queue's type offers: its
// vCPUs, or its cores with one thread per core. 0 when EC2 cannot say;
// the loop then learns it from the nodes.
func (m *Manager) instanceSlots(ctx context.Context, q Queue, log *slog.Logger) int {
	if m.cfg.InstanceTypes == nil || q.InstanceType == "" {
		return 0
	}
	key := fmt.Sprintf("%s/%t", q.InstanceType, q.OneThreadPerCore)
	m.mu.Lock()
	n, ok := m.slots[key]
	m.mu.Unlock()
	if ok {
		return n
	}
	out, err := m.cfg.InstanceTypes.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{
		InstanceTypes: []ec2types.InstanceType{ec2types.InstanceType(q.InstanceType)},
	})
	if err != nil || len(out.InstanceTypes) == 0 || out.InstanceTypes[0].VCpuInfo == nil {
		log.Warn("cannot size a new node from its instance type; learning it from the nodes", "instance_type", q.InstanceType, "error", err)
		return 0
	}
	v := out.InstanceTypes[0].VCpuInfo
	n = int(aws.ToInt32(v.DefaultVCpus))
	if q.OneThreadPerCore && aws.ToInt32(v.DefaultCores) > 0 {
		n = int(aws.ToInt32(v.DefaultCores))
	}
	m.mu.Lock()
	m.slots[key] = n
	m.mu.Unlock()
	return n
}
