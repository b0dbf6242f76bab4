package spec

import (
	"fmt"
	"sort"
	"strings"
)

// MaxTags is how many tags a spec may set. CloudFormation allows 50 tags on
// a stack and Driftless adds three of its own (driftless:cluster,
// driftless:revision, driftless:spec-hash).
const MaxTags = 50 - 3

// MaxEBSVolumes is how many shared EBS volumes a cluster may have.
const MaxEBSVolumes = 5

// validate checks the rules that span fields. Rules on one value (kinds,
// enums, ranges) were checked while decoding; a rule here stays silent
// about a field that already has an error.
func validate(c *Cluster, d *decoder) {
	validateScheduler(c, d)
	validateHeadNode(c, d)
	validateCompute(c, d)
	validateBatch(c, d)
	validateStorage(c, d)
	validateIAM(c, d)
	validateTags(c, d)
}

// validateScheduler keeps each scheduler's settings with that scheduler.
func validateScheduler(c *Cluster, d *decoder) {
	if !d.ok("scheduler") || c.Scheduler == "" {
		return
	}
	if c.Scheduler == "awsbatch" {
		if d.present("compute") && d.ok("compute") {
			d.errorf(d.keyAt("compute"), "compute", "an awsbatch cluster has no compute queues: AWS Batch runs the jobs; size it under `batch`")
		}
		if d.present("scaling") && d.ok("scaling") {
			d.errorf(d.keyAt("scaling"), "scaling", "is not used with awsbatch: AWS Batch scales its own compute environment; size it under `batch`")
		}
		if d.ok("baseOS") && c.BaseOS != "alinux2" {
			d.errorf(d.at("baseOS"), "baseOS", "must be alinux2 with awsbatch, not `%s`", c.BaseOS)
		}
		return
	}
	if d.present("batch") && d.ok("batch") {
		d.errorf(d.keyAt("batch"), "batch", "is only used with the awsbatch scheduler, not with %s", c.Scheduler)
	}
	if c.HeadNode.SchedulerPreinstalled && c.HeadNode.AMI == "" && d.ok("headNode.ami") {
		d.errorf(d.at("headNode.schedulerPreinstalled"), "headNode.schedulerPreinstalled", "needs headNode.ami: the images Driftless picks have no scheduler installed")
	}
	if !d.ok("compute") {
		return
	}
	switch {
	case len(c.Compute) == 0:
		d.errorf(d.keyAt("compute"), "compute", "a %s cluster needs at least one queue", c.Scheduler)
	case len(c.Compute) > 1 && c.Scheduler != "slurm":
		d.errorf(d.keyAt("compute"), "compute", "has %d queues; only slurm clusters can have more than one (scheduler is %s)", len(c.Compute), c.Scheduler)
	}
}

func validateHeadNode(c *Cluster, d *decoder) {
	h := c.HeadNode
	if !d.ok("headNode") || !d.present("headNode") {
		return
	}
	switch {
	case h.SecurityGroup != "" && d.present("headNode.sshFrom"):
		d.errorf(d.at("headNode.sshFrom"), "headNode.sshFrom", "is not allowed with headNode.securityGroup: the existing group decides who may connect; remove one of the two")
	case h.SecurityGroup == "" && !d.present("headNode.sshFrom") && d.ok("headNode.securityGroup"):
		d.errorf(d.at("headNode"), "headNode.sshFrom", "is required%s", requiredHint("headNode.sshFrom"))
	}
	checkUnique(d, "headNode.additionalSecurityGroups", h.AdditionalSecurityGroups)
}

func validateCompute(c *Cluster, d *decoder) {
	names := map[string]string{}
	for i, q := range c.Compute {
		p := fmt.Sprintf("compute[%d]", i)
		if !d.ok(p) {
			continue
		}
		if q.Name == "" {
			if d.ok(p + ".name") {
				d.errorf(d.at(p+".name"), p+".name", "is required when there is more than one queue")
			}
		} else if first, dup := names[q.Name]; dup {
			d.errorf(d.at(p+".name"), p+".name", "queue `%s` is already declared in %s; queue names must be unique", q.Name, first)
		} else {
			names[q.Name] = p
		}
		validateSizes(q, p, d)
		if d.present(p+".spotPrice") && d.ok(p+".spotPrice", p+".capacityType") {
			switch {
			case q.CapacityType != "spot":
				d.errorf(d.at(p+".spotPrice"), p+".spotPrice", "is only used with `capacityType: spot`")
			case q.SpotPrice == 0:
				d.errorf(d.at(p+".spotPrice"), p+".spotPrice", "must be more than 0; leave it out to pay up to the on-demand price")
			}
		}
		checkUnique(d, p+".additionalSecurityGroups", q.AdditionalSecurityGroups)
	}
}

// validateSizes checks min ≤ initial ≤ max and keepInitialSize.
func validateSizes(q Queue, p string, d *decoder) {
	minP, initP, maxP, keepP := p+".minNodes", p+".initialNodes", p+".maxNodes", p+".keepInitialSize"
	if q.KeepInitialSize && d.present(minP) && d.present(initP) && d.ok(minP, initP) && q.MinNodes != *q.InitialNodes {
		d.errorf(d.at(minP), minP, "is %d, but keepInitialSize makes it initialNodes (%d); leave minNodes out, or set keepInitialSize to false", q.MinNodes, *q.InitialNodes)
		return
	}
	minOK := d.ok(minP) && (d.present(minP) || (q.KeepInitialSize && d.present(initP) && d.ok(initP, keepP)))
	maxOK := d.ok(maxP)
	if minOK && maxOK && q.MinNodes > q.MaxNodes {
		if d.present(minP) {
			d.errorf(d.at(minP), minP, "is %d, more than maxNodes (%d)", q.MinNodes, q.MaxNodes)
		} else {
			d.errorf(d.at(initP), initP, "is %d, more than maxNodes (%d)", *q.InitialNodes, q.MaxNodes)
		}
		return
	}
	if !d.present(initP) || !d.ok(initP) || q.InitialNodes == nil {
		return
	}
	if d.ok(minP) && *q.InitialNodes < q.MinNodes {
		d.errorf(d.at(initP), initP, "is %d, less than minNodes (%d)", *q.InitialNodes, q.MinNodes)
	}
	if maxOK && *q.InitialNodes > q.MaxNodes {
		d.errorf(d.at(initP), initP, "is %d, more than maxNodes (%d)", *q.InitialNodes, q.MaxNodes)
	}
}

func validateBatch(c *Cluster, d *decoder) {
	b := c.Batch
	if b == nil || !d.ok("batch") {
		return
	}
	minP, desP, maxP := "batch.minVCPUs", "batch.desiredVCPUs", "batch.maxVCPUs"
	if d.ok(minP, maxP) && b.MinVCPUs > b.MaxVCPUs {
		d.errorf(d.at(minP), minP, "is %d, more than maxVCPUs (%d)", b.MinVCPUs, b.MaxVCPUs)
	} else {
		if d.ok(minP, desP) && b.DesiredVCPUs < b.MinVCPUs {
			d.errorf(d.at(desP), desP, "is %d, less than minVCPUs (%d)", b.DesiredVCPUs, b.MinVCPUs)
		}
		if d.ok(desP, maxP) && b.DesiredVCPUs > b.MaxVCPUs {
			d.errorf(d.at(desP), desP, "is %d, more than maxVCPUs (%d)", b.DesiredVCPUs, b.MaxVCPUs)
		}
	}
	if d.present("batch.spotBidPercentage") && d.ok("batch.spotBidPercentage", "batch.capacityType") && b.CapacityType != "spot" {
		d.errorf(d.at("batch.spotBidPercentage"), "batch.spotBidPercentage", "is only used with `capacityType: spot`")
	}
	if d.ok("batch.instanceTypes") && len(b.InstanceTypes) > 1 {
		checkUnique(d, "batch.instanceTypes", b.InstanceTypes)
	}
}

func validateStorage(c *Cluster, d *decoder) {
	st := c.Storage
	if !d.ok("storage") {
		return
	}
	if len(st.EBS) > MaxEBSVolumes && d.ok("storage.ebs") {
		d.errorf(d.keyAt("storage.ebs"), "storage.ebs", "has %d volumes; at most %d are allowed (put more capacity in fewer volumes, or use raid or efs)", len(st.EBS), MaxEBSVolumes)
	}
	mounts := map[string]string{}
	mount := func(p, dir string) {
		if dir == "" || !d.ok(p) {
			return
		}
		if first, dup := mounts[dir]; dup {
			d.errorf(d.at(p), p, "`%s` is already the mount directory of %s; each shared file system needs its own", dir, first)
			return
		}
		mounts[dir] = parentPath(p)
	}
	for i, v := range st.EBS {
		p := fmt.Sprintf("storage.ebs[%d]", i)
		if !d.ok(p) {
			continue
		}
		if v.MountDir == "" && d.ok(p+".mountDir") {
			d.errorf(d.at(p+".mountDir"), p+".mountDir", "is required when there is more than one EBS volume")
		}
		mount(p+".mountDir", v.MountDir)
		if v.Volume != "" {
			for _, k := range []string{"type", "size", "iops", "throughput", "encrypted", "kmsKey", "snapshot"} {
				if d.present(p + "." + k) {
					d.errorf(d.keys[p+"."+k], p+"."+k, "is not allowed with `volume`: an existing volume keeps its own settings; remove one of the two")
				}
			}
			continue
		}
		checkEBS(d, p, v.Type, v.Size, v.IOPS, v.Throughput, v.Encrypted, v.KMSKey)
	}
	if e := st.EFS; e != nil && d.ok("storage.efs") {
		p := "storage.efs"
		mount(p+".mountDir", e.MountDir)
		if e.FileSystem != "" {
			for _, k := range []string{"performanceMode", "throughputMode", "provisionedThroughput", "encrypted", "kmsKey"} {
				if d.present(p + "." + k) {
					d.errorf(d.keys[p+"."+k], p+"."+k, "is not allowed with `fileSystem`: an existing file system keeps its own settings; remove one of the two")
				}
			}
		} else if d.ok(p+".throughputMode", p+".provisionedThroughput") {
			switch {
			case e.ThroughputMode == "provisioned" && e.ProvisionedThroughput == 0:
				d.errorf(d.at(p+".throughputMode"), p+".provisionedThroughput", "is required with `throughputMode: provisioned`")
			case e.ThroughputMode != "provisioned" && e.ProvisionedThroughput != 0:
				d.errorf(d.at(p+".provisionedThroughput"), p+".provisionedThroughput", "is only used with `throughputMode: provisioned`")
			}
		}
		checkKMS(d, p, e.Encrypted, e.KMSKey)
	}
	if r := st.RAID; r != nil && d.ok("storage.raid") {
		mount("storage.raid.mountDir", r.MountDir)
		checkEBS(d, "storage.raid", r.Type, r.Size, r.IOPS, r.Throughput, r.Encrypted, r.KMSKey)
	}
}

// ebsLimits are each volume type's size range in GiB, IOPS range and most
// IOPS per GiB, as EC2 documents them.
var ebsLimits = map[string]struct {
	minSize, minIOPS, maxIOPS, iopsPerGiB int
}{
	"gp2": {minSize: 1},
	"gp3": {minSize: 1, minIOPS: 3000, maxIOPS: 16000, iopsPerGiB: 500},
	"io1": {minSize: 4, minIOPS: 100, maxIOPS: 64000, iopsPerGiB: 50},
	"io2": {minSize: 4, minIOPS: 100, maxIOPS: 256000, iopsPerGiB: 1000},
	"st1": {minSize: 125},
	"sc1": {minSize: 125},
}

// checkEBS checks a new EBS volume's settings against its type.
func checkEBS(d *decoder, p, typ string, size, iops, throughput int, encrypted bool, kms string) {
	checkKMS(d, p, encrypted, kms)
	lim, ok := ebsLimits[typ]
	if !ok || !d.ok(p+".type") {
		return
	}
	sizeP, iopsP, tputP := p+".size", p+".iops", p+".throughput"
	if size != 0 && size < lim.minSize && d.ok(sizeP) {
		d.errorf(d.at(sizeP), sizeP, "is %d GiB; %s volumes need at least %d GiB", size, typ, lim.minSize)
	}
	if d.ok(iopsP) {
		switch {
		case lim.maxIOPS == 0 && d.present(iopsP):
			d.errorf(d.at(iopsP), iopsP, "is not used with %s volumes; use gp3, io1 or io2 to provision IOPS", typ)
		case lim.maxIOPS > 0 && iops == 0:
			d.errorf(d.at(p+".type"), iopsP, "is required for %s volumes", typ)
		case lim.maxIOPS > 0 && (iops < lim.minIOPS || iops > lim.maxIOPS):
			d.errorf(d.at(iopsP), iopsP, "is %d; %s volumes take %d to %d", iops, typ, lim.minIOPS, lim.maxIOPS)
		case lim.maxIOPS > 0 && size > 0 && d.ok(sizeP) && iops > size*lim.iopsPerGiB && iops > lim.minIOPS:
			d.errorf(d.at(iopsP), iopsP, "is %d, more than %d per GiB of a %d GiB %s volume allows (%d)", iops, lim.iopsPerGiB, size, typ, size*lim.iopsPerGiB)
		}
	}
	if d.ok(tputP) && throughput != 0 {
		switch {
		case typ != "gp3":
			d.errorf(d.at(tputP), tputP, "is only used with gp3 volumes, not %s", typ)
		case d.ok(iopsP) && iops > 0 && throughput*4 > iops:
			d.errorf(d.at(tputP), tputP, "is %d MiB/s; gp3 allows at most 1 MiB/s per 4 IOPS, so %d with %d IOPS", throughput, iops/4, iops)
		}
	}
}

// checkKMS wants encryption turned on where a key is named.
func checkKMS(d *decoder, p string, encrypted bool, kms string) {
	if kms != "" && !encrypted && d.ok(p+".kmsKey", p+".encrypted") {
		d.errorf(d.at(p+".kmsKey"), p+".kmsKey", "needs `encrypted: true`")
	}
}

func validateIAM(c *Cluster, d *decoder) {
	i := c.IAM
	if !d.ok("iam") {
		return
	}
	if i.Role != "" && d.ok("iam.role") {
		for _, k := range []string{"policies", "s3Read", "s3ReadWrite"} {
			if d.present("iam." + k) {
				d.errorf(d.keyAt("iam."+k), "iam."+k, "is not allowed with iam.role: Driftless adds permissions only to the role it creates; attach them to %s yourself", i.Role)
			}
		}
	}
	checkUnique(d, "iam.policies", i.Policies)
	checkUnique(d, "iam.s3Read", i.S3Read)
	checkUnique(d, "iam.s3ReadWrite", i.S3ReadWrite)
}

// checkUnique reports the entries of a list that repeat an earlier one.
func checkUnique(d *decoder, p string, items []string) {
	if !d.ok(p) {
		return
	}
	seen := map[string]int{}
	for i, s := range items {
		ip := fmt.Sprintf("%s[%d]", p, i)
		if first, dup := seen[s]; dup && d.ok(ip) {
			d.errorf(d.at(ip), ip, "repeats %s[%d]", p, first)
			continue
		}
		seen[s] = i
	}
}

func validateTags(c *Cluster, d *decoder) {
	if len(c.Tags) > MaxTags {
		d.errorf(d.keyAt("tags"), "tags", "has %d tags; at most %d are allowed (CloudFormation allows 50 and Driftless sets 3)", len(c.Tags), MaxTags)
	}
	keys := make([]string, 0, len(c.Tags))
	for k := range c.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := joinPath("tags", k)
		lk := strings.ToLower(k)
		switch {
		case strings.HasPrefix(lk, "aws:"):
			d.errorf(d.keys[p], p, "tag keys starting with `aws:` are reserved by AWS")
		case strings.HasPrefix(lk, "driftless:"):
			d.errorf(d.keys[p], p, "tag keys starting with `driftless:` are reserved: Driftless sets them to recognise its stacks")
		default:
			if msg := checkKind("tagKey", k); msg != "" {
				d.errorf(d.keys[p], p, "%s", msg)
			}
		}
		if msg := checkKind("tagValue", c.Tags[k]); msg != "" {
			d.errorf(d.at(p), p, "%s", msg)
		}
	}
}
