package render

import "fmt"

// Sizes of an SSM parameter value in the standard and advanced tiers.
const (
	maxStandardParameter = 4096
	maxAdvancedParameter = 8192
)

// headNode declares the head node instance and, when it has a public
// address, its Elastic IP.
//
// With publicIP the instance sits in its subnet through SubnetId and
// SecurityGroupIds, and an Elastic IP gives it a public address that
// survives a stop and start. Without, it gets an explicit network
// interface with AssociatePublicIpAddress false, so a subnet that maps
// public addresses on launch cannot give it one anyway. (moto 5.2.5
// ignores NetworkInterfaces on AWS::EC2::Instance and starts such an
// instance in the default VPC; it also ignores SecurityGroupIds there.)
func (b *builder) headNode() {
	c := b.c
	h := c.HeadNode
	props := map[string]any{
		"ImageId":      b.imageFor(h.InstanceType),
		"InstanceType": h.InstanceType,
		"Tags":         tagList(b.resourceTags(c.Name+"-head-node", nil), false),
	}
	if h.PublicIP {
		props["SubnetId"] = h.Subnet
		props["SecurityGroupIds"] = b.headNodeGroups()
	} else {
		props["NetworkInterfaces"] = []map[string]any{{
			"DeviceIndex":              "0",
			"SubnetId":                 h.Subnet,
			"GroupSet":                 b.headNodeGroups(),
			"AssociatePublicIpAddress": false,
			"DeleteOnTermination":      true,
		}}
	}
	if h.KeyPair != "" {
		props["KeyName"] = h.KeyPair
	}
	if bdm := b.rootVolume(h.RootVolumeSize); bdm != nil {
		props["BlockDeviceMappings"] = bdm
	}
	if h.DisableHyperthreading {
		props["CpuOptions"] = cpuOptionsOneThread()
	}
	props["IamInstanceProfile"] = ref(idInstanceProfile)

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
	// The bootstrap reads its configuration parameter at boot, and mounts
	// the file system, whose mount target must exist by then.
	dependsOn := []string{idHeadNodeConfig}
	if e := c.Storage.EFS; e != nil && e.FileSystem == "" {
		dependsOn = append(dependsOn, idEFSMountTarget)
	}
	b.addResource(idHeadNode, resource{
		Type:       "AWS::EC2::Instance",
		DependsOn:  dependsOn,
		Properties: props,
	})
	if c.Scheduler != schedulerBatch {
		b.waitCondition()
	}
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
	switch {
	case len(text) > maxAdvancedParameter:
		b.fail(fmt.Errorf("the head node configuration is %d bytes, more than an SSM parameter holds (%d)", len(text), maxAdvancedParameter))
		return
	case len(text) > maxStandardParameter:
		param["Tier"] = "Advanced"
	}
	b.addResource(idHeadNodeConfig, resource{
		Type:       "AWS::SSM::Parameter",
		Properties: param,
	})
	if h.PublicIP {
		b.addResource(idHeadNodeEIP, resource{
			Type: "AWS::EC2::EIP",
			Properties: map[string]any{
				"Domain":     "vpc",
				"InstanceId": ref(idHeadNode),
				"Tags":       tagList(b.resourceTags(c.Name+"-head-node", nil), false),
			},
		})
	}
}

// cpuOptionsOneThread turns hyper-threading off: one thread per core, the
// instance type's default number of cores. (moto 5.2.5 ignores CpuOptions.)
func cpuOptionsOneThread() map[string]any {
	return map[string]any{"ThreadsPerCore": 1}
}

// outputs declares what people and the daemon read back from the stack.
// The public address is an output only when the head node has one: on an
// instance without a public IP, Fn::GetAtt PublicIp fails the stack.
func (b *builder) outputs() {
	if b.c.HeadNode.PublicIP {
		b.addOutput(outHeadNodePublicIP, output{
			Description: "Public (Elastic) IP address of the head node",
			Value:       ref(idHeadNodeEIP),
		})
	}
	b.addOutput(outHeadNodePrivate, output{
		Description: "Private IP address of the head node",
		Value:       getAtt(idHeadNode, "PrivateIp"),
	})
	b.addOutput(outLoginUser, output{
		Description: "User to log in as on the head node",
		Value:       loginUser(b.c),
	})
}
