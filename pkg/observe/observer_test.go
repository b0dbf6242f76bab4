package observe_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/driftless/driftless/internal/testbed/images"
	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/awsclient"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/observe"
	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/spec"
)

// renderedStack renders a small real cluster in the test network.
func renderedStack(t *testing.T, net moto.Network, name string) *render.Stack {
	t.Helper()
	text := fmt.Sprintf(`version: 1
name: %s
region: us-east-1
scheduler: slurm
vpc: %s
headNode:
  instanceType: t3.medium
  subnet: %s
  sshFrom: 192.0.2.0/24
compute:
  - name: compute
    instanceType: c5.large
    maxNodes: 3
`, name, net.VPC, net.Subnet)
	c, errs := spec.Parse(name+".yaml", []byte(text))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	st, err := render.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func createRendered(t *testing.T, cfn *cloudformation.Client, st *render.Stack) string {
	t.Helper()
	tags := map[string]string{render.TagSpecHash: st.Hash}
	for k, v := range st.Tags {
		tags[k] = v
	}
	in := &cloudformation.CreateStackInput{
		StackName:    aws.String(st.Name),
		TemplateBody: aws.String(string(st.Template)),
		Parameters:   images.Parameters(t, cfn, st),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
	}
	for k, v := range tags {
		in.Tags = append(in.Tags, cfntypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := cfn.CreateStack(t.Context(), in)
	if err != nil {
		t.Fatalf("create stack %s: %v", st.Name, err)
	}
	return aws.ToString(out.StackId)
}

func find(lives []diff.Live, cluster string) *diff.Live {
	for i := range lives {
		if lives[i].Cluster == cluster {
			return &lives[i]
		}
	}
	return nil
}

func TestObserverAgainstMoto(t *testing.T) {
	srv := emulator.Get(t)
	ctx := t.Context()
	cl, err := awsclient.New(ctx, awsclient.Config{Region: moto.Region, Endpoint: srv.Endpoint}, nil)
	if err != nil {
		t.Fatal(err)
	}
	net := moto.NewNetwork(t, ctx, cl.EC2)
	name := moto.UniqueName("obsv")
	st := renderedStack(t, net, name)
	id := createRendered(t, cl.CFN, st)
	o := &observe.Observer{Stacks: cl.CFN, Groups: cl.ASG, Instances: cl.EC2}

	// In sync: no template is read, the head node is found by the tags
	// CloudFormation gives it.
	got, err := o.Observe(ctx, map[string]string{name: st.Hash})
	if err != nil {
		t.Fatal(err)
	}
	l := find(got, name)
	if l == nil {
		t.Fatalf("%s not observed", name)
	}
	if l.Template != nil {
		t.Error("the template was read although the hashes match")
	}
	if l.HeadNode == nil || l.HeadNode.State != "running" || !strings.HasPrefix(l.HeadNode.ID, "i-") {
		t.Fatalf("head node %+v, want a running instance", l.HeadNode)
	}
	if l.HeadNode.Tags["Name"] != name+"-head-node" {
		t.Errorf("head node tags %v", l.HeadNode.Tags)
	}
	if len(l.Groups) != 1 || l.Groups[0].Tags[render.TagQueue] != "compute" {
		t.Errorf("groups %+v, want one with its tags", l.Groups)
	}

	// The repo's hash differs: the live template is read.
	got, err = o.Observe(ctx, map[string]string{name: "another-hash"})
	if err != nil {
		t.Fatal(err)
	}
	if l := find(got, name); l == nil || string(l.Template) != string(st.Template) {
		t.Fatalf("live template not read back as created")
	}

	// The head node terminated by hand.
	if _, err := cl.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{l.HeadNode.ID}}); err != nil {
		t.Fatal(err)
	}
	got, err = o.Observe(ctx, map[string]string{name: st.Hash})
	if err != nil {
		t.Fatal(err)
	}
	if l := find(got, name); l.HeadNode == nil || l.HeadNode.State != "terminated" {
		t.Errorf("head node after termination: %+v", find(got, name).HeadNode)
	}

	// The stack deleted by hand: a declared cluster gets its deleted
	// stack; one never created gets nothing.
	if _, err := cl.CFN.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	never := moto.UniqueName("never")
	got, err = o.Observe(ctx, map[string]string{name: st.Hash, never: "h"})
	if err != nil {
		t.Fatal(err)
	}
	l = find(got, name)
	if l == nil || l.Status != "DELETE_COMPLETE" || l.StackID != id {
		t.Fatalf("deleted stack: %+v", l)
	}
	if find(got, never) != nil {
		t.Errorf("a cluster never created has a live entry")
	}
	// Undeclared, the deleted stack is not looked for.
	got, err = o.Observe(ctx, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if find(got, name) != nil {
		t.Error("the deleted stack of an undeclared cluster was reported")
	}
}

// driftingStacks decorates moto's DescribeStacks with CloudFormation's
// drift information and serves drift detection, neither of which moto
// 5.x implements.
type driftingStacks struct {
	*cloudformation.Client
	status   cfntypes.StackDriftStatus
	checked  time.Time
	detected []string
	drifts   []cfntypes.StackResourceDrift
}

func (d *driftingStacks) DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput,
	opts ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	out, err := d.Client.DescribeStacks(ctx, in, opts...)
	if err != nil {
		return nil, err
	}
	for i := range out.Stacks {
		if !d.checked.IsZero() {
			out.Stacks[i].DriftInformation = &cfntypes.StackDriftInformation{StackDriftStatus: d.status, LastCheckTimestamp: aws.Time(d.checked)}
		}
	}
	return out, nil
}

func (d *driftingStacks) DetectStackDrift(_ context.Context, in *cloudformation.DetectStackDriftInput,
	_ ...func(*cloudformation.Options)) (*cloudformation.DetectStackDriftOutput, error) {
	d.detected = append(d.detected, aws.ToString(in.StackName))
	return &cloudformation.DetectStackDriftOutput{StackDriftDetectionId: aws.String("det-1")}, nil
}

func (d *driftingStacks) DescribeStackResourceDrifts(_ context.Context, _ *cloudformation.DescribeStackResourceDriftsInput,
	_ ...func(*cloudformation.Options)) (*cloudformation.DescribeStackResourceDriftsOutput, error) {
	return &cloudformation.DescribeStackResourceDriftsOutput{StackResourceDrifts: d.drifts}, nil
}

func TestObserverDriftDetection(t *testing.T) {
	srv := emulator.Get(t)
	ctx := t.Context()
	cl, err := awsclient.New(ctx, awsclient.Config{Region: moto.Region, Endpoint: srv.Endpoint}, nil)
	if err != nil {
		t.Fatal(err)
	}
	net := moto.NewNetwork(t, ctx, cl.EC2)
	name := moto.UniqueName("drift")
	st := renderedStack(t, net, name)
	id := createRendered(t, cl.CFN, st)
	created := time.Now()
	fake := &driftingStacks{Client: cl.CFN, drifts: []cfntypes.StackResourceDrift{{
		LogicalResourceId: aws.String("ClusterSecurityGroup"), ResourceType: aws.String("AWS::EC2::SecurityGroup"),
		StackResourceDriftStatus: cfntypes.StackResourceDriftStatusModified,
		PropertyDifferences: []cfntypes.PropertyDifference{{PropertyPath: aws.String("/SecurityGroupIngress/1"),
			ExpectedValue: aws.String("null"), ActualValue: aws.String(`{"CidrIp":"0.0.0.0/0"}`), DifferenceType: cfntypes.DifferenceTypeAdd}},
	}}}
	now := created.Add(time.Hour)
	o := &observe.Observer{Stacks: fake, Groups: cl.ASG, Detector: fake, DriftInterval: 6 * time.Hour, Now: func() time.Time { return now }}

	// The emulator is shared with other tests: count this stack's
	// detections only.
	detections := func() int {
		n := 0
		for _, d := range fake.detected {
			if d == id {
				n++
			}
		}
		return n
	}
	observeOnce := func() *diff.Live {
		t.Helper()
		got, err := o.Observe(ctx, map[string]string{name: st.Hash})
		if err != nil {
			t.Fatal(err)
		}
		return find(got, name)
	}

	// Never checked: a detection starts, nothing is reported yet.
	if l := observeOnce(); len(l.ResourceDrift) != 0 || detections() != 1 {
		t.Fatalf("never checked: drift %+v, detections %v", l.ResourceDrift, fake.detected)
	}
	// Checked after the stack was made and found drifted: reported; no
	// new detection within the interval.
	fake.status, fake.checked = cfntypes.StackDriftStatusDrifted, created.Add(time.Minute)
	l := observeOnce()
	if len(l.ResourceDrift) != 1 || l.ResourceDrift[0].LogicalID != "ClusterSecurityGroup" ||
		!strings.Contains(l.ResourceDrift[0].Properties[0], `/SecurityGroupIngress/1: absent → {"CidrIp":"0.0.0.0/0"}`) {
		t.Errorf("drift %+v", l.ResourceDrift)
	}
	if detections() != 1 {
		t.Errorf("a detection started within the interval: %v", fake.detected)
	}
	// A check older than the stack's last change says nothing about it.
	fake.checked = created.Add(-time.Hour)
	if l := observeOnce(); len(l.ResourceDrift) != 0 {
		t.Errorf("stale drift reported: %+v", l.ResourceDrift)
	}
	// Past the interval a new detection starts.
	fake.checked, now = created.Add(time.Minute), created.Add(7*time.Hour)
	observeOnce()
	if detections() != 2 {
		t.Errorf("detections %v, want a second one past the interval", fake.detected)
	}
}
