package apply_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/diff"
)

// TestRoleARN: every call that changes a stack names the service role;
// without one, none does. It runs against the hand-written CloudFormation
// for ContinueUpdateRollback, which moto does not implement;
// cmd/reconciler's TestCloudFormationRoleReachesCalls sends the create,
// update and delete to the emulator from the daemon's configuration.
func TestRoleARN(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/driftless-cloudformation"
	live := &diff.Live{Cluster: "hpc", StackName: "driftless-hpc", StackID: stackID, Hash: "h1"}
	for _, want := range []string{role, ""} {
		for _, action := range []diff.Action{diff.Create, diff.Update, diff.Delete, diff.ContinueRollback} {
			status := map[diff.Action]cfntypes.StackStatus{
				diff.Create: cfntypes.StackStatusCreateComplete, diff.Update: cfntypes.StackStatusUpdateComplete,
				diff.Delete: cfntypes.StackStatusDeleteComplete, diff.ContinueRollback: cfntypes.StackStatusUpdateRollbackComplete,
			}[action]
			l := *live
			l.Status = string(cfntypes.StackStatusUpdateRollbackFailed)
			stacks := &fakeStacks{describe: statuses("", status)}
			a := &apply.Applier{Stacks: stacks, Groups: &groups{}, PollInterval: time.Millisecond, RoleARN: want}
			_, _ = a.Apply(t.Context(), diff.Change{Cluster: "hpc", Action: action, Desired: testStack(), Live: &l}, "rev")
			var got *string
			switch in := stacks.input(map[diff.Action]string{
				diff.Create: "CreateStack", diff.Update: "UpdateStack", diff.Delete: "DeleteStack", diff.ContinueRollback: "ContinueUpdateRollback",
			}[action]).(type) {
			case *cloudformation.CreateStackInput:
				got = in.RoleARN
			case *cloudformation.UpdateStackInput:
				got = in.RoleARN
			case *cloudformation.DeleteStackInput:
				got = in.RoleARN
			case *cloudformation.ContinueUpdateRollbackInput:
				got = in.RoleARN
			default:
				t.Fatalf("%s: no call made (%v)", action, stacks.mutations())
			}
			if aws.ToString(got) != want || (want == "" && got != nil) {
				t.Errorf("%s with role %q: the call names %v", action, want, aws.ToString(got))
			}
		}
	}
}
