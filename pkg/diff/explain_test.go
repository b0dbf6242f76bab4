package diff

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/spec"
)

const baseSpec = `version: 1
name: alpha
region: us-east-1
scheduler: slurm
vpc: vpc-0123456789abcdef0
headNode:
  instanceType: t3.medium
  subnet: subnet-0123456789abcdef0
  sshFrom: 203.0.113.0/24
compute:
  - name: compute
    instanceType: c5.large
    minNodes: 0
    maxNodes: 8
  - name: gpu
    instanceType: g4dn.xlarge
    maxNodes: 2
storage:
  ebs:
    - mountDir: /shared
      size: 50
tags:
  project: demo
`

// parsed parses a spec, with edits applied to its text first.
func parsed(t *testing.T, text string, edits ...string) *spec.Cluster {
	t.Helper()
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(text, edits[i]) {
			t.Fatalf("edit %q: not in the spec", edits[i])
		}
		text = strings.Replace(text, edits[i], edits[i+1], 1)
	}
	c, errs := spec.Parse("alpha.yaml", []byte(text))
	if len(errs) > 0 {
		t.Fatalf("spec: %v", errs)
	}
	return c
}

func rendered(t *testing.T, c *spec.Cluster) *render.Stack {
	t.Helper()
	st, err := render.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// liveOf is what observe would report for a stack rendered from c, with
// the template read because the hashes differ.
func liveOf(t *testing.T, c *spec.Cluster, running int) Live {
	t.Helper()
	st := rendered(t, c)
	l := Live{Cluster: st.Cluster, StackName: st.Name, StackID: "arn:stack/" + st.Name, Status: "UPDATE_COMPLETE",
		Hash: st.Hash, Template: st.Template, Tags: st.Tags}
	for _, g := range st.Groups {
		l.Groups = append(l.Groups, LiveGroup{Name: g.Name, Min: g.Min, Max: g.Max, Desired: running, InService: running})
	}
	return l
}

func TestExplainUpdate(t *testing.T) {
	tests := []struct {
		name    string
		edits   []string
		running int
		offline bool
		action  Action
		// fields are "path policy" of every expected field change.
		fields    []string
		stopFleet bool
		reason    string
	}{
		{
			name:   "raising a maximum is in place",
			edits:  []string{"maxNodes: 8", "maxNodes: 20"},
			action: Update, fields: []string{"compute[compute].maxNodes in-place"},
		},
		{
			name:   "a tag and the SSH CIDR are in place",
			edits:  []string{"project: demo", "project: cfd", "203.0.113.0/24", "198.51.100.0/24"},
			action: Update, fields: []string{"headNode.sshFrom in-place", "tags.project in-place"},
		},
		{
			name:    "lowering a maximum below the running nodes needs the fleet stopped",
			edits:   []string{"maxNodes: 8", "maxNodes: 2"},
			running: 5,
			action:  Hold, fields: []string{"compute[compute].maxNodes fleet-stop"},
			reason: `policy.approve: ["compute[compute].maxNodes=2"]`,
		},
		{
			name:    "lowering a maximum above the running nodes is in place",
			edits:   []string{"maxNodes: 8", "maxNodes: 4"},
			running: 2,
			action:  Update, fields: []string{"compute[compute].maxNodes in-place"},
		},
		{
			name:    "offline, lowering a maximum is taken to need the fleet stopped",
			edits:   []string{"maxNodes: 8", "maxNodes: 4"},
			offline: true,
			action:  Hold, fields: []string{"compute[compute].maxNodes fleet-stop"},
		},
		{
			name:   "a compute instance type needs the fleet stopped",
			edits:  []string{"instanceType: c5.large", "instanceType: c5.xlarge"},
			action: Hold, fields: []string{"compute[compute].instanceType fleet-stop"},
			reason: "compute[compute].instanceType=c5.xlarge",
		},
		{
			name:   "an approved compute instance type goes ahead with the fleet stopped",
			edits:  []string{"instanceType: c5.large", "instanceType: c5.xlarge", "tags:", "policy:\n  approve: [\"compute[compute].instanceType=c5.xlarge\"]\ntags:"},
			action: Update, fields: []string{"compute[compute].instanceType fleet-stop", "policy.approve in-place"},
			stopFleet: true,
		},
		{
			name:   "an approval of another value approves nothing",
			edits:  []string{"instanceType: c5.large", "instanceType: c5.2xlarge", "tags:", "policy:\n  approve: [\"compute[compute].instanceType=c5.xlarge\"]\ntags:"},
			action: Hold, fields: []string{"compute[compute].instanceType fleet-stop", "policy.approve in-place"},
		},
		{
			name:   "a head node instance type replaces the head node",
			edits:  []string{"instanceType: t3.medium", "instanceType: c5.xlarge"},
			action: Hold, fields: []string{"headNode.instanceType replace"},
			reason: "headNode.instanceType=c5.xlarge",
		},
		{
			name:   "removing a queue needs the fleet stopped",
			edits:  []string{"  - name: gpu\n    instanceType: g4dn.xlarge\n    maxNodes: 2\n", ""},
			action: Hold, fields: []string{"compute[gpu] fleet-stop"},
			reason: "compute[gpu]=removed",
		},
		{
			name:   "adding a queue is in place",
			edits:  []string{"storage:", "  - name: big\n    instanceType: r5.large\n    maxNodes: 1\nstorage:"},
			action: Update, fields: []string{"compute[big] in-place"},
		},
		{
			name:   "a larger volume changes storage",
			edits:  []string{"size: 50", "size: 100"},
			action: Hold, fields: []string{"storage.ebs[0].size replace"},
		},
		{
			name:   "a smaller volume is not allowed",
			edits:  []string{"size: 50", "size: 10"},
			action: Hold, fields: []string{"storage.ebs[0].size not-allowed"},
			reason: "not allowed",
		},
		{
			name:   "a region change is not allowed, approval or not",
			edits:  []string{"region: us-east-1", "region: eu-west-1", "tags:", "policy:\n  approve: [\"region=eu-west-1\"]\ntags:"},
			action: Hold, fields: []string{"policy.approve in-place", "region not-allowed"},
			reason: "declare a new cluster",
		},
		{
			name:   "a scheduler change is not allowed",
			edits:  []string{"scheduler: slurm", "scheduler: torque", "  - name: gpu\n    instanceType: g4dn.xlarge\n    maxNodes: 2\n", ""},
			action: Hold, fields: []string{"compute[gpu] fleet-stop", "scheduler not-allowed"},
		},
		{
			name:   "daemon settings change nothing in AWS",
			edits:  []string{"tags:", "policy:\n  onDrift: report\ntags:"},
			action: Update, fields: []string{"policy.onDrift in-place"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := parsed(t, baseSpec)
			new := parsed(t, baseSpec, tt.edits...)
			l := liveOf(t, old, tt.running)
			d := rendered(t, new)
			chs := Plan(Input{Desired: []*render.Stack{d}, Live: []Live{l}, Offline: tt.offline})
			ch := chs[0]
			if ch.Action != tt.action {
				t.Errorf("action %s (%s), want %s", ch.Action, ch.Reason, tt.action)
			}
			var got []string
			for _, f := range ch.Fields {
				got = append(got, f.Path+" "+f.Policy.String())
			}
			if !slices.Equal(got, tt.fields) {
				t.Errorf("fields %q, want %q", got, tt.fields)
			}
			if ch.StopFleet != tt.stopFleet {
				t.Errorf("stopFleet %v, want %v", ch.StopFleet, tt.stopFleet)
			}
			if !strings.Contains(ch.Reason, tt.reason) {
				t.Errorf("reason %q does not say %q", ch.Reason, tt.reason)
			}
			if len(ch.Drift) > 0 {
				t.Errorf("unexpected drift: %+v", ch.Drift)
			}
		})
	}
}

// TestDesiredCapacityIsNeverAChange: a live template that carries a
// desired capacity (set by hand or by an older tool) shows no change for
// it, and neither do live groups sized by the fleet loop.
func TestDesiredCapacityIsNeverAChange(t *testing.T) {
	c := parsed(t, baseSpec)
	d := rendered(t, c)
	var doc map[string]any
	if err := json.Unmarshal(d.Template, &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range doc["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] == "AWS::AutoScaling::AutoScalingGroup" {
			r["Properties"].(map[string]any)["DesiredCapacity"] = "7"
		}
	}
	body, _ := json.Marshal(doc)
	l := liveOf(t, c, 7)
	l.Template, l.Hash = body, "other"
	ch := Plan(Input{Desired: []*render.Stack{d}, Live: []Live{l}})[0]
	if len(ch.Fields) != 0 || len(ch.Resources) != 0 {
		t.Errorf("desired capacity shows as a change: fields %+v resources %+v", ch.Fields, ch.Resources)
	}
}

// TestUnexplainedReplacement: a template that would replace the head node
// although no setting asks for it (the live spec is unreadable) waits for
// an approval that names the resource and the live template.
func TestUnexplainedReplacement(t *testing.T) {
	old := parsed(t, baseSpec)
	new := parsed(t, baseSpec, "subnet: subnet-0123456789abcdef0", "subnet: subnet-0fedcba9876543210")
	l := liveOf(t, old, 0)
	var doc map[string]any
	if err := json.Unmarshal(l.Template, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc, "Metadata")
	l.Template, _ = json.Marshal(doc)
	d := rendered(t, new)
	ch := Plan(Input{Desired: []*render.Stack{d}, Live: []Live{l}})[0]
	if ch.Action != Hold {
		t.Fatalf("action %s (%s), want hold", ch.Action, ch.Reason)
	}
	want := "resource.HeadNode=replaces@" + short(l.Hash)
	if !strings.Contains(ch.Reason, want) {
		t.Errorf("reason %q does not name the approval %s", ch.Reason, want)
	}
}

// TestReplacementTable checks that every resource type and property the
// renderer writes, in every golden template of pkg/render, has an update
// behaviour in the table.
func TestReplacementTable(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "render", "testdata", "*.template.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rendered templates found: %v", err)
	}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tmpl, err := parseTemplate(body)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for id, r := range tmpl.Resources {
			table, ok := updateBehaviour[r.Type]
			if !ok {
				t.Errorf("%s: %s has type %s, which the replacement table does not know", filepath.Base(f), id, r.Type)
				continue
			}
			for p := range r.Properties {
				if _, ok := table[p]; !ok && !ignoredProperties[r.Type][p] {
					t.Errorf("%s: %s (%s) sets %s, which the replacement table does not know", filepath.Base(f), id, r.Type, p)
				}
			}
		}
	}
}

func TestCompareTemplates(t *testing.T) {
	old := parsed(t, baseSpec)
	tests := []struct {
		name  string
		edits []string
		want  []string // "logicalId op disruption"
	}{
		{"maximum", []string{"maxNodes: 8", "maxNodes: 9"}, []string{"QueueComputeGroup change no-interruption"}},
		{"head node type", []string{"instanceType: t3.medium", "instanceType: t3.large"}, []string{"HeadNode change interruption"}},
		{"head node subnet", []string{"subnet: subnet-0123456789abcdef0", "subnet: subnet-0fedcba9876543210"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := parseTemplate(rendered(t, old).Template)
			b, _ := parseTemplate(rendered(t, parsed(t, baseSpec, tt.edits...)).Template)
			var got []string
			for _, r := range compareTemplates(a, b) {
				got = append(got, r.LogicalID+" "+string(r.Op)+" "+string(r.Disruption))
			}
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("resource changes %q lack %q", got, w)
				}
			}
			if tt.name == "head node subnet" && !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "HeadNode change replacement") }) {
				t.Errorf("a new head node subnet does not replace the head node: %q", got)
			}
		})
	}
}

// FuzzExplainLiveTemplate: the live template comes from AWS and may have
// been edited by anyone; no template makes the plan panic.
func FuzzExplainLiveTemplate(f *testing.F) {
	c, errs := spec.Parse("alpha.yaml", []byte(baseSpec))
	if len(errs) > 0 {
		f.Fatal(errs)
	}
	d, err := render.Render(c)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(d.Template)
	f.Add([]byte(`{"Metadata":{"Driftless":{"Spec":"{\"name\":\"alpha\",\"compute\":[{\"name\":\"x\"}],\"storage\":{\"ebs\":[{}]}}"}},"Resources":{"HeadNode":{"Type":"AWS::EC2::Instance","Properties":{"Tags":[{"Key":1}]}}}}`))
	f.Add([]byte(`{"Resources":{"G":{"Type":"AWS::AutoScaling::AutoScalingGroup","Properties":{"AutoScalingGroupName":"driftless-alpha-compute","MinSize":{"Ref":"X"}}}}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		l := Live{Cluster: "alpha", StackName: d.Name, Status: "UPDATE_COMPLETE", Hash: "other", Template: body,
			Groups: []LiveGroup{{Name: "driftless-alpha-compute", Max: 3}}, Tags: map[string]string{}}
		ch := Plan(Input{Desired: []*render.Stack{d}, Live: []Live{l}})[0]
		if ch.Action != Update && ch.Action != Hold && ch.Action != Heal {
			t.Errorf("action %s for a differing template", ch.Action)
		}
	})
}
