package apply

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// op says which statuses end an operation, as CloudFormation's own
// waiters do. Any other status, *_IN_PROGRESS or not, means keep waiting:
// a status from before the operation may still be reported for a moment.
type op struct {
	name    string
	started cfntypes.ResourceStatus // the stack's own event that opens the operation
	success []cfntypes.StackStatus
	failure []cfntypes.StackStatus
	// goneOK: a stack that no longer exists has succeeded.
	goneOK bool
}

var (
	createOp = op{
		name:    "create",
		started: cfntypes.ResourceStatusCreateInProgress,
		success: []cfntypes.StackStatus{cfntypes.StackStatusCreateComplete},
		failure: []cfntypes.StackStatus{
			cfntypes.StackStatusCreateFailed, cfntypes.StackStatusRollbackComplete, cfntypes.StackStatusRollbackFailed,
			cfntypes.StackStatusDeleteComplete, cfntypes.StackStatusDeleteFailed,
		},
	}
	updateOp = op{
		name:    "update",
		started: cfntypes.ResourceStatusUpdateInProgress,
		success: []cfntypes.StackStatus{cfntypes.StackStatusUpdateComplete},
		failure: []cfntypes.StackStatus{
			cfntypes.StackStatusUpdateFailed, cfntypes.StackStatusUpdateRollbackComplete,
			cfntypes.StackStatusUpdateRollbackFailed, cfntypes.StackStatusDeleteComplete,
		},
	}
	deleteOp = op{
		name:    "delete",
		started: cfntypes.ResourceStatusDeleteInProgress,
		success: []cfntypes.StackStatus{cfntypes.StackStatusDeleteComplete},
		failure: []cfntypes.StackStatus{cfntypes.StackStatusDeleteFailed},
		goneOK:  true,
	}
)

// wait polls the stack until o ends, the timeout runs out or ctx is done.
// name is for messages; stack is what to describe (the id when known).
func (a *Applier) wait(ctx context.Context, log *slog.Logger, name, stack string, o op) (string, error) {
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	interval := a.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	start := a.now()
	// The clock bounds the wait between polls; the context also bounds a
	// poll that hangs.
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()

	last := ""
	for {
		live, err := a.describe(waitCtx, stack)
		switch {
		case err != nil && waitCtx.Err() != nil && ctx.Err() == nil:
			return last, &TimeoutError{Stack: name, Status: last, After: timeout}
		case err != nil:
			return last, fmt.Errorf("wait for %s of stack %s: %w", o.name, name, err)
		case live == nil && o.goneOK:
			return "", nil
		case live == nil:
			return last, fmt.Errorf("wait for %s of stack %s: the stack is gone", o.name, name)
		}
		status := live.StackStatus
		if string(status) != last {
			log.DebugContext(ctx, "stack status", "status", string(status))
			last = string(status)
		}
		switch {
		case slices.Contains(o.success, status):
			return last, nil
		case slices.Contains(o.failure, status):
			return last, &StackFailedError{
				Stack:  name,
				Status: last,
				Reason: a.failureReason(ctx, aws.ToString(live.StackId), o, aws.ToString(live.StackStatusReason)),
			}
		}
		if a.now().Sub(start) >= timeout {
			return last, &TimeoutError{Stack: name, Status: last, After: timeout}
		}
		select {
		case <-waitCtx.Done():
			// waitCtx ends with ctx too; only its own deadline is a timeout.
			if ctx.Err() != nil {
				return last, fmt.Errorf("wait for %s of stack %s: %w", o.name, name, ctx.Err())
			}
			return last, &TimeoutError{Stack: name, Status: last, After: timeout}
		case <-tick.C:
		}
	}
}

// maxEventPages bounds the events read to explain a failure; the cause is
// near the top of the newest-first list.
const maxEventPages = 5

// failureReason finds why an operation failed: the oldest resource event
// of this operation that failed for a reason of its own (not "cancelled"
// because a sibling failed). It falls back to the stack's status reason;
// reading events is best effort and never hides the failure itself.
func (a *Applier) failureReason(ctx context.Context, stackID string, o op, stackReason string) string {
	var first, firstAny *cfntypes.StackEvent
	p := cloudformation.NewDescribeStackEventsPaginator(a.Stacks, &cloudformation.DescribeStackEventsInput{
		StackName: aws.String(stackID),
	})
pages:
	for i := 0; p.HasMorePages() && i < maxEventPages; i++ {
		page, err := p.NextPage(ctx)
		if err != nil {
			break
		}
		for j := range page.StackEvents {
			e := &page.StackEvents[j]
			isStack := aws.ToString(e.ResourceType) == "AWS::CloudFormation::Stack" &&
				aws.ToString(e.PhysicalResourceId) == aws.ToString(e.StackId)
			if isStack && e.ResourceStatus == o.started {
				break pages // events are newest first: the operation began here
			}
			if isStack || !strings.HasSuffix(string(e.ResourceStatus), "_FAILED") || aws.ToString(e.ResourceStatusReason) == "" {
				continue
			}
			firstAny = e
			if !strings.Contains(strings.ToLower(aws.ToString(e.ResourceStatusReason)), "cancelled") {
				first = e
			}
		}
	}
	if first == nil {
		first = firstAny
	}
	if first == nil {
		return stackReason
	}
	return fmt.Sprintf("%s (%s) %s: %s", aws.ToString(first.LogicalResourceId), aws.ToString(first.ResourceType),
		first.ResourceStatus, aws.ToString(first.ResourceStatusReason))
}
