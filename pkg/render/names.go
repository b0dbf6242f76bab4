package render

import (
	"strconv"
	"strings"
	"unicode"
)

// Logical ids and output names of the resources every cluster has.
const (
	idHeadNode          = "HeadNode"
	idHeadNodeConfig    = "HeadNodeConfig"
	idHeadNodeEIP       = "HeadNodeElasticIp"
	idHeadNodeSG        = "HeadNodeSecurityGroup"
	idClusterSG         = "ClusterSecurityGroup"
	idClusterSGIngress  = "ClusterSecurityGroupIngressFromCluster"
	idClusterSGEgress   = "ClusterSecurityGroupEgressToCluster"
	idNodeRole          = "NodeRole"
	idInstanceProfile   = "NodeInstanceProfile"
	idEFS               = "SharedFileSystem"
	idEFSMountTarget    = "SharedFileSystemMountTarget"
	idBatchServiceRole  = "BatchServiceRole"
	idBatchComputeEnv   = "BatchComputeEnvironment"
	idBatchJobQueue     = "BatchJobQueue"
	outHeadNodePublicIP = "HeadNodePublicIp"
	outHeadNodePrivate  = "HeadNodePrivateIp"
	outLoginUser        = "LoginUser"
	outBatchJobQueue    = "BatchJobQueue"
	outBatchComputeEnv  = "BatchComputeEnvironment"
)

// schedulerBatch is the scheduler whose jobs AWS Batch runs: no queues of
// our own, a compute environment instead.
const schedulerBatch = "awsbatch"

// TagQueue names the compute queue an instance belongs to. Auto Scaling
// groups propagate it at launch, because instances launched by a group carry
// no stack tags.
const TagQueue = "driftless:queue"

// GroupName is the Auto Scaling group name of a queue. It is set explicitly
// in the template: without a fixed name the emulator (moto 5.x) replaces
// the group on every UpdateStack, and a generated name would make the group
// impossible to find from the spec alone.
func GroupName(cluster, queue string) string { return StackName(cluster) + "-" + queue }

// camel turns a queue name such as "gpu-large" into "GpuLarge", a fragment
// usable in logical ids and output names, which must be alphanumeric.
func camel(name string) string {
	var b strings.Builder
	upper := true
	for _, r := range name {
		if !isAlnumRune(r) {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
			upper = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isAlnumRune(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}

func isAlnum(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !isAlnumRune(r) {
			return false
		}
	}
	return true
}

// Per-queue logical ids. The "Queue" prefix keeps a queue's ids apart from
// the fixed ones whatever the queue is called.
func idLaunchTemplate(queue string) string { return "Queue" + camel(queue) + "LaunchTemplate" }
func idPlacementGroup(queue string) string { return "Queue" + camel(queue) + "PlacementGroup" }
func idGroup(queue string) string          { return "Queue" + camel(queue) + "Group" }
func outGroupName(queue string) string     { return camel(queue) + "GroupName" }

// Logical ids of the shared volumes, by position in the spec.
func idEBSVolume(i int) string      { return "SharedVolume" + strconv.Itoa(i) }
func idEBSAttachment(i int) string  { return "SharedVolume" + strconv.Itoa(i) + "Attachment" }
func idRAIDVolume(j int) string     { return "RaidVolume" + strconv.Itoa(j) }
func idRAIDAttachment(j int) string { return "RaidVolume" + strconv.Itoa(j) + "Attachment" }
