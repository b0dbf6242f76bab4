package moto

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// EC2 is what NewNetwork calls; *ec2.Client satisfies it.
type EC2 interface {
	CreateVpc(ctx context.Context, in *ec2.CreateVpcInput, opts ...func(*ec2.Options)) (*ec2.CreateVpcOutput, error)
	CreateSubnet(ctx context.Context, in *ec2.CreateSubnetInput, opts ...func(*ec2.Options)) (*ec2.CreateSubnetOutput, error)
	CreateKeyPair(ctx context.Context, in *ec2.CreateKeyPairInput, opts ...func(*ec2.Options)) (*ec2.CreateKeyPairOutput, error)
	ModifyVpcAttribute(ctx context.Context, in *ec2.ModifyVpcAttributeInput, opts ...func(*ec2.Options)) (*ec2.ModifyVpcAttributeOutput, error)
}

var _ EC2 = (*ec2.Client)(nil)

// Network is the VPC, subnet and key pair a cluster needs before its stack
// can be created.
type Network struct {
	VPC     string
	Subnet  string
	KeyName string
}

// NewNetwork creates a VPC with one subnet and a key pair with a unique
// name, failing the test on any error. The VPC has DNS resolution and DNS
// hostnames on, as the pre-flight checks require of a cluster's VPC (AWS
// and moto turn hostnames off in a new VPC).
func NewNetwork(t testing.TB, ctx context.Context, client EC2) Network {
	t.Helper()
	vpc, err := client.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatalf("create vpc: %v", err)
	}
	_, err = client.ModifyVpcAttribute(ctx, &ec2.ModifyVpcAttributeInput{
		VpcId:              vpc.Vpc.VpcId,
		EnableDnsHostnames: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)},
	})
	if err != nil {
		t.Fatalf("enable DNS hostnames: %v", err)
	}
	subnet, err := client.CreateSubnet(ctx, &ec2.CreateSubnetInput{
		VpcId:            vpc.Vpc.VpcId,
		CidrBlock:        aws.String("10.0.1.0/24"),
		AvailabilityZone: aws.String(Region + "a"),
	})
	if err != nil {
		t.Fatalf("create subnet: %v", err)
	}
	key, err := client.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String(UniqueName("driftless-test"))})
	if err != nil {
		t.Fatalf("create key pair: %v", err)
	}
	return Network{
		VPC:     aws.ToString(vpc.Vpc.VpcId),
		Subnet:  aws.ToString(subnet.Subnet.SubnetId),
		KeyName: aws.ToString(key.KeyName),
	}
}

// UniqueName appends a random suffix to prefix, so tests sharing a server
// do not collide on stack, group or key names.
func UniqueName(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}
