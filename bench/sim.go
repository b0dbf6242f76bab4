package bench

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/driftless/driftless/pkg/scale"
)

// Options set up one replay.
type Options struct {
	// BootDelay is how long a new node takes from launch to accepting
	// jobs (default 5 minutes).
	BootDelay time.Duration
	// Interval is how often ParallelCluster 2.x's jobwatcher and
	// nodewatchers look (default 60 s, their fixed period).
	Interval time.Duration
	// LoopInterval is how often Driftless's fleet loop looks (default
	// scale.DefaultInterval, the daemon's fleet.interval default).
	LoopInterval time.Duration
	// NoWake makes the fleet loop look only every LoopInterval, not also
	// at the idle deadlines the planner reports (Decision.Wake) as the
	// daemon does: the policy before deadline wake-ups, for comparison.
	NoWake bool
	// IdleTime is how long a node idles before it is retired (default 10
	// minutes, ParallelCluster 2.x's scaledown_idletime).
	IdleTime time.Duration
	// Min and Max bound the group; Max defaults to the trace's MaxNodes.
	Min, Max int
}

func (o Options) withDefaults(t Trace) Options {
	if o.BootDelay == 0 {
		o.BootDelay = 5 * time.Minute
	}
	if o.Interval == 0 {
		o.Interval = time.Minute
	}
	if o.LoopInterval == 0 {
		o.LoopInterval = scale.DefaultInterval
	}
	if o.IdleTime == 0 {
		o.IdleTime = 10 * time.Minute
	}
	if o.Max == 0 {
		o.Max = t.MaxNodes
	}
	if o.Max == 0 {
		for _, j := range t.Jobs {
			o.Max = max(o.Max, j.Nodes)
		}
	}
	return o
}

// Result is what one policy cost and what it made jobs wait.
type Result struct {
	Policy    string
	NodeHours float64
	// MeanWait and P95Wait are the extra wait of a job, from its submit
	// time (its start time on the original machine) to its start here.
	MeanWait, P95Wait time.Duration
	// MaxWait is the longest extra wait.
	MaxWait time.Duration
	// ScaleActions counts capacity changes asked of Auto Scaling: each
	// raise of the desired capacity and each instance terminated.
	ScaleActions int
	// JobsKilled counts jobs running on a node when it was terminated.
	JobsKilled int
	Jobs       int
	// Unrunnable counts jobs larger than the maximum, left out.
	Unrunnable int
	// Launched counts the nodes started: each one paid the boot delay.
	Launched int

	// waits holds each job's wait in seconds, in submit order.
	waits []int64
}

// Against sets the wait figures to the wait each job had beyond its wait
// in base (the static fleet, where a job waits only when the original
// machine's own queue made it wait), never below zero per job: the wait
// the policy's scaling caused.
func (r Result) Against(base Result) Result {
	if len(r.waits) != len(base.waits) || len(r.waits) == 0 {
		return r
	}
	extra := make([]int64, len(r.waits))
	var sum int64
	for i, w := range r.waits {
		extra[i] = max(0, w-base.waits[i])
		sum += extra[i]
	}
	slices.Sort(extra)
	r.MeanWait = time.Duration(sum) * time.Second / time.Duration(len(extra))
	r.P95Wait = time.Duration(extra[(len(extra)*95+99)/100-1]) * time.Second
	r.MaxWait = time.Duration(extra[len(extra)-1]) * time.Second
	return r
}

// policy is a scaling policy under test.
type policy interface {
	name() string
	start(s *sim)
	// tick looks and acts, and returns when it looks next (unix
	// seconds).
	tick(s *sim) int64
}

type node struct {
	id       int
	name     string
	launched int64
	ready    int64
	job      *runJob
	lastBusy int64
	drained  bool
	idleFor  time.Duration // ParallelCluster's nodewatcher counter
}

type runJob struct {
	job   Job
	idx   int
	end   int64
	nodes []*node
}

type sim struct {
	opt     Options
	now     int64
	nodes   []*node
	nextID  int
	queue   []queued
	running []*runJob
	desired int

	nodeSeconds int64
	launched    int
	actions     int
	killed      int
	waits       []int64
}

type queued struct {
	Job
	idx int
}

func (s *sim) launch(n int) {
	for range n {
		s.nextID++
		s.nodes = append(s.nodes, &node{id: s.nextID, name: "node" + strconv.Itoa(s.nextID),
			launched: s.now, ready: s.now + int64(s.opt.BootDelay/time.Second)})
	}
	s.desired += n
	s.launched += n
}

func (s *sim) terminate(n *node) {
	if n.job != nil {
		s.killed++
	}
	s.nodeSeconds += s.now - n.launched
	s.nodes = slices.DeleteFunc(s.nodes, func(x *node) bool { return x == n })
	s.desired--
}

func (s *sim) usable(n *node) bool { return n.ready <= s.now && n.job == nil && !n.drained }

// schedule starts jobs first come, first served: the head of the queue
// blocks those behind it, so a static fleet of the original machine's size
// replays the trace with no wait at all.
func (s *sim) schedule() {
	for len(s.queue) > 0 {
		head := s.queue[0]
		var free []*node
		for _, n := range s.nodes {
			if s.usable(n) {
				free = append(free, n)
				if len(free) == head.Nodes {
					break
				}
			}
		}
		if len(free) < head.Nodes {
			return
		}
		r := &runJob{job: head.Job, idx: head.idx, end: s.now + head.Run, nodes: free}
		for _, n := range free {
			n.job = r
			n.idleFor = 0
		}
		s.running = append(s.running, r)
		s.waits[head.idx] = s.now - head.Submit
		s.queue = s.queue[1:]
	}
}

// Replay runs the trace through one policy.
func Replay(t Trace, p policy, opt Options) Result {
	opt = opt.withDefaults(t)
	s := &sim{opt: opt}
	res := Result{Policy: p.name()}
	var jobs []Job
	for _, j := range t.Jobs {
		if j.Nodes > opt.Max {
			res.Unrunnable++
			continue
		}
		jobs = append(jobs, j)
	}
	slices.SortStableFunc(jobs, func(a, b Job) int { return int(a.Submit - b.Submit) })
	if len(jobs) == 0 {
		return res
	}
	s.waits = make([]int64, len(jobs))
	s.now = jobs[0].Submit
	p.start(s)
	nextTick := s.now
	next := 0
	const never = int64(1) << 62
	for next < len(jobs) || len(s.queue) > 0 || len(s.running) > 0 {
		t := nextTick
		if next < len(jobs) {
			t = min(t, jobs[next].Submit)
		}
		for _, r := range s.running {
			t = min(t, r.end)
		}
		for _, n := range s.nodes {
			if n.ready > s.now {
				t = min(t, n.ready)
			}
		}
		if t == never {
			break
		}
		s.now = t
		s.running = slices.DeleteFunc(s.running, func(r *runJob) bool {
			if r.end > s.now {
				return false
			}
			for _, n := range r.nodes {
				n.job = nil
				n.lastBusy = r.end
			}
			return true
		})
		for next < len(jobs) && jobs[next].Submit <= s.now {
			s.queue = append(s.queue, queued{jobs[next], next})
			next++
		}
		s.schedule()
		if s.now >= nextTick {
			nextTick = p.tick(s)
			s.schedule()
		}
	}
	for _, n := range slices.Clone(s.nodes) {
		s.terminate(n)
	}
	res.NodeHours = float64(s.nodeSeconds) / 3600
	res.ScaleActions = s.actions
	res.Launched = s.launched
	res.JobsKilled = s.killed
	res.Jobs = len(s.waits)
	res.waits = s.waits
	if len(s.waits) > 0 {
		sorted := slices.Sorted(slices.Values(s.waits))
		var sum int64
		for _, w := range sorted {
			sum += w
		}
		res.MeanWait = time.Duration(sum) * time.Second / time.Duration(len(sorted))
		res.P95Wait = time.Duration(sorted[(len(sorted)*95+99)/100-1]) * time.Second
		res.MaxWait = time.Duration(sorted[len(sorted)-1]) * time.Second
	}
	return res
}

// Static is a fleet of the maximum size, up before the first job.
type Static struct{}

func (Static) name() string { return "static (max size)" }

func (Static) start(s *sim) {
	s.launch(s.opt.Max)
	for _, n := range s.nodes {
		n.ready = s.now
	}
}

func (Static) tick(s *sim) int64 { return s.now + int64(s.opt.Interval/time.Second) }

// ParallelCluster2 is ParallelCluster 2.x's policy as documented: every
// interval the jobwatcher raises the desired capacity to the busy nodes
// plus the nodes the pending jobs require, capped at the maximum; every
// interval each node's nodewatcher adds to its idle time when it runs no
// job and no job is pending, and the node terminates itself (decrementing
// the desired capacity, never below the minimum) once that time reaches
// the idle time. All nodewatchers are modelled as checking at the same
// moment as the jobwatcher.
type ParallelCluster2 struct{}

func (ParallelCluster2) name() string { return "ParallelCluster 2.x" }

func (ParallelCluster2) start(s *sim) { s.launch(s.opt.Min) }

func (ParallelCluster2) tick(s *sim) int64 {
	busy, required := 0, 0
	for _, n := range s.nodes {
		if n.job != nil {
			busy++
		}
	}
	for _, j := range s.queue {
		required += j.Nodes
	}
	if want := min(s.opt.Max, busy+required); want > s.desired {
		s.launch(want - s.desired)
		s.actions++
	}
	for _, n := range slices.Clone(s.nodes) {
		if n.ready > s.now {
			continue
		}
		if n.job != nil || len(s.queue) > 0 {
			n.idleFor = 0
			continue
		}
		n.idleFor += s.opt.Interval
		if n.idleFor >= s.opt.IdleTime && s.desired > s.opt.Min {
			s.terminate(n)
			s.actions++
		}
	}
	return s.now + int64(s.opt.Interval/time.Second)
}

// Driftless runs the fleet loop's planner, scale.Plan, with the actuator's
// effects applied at once: a drain takes the node out of scheduling, a
// resume puts it back, a termination removes it, a raise of the desired
// capacity launches nodes that join after the boot delay.
type Driftless struct {
	mem scale.Memory
}

func (*Driftless) name() string { return "Driftless" }

func (d *Driftless) start(s *sim) {
	d.mem = scale.Memory{}
	s.launch(s.opt.Min)
}

func (d *Driftless) tick(s *sim) int64 {
	now := time.Unix(s.now, 0)
	g := scale.Group{Name: "compute", Min: s.opt.Min, Max: s.opt.Max, Desired: s.desired}
	var nodes []scale.Node
	byName := map[string]*node{}
	for _, n := range s.nodes {
		g.Instances = append(g.Instances, scale.Instance{ID: n.name, Lifecycle: "InService", Healthy: true})
		if n.ready > s.now {
			continue // still booting: an instance with no scheduler node yet
		}
		byName[n.name] = n
		sn := scale.Node{Name: n.name, InstanceID: n.name, Slots: 1}
		// Slurm's last_busy: the end of the node's last job, or, for a
		// node that has run none, when it registered (22.05 sets it
		// then: in pkg/scale/slurm/testdata/00-idle.sinfo.json it equals
		// slurmd_start_time).
		sn.Since = time.Unix(max(n.lastBusy, n.ready), 0)
		switch {
		case n.job != nil && n.drained:
			sn.State, sn.SlotsUsed = scale.Draining, 1
		case n.job != nil:
			sn.State, sn.SlotsUsed = scale.Allocated, 1
		case n.drained:
			sn.State = scale.Drained
		default:
			sn.State = scale.Idle
		}
		nodes = append(nodes, sn)
	}
	var jobs []scale.Job
	for _, j := range s.queue {
		jobs = append(jobs, scale.Job{ID: strconv.Itoa(j.ID), Pending: true, Eligible: true,
			Nodes: j.Nodes, Slots: j.Nodes, Exclusive: true})
	}
	cfg := scale.Config{IdleTime: s.opt.IdleTime, ScaleUp: true, SlotsPerNode: 1}
	dec := scale.Plan(scale.Input{Group: g, Nodes: nodes, Jobs: jobs, Config: cfg, Memory: d.mem}, now)
	for _, a := range dec.Resume {
		byName[a.Node].drained = false
	}
	for _, a := range dec.Terminate {
		if n := byName[a.Node]; n != nil && n.drained && n.job == nil {
			s.terminate(n)
			s.actions++
		}
	}
	// The actuator drains, looks again and terminates what is still
	// drained and idle: here nothing can land on a node in between.
	for _, a := range dec.Drain {
		n := byName[a.Node]
		n.drained = true
		if n.job == nil {
			s.terminate(n)
			s.actions++
		}
	}
	if dec.Desired > g.Desired {
		s.launch(dec.Desired - g.Desired)
		s.actions++
	}
	d.mem = dec.Next.Confirm(nil, now)
	// The daemon's manager looks again at the next interval or at the
	// planner's wake, whichever comes first.
	next := s.now + int64(s.opt.LoopInterval/time.Second)
	if w := dec.Wake; !s.opt.NoWake && !w.IsZero() && w.Unix() < next {
		next = max(w.Unix(), s.now+1)
	}
	return next
}

// Policies returns the three policies compared, in table order.
func Policies() []policy { return []policy{Static{}, ParallelCluster2{}, &Driftless{}} }

// Compare replays the trace through every policy and returns the results
// with each one's wait measured against the static fleet's.
func Compare(t Trace, opt Options) []Result {
	var rs []Result
	for _, p := range Policies() {
		rs = append(rs, Replay(t, p, opt))
	}
	for i := range rs {
		rs[i] = rs[i].Against(rs[0])
	}
	return rs
}

// Table formats results as a Markdown table.
func Table(rs []Result) string {
	out := "| policy | node-hours | mean extra wait | p95 extra wait | max extra wait | nodes launched | scale actions | jobs killed |\n" +
		"|---|---:|---:|---:|---:|---:|---:|---:|\n"
	for _, r := range rs {
		out += fmt.Sprintf("| %s | %.0f | %s | %s | %s | %d | %d | %d |\n", r.Policy, r.NodeHours,
			fmtDur(r.MeanWait), fmtDur(r.P95Wait), fmtDur(r.MaxWait), r.Launched, r.ScaleActions, r.JobsKilled)
	}
	return out
}

func fmtDur(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.0f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f min", d.Minutes())
}
