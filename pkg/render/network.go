package render

import (
	"slices"

	"github.com/driftless/driftless/pkg/spec"
)

// securityGroups declares the groups of the cluster: one that lets SSH
// reach the head node from the spec's CIDR only (unless the spec names an
// existing group for the head node), and one that every node of the
// cluster is in, which lets the nodes talk to each other freely (scheduler
// daemons, NFS, MPI, EFA).
//
// Group and rule descriptions accept only a-zA-Z0-9, space and
// ._-:/()#,@[]+=&;{}!$* (no apostrophes): EC2 rejects anything else and
// cfn-lint reports E3031.
func (b *builder) securityGroups() {
	c := b.c
	if c.HeadNode.SecurityGroup == "" {
		props := map[string]any{
			"GroupDescription": "Driftless " + c.Name + ": SSH to the head node",
			"VpcId":            c.VPC,
			"Tags":             tagList(b.resourceTags(c.Name+"-head-node", nil), false),
		}
		if c.HeadNode.SSHFrom != "" {
			props["SecurityGroupIngress"] = []map[string]any{{
				"IpProtocol":  "tcp",
				"FromPort":    22,
				"ToPort":      22,
				"CidrIp":      c.HeadNode.SSHFrom,
				"Description": "SSH from headNode.sshFrom",
			}}
		}
		b.addResource(idHeadNodeSG, resource{Type: "AWS::EC2::SecurityGroup", Properties: props})
	}
	b.addResource(idClusterSG, resource{
		Type: "AWS::EC2::SecurityGroup",
		Properties: map[string]any{
			"GroupDescription": "Driftless " + c.Name + ": traffic between the nodes of the cluster",
			"VpcId":            c.VPC,
			"Tags":             tagList(b.resourceTags(c.Name+"-cluster", nil), false),
		},
	})
	// The rule that lets the group reach itself is a resource of its own:
	// inside the group's own SecurityGroupIngress, a Ref to the group
	// would be a circular dependency.
	b.addResource(idClusterSGIngress, resource{
		Type: "AWS::EC2::SecurityGroupIngress",
		Properties: map[string]any{
			"GroupId":               ref(idClusterSG),
			"SourceSecurityGroupId": ref(idClusterSG),
			"IpProtocol":            "-1",
			"Description":           "All traffic between nodes of the cluster",
		},
	})
	// EFA requires a rule that lets the group send to itself, even though
	// the default rule already allows all outbound traffic.
	if slices.ContainsFunc(c.Compute, func(q spec.Queue) bool { return q.EFA }) {
		b.addResource(idClusterSGEgress, resource{
			Type: "AWS::EC2::SecurityGroupEgress",
			Properties: map[string]any{
				"GroupId":                    ref(idClusterSG),
				"DestinationSecurityGroupId": ref(idClusterSG),
				"IpProtocol":                 "-1",
				"Description":                "All traffic between nodes of the cluster (EFA)",
			},
		})
	}
}

// headNodeGroups are the security groups of the head node.
func (b *builder) headNodeGroups() []any {
	h := b.c.HeadNode
	var own any = ref(idHeadNodeSG)
	if h.SecurityGroup != "" {
		own = h.SecurityGroup
	}
	groups := []any{own, ref(idClusterSG)}
	for _, g := range h.AdditionalSecurityGroups {
		groups = append(groups, g)
	}
	return groups
}

// queueGroups are the security groups of a queue's nodes.
func queueGroups(q *spec.Queue) []any {
	groups := []any{ref(idClusterSG)}
	for _, g := range q.AdditionalSecurityGroups {
		groups = append(groups, g)
	}
	return groups
}
