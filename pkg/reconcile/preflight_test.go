package reconcile_test

import (
	"net"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/awsclient"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/preflight"
	"github.com/driftless/driftless/pkg/reconcile"
	"github.com/driftless/driftless/pkg/render"
)

// checker is a real pre-flight checker against endpoint, counting its
// checks in the bed's registry.
func (b *bed) checker(endpoint string) *preflight.Checker {
	b.t.Helper()
	cfg, err := awsclient.Load(b.t.Context(), awsclient.Config{Region: moto.Region, Endpoint: endpoint, MaxAttempts: 1}, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return &preflight.Checker{EC2: ec2.NewFromConfig(cfg), EFS: efs.NewFromConfig(cfg), IAM: iam.NewFromConfig(cfg), Region: moto.Region}
}

// missingSnapshot is a spec tail naming a snapshot the account lacks.
const missingSnapshot = "storage:\n  ebs:\n    - snapshot: snap-0123456789abcdef0\n"

// TestPreflightHoldsCluster: a cluster that fails its pre-flight checks is
// reported (Blocked, PreflightFailed, the failures in its status) and not
// touched, on create and on update; the others go on; once the spec is
// fixed the next cycle applies it.
func TestPreflightHoldsCluster(t *testing.T) {
	b := newBed(t)
	b.write("good", 2, "")
	b.write("bad", 2, missingSnapshot)
	ch := b.checker(b.proxy.URL)
	r := b.reconciler(reconcile.Options{Preflight: ch})
	ch.Metrics = preflight.NewMetrics()
	if err := ch.Metrics.Register(b.reg); err != nil {
		t.Fatal(err)
	}

	rep := b.cycle(r)
	if got := outcome(rep, "good").Change.Action; got != diff.Create || b.stackStatus("good") != "CREATE_COMPLETE" {
		t.Fatalf("good: action %s, stack %s", got, b.stackStatus("good"))
	}
	o := outcome(rep, "bad")
	if o.Change.Action != diff.Hold || o.Change.Hold != reconcile.HoldPreflightFailed || o.Started {
		t.Errorf("bad: action %s (%s), started %v; want held", o.Change.Action, o.Change.Hold, o.Started)
	}
	if got := b.proxy.Requests("CreateStack", render.StackName("bad")); got != 0 || b.stackStatus("bad") != "gone" {
		t.Errorf("bad: %d CreateStack calls, stack %s; want none", got, b.stackStatus("bad"))
	}
	st := b.status(r, "bad")
	want := "storage.ebs[0].snapshot: snapshot snap-0123456789abcdef0 does not exist in us-east-1"
	if st.Condition != reconcile.Blocked || st.Reason != "PreflightFailed" || !strings.Contains(st.Message, "bad.yaml: "+want) {
		t.Errorf("bad: status %s %s %q", st.Condition, st.Reason, st.Message)
	}
	if n, _ := metric(t, b.reg, "driftless_preflight_failures_total", map[string]string{"cluster": "bad"}); n != 1 {
		t.Errorf("driftless_preflight_failures_total{cluster=bad} = %v, want 1", n)
	}
	if n, _ := metric(t, b.reg, "driftless_preflight_checks_total", map[string]string{"result": "pass"}); n != 1 {
		t.Errorf("driftless_preflight_checks_total{result=pass} = %v, want 1 (good)", n)
	}
	if !strings.Contains(b.logs.String(), "pre-flight checks failed; cluster not touched") {
		t.Errorf("no log line for the held cluster:\n%s", b.logs)
	}

	// An update that fails its checks leaves the live stack as it is.
	b.write("good", 3, missingSnapshot)
	rep = b.cycle(r)
	if o := outcome(rep, "good"); o.Change.Action != diff.Hold || b.proxy.Requests("UpdateStack", render.StackName("good")) != 0 {
		t.Errorf("good's update: action %s, %d UpdateStack calls; want held, none", o.Change.Action, b.proxy.Requests("UpdateStack", render.StackName("good")))
	}
	if st := b.status(r, "good"); st.Reason != "PreflightFailed" || !strings.Contains(st.Message, "the update waits") {
		t.Errorf("good: status %s %q", st.Reason, st.Message)
	}

	// Fixed: both go ahead.
	b.write("good", 3, "")
	b.write("bad", 2, "")
	rep = b.cycle(r)
	if a := outcome(rep, "bad").Change.Action; a != diff.Create || b.stackStatus("bad") != "CREATE_COMPLETE" {
		t.Errorf("fixed bad: action %s, stack %s", a, b.stackStatus("bad"))
	}
	if a := outcome(rep, "good").Change.Action; a != diff.Update {
		t.Errorf("fixed good: action %s, want update", a)
	}
	for _, c := range []string{"good", "bad"} {
		if st := b.status(r, c); st.Condition != reconcile.Ready {
			t.Errorf("%s: %s %s %q after the fix", c, st.Condition, st.Reason, st.Message)
		}
	}

	// A cluster whose spec leaves the repo loses its series.
	b.remove("bad")
	b.cycle(r)
	if _, ok := metric(t, b.reg, "driftless_preflight_failures_total", map[string]string{"cluster": "bad"}); ok {
		t.Error("driftless_preflight_failures_total{cluster=bad} still there after its spec left the repo")
	}
	if n, ok := metric(t, b.reg, "driftless_preflight_failures_total", map[string]string{"cluster": "good"}); !ok || n != 1 {
		t.Errorf("driftless_preflight_failures_total{cluster=good} = %v (%v), want 1", n, ok)
	}
}

// TestPreflightCannotRun: checks that cannot reach AWS are an error of the
// cluster, never a pass: nothing is created.
func TestPreflightCannotRun(t *testing.T) {
	b := newBed(t)
	b.write("alpha", 2, "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	r := b.reconciler(reconcile.Options{Preflight: b.checker(dead)})
	rep := b.cycle(r)
	if o := outcome(rep, "alpha"); o.Change.Action != diff.Hold || o.Change.Hold != reconcile.HoldPreflightError {
		t.Errorf("action %s (%s), want held for an error", o.Change.Action, o.Change.Hold)
	}
	if b.stackStatus("alpha") != "gone" {
		t.Errorf("stack %s; want none", b.stackStatus("alpha"))
	}
	st := b.status(r, "alpha")
	if st.Condition != reconcile.Stalled || st.Reason != "PreflightError" || !strings.Contains(st.Message, "could not run") {
		t.Errorf("status %s %s %q", st.Condition, st.Reason, st.Message)
	}
}
