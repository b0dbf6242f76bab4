package spec

import (
	"cmp"
	"strings"
)

// storage maps the shared EBS volumes (or ParallelCluster's default one),
// EFS and RAID.
func (im *importer) storage(s *iniSection, c *Cluster) {
	sharedDir, k := im.str(s, "shared_dir")
	sharedDir = im.mountDir(s, k, sharedDir)
	vols := im.refs(s, "ebs_settings", "ebs")
	if _, k := im.str(s, "ebs_settings"); k == nil {
		dir := cmp.Or(sharedDir, DefaultMountDir)
		c.Storage.EBS = []EBSVolume{{MountDir: dir, Type: "gp2", Size: 20}}
		im.note(s, nil, "has no ebs_settings: ParallelCluster made a 20 GiB gp2 volume at %s, and the spec says so; remove it from storage.ebs if you do not need it", dir)
	}
	for _, v := range vols {
		dir, k := im.str(v, "shared_dir")
		dir = im.mountDir(v, k, dir)
		if dir == "" && len(vols) == 1 {
			dir = sharedDir
		}
		e := EBSVolume{MountDir: dir}
		e.Volume, _ = im.str(v, "ebs_volume_id")
		if e.Volume != "" {
			im.notFor(v, "left out: an existing volume (ebs_volume_id) keeps its own settings",
				"ebs_snapshot_id", "volume_type", "volume_size", "volume_iops", "volume_throughput", "encrypted", "ebs_kms_key_id")
		} else {
			e.Snapshot, _ = im.str(v, "ebs_snapshot_id")
			e.Type, e.Size, e.IOPS, e.Throughput, e.Encrypted, e.KMSKey = im.volume(v, e.Snapshot != "")
		}
		c.Storage.EBS = append(c.Storage.EBS, e)
	}
	if e := im.ref(s, "efs_settings", "efs"); e != nil {
		dir, k := im.str(e, "shared_dir")
		efs := &EFS{MountDir: im.mountDir(e, k, dir)}
		efs.FileSystem, _ = im.str(e, "efs_fs_id")
		if efs.FileSystem != "" {
			im.notFor(e, "left out: an existing file system (efs_fs_id) keeps its own settings",
				"performance_mode", "throughput_mode", "provisioned_throughput", "encrypted", "efs_kms_key_id")
		} else {
			efs.PerformanceMode, _ = im.str(e, "performance_mode")
			efs.ThroughputMode, _ = im.str(e, "throughput_mode")
			efs.ProvisionedThroughput = im.integer(e, "provisioned_throughput", 0)
			efs.Encrypted = im.boolean(e, "encrypted", false)
			efs.KMSKey, _ = im.str(e, "efs_kms_key_id")
		}
		c.Storage.EFS = efs
	}
	if r := im.ref(s, "raid_settings", "raid"); r != nil {
		dir, k := im.str(r, "shared_dir")
		raid := &RAID{MountDir: im.mountDir(r, k, dir), Volumes: im.integer(r, "num_of_raid_volumes", 2)}
		raid.Level = im.integer(r, "raid_type", 0)
		if _, k := im.str(r, "raid_type"); k == nil {
			im.note(r, nil, "raid_type is not set; the spec says level 0 (striping)")
		}
		raid.Type, raid.Size, raid.IOPS, raid.Throughput, raid.Encrypted, raid.KMSKey = im.volume(r, false)
		c.Storage.RAID = raid
	}
}

// volume maps the settings an [ebs] and a [raid] section share, with
// ParallelCluster's defaults: gp2, 20 GiB (or the snapshot's size), 100
// IOPS for io1 and io2.
func (im *importer) volume(s *iniSection, fromSnapshot bool) (typ string, size, iops, throughput int, encrypted bool, kms string) {
	typ, k := im.str(s, "volume_type")
	switch typ {
	case "":
		typ = "gp2"
	case "standard":
		im.note(s, k, "standard (magnetic) volumes are not offered; the spec says gp2")
		typ = "gp2"
	}
	def := 20
	if fromSnapshot {
		def = 0
	}
	size = im.integer(s, "volume_size", def)
	iops = im.integer(s, "volume_iops", 0)
	switch typ {
	case "io1", "io2":
		if iops == 0 {
			iops = 100
		}
	case "gp3":
	default:
		if iops != 0 {
			_, k := im.str(s, "volume_iops")
			im.note(s, k, "not used with %s volumes; left out", typ)
			iops = 0
		}
	}
	throughput = im.integer(s, "volume_throughput", 0)
	if throughput != 0 && typ != "gp3" {
		_, k := im.str(s, "volume_throughput")
		im.note(s, k, "only used with gp3 volumes; left out")
		throughput = 0
	}
	encrypted = im.boolean(s, "encrypted", false)
	kms, _ = im.str(s, "ebs_kms_key_id")
	return typ, size, iops, throughput, encrypted, kms
}

// mountDir makes ParallelCluster's relative shared_dir absolute.
func (im *importer) mountDir(s *iniSection, k *iniKey, dir string) string {
	if dir == "" || strings.HasPrefix(dir, "/") {
		return dir
	}
	im.note(s, k, "the spec mounts it at /%s", dir)
	return "/" + dir
}
