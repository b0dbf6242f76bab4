package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/pkg/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func intp(n int) *int { return &n }

// minimal is the smallest valid Slurm cluster, with the defaults
// spec.Parse would fill in; cases start from it.
func minimal() *spec.Cluster {
	return &spec.Cluster{
		Version:   1,
		Name:      "alpha",
		Region:    "us-east-1",
		Scheduler: "slurm",
		VPC:       "vpc-0123456789abcdef0",
		BaseOS:    "alinux2",
		LoginUser: "ec2-user",
		HeadNode: spec.HeadNode{
			InstanceType: "t3.medium",
			Subnet:       "subnet-0123456789abcdef0",
			SSHFrom:      "203.0.113.7/32",
			PublicIP:     true,
		},
		Compute: []spec.Queue{{
			Name:         "compute",
			InstanceType: "c5.xlarge",
			MinNodes:     0,
			InitialNodes: intp(0),
			MaxNodes:     10,
			Subnet:       "subnet-0123456789abcdef0",
			CapacityType: "onDemand",
		}},
		Scaling: spec.Scaling{IdleTime: spec.Duration{Duration: 10 * time.Minute}, ScaleUp: true},
	}
}

// full sets every setting a Slurm cluster can have, much like the spec
// package's testdata/valid/full.yaml after defaults.
func full() *spec.Cluster {
	c := minimal()
	c.Name = "cfd"
	c.BaseOS = "centos7"
	c.LoginUser = "centos"
	c.HeadNode = spec.HeadNode{
		InstanceType:             "c5.2xlarge",
		Subnet:                   "subnet-0123456789abcdef0",
		KeyPair:                  "cfd-admins",
		SSHFrom:                  "198.51.100.0/24",
		AMI:                      "ami-0123456789abcdef0",
		RootVolumeSize:           50,
		PublicIP:                 true,
		AdditionalSecurityGroups: []string{"sg-0123456789abcdef0"},
		DisableHyperthreading:    true,
	}
	c.Compute = []spec.Queue{
		{
			Name: "mpi", InstanceType: "c5n.18xlarge", MinNodes: 0, InitialNodes: intp(2), MaxNodes: 32,
			Subnet: "subnet-0fedcba9876543210", CapacityType: "onDemand", PlacementGroup: "dynamic",
			EFA: true, DisableHyperthreading: true, RootVolumeSize: 40,
		},
		{
			Name: "spot", InstanceType: "m5.4xlarge", MinNodes: 1, InitialNodes: intp(1), MaxNodes: 100,
			KeepInitialSize: true, Subnet: "subnet-0123456789abcdef0", CapacityType: "spot", SpotPrice: 0.35,
			PublicIP: true, AdditionalSecurityGroups: []string{"sg-0123456789abcdef1"}, PlacementGroup: "hpc-existing",
		},
	}
	c.Scaling = spec.Scaling{IdleTime: spec.Duration{Duration: 15 * time.Minute}, ScaleUp: true}
	c.Storage = spec.Storage{
		EBS: []spec.EBSVolume{
			{MountDir: "/shared", Type: "gp3", Size: 500, IOPS: 6000, Throughput: 250, Encrypted: true, KMSKey: "alias/hpc"},
			{MountDir: "/data/reference", Type: "gp3", IOPS: 3000, Throughput: 125, Snapshot: "snap-0123456789abcdef0"},
			{MountDir: "/data/scratch", Volume: "vol-0123456789abcdef0"},
			{MountDir: "/apps", Type: "io2", Size: 100, IOPS: 20000},
		},
		EFS: &spec.EFS{
			MountDir: "/efs", PerformanceMode: "generalPurpose", ThroughputMode: "provisioned",
			ProvisionedThroughput: 128, Encrypted: true,
		},
		RAID: &spec.RAID{MountDir: "/raid", Level: 0, Volumes: 4, Type: "st1", Size: 500},
	}
	c.Proxy = "http://proxy.example.com:3128"
	c.Bootstrap = spec.Bootstrap{
		PreInstall:  &spec.Script{URL: "s3://cfd-bootstrap/pre.sh", Args: []string{"--site", "${SITE}"}},
		PostInstall: &spec.Script{URL: "https://example.com/post-install.sh", Args: []string{"--with-openfoam", "v2306"}},
	}
	c.IAM = spec.IAM{
		Policies:    []string{"arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"},
		S3Read:      []string{"arn:aws:s3:::cfd-reference/*"},
		S3ReadWrite: []string{"arn:aws:s3:::cfd-results", "arn:aws:s3:::cfd-results/*"},
	}
	c.Policy = spec.Policy{Prune: true, TerminationProtection: true, OnDrift: "report"}
	c.Tags = map[string]string{"team": "cfd"}
	return c
}

// existing uses what the account already has: the head node's security
// group, the nodes' IAM role, a file system and a volume; and puts the
// head node in a private subnet with Ubuntu's default image.
func existing() *spec.Cluster {
	c := minimal()
	c.Name = "reuse"
	c.Scheduler = "sge"
	c.BaseOS = "ubuntu2004"
	c.LoginUser = "ubuntu"
	c.HeadNode.SSHFrom = ""
	c.HeadNode.SecurityGroup = "sg-0aaaaaaaaaaaaaaa1"
	c.HeadNode.PublicIP = false
	c.HeadNode.KeyPair = "ops"
	c.Compute[0].InstanceType = "c6g.2xlarge"
	c.Compute[0].RootVolumeSize = 30
	c.Storage = spec.Storage{
		EBS: []spec.EBSVolume{{MountDir: "/shared", Volume: "vol-0aaaaaaaaaaaaaaa1"}},
		EFS: &spec.EFS{MountDir: "/home2", FileSystem: "fs-0aaaaaaaaaaaaaaa1"},
	}
	c.IAM = spec.IAM{Role: "arn:aws:iam::123456789012:role/hpc/cluster-nodes"}
	return c
}

// batch is an AWS Batch cluster with the defaults spec.Parse fills in.
func batch() *spec.Cluster {
	c := minimal()
	c.Name = "jobs"
	c.Scheduler = "awsbatch"
	c.Compute = nil
	c.Scaling = spec.Scaling{}
	c.Batch = &spec.Batch{
		MinVCPUs: 0, DesiredVCPUs: 4, MaxVCPUs: 20, InstanceTypes: []string{"optimal"},
		CapacityType: "onDemand", Subnet: "subnet-0123456789abcdef0",
	}
	return c
}

// batchSpot is an AWS Batch cluster on spot instances with its own image.
func batchSpot() *spec.Cluster {
	c := batch()
	c.Name = "cheap-jobs"
	c.HeadNode.AMI = "ami-0123456789abcdef0"
	c.HeadNode.KeyPair = "ops"
	c.Batch = &spec.Batch{
		MinVCPUs: 2, DesiredVCPUs: 8, MaxVCPUs: 256, InstanceTypes: []string{"c5", "m5.4xlarge"},
		CapacityType: "spot", SpotBidPercentage: 60, Subnet: "subnet-0fedcba9876543210",
	}
	return c
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
				{Name: "cpu", InstanceType: "c6i.2xlarge", MinNodes: 1, InitialNodes: intp(2), MaxNodes: 20, Subnet: "subnet-0123456789abcdef0", CapacityType: "onDemand"},
				{Name: "gpu-large", InstanceType: "g5.12xlarge", MinNodes: 0, InitialNodes: intp(0), MaxNodes: 4, Subnet: "subnet-0fedcba9876543210", CapacityType: "onDemand"},
			}
			return c
		}},
		{"keypair-ami", func() *spec.Cluster {
			c := minimal()
			c.Name = "gamma"
			c.BaseOS = "ubuntu2004"
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
		{"full", full},
		{"existing", existing},
		{"awsbatch", batch},
		{"awsbatch-spot", batchSpot},
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
		{"graviton queue gets the arm64 image", jsonOf(t, d.Resources["QueueBigMemLaunchTemplate"].Properties["LaunchTemplateData"].(map[string]any)["ImageId"]), `{"Ref":"Alinux2Arm64ImageId"}`},
		{"x86 queue gets the x86 image", jsonOf(t, d.Resources["QueueComputeLaunchTemplate"].Properties["LaunchTemplateData"].(map[string]any)["ImageId"]), `{"Ref":"Alinux2X86ImageId"}`},
		{"arm64 image parameter is a plain image id", d.Parameters["Alinux2Arm64ImageId"]["Type"], "AWS::EC2::Image::Id"},
		{"image parameter has no default", d.Parameters["Alinux2Arm64ImageId"]["Default"], nil},
		{"image parameters named for apply", jsonOf(t, st.Images), jsonOf(t, []ImageParameter{
			{Name: "Alinux2Arm64ImageId", Path: baseOSes["alinux2"].images[archArm64]},
			{Name: "Alinux2X86ImageId", Path: baseOSes["alinux2"].images[archX86]},
		})},
		{"group output", jsonOf(t, d.Outputs["BigMemGroupName"]["Value"]), `{"Ref":"QueueBigMemGroup"}`},
		{"login user output", d.Outputs["LoginUser"]["Value"], "ec2-user"},
		{"public ip output", jsonOf(t, d.Outputs["HeadNodePublicIp"]["Value"]), `{"Ref":"HeadNodeElasticIp"}`},
		{"elastic ip on the head node", jsonOf(t, d.Resources["HeadNodeElasticIp"].Properties["InstanceId"]), `{"Ref":"HeadNode"}`},
		{"private ip output", jsonOf(t, d.Outputs["HeadNodePrivateIp"]["Value"]), `{"Fn::GetAtt":["HeadNode","PrivateIp"]}`},
		{"spec version in metadata", jsonOf(t, d.Metadata["Driftless"].(map[string]any)["SpecVersion"]), `1`},
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

func TestSpecFromTemplate(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cluster()
			st, err := Render(c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := SpecFromTemplate(st.Template)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c) {
				t.Errorf("spec read back differs:\n got %s\nwant %s", jsonOf(t, got), jsonOf(t, c))
			}
		})
	}
	for _, body := range []string{`{}`, `{"Metadata":{"Driftless":{}}}`, `not json`, `{"Metadata":{"Driftless":{"Spec":"{"}}}`} {
		if _, err := SpecFromTemplate([]byte(body)); err == nil {
			t.Errorf("%s: no error", body)
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
		{"centos without ami", func() *spec.Cluster { c := minimal(); c.BaseOS = "centos7"; return c }, "set headNode.ami"},
		{"unknown base os", func() *spec.Cluster { c := minimal(); c.BaseOS = "plan9"; return c }, "unknown base OS"},
		{"awsbatch without batch settings", func() *spec.Cluster { c := batch(); c.Batch = nil; return c }, "batch settings"},
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
