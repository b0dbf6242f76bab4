// Package asgfleet implements scale.Fleet over the AWS SDK's Auto Scaling
// and EC2 clients. The clients are built by the caller (with BaseEndpoint
// pointing at an emulator in tests), so this package never reads
// credentials or configuration itself.
package asgfleet

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/driftless/driftless/pkg/scale"
)

var _ scale.Fleet = (*Fleet)(nil)

// AutoScaling is the part of the Auto Scaling client the fleet calls.
type AutoScaling interface {
	DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	SetDesiredCapacity(ctx context.Context, in *autoscaling.SetDesiredCapacityInput, opts ...func(*autoscaling.Options)) (*autoscaling.SetDesiredCapacityOutput, error)
	TerminateInstanceInAutoScalingGroup(ctx context.Context, in *autoscaling.TerminateInstanceInAutoScalingGroupInput, opts ...func(*autoscaling.Options)) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error)
}

// EC2 is the part of the EC2 client the fleet calls, to learn each
// instance's private DNS name and address for the node mapping.
type EC2 interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// Fleet is the Auto Scaling implementation of scale.Fleet.
type Fleet struct {
	asg AutoScaling
	ec2 EC2
}

// New makes a fleet. With ec2 nil, instances carry no DNS name or address
// and nodes can only be mapped by instance id.
func New(asg AutoScaling, ec2 EC2) *Fleet { return &Fleet{asg: asg, ec2: ec2} }

// ErrNoGroup is returned for a group that does not exist.
var ErrNoGroup = errors.New("no such Auto Scaling group")

// describeBatch is how many instance ids one DescribeInstances names.
const describeBatch = 100

// Group describes one group and, through EC2, its instances' addresses.
func (f *Fleet) Group(ctx context.Context, name string) (scale.Group, error) {
	out, err := f.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{name},
	})
	if err != nil {
		return scale.Group{}, fmt.Errorf("describe auto scaling group %s: %w", name, err)
	}
	if len(out.AutoScalingGroups) == 0 {
		return scale.Group{}, fmt.Errorf("%w: %s", ErrNoGroup, name)
	}
	a := out.AutoScalingGroups[0]
	g := scale.Group{
		Name:    name,
		Min:     int(aws.ToInt32(a.MinSize)),
		Max:     int(aws.ToInt32(a.MaxSize)),
		Desired: int(aws.ToInt32(a.DesiredCapacity)),
	}
	var ids []string
	for _, in := range a.Instances {
		id := aws.ToString(in.InstanceId)
		g.Instances = append(g.Instances, scale.Instance{
			ID:        id,
			Lifecycle: string(in.LifecycleState),
			Healthy:   aws.ToString(in.HealthStatus) == "Healthy",
		})
		ids = append(ids, id)
	}
	if f.ec2 == nil || len(ids) == 0 {
		return g, nil
	}
	addr := map[string][2]string{}
	for start := 0; start < len(ids); start += describeBatch {
		batch := ids[start:min(start+describeBatch, len(ids))]
		p := ec2.NewDescribeInstancesPaginator(f.ec2, &ec2.DescribeInstancesInput{InstanceIds: batch})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return scale.Group{}, fmt.Errorf("describe instances of %s: %w", name, err)
			}
			for _, r := range page.Reservations {
				for _, in := range r.Instances {
					addr[aws.ToString(in.InstanceId)] = [2]string{aws.ToString(in.PrivateDnsName), aws.ToString(in.PrivateIpAddress)}
				}
			}
		}
	}
	for i := range g.Instances {
		a := addr[g.Instances[i].ID]
		g.Instances[i].PrivateDNSName, g.Instances[i].PrivateIP = a[0], a[1]
	}
	return g, nil
}

// SetDesiredCapacity sets the group's desired capacity, ignoring
// cooldowns: the loop has its own pace.
func (f *Fleet) SetDesiredCapacity(ctx context.Context, group string, n int) error {
	_, err := f.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(group),
		DesiredCapacity:      aws.Int32(int32(n)),
		HonorCooldown:        aws.Bool(false),
	})
	if err != nil {
		return fmt.Errorf("set desired capacity of %s to %d: %w", group, n, err)
	}
	return nil
}

// Terminate terminates one instance through its group.
func (f *Fleet) Terminate(ctx context.Context, instanceID string, decrement bool) error {
	_, err := f.asg.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId:                     aws.String(instanceID),
		ShouldDecrementDesiredCapacity: aws.Bool(decrement),
	})
	if err != nil {
		return fmt.Errorf("terminate %s: %w", instanceID, err)
	}
	return nil
}
