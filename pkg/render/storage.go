package render

import (
	"fmt"

	"github.com/driftless/driftless/pkg/spec"
)

// Mount types of a node's configuration.
const (
	mountEBS  = "ebs"  // a volume attached to this node
	mountRAID = "raid" // an array over volumes attached to this node
	mountEFS  = "efs"  // an Elastic File System
	mountNFS  = "nfs"  // a directory the head node exports
)

// Device names of the shared volumes on the head node. They are fixed per
// position so adding a RAID array never renames an EBS volume: EBS volume
// i is /dev/sd(f+i), RAID member j is /dev/sd(k+j). On Nitro instances the
// volumes appear as NVMe devices whose controller data names these, which
// the bootstrap reads.
func ebsDevice(i int) string  { return fmt.Sprintf("/dev/sd%c", 'f'+i) }
func raidDevice(j int) string { return fmt.Sprintf("/dev/sd%c", 'k'+j) }

// storage declares the shared storage: EBS volumes and RAID members
// attached to the head node (which exports them to the compute nodes over
// NFS), and an Elastic File System with a mount target in the head node's
// subnet.
//
// New volumes keep a snapshot when they are deleted or replaced, and a new
// file system is retained: a spec change must not destroy shared data. The
// volumes take the head node's Availability Zone from the instance, which
// is why the head node's configuration names devices rather than volume
// ids (a reference back would be a circular dependency).
//
// moto 5.2.5 keeps only Size and AvailabilityZone of an AWS::EC2::Volume
// (type, IOPS, encryption, snapshot are ignored) and has no Fn::GetAtt for
// EFS resources, so the nodes find a mount target by the file system's id.
func (b *builder) storage() {
	st := b.c.Storage
	for i, v := range st.EBS {
		if v.Volume != "" {
			b.attach(idEBSAttachment(i), v.Volume, ebsDevice(i))
			continue
		}
		b.volume(idEBSVolume(i), fmt.Sprintf("%s-ebs-%d", b.c.Name, i), volumeSpec{
			Type: v.Type, Size: v.Size, IOPS: v.IOPS, Throughput: v.Throughput,
			Encrypted: v.Encrypted, KMSKey: v.KMSKey, Snapshot: v.Snapshot,
		})
		b.attach(idEBSAttachment(i), ref(idEBSVolume(i)), ebsDevice(i))
	}
	if r := st.RAID; r != nil {
		for j := range r.Volumes {
			b.volume(idRAIDVolume(j), fmt.Sprintf("%s-raid-%d", b.c.Name, j), volumeSpec{
				Type: r.Type, Size: r.Size, IOPS: r.IOPS, Throughput: r.Throughput,
				Encrypted: r.Encrypted, KMSKey: r.KMSKey,
			})
			b.attach(idRAIDAttachment(j), ref(idRAIDVolume(j)), raidDevice(j))
		}
	}
	if e := st.EFS; e != nil && e.FileSystem == "" {
		props := map[string]any{
			"Encrypted":      e.Encrypted,
			"FileSystemTags": tagList(b.resourceTags(b.c.Name+"-efs", nil), false),
		}
		if e.PerformanceMode != "" {
			props["PerformanceMode"] = e.PerformanceMode
		}
		if e.ThroughputMode != "" {
			props["ThroughputMode"] = e.ThroughputMode
		}
		if e.ProvisionedThroughput > 0 {
			props["ProvisionedThroughputInMibps"] = e.ProvisionedThroughput
		}
		if e.KMSKey != "" {
			props["KmsKeyId"] = e.KMSKey
		}
		b.addResource(idEFS, resource{
			Type:                "AWS::EFS::FileSystem",
			DeletionPolicy:      "Retain",
			UpdateReplacePolicy: "Retain",
			Properties:          props,
		})
		b.addResource(idEFSMountTarget, resource{
			Type: "AWS::EFS::MountTarget",
			Properties: map[string]any{
				"FileSystemId":   ref(idEFS),
				"SubnetId":       b.c.HeadNode.Subnet,
				"SecurityGroups": []any{ref(idClusterSG)},
			},
		})
	}
}

// volumeSpec is a new EBS volume, shared or a RAID member.
type volumeSpec struct {
	Type       string
	Size       int
	IOPS       int
	Throughput int
	Encrypted  bool
	KMSKey     string
	Snapshot   string
}

func (b *builder) volume(id, name string, v volumeSpec) {
	props := map[string]any{
		"AvailabilityZone": getAtt(idHeadNode, "AvailabilityZone"),
		"Encrypted":        v.Encrypted,
		"Tags":             tagList(b.resourceTags(name, nil), false),
	}
	if v.Type != "" {
		props["VolumeType"] = v.Type
	}
	if v.Size > 0 {
		props["Size"] = v.Size
	}
	if v.IOPS > 0 {
		props["Iops"] = v.IOPS
	}
	if v.Throughput > 0 {
		props["Throughput"] = v.Throughput
	}
	if v.KMSKey != "" {
		props["KmsKeyId"] = v.KMSKey
	}
	if v.Snapshot != "" {
		props["SnapshotId"] = v.Snapshot
	}
	b.addResource(id, resource{
		Type:                "AWS::EC2::Volume",
		DeletionPolicy:      "Snapshot",
		UpdateReplacePolicy: "Snapshot",
		Properties:          props,
	})
}

// attach attaches a volume (a Ref or an existing id) to the head node.
func (b *builder) attach(id string, volume any, device string) {
	b.addResource(id, resource{
		Type: "AWS::EC2::VolumeAttachment",
		Properties: map[string]any{
			"InstanceId": ref(idHeadNode),
			"VolumeId":   volume,
			"Device":     device,
		},
	})
}

// usesEFS says whether the nodes mount an Elastic File System.
func usesEFS(c *spec.Cluster) bool { return c.Storage.EFS != nil }

// mounts are the shared directories of a node of the given role, in the
// order EBS volumes, RAID array, EFS.
func mounts(c *spec.Cluster, role Role) []Mount {
	st := c.Storage
	var out []Mount
	for i, v := range st.EBS {
		if role == RoleHead {
			out = append(out, Mount{Dir: v.MountDir, Type: mountEBS, Devices: []string{ebsDevice(i)}})
		} else {
			out = append(out, Mount{Dir: v.MountDir, Type: mountNFS, Server: headAddress()})
		}
	}
	if r := st.RAID; r != nil {
		if role == RoleHead {
			devices := make([]string, r.Volumes)
			for j := range devices {
				devices[j] = raidDevice(j)
			}
			level := r.Level
			out = append(out, Mount{Dir: r.MountDir, Type: mountRAID, Devices: devices, RAIDLevel: &level})
		} else {
			out = append(out, Mount{Dir: r.MountDir, Type: mountNFS, Server: headAddress()})
		}
	}
	if e := st.EFS; e != nil {
		fs := Value{Text: e.FileSystem}
		if e.FileSystem == "" {
			fs = Value{Resource: idEFS}
		}
		out = append(out, Mount{Dir: e.MountDir, Type: mountEFS, FileSystem: &fs})
	}
	return out
}

func headAddress() *Value { return &Value{Resource: idHeadNode, Attribute: "PrivateIp"} }
