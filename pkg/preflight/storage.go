package preflight

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/driftless/driftless/pkg/render"
)

// snapshots checks the snapshots new volumes are made from.
func (r *run) snapshots(ctx context.Context, api Storage) {
	var rs refs
	for i, v := range r.c.Storage.EBS {
		rs.add(fmt.Sprintf("storage.ebs[%d].snapshot", i), v.Snapshot)
	}
	if len(rs.ids) == 0 {
		return
	}
	found := make(map[string]ec2types.Snapshot)
	p := ec2.NewDescribeSnapshotsPaginator(api, &ec2.DescribeSnapshotsInput{Filters: filter("snapshot-id", rs.ids...)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			r.error("describe snapshots", err)
			return
		}
		for _, s := range out.Snapshots {
			found[aws.ToString(s.SnapshotId)] = s
		}
	}
	for _, id := range rs.ids {
		s, ok := found[id]
		switch {
		case !ok:
			r.failRef(&rs, id, "snapshot %s does not exist in %s, or this account may not use it", id, r.region)
		case s.State != ec2types.SnapshotStateCompleted:
			r.failRef(&rs, id, "snapshot %s is %s; a volume can be made only from a completed snapshot", id, s.State)
		}
	}
	for i, v := range r.c.Storage.EBS {
		s, ok := found[v.Snapshot]
		if ok && v.Size > 0 && int32(v.Size) < aws.ToInt32(s.VolumeSize) {
			r.fail(fmt.Sprintf("storage.ebs[%d].size", i), "is %d GiB, smaller than snapshot %s (%d GiB); leave size out to get the snapshot's size", v.Size, v.Snapshot, aws.ToInt32(s.VolumeSize))
		}
	}
}

// volumes checks the existing volumes: each must be in the head node's
// zone and free, or attached to this cluster's head node already (after
// the create, every update sees it so).
func (r *run) volumes(ctx context.Context, api Storage) {
	var rs refs
	for i, v := range r.c.Storage.EBS {
		rs.add(fmt.Sprintf("storage.ebs[%d].volume", i), v.Volume)
	}
	if len(rs.ids) == 0 {
		return
	}
	found := make(map[string]ec2types.Volume)
	p := ec2.NewDescribeVolumesPaginator(api, &ec2.DescribeVolumesInput{Filters: filter("volume-id", rs.ids...)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			r.error("describe volumes", err)
			return
		}
		for _, v := range out.Volumes {
			found[aws.ToString(v.VolumeId)] = v
		}
	}
	headAZ := r.subnetAZ[r.c.HeadNode.Subnet]
	attached := make(map[string][]string) // instance → volumes attached to it
	var instances []string
	for _, id := range rs.ids {
		v, ok := found[id]
		if !ok {
			r.failRef(&rs, id, "volume %s does not exist in %s", id, r.region)
			continue
		}
		if az := aws.ToString(v.AvailabilityZone); headAZ != "" && az != headAZ {
			r.failRef(&rs, id, "volume %s is in %s, but the head node's subnet %s is in %s; a volume attaches only to an instance in its own zone", id, az, r.c.HeadNode.Subnet, headAZ)
			continue
		}
		switch v.State {
		case ec2types.VolumeStateAvailable:
		case ec2types.VolumeStateInUse:
			for _, a := range v.Attachments {
				in := aws.ToString(a.InstanceId)
				if _, seen := attached[in]; !seen {
					instances = append(instances, in)
				}
				attached[in] = append(attached[in], id)
			}
		default:
			r.failRef(&rs, id, "volume %s is %s; only an available volume can be attached", id, v.State)
		}
	}
	if len(instances) == 0 {
		return
	}
	ours, ok := r.clusterInstances(ctx, api, instances)
	if !ok {
		return
	}
	for _, in := range instances {
		if ours[in] {
			continue
		}
		for _, id := range attached[in] {
			r.failRef(&rs, id, "volume %s is attached to %s, which is not this cluster's head node; detach it first", id, in)
		}
	}
}

// clusterInstances returns which of the instances carry this cluster's
// tag, as its head node does.
func (r *run) clusterInstances(ctx context.Context, api Storage, ids []string) (map[string]bool, bool) {
	ours := make(map[string]bool)
	p := ec2.NewDescribeInstancesPaginator(api, &ec2.DescribeInstancesInput{Filters: filter("instance-id", ids...)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			r.error("describe instances", err)
			return nil, false
		}
		for _, res := range out.Reservations {
			for _, in := range res.Instances {
				for _, t := range in.Tags {
					if aws.ToString(t.Key) == render.TagCluster && aws.ToString(t.Value) == r.c.Name {
						ours[aws.ToString(in.InstanceId)] = true
					}
				}
			}
		}
	}
	return ours, true
}
