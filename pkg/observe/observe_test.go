package observe_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/awsclient"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/observe"
	"github.com/driftless/driftless/pkg/render"
)

var emulator moto.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.Close()
	os.Exit(code)
}

// group is one Auto Scaling group of a test template.
type group struct {
	name     string
	min, max int
}

// template is a small stack: a launch template and the given groups, each
// tagged with its cluster as the renderer does. Groups are named, which
// also keeps the name when moto replaces a group on update.
func template(t *testing.T, cluster, subnet string, groups ...group) string {
	t.Helper()
	res := map[string]any{
		"LaunchTemplate": map[string]any{
			"Type": "AWS::EC2::LaunchTemplate",
			"Properties": map[string]any{"LaunchTemplateData": map[string]any{
				"ImageId": "ami-12345678", "InstanceType": "t3.micro",
			}},
		},
	}
	for i, g := range groups {
		res["Group"+string(rune('A'+i))] = map[string]any{
			"Type": "AWS::AutoScaling::AutoScalingGroup",
			"Properties": map[string]any{
				"AutoScalingGroupName": g.name,
				"MinSize":              g.min,
				"MaxSize":              g.max,
				"VPCZoneIdentifier":    []string{subnet},
				"LaunchTemplate": map[string]any{
					"LaunchTemplateId": map[string]any{"Ref": "LaunchTemplate"},
					"Version":          map[string]any{"Fn::GetAtt": []string{"LaunchTemplate", "LatestVersionNumber"}},
				},
				"Tags": []map[string]any{{"Key": render.TagCluster, "Value": cluster, "PropagateAtLaunch": true}},
			},
		}
	}
	b, err := json.Marshal(map[string]any{"Resources": res})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func createStack(t *testing.T, cfn *cloudformation.Client, name, body string, protect bool, tags map[string]string) string {
	t.Helper()
	in := &cloudformation.CreateStackInput{
		StackName:                   aws.String(name),
		TemplateBody:                aws.String(body),
		EnableTerminationProtection: aws.Bool(protect),
	}
	for k, v := range tags {
		in.Tags = append(in.Tags, cfntypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := cfn.CreateStack(t.Context(), in)
	if err != nil {
		t.Fatalf("create stack %s: %v", name, err)
	}
	return aws.ToString(out.StackId)
}

func TestObserveAgainstMoto(t *testing.T) {
	srv := emulator.Get(t)
	ctx := t.Context()
	cl, err := awsclient.New(ctx, awsclient.Config{Region: moto.Region, Endpoint: srv.Endpoint}, nil)
	if err != nil {
		t.Fatal(err)
	}
	net := moto.NewNetwork(t, ctx, cl.EC2)

	// a: ours, protected, two groups, one of them running two nodes.
	a := moto.UniqueName("obs-a")
	aCompute, aGPU := a+"-compute", a+"-gpu"
	aID := createStack(t, cl.CFN, render.StackName(a),
		template(t, a, net.Subnet, group{aGPU, 0, 4}, group{aCompute, 0, 10}), true,
		map[string]string{render.TagCluster: a, render.TagRevision: "abc123", render.TagSpecHash: "h-a", "team": "physics"})
	if _, err := cl.ASG.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(aCompute), DesiredCapacity: aws.Int32(2),
	}); err != nil {
		t.Fatal(err)
	}

	// b: ours, no groups in its template, but more groups tagged with its
	// cluster than one page of DescribeAutoScalingGroups holds.
	b := moto.UniqueName("obs-b")
	bID := createStack(t, cl.CFN, render.StackName(b), template(t, b, net.Subnet), false,
		map[string]string{render.TagCluster: b, render.TagSpecHash: "h-b"})
	const extra = 53
	var bGroups []diff.LiveGroup
	for i := range extra {
		name := b + "-extra-" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		if _, err := cl.ASG.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(name),
			MinSize:              aws.Int32(0),
			MaxSize:              aws.Int32(1),
			VPCZoneIdentifier:    aws.String(net.Subnet),
			LaunchTemplate: &asgtypes.LaunchTemplateSpecification{
				LaunchTemplateId: launchTemplate(t, cl.CFN, render.StackName(a)),
			},
			Tags: []asgtypes.Tag{{Key: aws.String(render.TagCluster), Value: aws.String(b)}},
		}); err != nil {
			t.Fatalf("create group %s: %v", name, err)
		}
		bGroups = append(bGroups, diff.LiveGroup{Name: name, Max: 1, Tags: map[string]string{render.TagCluster: b}})
	}

	// c: not ours (no cluster tag) although its group is named like ours.
	c := moto.UniqueName("obs-c")
	createStack(t, cl.CFN, "other-"+c, template(t, "", net.Subnet, group{c + "-compute", 0, 2}), false,
		map[string]string{"team": "web"})

	// d: ours, deleted.
	d := moto.UniqueName("obs-d")
	createStack(t, cl.CFN, render.StackName(d), template(t, d, net.Subnet), false,
		map[string]string{render.TagCluster: d})
	if _, err := cl.CFN.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(render.StackName(d))}); err != nil {
		t.Fatal(err)
	}

	got, err := observe.Observe(ctx, cl.CFN, cl.ASG)
	if err != nil {
		t.Fatal(err)
	}
	byCluster := map[string]diff.Live{}
	for _, l := range got {
		if strings.HasPrefix(l.StackName, "other-") {
			t.Errorf("observed a stack without our tag: %s", l.StackName)
		}
		byCluster[l.Cluster] = l
	}

	tests := []struct {
		name    string
		cluster string
		want    *diff.Live
	}{
		{"protected stack with groups", a, &diff.Live{
			Cluster: a, StackName: render.StackName(a), StackID: aID, Status: "CREATE_COMPLETE",
			Tags:     map[string]string{render.TagCluster: a, render.TagRevision: "abc123", render.TagSpecHash: "h-a", "team": "physics"},
			Revision: "abc123", Hash: "h-a", TerminationProtection: true,
			Groups: []diff.LiveGroup{
				{Name: aCompute, Min: 0, Max: 10, Desired: 2, InService: 2, Tags: map[string]string{render.TagCluster: a}},
				{Name: aGPU, Min: 0, Max: 4, Tags: map[string]string{render.TagCluster: a}},
			},
		}},
		{"groups found across pages", b, &diff.Live{
			Cluster: b, StackName: render.StackName(b), StackID: bID, Status: "CREATE_COMPLETE",
			Tags: map[string]string{render.TagCluster: b, render.TagSpecHash: "h-b"},
			Hash: "h-b", Groups: bGroups,
		}},
		{"not ours", c, nil},
		{"deleted", d, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, ok := byCluster[tt.cluster]
			if tt.want == nil {
				if ok {
					t.Fatalf("observed %+v, want nothing", l)
				}
				return
			}
			if !reflect.DeepEqual(l, *tt.want) {
				t.Errorf("observed\n%+v\nwant\n%+v", l, *tt.want)
			}
		})
	}
}

// launchTemplate returns the id of the launch template of a test stack.
func launchTemplate(t *testing.T, cfn *cloudformation.Client, stack string) *string {
	t.Helper()
	out, err := cfn.DescribeStackResource(t.Context(), &cloudformation.DescribeStackResourceInput{
		StackName: aws.String(stack), LogicalResourceId: aws.String("LaunchTemplate"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.StackResourceDetail.PhysicalResourceId
}

// pagedStacks serves DescribeStacks in pages. It exists because moto
// returns every stack in one page, so following NextToken is not
// exercised there.
type pagedStacks struct {
	pages [][]cfntypes.Stack
	err   error
}

func (p *pagedStacks) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput,
	_ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	if p.err != nil {
		return nil, p.err
	}
	i := 0
	if in.NextToken != nil {
		i = int(aws.ToString(in.NextToken)[0] - '0')
	}
	out := &cloudformation.DescribeStacksOutput{Stacks: p.pages[i]}
	if i+1 < len(p.pages) {
		out.NextToken = aws.String(string(rune('0' + i + 1)))
	}
	return out, nil
}

// noGroups is an Auto Scaling API without groups.
type noGroups struct{ err error }

func (n noGroups) DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput,
	...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	return &autoscaling.DescribeAutoScalingGroupsOutput{}, n.err
}

func stack(name, cluster string, status cfntypes.StackStatus) cfntypes.Stack {
	s := cfntypes.Stack{StackName: aws.String(name), StackStatus: status}
	if cluster != "" {
		s.Tags = []cfntypes.Tag{{Key: aws.String(render.TagCluster), Value: aws.String(cluster)}}
	}
	return s
}

func TestObservePagesAndErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		cfn     *pagedStacks
		asg     noGroups
		want    []string
		wantErr string
	}{
		{
			name: "three pages, sorted by cluster",
			cfn: &pagedStacks{pages: [][]cfntypes.Stack{
				{stack("driftless-z", "z", cfntypes.StackStatusCreateComplete)},
				{stack("web", "", cfntypes.StackStatusCreateComplete), stack("driftless-a", "a", cfntypes.StackStatusUpdateRollbackComplete)},
				{stack("driftless-m", "m", cfntypes.StackStatusDeleteComplete), stack("driftless-b", "b", cfntypes.StackStatusDeleteFailed)},
			}},
			want: []string{"a", "b", "z"},
		},
		{name: "describe stacks fails", cfn: &pagedStacks{err: boom}, wantErr: "describe stacks: boom"},
		{
			name:    "describe groups fails",
			cfn:     &pagedStacks{pages: [][]cfntypes.Stack{{stack("driftless-a", "a", cfntypes.StackStatusCreateComplete)}}},
			asg:     noGroups{err: boom},
			wantErr: "describe auto scaling groups: boom",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := observe.Observe(t.Context(), tt.cfn, tt.asg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, boom) {
					t.Fatalf("error = %v, want %q wrapping boom", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var clusters []string
			for _, l := range got {
				clusters = append(clusters, l.Cluster)
			}
			if !reflect.DeepEqual(clusters, tt.want) {
				t.Errorf("clusters = %v, want %v", clusters, tt.want)
			}
		})
	}
}
