package reconcile

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/diff"
)

// Defaults of the per-cluster retry schedule.
const (
	DefaultRetryBase = time.Minute
	DefaultRetryMax  = 30 * time.Minute
)

// DefaultCycleWait is how long a daemon's cycle waits for its applies
// before leaving them to run on: long enough for an update that changes
// only a group's limits, short enough that a head node being created
// does not hold up the next cycle.
const DefaultCycleWait = 30 * time.Second

// scheduler keeps, per cluster, what runs and when it may run again. It
// outlives cycles: with Options.Background an apply started in one cycle
// may end in a later one, and the cycles in between leave its cluster
// alone.
type scheduler struct {
	sem  chan struct{}  // Options.Concurrency slots, shared by all cycles
	wg   sync.WaitGroup // every apply started and not yet finished
	done chan struct{}  // an apply finished in the background: worth a cycle

	mu       sync.Mutex
	clusters map[string]*track
	seq      uint64 // counts finished applies
}

// track is one cluster's schedule.
type track struct {
	running bool
	action  diff.Action
	started time.Time
	// finished is the scheduler's seq when the last apply ended; a plan
	// observed before it is stale for this cluster.
	finished uint64

	// failures counts applies that failed in a row for the same desired
	// template (hash); next is the earliest time of the next attempt.
	failures int
	next     time.Time
	hash     string
	// last is the classification of the last apply's end.
	last verdict

	// explained caches the explanation of a stack in a failed state, per
	// stack id and status, so its events are read once.
	explained string
	why       error
}

// verdict is what an apply's end means for its cluster.
type verdict struct {
	condition Condition
	reason    string
	message   string
	// failed counts towards the backoff.
	failed bool
	// stop puts the next attempt off to the longest backoff: retrying
	// soon cannot help (credentials, permissions, a refused request).
	stop bool
}

func newScheduler(concurrency int) *scheduler {
	return &scheduler{
		sem:      make(chan struct{}, concurrency),
		done:     make(chan struct{}, 1),
		clusters: make(map[string]*track),
	}
}

func (s *scheduler) get(cluster string) *track {
	t, ok := s.clusters[cluster]
	if !ok {
		t = &track{}
		s.clusters[cluster] = t
	}
	return t
}

// mark is the scheduler's seq before a plan is observed.
func (s *scheduler) mark() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// inFlight counts the applies queued or running.
func (s *scheduler) inFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.clusters {
		if t.running {
			n++
		}
	}
	return n
}

// Adopt makes r share prev's schedule: the applies prev has running, its
// concurrency slots and every cluster's failures and next attempt. A
// daemon that rebuilds its reconciler (a reloaded configuration) adopts
// the old one, so a cluster never gets a second operation meanwhile and
// a failing one keeps its backoff. Call it before r's first cycle.
func (r *Reconciler) Adopt(prev *Reconciler) { r.sched = prev.sched }

// WaitApplies blocks until every apply started by this reconciler (or one
// that shares its schedule) has ended. After its context is cancelled an
// apply ends within one AWS call.
func (r *Reconciler) WaitApplies() { r.sched.wg.Wait() }

// Finished fires when an apply its cycle let go of has ended, so the loop
// can plan again without waiting for the poll interval.
func (r *Reconciler) Finished() <-chan struct{} { return r.sched.done }

// Backoff is the wait before the next attempt after n failures in a row
// (n ≥ 1) — of a cluster's applies, or of whole cycles: base doubling per
// failure, capped at limit, with up to ±20% jitter drawn from u in [0, 1).
func Backoff(n int, base, limit time.Duration, u float64) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d + time.Duration((u*0.4-0.2)*float64(d))
}

// needsWork reports whether a change is carried out by the applier: the
// mutating ones, a wait on a running operation, and the explanation of a
// stack in a failed state (from its events).
func needsWork(ch diff.Change) bool {
	return ch.Mutating() || ch.Action == diff.Wait || (ch.Action == diff.Blocked && explainable(ch.Live))
}

// explainable reports whether a blocked cluster's stack is in a failed
// state its events explain. A cluster blocked for another reason (drift
// left to a person, a status from the future) keeps the plan's reason.
func explainable(l *diff.Live) bool {
	if l == nil || l.StackID == "" {
		return false
	}
	switch diff.StatusKind(l.Status) {
	case diff.CreateFailed, diff.RollbackFailed, diff.DeleteFailed, diff.Stuck:
		return true
	}
	return false
}

// explainKey identifies a failed stack's state, for the explanation cache.
func explainKey(ch diff.Change) string {
	if ch.Live == nil {
		return ""
	}
	return ch.Live.StackID + "\x00" + ch.Live.Status
}

// batch is one cycle's applies. Until the cycle lets go of it, an apply
// that ends writes its outcome into the report; after, it reports through
// the status table and wakes the loop.
type batch struct {
	wg       sync.WaitGroup
	mu       sync.Mutex
	detached bool
}

// wait waits for the batch's applies, at most limit when limit ≥ 0 (zero
// does not wait), then lets go of those still running.
func (b *batch) wait(ctx context.Context, limit time.Duration, after func(time.Duration) <-chan time.Time) {
	switch {
	case limit < 0:
		// Every apply ends soon after ctx does.
		b.wg.Wait()
	case limit > 0:
		done := make(chan struct{})
		go func() {
			b.wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-after(limit):
		case <-ctx.Done():
		}
	}
	b.mu.Lock()
	b.detached = true
	b.mu.Unlock()
}

// dispatch starts the applies of a cycle: every change that needs work and
// whose cluster has nothing running, has no newer news than the plan, and
// is not backing off. The cycle then waits for them with the batch.
func (r *Reconciler) dispatch(ctx context.Context, rep *Report, mark uint64) *batch {
	b := &batch{}
	now := r.now()
	s := r.sched
	for i := range rep.Changes {
		ch := rep.Changes[i]
		o := &rep.Outcomes[i]
		o.Change = ch
		if r.opts.DryRun || !needsWork(ch) {
			continue
		}
		s.mu.Lock()
		t := s.get(ch.Cluster)
		hash := ""
		if ch.Desired != nil {
			hash = ch.Desired.Hash
		}
		if t.hash != hash && !t.running {
			// A new template is a new attempt: a person may have fixed
			// what failed.
			t.failures, t.next, t.hash = 0, time.Time{}, hash
		}
		switch {
		case t.running:
			o.Deferred = DeferredInFlight
		case t.finished > mark:
			o.Deferred = DeferredStale
		case ch.Action == diff.Blocked && t.explained == explainKey(ch):
			o.Err = t.why
			o.Deferred = DeferredKnown
		case ch.Action != diff.Blocked && now.Before(t.next):
			o.Deferred = DeferredBackingOff
		}
		if o.Deferred != "" {
			s.mu.Unlock()
			continue
		}
		t.running, t.action, t.started = true, ch.Action, now
		s.mu.Unlock()
		r.metrics.sched.inFlight.Inc()

		o.Started = true
		s.wg.Add(1)
		b.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer b.wg.Done()
			res, err := r.applyOne(ctx, ch, rep.Revision)
			b.mu.Lock()
			detached := b.detached
			if !detached {
				o.Result, o.Err, o.ended = res, err, true
			}
			// finish runs under the batch's lock while attached, so the
			// cycle lets go either before the outcome is written or after
			// the schedule knows the apply ended.
			r.finish(ctx, ch, rep.Revision, res, err, detached)
			b.mu.Unlock()
			if detached {
				select {
				case s.done <- struct{}{}:
				default:
				}
			}
		}()
	}
	return b
}

// applyOne takes a concurrency slot and applies one change.
func (r *Reconciler) applyOne(ctx context.Context, ch diff.Change, revision string) (apply.Result, error) {
	select {
	case r.sched.sem <- struct{}{}:
		defer func() { <-r.sched.sem }()
	case <-ctx.Done():
		return apply.Result{Cluster: ch.Cluster, Action: ch.Action}, ctx.Err()
	}
	log := r.log.With("cluster", ch.Cluster, "revision", revision, "action", string(ch.Action))
	if ch.Action == diff.Blocked {
		log.Debug("reading why the stack failed", "status", ch.Live.Status)
	} else {
		log.Info("applying", "reason", ch.Reason)
	}
	return r.app.Apply(ctx, ch, revision)
}

// finish records the end of an apply: the cluster's schedule, metrics,
// one log line, and, for an apply its cycle let go of (background), the
// cluster's status.
func (r *Reconciler) finish(ctx context.Context, ch diff.Change, revision string, res apply.Result, err error, background bool) {
	now := r.now()
	v := judge(ch, err, ctx.Err() != nil)
	s := r.sched
	s.mu.Lock()
	t := s.get(ch.Cluster)
	s.seq++
	t.running, t.finished, t.last = false, s.seq, v
	switch {
	case ch.Action == diff.Blocked:
		t.explained, t.why = explainKey(ch), err
	case v.failed:
		t.failures++
		d := Backoff(t.failures, r.opts.RetryBase, r.opts.RetryMax, r.rand())
		if v.stop {
			d = r.opts.RetryMax
		}
		t.next = now.Add(d)
	case err == nil:
		t.failures, t.next = 0, time.Time{}
	}
	failures, next := t.failures, t.next
	s.mu.Unlock()
	r.metrics.sched.inFlight.Dec()

	log := r.log.With("cluster", ch.Cluster, "revision", revision, "action", string(ch.Action))
	// A cluster waiting for its drain has no outcome yet: counting each
	// cycle's check as a failed apply would page someone for a wait.
	if ch.Action != diff.Blocked && v.reason != "DrainingForUpdate" {
		r.metrics.action(string(ch.Action), err == nil)
		r.metrics.sched.duration.WithLabelValues(string(ch.Action), result(err == nil)).Observe(res.Duration.Seconds())
	}
	r.metrics.sched.failing(ch.Cluster, failures, next)
	switch {
	case ch.Action == diff.Blocked:
		if err != nil {
			log.Warn("stack needs a person", "error", err)
		}
	case err == nil:
		log.Info("applied", "stack_status", res.StackStatus, "duration", res.Duration.Round(time.Millisecond).String())
	case v.reason == "DrainingForUpdate":
		// Expected every cycle while jobs run; the Healer logs it.
		log.Debug("apply waits for a drain", "error", err)
	case v.failed:
		log.Error("apply failed", "error", err, "failures", failures, "next_attempt", next.Format(time.RFC3339))
	default:
		log.Warn("apply ended early", "reason", v.reason, "error", err)
	}

	if !background {
		return
	}
	// A delete that succeeded takes the cluster out of the table; every
	// other end is the cluster's new status.
	if ch.Action == diff.Delete && err == nil {
		r.status.remove(ch.Cluster)
		r.metrics.sched.forget(ch.Cluster)
	} else {
		o := Outcome{Change: ch, Result: res, Err: err, Started: true, ended: true}
		st := r.clusterStatus(revision, o, now)
		r.status.set(st)
	}
	r.metrics.conditions(r.status.List(), nil)
}

// judge classifies the end of an apply.
func judge(ch diff.Change, err error, canceled bool) verdict {
	var (
		failed   *apply.StackFailedError
		timeout  *apply.TimeoutError
		draining *apply.DrainingError
		drainTO  *apply.DrainTimeoutError
	)
	switch {
	case err == nil:
		return verdict{}
	case errors.As(err, &draining):
		// Not a failure: the next cycle looks at the jobs again.
		return verdict{condition: Reconciling, reason: "DrainingForUpdate", message: err.Error()}
	case errors.As(err, &drainTO):
		// The nodes stay drained and every cycle looks again, so the
		// change goes ahead once a person has cancelled the jobs.
		return verdict{condition: Blocked, reason: "DrainTimedOut", message: err.Error()}
	case errors.Is(err, apply.ErrNoScheduler):
		// No backoff: the attempt makes no AWS call, and a fleet loop
		// that starts after this cycle (the daemon's first) drains the
		// cluster in the next one.
		return verdict{condition: Blocked, reason: "NoScheduler", message: err.Error()}
	case canceled || errors.Is(err, context.Canceled):
		return verdict{condition: Reconciling, reason: "Interrupted", message: "the daemon stopped while applying; the next start picks the stack up"}
	case errors.As(err, &timeout):
		return verdict{condition: Reconciling, reason: "StillBusy", message: err.Error()}
	case errors.Is(err, apply.ErrDenied):
		return verdict{condition: Blocked, reason: "AccessDenied", message: err.Error(), failed: true, stop: true}
	case errors.Is(err, apply.ErrTemplateTooLarge), errors.Is(err, apply.ErrProtected):
		return verdict{condition: Blocked, reason: "Refused", message: err.Error(), failed: true, stop: true}
	case errors.As(err, &failed) && ch.Action == diff.Blocked:
		return verdict{condition: Blocked, reason: "StackFailed", message: err.Error()}
	case errors.As(err, &failed):
		return verdict{condition: Stalled, reason: "StackFailed", message: err.Error(), failed: true}
	}
	return verdict{condition: Stalled, reason: "ApplyFailed", message: err.Error(), failed: true}
}

// Why a change that needs work was not started in a cycle.
const (
	// DeferredInFlight: an apply of the cluster is still running.
	DeferredInFlight = "in-flight"
	// DeferredStale: an apply of the cluster ended after this cycle
	// observed AWS; the next cycle plans from what it left.
	DeferredStale = "stale"
	// DeferredBackingOff: the cluster failed recently; its next attempt
	// is later.
	DeferredBackingOff = "backing-off"
	// DeferredKnown: the failed stack was already explained.
	DeferredKnown = "known"
)

// clusterStatus is a cluster's status after a cycle's outcome o, from the
// plan, what was applied, and the cluster's schedule.
func (r *Reconciler) clusterStatus(revision string, o Outcome, now time.Time) ClusterStatus {
	ch := o.Change
	st := ClusterStatus{Cluster: ch.Cluster, Declared: revision, Updated: now, Message: ch.Reason}
	if ch.Live != nil {
		st.Applied, st.StackStatus = ch.Live.Revision, ch.Live.Status
	}
	if ch.Desired == nil {
		st.Declared = ""
	}
	r.sched.mu.Lock()
	t := *r.sched.get(ch.Cluster)
	r.sched.mu.Unlock()
	if t.failures > 0 {
		st.Failures = t.failures
		if !t.next.IsZero() {
			next := t.next
			st.NextAttempt = &next
		}
	}
	inFlight := func() {
		started := t.started
		st.Condition, st.Reason = Reconciling, "Applying"
		st.Operation, st.OperationStarted = string(t.action), &started
		st.Message = fmt.Sprintf("%s running since %s: %s", t.action, started.UTC().Format(time.RFC3339), ch.Reason)
	}
	backingOff := func() {
		st.Condition, st.Reason, st.Message = t.last.condition, t.last.reason, t.last.message
		if st.NextAttempt != nil {
			st.Message += fmt.Sprintf(" (attempt %d failed; next attempt %s)", t.failures, st.NextAttempt.UTC().Format(time.RFC3339))
		}
	}
	switch {
	case o.Deferred == DeferredInFlight || (o.Started && !o.ended):
		inFlight()
	case o.Deferred == DeferredBackingOff:
		backingOff()
	case o.Deferred == DeferredKnown || ch.Action == diff.Blocked:
		// The failure as the stack's events tell it, then the plan's
		// word on what a person can do.
		st.Condition, st.Reason = Blocked, "StackFailed"
		if o.Err != nil {
			st.Message = o.Err.Error() + "; " + ch.Reason
		}
	case o.ended && o.Err != nil:
		v := judge(ch, o.Err, false)
		st.Condition, st.Reason, st.Message = v.condition, v.reason, v.message
		if o.Result.StackStatus != "" {
			st.StackStatus = o.Result.StackStatus
		}
		if v.failed && st.NextAttempt != nil {
			st.Message += fmt.Sprintf(" (attempt %d failed; next attempt %s)", t.failures, st.NextAttempt.UTC().Format(time.RFC3339))
		}
	case o.ended && ch.Action == diff.Wait:
		st.StackStatus = o.Result.StackStatus
		if ch.Desired != nil && ch.Live != nil && ch.Live.Hash == ch.Desired.Hash {
			st.Condition, st.Reason, st.Message = Ready, "Settled", "stack settled in "+o.Result.StackStatus
		} else {
			st.Condition, st.Reason, st.Message = Reconciling, "Settled", "stack settled in "+o.Result.StackStatus+"; the next cycle plans again"
		}
	case o.ended && ch.Action == diff.ContinueRollback:
		st.Condition, st.Reason, st.StackStatus = Stalled, "RolledBack", o.Result.StackStatus
	case o.ended && ch.Action == diff.Heal:
		// The stack itself did not change: its applied revision stays.
		st.Condition, st.Reason, st.Failures, st.NextAttempt = Ready, "Healed", 0, nil
	case o.ended:
		st.Condition, st.Reason = Ready, "Applied"
		st.Applied, st.StackStatus = revision, o.Result.StackStatus
		st.Failures, st.NextAttempt = 0, nil
	case ch.Mutating():
		st.Condition, st.Reason = Reconciling, "Pending"
	case ch.Action == diff.None:
		st.Condition, st.Reason = Ready, "InSync"
	case ch.Action == diff.Wait:
		st.Condition, st.Reason = Reconciling, "StackBusy"
	case ch.Action == diff.Skip:
		st.Condition, st.Reason = Blocked, "InvalidSpec"
	case ch.Action == diff.Retain && ch.Refused != "":
		st.Condition, st.Reason = Blocked, "PruneRefused"
	case ch.Action == diff.Retain:
		st.Condition, st.Reason = Blocked, "NotDeclared"
	case ch.Action == diff.Hold:
		// Held for a person: an approval, a change not allowed, drift
		// only reported (diff.Hold* says which).
		st.Condition, st.Reason = Blocked, ch.Hold
	default:
		st.Condition, st.Reason = Blocked, "StackFailed"
	}
	return st
}

// recordRefusals counts every delete a guard refused this cycle and logs
// a refusal when it is new or its reason changed.
func (r *Reconciler) recordRefusals(changes []diff.Change) {
	seen := make(map[string]bool)
	for _, ch := range changes {
		if ch.Action != diff.Retain || ch.Refused == "" {
			continue
		}
		seen[ch.Cluster] = true
		r.metrics.sched.refusals.WithLabelValues(ch.Refused).Inc()
		if r.refusals[ch.Cluster] != ch.Refused {
			r.refusals[ch.Cluster] = ch.Refused
			stack := ""
			if ch.Live != nil {
				stack = ch.Live.StackName
			}
			r.log.Warn("prune refused", "cluster", ch.Cluster, "stack", stack, "guard", ch.Refused, "reason", ch.Reason)
		}
	}
	for name := range r.refusals {
		if !seen[name] {
			delete(r.refusals, name)
		}
	}
}

func (r *Reconciler) rand() float64 {
	if r.opts.Rand != nil {
		return r.opts.Rand()
	}
	return rand.Float64()
}

// remove drops one cluster's status.
func (s *Statuses) remove(cluster string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, cluster)
}

// running reports whether an apply of the cluster is queued or running.
func (r *Reconciler) running(cluster string) bool {
	r.sched.mu.Lock()
	defer r.sched.mu.Unlock()
	t, ok := r.sched.clusters[cluster]
	return ok && t.running
}
