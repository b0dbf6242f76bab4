package preflight

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/driftless/driftless/pkg/spec"
)

// nodes checks what the nodes are launched as: the instance types, and
// the image and EFA the types must support.
func (r *run) nodes(ctx context.Context, api Compute) {
	offered := r.instanceTypes(ctx, api)
	if r.down {
		return
	}
	// The image's architecture and EFA need the node types described:
	// once, for both.
	var info map[string]ec2types.InstanceTypeInfo
	if r.c.HeadNode.AMI != "" || slices.ContainsFunc(r.c.Compute, func(q spec.Queue) bool { return q.EFA }) {
		info = r.describeTypes(ctx, api, offered)
	}
	if r.down {
		return
	}
	r.image(ctx, api, info)
	r.efa(info)
}

func (r *run) keyPair(ctx context.Context, api Compute) {
	name := r.c.HeadNode.KeyPair
	if name == "" {
		return
	}
	out, err := api.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{Filters: filter("key-name", name)})
	if err != nil {
		r.error("describe key pairs", err)
		return
	}
	for _, k := range out.KeyPairs {
		if aws.ToString(k.KeyName) == name {
			return
		}
	}
	r.fail("headNode.keyPair", "key pair %q does not exist in %s; import your public key with aws ec2 import-key-pair --region %s, or name one that exists", name, r.region, r.region)
}

// nodeTypes are the instance types of the nodes that boot the cluster's
// image: the head node and every queue.
func (r *run) nodeTypes() *refs {
	var rs refs
	rs.add("headNode.instanceType", r.c.HeadNode.InstanceType)
	for i, q := range r.c.Compute {
		rs.add(fmt.Sprintf("compute[%d].instanceType", i), q.InstanceType)
	}
	return &rs
}

// instanceTypes checks that every instance type is offered in the region
// and returns the ones that are. It asks for the region's offerings
// rather than describing the types: DescribeInstanceTypes fails the whole
// call on one unknown type.
func (r *run) instanceTypes(ctx context.Context, api Compute) map[string]bool {
	rs := r.nodeTypes()
	if b := r.c.Batch; b != nil {
		for j, t := range b.InstanceTypes {
			// optimal and families (c5) are AWS Batch's to resolve.
			if strings.Contains(t, ".") {
				rs.add(fmt.Sprintf("batch.instanceTypes[%d]", j), t)
			}
		}
	}
	if len(rs.ids) == 0 {
		return nil
	}
	offered := make(map[string]bool)
	p := ec2.NewDescribeInstanceTypeOfferingsPaginator(api, &ec2.DescribeInstanceTypeOfferingsInput{
		LocationType: ec2types.LocationTypeRegion,
		Filters:      filter("instance-type", rs.ids...),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			r.error("describe instance type offerings", err)
			return nil
		}
		for _, o := range out.InstanceTypeOfferings {
			offered[string(o.InstanceType)] = true
		}
	}
	for _, id := range rs.ids {
		if !offered[id] {
			r.failRef(rs, id, "instance type %s is not offered in %s", id, r.region)
		}
	}
	return offered
}

// efa checks the queues that ask for EFA against their instance types.
func (r *run) efa(info map[string]ec2types.InstanceTypeInfo) {
	for i, q := range r.c.Compute {
		if t, ok := info[q.InstanceType]; q.EFA && ok && (t.NetworkInfo == nil || !aws.ToBool(t.NetworkInfo.EfaSupported)) {
			r.fail(fmt.Sprintf("compute[%d].efa", i), "instance type %s has no Elastic Fabric Adapter; pick one that has (c5n.18xlarge, hpc6a.48xlarge…) or leave efa out", q.InstanceType)
		}
	}
}

// describeTypes describes the node types that are offered (an unknown
// one would fail the call). It returns nil when the call failed.
func (r *run) describeTypes(ctx context.Context, api Compute, offered map[string]bool) map[string]ec2types.InstanceTypeInfo {
	var types []ec2types.InstanceType
	for _, t := range r.nodeTypes().ids {
		if offered[t] {
			types = append(types, ec2types.InstanceType(t))
		}
	}
	if len(types) == 0 {
		return nil
	}
	info := make(map[string]ec2types.InstanceTypeInfo, len(types))
	p := ec2.NewDescribeInstanceTypesPaginator(api, &ec2.DescribeInstanceTypesInput{InstanceTypes: types})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			r.error("describe instance types", err)
			return nil
		}
		for _, t := range out.InstanceTypes {
			info[string(t.InstanceType)] = t
		}
	}
	return info
}

// image checks the custom AMI: it exists, may be launched, is available,
// and is built for the architecture of every node type.
func (r *run) image(ctx context.Context, api Compute, info map[string]ec2types.InstanceTypeInfo) {
	id := r.c.HeadNode.AMI
	if id == "" {
		return
	}
	var img *ec2types.Image
	p := ec2.NewDescribeImagesPaginator(api, &ec2.DescribeImagesInput{Filters: filter("image-id", id)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			r.error("describe images", err)
			return
		}
		for i := range out.Images {
			if aws.ToString(out.Images[i].ImageId) == id {
				img = &out.Images[i]
			}
		}
	}
	if img == nil {
		r.fail("headNode.ami", "image %s does not exist in %s, or this account may not launch it", id, r.region)
		return
	}
	if img.State != ec2types.ImageStateAvailable {
		r.fail("headNode.ami", "image %s is %s; only an available image can be launched", id, img.State)
	}
	if img.Architecture == "" {
		return
	}
	rs := r.nodeTypes()
	arch := ec2types.ArchitectureType(img.Architecture)
	for _, t := range rs.ids {
		ti, ok := info[t]
		if !ok || ti.ProcessorInfo == nil || slices.Contains(ti.ProcessorInfo.SupportedArchitectures, arch) {
			continue
		}
		r.failRef(rs, t, "instance type %s runs %s, but the image %s (headNode.ami) is built for %s", t, archList(ti.ProcessorInfo.SupportedArchitectures), id, img.Architecture)
	}
}

func archList(as []ec2types.ArchitectureType) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = string(a)
	}
	return strings.Join(s, " or ")
}

// placementGroups checks the existing placement groups queues name;
// dynamic ones are made with the stack.
func (r *run) placementGroups(ctx context.Context, api Compute) {
	var rs refs
	for i, q := range r.c.Compute {
		if q.PlacementGroup != "" && q.PlacementGroup != "dynamic" {
			rs.add(fmt.Sprintf("compute[%d].placementGroup", i), q.PlacementGroup)
		}
	}
	if len(rs.ids) == 0 {
		return
	}
	out, err := api.DescribePlacementGroups(ctx, &ec2.DescribePlacementGroupsInput{Filters: filter("group-name", rs.ids...)})
	if err != nil {
		r.error("describe placement groups", err)
		return
	}
	found := make(map[string]ec2types.PlacementGroup)
	for _, g := range out.PlacementGroups {
		found[aws.ToString(g.GroupName)] = g
	}
	for _, name := range rs.ids {
		g, ok := found[name]
		switch {
		case !ok:
			r.failRef(&rs, name, "placement group %q does not exist in %s; create it, or write dynamic to have one made with the cluster", name, r.region)
		case g.Strategy != ec2types.PlacementStrategyCluster:
			r.failRef(&rs, name, "placement group %q has the %s strategy; a queue's nodes need a cluster placement group", name, g.Strategy)
		case g.State != ec2types.PlacementGroupStateAvailable:
			r.failRef(&rs, name, "placement group %q is %s", name, g.State)
		}
	}
}
