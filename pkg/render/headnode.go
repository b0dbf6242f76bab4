package render

import "github.com/driftless/driftless/pkg/spec"

// securityGroups declares the two groups every cluster has: one that lets
// SSH reach the head node from the spec's CIDR only, and one that every
// node of the cluster is in, which lets the nodes talk to each other
// freely (scheduler daemons, NFS, MPI).
func (b *builder) securityGroups() {
	c := b.c
	// Group and rule descriptions accept only a-zA-Z0-9, space and
	// ._-:/()#,@[]+=&;{}!$* (no apostrophes): EC2 rejects the group and
	// cfn-lint reports E3031.
	b.addResource(idHeadNodeSG, resource{
		Type: "AWS::EC2::SecurityGroup",
		Properties: map[string]any{
			"GroupDescription": "Driftless " + c.Name + ": SSH to the head node",
			"VpcId":            c.VPC,
			"SecurityGroupIngress": []map[string]any{{
				"IpProtocol":  "tcp",
				"FromPort":    22,
				"ToPort":      22,
				"CidrIp":      c.HeadNode.SSHFrom,
				"Description": "SSH from headNode.sshFrom",
			}},
			"Tags": tagList(b.resourceTags(c.Name+"-head-node", nil), false),
		},
	})
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
			"Description":           "All traffic between the nodes of the cluster",
		},
	})
}

// headNode declares the head node instance.
func (b *builder) headNode() {
	c := b.c
	h := c.HeadNode
	props := map[string]any{
		"ImageId":          b.imageFor(h.InstanceType),
		"InstanceType":     h.InstanceType,
		"SubnetId":         h.Subnet,
		"SecurityGroupIds": []any{ref(idHeadNodeSG), ref(idClusterSG)},
		"Tags":             tagList(b.resourceTags(c.Name+"-head-node", nil), false),
	}
	if h.KeyPair != "" {
		props["KeyName"] = h.KeyPair
	}
	cfg := HeadNodeConfig(c)
	ud, err := userDataValue(cfg)
	if err != nil {
		b.fail(err)
		return
	}
	props["UserData"] = ud
	text, err := cfg.SubText()
	if err != nil {
		b.fail(err)
		return
	}
	b.addResource(idHeadNode, resource{
		Type:       "AWS::EC2::Instance",
		Properties: props,
	})
	// The configuration lives in a parameter of its own rather than in the
	// instance's Metadata: a queue's new maximum then changes the parameter
	// only. CloudFormation would update Metadata without interrupting the
	// instance, but moto 5.x cannot update an AWS::EC2::Instance at all
	// (it has no update handler and the stack loses the resource).
	param := map[string]any{
		"Name":        HeadNodeParameter(c.Name),
		"Type":        "String",
		"Value":       sub(text),
		"Description": "Driftless " + c.Name + ": head node configuration",
	}
	if len(text) > 4096 {
		param["Tier"] = "Advanced"
	}
	b.addResource(idHeadNodeConfig, resource{
		Type:       "AWS::SSM::Parameter",
		Properties: param,
	})
}

// outputs declares what people and the daemon read back from the stack.
func (b *builder) outputs() {
	b.addOutput(outHeadNodePublicIP, output{
		Description: "Public IP address of the head node",
		Value:       getAtt(idHeadNode, "PublicIp"),
	})
	b.addOutput(outHeadNodePrivate, output{
		Description: "Private IP address of the head node",
		Value:       getAtt(idHeadNode, "PrivateIp"),
	})
	b.addOutput(outLoginUser, output{
		Description: "User to log in as on the head node",
		Value:       loginUser(b.c),
	})
}

// loginUser is the spec's login user, or the default user of the image.
func loginUser(c *spec.Cluster) string {
	if c.LoginUser != "" {
		return c.LoginUser
	}
	return "ec2-user"
}
