package preflight

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/driftless/driftless/pkg/spec"
)

// Network reads VPCs, subnets and security groups.
type Network interface {
	DescribeVpcs(ctx context.Context, in *ec2.DescribeVpcsInput, opts ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error)
	DescribeVpcAttribute(ctx context.Context, in *ec2.DescribeVpcAttributeInput, opts ...func(*ec2.Options)) (*ec2.DescribeVpcAttributeOutput, error)
	DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput, opts ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, opts ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
}

// Compute reads what instances are launched with: key pairs, instance
// types, images and placement groups.
type Compute interface {
	DescribeKeyPairs(ctx context.Context, in *ec2.DescribeKeyPairsInput, opts ...func(*ec2.Options)) (*ec2.DescribeKeyPairsOutput, error)
	DescribeInstanceTypeOfferings(ctx context.Context, in *ec2.DescribeInstanceTypeOfferingsInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstanceTypeOfferingsOutput, error)
	DescribeInstanceTypes(ctx context.Context, in *ec2.DescribeInstanceTypesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error)
	DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, opts ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
	DescribePlacementGroups(ctx context.Context, in *ec2.DescribePlacementGroupsInput, opts ...func(*ec2.Options)) (*ec2.DescribePlacementGroupsOutput, error)
}

// Storage reads snapshots and volumes, and the instances a volume is
// attached to.
type Storage interface {
	DescribeSnapshots(ctx context.Context, in *ec2.DescribeSnapshotsInput, opts ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error)
	DescribeVolumes(ctx context.Context, in *ec2.DescribeVolumesInput, opts ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error)
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// EC2 is every EC2 call the checks make; each check takes only its part.
type EC2 interface {
	Network
	Compute
	Storage
}

// EFS reads Elastic File Systems.
type EFS interface {
	DescribeFileSystems(ctx context.Context, in *efs.DescribeFileSystemsInput, opts ...func(*efs.Options)) (*efs.DescribeFileSystemsOutput, error)
}

// IAM reads roles and managed policies.
type IAM interface {
	GetRole(ctx context.Context, in *iam.GetRoleInput, opts ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	GetPolicy(ctx context.Context, in *iam.GetPolicyInput, opts ...func(*iam.Options)) (*iam.GetPolicyOutput, error)
}

var (
	_ EC2 = (*ec2.Client)(nil)
	_ EFS = (*efs.Client)(nil)
	_ IAM = (*iam.Client)(nil)
)

// Checker runs the pre-flight checks against one account and region.
type Checker struct {
	EC2 EC2
	// EFS and IAM may be nil. A spec that names an existing file system,
	// a role or policies then cannot be checked, which is an error, not a
	// pass.
	EFS EFS
	IAM IAM
	// Region is the region the clients talk to, where the daemon creates
	// stacks. A cluster declaring another region fails the checks instead
	// of being checked (and created) in the wrong one. Empty skips that.
	Region string
	// Metrics, when set, counts the checks and their failures.
	Metrics *Metrics
}

// Check runs every check on c and returns every failure at once, each an
// error of c's file naming the field to fix. err is set when a check could
// not run (AWS unreachable, a call refused): the failures the other checks
// found are still returned, but a cluster with an error has not passed.
func (ch *Checker) Check(ctx context.Context, c *spec.Cluster) (spec.Errors, error) {
	r := &run{c: c, region: c.Region, subnetAZ: make(map[string]string)}
	if ch.Region != "" && c.Region != ch.Region {
		r.fail("region", "is %s, but Driftless is configured for %s (aws.region in its configuration) and would create the cluster there", c.Region, ch.Region)
	} else if ch.EC2 == nil {
		r.errs = append(r.errs, errors.New("pre-flight: no EC2 client"))
	} else {
		api := ch.EC2
		for _, step := range []func(){
			func() { r.vpc(ctx, api) },
			func() { r.subnets(ctx, api) },
			func() { r.securityGroups(ctx, api) },
			func() { r.keyPair(ctx, api) },
			func() { r.nodes(ctx, api) },
			func() { r.placementGroups(ctx, api) },
			func() { r.snapshots(ctx, api) },
			func() { r.volumes(ctx, api) },
			func() { r.fileSystem(ctx, ch.EFS) },
			func() { r.iam(ctx, ch.IAM) },
		} {
			if r.down {
				break
			}
			step()
		}
	}
	err := errors.Join(r.errs...)
	if err != nil {
		err = fmt.Errorf("pre-flight checks of %s could not all run: %w", c.Name, err)
	}
	ch.Metrics.observe(c.Name, len(r.fails), err)
	return r.fails, err
}

// Forget deletes the metric series of a cluster that is no longer
// declared.
func (ch *Checker) Forget(cluster string) { ch.Metrics.Forget(cluster) }

// run is one cluster's checks in progress.
type run struct {
	c      *spec.Cluster
	region string
	fails  spec.Errors
	errs   []error
	// subnetAZ maps each subnet found to its availability zone.
	subnetAZ map[string]string
	// down is set when a call got no answer at all: the next ones would
	// not either, and each could take the SDK's retries to find out.
	down bool
}

func (r *run) fail(field, format string, args ...any) {
	r.fails = append(r.fails, spec.Error{File: r.c.File, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// failRef reports a failure about the resource id, under the first field
// that names it and mentioning the others.
func (r *run) failRef(refs *refs, id, format string, args ...any) {
	fields := refs.fields[id]
	msg := fmt.Sprintf(format, args...)
	if len(fields) > 1 {
		msg += " (also named in " + strings.Join(fields[1:], ", ") + ")"
	}
	r.fail(fields[0], "%s", msg)
}

func (r *run) error(what string, err error) {
	r.errs = append(r.errs, fmt.Errorf("%s: %w", what, err))
	if apiCode(err) == "" {
		r.down = true
	}
}

// refs are the spec fields naming resources of one kind, by id in the
// order they were first named.
type refs struct {
	ids    []string
	fields map[string][]string
}

func (rs *refs) add(field, id string) {
	if id == "" {
		return
	}
	if rs.fields == nil {
		rs.fields = make(map[string][]string)
	}
	if _, ok := rs.fields[id]; !ok {
		rs.ids = append(rs.ids, id)
	}
	rs.fields[id] = append(rs.fields[id], field)
}

// filter is an EC2 filter on one attribute. The checks look resources up
// by filter rather than by id: a missing id in the id list fails the
// whole call with an error naming one of them, a filter returns what
// exists and lets every missing one be reported.
func filter(name string, values ...string) []ec2types.Filter {
	return []ec2types.Filter{{Name: &name, Values: values}}
}

// apiCode is the error code AWS answered with, "" when the call got no
// answer.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
