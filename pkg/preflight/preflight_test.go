package preflight_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/awsclient"
	"github.com/driftless/driftless/pkg/preflight"
	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/spec"
)

// emulator runs with moto's validation switches on, so key pairs, images
// and instance types are real to it.
var emulator = moto.Shared{Options: []moto.Option{moto.WithValidation()}}

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.Close()
	os.Exit(code)
}

// account is what the tests create in the emulator: a good network and
// storage, and resources that are wrong in one way each.
type account struct {
	endpoint string
	ec2      *ec2.Client

	vpc, subnet, key           string
	sg, sgElsewhere            string
	otherVPC, otherSubnet      string // a VPC with DNS hostnames off
	amiX86, amiArm             string
	snap                       string // 50 GiB, completed
	vol, volOtherZone, volOurs string // available; in us-east-1b; attached to our head node
	volTaken                   string // attached to someone else's instance
	fs, role, policy           string
	cluster                    string // the name the good spec uses
}

var (
	setupOnce sync.Once
	world     *account
)

// setup builds the account once for the package; every case only reads
// it.
func setup(t *testing.T) *account {
	t.Helper()
	srv := emulator.Get(t)
	setupOnce.Do(func() { world = build(t, srv) })
	if world == nil {
		t.Fatal("setting up the account failed in an earlier test")
	}
	return world
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func build(t *testing.T, srv *moto.Server) *account {
	ctx := context.Background()
	cfg := srv.AWSConfig()
	c := ec2.NewFromConfig(cfg)
	a := &account{endpoint: srv.Endpoint, ec2: c, cluster: moto.UniqueName("good")}

	net := moto.NewNetwork(t, ctx, c)
	a.vpc, a.subnet, a.key = net.VPC, net.Subnet, net.KeyName
	other := moto.NewNetwork(t, ctx, c)
	a.otherVPC, a.otherSubnet = other.VPC, other.Subnet
	// As AWS leaves it in a new VPC.
	must[*ec2.ModifyVpcAttributeOutput](t, "disable DNS hostnames")(c.ModifyVpcAttribute(ctx, &ec2.ModifyVpcAttributeInput{
		VpcId: &a.otherVPC, EnableDnsHostnames: &ec2types.AttributeBooleanValue{Value: aws.Bool(false)}}))

	sg := func(vpc string) string {
		out := must[*ec2.CreateSecurityGroupOutput](t, "create security group")(c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
			GroupName: aws.String(moto.UniqueName("sg")), Description: aws.String("test"), VpcId: &vpc}))
		return aws.ToString(out.GroupId)
	}
	a.sg, a.sgElsewhere = sg(a.vpc), sg(a.otherVPC)

	image := func(arch string) string {
		out := must[*ec2.DescribeImagesOutput](t, "describe images")(c.DescribeImages(ctx, &ec2.DescribeImagesInput{
			Owners: []string{"amazon"}, Filters: []ec2types.Filter{{Name: aws.String("architecture"), Values: []string{arch}}}}))
		if len(out.Images) == 0 {
			t.Fatalf("moto has no %s image", arch)
		}
		return aws.ToString(out.Images[0].ImageId)
	}
	a.amiX86, a.amiArm = image("x86_64"), image("arm64")

	volume := func(az string, size int32) string {
		out := must[*ec2.CreateVolumeOutput](t, "create volume")(c.CreateVolume(ctx, &ec2.CreateVolumeInput{
			AvailabilityZone: aws.String(az), Size: aws.Int32(size)}))
		return aws.ToString(out.VolumeId)
	}
	snapVol := volume(moto.Region+"a", 50)
	a.snap = aws.ToString(must[*ec2.CreateSnapshotOutput](t, "create snapshot")(c.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: &snapVol})).SnapshotId)
	a.vol, a.volOtherZone = volume(moto.Region+"a", 10), volume(moto.Region+"b", 10)
	a.volOurs, a.volTaken = volume(moto.Region+"a", 10), volume(moto.Region+"a", 10)

	instance := func(tags map[string]string) string {
		in := &ec2.RunInstancesInput{ImageId: &a.amiX86, InstanceType: "t3.micro", MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: &a.subnet}
		if len(tags) > 0 {
			ts := ec2types.TagSpecification{ResourceType: ec2types.ResourceTypeInstance}
			for k, v := range tags {
				ts.Tags = append(ts.Tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
			}
			in.TagSpecifications = []ec2types.TagSpecification{ts}
		}
		out := must[*ec2.RunInstancesOutput](t, "run instance")(c.RunInstances(ctx, in))
		return aws.ToString(out.Instances[0].InstanceId)
	}
	attach := func(vol, inst string) {
		must[*ec2.AttachVolumeOutput](t, "attach volume")(c.AttachVolume(ctx, &ec2.AttachVolumeInput{
			VolumeId: &vol, InstanceId: &inst, Device: aws.String("/dev/sdf")}))
	}
	attach(a.volOurs, instance(map[string]string{render.TagCluster: a.cluster}))
	attach(a.volTaken, instance(nil))

	fs := must[*efs.CreateFileSystemOutput](t, "create file system")(efs.NewFromConfig(cfg).CreateFileSystem(ctx, &efs.CreateFileSystemInput{
		CreationToken: aws.String(moto.UniqueName("fs"))}))
	a.fs = aws.ToString(fs.FileSystemId)
	iamc := iam.NewFromConfig(cfg)
	role := must[*iam.CreateRoleOutput](t, "create role")(iamc.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String(moto.UniqueName("nodes")),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
	}))
	a.role = aws.ToString(role.Role.Arn)
	pol := must[*iam.CreatePolicyOutput](t, "create policy")(iamc.CreatePolicy(ctx, &iam.CreatePolicyInput{
		PolicyName:     aws.String(moto.UniqueName("extra")),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}`),
	}))
	a.policy = aws.ToString(pol.Policy.Arn)
	return a
}

// goodSpec names every kind of resource the checks read, all usable.
func (a *account) goodSpec(t *testing.T) *spec.Cluster {
	t.Helper()
	src := fmt.Sprintf(`version: 1
name: %s
region: us-east-1
scheduler: slurm
vpc: %s
headNode:
  instanceType: t3.medium
  subnet: %s
  keyPair: %s
  ami: %s
  securityGroup: %s
compute:
  - name: mpi
    instanceType: c5n.18xlarge
    maxNodes: 4
    efa: true
    additionalSecurityGroups: [%s]
  - name: small
    instanceType: c5.large
    maxNodes: 4
    subnet: %s
storage:
  ebs:
    - mountDir: /data
      snapshot: %s
    - mountDir: /scratch
      volume: %s
    - mountDir: /home2
      volume: %s
  efs:
    mountDir: /efs
    fileSystem: %s
iam:
  role: %s
`, a.cluster, a.vpc, a.subnet, a.key, a.amiX86, a.sg, a.sg, a.subnet, a.snap, a.vol, a.volOurs, a.fs, a.role)
	c, errs := spec.Parse("clusters/good.yaml", []byte(src))
	if len(errs) > 0 {
		t.Fatalf("good spec invalid:\n%v", errs)
	}
	return c
}

// calls counts the operations a checker's clients made.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) record(call awsclient.Call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[call.Operation]++
}

// checker builds a checker with the real SDK clients against endpoint,
// counting their calls.
func checker(t *testing.T, endpoint string, attempts int) (*preflight.Checker, *calls) {
	t.Helper()
	cs := &calls{n: make(map[string]int)}
	cfg, err := awsclient.Load(t.Context(), awsclient.Config{Region: moto.Region, Endpoint: endpoint, MaxAttempts: attempts},
		&awsclient.Recorder{OnCall: cs.record})
	if err != nil {
		t.Fatal(err)
	}
	return &preflight.Checker{EC2: ec2.NewFromConfig(cfg), EFS: efs.NewFromConfig(cfg), IAM: iam.NewFromConfig(cfg), Region: moto.Region}, cs
}

func TestCheck(t *testing.T) {
	a := setup(t)
	tests := []struct {
		name   string
		change func(c *spec.Cluster)
		// want are "field: part of the message", in order.
		want []string
	}{
		{name: "everything usable", change: func(*spec.Cluster) {}},
		{name: "policies instead of a role", change: func(c *spec.Cluster) {
			c.IAM = spec.IAM{Policies: []string{a.policy}}
		}},
		{name: "cluster declares another region", change: func(c *spec.Cluster) { c.Region = "eu-west-1" },
			want: []string{"region: is eu-west-1, but Driftless is configured for us-east-1"}},
		{name: "VPC missing", change: func(c *spec.Cluster) { c.VPC = "vpc-0123456789abcdef0" },
			want: []string{
				"vpc: VPC vpc-0123456789abcdef0 does not exist in us-east-1",
				"headNode.subnet: subnet " + a.subnet + " belongs to " + a.vpc + ", not to the cluster's VPC vpc-0123456789abcdef0 (also named in compute[0].subnet, compute[1].subnet)",
				"headNode.securityGroup: security group " + a.sg + " belongs to " + a.vpc,
			}},
		{name: "VPC without DNS hostnames", change: func(c *spec.Cluster) {
			c.VPC, c.HeadNode.Subnet, c.Compute = a.otherVPC, a.otherSubnet, c.Compute[1:]
			c.Compute[0].Subnet = a.otherSubnet
			c.HeadNode.SecurityGroup, c.Storage = "", spec.Storage{}
		}, want: []string{"vpc: VPC " + a.otherVPC + " has DNS hostnames (enableDnsHostnames) off; the nodes find each other and AWS by name: turn it on with aws ec2 modify-vpc-attribute --vpc-id " + a.otherVPC + " --enable-dns-hostnames"}},
		{name: "subnet missing", change: func(c *spec.Cluster) { c.Compute[1].Subnet = "subnet-0123456789abcdef0" },
			want: []string{"compute[1].subnet: subnet subnet-0123456789abcdef0 does not exist in us-east-1"}},
		{name: "subnet of another VPC", change: func(c *spec.Cluster) { c.Compute[1].Subnet = a.otherSubnet },
			want: []string{"compute[1].subnet: subnet " + a.otherSubnet + " belongs to " + a.otherVPC + ", not to the cluster's VPC " + a.vpc}},
		{name: "key pair missing", change: func(c *spec.Cluster) { c.HeadNode.KeyPair = "duff_key_us-east-1" },
			want: []string{`headNode.keyPair: key pair "duff_key_us-east-1" does not exist in us-east-1; import your public key`}},
		{name: "image missing", change: func(c *spec.Cluster) { c.HeadNode.AMI = "ami-0123456789abcdef0" },
			want: []string{"headNode.ami: image ami-0123456789abcdef0 does not exist in us-east-1"}},
		{name: "image of another architecture", change: func(c *spec.Cluster) { c.HeadNode.AMI = a.amiArm },
			want: []string{
				"headNode.instanceType: instance type t3.medium runs x86_64, but the image " + a.amiArm + " (headNode.ami) is built for arm64",
				"compute[0].instanceType: instance type c5n.18xlarge runs x86_64",
				"compute[1].instanceType: instance type c5.large runs x86_64",
			}},
		{name: "instance type not offered", change: func(c *spec.Cluster) { c.Compute[1].InstanceType = "c9z.large" },
			want: []string{"compute[1].instanceType: instance type c9z.large is not offered in us-east-1"}},
		{name: "batch instance type not offered", change: func(c *spec.Cluster) {
			c.Batch = &spec.Batch{InstanceTypes: []string{"optimal", "c5", "m5.large", "q1.huge"}, Subnet: a.subnet}
		}, want: []string{"batch.instanceTypes[3]: instance type q1.huge is not offered in us-east-1"}},
		{name: "EFA on a type without it", change: func(c *spec.Cluster) { c.Compute[1].EFA = true },
			want: []string{"compute[1].efa: instance type c5.large has no Elastic Fabric Adapter"}},
		{name: "snapshot missing", change: func(c *spec.Cluster) { c.Storage.EBS[0].Snapshot = "snap-0123456789abcdef0" },
			want: []string{"storage.ebs[0].snapshot: snapshot snap-0123456789abcdef0 does not exist in us-east-1"}},
		{name: "volume smaller than its snapshot", change: func(c *spec.Cluster) { c.Storage.EBS[0].Size = 20 },
			want: []string{"storage.ebs[0].size: is 20 GiB, smaller than snapshot " + a.snap + " (50 GiB)"}},
		{name: "volume missing", change: func(c *spec.Cluster) { c.Storage.EBS[1].Volume = "vol-0123456789abcdef0" },
			want: []string{"storage.ebs[1].volume: volume vol-0123456789abcdef0 does not exist in us-east-1"}},
		{name: "volume in another zone", change: func(c *spec.Cluster) { c.Storage.EBS[1].Volume = a.volOtherZone },
			want: []string{"storage.ebs[1].volume: volume " + a.volOtherZone + " is in us-east-1b, but the head node's subnet " + a.subnet + " is in us-east-1a"}},
		{name: "volume attached to another instance", change: func(c *spec.Cluster) { c.Storage.EBS[1].Volume = a.volTaken },
			want: []string{"storage.ebs[1].volume: volume " + a.volTaken + " is attached to i-"}},
		{name: "our volume seen by another cluster", change: func(c *spec.Cluster) { c.Name = "someone-else" },
			want: []string{"storage.ebs[2].volume: volume " + a.volOurs + " is attached to i-"}},
		{name: "security group missing", change: func(c *spec.Cluster) { c.HeadNode.SecurityGroup = "sg-0123456789abcdef0" },
			want: []string{"headNode.securityGroup: security group sg-0123456789abcdef0 does not exist in us-east-1"}},
		{name: "security group of another VPC", change: func(c *spec.Cluster) {
			c.HeadNode.AdditionalSecurityGroups = []string{a.sgElsewhere}
		}, want: []string{"headNode.additionalSecurityGroups[0]: security group " + a.sgElsewhere + " belongs to " + a.otherVPC}},
		{name: "file system missing", change: func(c *spec.Cluster) { c.Storage.EFS.FileSystem = "fs-0123456789abcdef0" },
			want: []string{"storage.efs.fileSystem: file system fs-0123456789abcdef0 does not exist in us-east-1"}},
		{name: "role missing", change: func(c *spec.Cluster) { c.IAM.Role = "arn:aws:iam::123456789012:role/hpc/missing" },
			want: []string{"iam.role: IAM role missing does not exist"}},
		{name: "policy missing", change: func(c *spec.Cluster) {
			c.IAM = spec.IAM{Policies: []string{a.policy, "arn:aws:iam::123456789012:policy/missing"}}
		}, want: []string{"iam.policies[1]: IAM policy arn:aws:iam::123456789012:policy/missing does not exist"}},
		{name: "everything wrong at once", change: func(c *spec.Cluster) {
			c.HeadNode.KeyPair = "duff_key_us-east-1"
			c.HeadNode.Subnet = "subnet-0123456789abcdef0"
			c.Compute[0].InstanceType = "c9z.large"
			c.Storage.EBS[0].Snapshot = "snap-0123456789abcdef0"
			c.Storage.EFS.FileSystem = "fs-0123456789abcdef0"
			c.IAM.Role = "missing"
		}, want: []string{
			"headNode.subnet: subnet subnet-0123456789abcdef0 does not exist",
			"headNode.keyPair: key pair",
			"compute[0].instanceType: instance type c9z.large is not offered",
			"storage.ebs[0].snapshot: snapshot snap-0123456789abcdef0 does not exist",
			"storage.efs.fileSystem: file system fs-0123456789abcdef0 does not exist",
			"iam.role: IAM role missing does not exist",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := a.goodSpec(t)
			tt.change(c)
			ch, cs := checker(t, a.endpoint, 0)
			fails, err := ch.Check(t.Context(), c)
			if err != nil {
				t.Fatalf("a check could not run: %v", err)
			}
			var got []string
			for _, f := range fails {
				if f.File != "clusters/good.yaml" {
					t.Errorf("failure %q does not name the spec's file", f.Error())
				}
				got = append(got, f.Field+": "+f.Msg)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d failures, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("failure %d:\n got %s\nwant %s…", i, got[i], tt.want[i])
				}
			}
			// One call per kind of resource, however many fields name it;
			// the VPC's two DNS settings are read one at a time, and IAM
			// has no batch read of policies.
			total := 0
			for op, n := range cs.n {
				total += n
				if n > 1 && !(op == "DescribeVpcAttribute" && n == 2) && !(op == "GetPolicy" && n == len(c.IAM.Policies)) {
					t.Errorf("%s called %d times", op, n)
				}
			}
			// Every kind but placement groups, a volume in use among them.
			if tt.name == "everything usable" && total != 14 {
				t.Errorf("%d calls, want 14: %v", total, cs.n)
			}
		})
	}
}

// TestUnreachable: a check that cannot run is an error, never a pass, and
// the checks stop at the first call that gets no answer.
func TestUnreachable(t *testing.T) {
	a := setup(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close()
	ch, cs := checker(t, endpoint, 1)
	reg := prometheus.NewRegistry()
	ch.Metrics = preflight.NewMetrics()
	if err := ch.Metrics.Register(reg); err != nil {
		t.Fatal(err)
	}
	c := a.goodSpec(t)
	fails, err := ch.Check(t.Context(), c)
	if err == nil {
		t.Fatalf("no error; failures %v", fails)
	}
	if !strings.Contains(err.Error(), "describe VPCs") || !strings.Contains(err.Error(), c.Name) {
		t.Errorf("error %q does not say what could not be checked", err)
	}
	if total := cs.n["DescribeVpcs"]; total != 1 || len(cs.n) != 1 {
		t.Errorf("calls after the first unanswered one: %v", cs.n)
	}
	if got := series(t, reg, "driftless_preflight_failures_total"); got[c.Name] != 1 {
		t.Errorf("failures counted %v, want 1 of %s", got, c.Name)
	}
	if got := series(t, reg, "driftless_preflight_checks_total"); got["error"] != 1 || len(got) != 1 {
		t.Errorf("checks counted %v, want 1 error", got)
	}
}

// placementGroups answers DescribePlacementGroups, which moto 5.2.5 does
// not implement (it answers 500); every other call goes to the emulator.
type placementGroups struct {
	preflight.EC2
	groups []ec2types.PlacementGroup
}

func (p placementGroups) DescribePlacementGroups(_ context.Context, in *ec2.DescribePlacementGroupsInput, _ ...func(*ec2.Options)) (*ec2.DescribePlacementGroupsOutput, error) {
	out := &ec2.DescribePlacementGroupsOutput{}
	for _, g := range p.groups {
		if slices.Contains(in.Filters[0].Values, aws.ToString(g.GroupName)) {
			out.PlacementGroups = append(out.PlacementGroups, g)
		}
	}
	return out, nil
}

func TestPlacementGroups(t *testing.T) {
	a := setup(t)
	groups := []ec2types.PlacementGroup{
		{GroupName: aws.String("tight"), Strategy: ec2types.PlacementStrategyCluster, State: ec2types.PlacementGroupStateAvailable},
		{GroupName: aws.String("spread"), Strategy: ec2types.PlacementStrategySpread, State: ec2types.PlacementGroupStateAvailable},
	}
	tests := []struct {
		group, want string
	}{
		{"dynamic", ""},
		{"tight", ""},
		{"spread", `compute[0].placementGroup: placement group "spread" has the spread strategy`},
		{"gone", `compute[0].placementGroup: placement group "gone" does not exist in us-east-1`},
	}
	for _, tt := range tests {
		t.Run(tt.group, func(t *testing.T) {
			ch, _ := checker(t, a.endpoint, 0)
			ch.EC2 = placementGroups{EC2: ch.EC2, groups: groups}
			c := a.goodSpec(t)
			c.Compute[0].PlacementGroup = tt.group
			fails, err := ch.Check(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			for _, f := range fails {
				got += f.Field + ": " + f.Msg
			}
			if tt.want == "" && got != "" || !strings.HasPrefix(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	a := setup(t)
	reg := prometheus.NewRegistry()
	m := preflight.NewMetrics()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	ch, _ := checker(t, a.endpoint, 0)
	ch.Metrics = m
	good := a.goodSpec(t)
	bad := a.goodSpec(t)
	bad.Name, bad.HeadNode.KeyPair = "bad", "missing"
	for _, c := range []*spec.Cluster{good, bad, bad} {
		if _, err := ch.Check(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	if got := series(t, reg, "driftless_preflight_checks_total"); got["pass"] != 1 || got["fail"] != 2 || len(got) != 2 {
		t.Errorf("checks counted %v, want 1 pass and 2 fail", got)
	}
	if got := series(t, reg, "driftless_preflight_failures_total"); got["bad"] != 2 || len(got) != 1 {
		t.Errorf("failures counted %v, want 2 of bad", got)
	}
	m.Forget("bad")
	if got := series(t, reg, "driftless_preflight_failures_total"); len(got) != 0 {
		t.Errorf("failure series left after Forget: %v", got)
	}
}

// series returns a counter's values by the value of its one label.
func series(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]float64)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	return out
}
