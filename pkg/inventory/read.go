package inventory

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	batchtypes "github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/observe"
	"github.com/driftless/driftless/pkg/render"
)

// EC2 is the call Read makes to list instances; *ec2.Client satisfies it.
type EC2 interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// Batch is the call Read makes to size awsbatch clusters;
// *batch.Client satisfies it.
type Batch interface {
	DescribeComputeEnvironments(ctx context.Context, in *batch.DescribeComputeEnvironmentsInput, opts ...func(*batch.Options)) (*batch.DescribeComputeEnvironmentsOutput, error)
}

var (
	_ EC2   = (*ec2.Client)(nil)
	_ Batch = (*batch.Client)(nil)
)

// Reader reads the live side. Batch may be nil: awsbatch clusters then
// show no compute environment.
type Reader struct {
	CFN   observe.CFN
	ASG   observe.ASG
	EC2   EC2
	Batch Batch
}

// Live is everything Read found in AWS.
type Live struct {
	Stacks    []diff.Live
	Instances []Instance
	// Environments are the Batch compute environments by ARN.
	Environments map[string]ComputeEnvironment
}

// instancePageSize is the MaxResults of DescribeInstances: AWS allows up
// to 1000 per page.
const instancePageSize = 1000

// envPageSize is the maxResults of DescribeComputeEnvironments (AWS allows
// up to 100).
const envPageSize = 100

// Read makes the batched reads: stacks and groups (observe.Observe),
// instances carrying render.TagCluster (one paginated DescribeInstances
// filtered by tag, not one call per cluster), and, only when a live stack
// has Batch outputs, the compute environments. cluster, when set, narrows
// the instances to that cluster's tag value.
func (r *Reader) Read(ctx context.Context, cluster string) (*Live, error) {
	stacks, err := observe.Observe(ctx, r.CFN, r.ASG)
	if err != nil {
		return nil, err
	}
	live := &Live{Stacks: stacks}
	if len(stacks) == 0 {
		return live, nil
	}
	if live.Instances, err = r.instances(ctx, cluster); err != nil {
		return nil, err
	}
	if r.Batch != nil && hasBatch(stacks) {
		if live.Environments, err = r.environments(ctx); err != nil {
			return nil, err
		}
	}
	return live, nil
}

func hasBatch(stacks []diff.Live) bool {
	for _, s := range stacks {
		if s.Outputs[OutputComputeEnvironment] != "" {
			return true
		}
	}
	return false
}

// liveStates are the instance states worth showing: a terminated instance
// is gone, and AWS keeps listing it for an hour.
var liveStates = []string{"pending", "running", "shutting-down", "stopping", "stopped"}

func (r *Reader) instances(ctx context.Context, cluster string) ([]Instance, error) {
	tagFilter := ec2types.Filter{Name: aws.String("tag-key"), Values: []string{render.TagCluster}}
	if cluster != "" {
		tagFilter = ec2types.Filter{Name: aws.String("tag:" + render.TagCluster), Values: []string{cluster}}
	}
	p := ec2.NewDescribeInstancesPaginator(r.EC2, &ec2.DescribeInstancesInput{
		Filters:    []ec2types.Filter{tagFilter, {Name: aws.String("instance-state-name"), Values: liveStates}},
		MaxResults: aws.Int32(instancePageSize),
	})
	var out []Instance
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe instances: %w", err)
		}
		for _, res := range page.Reservations {
			for _, in := range res.Instances {
				out = append(out, instance(in))
			}
		}
	}
	slices.SortFunc(out, func(a, b Instance) int {
		return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), a.LaunchTime.Compare(b.LaunchTime), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Tags read from instances. Auto Scaling puts the group name on every
// instance it launches; render puts the cluster and queue tags there
// through the launch template.
const (
	tagGroup = "aws:autoscaling:groupName"
	tagName  = "Name"
)

func instance(in ec2types.Instance) Instance {
	out := Instance{
		ID:         aws.ToString(in.InstanceId),
		Type:       string(in.InstanceType),
		PublicIP:   aws.ToString(in.PublicIpAddress),
		PrivateIP:  aws.ToString(in.PrivateIpAddress),
		PrivateDNS: aws.ToString(in.PrivateDnsName),
		Role:       RoleOther,
	}
	if in.State != nil {
		out.State = string(in.State.Name)
	}
	if in.LaunchTime != nil {
		out.LaunchTime = in.LaunchTime.UTC()
	}
	var name string
	for _, t := range in.Tags {
		v := aws.ToString(t.Value)
		switch aws.ToString(t.Key) {
		case render.TagCluster:
			out.Cluster = v
		case render.TagQueue:
			out.Queue = v
		case tagGroup:
			out.Group = v
		case tagName:
			name = v
		}
	}
	switch {
	case out.Group != "" || out.Queue != "":
		out.Role = RoleCompute
	case name == out.Cluster+"-head-node":
		out.Role = RoleHead
	}
	return out
}

func (r *Reader) environments(ctx context.Context) (map[string]ComputeEnvironment, error) {
	out := make(map[string]ComputeEnvironment)
	p := batch.NewDescribeComputeEnvironmentsPaginator(r.Batch, &batch.DescribeComputeEnvironmentsInput{
		MaxResults: aws.Int32(envPageSize),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe compute environments: %w", err)
		}
		for _, ce := range page.ComputeEnvironments {
			env := environment(ce)
			out[env.ARN] = env
		}
	}
	return out, nil
}

func environment(ce batchtypes.ComputeEnvironmentDetail) ComputeEnvironment {
	env := ComputeEnvironment{
		ARN:    aws.ToString(ce.ComputeEnvironmentArn),
		Name:   aws.ToString(ce.ComputeEnvironmentName),
		State:  string(ce.State),
		Status: string(ce.Status),
	}
	if cr := ce.ComputeResources; cr != nil {
		env.MinVCPUs = int(aws.ToInt32(cr.MinvCpus))
		env.DesiredVCPUs = int(aws.ToInt32(cr.DesiredvCpus))
		env.MaxVCPUs = int(aws.ToInt32(cr.MaxvCpus))
	}
	return env
}
