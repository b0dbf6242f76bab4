package render

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/driftless/driftless/pkg/spec"
)

// placementDynamic asks for a placement group made for the queue.
const placementDynamic = "dynamic"

// compute declares a launch template and an Auto Scaling group per queue
// and returns the groups in spec order.
func (b *builder) compute() []Group {
	groups := make([]Group, 0, len(b.c.Compute))
	seen := map[string]string{}
	for i := range b.c.Compute {
		q := &b.c.Compute[i]
		if q.Name == "" {
			b.fail(errors.New("a compute queue has no name"))
			return nil
		}
		if camel(q.Name) == "" {
			b.fail(fmt.Errorf("queue name %q has no letter or digit to build logical ids from", q.Name))
			return nil
		}
		if other, dup := seen[camel(q.Name)]; dup {
			b.fail(fmt.Errorf("queues %q and %q would share logical ids", other, q.Name))
			return nil
		}
		seen[camel(q.Name)] = q.Name
		b.placementGroup(q)
		b.launchTemplate(q)
		groups = append(groups, b.group(q))
	}
	return groups
}

// placementGroup declares the queue's own cluster placement group when the
// spec asks for a dynamic one. (moto 5.2.5 has no AWS::EC2::PlacementGroup:
// it skips the resource with a warning and ignores Placement in launch
// templates.)
func (b *builder) placementGroup(q *spec.Queue) {
	if q.PlacementGroup != placementDynamic {
		return
	}
	b.addResource(idPlacementGroup(q.Name), resource{
		Type: "AWS::EC2::PlacementGroup",
		Properties: map[string]any{
			"Strategy": "cluster",
			"Tags":     tagList(b.resourceTags(GroupName(b.c.Name, q.Name), map[string]string{TagQueue: q.Name}), false),
		},
	})
}

// launchTemplate declares the launch template of one queue's nodes.
//
// The security groups go on an explicit network interface, which also
// carries the public IP choice and the EFA interface type: a subnet that
// maps public addresses on launch must not override publicIP false.
// (moto 5.2.5 ignores NetworkInterfaces, CpuOptions, InstanceMarketOptions,
// Placement and IamInstanceProfile of a launch template when its Auto
// Scaling group launches instances; it keeps ImageId, InstanceType,
// KeyName, UserData, BlockDeviceMappings and TagSpecifications.)
func (b *builder) launchTemplate(q *spec.Queue) {
	c := b.c
	name := GroupName(c.Name, q.Name)
	instanceTags := b.resourceTags(name, map[string]string{TagQueue: q.Name})
	nic := map[string]any{
		"DeviceIndex":              0,
		"AssociatePublicIpAddress": q.PublicIP,
		"Groups":                   queueGroups(q),
		"DeleteOnTermination":      true,
	}
	if q.EFA {
		nic["InterfaceType"] = "efa"
	}
	data := map[string]any{
		"ImageId":            b.imageFor(q.InstanceType),
		"InstanceType":       q.InstanceType,
		"NetworkInterfaces":  []map[string]any{nic},
		"IamInstanceProfile": map[string]any{"Arn": getAtt(idInstanceProfile, "Arn")},
		"TagSpecifications": []map[string]any{
			{"ResourceType": "instance", "Tags": tagList(instanceTags, false)},
			{"ResourceType": "volume", "Tags": tagList(instanceTags, false)},
		},
	}
	if c.HeadNode.KeyPair != "" {
		data["KeyName"] = c.HeadNode.KeyPair
	}
	if bdm := b.rootVolume(q.RootVolumeSize); bdm != nil {
		data["BlockDeviceMappings"] = bdm
	}
	if q.DisableHyperthreading {
		data["CpuOptions"] = cpuOptionsOneThread()
	}
	if q.CapacityType == "spot" {
		// Auto Scaling accepts only one-time spot requests that terminate.
		spot := map[string]any{
			"SpotInstanceType":             "one-time",
			"InstanceInterruptionBehavior": "terminate",
		}
		if q.SpotPrice > 0 {
			spot["MaxPrice"] = strconv.FormatFloat(q.SpotPrice, 'f', -1, 64)
		}
		data["InstanceMarketOptions"] = map[string]any{"MarketType": "spot", "SpotOptions": spot}
	}
	switch q.PlacementGroup {
	case "":
	case placementDynamic:
		data["Placement"] = map[string]any{"GroupName": ref(idPlacementGroup(q.Name))}
	default:
		data["Placement"] = map[string]any{"GroupName": q.PlacementGroup}
	}
	ud, err := userDataValue(ComputeNodeConfig(c, q))
	if err != nil {
		b.fail(err)
		return
	}
	data["UserData"] = ud
	b.addResource(idLaunchTemplate(q.Name), resource{
		Type: "AWS::EC2::LaunchTemplate",
		Properties: map[string]any{
			"LaunchTemplateName": name,
			"LaunchTemplateData": data,
			"TagSpecifications": []map[string]any{{
				"ResourceType": "launch-template",
				"Tags":         tagList(instanceTags, false),
			}},
		},
	})
}

// queueSizes are the minimum, initial and maximum node counts of a queue.
// With keepInitialSize the initial nodes stay: the minimum is the initial
// size (spec.Parse already sets it so; clusters built in code may not).
func queueSizes(q *spec.Queue) (minNodes, initial, maxNodes int) {
	minNodes, initial = q.MinNodes, q.MinNodes
	if q.InitialNodes != nil {
		initial = *q.InitialNodes
	}
	if q.KeepInitialSize {
		minNodes = initial
	}
	return minNodes, initial, q.MaxNodes
}

// group declares one queue's Auto Scaling group. It sets MinSize and
// MaxSize only: DesiredCapacity belongs to the fleet scaler, and a stack
// update that carried it would reset a running fleet. Without it a new
// group starts at MinSize; the daemon raises it to the initial size after
// create.
func (b *builder) group(q *spec.Queue) Group {
	c := b.c
	name := GroupName(c.Name, q.Name)
	subnet := q.Subnet
	if subnet == "" {
		subnet = c.HeadNode.Subnet
	}
	minNodes, initial, maxNodes := queueSizes(q)
	lt := idLaunchTemplate(q.Name)
	tags := b.resourceTags(name, map[string]string{TagQueue: q.Name})
	// The nodes mount the head node's exports and join its scheduler:
	// they start once the head node has signalled that it is ready.
	b.addResource(idGroup(q.Name), resource{
		Type:      "AWS::AutoScaling::AutoScalingGroup",
		DependsOn: []string{idHeadNodeWaitCondition},
		Properties: map[string]any{
			"AutoScalingGroupName": name,
			"MinSize":              strconv.Itoa(minNodes),
			"MaxSize":              strconv.Itoa(maxNodes),
			"VPCZoneIdentifier":    []string{subnet},
			"LaunchTemplate": map[string]any{
				"LaunchTemplateId": ref(lt),
				"Version":          getAtt(lt, "LatestVersionNumber"),
			},
			"Tags": tagList(tags, true),
		},
	})
	b.addOutput(outGroupName(q.Name), output{
		Description: "Auto Scaling group of queue " + q.Name,
		Value:       ref(idGroup(q.Name)),
	})
	return Group{Name: name, Queue: q.Name, Min: minNodes, Max: maxNodes, Initial: initial}
}
