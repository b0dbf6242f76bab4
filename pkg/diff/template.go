package diff

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// Disruption says what CloudFormation does to a resource when a property
// changes, in the terms of its resource reference ("Update requires").
type Disruption string

// The update behaviours of a resource property.
const (
	// NoInterruption: updated in place, the resource keeps running.
	NoInterruption Disruption = "no-interruption"
	// Interruption: updated in place, but the resource is stopped or
	// restarted (an instance is stopped and started).
	Interruption Disruption = "interruption"
	// Replacement: a new resource is created, then the old one deleted.
	Replacement Disruption = "replacement"
	// Conditional: replaced or not depending on the values; treated as
	// a replacement when deciding.
	Conditional Disruption = "conditional"
)

var replacementOrder = map[Disruption]int{"": 0, NoInterruption: 1, Interruption: 2, Conditional: 3, Replacement: 4}

func worse(a, b Disruption) Disruption {
	if replacementOrder[b] > replacementOrder[a] {
		return b
	}
	return a
}

// ResourceChange is one resource of the template that is added, removed
// or modified.
type ResourceChange struct {
	LogicalID string `json:"logicalId"`
	Type      string `json:"type"`
	Op        Op     `json:"op"`
	// Properties are the top-level properties that differ, sorted.
	Properties []string `json:"properties,omitempty"`
	// Disruption is the most disruptive update behaviour among the
	// changed properties; empty for additions and removals.
	Disruption Disruption `json:"disruption,omitempty"`
	// Data says what happens to the data on a resource that is replaced
	// or removed and holds data (an instance, a volume, a file system).
	Data Data `json:"data,omitempty"`
}

// updateBehaviour is, per resource type Driftless renders, what a change
// of each property does, from the CloudFormation resource reference. A
// property not listed here, or a type not listed at all, is taken as
// Conditional: "may replace" is the safe answer. TestReplacementTable
// renders every example spec and checks that every type and property the
// renderer writes is listed.
var updateBehaviour = map[string]map[string]Disruption{
	"AWS::EC2::Instance": {
		"ImageId": Replacement, "SubnetId": Replacement, "KeyName": Replacement,
		"NetworkInterfaces": Replacement, "AvailabilityZone": Replacement, "CpuOptions": Replacement,
		"PrivateIpAddress": Replacement, "BlockDeviceMappings": Conditional,
		"InstanceType": Interruption, "UserData": Interruption, "IamInstanceProfile": Interruption,
		"SecurityGroupIds": NoInterruption, "Tags": NoInterruption,
	},
	"AWS::EC2::EIP": {
		"Domain": Replacement, "InstanceId": NoInterruption, "Tags": NoInterruption,
	},
	"AWS::EC2::SecurityGroup": {
		"GroupDescription": Replacement, "VpcId": Replacement, "GroupName": Replacement,
		"SecurityGroupIngress": NoInterruption, "SecurityGroupEgress": NoInterruption, "Tags": NoInterruption,
	},
	"AWS::EC2::SecurityGroupIngress": {
		"GroupId": Replacement, "SourceSecurityGroupId": Replacement, "IpProtocol": Replacement,
		"FromPort": Replacement, "ToPort": Replacement, "CidrIp": Replacement, "Description": NoInterruption,
	},
	"AWS::EC2::SecurityGroupEgress": {
		"GroupId": Replacement, "DestinationSecurityGroupId": Replacement, "IpProtocol": Replacement,
		"FromPort": Replacement, "ToPort": Replacement, "CidrIp": Replacement, "Description": NoInterruption,
	},
	"AWS::EC2::LaunchTemplate": {
		"LaunchTemplateName": Replacement, "LaunchTemplateData": NoInterruption, "TagSpecifications": NoInterruption,
	},
	"AWS::EC2::PlacementGroup": {
		"Strategy": Replacement, "Tags": Replacement,
	},
	"AWS::AutoScaling::AutoScalingGroup": {
		"AutoScalingGroupName": Replacement, "MinSize": NoInterruption, "MaxSize": NoInterruption,
		"VPCZoneIdentifier": NoInterruption, "LaunchTemplate": NoInterruption, "Tags": NoInterruption,
	},
	"AWS::EC2::Volume": {
		"AvailabilityZone": Replacement, "Encrypted": Replacement, "KmsKeyId": Replacement, "SnapshotId": Replacement,
		"Size": NoInterruption, "VolumeType": NoInterruption, "Iops": NoInterruption, "Throughput": NoInterruption,
		"Tags": NoInterruption,
	},
	"AWS::EC2::VolumeAttachment": {
		"InstanceId": Replacement, "VolumeId": Replacement, "Device": Replacement,
	},
	"AWS::EFS::FileSystem": {
		"PerformanceMode": Replacement, "Encrypted": Replacement, "KmsKeyId": Replacement,
		"ThroughputMode": NoInterruption, "ProvisionedThroughputInMibps": NoInterruption, "FileSystemTags": NoInterruption,
	},
	"AWS::EFS::MountTarget": {
		"FileSystemId": Replacement, "SubnetId": Replacement, "IpAddress": Replacement, "SecurityGroups": NoInterruption,
	},
	"AWS::IAM::Role": {
		"RoleName": Replacement, "Path": Replacement,
		"AssumeRolePolicyDocument": NoInterruption, "Policies": NoInterruption, "ManagedPolicyArns": NoInterruption,
		"Tags": NoInterruption,
	},
	// The head node's permission to publish its host key: an inline
	// policy CloudFormation edits in place.
	"AWS::IAM::Policy": {
		"PolicyName": NoInterruption, "PolicyDocument": NoInterruption,
		"Roles": NoInterruption, "Users": NoInterruption, "Groups": NoInterruption,
	},
	"AWS::IAM::InstanceProfile": {
		"InstanceProfileName": Replacement, "Path": Replacement, "Roles": NoInterruption,
	},
	// The head node's wait condition, which waits once, at create.
	"AWS::CloudFormation::WaitConditionHandle": {},
	"AWS::CloudFormation::WaitCondition": {
		"Handle": Replacement, "Timeout": Replacement, "Count": NoInterruption,
	},
	"AWS::SSM::Parameter": {
		"Name": Replacement, "Type": NoInterruption, "Value": NoInterruption, "Description": NoInterruption,
		"Tier": NoInterruption, "Tags": NoInterruption,
	},
	"AWS::Batch::ComputeEnvironment": {
		"ComputeEnvironmentName": Replacement, "Type": Replacement, "ComputeResources": Conditional,
		"ServiceRole": NoInterruption, "State": NoInterruption, "Tags": Replacement,
	},
	// A job definition is immutable: CloudFormation registers a new
	// revision for any change. Jobs already submitted keep theirs.
	"AWS::Batch::JobDefinition": {
		"Type": Replacement, "ContainerProperties": Replacement, "PlatformCapabilities": Replacement,
		"PropagateTags": Replacement, "RetryStrategy": Replacement, "Tags": Replacement,
		"JobDefinitionName": Replacement, "Parameters": Replacement, "Timeout": Replacement,
	},
	"AWS::Batch::JobQueue": {
		"JobQueueName": Replacement, "Priority": NoInterruption, "State": NoInterruption,
		"ComputeEnvironmentOrder": NoInterruption, "Tags": Replacement,
	},
}

// dataOnReplace says what becomes of the data of a resource that holds
// some, when it is replaced or removed, given its DeletionPolicy (for a
// removal) or UpdateReplacePolicy (for a replacement).
func dataOnReplace(typ, policy string) Data {
	switch typ {
	case "AWS::EC2::Instance":
		return DataLost
	case "AWS::EC2::Volume", "AWS::EFS::FileSystem":
		switch policy {
		case "Snapshot":
			return DataSnapshot
		case "Retain":
			return DataRetained
		}
		return DataLost
	}
	return ""
}

// ignoredProperties are left out of the comparison: desired capacity
// belongs to the fleet loop, and a template never sets it.
var ignoredProperties = map[string]map[string]bool{
	"AWS::AutoScaling::AutoScalingGroup": {"DesiredCapacity": true},
}

// cfnTemplate is the part of a template the comparison reads.
type cfnTemplate struct {
	Parameters map[string]json.RawMessage `json:"Parameters"`
	Resources  map[string]cfnResource     `json:"Resources"`
}

type cfnResource struct {
	Type                string         `json:"Type"`
	Properties          map[string]any `json:"Properties"`
	Metadata            any            `json:"Metadata"`
	DependsOn           any            `json:"DependsOn"`
	Condition           any            `json:"Condition"`
	DeletionPolicy      string         `json:"DeletionPolicy"`
	UpdateReplacePolicy string         `json:"UpdateReplacePolicy"`
}

func parseTemplate(body []byte) (*cfnTemplate, error) {
	var t cfnTemplate
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	return &t, nil
}

// compareTemplates lists the resources that differ between the live
// template and the desired one, sorted by logical id. A property whose
// value refers to a template parameter whose definition changed counts as
// changed: the value it resolves to may differ. A parameter the live
// template has and the desired one declares without a Default is not
// changed by a new definition: its value is the one apply passes, which
// for such a parameter (an image, render.ImageParameter) is the stack's
// own.
func compareTemplates(old, new *cfnTemplate) []ResourceChange {
	changedParams := map[string]bool{}
	for name, p := range new.Parameters {
		q, ok := old.Parameters[name]
		if ok && (jsonEqual(p, q) || !hasDefault(p)) {
			continue
		}
		changedParams[name] = true
	}
	var out []ResourceChange
	ids := map[string]bool{}
	for id := range old.Resources {
		ids[id] = true
	}
	for id := range new.Resources {
		ids[id] = true
	}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		o, inOld := old.Resources[id]
		n, inNew := new.Resources[id]
		switch {
		case !inOld:
			out = append(out, ResourceChange{LogicalID: id, Type: n.Type, Op: Added})
		case !inNew:
			out = append(out, ResourceChange{LogicalID: id, Type: o.Type, Op: Removed, Data: dataOnReplace(o.Type, o.DeletionPolicy)})
		default:
			if rc, ok := compareResource(id, o, n, changedParams); ok {
				out = append(out, rc)
			}
		}
	}
	return out
}

func compareResource(id string, o, n cfnResource, changedParams map[string]bool) (ResourceChange, bool) {
	rc := ResourceChange{LogicalID: id, Type: n.Type, Op: Changed}
	if o.Type != n.Type {
		rc.Disruption = Replacement
		rc.Properties = []string{"Type"}
		rc.Data = dataOnReplace(o.Type, o.UpdateReplacePolicy)
		return rc, true
	}
	ignored := ignoredProperties[n.Type]
	props := map[string]bool{}
	for k := range o.Properties {
		props[k] = true
	}
	for k := range n.Properties {
		props[k] = true
	}
	behaviour, known := updateBehaviour[n.Type]
	for _, k := range slices.Sorted(maps.Keys(props)) {
		if ignored[k] {
			continue
		}
		ov, inOld := o.Properties[k]
		nv, inNew := n.Properties[k]
		if inOld && inNew && reflect.DeepEqual(ov, nv) && !refersTo(nv, changedParams) {
			continue
		}
		rc.Properties = append(rc.Properties, k)
		r, ok := behaviour[k]
		if !known || !ok {
			r = Conditional
		}
		rc.Disruption = worse(rc.Disruption, r)
	}
	// Metadata, DependsOn and the policies change without touching the
	// resource itself.
	for name, pair := range map[string][2]any{
		"Metadata": {o.Metadata, n.Metadata}, "DependsOn": {o.DependsOn, n.DependsOn},
		"DeletionPolicy": {o.DeletionPolicy, n.DeletionPolicy}, "UpdateReplacePolicy": {o.UpdateReplacePolicy, n.UpdateReplacePolicy},
		"Condition": {o.Condition, n.Condition},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			rc.Properties = append(rc.Properties, name)
			rc.Disruption = worse(rc.Disruption, NoInterruption)
		}
	}
	if len(rc.Properties) == 0 {
		return rc, false
	}
	slices.Sort(rc.Properties)
	if rc.Disruption == Replacement || rc.Disruption == Conditional {
		rc.Data = dataOnReplace(n.Type, o.UpdateReplacePolicy)
	}
	return rc, true
}

// refersTo reports whether a property value refers to one of the named
// parameters, by Ref or inside an Fn::Sub string.
func refersTo(v any, params map[string]bool) bool {
	if len(params) == 0 {
		return false
	}
	switch v := v.(type) {
	case map[string]any:
		if r, ok := v["Ref"].(string); ok && params[r] {
			return true
		}
		if s, ok := v["Fn::Sub"].(string); ok {
			for p := range params {
				if strings.Contains(s, "${"+p+"}") {
					return true
				}
			}
		}
		for _, e := range v {
			if refersTo(e, params) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if refersTo(e, params) {
				return true
			}
		}
	}
	return false
}

// hasDefault reports whether a parameter definition has a Default.
func hasDefault(p json.RawMessage) bool {
	var def struct{ Default json.RawMessage }
	return json.Unmarshal(p, &def) != nil || def.Default != nil
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(x, y)
}

// Replaces reports whether CloudFormation replaces (or may replace) the
// resource.
func (r ResourceChange) Replaces() bool {
	return r.Op == Changed && (r.Disruption == Replacement || r.Disruption == Conditional)
}
