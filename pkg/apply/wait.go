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

	"github.com/driftless/driftless/pkg/awsclient"
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
	// continueOp is ContinueUpdateRollback: its success is the end of the
	// rollback, not of the update.
	continueOp = op{
		name:    "rollback",
		started: cfntypes.ResourceStatusUpdateRollbackInProgress,
		success: []cfntypes.StackStatus{cfntypes.StackStatusUpdateRollbackComplete},
		failure: []cfntypes.StackStatus{cfntypes.StackStatusUpdateRollbackFailed, cfntypes.StackStatusDeleteComplete},
	}
	importOp = op{
		name:    "import",
		started: cfntypes.ResourceStatusImportInProgress,
		success: []cfntypes.StackStatus{cfntypes.StackStatusImportComplete},
		failure: []cfntypes.StackStatus{
			cfntypes.StackStatusImportRollbackComplete, cfntypes.StackStatusImportRollbackFailed, cfntypes.StackStatusDeleteComplete,
		},
	}
)

// runningOp is the operation a stack in an *_IN_PROGRESS status is in.
// REVIEW_IN_PROGRESS is not one: nothing runs until a change set does.
func runningOp(status string) (op, bool) {
	switch cfntypes.StackStatus(status) {
	case cfntypes.StackStatusCreateInProgress, cfntypes.StackStatusRollbackInProgress:
		return createOp, true
	case cfntypes.StackStatusUpdateInProgress, cfntypes.StackStatusUpdateCompleteCleanupInProgress,
		cfntypes.StackStatusUpdateRollbackInProgress, cfntypes.StackStatusUpdateRollbackCompleteCleanupInProgress:
		return updateOp, true
	case cfntypes.StackStatusDeleteInProgress:
		return deleteOp, true
	case cfntypes.StackStatusImportInProgress, cfntypes.StackStatusImportRollbackInProgress:
		return importOp, true
	}
	return op{}, false
}

// failedOp is the operation whose failure left a stack in status, to find
// the failing resource in its events.
func failedOp(status string) (op, bool) {
	switch cfntypes.StackStatus(status) {
	case cfntypes.StackStatusCreateFailed, cfntypes.StackStatusRollbackComplete, cfntypes.StackStatusRollbackFailed:
		return createOp, true
	case cfntypes.StackStatusUpdateFailed, cfntypes.StackStatusUpdateRollbackFailed, cfntypes.StackStatusUpdateRollbackComplete:
		return updateOp, true
	case cfntypes.StackStatusDeleteFailed:
		return deleteOp, true
	case cfntypes.StackStatusImportRollbackFailed, cfntypes.StackStatusImportRollbackComplete:
		return importOp, true
	}
	return op{}, false
}

// maxTransient is how many polls in a row may fail for a reason that
// passes (throttling, a 5xx, no answer) before a wait gives up. The SDK
// has already retried each of them.
const maxTransient = 5

// waiter follows one Apply's stack operations and streams their events.
type waiter struct {
	a       *Applier
	cluster string
	start   time.Time // when the Apply began, for elapsed times
	seen    map[string]bool
}

// wait polls the stack until o ends, the timeout runs out or ctx is done,
// streaming the stack's events as they arrive. name is for messages;
// stack is what to describe (the id when known).
func (w *waiter) wait(ctx context.Context, log *slog.Logger, name, stack string, o op) (string, error) {
	a := w.a
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
	events := &eventStream{w: w, log: log, name: name, stack: stack, o: o}

	last := ""
	transient := 0
	for {
		live, err := a.describe(waitCtx, stack)
		switch {
		case err != nil && waitCtx.Err() != nil && ctx.Err() == nil:
			return last, &TimeoutError{Stack: name, Status: last, After: timeout}
		case err != nil && passing(err) && transient < maxTransient:
			transient++
			log.WarnContext(ctx, "polling the stack failed; trying again", "attempt", transient, "error", err)
		case err != nil:
			return last, fmt.Errorf("wait for %s of stack %s: %w", o.name, name, err)
		case live == nil && o.goneOK:
			return "", nil
		case live == nil:
			return last, fmt.Errorf("wait for %s of stack %s: the stack is gone", o.name, name)
		default:
			transient = 0
			status := live.StackStatus
			if string(status) != last {
				log.DebugContext(ctx, "stack status", "status", string(status))
				last = string(status)
			}
			events.poll(waitCtx, aws.ToString(live.StackId))
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

// passing reports whether an error of a poll is worth another poll.
func passing(err error) bool {
	switch awsclient.ClassOf(err) {
	case awsclient.ClassThrottle, awsclient.Class5xx, awsclient.ClassNetwork:
		return true
	}
	return false
}

// Event is one stack event, as it arrives while a change is waited for.
type Event struct {
	Cluster string
	Stack   string
	// Resource is the logical id; the stack's own name for an event of
	// the stack itself.
	Resource string
	Type     string
	Status   string
	Reason   string
	// Time is when CloudFormation recorded the event.
	Time time.Time
	// Elapsed is the time since the Apply began.
	Elapsed time.Duration
}

// maxEventPages bounds the events read at one poll or to explain a
// failure; what matters is near the top of the newest-first list.
const maxEventPages = 5

// eventStream hands on each event of one operation once, oldest first.
type eventStream struct {
	w     *waiter
	log   *slog.Logger
	name  string
	stack string
	o     op
	// primed is set after the first poll.
	primed bool
}

// poll reads the events newer than the last one seen; the first poll
// reads back to the event that opened the operation. Reading events is
// best effort: a failure is logged at Debug and the wait goes on.
func (s *eventStream) poll(ctx context.Context, stackID string) {
	if stackID == "" {
		stackID = s.stack
	}
	if s.w.seen == nil {
		s.w.seen = make(map[string]bool)
	}
	first := !s.primed
	s.primed = true
	var fresh []cfntypes.StackEvent
	p := cloudformation.NewDescribeStackEventsPaginator(s.w.a.Stacks, &cloudformation.DescribeStackEventsInput{
		StackName: aws.String(stackID),
	})
pages:
	for i := 0; p.HasMorePages() && i < maxEventPages; i++ {
		page, err := p.NextPage(ctx)
		if err != nil {
			s.log.DebugContext(ctx, "reading stack events", "error", err)
			break
		}
		for _, e := range page.StackEvents {
			if s.w.seen[aws.ToString(e.EventId)] {
				break pages
			}
			fresh = append(fresh, e)
			if first && isStackEvent(e) && e.ResourceStatus == s.o.started {
				break pages // events are newest first: the operation began here
			}
		}
	}
	a := s.w.a
	for i := len(fresh) - 1; i >= 0; i-- {
		e := fresh[i]
		s.w.seen[aws.ToString(e.EventId)] = true
		ev := Event{
			Cluster:  s.w.cluster,
			Stack:    s.name,
			Resource: aws.ToString(e.LogicalResourceId),
			Type:     aws.ToString(e.ResourceType),
			Status:   string(e.ResourceStatus),
			Reason:   aws.ToString(e.ResourceStatusReason),
			Time:     aws.ToTime(e.Timestamp),
			Elapsed:  a.now().Sub(s.w.start),
		}
		attrs := []any{"resource", ev.Resource, "type", ev.Type, "status", ev.Status, "elapsed", ev.Elapsed.Round(time.Second).String()}
		if ev.Reason != "" {
			attrs = append(attrs, "reason", ev.Reason)
		}
		s.log.InfoContext(ctx, "stack event", attrs...)
		if a.Progress != nil {
			a.Progress(ev)
		}
	}
}

func isStackEvent(e cfntypes.StackEvent) bool {
	return aws.ToString(e.ResourceType) == "AWS::CloudFormation::Stack" &&
		aws.ToString(e.PhysicalResourceId) == aws.ToString(e.StackId)
}

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
			isStack := isStackEvent(*e)
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
