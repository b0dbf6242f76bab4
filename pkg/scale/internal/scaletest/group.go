// Package scaletest holds helpers the fleet loop's integration tests share:
// an Auto Scaling group on the emulator.
package scaletest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/driftless/driftless/internal/testbed/moto"
)

// Group creates a launch template and an Auto Scaling group with the given
// limits in a new subnet of the emulator, and returns the group's name.
// The emulator launches the desired instances at once.
func Group(t testing.TB, ctx context.Context, cfg aws.Config, min, desired, max int) string {
	t.Helper()
	ec := ec2.NewFromConfig(cfg)
	net := moto.NewNetwork(t, ctx, ec)
	name := moto.UniqueName("compute")
	_, err := ec.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
			ImageId:      aws.String("ami-12c6146b"),
			InstanceType: ec2types.InstanceTypeC5Large,
		},
	})
	if err != nil {
		t.Fatalf("create launch template: %v", err)
	}
	_, err = autoscaling.NewFromConfig(cfg).CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name),
		MinSize:              aws.Int32(int32(min)),
		MaxSize:              aws.Int32(int32(max)),
		DesiredCapacity:      aws.Int32(int32(desired)),
		VPCZoneIdentifier:    aws.String(net.Subnet),
		LaunchTemplate: &asgtypes.LaunchTemplateSpecification{
			LaunchTemplateName: aws.String(name),
			Version:            aws.String("$Latest"),
		},
	})
	if err != nil {
		t.Fatalf("create auto scaling group: %v", err)
	}
	return name
}
