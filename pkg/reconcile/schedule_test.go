package reconcile_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/testbed/faults"
	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/reconcile"
	"github.com/driftless/driftless/pkg/render"
)

func TestBackoff(t *testing.T) {
	const base, limit = time.Minute, 30 * time.Minute
	tests := []struct {
		n    int
		u    float64
		want time.Duration
	}{
		{1, 0.5, time.Minute},
		{2, 0.5, 2 * time.Minute},
		{3, 0.5, 4 * time.Minute},
		{5, 0.5, 16 * time.Minute},
		{6, 0.5, limit},
		{60, 0.5, limit},
		{1, 0, 48 * time.Second},
		{1, 0.999999, 72 * time.Second},
		{60, 0, 24 * time.Minute},
	}
	for _, tt := range tests {
		got := reconcile.Backoff(tt.n, base, limit, tt.u)
		if d := got - tt.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("Backoff(%d, u=%v) = %s, want %s", tt.n, tt.u, got, tt.want)
		}
	}
}

// TestSlowClusterHoldsUpNoOther: one cluster's create stays in progress
// (the proxy holds its stack in CREATE_IN_PROGRESS, as a head node that
// takes half an hour would); the others are created, then updated, while
// it runs, and it is never sent a second operation.
func TestSlowClusterHoldsUpNoOther(t *testing.T) {
	b := newBed(t)
	for _, c := range []string{"slow", "quick1", "quick2"} {
		b.write(c, 4, "")
	}
	slow := render.StackName("slow")
	b.proxy.SetStatus(slow, "CREATE_IN_PROGRESS", "")
	r := b.reconciler(reconcile.Options{Background: true, Concurrency: 2})

	rep := b.cycle(r)
	for _, c := range []string{"slow", "quick1", "quick2"} {
		if o := outcome(rep, c); !o.Started || o.Change.Action != diff.Create {
			t.Fatalf("%s: %+v, want a create started", c, o)
		}
	}
	b.waitFor("the quick clusters are created", func() bool {
		for _, c := range []string{"quick1", "quick2"} {
			if st, _ := r.Statuses().Get(c); st.Condition != reconcile.Ready {
				return false
			}
		}
		return true
	})
	st := b.status(r, "slow")
	if st.Condition != reconcile.Reconciling || st.Operation != "create" || st.OperationStarted == nil {
		t.Errorf("slow: %+v, want Reconciling with its create running", st)
	}

	// Cycles go on while the slow create runs: quick1 is changed and
	// updated; slow is left alone.
	b.write("quick1", 8, "")
	for range 2 {
		rep = b.cycle(r)
		if o := outcome(rep, "slow"); o.Started || o.Deferred != reconcile.DeferredInFlight {
			t.Errorf("slow: %+v, want deferred while in flight", o)
		}
	}
	b.waitFor("quick1 is updated", func() bool {
		st, _ := r.Statuses().Get("quick1")
		return st.Condition == reconcile.Ready && st.StackStatus == "UPDATE_COMPLETE"
	})
	if n := b.proxy.Forwarded("CreateStack", slow); n != 1 {
		t.Errorf("%d CreateStack for the slow cluster, want 1", n)
	}
	if n := b.proxy.Requests("UpdateStack", slow) + b.proxy.Requests("DeleteStack", slow); n != 0 {
		t.Errorf("%d other changes sent to the slow cluster", n)
	}
	if v, _ := metric(t, b.reg, "driftless_applies_in_flight", nil); v != 1 {
		t.Errorf("driftless_applies_in_flight = %v, want 1", v)
	}

	// The stack settles; the running apply sees it and ends.
	b.proxy.ClearStatus(slow)
	b.waitFor("slow is created", func() bool {
		st, _ := r.Statuses().Get("slow")
		return st.Condition == reconcile.Ready
	})
	r.WaitApplies()
	rep = b.cycle(r)
	for _, c := range []string{"slow", "quick1", "quick2"} {
		if o := outcome(rep, c); o.Change.Action != diff.None {
			t.Errorf("%s: %s (%s) after everything settled, want none", c, o.Change.Action, o.Change.Reason)
		}
	}
}

// TestFailingClusterBacksOff: a cluster whose create keeps failing is
// tried again after 1, 2, 4 minutes (no jitter here), its next attempt
// in its status and the metrics, while another cluster is unaffected.
func TestFailingClusterBacksOff(t *testing.T) {
	b := newBed(t)
	b.write("bad", 4, "")
	b.write("good", 4, "")
	bad := render.StackName("bad")
	f := faults.ServerError()
	f.Actions, f.Stack = []string{"CreateStack"}, bad
	stop := b.proxy.Inject(f)
	r := b.reconciler(reconcile.Options{RetryBase: time.Minute, RetryMax: 30 * time.Minute})
	t0 := b.clock.Now()

	b.cycle(r)
	st := b.status(r, "bad")
	if st.Condition != reconcile.Stalled || st.Failures != 1 || st.NextAttempt == nil || !st.NextAttempt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("bad after one failure: %+v", st)
	}
	if !contains(st.Message, "InternalFailure", "next attempt") {
		t.Errorf("message %q does not say why and when", st.Message)
	}
	if g := b.status(r, "good"); g.Condition != reconcile.Ready {
		t.Errorf("good: %+v", g)
	}
	if v, ok := metric(t, b.reg, "driftless_cluster_next_attempt_timestamp_seconds", map[string]string{"cluster": "bad"}); !ok || int64(v) != t0.Add(time.Minute).Unix() {
		t.Errorf("next attempt metric = %v (%v)", v, ok)
	}
	sent := b.proxy.Requests("CreateStack", bad)

	// Within the backoff nothing is sent.
	b.clock.Advance(30 * time.Second)
	rep := b.cycle(r)
	if o := outcome(rep, "bad"); o.Started || o.Deferred != reconcile.DeferredBackingOff {
		t.Errorf("bad within its backoff: %+v", o)
	}
	if n := b.proxy.Requests("CreateStack", bad); n != sent {
		t.Errorf("%d CreateStack sent within the backoff", n-sent)
	}

	// After it, one more attempt, and the wait doubles.
	b.clock.Advance(31 * time.Second)
	b.cycle(r)
	st = b.status(r, "bad")
	if st.Failures != 2 || !st.NextAttempt.Equal(b.clock.Now().Add(2*time.Minute)) {
		t.Errorf("bad after two failures: %+v", st)
	}

	// AWS recovers: the next attempt succeeds and the backoff is gone.
	stop()
	b.clock.Advance(2 * time.Minute)
	b.cycle(r)
	st = b.status(r, "bad")
	if st.Condition != reconcile.Ready || st.Failures != 0 || st.NextAttempt != nil {
		t.Errorf("bad after recovering: %+v", st)
	}
	if _, ok := metric(t, b.reg, "driftless_cluster_next_attempt_timestamp_seconds", map[string]string{"cluster": "bad"}); ok {
		t.Error("next attempt series still there after success")
	}
	if v, _ := metric(t, b.reg, "driftless_cluster_actions_total", map[string]string{"action": "create", "result": "error"}); v != 2 {
		t.Errorf("failed creates counted %v, want 2", v)
	}
}

// TestDeniedStopsTheCluster: expired credentials are not retried in a hot
// loop: the cluster is Blocked with AWS's reason until the longest
// backoff has passed.
func TestDeniedStopsTheCluster(t *testing.T) {
	b := newBed(t)
	b.write("denied", 4, "")
	b.write("fine", 4, "")
	stack := render.StackName("denied")
	f := faults.ExpiredToken()
	f.Actions, f.Stack = []string{"CreateStack"}, stack
	b.proxy.Inject(f)
	r := b.reconciler(reconcile.Options{RetryBase: time.Minute, RetryMax: 30 * time.Minute})

	rep := b.cycle(r)
	if o := outcome(rep, "denied"); !errors.Is(o.Err, apply.ErrDenied) {
		t.Fatalf("denied: error %v, want ErrDenied", o.Err)
	}
	st := b.status(r, "denied")
	if st.Condition != reconcile.Blocked || st.Reason != "AccessDenied" || !strings.Contains(st.Message, "security token included in the request is expired") {
		t.Errorf("denied: %+v", st)
	}
	if st.NextAttempt == nil || st.NextAttempt.Sub(b.clock.Now()) != 30*time.Minute {
		t.Errorf("next attempt %v, want the longest backoff", st.NextAttempt)
	}
	if n := b.proxy.Requests("CreateStack", stack); n != 1 {
		t.Errorf("CreateStack sent %d times, want once: refused credentials are not retried", n)
	}
	for range 3 {
		b.clock.Advance(5 * time.Minute)
		b.cycle(r)
	}
	if n := b.proxy.Requests("CreateStack", stack); n != 1 {
		t.Errorf("CreateStack sent %d times within the backoff", n)
	}
	if st := b.status(r, "fine"); st.Condition != reconcile.Ready {
		t.Errorf("fine: %+v", st)
	}
}
