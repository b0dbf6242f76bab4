package diff

import (
	"maps"
	"strings"
	"testing"

	"github.com/driftless/driftless/pkg/render"
)

func TestDrift(t *testing.T) {
	report := []string{"tags:", "policy:\n  onDrift: report\ntags:"}
	tests := []struct {
		name   string
		edits  []string // to the spec, e.g. onDrift: report
		mutate func(l *Live)
		action Action
		// drift are "kind name heal" of every expected drift.
		drift  []string
		reason string
	}{
		{
			name:   "in sync",
			mutate: func(l *Live) {},
			action: None,
		},
		{
			name:   "a group's maximum edited in the console is healed",
			mutate: func(l *Live) { l.Groups[0].Max = 9 },
			action: Heal, drift: []string{"group_limits driftless-alpha-compute true"},
			reason: "min/max is 0/9, the template says 0/8",
		},
		{
			name:   "with onDrift report it is only reported",
			edits:  report,
			mutate: func(l *Live) { l.Groups[0].Max = 9 },
			action: Hold, drift: []string{"group_limits driftless-alpha-compute false"},
			reason: "policy.onDrift is report",
		},
		{
			name:   "desired capacity is the fleet loop's",
			mutate: func(l *Live) { l.Groups[0].Desired, l.Groups[0].InService = 6, 6 },
			action: None,
		},
		{
			name: "a tag removed from a group is put back",
			mutate: func(l *Live) {
				l.Groups[1].Tags = maps.Clone(l.Groups[1].Tags)
				delete(l.Groups[1].Tags, "project")
			},
			action: Heal, drift: []string{"tags driftless-alpha-gpu true"},
			reason: "project removed",
		},
		{
			name: "a tag removed from the stack updates the stack",
			mutate: func(l *Live) {
				l.Tags = map[string]string{render.TagCluster: "alpha"}
			},
			action: Update, drift: []string{"tags driftless-alpha true"},
		},
		{
			name:   "a stopped head node is started",
			mutate: func(l *Live) { l.HeadNode.State = "stopped" },
			action: Heal, drift: []string{"head_node i-0123456789abcdef0 true"},
		},
		{
			name:   "a terminated head node blocks the cluster",
			mutate: func(l *Live) { l.HeadNode.State = "terminated" },
			action: Hold, drift: []string{"head_node i-0123456789abcdef0 false"},
			reason: "cannot bring it back",
		},
		{
			name:   "a missing head node blocks the cluster",
			mutate: func(l *Live) { l.HeadNode = &Instance{State: InstanceMissing} },
			action: Hold, drift: []string{"head_node HeadNode false"},
		},
		{
			name: "a tag removed from the head node is put back",
			mutate: func(l *Live) {
				l.HeadNode.Tags = maps.Clone(l.HeadNode.Tags)
				l.HeadNode.Tags["Name"] = "renamed"
			},
			action: Heal, drift: []string{"tags i-0123456789abcdef0 true"},
			reason: "Name=renamed (want alpha-head-node)",
		},
		{
			name:   "a deleted stack is created again",
			mutate: func(l *Live) { l.Status = "DELETE_COMPLETE" },
			action: Create, drift: []string{"stack_deleted driftless-alpha true"},
			reason: "deleted outside Driftless",
		},
		{
			name:   "with onDrift report a deleted stack is not created",
			edits:  report,
			mutate: func(l *Live) { l.Status = "DELETE_COMPLETE" },
			action: Hold, drift: []string{"stack_deleted driftless-alpha false"},
			reason: "policy.onDrift is report",
		},
		{
			name:   "a stack stuck in a failed state is reported",
			mutate: func(l *Live) { l.Status, l.StatusReason = "UPDATE_FAILED", "HeadNode: capacity" },
			action: Blocked, drift: []string{"stack_failed driftless-alpha false"},
		},
		{
			name: "CloudFormation's drift detection is reported, the group limits it saw are not twice",
			mutate: func(l *Live) {
				l.ResourceDrift = []ResourceDrift{
					{LogicalID: "ClusterSecurityGroup", Type: "AWS::EC2::SecurityGroup", Status: "MODIFIED", Properties: []string{"/SecurityGroupIngress/1: absent → tcp 22 0.0.0.0/0"}},
					{LogicalID: "QueueComputeGroup", Type: "AWS::AutoScaling::AutoScalingGroup", Status: "MODIFIED", Properties: []string{"/MaxSize: 8 → 9"}},
				}
			},
			action: Hold, drift: []string{"resources ClusterSecurityGroup false"},
			reason: "cannot heal",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parsed(t, baseSpec, tt.edits...)
			d := rendered(t, c)
			l := liveOf(t, c, 0)
			l.Template = nil // hashes match: observe does not read it
			groups, _ := parseTemplate(d.Template)
			for i := range l.Groups {
				l.Groups[i].Tags = groupsOf(groups)[l.Groups[i].Name].tags
			}
			l.HeadNode = &Instance{ID: "i-0123456789abcdef0", State: "running", Tags: instanceTags(groups)}
			tt.mutate(&l)
			ch := Plan(Input{Desired: []*render.Stack{d}, Live: []Live{l}})[0]
			if ch.Action != tt.action {
				t.Errorf("action %s (%s), want %s", ch.Action, ch.Reason, tt.action)
			}
			var got []string
			for _, dr := range ch.Drift {
				got = append(got, string(dr.Kind)+" "+dr.Name+" "+map[bool]string{true: "true", false: "false"}[dr.Heal])
			}
			if strings.Join(got, "|") != strings.Join(tt.drift, "|") {
				t.Errorf("drift %q, want %q", got, tt.drift)
			}
			if !strings.Contains(ch.Reason, tt.reason) {
				t.Errorf("reason %q does not say %q", ch.Reason, tt.reason)
			}
			for _, dr := range ch.Drift {
				if dr.Kind == DriftGroupLimits && (dr.Min != 0 || dr.Max != 8) {
					t.Errorf("heal values %d/%d, want the template's 0/8", dr.Min, dr.Max)
				}
			}
		})
	}
}

// TestDriftAgainstTheLiveTemplate: while an update is pending, a group's
// limits are compared with the live template, not the new one, so the
// update itself is not drift; the heal restores the new values.
func TestDriftAgainstTheLiveTemplate(t *testing.T) {
	old := parsed(t, baseSpec)
	new := parsed(t, baseSpec, "maxNodes: 8", "maxNodes: 20")
	l := liveOf(t, old, 0)
	ch := Plan(Input{Desired: []*render.Stack{rendered(t, new)}, Live: []Live{l}})[0]
	if ch.Action != Update || len(ch.Drift) != 0 {
		t.Fatalf("pending update: action %s, drift %+v", ch.Action, ch.Drift)
	}
	l.Groups[0].Max = 9
	ch = Plan(Input{Desired: []*render.Stack{rendered(t, new)}, Live: []Live{l}})[0]
	if ch.Action != Update || len(ch.Drift) != 1 || !ch.Drift[0].Heal || ch.Drift[0].Max != 20 {
		t.Fatalf("action %s, drift %+v; want an update that then heals max to 20", ch.Action, ch.Drift)
	}
	if !strings.Contains(ch.Drift[0].Detail, "the template says 0/8") {
		t.Errorf("detail %q: want it compared with the live template", ch.Drift[0].Detail)
	}
}

// TestOfflineLooksForNoDrift: an offline plan has no live state to drift.
func TestOfflineLooksForNoDrift(t *testing.T) {
	c := parsed(t, baseSpec)
	l := liveOf(t, c, 0)
	l.Groups[0].Max = 99
	ch := Plan(Input{Desired: []*render.Stack{rendered(t, c)}, Live: []Live{l}, Offline: true})[0]
	if ch.Action != None || len(ch.Drift) != 0 {
		t.Errorf("offline: action %s, drift %+v", ch.Action, ch.Drift)
	}
}
