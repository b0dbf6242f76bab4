package diff

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Kind groups CloudFormation stack statuses by what the daemon may do with
// a stack in that status. Every status CloudFormation documents is listed
// in kinds; one it adds later is Unknown, and the daemon leaves such a
// stack alone.
type Kind int

// The kinds of stack status.
const (
	// Stable: the last operation finished; a new one may be issued.
	Stable Kind = iota
	// InProgress: an operation is running; nothing may be issued until it
	// ends.
	InProgress
	// CreateFailed: the stack never came up (CREATE_FAILED,
	// ROLLBACK_COMPLETE, ROLLBACK_FAILED). CloudFormation lets it only be
	// deleted; with policy.recreateFailed the daemon deletes and creates
	// it again.
	CreateFailed
	// RollbackFailed: an update failed and so did its rollback
	// (UPDATE_ROLLBACK_FAILED). ContinueUpdateRollback is the way out.
	RollbackFailed
	// DeleteFailed: a delete left resources behind (DELETE_FAILED). The
	// delete can be retried, keeping the resources a person names.
	DeleteFailed
	// Stuck: a failure CloudFormation leaves to a person (UPDATE_FAILED
	// after an update with rollback disabled, IMPORT_ROLLBACK_FAILED).
	Stuck
	// Review: the stack was made by a change set that was never executed
	// (REVIEW_IN_PROGRESS). It holds no resources and stays so until the
	// change set is executed or the stack deleted: not busy, just empty.
	Review
	// Gone: the stack was deleted (DELETE_COMPLETE).
	Gone
	// Unknown: a status this build does not know.
	Unknown
)

var kindNames = map[Kind]string{
	Stable: "stable", InProgress: "in progress", CreateFailed: "create failed", RollbackFailed: "rollback failed",
	DeleteFailed: "delete failed", Stuck: "stuck", Review: "review", Gone: "gone", Unknown: "unknown",
}

// String names the kind for messages.
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// kinds is every stack status of the CloudFormation API (StackStatus in
// the 2010-05-15 API reference) and its kind. A test checks it against the
// SDK's list of values, so a status added to the SDK cannot go unhandled.
var kinds = map[string]Kind{
	"CREATE_COMPLETE":          Stable,
	"UPDATE_COMPLETE":          Stable,
	"UPDATE_ROLLBACK_COMPLETE": Stable,
	"IMPORT_COMPLETE":          Stable,
	"IMPORT_ROLLBACK_COMPLETE": Stable,

	"CREATE_IN_PROGRESS":                           InProgress,
	"ROLLBACK_IN_PROGRESS":                         InProgress,
	"UPDATE_IN_PROGRESS":                           InProgress,
	"UPDATE_COMPLETE_CLEANUP_IN_PROGRESS":          InProgress,
	"UPDATE_ROLLBACK_IN_PROGRESS":                  InProgress,
	"UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS": InProgress,
	"DELETE_IN_PROGRESS":                           InProgress,
	"IMPORT_IN_PROGRESS":                           InProgress,
	"IMPORT_ROLLBACK_IN_PROGRESS":                  InProgress,

	"CREATE_FAILED":     CreateFailed,
	"ROLLBACK_COMPLETE": CreateFailed,
	"ROLLBACK_FAILED":   CreateFailed,

	"UPDATE_ROLLBACK_FAILED": RollbackFailed,
	"DELETE_FAILED":          DeleteFailed,

	"UPDATE_FAILED":          Stuck,
	"IMPORT_ROLLBACK_FAILED": Stuck,

	"REVIEW_IN_PROGRESS": Review,
	"DELETE_COMPLETE":    Gone,
}

// StatusKind classifies a CloudFormation stack status.
func StatusKind(status string) Kind {
	if k, ok := kinds[status]; ok {
		return k
	}
	return Unknown
}

// KnownStatuses returns every stack status StatusKind knows, sorted.
func KnownStatuses() []string { return slices.Sorted(maps.Keys(kinds)) }

// Actions that only a stack in a failed state gets.
const (
	// Recreate: the stack never came up, or its delete failed, and the
	// cluster's policy.recreateFailed allows deleting it and creating it
	// again.
	Recreate Action = "recreate"
	// ContinueRollback: an update failed and so did its rollback; the
	// rollback is continued so the stack is usable again.
	ContinueRollback Action = "continue-rollback"
)

// Why a delete was refused although pruning is on. The values are metric
// labels (driftless_prune_refusals_total{reason}).
const (
	RefusedEmptyCheckout         = "empty_checkout"
	RefusedUnreadableSpec        = "unreadable_spec"
	RefusedTerminationProtection = "termination_protection"
	RefusedLimit                 = "limit"
	RefusedUnknownStatus         = "unknown_status"
)

// planStatus decides for a declared cluster whose stack is not Stable. ok
// is false for a Stable stack, which the hashes decide.
func planStatus(l *Live, recreate bool) (ch Change, ok bool) {
	reason := func(what string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "stack is %s", l.Status)
		if l.StatusReason != "" {
			fmt.Fprintf(&b, " (%s)", l.StatusReason)
		}
		b.WriteString(": ")
		b.WriteString(what)
		return b.String()
	}
	switch StatusKind(l.Status) {
	case Stable:
		return Change{}, false
	case InProgress:
		return Change{Action: Wait, Reason: reason("waiting for it to settle; nothing is issued meanwhile")}, true
	case CreateFailed:
		if recreate {
			return Change{Action: Recreate, Reason: reason("it never came up; policy.recreateFailed allows deleting and creating it again")}, true
		}
		return Change{Action: Blocked, Reason: reason("it never came up; delete the stack, or set policy.recreateFailed to let the daemon recreate it")}, true
	case RollbackFailed:
		return Change{Action: ContinueRollback, Reason: reason("continuing the rollback")}, true
	case DeleteFailed:
		if recreate {
			return Change{Action: Recreate, Reason: reason("retrying the delete, then creating it again, as policy.recreateFailed allows")}, true
		}
		return Change{Action: Blocked, Reason: reason("a delete left resources behind; finish the delete by hand, or set policy.recreateFailed")}, true
	case Review:
		if recreate {
			return Change{Action: Recreate, Reason: reason("it holds no resources; policy.recreateFailed allows replacing it")}, true
		}
		return Change{Action: Blocked, Reason: reason("made by a change set never executed; execute or delete the change set")}, true
	case Gone:
		return Change{Action: Create, Reason: "declared in the repo; the stack was deleted"}, true
	case Stuck:
		return Change{Action: Blocked, Reason: reason("a person must resolve it")}, true
	}
	return Change{Action: Blocked, Reason: reason("a status this version of Driftless does not know; leaving it alone")}, true
}

// planRemovedStatus decides for a stack whose spec left the repo, once
// every prune guard has passed. ok is false when the stack may be deleted.
func planRemovedStatus(l *Live) (ch Change, ok bool) {
	switch StatusKind(l.Status) {
	case InProgress:
		if l.Status == "DELETE_IN_PROGRESS" {
			return Change{Action: Wait, Reason: "stack is being deleted"}, true
		}
		return Change{Action: Wait, Reason: fmt.Sprintf("stack is %s; deleting once it settles", l.Status)}, true
	case Gone:
		return Change{Action: None, Reason: "stack is deleted"}, true
	case Unknown:
		return Change{Action: Retain, Refused: RefusedUnknownStatus,
			Reason: fmt.Sprintf("not declared in the repo, but the stack is %s, a status this version of Driftless does not know; not deleting it", l.Status)}, true
	}
	return Change{}, false
}
