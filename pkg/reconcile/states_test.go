package reconcile_test

import (
	"strings"
	"testing"

	"github.com/driftless/driftless/internal/testbed/faults"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/reconcile"
	"github.com/driftless/driftless/pkg/render"
)

// TestFailedStacksAgainstMoto drives the failed states through the whole
// loop against moto. moto never fails, so each stack is created for real
// and the proxy then reports it in the failed state, with the events that
// explain it, until the daemon acts on it.
func TestFailedStacksAgainstMoto(t *testing.T) {
	const recreate = "policy:\n  recreateFailed: true\n"
	headNodeFailed := []faults.Event{
		{Resource: "driftless-hpc", Type: "AWS::CloudFormation::Stack", Status: "CREATE_IN_PROGRESS", Reason: "User Initiated"},
		{Resource: "HeadNode", Type: "AWS::EC2::Instance", Status: "CREATE_FAILED", Reason: "We currently do not have sufficient t3.medium capacity in the Availability Zone you requested"},
		{Resource: "Queue", Type: "AWS::SQS::Queue", Status: "CREATE_FAILED", Reason: "Resource creation cancelled"},
		{Resource: "driftless-hpc", Type: "AWS::CloudFormation::Stack", Status: "ROLLBACK_COMPLETE"},
	}
	rollbackFailed := []faults.Event{
		{Resource: "driftless-hpc", Type: "AWS::CloudFormation::Stack", Status: "UPDATE_IN_PROGRESS", Reason: "User Initiated"},
		{Resource: "ComputeGroup", Type: "AWS::AutoScaling::AutoScalingGroup", Status: "UPDATE_FAILED", Reason: "Received 0 SUCCESS signal(s) out of 1"},
		{Resource: "LaunchTemplate", Type: "AWS::EC2::LaunchTemplate", Status: "UPDATE_FAILED", Reason: "The image id '[ami-gone]' does not exist"},
		{Resource: "driftless-hpc", Type: "AWS::CloudFormation::Stack", Status: "UPDATE_ROLLBACK_FAILED"},
	}
	tests := []struct {
		name   string
		extra  string // added to the spec
		status string // what the proxy reports once the stack exists
		events []faults.Event
		// clearOn clears the proxy's status when the daemon sends it.
		clearOn string
		// continued answers ContinueUpdateRollback, which moto lacks.
		continued bool
		action    diff.Action
		calls     map[string]int // mutating calls that reached the proxy
		condition reconcile.Condition
		reason    string
		message   []string
		final     string // what moto holds at the end
	}{
		{
			name: "a stack that never came up blocks, quoting the resource that failed", status: "ROLLBACK_COMPLETE", events: headNodeFailed,
			action: diff.Blocked, calls: map[string]int{}, condition: reconcile.Blocked, reason: "StackFailed",
			message: []string{"ROLLBACK_COMPLETE", "HeadNode (AWS::EC2::Instance) CREATE_FAILED: We currently do not have sufficient t3.medium capacity"},
			final:   "CREATE_COMPLETE",
		},
		{
			name: "with policy.recreateFailed it is deleted and created again", extra: recreate, status: "ROLLBACK_COMPLETE", events: headNodeFailed,
			clearOn: "DeleteStack", action: diff.Recreate, calls: map[string]int{"DeleteStack": 1, "CreateStack": 1},
			condition: reconcile.Ready, reason: "Applied", final: "CREATE_COMPLETE",
		},
		{
			name: "a failed rollback is continued and the update reported", status: "UPDATE_ROLLBACK_FAILED", events: rollbackFailed,
			continued: true, action: diff.ContinueRollback, calls: map[string]int{"ContinueUpdateRollback": 1},
			condition: reconcile.Stalled, reason: "StackFailed",
			message: []string{"UPDATE_ROLLBACK_COMPLETE", "the update had failed", "ComputeGroup (AWS::AutoScaling::AutoScalingGroup) UPDATE_FAILED: Received 0 SUCCESS signal(s) out of 1", "next attempt"},
			final:   "CREATE_COMPLETE",
		},
		{
			name: "an empty change-set stack blocks", status: "REVIEW_IN_PROGRESS",
			action: diff.Blocked, calls: map[string]int{}, condition: reconcile.Blocked, reason: "StackFailed",
			message: []string{"REVIEW_IN_PROGRESS"}, final: "CREATE_COMPLETE",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBed(t)
			b.write("hpc", 4, tt.extra)
			r := b.reconciler(reconcile.Options{})
			b.cycle(r)
			if got := b.stackStatus("hpc"); got != "CREATE_COMPLETE" {
				t.Fatalf("first create: %s", got)
			}
			stack := render.StackName("hpc")
			b.proxy.SetStatus(stack, tt.status, "The following resource(s) failed: [HeadNode]")
			b.proxy.AddEvents(stack, tt.events...)
			if tt.clearOn != "" {
				b.proxy.OnCall(func(c faults.Call) {
					if c.Action == tt.clearOn && c.Stack == stack {
						b.proxy.ClearStatus(stack)
					}
				})
			}
			if tt.continued {
				b.proxy.Handle("ContinueUpdateRollback", func(c faults.Call) faults.Answer {
					b.proxy.SetStatus(stack, "UPDATE_ROLLBACK_COMPLETE", "")
					return faults.EmptyResult("ContinueUpdateRollback")
				})
			}
			before := map[string]int{}
			for _, op := range []string{"CreateStack", "UpdateStack", "DeleteStack", "ContinueUpdateRollback"} {
				before[op] = b.proxy.Requests(op, stack)
			}

			rep := b.cycle(r)
			if o := outcome(rep, "hpc"); o.Change.Action != tt.action {
				t.Fatalf("planned %s (%s), want %s", o.Change.Action, o.Change.Reason, tt.action)
			}
			for _, op := range []string{"CreateStack", "UpdateStack", "DeleteStack", "ContinueUpdateRollback"} {
				if got := b.proxy.Requests(op, stack) - before[op]; got != tt.calls[op] {
					t.Errorf("%s sent %d times, want %d", op, got, tt.calls[op])
				}
			}
			st := b.status(r, "hpc")
			if st.Condition != tt.condition || st.Reason != tt.reason {
				t.Errorf("status %s/%s (%s), want %s/%s", st.Condition, st.Reason, st.Message, tt.condition, tt.reason)
			}
			for _, m := range tt.message {
				if !strings.Contains(st.Message, m) {
					t.Errorf("message %q does not say %q", st.Message, m)
				}
			}
			if got := b.stackStatus("hpc"); got != tt.final {
				t.Errorf("moto holds %s, want %s", got, tt.final)
			}
			if tt.action == diff.Blocked {
				// The explanation is read once, not every cycle.
				reads := b.proxy.Requests("DescribeStackEvents", stack)
				b.cycle(r)
				if n := b.proxy.Requests("DescribeStackEvents", stack); n != reads {
					t.Errorf("a second cycle read the events again (%d reads)", n-reads)
				}
				if st := b.status(r, "hpc"); st.Message == "" || st.Condition != reconcile.Blocked {
					t.Errorf("second cycle: %+v", st)
				}
				if tt.events != nil && !strings.Contains(b.logs.String(), "stack needs a person") {
					t.Errorf("no log line for the blocked stack:\n%s", b.logs)
				}
			}
		})
	}
}

// TestRetriedDeleteOfARemovedCluster: a stack whose delete failed and
// whose spec is gone is deleted again when pruning is on.
func TestRetriedDeleteOfARemovedCluster(t *testing.T) {
	b := newBed(t)
	b.write("keep", 4, "")
	b.write("gone", 4, "")
	r := b.reconciler(reconcile.Options{Prune: true, PruneLimit: -1})
	b.cycle(r)
	stack := render.StackName("gone")
	b.proxy.SetStatus(stack, "DELETE_FAILED", "The following resource(s) failed to delete: [Bucket].")
	b.proxy.OnCall(func(c faults.Call) {
		if c.Action == "DeleteStack" && c.Stack == stack {
			b.proxy.ClearStatus(stack)
		}
	})
	b.remove("gone")
	rep := b.cycle(r)
	if o := outcome(rep, "gone"); o.Change.Action != diff.Delete || o.Err != nil {
		t.Fatalf("gone: %s %v (%s)", o.Change.Action, o.Err, o.Change.Reason)
	}
	if n := b.proxy.Requests("DeleteStack", stack); n != 1 {
		t.Errorf("DeleteStack sent %d times, want 1", n)
	}
	if got := b.stackStatus("gone"); got != "gone" && got != "DELETE_COMPLETE" {
		t.Errorf("moto holds %s", got)
	}
	if _, ok := r.Statuses().Get("gone"); ok {
		t.Error("a deleted cluster still has a status")
	}
}
