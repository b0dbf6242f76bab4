package diff

import (
	"slices"
	"strings"
	"testing"

	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/driftless/driftless/pkg/render"
)

// TestEveryStatusIsKnown fails when the SDK learns a stack status that
// kinds does not list: each one must be decided on, not fall to Unknown.
func TestEveryStatusIsKnown(t *testing.T) {
	known := KnownStatuses()
	for _, s := range cfntypes.StackStatus("").Values() {
		if !slices.Contains(known, string(s)) {
			t.Errorf("stack status %s is not in kinds: decide what the daemon does with it", s)
		}
	}
	if k := StatusKind("SOMETHING_NEW"); k != Unknown {
		t.Errorf("StatusKind(SOMETHING_NEW) = %v, want unknown", k)
	}
}

// TestPlanEveryStatus drives every stack status through the planner, for a
// cluster the repo declares (with and without policy.recreateFailed) and
// for one whose spec left the repo while pruning is on.
func TestPlanEveryStatus(t *testing.T) {
	tests := []struct {
		status string
		// declared, recreate: the action for a declared cluster without and
		// with policy.recreateFailed; removed: with pruning on.
		declared, recreate, removed Action
	}{
		{"CREATE_COMPLETE", Update, Update, Delete},
		{"UPDATE_COMPLETE", Update, Update, Delete},
		{"UPDATE_ROLLBACK_COMPLETE", Update, Update, Delete},
		{"IMPORT_COMPLETE", Update, Update, Delete},
		{"IMPORT_ROLLBACK_COMPLETE", Update, Update, Delete},

		{"CREATE_IN_PROGRESS", Wait, Wait, Wait},
		{"ROLLBACK_IN_PROGRESS", Wait, Wait, Wait},
		{"UPDATE_IN_PROGRESS", Wait, Wait, Wait},
		{"UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", Wait, Wait, Wait},
		{"UPDATE_ROLLBACK_IN_PROGRESS", Wait, Wait, Wait},
		{"UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", Wait, Wait, Wait},
		{"DELETE_IN_PROGRESS", Wait, Wait, Wait},
		{"IMPORT_IN_PROGRESS", Wait, Wait, Wait},
		{"IMPORT_ROLLBACK_IN_PROGRESS", Wait, Wait, Wait},

		{"CREATE_FAILED", Blocked, Recreate, Delete},
		{"ROLLBACK_COMPLETE", Blocked, Recreate, Delete},
		{"ROLLBACK_FAILED", Blocked, Recreate, Delete},
		{"UPDATE_ROLLBACK_FAILED", ContinueRollback, ContinueRollback, Delete},
		{"DELETE_FAILED", Blocked, Recreate, Delete},
		{"UPDATE_FAILED", Blocked, Blocked, Delete},
		{"IMPORT_ROLLBACK_FAILED", Blocked, Blocked, Delete},
		{"REVIEW_IN_PROGRESS", Blocked, Recreate, Delete},
		{"DELETE_COMPLETE", Create, Create, None},

		{"SOMETHING_NEW", Blocked, Blocked, Retain},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.status] = true
		t.Run(tt.status, func(t *testing.T) {
			l := Live{Cluster: "a", StackName: render.StackName("a"), Hash: "old", Status: tt.status, StatusReason: "Resource handler returned message: boom"}
			keep := Live{Cluster: "b", StackName: render.StackName("b"), Hash: "h", Status: "CREATE_COMPLETE"}
			for _, c := range []struct {
				name string
				in   Input
				want Action
			}{
				{"declared", Input{Desired: []*render.Stack{stack("a", "new")}, Live: []Live{l}}, tt.declared},
				{"declared with recreateFailed", Input{Desired: []*render.Stack{stack("a", "new")}, Live: []Live{l},
					RecreateFailed: map[string]bool{"a": true}}, tt.recreate},
				{"removed with pruning on", Input{Prune: true, PruneLimit: -1, Desired: []*render.Stack{stack("b", "h")},
					Live: []Live{l, keep}}, tt.removed},
			} {
				got := Plan(c.in)[0]
				if got.Cluster != "a" || got.Action != c.want {
					t.Errorf("%s: %s %s (%s), want %s", c.name, got.Cluster, got.Action, got.Reason, c.want)
				}
				if got.Action == Blocked && !strings.Contains(got.Reason, "boom") {
					t.Errorf("%s: blocked reason %q does not quote CloudFormation's", c.name, got.Reason)
				}
				if got.Mutating() != (got.Action != Wait && got.Action != Blocked && got.Action != None && got.Action != Retain) {
					t.Errorf("%s: Mutating() = %v for %s", c.name, got.Mutating(), got.Action)
				}
			}
		})
	}
	for _, s := range KnownStatuses() {
		if !seen[s] {
			t.Errorf("status %s is not in this table", s)
		}
	}
}

func TestRefusals(t *testing.T) {
	many := []Live{live("a", "h", "CREATE_COMPLETE"), live("b", "h", "CREATE_COMPLETE"), live("c", "h", "CREATE_COMPLETE")}
	tests := []struct {
		name string
		in   Input
		want string
	}{
		{"pruning off is no refusal", Input{Desired: []*render.Stack{stack("b", "h")}, Live: many[:2]}, ""},
		{"empty checkout", Input{Prune: true, Live: many}, RefusedEmptyCheckout},
		{"unreadable spec", Input{Prune: true, NameUnknown: true, Desired: []*render.Stack{stack("b", "h")}, Live: many[:2]}, RefusedUnreadableSpec},
		{"termination protection", Input{Prune: true, Desired: []*render.Stack{stack("b", "h")},
			Live: []Live{{Cluster: "a", Status: "CREATE_COMPLETE", TerminationProtection: true}, many[1]}}, RefusedTerminationProtection},
		{"limit", Input{Prune: true, PruneLimit: 1, Desired: []*render.Stack{stack("c", "h")}, Live: many}, RefusedLimit},
		{"unknown status", Input{Prune: true, Desired: []*render.Stack{stack("b", "h")},
			Live: []Live{live("a", "h", "SOMETHING_NEW"), many[1]}}, RefusedUnknownStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Plan(tt.in)[0]
			if got.Cluster != "a" || got.Action != Retain || got.Refused != tt.want {
				t.Errorf("%s: %s refused %q (%s), want retain refused %q", got.Cluster, got.Action, got.Refused, got.Reason, tt.want)
			}
		})
	}
}
