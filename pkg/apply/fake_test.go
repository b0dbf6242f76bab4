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

// fakeStacks is a hand-written CloudFormation. It exists because moto has
// no failure states: its stacks go straight to *_COMPLETE, never roll back,
// never stay busy and record no per-resource events, and it does not
// implement ContinueUpdateRollback. It also sends the "No updates are to
// be performed" error that moto never does. It records the calls that
// change something.
type fakeStacks struct {
	create    func(*cloudformation.CreateStackInput) (*cloudformation.CreateStackOutput, error)
	update    func(*cloudformation.UpdateStackInput) (*cloudformation.UpdateStackOutput, error)
	delete    func(*cloudformation.DeleteStackInput) (*cloudformation.DeleteStackOutput, error)
	cont      func(*cloudformation.ContinueUpdateRollbackInput) (*cloudformation.ContinueUpdateRollbackOutput, error)
	describe  func(*cloudformation.DescribeStacksInput) (*cloudformation.DescribeStacksOutput, error)
	events    []cfntypes.StackEvent
	resources []cfntypes.StackResource

	mu     sync.Mutex
	calls  []string
	inputs []any
}

func (f *fakeStacks) record(op string, in any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op)
	f.inputs = append(f.inputs, in)
}

// mutations returns the names of the calls that changed something, in
// order.
func (f *fakeStacks) mutations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeStacks) input(op string) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, c := range f.calls {
		if c == op {
			return f.inputs[i]
		}
	}
	return nil
}

func (f *fakeStacks) CreateStack(_ context.Context, in *cloudformation.CreateStackInput,
	_ ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error) {
	f.record("CreateStack", in)
	if f.create == nil {
		return &cloudformation.CreateStackOutput{StackId: aws.String(stackID)}, nil
	}
	return f.create(in)
}

func (f *fakeStacks) UpdateStack(_ context.Context, in *cloudformation.UpdateStackInput,
	_ ...func(*cloudformation.Options)) (*cloudformation.UpdateStackOutput, error) {
	f.record("UpdateStack", in)
	if f.update == nil {
		return &cloudformation.UpdateStackOutput{StackId: aws.String(stackID)}, nil
	}
	return f.update(in)
}

func (f *fakeStacks) DeleteStack(_ context.Context, in *cloudformation.DeleteStackInput,
	_ ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error) {
	f.record("DeleteStack", in)
	if f.delete == nil {
		return &cloudformation.DeleteStackOutput{}, nil
	}
	return f.delete(in)
}

func (f *fakeStacks) ContinueUpdateRollback(_ context.Context, in *cloudformation.ContinueUpdateRollbackInput,
	_ ...func(*cloudformation.Options)) (*cloudformation.ContinueUpdateRollbackOutput, error) {
	f.record("ContinueUpdateRollback", in)
	if f.cont == nil {
		return &cloudformation.ContinueUpdateRollbackOutput{}, nil
	}
	return f.cont(in)
}

// UpdateTerminationProtection is recorded; moto 5.x does not implement it.
func (f *fakeStacks) UpdateTerminationProtection(_ context.Context, in *cloudformation.UpdateTerminationProtectionInput,
	_ ...func(*cloudformation.Options)) (*cloudformation.UpdateTerminationProtectionOutput, error) {
	f.record("UpdateTerminationProtection", in)
	return &cloudformation.UpdateTerminationProtectionOutput{StackId: in.StackName}, nil
}

func (f *fakeStacks) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput,
	_ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	return f.describe(in)
}

// DescribeStackEvents serves the events newest first, two to a page.
func (f *fakeStacks) DescribeStackEvents(_ context.Context, in *cloudformation.DescribeStackEventsInput,
	_ ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error) {
	i := 0
	if in.NextToken != nil {
		i = int(aws.ToString(in.NextToken)[0] - '0')
	}
	out := &cloudformation.DescribeStackEventsOutput{StackEvents: f.events[i:min(i+2, len(f.events))]}
	if i+2 < len(f.events) {
		out.NextToken = aws.String(string(rune('0' + i + 2)))
	}
	return out, nil
}

func (f *fakeStacks) DescribeStackResources(context.Context, *cloudformation.DescribeStackResourcesInput,
	...func(*cloudformation.Options)) (*cloudformation.DescribeStackResourcesOutput, error) {
	return &cloudformation.DescribeStackResourcesOutput{StackResources: f.resources}, nil
}

// noGroups fails the test if the applier resizes a group.
type noGroups struct{ t *testing.T }

func (g noGroups) SetDesiredCapacity(context.Context, *autoscaling.SetDesiredCapacityInput,
	...func(*autoscaling.Options)) (*autoscaling.SetDesiredCapacityOutput, error) {
	g.t.Error("SetDesiredCapacity called after a failed create")
	return &autoscaling.SetDesiredCapacityOutput{}, nil
}

const stackID = "arn:aws:cloudformation:us-east-1:123456789012:stack/driftless-hpc/1"

// statuses returns a DescribeStacks that reports each status in turn and
// then stays on the last.
func statuses(reason string, list ...cfntypes.StackStatus) func(*cloudformation.DescribeStacksInput) (*cloudformation.DescribeStacksOutput, error) {
	var n atomic.Int32
	return func(*cloudformation.DescribeStacksInput) (*cloudformation.DescribeStacksOutput, error) {
		i := min(int(n.Add(1))-1, len(list)-1)
		return &cloudformation.DescribeStacksOutput{Stacks: []cfntypes.Stack{{
			StackName: aws.String("driftless-hpc"), StackId: aws.String(stackID),
			StackStatus: list[i], StackStatusReason: aws.String(reason),
		}}}, nil
	}
}

var eventSeq atomic.Int64

func event(logical, typ string, status cfntypes.ResourceStatus, reason string) cfntypes.StackEvent {
	physical := "phys-" + logical
	if typ == "AWS::CloudFormation::Stack" {
		physical = stackID
	}
	return cfntypes.StackEvent{
		EventId: aws.String(fmt.Sprint("ev-", eventSeq.Add(1))),
		StackId: aws.String(stackID), LogicalResourceId: aws.String(logical), PhysicalResourceId: aws.String(physical),
		ResourceType: aws.String(typ), ResourceStatus: status, ResourceStatusReason: aws.String(reason),
	}
}

func testStack() *render.Stack {
	return &render.Stack{
		Cluster: "hpc", Name: "driftless-hpc", Template: []byte(`{"Resources":{}}`), Hash: "h2",
		Tags:   map[string]string{render.TagCluster: "hpc"},
		Groups: []render.Group{{Name: "hpc-compute", Max: 4, Initial: 1}},
	}
}

func TestFailuresAndWaits(t *testing.T) {
	const stackType = "AWS::CloudFormation::Stack"
	validation := func(msg string) error {
		return &smithy.GenericAPIError{Code: "ValidationError", Message: msg}
	}
	tests := []struct {
		name       string
		action     diff.Action
		stacks     *fakeStacks
		now        func() time.Time
		wantStatus string
		check      func(t *testing.T, err error)
	}{
		{
			name:   "create rolls back: the first resource failure, not the cancellations, is the reason",
			action: diff.Create,
			stacks: &fakeStacks{
				describe: statuses("The following resource(s) failed to create: [HeadNode].",
					cfntypes.StackStatusCreateInProgress, cfntypes.StackStatusRollbackInProgress, cfntypes.StackStatusRollbackComplete),
				events: []cfntypes.StackEvent{
					event("driftless-hpc", stackType, cfntypes.ResourceStatusRollbackComplete, ""),
					event("HeadNode", "AWS::EC2::Instance", cfntypes.ResourceStatusDeleteComplete, ""),
					event("driftless-hpc", stackType, cfntypes.ResourceStatusRollbackInProgress, "The following resource(s) failed to create: [HeadNode]."),
					event("Queue", "AWS::SQS::Queue", cfntypes.ResourceStatusCreateFailed, "Resource creation cancelled"),
					event("HeadNode", "AWS::EC2::Instance", cfntypes.ResourceStatusCreateFailed, "The key pair 'ops' does not exist"),
					event("HeadNode", "AWS::EC2::Instance", cfntypes.ResourceStatusCreateInProgress, ""),
					event("driftless-hpc", stackType, cfntypes.ResourceStatusCreateInProgress, "User Initiated"),
					// An older operation's failure must not be blamed.
					event("Old", "AWS::EC2::Instance", cfntypes.ResourceStatusCreateFailed, "from another time"),
				},
			},
			wantStatus: "ROLLBACK_COMPLETE",
			check: func(t *testing.T, err error) {
				var f *apply.StackFailedError
				if !errors.As(err, &f) {
					t.Fatalf("error %v is not a StackFailedError", err)
				}
				want := "HeadNode (AWS::EC2::Instance) CREATE_FAILED: The key pair 'ops' does not exist"
				if f.Stack != "driftless-hpc" || f.Status != "ROLLBACK_COMPLETE" || f.Reason != want {
					t.Errorf("got %+v, want reason %q", f, want)
				}
			},
		},
		{
			name:   "update rolls back",
			action: diff.Update,
			stacks: &fakeStacks{
				describe: statuses("", cfntypes.StackStatusUpdateInProgress, cfntypes.StackStatusUpdateRollbackInProgress,
					cfntypes.StackStatusUpdateRollbackComplete),
				events: []cfntypes.StackEvent{
					event("driftless-hpc", stackType, cfntypes.ResourceStatusUpdateRollbackComplete, ""),
					event("ComputeGroup", "AWS::AutoScaling::AutoScalingGroup", cfntypes.ResourceStatusUpdateFailed,
						"Received 0 SUCCESS signal(s) out of 1"),
					event("driftless-hpc", stackType, cfntypes.ResourceStatusUpdateInProgress, "User Initiated"),
				},
			},
			wantStatus: "UPDATE_ROLLBACK_COMPLETE",
			check: func(t *testing.T, err error) {
				var f *apply.StackFailedError
				if !errors.As(err, &f) || !strings.Contains(f.Reason, "ComputeGroup") || !strings.Contains(f.Error(), "0 SUCCESS signal") {
					t.Errorf("error = %v, want the group's signal failure", err)
				}
			},
		},
		{
			name:   "rollback without resource events falls back to the stack's reason",
			action: diff.Update,
			stacks: &fakeStacks{
				describe: statuses("Role is invalid", cfntypes.StackStatusUpdateRollbackFailed),
			},
			wantStatus: "UPDATE_ROLLBACK_FAILED",
			check: func(t *testing.T, err error) {
				var f *apply.StackFailedError
				if !errors.As(err, &f) || f.Reason != "Role is invalid" {
					t.Errorf("error = %v, want the stack's reason", err)
				}
			},
		},
		{
			name:   "no updates to perform is success",
			action: diff.Update,
			stacks: &fakeStacks{
				update: func(*cloudformation.UpdateStackInput) (*cloudformation.UpdateStackOutput, error) {
					return nil, validation("No updates are to be performed.")
				},
				describe: statuses("", cfntypes.StackStatusUpdateComplete),
			},
			wantStatus: "UPDATE_COMPLETE",
			check: func(t *testing.T, err error) {
				if err != nil {
					t.Errorf("error = %v", err)
				}
			},
		},
		{
			name:   "other validation errors are not",
			action: diff.Update,
			stacks: &fakeStacks{
				update: func(*cloudformation.UpdateStackInput) (*cloudformation.UpdateStackOutput, error) {
					return nil, validation("Stack is in UPDATE_IN_PROGRESS state and can not be updated.")
				},
			},
			check: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "update stack driftless-hpc") {
					t.Errorf("error = %v", err)
				}
			},
		},
		{
			name:   "still busy when the time is up",
			action: diff.Create,
			stacks: &fakeStacks{describe: statuses("", cfntypes.StackStatusCreateInProgress)},
			now:    steppingClock(time.Minute),
			check: func(t *testing.T, err error) {
				var te *apply.TimeoutError
				if !errors.As(err, &te) || te.Status != "CREATE_IN_PROGRESS" || te.After != 10*time.Minute {
					t.Errorf("error = %v, want a timeout in CREATE_IN_PROGRESS after 10m", err)
				}
			},
			wantStatus: "CREATE_IN_PROGRESS",
		},
		{
			name:   "delete fails",
			action: diff.Delete,
			stacks: &fakeStacks{
				describe: statuses("", cfntypes.StackStatusDeleteInProgress, cfntypes.StackStatusDeleteFailed),
				events: []cfntypes.StackEvent{
					event("Bucket", "AWS::S3::Bucket", cfntypes.ResourceStatusDeleteFailed, "The bucket you tried to delete is not empty"),
					event("driftless-hpc", stackType, cfntypes.ResourceStatusDeleteInProgress, "User Initiated"),
				},
			},
			wantStatus: "DELETE_FAILED",
			check: func(t *testing.T, err error) {
				var f *apply.StackFailedError
				if !errors.As(err, &f) || !strings.Contains(f.Reason, "not empty") {
					t.Errorf("error = %v", err)
				}
			},
		},
		{
			name:   "deleted stack is gone",
			action: diff.Delete,
			stacks: &fakeStacks{describe: func(*cloudformation.DescribeStacksInput) (*cloudformation.DescribeStacksOutput, error) {
				return nil, validation("Stack with id driftless-hpc does not exist")
			}},
			check: func(t *testing.T, err error) {
				if err != nil {
					t.Errorf("error = %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &apply.Applier{
				Stacks: tt.stacks, Groups: noGroups{t},
				PollInterval: time.Millisecond, Timeout: 10 * time.Minute, Now: tt.now,
			}
			ch := diff.Change{Cluster: "hpc", Action: tt.action, Desired: testStack(),
				Live: &diff.Live{Cluster: "hpc", StackName: "driftless-hpc", StackID: stackID, Hash: "h1"}}
			res, err := a.Apply(t.Context(), ch, "rev")
			tt.check(t, err)
			if res.StackStatus != tt.wantStatus {
				t.Errorf("StackStatus = %q, want %q", res.StackStatus, tt.wantStatus)
			}
		})
	}
}

// steppingClock advances by step at every reading, so a wait runs out
// without a test sleeping.
func steppingClock(step time.Duration) func() time.Time {
	var n atomic.Int64
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { return start.Add(time.Duration(n.Add(1)) * step) }
}

func TestWaitStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var polls atomic.Int32
	stacks := &fakeStacks{describe: func(*cloudformation.DescribeStacksInput) (*cloudformation.DescribeStacksOutput, error) {
		if polls.Add(1) == 3 {
			cancel()
		}
		return statuses("", cfntypes.StackStatusCreateInProgress)(nil)
	}}
	a := &apply.Applier{Stacks: stacks, Groups: noGroups{t}, PollInterval: time.Millisecond}
	_, err := a.Apply(ctx, diff.Change{Cluster: "hpc", Action: diff.Create, Desired: testStack()}, "rev")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	var te *apply.TimeoutError
	if errors.As(err, &te) {
		t.Errorf("a canceled wait reported a timeout: %v", err)
	}
}

// TestTerminationProtectionFollowsThePolicy: a create carries the spec's
// policy.terminationProtection, and an update that changes it sets it on the
// live stack before the stack update.
func TestTerminationProtectionFollowsThePolicy(t *testing.T) {
	for _, tt := range []struct {
		name       string
		action     diff.Action
		live, want bool
		calls      []string
	}{
		{"create protected", diff.Create, false, true, []string{"CreateStack"}},
		{"update turns it on", diff.Update, false, true, []string{"UpdateTerminationProtection", "UpdateStack"}},
		{"update turns it off", diff.Update, true, false, []string{"UpdateTerminationProtection", "UpdateStack"}},
		{"update leaves it", diff.Update, true, true, []string{"UpdateStack"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stacks := &fakeStacks{describe: statuses("", cfntypes.StackStatusUpdateComplete)}
			if tt.action == diff.Create {
				stacks.describe = statuses("", cfntypes.StackStatusCreateComplete)
			}
			a := &apply.Applier{Stacks: stacks, Groups: noGroups{t}, PollInterval: time.Millisecond, Timeout: time.Minute}
			d := testStack()
			d.TerminationProtection = tt.want
			d.Groups = nil
			ch := diff.Change{Cluster: "hpc", Action: tt.action, Desired: d}
			if tt.action == diff.Update {
				ch.Live = &diff.Live{Cluster: "hpc", StackName: "driftless-hpc", StackID: stackID, Hash: "h1", TerminationProtection: tt.live}
			}
			if _, err := a.Apply(t.Context(), ch, "rev"); err != nil {
				t.Fatal(err)
			}
			if got := stacks.mutations(); !slices.Equal(got, tt.calls) {
				t.Fatalf("calls %v, want %v", got, tt.calls)
			}
			switch in := stacks.input(tt.calls[0]).(type) {
			case *cloudformation.CreateStackInput:
				if aws.ToBool(in.EnableTerminationProtection) != tt.want {
					t.Errorf("EnableTerminationProtection = %v, want %v", aws.ToBool(in.EnableTerminationProtection), tt.want)
				}
			case *cloudformation.UpdateTerminationProtectionInput:
				if aws.ToBool(in.EnableTerminationProtection) != tt.want {
					t.Errorf("EnableTerminationProtection = %v, want %v", aws.ToBool(in.EnableTerminationProtection), tt.want)
				}
			}
		})
	}
}
