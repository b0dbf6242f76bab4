package apply_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/render"
)

// gone is a script step: the stack does not exist (any more).
const gone = "GONE"

// script returns a DescribeStacks that reports each status in turn and
// then stays on the last; gone answers as CloudFormation does for a stack
// that does not exist.
func script(list ...string) func(*cloudformation.DescribeStacksInput) (*cloudformation.DescribeStacksOutput, error) {
	var n atomic.Int32
	return func(*cloudformation.DescribeStacksInput) (*cloudformation.DescribeStacksOutput, error) {
		s := list[min(int(n.Add(1))-1, len(list)-1)]
		if s == gone {
			return nil, &smithy.GenericAPIError{Code: "ValidationError", Message: "Stack with id driftless-hpc does not exist"}
		}
		return &cloudformation.DescribeStacksOutput{Stacks: []cfntypes.Stack{{
			StackName: aws.String("driftless-hpc"), StackId: aws.String(stackID),
			StackStatus: cfntypes.StackStatus(s), StackStatusReason: aws.String("The following resource(s) failed: [HeadNode]"),
			Tags: []cfntypes.Tag{{Key: aws.String(render.TagSpecHash), Value: aws.String("h2")}},
		}}}, nil
	}
}

// groups records the group resizes.
type groups struct {
	mu    sync.Mutex
	sizes []string
}

func (g *groups) SetDesiredCapacity(_ context.Context, in *autoscaling.SetDesiredCapacityInput,
	_ ...func(*autoscaling.Options)) (*autoscaling.SetDesiredCapacityOutput, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sizes = append(g.sizes, fmt.Sprintf("%s=%d", aws.ToString(in.AutoScalingGroupName), aws.ToInt32(in.DesiredCapacity)))
	return &autoscaling.SetDesiredCapacityOutput{}, nil
}

// opEvents is the history of a failed operation: the stack's event that
// opened it and a resource that failed with a reason of its own.
func opEvents(started, failed cfntypes.ResourceStatus) []cfntypes.StackEvent {
	return []cfntypes.StackEvent{
		event("HeadNode", "AWS::EC2::Instance", failed, "Resource handler returned message: boom"),
		event("driftless-hpc", "AWS::CloudFormation::Stack", started, "User Initiated"),
	}
}

// TestEveryStatusThroughTheEngine puts a cluster's stack in each
// CloudFormation status, plans it as the daemon would and applies the
// plan, and checks the action chosen, the calls that changed something,
// and what is reported.
func TestEveryStatusThroughTheEngine(t *testing.T) {
	const (
		declared = iota
		declaredRecreate
		removed
	)
	tests := []struct {
		status  string
		as      int
		hash    string // the live stack's spec hash; the repo's is h2
		action  diff.Action
		script  []string // DescribeStacks answers after the plan
		events  []cfntypes.StackEvent
		retain  []string
		calls   []string
		resized bool
		// final is the status Apply reports; err, when set, must be in
		// the error, and a *StackFailedError when failed.
		final  string
		err    string
		failed bool
	}{
		// Stable: the hashes decide.
		{status: "CREATE_COMPLETE", hash: "h2", action: diff.None},
		{status: "CREATE_COMPLETE", action: diff.Update, script: []string{"UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"},
			calls: []string{"UpdateStack"}, final: "UPDATE_COMPLETE"},
		{status: "UPDATE_COMPLETE", action: diff.Update, script: []string{"UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"},
			calls: []string{"UpdateStack"}, final: "UPDATE_COMPLETE"},
		{status: "UPDATE_ROLLBACK_COMPLETE", action: diff.Update, script: []string{"UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"},
			calls: []string{"UpdateStack"}, final: "UPDATE_COMPLETE"},
		{status: "IMPORT_COMPLETE", action: diff.Update, script: []string{"UPDATE_COMPLETE"},
			calls: []string{"UpdateStack"}, final: "UPDATE_COMPLETE"},
		{status: "IMPORT_ROLLBACK_COMPLETE", action: diff.Update, script: []string{"UPDATE_COMPLETE"},
			calls: []string{"UpdateStack"}, final: "UPDATE_COMPLETE"},
		{status: "UPDATE_COMPLETE", as: removed, action: diff.Delete, script: []string{"DELETE_IN_PROGRESS", gone},
			calls: []string{"DeleteStack"}},

		// In progress: wait for the running operation, issue nothing.
		{status: "CREATE_IN_PROGRESS", hash: "h2", action: diff.Wait, script: []string{"CREATE_IN_PROGRESS", "CREATE_COMPLETE"},
			resized: true, final: "CREATE_COMPLETE"},
		{status: "ROLLBACK_IN_PROGRESS", action: diff.Wait, script: []string{"ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"},
			events: opEvents(cfntypes.ResourceStatusCreateInProgress, cfntypes.ResourceStatusCreateFailed),
			final:  "ROLLBACK_COMPLETE", failed: true, err: "HeadNode (AWS::EC2::Instance) CREATE_FAILED: Resource handler returned message: boom"},
		{status: "UPDATE_IN_PROGRESS", action: diff.Wait, script: []string{"UPDATE_COMPLETE"}, final: "UPDATE_COMPLETE"},
		{status: "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", action: diff.Wait, script: []string{"UPDATE_COMPLETE"}, final: "UPDATE_COMPLETE"},
		{status: "UPDATE_ROLLBACK_IN_PROGRESS", action: diff.Wait, script: []string{"UPDATE_ROLLBACK_COMPLETE"},
			events: opEvents(cfntypes.ResourceStatusUpdateInProgress, cfntypes.ResourceStatusUpdateFailed),
			final:  "UPDATE_ROLLBACK_COMPLETE", failed: true, err: "UPDATE_FAILED: Resource handler returned message: boom"},
		{status: "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", action: diff.Wait, script: []string{"UPDATE_ROLLBACK_COMPLETE"},
			final: "UPDATE_ROLLBACK_COMPLETE", failed: true},
		{status: "DELETE_IN_PROGRESS", action: diff.Wait, script: []string{"DELETE_IN_PROGRESS", gone}},
		{status: "DELETE_IN_PROGRESS", as: removed, action: diff.Wait, script: []string{"DELETE_COMPLETE"}, final: "DELETE_COMPLETE"},
		{status: "IMPORT_IN_PROGRESS", action: diff.Wait, script: []string{"IMPORT_COMPLETE"}, final: "IMPORT_COMPLETE"},
		{status: "IMPORT_ROLLBACK_IN_PROGRESS", action: diff.Wait, script: []string{"IMPORT_ROLLBACK_COMPLETE"},
			final: "IMPORT_ROLLBACK_COMPLETE", failed: true},
		{status: "UPDATE_IN_PROGRESS", as: removed, action: diff.Wait, script: []string{"UPDATE_COMPLETE"}, final: "UPDATE_COMPLETE"},

		// Never came up: report why, or recreate when the policy allows.
		{status: "CREATE_FAILED", action: diff.Blocked,
			events: opEvents(cfntypes.ResourceStatusCreateInProgress, cfntypes.ResourceStatusCreateFailed),
			final:  "CREATE_FAILED", failed: true, err: "HeadNode (AWS::EC2::Instance) CREATE_FAILED: Resource handler returned message: boom"},
		{status: "ROLLBACK_COMPLETE", action: diff.Blocked,
			events: opEvents(cfntypes.ResourceStatusCreateInProgress, cfntypes.ResourceStatusCreateFailed),
			final:  "ROLLBACK_COMPLETE", failed: true, err: "CREATE_FAILED: Resource handler returned message: boom"},
		{status: "ROLLBACK_FAILED", action: diff.Blocked, final: "ROLLBACK_FAILED", failed: true, err: "failed: [HeadNode]"},
		{status: "ROLLBACK_COMPLETE", as: declaredRecreate, action: diff.Recreate,
			script: []string{"DELETE_IN_PROGRESS", gone, "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE"},
			calls:  []string{"DeleteStack", "CreateStack"}, resized: true, final: "CREATE_COMPLETE"},
		{status: "CREATE_FAILED", as: declaredRecreate, action: diff.Recreate,
			script: []string{gone, "CREATE_COMPLETE"}, calls: []string{"DeleteStack", "CreateStack"}, resized: true, final: "CREATE_COMPLETE"},
		{status: "ROLLBACK_FAILED", as: declaredRecreate, action: diff.Recreate, script: []string{"DELETE_FAILED"},
			calls: []string{"DeleteStack"}, final: "DELETE_FAILED", failed: true},
		{status: "ROLLBACK_COMPLETE", as: removed, action: diff.Delete, script: []string{gone}, calls: []string{"DeleteStack"}},

		// A failed rollback is continued, and the update still reported.
		{status: "UPDATE_ROLLBACK_FAILED", action: diff.ContinueRollback,
			script: []string{"UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"},
			events: opEvents(cfntypes.ResourceStatusUpdateInProgress, cfntypes.ResourceStatusUpdateFailed),
			calls:  []string{"ContinueUpdateRollback"}, final: "UPDATE_ROLLBACK_COMPLETE", failed: true,
			err: "rollback continued and completed; the update had failed: HeadNode (AWS::EC2::Instance) UPDATE_FAILED: Resource handler returned message: boom"},
		{status: "UPDATE_ROLLBACK_FAILED", action: diff.ContinueRollback, script: []string{"UPDATE_ROLLBACK_FAILED"},
			retain: []string{"HeadNode"}, calls: []string{"ContinueUpdateRollback"}, final: "UPDATE_ROLLBACK_FAILED", failed: true},
		{status: "UPDATE_ROLLBACK_FAILED", as: removed, action: diff.Delete, script: []string{gone}, calls: []string{"DeleteStack"}},

		// A failed delete is reported with what it left; retried when the
		// spec is gone, keeping only what a person named.
		{status: "DELETE_FAILED", action: diff.Blocked, final: "DELETE_FAILED", failed: true,
			err: "left behind: Bucket (AWS::S3::Bucket) data-bucket: The bucket you tried to delete is not empty"},
		{status: "DELETE_FAILED", as: removed, action: diff.Delete, script: []string{"DELETE_IN_PROGRESS", "DELETE_FAILED"},
			calls: []string{"DeleteStack"}, final: "DELETE_FAILED", failed: true, err: "left behind: Bucket"},
		{status: "DELETE_FAILED", as: removed, action: diff.Delete, script: []string{gone}, retain: []string{"Bucket"},
			calls: []string{"DeleteStack"}},
		{status: "DELETE_FAILED", as: declaredRecreate, action: diff.Recreate, script: []string{gone, "CREATE_COMPLETE"},
			calls: []string{"DeleteStack", "CreateStack"}, resized: true, final: "CREATE_COMPLETE"},

		// Left to a person.
		{status: "UPDATE_FAILED", action: diff.Blocked,
			events: opEvents(cfntypes.ResourceStatusUpdateInProgress, cfntypes.ResourceStatusUpdateFailed),
			final:  "UPDATE_FAILED", failed: true, err: "boom"},
		{status: "UPDATE_FAILED", as: removed, action: diff.Delete, script: []string{gone}, calls: []string{"DeleteStack"}},
		{status: "IMPORT_ROLLBACK_FAILED", action: diff.Blocked, final: "IMPORT_ROLLBACK_FAILED", failed: true},
		{status: "IMPORT_ROLLBACK_FAILED", as: removed, action: diff.Delete, script: []string{gone}, calls: []string{"DeleteStack"}},

		// An empty change-set stack.
		// Nothing failed there: the plan's reason stands.
		{status: "REVIEW_IN_PROGRESS", action: diff.Blocked, final: "REVIEW_IN_PROGRESS"},
		{status: "REVIEW_IN_PROGRESS", as: declaredRecreate, action: diff.Recreate, script: []string{gone, "CREATE_COMPLETE"},
			calls: []string{"DeleteStack", "CreateStack"}, resized: true, final: "CREATE_COMPLETE"},
		{status: "REVIEW_IN_PROGRESS", as: removed, action: diff.Delete, script: []string{gone}, calls: []string{"DeleteStack"}},

		// Deleted behind the daemon's back: made again.
		{status: "DELETE_COMPLETE", action: diff.Create, script: []string{"CREATE_IN_PROGRESS", "CREATE_COMPLETE"},
			calls: []string{"CreateStack"}, resized: true, final: "CREATE_COMPLETE"},

		// A status from the future is left alone.
		{status: "SOMETHING_NEW", action: diff.Blocked, final: "SOMETHING_NEW"},
		{status: "SOMETHING_NEW", as: removed, action: diff.Retain},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.status] = true
		name := fmt.Sprintf("%s/%s", tt.status, []string{"declared", "recreateFailed", "removed"}[tt.as])
		t.Run(name, func(t *testing.T) {
			hash := tt.hash
			if hash == "" {
				hash = "h1"
			}
			l := diff.Live{Cluster: "hpc", StackName: "driftless-hpc", StackID: stackID, Hash: hash, Status: tt.status,
				StatusReason: "The following resource(s) failed: [HeadNode]"}
			in := diff.Input{Live: []diff.Live{l}, Desired: []*render.Stack{testStack()}}
			switch tt.as {
			case declaredRecreate:
				in.RecreateFailed = map[string]bool{"hpc": true}
			case removed:
				other := testStack()
				other.Cluster, other.Name = "other", "driftless-other"
				in.Desired, in.Prune, in.PruneLimit = []*render.Stack{other}, true, -1
			}
			var ch diff.Change
			for _, c := range diff.Plan(in) {
				if c.Cluster == "hpc" {
					ch = c
				}
			}
			if ch.Action != tt.action {
				t.Fatalf("planned %s (%s), want %s", ch.Action, ch.Reason, tt.action)
			}

			stacks := &fakeStacks{describe: script(append([]string{tt.status}, tt.script...)[1:]...), events: tt.events,
				resources: []cfntypes.StackResource{
					{LogicalResourceId: aws.String("Bucket"), ResourceType: aws.String("AWS::S3::Bucket"), PhysicalResourceId: aws.String("data-bucket"),
						ResourceStatus: cfntypes.ResourceStatusDeleteFailed, ResourceStatusReason: aws.String("The bucket you tried to delete is not empty")},
					{LogicalResourceId: aws.String("Role"), ResourceStatus: cfntypes.ResourceStatusDeleteComplete},
				}}
			if len(tt.script) == 0 {
				stacks.describe = script(tt.status)
			}
			g := &groups{}
			a := &apply.Applier{Stacks: stacks, Groups: g, PollInterval: time.Millisecond, Timeout: time.Minute}
			if tt.retain != nil {
				a.Retain = map[string][]string{"hpc": tt.retain}
			}
			res, err := a.Apply(t.Context(), ch, "rev")

			if got := stacks.mutations(); !slices.Equal(got, tt.calls) {
				t.Errorf("calls %v, want %v", got, tt.calls)
			}
			if resized := len(g.sizes) > 0; resized != tt.resized {
				t.Errorf("groups resized: %v, want %v", g.sizes, tt.resized)
			}
			if res.StackStatus != tt.final {
				t.Errorf("final status %q, want %q", res.StackStatus, tt.final)
			}
			var failed *apply.StackFailedError
			switch {
			case tt.failed && !errors.As(err, &failed):
				t.Errorf("error %v, want a StackFailedError", err)
			case !tt.failed && err != nil:
				t.Errorf("error %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("error %v does not say %q", err, tt.err)
			}
			if tt.retain != nil {
				var got []string
				switch in := stacks.input(tt.calls[0]).(type) {
				case *cloudformation.DeleteStackInput:
					got = in.RetainResources
				case *cloudformation.ContinueUpdateRollbackInput:
					got = in.ResourcesToSkip
				}
				if !slices.Equal(got, tt.retain) {
					t.Errorf("%s kept %v, want %v", tt.calls[0], got, tt.retain)
				}
			} else if in, ok := stacks.input("DeleteStack").(*cloudformation.DeleteStackInput); ok && in.RetainResources != nil {
				t.Errorf("DeleteStack retained %v without a person's say-so", in.RetainResources)
			}
			if in, ok := stacks.input("CreateStack").(*cloudformation.CreateStackInput); ok && tt.action == diff.Recreate {
				plain := &fakeStacks{describe: script("CREATE_COMPLETE")}
				pa := &apply.Applier{Stacks: plain, Groups: &groups{}, PollInterval: time.Millisecond}
				if _, err := pa.Apply(t.Context(), diff.Change{Cluster: "hpc", Action: diff.Create, Desired: testStack()}, "rev"); err != nil {
					t.Fatal(err)
				}
				first := plain.input("CreateStack").(*cloudformation.CreateStackInput)
				if aws.ToString(in.ClientRequestToken) == aws.ToString(first.ClientRequestToken) {
					t.Error("the recreate's create reuses the token of a plain create of the same template")
				}
			}
		})
	}
	for _, s := range diff.KnownStatuses() {
		if !covered[s] {
			t.Errorf("status %s is not driven through the engine", s)
		}
	}
}

func TestProgressEvents(t *testing.T) {
	stacks := &fakeStacks{describe: script("CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE")}
	// Events arrive between polls, newest first as CloudFormation lists
	// them.
	var polls atomic.Int32
	stacks.describe = func(in *cloudformation.DescribeStacksInput) (*cloudformation.DescribeStacksOutput, error) {
		switch polls.Add(1) {
		case 1:
			stacks.events = []cfntypes.StackEvent{
				event("driftless-hpc", "AWS::CloudFormation::Stack", cfntypes.ResourceStatusCreateInProgress, "User Initiated"),
			}
		case 3:
			stacks.events = append([]cfntypes.StackEvent{
				event("HeadNode", "AWS::EC2::Instance", cfntypes.ResourceStatusCreateComplete, ""),
				event("HeadNode", "AWS::EC2::Instance", cfntypes.ResourceStatusCreateInProgress, "Resource creation Initiated"),
			}, stacks.events...)
		case 4:
			stacks.events = append([]cfntypes.StackEvent{
				event("driftless-hpc", "AWS::CloudFormation::Stack", cfntypes.ResourceStatusCreateComplete, ""),
			}, stacks.events...)
			return script("CREATE_COMPLETE")(in)
		}
		return script("CREATE_IN_PROGRESS")(in)
	}
	var mu sync.Mutex
	var got []string
	a := &apply.Applier{Stacks: stacks, Groups: &groups{}, PollInterval: time.Millisecond, Now: steppingClock(time.Second),
		Progress: func(e apply.Event) {
			mu.Lock()
			defer mu.Unlock()
			if e.Cluster != "hpc" || e.Stack != "driftless-hpc" || e.Elapsed <= 0 {
				t.Errorf("event %+v", e)
			}
			got = append(got, e.Resource+" "+e.Status)
		}}
	if _, err := a.Apply(t.Context(), diff.Change{Cluster: "hpc", Action: diff.Create, Desired: testStack()}, "rev"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"driftless-hpc CREATE_IN_PROGRESS",
		"HeadNode CREATE_IN_PROGRESS",
		"HeadNode CREATE_COMPLETE",
		"driftless-hpc CREATE_COMPLETE",
	}
	if !slices.Equal(got, want) {
		t.Errorf("progress\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAWSErrors(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "ExpiredToken", Message: "The security token included in the request is expired"}
	throttled := &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}
	t.Run("refused credentials are ErrDenied", func(t *testing.T) {
		stacks := &fakeStacks{create: func(*cloudformation.CreateStackInput) (*cloudformation.CreateStackOutput, error) {
			return nil, denied
		}}
		a := &apply.Applier{Stacks: stacks, Groups: noGroups{t}}
		_, err := a.Apply(t.Context(), diff.Change{Cluster: "hpc", Action: diff.Create, Desired: testStack()}, "rev")
		if !errors.Is(err, apply.ErrDenied) || !strings.Contains(err.Error(), "security token included in the request is expired") {
			t.Errorf("error = %v, want ErrDenied quoting AWS", err)
		}
	})
	t.Run("a poll throttled past the SDK's retries is polled again", func(t *testing.T) {
		var n atomic.Int32
		stacks := &fakeStacks{describe: func(in *cloudformation.DescribeStacksInput) (*cloudformation.DescribeStacksOutput, error) {
			if n.Add(1) <= 3 {
				return nil, throttled
			}
			return script("CREATE_COMPLETE")(in)
		}}
		a := &apply.Applier{Stacks: stacks, Groups: &groups{}, PollInterval: time.Millisecond}
		res, err := a.Apply(t.Context(), diff.Change{Cluster: "hpc", Action: diff.Create, Desired: testStack()}, "rev")
		if err != nil || res.StackStatus != "CREATE_COMPLETE" {
			t.Errorf("Apply = %+v, %v", res, err)
		}
		if got := stacks.mutations(); !slices.Equal(got, []string{"CreateStack"}) {
			t.Errorf("calls %v, want one CreateStack", got)
		}
	})
	t.Run("a poll that keeps failing ends the wait", func(t *testing.T) {
		stacks := &fakeStacks{describe: func(*cloudformation.DescribeStacksInput) (*cloudformation.DescribeStacksOutput, error) {
			return nil, throttled
		}}
		a := &apply.Applier{Stacks: stacks, Groups: noGroups{t}, PollInterval: time.Millisecond}
		if _, err := a.Apply(t.Context(), diff.Change{Cluster: "hpc", Action: diff.Update, Desired: testStack(),
			Live: &diff.Live{StackName: "driftless-hpc", StackID: stackID, Status: "UPDATE_COMPLETE"}}, "rev"); err == nil {
			t.Error("a wait whose every poll is throttled succeeded")
		}
	})
}

// TestStaleToken: CloudFormation answers a create whose token it already
// used, for a stack since deleted, with that stack's id; the create is
// sent again with a new token.
func TestStaleToken(t *testing.T) {
	const deleted = "arn:aws:cloudformation:us-east-1:123456789012:stack/driftless-hpc/0"
	var tokens []string
	stacks := &fakeStacks{
		create: func(in *cloudformation.CreateStackInput) (*cloudformation.CreateStackOutput, error) {
			tokens = append(tokens, aws.ToString(in.ClientRequestToken))
			if len(tokens) == 1 {
				return &cloudformation.CreateStackOutput{StackId: aws.String(deleted)}, nil
			}
			return &cloudformation.CreateStackOutput{StackId: aws.String(stackID)}, nil
		},
		describe: func(in *cloudformation.DescribeStacksInput) (*cloudformation.DescribeStacksOutput, error) {
			if aws.ToString(in.StackName) == deleted {
				return script("DELETE_COMPLETE")(in)
			}
			return script("CREATE_COMPLETE")(in)
		},
	}
	a := &apply.Applier{Stacks: stacks, Groups: &groups{}, PollInterval: time.Millisecond}
	res, err := a.Apply(t.Context(), diff.Change{Cluster: "hpc", Action: diff.Create, Desired: testStack()}, "rev")
	if err != nil || res.StackStatus != "CREATE_COMPLETE" {
		t.Fatalf("Apply = %+v, %v", res, err)
	}
	if len(tokens) != 2 || tokens[0] == tokens[1] {
		t.Errorf("tokens %v, want a second create with a new token", tokens)
	}
}
