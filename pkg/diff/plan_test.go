package diff

import (
	"strings"
	"testing"

	"github.com/driftless/driftless/pkg/render"
)

func stack(name, hash string) *render.Stack {
	return &render.Stack{Cluster: name, Name: render.StackName(name), Hash: hash}
}

func live(name, hash, status string) Live {
	return Live{Cluster: name, StackName: render.StackName(name), Hash: hash, Status: status}
}

func TestPlan(t *testing.T) {
	manyLive := func(n int) []Live {
		var ls []Live
		for i := 0; i < n; i++ {
			ls = append(ls, live(string(rune('a'+i)), "h", "CREATE_COMPLETE"))
		}
		return ls
	}
	tests := []struct {
		name string
		in   Input
		want map[string]Action
		// reason, when set, must appear in the reason of cluster "a".
		reason string
	}{
		{
			name: "declared without a stack is created",
			in:   Input{Desired: []*render.Stack{stack("a", "h1")}},
			want: map[string]Action{"a": Create},
		},
		{
			name: "same hash is left alone even when the revision moved",
			in:   Input{Desired: []*render.Stack{stack("a", "h1")}, Live: []Live{{Cluster: "a", Hash: "h1", Revision: "old", Status: "UPDATE_COMPLETE"}}},
			want: map[string]Action{"a": None},
		},
		{
			name: "different hash is updated",
			in:   Input{Desired: []*render.Stack{stack("a", "h2")}, Live: []Live{live("a", "h1", "CREATE_COMPLETE")}},
			want: map[string]Action{"a": Update},
		},
		{
			name: "busy stack is waited for",
			in:   Input{Desired: []*render.Stack{stack("a", "h2")}, Live: []Live{live("a", "h1", "UPDATE_IN_PROGRESS")}},
			want: map[string]Action{"a": Wait},
		},
		{
			name:   "failed stack blocks with its reason",
			in:     Input{Desired: []*render.Stack{stack("a", "h1")}, Live: []Live{{Cluster: "a", Hash: "h1", Status: "ROLLBACK_COMPLETE", StatusReason: "HeadNode: capacity"}}},
			want:   map[string]Action{"a": Blocked},
			reason: "HeadNode: capacity",
		},
		{
			name: "removed spec is retained when pruning is off",
			in:   Input{Desired: []*render.Stack{stack("b", "h")}, Live: []Live{live("a", "h", "CREATE_COMPLETE"), live("b", "h", "CREATE_COMPLETE")}},
			want: map[string]Action{"a": Retain, "b": None},
		},
		{
			name: "removed spec is deleted when pruning is on",
			in:   Input{Prune: true, Desired: []*render.Stack{stack("b", "h")}, Live: []Live{live("a", "h", "CREATE_COMPLETE"), live("b", "h", "CREATE_COMPLETE")}},
			want: map[string]Action{"a": Delete, "b": None},
		},
		{
			name:   "an empty checkout prunes nothing",
			in:     Input{Prune: true, Live: []Live{live("a", "h", "CREATE_COMPLETE")}},
			want:   map[string]Action{"a": Retain},
			reason: "empty checkout",
		},
		{
			name:   "a broken spec with no readable name stops pruning",
			in:     Input{Prune: true, NameUnknown: true, Desired: []*render.Stack{stack("b", "h")}, Live: []Live{live("a", "h", "CREATE_COMPLETE"), live("b", "h", "CREATE_COMPLETE")}},
			want:   map[string]Action{"a": Retain, "b": None},
			reason: "could not be read",
		},
		{
			name: "a broken spec leaves its cluster alone",
			in:   Input{Prune: true, Invalid: []string{"a"}, Desired: []*render.Stack{stack("b", "h")}, Live: []Live{live("a", "h", "CREATE_COMPLETE"), live("b", "h", "CREATE_COMPLETE")}},
			want: map[string]Action{"a": Skip, "b": None},
		},
		{
			name:   "termination protection is respected",
			in:     Input{Prune: true, Desired: []*render.Stack{stack("b", "h")}, Live: []Live{{Cluster: "a", Status: "CREATE_COMPLETE", TerminationProtection: true}, live("b", "h", "CREATE_COMPLETE")}},
			want:   map[string]Action{"a": Retain, "b": None},
			reason: "termination protection",
		},
		{
			name: "deleting more than the limit refuses every delete",
			in: Input{Prune: true, Desired: []*render.Stack{stack("a", "h")},
				Live: manyLive(5)},
			want: map[string]Action{"a": None, "b": Retain, "c": Retain, "d": Retain, "e": Retain},
		},
		{
			name: "an override lifts the limit",
			in: Input{Prune: true, PruneLimit: -1, Desired: []*render.Stack{stack("a", "h")},
				Live: manyLive(3)},
			want: map[string]Action{"a": None, "b": Delete, "c": Delete},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Plan(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d changes, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, ch := range got {
				if i > 0 && got[i-1].Cluster >= ch.Cluster {
					t.Errorf("changes not sorted: %q before %q", got[i-1].Cluster, ch.Cluster)
				}
				if want := tt.want[ch.Cluster]; ch.Action != want {
					t.Errorf("%s: action %s (%s), want %s", ch.Cluster, ch.Action, ch.Reason, want)
				}
				if ch.Cluster == "a" && tt.reason != "" && !strings.Contains(ch.Reason, tt.reason) {
					t.Errorf("a: reason %q does not mention %q", ch.Reason, tt.reason)
				}
			}
		})
	}
}
