package observe

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/render"
)

// CFN is the CloudFormation call Observe makes; *cloudformation.Client
// satisfies it.
type CFN interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput,
		opts ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

// ASG is the Auto Scaling call Observe makes; *autoscaling.Client
// satisfies it.
type ASG interface {
	DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput,
		opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
}

var (
	_ CFN = (*cloudformation.Client)(nil)
	_ ASG = (*autoscaling.Client)(nil)
)

// TagStackName is the tag CloudFormation puts on the resources of a stack.
// moto 5.x does not set it on Auto Scaling groups, so groups are also
// matched by render.TagCluster.
const TagStackName = "aws:cloudformation:stack-name"

// groupPageSize is the MaxRecords of DescribeAutoScalingGroups: AWS allows
// 100 at most, moto fails above 100, and 50 is the default of both.
const groupPageSize = 50

// Observe returns every live stack that carries render.TagCluster, with its
// Auto Scaling groups, sorted by cluster and stack name. Stacks in
// DELETE_COMPLETE are gone and left out.
func Observe(ctx context.Context, cfn CFN, asg ASG) ([]diff.Live, error) {
	lives, _, err := observe(ctx, cfn, asg)
	return lives, err
}

// observe is Observe that also returns each stack as DescribeStacks
// described it, by stack id, for what the Observer reads next.
func observe(ctx context.Context, cfn CFN, asg ASG) ([]diff.Live, map[string]cfntypes.Stack, error) {
	lives, described, err := stacks(ctx, cfn)
	if err != nil {
		return nil, nil, err
	}
	if len(lives) == 0 {
		return lives, described, nil
	}
	if err := attachGroups(ctx, asg, lives); err != nil {
		return nil, nil, err
	}
	slices.SortFunc(lives, func(a, b diff.Live) int {
		return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.StackName, b.StackName))
	})
	return lives, described, nil
}

func stacks(ctx context.Context, cfn CFN) ([]diff.Live, map[string]cfntypes.Stack, error) {
	var lives []diff.Live
	described := map[string]cfntypes.Stack{}
	p := cloudformation.NewDescribeStacksPaginator(cfn, &cloudformation.DescribeStacksInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("describe stacks: %w", err)
		}
		for _, s := range page.Stacks {
			if l, ok := live(s); ok {
				lives = append(lives, l)
				described[l.StackID] = s
			}
		}
	}
	return lives, described, nil
}

// live converts a stack of ours; ok is false for other stacks and for
// deleted ones.
func live(s cfntypes.Stack) (diff.Live, bool) {
	tags := make(map[string]string, len(s.Tags))
	for _, t := range s.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	cluster, ours := tags[render.TagCluster]
	if !ours || s.StackStatus == cfntypes.StackStatusDeleteComplete {
		return diff.Live{}, false
	}
	var outputs map[string]string
	if len(s.Outputs) > 0 {
		outputs = make(map[string]string, len(s.Outputs))
		for _, o := range s.Outputs {
			outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
		}
	}
	return diff.Live{
		Cluster:               cluster,
		StackName:             aws.ToString(s.StackName),
		StackID:               aws.ToString(s.StackId),
		Status:                string(s.StackStatus),
		StatusReason:          aws.ToString(s.StackStatusReason),
		Tags:                  tags,
		Revision:              tags[render.TagRevision],
		Hash:                  tags[render.TagSpecHash],
		TerminationProtection: aws.ToBool(s.EnableTerminationProtection),
		Outputs:               outputs,
	}, true
}

// attachGroups reads all Auto Scaling groups and gives each of ours to its
// stack: by the stack-name tag CloudFormation sets when there is one,
// otherwise by our cluster tag.
func attachGroups(ctx context.Context, asg ASG, lives []diff.Live) error {
	byStack := make(map[string]int, len(lives))
	byCluster := make(map[string][]int, len(lives))
	for i, l := range lives {
		byStack[l.StackName] = i
		byCluster[l.Cluster] = append(byCluster[l.Cluster], i)
	}
	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(asg, &autoscaling.DescribeAutoScalingGroupsInput{
		MaxRecords: aws.Int32(groupPageSize),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("describe auto scaling groups: %w", err)
		}
		for _, g := range page.AutoScalingGroups {
			for _, i := range owners(g, byStack, byCluster) {
				lives[i].Groups = append(lives[i].Groups, liveGroup(g))
			}
		}
	}
	for i := range lives {
		slices.SortFunc(lives[i].Groups, func(a, b diff.LiveGroup) int { return cmp.Compare(a.Name, b.Name) })
	}
	return nil
}

func owners(g asgtypes.AutoScalingGroup, byStack map[string]int, byCluster map[string][]int) []int {
	var stack, cluster string
	var hasStack, hasCluster bool
	for _, t := range g.Tags {
		switch aws.ToString(t.Key) {
		case TagStackName:
			stack, hasStack = aws.ToString(t.Value), true
		case render.TagCluster:
			cluster, hasCluster = aws.ToString(t.Value), true
		}
	}
	switch {
	case hasStack:
		if i, ok := byStack[stack]; ok {
			return []int{i}
		}
		return nil
	case hasCluster:
		// Two live stacks of one cluster (a new one beside one that failed
		// to delete) leave the group's owner unknown: better no group than
		// the wrong one.
		if owners := byCluster[cluster]; len(owners) == 1 {
			return owners
		}
	}
	return nil
}

func liveGroup(g asgtypes.AutoScalingGroup) diff.LiveGroup {
	inService := 0
	for _, in := range g.Instances {
		if in.LifecycleState == asgtypes.LifecycleStateInService {
			inService++
		}
	}
	tags := make(map[string]string, len(g.Tags))
	for _, t := range g.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return diff.LiveGroup{
		Name:      aws.ToString(g.AutoScalingGroupName),
		Min:       int(aws.ToInt32(g.MinSize)),
		Max:       int(aws.ToInt32(g.MaxSize)),
		Desired:   int(aws.ToInt32(g.DesiredCapacity)),
		InService: inService,
		Tags:      tags,
	}
}
