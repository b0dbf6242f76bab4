package render

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/spec"
)

// envMotoEndpoint names the environment variable holding the base URL of a
// running moto_server (http://127.0.0.1:PORT) for TestMotoCreateStack.
const envMotoEndpoint = "DRIFTLESS_MOTO_ENDPOINT"

// TestMotoCreateStack creates a rendered stack on the emulator and checks
// that what the template asks for exists with the properties the daemon
// relies on. The real integration tests live with apply; this one guards
// the template alone.
func TestMotoCreateStack(t *testing.T) {
	endpoint := os.Getenv(envMotoEndpoint)
	if endpoint == "" {
		t.Skipf("$%s is not set; start moto_server (scripts/moto.sh start) and set it to its URL to run this test", envMotoEndpoint)
	}
	ctx := t.Context()
	cfg := aws.Config{
		Region:       moto.Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	}
	ec2c := ec2.NewFromConfig(cfg)
	cfn := cloudformation.NewFromConfig(cfg)
	asg := autoscaling.NewFromConfig(cfg)
	net := moto.NewNetwork(t, ctx, ec2c)

	c := minimal()
	c.Name = moto.UniqueName("render")
	c.VPC = net.VPC
	c.HeadNode.Subnet = net.Subnet
	c.HeadNode.KeyPair = net.KeyName
	c.Tags = map[string]string{"team": "cfd"}
	c.Compute = []spec.Queue{
		{Name: "cpu", InstanceType: "c5.xlarge", MinNodes: 1, InitialNodes: intp(2), MaxNodes: 8},
		{Name: "gpu-large", InstanceType: "g5.xlarge", MinNodes: 0, MaxNodes: 2},
	}
	st, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	var tags []cfntypes.Tag
	for k, v := range st.Tags {
		tags = append(tags, cfntypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	_, err = cfn.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String(st.Name),
		TemplateBody: aws.String(string(st.Template)),
		Tags:         tags,
	})
	if err != nil {
		t.Fatalf("create stack: %v", err)
	}
	t.Cleanup(func() {
		_, _ = cfn.DeleteStack(context.WithoutCancel(ctx), &cloudformation.DeleteStackInput{StackName: aws.String(st.Name)})
	})

	stacks, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(st.Name)})
	if err != nil {
		t.Fatal(err)
	}
	stack := stacks.Stacks[0]
	if stack.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack status %s: %s", stack.StackStatus, aws.ToString(stack.StackStatusReason))
	}
	outputs := map[string]string{}
	for _, o := range stack.Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	for key, want := range map[string]string{
		"CpuGroupName":      GroupName(c.Name, "cpu"),
		"GpuLargeGroupName": GroupName(c.Name, "gpu-large"),
		"LoginUser":         "ec2-user",
	} {
		if outputs[key] != want {
			t.Errorf("output %s = %q, want %q", key, outputs[key], want)
		}
	}
	if outputs["HeadNodePrivateIp"] == "" {
		t.Error("no HeadNodePrivateIp output")
	}

	// Groups: the explicit names, MinSize and MaxSize as rendered, and the
	// desired capacity left at MinSize for the daemon to raise.
	groups, err := asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{
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
		if aws.ToString(g.VPCZoneIdentifier) != net.Subnet {
			t.Errorf("group %s in %q, want %s", want.Name, aws.ToString(g.VPCZoneIdentifier), net.Subnet)
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
	sgs, err := ec2c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{net.VPC}}},
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
	res, err := ec2c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{
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
		aws.ToString(head.SubnetId) != net.Subnet || aws.ToString(head.KeyName) != net.KeyName {
		t.Errorf("head node %s in %s with key %s", head.InstanceType, aws.ToString(head.SubnetId), aws.ToString(head.KeyName))
	}
	if aws.ToString(head.ImageId) == "" {
		t.Error("head node has no image: the SSM parameter was not resolved")
	}
}
