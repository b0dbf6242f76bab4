package spec

import (
	"fmt"
	"slices"
	"strings"
)

// legacyParam is one setting of a ParallelCluster 2.x or CfnCluster 1.x
// config and what became of it in Driftless. The table is the import's
// documentation (docs/spec.md is generated from it), its notes for
// settings without an equivalent, and the hint for such a key written into
// a spec by hand. A test checks that the importer maps exactly the
// settings that name a field here.
type legacyParam struct {
	section string // the section kind: cluster, vpc, ebs, ...
	key     string
	// field is the Driftless field, "" when there is none.
	field string
	// how says how the value maps (defaults, changed values), or why
	// there is no equivalent and what to do instead.
	how string
}

const (
	noChef    = "Driftless does not configure nodes with Chef; do it in a bootstrap.postInstall script"
	noFSx     = "FSx for Lustre is not offered yet; create the file system outside Driftless and mount it from a bootstrap.postInstall script"
	noAlarms  = "Driftless scales on the scheduler's queue, not on CloudWatch alarms; see scaling"
	ownRender = "Driftless renders its own template"
)

// legacyParams lists every ParallelCluster 2.x setting, and the CfnCluster
// 1.x settings that ParallelCluster dropped, in the order of the docs.
var legacyParams = []legacyParam{
	{"aws", "aws_region_name", "region", "default us-east-1"},
	{"aws", "aws_access_key_id", "", "credentials never go into the cluster repo; the daemon uses its own IAM role or credentials"},
	{"aws", "aws_secret_access_key", "", "credentials never go into the cluster repo; the daemon uses its own IAM role or credentials"},
	{"global", "cluster_template", "", "every [cluster] section becomes a spec of its own; there is no default cluster"},
	{"global", "update_check", "", "the daemon is upgraded like any other service"},
	{"global", "sanity_check", "", "the daemon checks the account before every create and update (reconciler validate --live)"},
	{"aliases", "ssh", "", "reconciler ssh CLUSTER [ARGS] logs in to the head node as its login user"},

	{"cluster", "key_name", "headNode.keyPair", ""},
	{"cluster", "base_os", "baseOS", "default alinux2; alinux, centos6, ubuntu1404 and ubuntu1604 are no longer offered and become alinux2, centos7 or ubuntu1804"},
	{"cluster", "scheduler", "scheduler", "default sge; openlava is not offered and becomes slurm"},
	{"cluster", "master_instance_type", "headNode.instanceType", "default t2.micro"},
	{"cluster", "master_root_volume_size", "headNode.rootVolumeSize", ""},
	{"cluster", "compute_instance_type", "compute[].instanceType", "default t2.micro; with awsbatch, batch.instanceTypes (a comma-separated list, default optimal)"},
	{"cluster", "compute_root_volume_size", "compute[].rootVolumeSize", ""},
	{"cluster", "initial_queue_size", "compute[].initialNodes", "default 2"},
	{"cluster", "max_queue_size", "compute[].maxNodes", "default 10"},
	{"cluster", "maintain_initial_size", "compute[].keepInitialSize", "default false: minNodes 0"},
	{"cluster", "min_vcpus", "batch.minVCPUs", "default 0"},
	{"cluster", "desired_vcpus", "batch.desiredVCPUs", "default 4"},
	{"cluster", "max_vcpus", "batch.maxVCPUs", "default 20"},
	{"cluster", "cluster_type", "compute[].capacityType", "ondemand becomes onDemand; with awsbatch, batch.capacityType"},
	{"cluster", "spot_price", "compute[].spotPrice", "only with cluster_type = spot"},
	{"cluster", "spot_bid_percentage", "batch.spotBidPercentage", "only with cluster_type = spot"},
	{"cluster", "placement_group", "compute[].placementGroup", "DYNAMIC becomes dynamic; NONE leaves it out"},
	{"cluster", "placement", "", "the head node never joins the placement group; placement = compute is what Driftless does"},
	{"cluster", "disable_hyperthreading", "headNode.disableHyperthreading", "and compute[].disableHyperthreading of every queue"},
	{"cluster", "enable_efa", "compute[].efa", "enable_efa = compute"},
	{"cluster", "enable_efa_gdr", "", "GPUDirect RDMA is not offered yet"},
	{"cluster", "custom_ami", "headNode.ami", "the image of every node"},
	{"cluster", "proxy_server", "proxy", ""},
	{"cluster", "ec2_iam_role", "iam.role", "then additional_iam_policies and S3 resources belong on that role"},
	{"cluster", "additional_iam_policies", "iam.policies", ""},
	{"cluster", "s3_read_resource", "iam.s3Read", ""},
	{"cluster", "s3_read_write_resource", "iam.s3ReadWrite", ""},
	{"cluster", "pre_install", "bootstrap.preInstall.url", ""},
	{"cluster", "pre_install_args", "bootstrap.preInstall.args", "split into arguments the way a shell splits them"},
	{"cluster", "post_install", "bootstrap.postInstall.url", ""},
	{"cluster", "post_install_args", "bootstrap.postInstall.args", "split into arguments the way a shell splits them"},
	{"cluster", "tags", "tags", "the JSON object becomes a mapping"},
	{"cluster", "shared_dir", "storage.ebs[].mountDir", "of the shared volume; default /shared"},
	{"cluster", "vpc_settings", "vpc", "its [vpc] section is imported"},
	{"cluster", "ebs_settings", "storage.ebs", "its [ebs] sections are imported; without it, the 20 GiB gp2 volume at /shared that ParallelCluster made is written out"},
	{"cluster", "efs_settings", "storage.efs", "its [efs] section is imported"},
	{"cluster", "raid_settings", "storage.raid", "its [raid] section is imported"},
	{"cluster", "scaling_settings", "scaling", "its [scaling] section is imported"},
	{"cluster", "queue_settings", "compute", "each [compute_resource] of each [queue] becomes a queue"},
	{"cluster", "fsx_settings", "", noFSx},
	{"cluster", "dcv_settings", "", "NICE DCV is not offered; reach the head node over SSH"},
	{"cluster", "cw_log_settings", "", "node logs are not shipped to CloudWatch Logs yet"},
	{"cluster", "dashboard_settings", "", "the Grafana dashboard in deploy/ shows every cluster"},
	{"cluster", "ephemeral_dir", "", "instance store volumes are not set up yet; do it in a bootstrap.postInstall script"},
	{"cluster", "encrypted_ephemeral", "", "instance store volumes are not set up yet; do it in a bootstrap.postInstall script"},
	{"cluster", "extra_json", "", noChef},
	{"cluster", "custom_chef_cookbook", "", noChef},
	{"cluster", "custom_chef_runlist", "", noChef},
	{"cluster", "additional_cfn_template", "", "manage extra resources in a stack of their own"},
	{"cluster", "template_url", "", ownRender},
	{"cluster", "custom_awsbatch_template_url", "", ownRender},
	{"cluster", "enable_intel_hpc_platform", "", "not offered; install it in a bootstrap.postInstall script"},
	{"cluster", "cluster_resource_bucket", "", "Driftless keeps no artefacts in S3"},
	{"cluster", "iam_lambda_role", "", "Driftless runs no Lambda functions"},
	{"cluster", "disable_cluster_dns", "", "no equivalent yet"},

	{"vpc", "vpc_id", "vpc", ""},
	{"vpc", "master_subnet_id", "headNode.subnet", ""},
	{"vpc", "compute_subnet_id", "compute[].subnet", "and batch.subnet"},
	{"vpc", "compute_subnet_cidr", "", "Driftless does not create subnets; create one and name it in compute[].subnet"},
	{"vpc", "ssh_from", "headNode.sshFrom", "default 0.0.0.0/0, written out with a warning; left out when vpc_security_group_id is set"},
	{"vpc", "use_public_ips", "headNode.publicIP", "default true; also compute[].publicIP when the nodes share the head node's subnet"},
	{"vpc", "additional_sg", "headNode.additionalSecurityGroups", "and compute[].additionalSecurityGroups of every queue"},
	{"vpc", "vpc_security_group_id", "headNode.securityGroup", "and compute[].additionalSecurityGroups of every queue"},

	{"ebs", "shared_dir", "storage.ebs[].mountDir", "a leading / is added"},
	{"ebs", "ebs_snapshot_id", "storage.ebs[].snapshot", ""},
	{"ebs", "volume_type", "storage.ebs[].type", "default gp2; standard (magnetic) is not offered and becomes gp2"},
	{"ebs", "volume_size", "storage.ebs[].size", "default 20, or the snapshot's size"},
	{"ebs", "volume_iops", "storage.ebs[].iops", "default 100 for io1 and io2"},
	{"ebs", "volume_throughput", "storage.ebs[].throughput", ""},
	{"ebs", "encrypted", "storage.ebs[].encrypted", ""},
	{"ebs", "ebs_kms_key_id", "storage.ebs[].kmsKey", ""},
	{"ebs", "ebs_volume_id", "storage.ebs[].volume", ""},

	{"efs", "shared_dir", "storage.efs.mountDir", "a leading / is added"},
	{"efs", "efs_fs_id", "storage.efs.fileSystem", ""},
	{"efs", "performance_mode", "storage.efs.performanceMode", ""},
	{"efs", "throughput_mode", "storage.efs.throughputMode", ""},
	{"efs", "provisioned_throughput", "storage.efs.provisionedThroughput", ""},
	{"efs", "encrypted", "storage.efs.encrypted", ""},
	{"efs", "efs_kms_key_id", "storage.efs.kmsKey", ""},

	{"raid", "shared_dir", "storage.raid.mountDir", "a leading / is added"},
	{"raid", "raid_type", "storage.raid.level", ""},
	{"raid", "num_of_raid_volumes", "storage.raid.volumes", "default 2"},
	{"raid", "volume_type", "storage.raid.type", "default gp2"},
	{"raid", "volume_size", "storage.raid.size", "default 20"},
	{"raid", "volume_iops", "storage.raid.iops", "default 100 for io1 and io2"},
	{"raid", "volume_throughput", "storage.raid.throughput", ""},
	{"raid", "encrypted", "storage.raid.encrypted", ""},
	{"raid", "ebs_kms_key_id", "storage.raid.kmsKey", ""},

	{"scaling", "scaledown_idletime", "scaling.idleTime", "minutes; default 10"},
	{"scaling", "scaling_threshold", "", noAlarms},
	{"scaling", "scaling_threshold2", "", noAlarms},
	{"scaling", "scaling_period", "", noAlarms},
	{"scaling", "scaling_evaluation_periods", "", noAlarms},
	{"scaling", "scaling_adjustment", "", noAlarms},
	{"scaling", "scaling_adjustment2", "", noAlarms},
	{"scaling", "scaling_cooldown", "", noAlarms},

	{"queue", "compute_resource_settings", "compute", "each [compute_resource] becomes a queue, named QUEUE-RESOURCE when the queue has more than one"},
	{"queue", "compute_type", "compute[].capacityType", "ondemand becomes onDemand"},
	{"queue", "disable_hyperthreading", "compute[].disableHyperthreading", ""},
	{"queue", "enable_efa", "compute[].efa", ""},
	{"queue", "enable_efa_gdr", "", "GPUDirect RDMA is not offered yet"},
	{"queue", "placement_group", "compute[].placementGroup", "DYNAMIC becomes dynamic"},

	{"compute_resource", "instance_type", "compute[].instanceType", ""},
	{"compute_resource", "min_count", "compute[].minNodes", "default 0"},
	{"compute_resource", "max_count", "compute[].maxNodes", "default 10"},
	{"compute_resource", "initial_count", "compute[].initialNodes", "default min_count"},
	{"compute_resource", "spot_price", "compute[].spotPrice", ""},

	{"fsx", "shared_dir", "", noFSx},
	{"fsx", "fsx_fs_id", "", noFSx},
	{"fsx", "storage_capacity", "", noFSx},
	{"fsx", "deployment_type", "", noFSx},
	{"fsx", "storage_type", "", noFSx},
	{"fsx", "per_unit_storage_throughput", "", noFSx},
	{"fsx", "drive_cache_type", "", noFSx},
	{"fsx", "fsx_kms_key_id", "", noFSx},
	{"fsx", "import_path", "", noFSx},
	{"fsx", "export_path", "", noFSx},
	{"fsx", "imported_file_chunk_size", "", noFSx},
	{"fsx", "auto_import_policy", "", noFSx},
	{"fsx", "weekly_maintenance_start_time", "", noFSx},
	{"fsx", "daily_automatic_backup_start_time", "", noFSx},
	{"fsx", "automatic_backup_retention_days", "", noFSx},
	{"fsx", "copy_tags_to_backups", "", noFSx},
	{"fsx", "fsx_backup_id", "", noFSx},
	{"fsx", "data_compression_type", "", noFSx},

	{"dcv", "enable", "", "NICE DCV is not offered; reach the head node over SSH"},
	{"dcv", "port", "", "NICE DCV is not offered; reach the head node over SSH"},
	{"dcv", "access_from", "", "NICE DCV is not offered; reach the head node over SSH"},
	{"cw_log", "enable", "", "node logs are not shipped to CloudWatch Logs yet"},
	{"cw_log", "retention_days", "", "node logs are not shipped to CloudWatch Logs yet"},
	{"dashboard", "enable", "", "the Grafana dashboard in deploy/ shows every cluster"},
}

// legacyParamFor finds a setting of a section kind, or nil.
func legacyParamFor(section, key string) *legacyParam {
	for i := range legacyParams {
		if p := &legacyParams[i]; p.section == section && p.key == key {
			return p
		}
	}
	return nil
}

// legacyHint names the Driftless field for a ParallelCluster or
// CfnCluster key written into a spec by hand, or "".
func legacyHint(name string) string {
	var fields []string
	for _, p := range legacyParams {
		if p.key != name {
			continue
		}
		if p.field == "" {
			return fmt.Sprintf("`%s` is a ParallelCluster setting without an equivalent: %s", name, p.how)
		}
		if phrase := fieldPhrase(p.field); !slices.Contains(fields, phrase) {
			fields = append(fields, phrase)
		}
	}
	if len(fields) == 0 {
		return ""
	}
	return fmt.Sprintf("`%s` is a ParallelCluster setting; write %s", name, strings.Join(fields, ", or "))
}

// fieldPhrase says where a field path is: compute[].maxNodes becomes
// `maxNodes` in each entry of `compute`.
func fieldPhrase(path string) string {
	i := strings.LastIndex(path, ".")
	if i < 0 {
		return "`" + path + "` at the top level"
	}
	return "`" + path[i+1:] + "` " + placeNames([]schemaPlace{{parent: path[:i]}})[0]
}
