package render

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/driftless/driftless/pkg/spec"
)

// compute declares a launch template and an Auto Scaling group per queue
// and returns the groups in spec order.
func (b *builder) compute() []Group {
	groups := make([]Group, 0, len(b.c.Compute))
	seen := map[string]string{}
	for _, q := range b.c.Compute {
		if q.Name == "" {
			b.err = errors.New("a compute queue has no name")
			return nil
		}
		if camel(q.Name) == "" {
			b.err = fmt.Errorf("queue name %q has no letter or digit to build logical ids from", q.Name)
			return nil
		}
		if other, dup := seen[camel(q.Name)]; dup {
			b.err = fmt.Errorf("queues %q and %q would share logical ids", other, q.Name)
			return nil
		}
		seen[camel(q.Name)] = q.Name
		b.launchTemplate(q)
		groups = append(groups, b.group(q))
	}
	return groups
}

// launchTemplate declares the launch template of one queue's nodes.
func (b *builder) launchTemplate(q spec.Queue) {
	c := b.c
	name := GroupName(c.Name, q.Name)
	instanceTags := b.resourceTags(name, map[string]string{TagQueue: q.Name})
	data := map[string]any{
		"ImageId":          b.imageFor(q.InstanceType),
		"InstanceType":     q.InstanceType,
		"SecurityGroupIds": []any{ref(idClusterSG)},
		"TagSpecifications": []map[string]any{
			{"ResourceType": "instance", "Tags": tagList(instanceTags, false)},
			{"ResourceType": "volume", "Tags": tagList(instanceTags, false)},
		},
	}
	if c.HeadNode.KeyPair != "" {
		data["KeyName"] = c.HeadNode.KeyPair
	}
	ud, err := userDataValue(ComputeNodeConfig(c, &q))
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
				"Tags":         tagList(b.resourceTags(name, map[string]string{TagQueue: q.Name}), false),
			}},
		},
	})
}

// group declares one queue's Auto Scaling group. It sets MinSize and
// MaxSize only: DesiredCapacity belongs to the fleet scaler, and a stack
// update that carried it would reset a running fleet. Without it a new
// group starts at MinSize; the daemon raises it to the initial size after
// create.
func (b *builder) group(q spec.Queue) Group {
	c := b.c
	name := GroupName(c.Name, q.Name)
	subnet := q.Subnet
	if subnet == "" {
		subnet = c.HeadNode.Subnet
	}
	lt := idLaunchTemplate(q.Name)
	tags := b.resourceTags(name, map[string]string{TagQueue: q.Name})
	b.addResource(idGroup(q.Name), resource{
		Type: "AWS::AutoScaling::AutoScalingGroup",
		Properties: map[string]any{
			"AutoScalingGroupName": name,
			"MinSize":              strconv.Itoa(q.MinNodes),
			"MaxSize":              strconv.Itoa(q.MaxNodes),
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
	initial := q.MinNodes
	if q.InitialNodes != nil {
		initial = *q.InitialNodes
	}
	return Group{Name: name, Queue: q.Name, Min: q.MinNodes, Max: q.MaxNodes, Initial: initial}
}
