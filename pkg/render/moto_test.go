package render

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/spec"
)

// envMotoEndpoint names the environment variable holding the base URL of a
// running moto_server (http://127.0.0.1:PORT) for the emulator tests.
const envMotoEndpoint = "DRIFTLESS_MOTO_ENDPOINT"

// motoSkips are the resource types moto 5.2.5 skips with a warning while
// the stack still reaches CREATE_COMPLETE. Wait conditions and their
// handles it treats as done at once, without listing them; nothing
// signals them there.
var motoSkips = []string{"AWS::EC2::PlacementGroup", "AWS::EC2::SecurityGroupEgress",
	"AWS::CloudFormation::WaitCondition", "AWS::CloudFormation::WaitConditionHandle"}

// motoClients are the SDK clients of one emulator.
type motoClients struct {
	ec2   *ec2.Client
	cfn   *cloudformation.Client
	asg   *autoscaling.Client
	batch *awsbatch.Client
	ssm   *ssm.Client
	net   moto.Network
}

func newMotoClients(t *testing.T) motoClients {
	t.Helper()
	endpoint := os.Getenv(envMotoEndpoint)
	if endpoint == "" {
		t.Skipf("$%s is not set; start moto_server (scripts/moto.sh start) and set it to its URL to run this test", envMotoEndpoint)
	}
	cfg := aws.Config{
		Region:       moto.Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	}
	m := motoClients{
		ec2:   ec2.NewFromConfig(cfg),
		cfn:   cloudformation.NewFromConfig(cfg),
		asg:   autoscaling.NewFromConfig(cfg),
		batch: awsbatch.NewFromConfig(cfg),
		ssm:   ssm.NewFromConfig(cfg),
	}
	m.net = moto.NewNetwork(t, t.Context(), m.ec2)
	return m
}

// create creates the stack and fails the test unless it completes with
// every resource the template asks for, bar those moto skips.
func (m motoClients) create(t *testing.T, st *Stack) map[string]string {
	t.Helper()
	ctx := t.Context()
	var tags []cfntypes.Tag
	for k, v := range st.Tags {
		tags = append(tags, cfntypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	// Each image parameter gets the image its SSM path names, as apply
	// gives it; moto publishes the Amazon Linux paths.
	var params []cfntypes.Parameter
	for _, p := range st.Images {
		out, err := m.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(p.Path)})
		if err != nil {
			t.Fatalf("image parameter %s: %v", p.Name, err)
		}
		params = append(params, cfntypes.Parameter{ParameterKey: aws.String(p.Name), ParameterValue: out.Parameter.Value})
	}
	_, err := m.cfn.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String(st.Name),
		TemplateBody: aws.String(string(st.Template)),
		Parameters:   params,
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
		Tags:         tags,
	})
	if err != nil {
		t.Fatalf("create stack: %v", err)
	}
	t.Cleanup(func() {
		_, _ = m.cfn.DeleteStack(context.WithoutCancel(ctx), &cloudformation.DeleteStackInput{StackName: aws.String(st.Name)})
	})
	stacks, err := m.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(st.Name)})
	if err != nil {
		t.Fatal(err)
	}
	stack := stacks.Stacks[0]
	if stack.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack status %s: %s", stack.StackStatus, aws.ToString(stack.StackStatusReason))
	}

	var doc struct {
		Resources map[string]struct{ Type string }
	}
	if err := json.Unmarshal(st.Template, &doc); err != nil {
		t.Fatal(err)
	}
	res, err := m.cfn.ListStackResources(ctx, &cloudformation.ListStackResourcesInput{StackName: aws.String(st.Name)})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]string{}
	for _, r := range res.StackResourceSummaries {
		have[aws.ToString(r.LogicalResourceId)] = aws.ToString(r.ResourceType)
	}
	for id, r := range doc.Resources {
		if have[id] != r.Type && !slices.Contains(motoSkips, r.Type) {
			t.Errorf("the template asks for %s (%s); the stack has %q", id, r.Type, have[id])
		}
	}

	outputs := map[string]string{}
	for _, o := range stack.Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return outputs
}

// TestMotoCreateStack creates rendered stacks on the emulator and checks
// that what the templates ask for exists with the properties the daemon
// relies on. The real integration tests live with apply; these guard the
// templates alone.
func TestMotoCreateStack(t *testing.T) {
	m := newMotoClients(t)
	ctx := t.Context()

	c := minimal()
	c.Name = moto.UniqueName("render")
	c.VPC = m.net.VPC
	c.HeadNode.Subnet = m.net.Subnet
	c.HeadNode.KeyPair = m.net.KeyName
	c.Tags = map[string]string{"team": "cfd"}
	c.Compute = []spec.Queue{
		{Name: "cpu", InstanceType: "c5.xlarge", MinNodes: 1, InitialNodes: intp(2), MaxNodes: 8, Subnet: m.net.Subnet},
		{Name: "gpu-large", InstanceType: "g5.xlarge", MinNodes: 0, MaxNodes: 2, Subnet: m.net.Subnet},
	}
	st, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs := m.create(t, st)
	for key, want := range map[string]string{
		"CpuGroupName":      GroupName(c.Name, "cpu"),
		"GpuLargeGroupName": GroupName(c.Name, "gpu-large"),
		"LoginUser":         "ec2-user",
	} {
		if outputs[key] != want {
			t.Errorf("output %s = %q, want %q", key, outputs[key], want)
		}
	}
	if outputs["HeadNodePrivateIp"] == "" || outputs["HeadNodePublicIp"] == "" {
		t.Errorf("head node addresses missing from the outputs %v", outputs)
	}

	// Groups: the explicit names, MinSize and MaxSize as rendered, and the
	// desired capacity left at MinSize for the daemon to raise.
	groups, err := m.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{st.Groups[0].Name, st.Groups[1].Name},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(groups.AutoScalingGroups) != len(st.Groups) {
		t.Fatalf("found %d groups, want %d", len(groups.AutoScalingGroups), len(st.Groups))
	}
	for _, g := range groups.AutoScalingGroups {
		i := slices.IndexFunc(st.Groups, func(r Group) bool { return r.Name == aws.ToString(g.AutoScalingGroupName) })
		if i < 0 {
			t.Errorf("unexpected group %s", aws.ToString(g.AutoScalingGroupName))
			continue
		}
		want := st.Groups[i]
		if int(aws.ToInt32(g.MinSize)) != want.Min || int(aws.ToInt32(g.MaxSize)) != want.Max || int(aws.ToInt32(g.DesiredCapacity)) != want.Min {
			t.Errorf("group %s: min %d max %d desired %d, want %d %d %d", want.Name,
				aws.ToInt32(g.MinSize), aws.ToInt32(g.MaxSize), aws.ToInt32(g.DesiredCapacity), want.Min, want.Max, want.Min)
		}
		if aws.ToString(g.VPCZoneIdentifier) != m.net.Subnet {
			t.Errorf("group %s in %q, want %s", want.Name, aws.ToString(g.VPCZoneIdentifier), m.net.Subnet)
		}
		if g.LaunchTemplate == nil || aws.ToString(g.LaunchTemplate.LaunchTemplateName) != want.Name {
			t.Errorf("group %s launch template %+v", want.Name, g.LaunchTemplate)
		}
		propagated := map[string]bool{}
		for _, tag := range g.Tags {
			if aws.ToBool(tag.PropagateAtLaunch) {
				propagated[aws.ToString(tag.Key)+"="+aws.ToString(tag.Value)] = true
			}
		}
		for _, kv := range []string{TagCluster + "=" + c.Name, TagQueue + "=" + want.Queue} {
			if !propagated[kv] {
				t.Errorf("group %s does not propagate %s", want.Name, kv)
			}
		}
	}

	// Security groups: SSH from sshFrom only, and the cluster group open
	// to itself.
	sgs, err := m.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{m.net.VPC}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var sawSSH, sawSelf bool
	for _, g := range sgs.SecurityGroups {
		for _, p := range g.IpPermissions {
			if aws.ToString(p.IpProtocol) == "tcp" && aws.ToInt32(p.FromPort) == 22 {
				sawSSH = len(p.IpRanges) == 1 && aws.ToString(p.IpRanges[0].CidrIp) == c.HeadNode.SSHFrom
			}
			if aws.ToString(p.IpProtocol) == "-1" && len(p.UserIdGroupPairs) == 1 &&
				aws.ToString(p.UserIdGroupPairs[0].GroupId) == aws.ToString(g.GroupId) {
				sawSelf = true
			}
		}
	}
	if !sawSSH {
		t.Errorf("no group allows SSH from %s only", c.HeadNode.SSHFrom)
	}
	if !sawSelf {
		t.Error("no group allows all traffic from itself")
	}

	// The head node, found by its Name tag.
	res, err := m.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag:Name"), Values: []string{c.Name + "-head-node"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Reservations) != 1 || len(res.Reservations[0].Instances) != 1 {
		t.Fatalf("found %d reservations for the head node", len(res.Reservations))
	}
	head := res.Reservations[0].Instances[0]
	if head.InstanceType != ec2types.InstanceType(c.HeadNode.InstanceType) ||
		aws.ToString(head.SubnetId) != m.net.Subnet || aws.ToString(head.KeyName) != m.net.KeyName {
		t.Errorf("head node %s in %s with key %s", head.InstanceType, aws.ToString(head.SubnetId), aws.ToString(head.KeyName))
	}
	if aws.ToString(head.ImageId) == "" {
		t.Error("head node has no image: the SSM parameter was not resolved")
	}
	if head.IamInstanceProfile == nil {
		t.Error("head node has no instance profile")
	}
}

// TestMotoCreateFullStack creates a cluster with every setting on the
// emulator: shared volumes, RAID, EFS, IAM, spot, EFA, placement groups.
func TestMotoCreateFullStack(t *testing.T) {
	m := newMotoClients(t)
	ctx := t.Context()
	var sgs []string
	for range 2 {
		out, err := m.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
			GroupName: aws.String(moto.UniqueName("extra")), Description: aws.String("extra"), VpcId: aws.String(m.net.VPC),
		})
		if err != nil {
			t.Fatal(err)
		}
		sgs = append(sgs, aws.ToString(out.GroupId))
	}
	vol, err := m.ec2.CreateVolume(ctx, &ec2.CreateVolumeInput{Size: aws.Int32(10), AvailabilityZone: aws.String(moto.Region + "a")})
	if err != nil {
		t.Fatal(err)
	}

	c := full()
	c.Name = moto.UniqueName("full")
	c.VPC = m.net.VPC
	c.HeadNode.Subnet = m.net.Subnet
	c.HeadNode.KeyPair = m.net.KeyName
	c.HeadNode.AdditionalSecurityGroups = sgs[:1]
	for i := range c.Compute {
		c.Compute[i].Subnet = m.net.Subnet
	}
	c.Compute[1].AdditionalSecurityGroups = sgs[1:]
	// moto creates a volume from a snapshot only when given its size.
	c.Storage.EBS[1].Size = 100
	c.Storage.EBS[2].Volume = aws.ToString(vol.VolumeId)
	st, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs := m.create(t, st)
	if outputs["LoginUser"] != "centos" || outputs["MpiGroupName"] != GroupName(c.Name, "mpi") {
		t.Errorf("outputs %v", outputs)
	}

	// Every shared volume and RAID member is attached to the head node.
	head, err := m.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag:Name"), Values: []string{c.Name + "-head-node"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(head.Reservations) != 1 {
		t.Fatalf("found %d reservations for the head node", len(head.Reservations))
	}
	devices := map[string]bool{}
	for _, bdm := range head.Reservations[0].Instances[0].BlockDeviceMappings {
		devices[aws.ToString(bdm.DeviceName)] = true
	}
	for i := range c.Storage.EBS {
		if !devices[ebsDevice(i)] {
			t.Errorf("no volume at %s", ebsDevice(i))
		}
	}
	for j := range c.Storage.RAID.Volumes {
		if !devices[raidDevice(j)] {
			t.Errorf("no RAID member at %s", raidDevice(j))
		}
	}

	// Min of the keepInitialSize queue is its initial size.
	g, err := m.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{GroupName(c.Name, "spot")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.AutoScalingGroups) != 1 || aws.ToInt32(g.AutoScalingGroups[0].MinSize) != 1 || aws.ToInt32(g.AutoScalingGroups[0].MaxSize) != 100 {
		t.Errorf("spot group %+v", g.AutoScalingGroups)
	}
}

// TestMotoCreateBatchStack creates an awsbatch cluster on the emulator.
func TestMotoCreateBatchStack(t *testing.T) {
	m := newMotoClients(t)
	c := batchSpot()
	c.Name = moto.UniqueName("batch")
	c.VPC = m.net.VPC
	c.HeadNode.Subnet = m.net.Subnet
	c.HeadNode.KeyPair = m.net.KeyName
	c.Batch.Subnet = m.net.Subnet
	st, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs := m.create(t, st)
	ces, err := m.batch.DescribeComputeEnvironments(t.Context(), &awsbatch.DescribeComputeEnvironmentsInput{
		ComputeEnvironments: []string{outputs[outBatchComputeEnv]},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ces.ComputeEnvironments) != 1 {
		t.Fatalf("found %d compute environments", len(ces.ComputeEnvironments))
	}
	cr := ces.ComputeEnvironments[0].ComputeResources
	if cr == nil || aws.ToInt32(cr.MaxvCpus) != 256 || aws.ToInt32(cr.MinvCpus) != 2 || string(cr.Type) != "SPOT" {
		t.Errorf("compute resources %+v", cr)
	}
}
