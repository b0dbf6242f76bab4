package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/driftless/driftless/pkg/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func intp(n int) *int { return &n }

// minimal is the smallest valid Slurm cluster; cases start from it.
func minimal() *spec.Cluster {
	return &spec.Cluster{
		Version:   1,
		Name:      "alpha",
		Region:    "us-east-1",
		Scheduler: "slurm",
		VPC:       "vpc-0123456789abcdef0",
		HeadNode: spec.HeadNode{
			InstanceType: "t3.medium",
			Subnet:       "subnet-0123456789abcdef0",
			SSHFrom:      "203.0.113.7/32",
		},
		Compute: []spec.Queue{{
			Name:         "compute",
			InstanceType: "c5.xlarge",
			MinNodes:     0,
			MaxNodes:     10,
		}},
	}
}

// goldenCases are the specs whose templates are kept under testdata/.
func goldenCases() []struct {
	name    string
	cluster func() *spec.Cluster
} {
	return []struct {
		name    string
		cluster func() *spec.Cluster
	}{
		{"minimal", minimal},
		{"two-queues", func() *spec.Cluster {
			c := minimal()
			c.Name = "beta"
			c.Compute = []spec.Queue{
				{Name: "cpu", InstanceType: "c6i.2xlarge", MinNodes: 1, InitialNodes: intp(2), MaxNodes: 20},
				{Name: "gpu-large", InstanceType: "g5.12xlarge", MinNodes: 0, MaxNodes: 4, Subnet: "subnet-0fedcba9876543210"},
			}
			return c
		}},
		{"keypair-ami", func() *spec.Cluster {
			c := minimal()
			c.Name = "gamma"
			c.LoginUser = "rocky"
			c.HeadNode.KeyPair = "hpc-admins"
			c.HeadNode.AMI = "ami-0abcdef1234567890"
			return c
		}},
		{"tags", func() *spec.Cluster {
			c := minimal()
			c.Name = "delta"
			c.Tags = map[string]string{"team": "cfd", "cost-center": "4711", "Project": "wing"}
			c.Compute[0].InstanceType = "c7g.4xlarge"
			return c
		}},
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			st, err := Render(tc.cluster())
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			golden(t, filepath.Join("testdata", tc.name+".template.json"), st.Template)
		})
	}
}

// golden compares got with the file at path, or rewrites the file under
// -update. Both sides are canonicalised so the comparison is about meaning.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	cw, err := Canonical(want)
	if err != nil {
		t.Fatalf("golden %s: %v", path, err)
	}
	cg, err := Canonical(got)
	if err != nil {
		t.Fatalf("rendered template: %v", err)
	}
	if !bytes.Equal(cw, cg) {
		t.Errorf("%s differs from the rendered template (run go test -update if the change is intended)\n%s", path, lineDiff(string(cw), string(cg)))
	}
	if !bytes.Equal(got, cg) {
		t.Errorf("rendered template is not in canonical form")
	}
}

// lineDiff shows the first lines where want and got part.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 20; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + "\n  want: " + wl + "\n  got:  " + gl + "\n")
			shown++
		}
	}
	return b.String()
}

func TestRenderIsDeterministic(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			first, err := Render(tc.cluster())
			if err != nil {
				t.Fatal(err)
			}
			for range 20 {
				again, err := Render(tc.cluster())
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(first.Template, again.Template) || first.Hash != again.Hash {
					t.Fatal("the same spec rendered to different bytes")
				}
			}
		})
	}
}

// doc is a decoded template, for tests that look at single properties.
type doc struct {
	Parameters map[string]map[string]any `json:"Parameters"`
	Resources  map[string]struct {
		Type       string         `json:"Type"`
		Properties map[string]any `json:"Properties"`
	} `json:"Resources"`
	Outputs  map[string]map[string]any `json:"Outputs"`
	Metadata map[string]any            `json:"Metadata"`
}

func decode(t *testing.T, st *Stack) doc {
	t.Helper()
	var d doc
	if err := json.Unmarshal(st.Template, &d); err != nil {
		t.Fatalf("template is not JSON: %v", err)
	}
	return d
}

func TestStackFields(t *testing.T) {
	c := minimal()
	c.Name = "beta"
	c.Tags = map[string]string{"team": "cfd", TagCluster: "spoofed"}
	c.Compute = []spec.Queue{
		{Name: "cpu", InstanceType: "c6i.2xlarge", MinNodes: 1, InitialNodes: intp(3), MaxNodes: 20},
		{Name: "gpu-large", InstanceType: "g5.12xlarge", MinNodes: 2, MaxNodes: 4},
	}
	st, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "driftless-beta" || st.Cluster != "beta" {
		t.Errorf("name %q cluster %q", st.Name, st.Cluster)
	}
	if len(st.Hash) != 64 {
		t.Errorf("hash %q is not a hex sha256", st.Hash)
	}
	wantTags := map[string]string{"team": "cfd", TagCluster: "beta"}
	if len(st.Tags) != len(wantTags) {
		t.Errorf("tags %v, want %v", st.Tags, wantTags)
	}
	for k, v := range wantTags {
		if st.Tags[k] != v {
			t.Errorf("tag %s = %q, want %q", k, st.Tags[k], v)
		}
	}
	wantGroups := []Group{
		{Name: "driftless-beta-cpu", Queue: "cpu", Min: 1, Max: 20, Initial: 3},
		{Name: "driftless-beta-gpu-large", Queue: "gpu-large", Min: 2, Max: 4, Initial: 2},
	}
	if len(st.Groups) != len(wantGroups) {
		t.Fatalf("groups %+v", st.Groups)
	}
	for i := range wantGroups {
		if st.Groups[i] != wantGroups[i] {
			t.Errorf("group %d = %+v, want %+v", i, st.Groups[i], wantGroups[i])
		}
	}
}

func TestTemplateContent(t *testing.T) {
	c := minimal()
	c.Compute = append(c.Compute, spec.Queue{Name: "big-mem", InstanceType: "r7g.8xlarge", MinNodes: 1, MaxNodes: 3, Subnet: "subnet-0aaaaaaaaaaaaaaaa"})
	st, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	d := decode(t, st)

	tests := []struct {
		name string
		got  any
		want any
	}{
		{"head node type", d.Resources["HeadNode"].Type, "AWS::EC2::Instance"},
		{"head node subnet", d.Resources["HeadNode"].Properties["SubnetId"], c.HeadNode.Subnet},
		{"ssh only from sshFrom", jsonOf(t, d.Resources["HeadNodeSecurityGroup"].Properties["SecurityGroupIngress"]),
			`[{"CidrIp":"203.0.113.7/32","Description":"SSH from headNode.sshFrom","FromPort":22,"IpProtocol":"tcp","ToPort":22}]`},
		{"cluster sg has no inline rules", d.Resources["ClusterSecurityGroup"].Properties["SecurityGroupIngress"], nil},
		{"self ingress source", jsonOf(t, d.Resources["ClusterSecurityGroupIngressFromCluster"].Properties["SourceSecurityGroupId"]), `{"Ref":"ClusterSecurityGroup"}`},
		{"self ingress target", jsonOf(t, d.Resources["ClusterSecurityGroupIngressFromCluster"].Properties["GroupId"]), `{"Ref":"ClusterSecurityGroup"}`},
		{"group name", d.Resources["QueueBigMemGroup"].Properties["AutoScalingGroupName"], "driftless-alpha-big-mem"},
		{"min is a string", d.Resources["QueueBigMemGroup"].Properties["MinSize"], "1"},
		{"max is a string", d.Resources["QueueBigMemGroup"].Properties["MaxSize"], "3"},
		{"no desired capacity", d.Resources["QueueBigMemGroup"].Properties["DesiredCapacity"], nil},
		{"no desired capacity, first queue", d.Resources["QueueComputeGroup"].Properties["DesiredCapacity"], nil},
		{"queue subnet", jsonOf(t, d.Resources["QueueBigMemGroup"].Properties["VPCZoneIdentifier"]), `["subnet-0aaaaaaaaaaaaaaaa"]`},
		{"head subnet by default", jsonOf(t, d.Resources["QueueComputeGroup"].Properties["VPCZoneIdentifier"]), `["subnet-0123456789abcdef0"]`},
		{"graviton queue gets the arm64 image", jsonOf(t, d.Resources["QueueBigMemLaunchTemplate"].Properties["LaunchTemplateData"].(map[string]any)["ImageId"]), `{"Ref":"Arm64ImageId"}`},
		{"x86 queue gets the x86 image", jsonOf(t, d.Resources["QueueComputeLaunchTemplate"].Properties["LaunchTemplateData"].(map[string]any)["ImageId"]), `{"Ref":"X86ImageId"}`},
		{"arm64 image parameter", d.Parameters["Arm64ImageId"]["Default"], al2023Arm64SSM},
		{"group output", jsonOf(t, d.Outputs["BigMemGroupName"]["Value"]), `{"Ref":"QueueBigMemGroup"}`},
		{"login user output", d.Outputs["LoginUser"]["Value"], "ec2-user"},
		{"public ip output", jsonOf(t, d.Outputs["HeadNodePublicIp"]["Value"]), `{"Fn::GetAtt":["HeadNode","PublicIp"]}`},
		{"private ip output", jsonOf(t, d.Outputs["HeadNodePrivateIp"]["Value"]), `{"Fn::GetAtt":["HeadNode","PrivateIp"]}`},
		{"spec version in metadata", jsonOf(t, d.Metadata["Driftless"].(map[string]any)["SpecVersion"]), `1`},
		{"spec in metadata", jsonOf(t, d.Metadata["Driftless"].(map[string]any)["Spec"].(map[string]any)["compute"].([]any)[1].(map[string]any)["maxNodes"]), `3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}

	tagsOf := func(id string) map[string]any {
		out := map[string]any{}
		for _, tag := range d.Resources[id].Properties["Tags"].([]any) {
			m := tag.(map[string]any)
			out[m["Key"].(string)] = m["PropagateAtLaunch"]
		}
		return out
	}
	for _, key := range []string{TagCluster, TagQueue, "Name"} {
		if tagsOf("QueueBigMemGroup")[key] != true {
			t.Errorf("group tag %s does not propagate at launch", key)
		}
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name    string
		cluster func() *spec.Cluster
		want    string
	}{
		{"nil", func() *spec.Cluster { return nil }, "no cluster"},
		{"no name", func() *spec.Cluster { c := minimal(); c.Name = ""; return c }, "no name"},
		{"no queue", func() *spec.Cluster { c := minimal(); c.Compute = nil; return c }, "no compute queue"},
		{"queue ids clash", func() *spec.Cluster {
			c := minimal()
			c.Compute = append(c.Compute, spec.Queue{Name: "Compute", InstanceType: "c5.large", MaxNodes: 1})
			return c
		}, "share logical ids"},
		{"queue name without letters", func() *spec.Cluster {
			c := minimal()
			c.Compute[0].Name = "--"
			return c
		}, "no letter or digit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(tt.cluster())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestArchOf(t *testing.T) {
	tests := []struct{ typ, want string }{
		{"t3.medium", archX86},
		{"c5.xlarge", archX86},
		{"g5.12xlarge", archX86},
		{"g4dn.xlarge", archX86},
		{"m7i-flex.large", archX86},
		{"hpc6a.48xlarge", archX86},
		{"c7g.4xlarge", archArm64},
		{"c6gn.16xlarge", archArm64},
		{"t4g.micro", archArm64},
		{"x2gd.large", archArm64},
		{"g5g.xlarge", archArm64},
		{"hpc7g.16xlarge", archArm64},
		{"is4gen.large", archArm64},
		{"a1.medium", archArm64},
		{"", archX86},
	}
	for _, tt := range tests {
		if got := archOf(tt.typ); got != tt.want {
			t.Errorf("archOf(%q) = %s, want %s", tt.typ, got, tt.want)
		}
	}
}

func TestCamel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"compute", "Compute"},
		{"gpu-large", "GpuLarge"},
		{"big_mem2", "BigMem2"},
		{"q.a.b", "QAB"},
		{"--", ""},
	}
	for _, tt := range tests {
		if got := camel(tt.in); got != tt.want {
			t.Errorf("camel(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct{ name, a, b string }{
		{"key order", `{"b":1,"a":{"d":2,"c":3}}`, `{"a":{"c":3,"d":2},"b":1}`},
		{"whitespace", "{ \"a\" : [1, 2] }", `{"a":[1,2]}`},
		{"no html escaping", `{"t":"Value<Id>"}`, "{\"t\":\"Value\\u003cId\\u003e\"}"},
		{"big numbers kept", `{"n":12345678901234567890}`, `{"n":12345678901234567890}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca, err := Canonical([]byte(tt.a))
			if err != nil {
				t.Fatal(err)
			}
			cb, err := Canonical([]byte(tt.b))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ca, cb) {
				t.Errorf("%s\n!=\n%s", ca, cb)
			}
		})
	}
	if _, err := Canonical([]byte(`{"a":1} {"b":2}`)); err == nil {
		t.Error("trailing data accepted")
	}
}
