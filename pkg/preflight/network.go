package preflight

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// vpc checks that the VPC exists with DNS resolution and DNS hostnames
// on. Subnets and security groups must be in it.
func (r *run) vpc(ctx context.Context, api Network) {
	id := r.c.VPC
	found := false
	p := ec2.NewDescribeVpcsPaginator(api, &ec2.DescribeVpcsInput{Filters: filter("vpc-id", id)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			r.error("describe VPCs", err)
			return
		}
		for _, v := range out.Vpcs {
			found = found || aws.ToString(v.VpcId) == id
		}
	}
	if !found {
		r.fail("vpc", "VPC %s does not exist in %s", id, r.region)
		return
	}
	// ParallelCluster's nodes find the head node and each other by their
	// EC2 host names, which need both settings; AWS turns hostnames off in
	// every VPC but the default one.
	for _, a := range []struct {
		attr ec2types.VpcAttributeName
		what string
		flag string
	}{
		{ec2types.VpcAttributeNameEnableDnsSupport, "DNS resolution (enableDnsSupport)", "--enable-dns-support"},
		{ec2types.VpcAttributeNameEnableDnsHostnames, "DNS hostnames (enableDnsHostnames)", "--enable-dns-hostnames"},
	} {
		out, err := api.DescribeVpcAttribute(ctx, &ec2.DescribeVpcAttributeInput{VpcId: &id, Attribute: a.attr})
		if err != nil {
			r.error(fmt.Sprintf("describe attribute %s of VPC %s", a.attr, id), err)
			if r.down {
				return
			}
			continue
		}
		on := out.EnableDnsSupport
		if a.attr == ec2types.VpcAttributeNameEnableDnsHostnames {
			on = out.EnableDnsHostnames
		}
		if on == nil || !aws.ToBool(on.Value) {
			r.fail("vpc", "VPC %s has %s off; the nodes find each other and AWS by name: turn it on with aws ec2 modify-vpc-attribute --vpc-id %s %s", id, a.what, id, a.flag)
		}
	}
}

func (r *run) subnets(ctx context.Context, api Network) {
	var rs refs
	rs.add("headNode.subnet", r.c.HeadNode.Subnet)
	for i, q := range r.c.Compute {
		rs.add(fmt.Sprintf("compute[%d].subnet", i), q.Subnet)
	}
	if b := r.c.Batch; b != nil {
		rs.add("batch.subnet", b.Subnet)
	}
	if len(rs.ids) == 0 {
		return
	}
	found := make(map[string]ec2types.Subnet)
	p := ec2.NewDescribeSubnetsPaginator(api, &ec2.DescribeSubnetsInput{Filters: filter("subnet-id", rs.ids...)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			r.error("describe subnets", err)
			return
		}
		for _, s := range out.Subnets {
			found[aws.ToString(s.SubnetId)] = s
		}
	}
	for _, id := range rs.ids {
		s, ok := found[id]
		switch {
		case !ok:
			r.failRef(&rs, id, "subnet %s does not exist in %s", id, r.region)
		case aws.ToString(s.VpcId) != r.c.VPC:
			r.failRef(&rs, id, "subnet %s belongs to %s, not to the cluster's VPC %s", id, aws.ToString(s.VpcId), r.c.VPC)
		default:
			r.subnetAZ[id] = aws.ToString(s.AvailabilityZone)
		}
	}
}

func (r *run) securityGroups(ctx context.Context, api Network) {
	var rs refs
	h := r.c.HeadNode
	rs.add("headNode.securityGroup", h.SecurityGroup)
	for j, g := range h.AdditionalSecurityGroups {
		rs.add(fmt.Sprintf("headNode.additionalSecurityGroups[%d]", j), g)
	}
	for i, q := range r.c.Compute {
		for j, g := range q.AdditionalSecurityGroups {
			rs.add(fmt.Sprintf("compute[%d].additionalSecurityGroups[%d]", i, j), g)
		}
	}
	if len(rs.ids) == 0 {
		return
	}
	found := make(map[string]string) // id → VPC
	p := ec2.NewDescribeSecurityGroupsPaginator(api, &ec2.DescribeSecurityGroupsInput{Filters: filter("group-id", rs.ids...)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			r.error("describe security groups", err)
			return
		}
		for _, g := range out.SecurityGroups {
			found[aws.ToString(g.GroupId)] = aws.ToString(g.VpcId)
		}
	}
	for _, id := range rs.ids {
		vpc, ok := found[id]
		switch {
		case !ok:
			r.failRef(&rs, id, "security group %s does not exist in %s", id, r.region)
		case vpc != r.c.VPC:
			r.failRef(&rs, id, "security group %s belongs to %s, not to the cluster's VPC %s", id, vpc, r.c.VPC)
		}
	}
}
