package spec

// ruleCase is a case of TestParseSchemaRules: edits to base (pairs of old
// and new text), text appended after them, and the exact errors.
type ruleCase struct {
	name  string
	edits []string
	add   string
	want  []string
}

// queueEnd is the last line of base's queue, where queue settings go.
const queueEnd = "    maxNodes: 10\n"

func schemaRuleCases() []ruleCase {
	return []ruleCase{
		{name: "idleTime under a queue", edits: []string{queueEnd, queueEnd + "    idleTime: 5m\n"}, want: []string{
			"c.yaml:15:5: compute[0].idleTime: unknown field; `idleTime` belongs under `scaling`, not under `compute[0]`",
		}},
		{name: "idleTime at the top level", add: "idleTime: 5m\n", want: []string{
			"c.yaml:17:1: idleTime: unknown field; `idleTime` belongs under `scaling`, not at the top level",
		}},
		{name: "spotPrice at the top level", add: "spotPrice: 0.5\n", want: []string{
			"c.yaml:17:1: spotPrice: unknown field; `spotPrice` belongs in each entry of `compute`, not at the top level",
		}},
		{name: "mountDir under storage", add: "storage:\n  mountDir: /shared\n", want: []string{
			"c.yaml:18:3: storage.mountDir: unknown field; `mountDir` belongs in each entry of `storage.ebs` or under `storage.efs` or under `storage.raid`, not under `storage`",
		}},
		{name: "ParallelCluster key", edits: []string{queueEnd, queueEnd + "    max_queue_size: 5\n"}, want: []string{
			"c.yaml:15:5: compute[0].max_queue_size: unknown field; `max_queue_size` is a ParallelCluster setting; write `maxNodes` in each entry of `compute`",
		}},
		{name: "ParallelCluster key in two places", add: "disable_hyperthreading: true\n", want: []string{
			"c.yaml:17:1: disable_hyperthreading: unknown field; `disableHyperthreading` belongs under `headNode` or in each entry of `compute`, not at the top level",
		}},
		{name: "ParallelCluster key without equivalent", add: "extra_json: '{}'\n", want: []string{
			"c.yaml:17:1: extra_json: unknown field; `extra_json` is a ParallelCluster setting without an equivalent: Driftless does not configure nodes with Chef; do it in a bootstrap.postInstall script",
		}},
		{name: "ParallelCluster key with a new name", add: "scaledown_idletime: 5\n", want: []string{
			"c.yaml:17:1: scaledown_idletime: unknown field; `scaledown_idletime` is a ParallelCluster setting; write `idleTime` under `scaling`",
		}},
		{name: "idleTime a number", add: "scaling:\n  idleTime: 10\n", want: []string{
			"c.yaml:18:13: scaling.idleTime: must be a duration with a unit such as 10m or 1h30m, not the number 10; did you mean 10m?",
		}},
		{name: "idleTime without unit as text", add: "scaling:\n  idleTime: ten minutes\n", want: []string{
			"c.yaml:18:13: scaling.idleTime: must be a duration such as 10m or 1h30m, not `ten minutes`",
		}},
		{name: "idleTime too short", add: "scaling:\n  idleTime: 30s\n", want: []string{
			"c.yaml:18:13: scaling.idleTime: must be at least 1m, not 30s",
		}},
		{name: "scaleUp yes", add: "scaling:\n  scaleUp: yes\n", want: []string{
			"c.yaml:18:12: scaling.scaleUp: must be true or false, not the text `yes`; write `true`",
		}},
		{name: "scaling with awsbatch", edits: []string{"scheduler: slurm", "scheduler: awsbatch", "compute:\n  - name: batch\n    instanceType: c5.18xlarge\n    minNodes: 0\n    maxNodes: 10\n", ""}, add: "scaling:\n  idleTime: 5m\n", want: []string{
			"c.yaml:12:1: scaling: is not used with awsbatch: AWS Batch scales its own compute environment; size it under `batch`",
		}},
		{name: "compute with awsbatch", edits: []string{"scheduler: slurm", "scheduler: awsbatch"}, want: []string{
			"c.yaml:10:1: compute: an awsbatch cluster has no compute queues: AWS Batch runs the jobs; size it under `batch`",
		}},
		{name: "batch with slurm", add: "batch:\n  maxVCPUs: 8\n", want: []string{
			"c.yaml:17:1: batch: is only used with the awsbatch scheduler, not with slurm",
		}},
		{name: "awsbatch on centos", edits: []string{"scheduler: slurm", "scheduler: awsbatch", "compute:\n  - name: batch\n    instanceType: c5.18xlarge\n    minNodes: 0\n    maxNodes: 10\n", "baseOS: centos7\n"}, want: []string{
			"c.yaml:10:9: baseOS: must be alinux2 with awsbatch, not `centos7`",
		}},
		{name: "base OS misspelt", edits: []string{"vpc: vpc-0123456789abcdef0\n", "vpc: vpc-0123456789abcdef0\nbaseOS: alinux\n"}, want: []string{
			"c.yaml:6:9: baseOS: must be `alinux2023`, `ubuntu2204`, `ubuntu2404`, `rocky9`, `alinux2`, `centos7`, `ubuntu1804` or `ubuntu2004`, not `alinux`; did you mean `alinux2`?",
		}},
		{name: "schedulerPreinstalled without ami", edits: []string{"  sshFrom: 203.0.113.0/24\n", "  sshFrom: 203.0.113.0/24\n  schedulerPreinstalled: true\n"}, want: []string{
			"c.yaml:10:26: headNode.schedulerPreinstalled: needs headNode.ami: the images Driftless picks have no scheduler installed",
		}},
		{name: "schedulerPreinstalled with ami", edits: []string{"  sshFrom: 203.0.113.0/24\n", "  sshFrom: 203.0.113.0/24\n  schedulerPreinstalled: true\n  ami: ami-0123456789abcdef0\n"}},
		{name: "two queues with sge", edits: []string{"scheduler: slurm", "scheduler: sge", queueEnd, queueEnd + "  - name: more\n    instanceType: c5.large\n    maxNodes: 2\n"}, want: []string{
			"c.yaml:10:1: compute: has 2 queues; only slurm clusters can have more than one (scheduler is sge)",
		}},
		{name: "spotPrice without spot", edits: []string{queueEnd, queueEnd + "    spotPrice: 0.5\n"}, want: []string{
			"c.yaml:15:16: compute[0].spotPrice: is only used with `capacityType: spot`",
		}},
		{name: "spotPrice zero", edits: []string{queueEnd, queueEnd + "    capacityType: spot\n    spotPrice: 0\n"}, want: []string{
			"c.yaml:16:16: compute[0].spotPrice: must be more than 0; leave it out to pay up to the on-demand price",
		}},
		{name: "capacityType misspelt", edits: []string{queueEnd, queueEnd + "    capacityType: Spot\n"}, want: []string{
			"c.yaml:15:19: compute[0].capacityType: must be `onDemand` or `spot`, not `Spot`; did you mean `spot`?",
		}},
		{name: "capacityType snake case", edits: []string{queueEnd, queueEnd + "    capacityType: on_demand\n"}, want: []string{
			"c.yaml:15:19: compute[0].capacityType: must be `onDemand` or `spot`, not `on_demand`; did you mean `onDemand`?",
		}},
		{name: "keepInitialSize against minNodes", edits: []string{queueEnd, queueEnd + "    initialNodes: 3\n    keepInitialSize: true\n"}, want: []string{
			"c.yaml:13:15: compute[0].minNodes: is 0, but keepInitialSize makes it initialNodes (3); leave minNodes out, or set keepInitialSize to false",
		}},
		{name: "keepInitialSize with initial above max", edits: []string{"    minNodes: 0\n", "", queueEnd, queueEnd + "    initialNodes: 12\n    keepInitialSize: true\n"}, want: []string{
			"c.yaml:14:19: compute[0].initialNodes: is 12, more than maxNodes (10)",
		}},
		{name: "placement group name", edits: []string{queueEnd, queueEnd + "    placementGroup: my group\n"}, want: []string{
			"c.yaml:15:21: compute[0].placementGroup: must be dynamic, or the name of an existing placement group (letters, digits, . _ -), not `my group`",
		}},
		{name: "root volume too small", edits: []string{queueEnd, queueEnd + "    rootVolumeSize: 4\n"}, want: []string{
			"c.yaml:15:21: compute[0].rootVolumeSize: must be at least 8, not 4",
		}},
		{name: "efa as text", edits: []string{queueEnd, queueEnd + "    efa: \"true\"\n"}, want: []string{
			"c.yaml:15:10: compute[0].efa: must be true or false, not the text `true`; remove the quotes",
		}},
		{name: "batch vCPUs min above max", edits: []string{"scheduler: slurm", "scheduler: awsbatch", "compute:\n  - name: batch\n    instanceType: c5.18xlarge\n    minNodes: 0\n    maxNodes: 10\n", ""}, add: "batch:\n  minVCPUs: 30\n  maxVCPUs: 20\n", want: []string{
			"c.yaml:13:13: batch.minVCPUs: is 30, more than maxVCPUs (20)",
		}},
		{name: "batch desired below min", edits: []string{"scheduler: slurm", "scheduler: awsbatch", "compute:\n  - name: batch\n    instanceType: c5.18xlarge\n    minNodes: 0\n    maxNodes: 10\n", ""}, add: "batch:\n  minVCPUs: 8\n  desiredVCPUs: 4\n", want: []string{
			"c.yaml:14:17: batch.desiredVCPUs: is 4, less than minVCPUs (8)",
		}},
		{name: "batch desired above max", edits: []string{"scheduler: slurm", "scheduler: awsbatch", "compute:\n  - name: batch\n    instanceType: c5.18xlarge\n    minNodes: 0\n    maxNodes: 10\n", ""}, add: "batch:\n  desiredVCPUs: 40\n", want: []string{
			"c.yaml:13:17: batch.desiredVCPUs: is 40, more than maxVCPUs (20)",
		}},
		{name: "batch bid without spot", edits: []string{"scheduler: slurm", "scheduler: awsbatch", "compute:\n  - name: batch\n    instanceType: c5.18xlarge\n    minNodes: 0\n    maxNodes: 10\n", ""}, add: "batch:\n  spotBidPercentage: 50\n", want: []string{
			"c.yaml:13:22: batch.spotBidPercentage: is only used with `capacityType: spot`",
		}},
		{name: "batch bid over 100", edits: []string{"scheduler: slurm", "scheduler: awsbatch", "compute:\n  - name: batch\n    instanceType: c5.18xlarge\n    minNodes: 0\n    maxNodes: 10\n", ""}, add: "batch:\n  capacityType: spot\n  spotBidPercentage: 120\n", want: []string{
			"c.yaml:14:22: batch.spotBidPercentage: must be at most 100, not 120",
		}},
		{name: "batch instance types", edits: []string{"scheduler: slurm", "scheduler: awsbatch", "compute:\n  - name: batch\n    instanceType: c5.18xlarge\n    minNodes: 0\n    maxNodes: 10\n", ""}, add: "batch:\n  instanceTypes: [optimal, C5, c5, c5]\n", want: []string{
			"c.yaml:13:28: batch.instanceTypes[1]: must be optimal, an instance family such as c5, or an instance type such as c5.xlarge, not `C5`",
			"c.yaml:13:36: batch.instanceTypes[3]: repeats batch.instanceTypes[2]",
		}},
		{name: "six EBS volumes", add: "storage:\n  ebs:\n" + "    - mountDir: /a\n    - mountDir: /b\n    - mountDir: /c\n    - mountDir: /d\n    - mountDir: /e\n    - mountDir: /f\n", want: []string{
			"c.yaml:18:3: storage.ebs: has 6 volumes; at most 5 are allowed (put more capacity in fewer volumes, or use raid or efs)",
		}},
		{name: "two EBS volumes without mountDir", add: "storage:\n  ebs:\n    - size: 10\n    - mountDir: /data\n", want: []string{
			"c.yaml:19:7: storage.ebs[0].mountDir: is required when there is more than one EBS volume",
		}},
		{name: "mount dirs", add: "storage:\n  ebs:\n    - mountDir: shared\n    - mountDir: /data/\n    - mountDir: /etc\n    - mountDir: /proc/x\n    - mountDir: /\n", want: []string{
			"c.yaml:19:17: storage.ebs[0].mountDir: must be an absolute directory such as /shared, not `shared`",
			"c.yaml:20:17: storage.ebs[1].mountDir: `/data/` is not a clean path; did you mean `/data`?",
			"c.yaml:21:17: storage.ebs[2].mountDir: cannot be `/etc`: the system needs it; use a directory of its own such as /shared",
			"c.yaml:22:17: storage.ebs[3].mountDir: cannot be under `/proc/`: the kernel owns it; use a directory of its own such as /shared",
			"c.yaml:23:17: storage.ebs[4].mountDir: cannot be the root directory",
		}},
		{name: "mount dir used twice", add: "storage:\n  ebs:\n    - mountDir: /shared\n  efs:\n    mountDir: /shared\n  raid:\n    mountDir: /shared\n    level: 0\n", want: []string{
			"c.yaml:21:15: storage.efs.mountDir: `/shared` is already the mount directory of storage.ebs[0]; each shared file system needs its own",
			"c.yaml:23:15: storage.raid.mountDir: `/shared` is already the mount directory of storage.ebs[0]; each shared file system needs its own",
		}},
		{name: "existing volume with settings", add: "storage:\n  ebs:\n    - volume: vol-0123456789abcdef0\n      size: 10\n      encrypted: true\n", want: []string{
			"c.yaml:20:7: storage.ebs[0].size: is not allowed with `volume`: an existing volume keeps its own settings; remove one of the two",
			"c.yaml:21:7: storage.ebs[0].encrypted: is not allowed with `volume`: an existing volume keeps its own settings; remove one of the two",
		}},
		{name: "kmsKey without encryption", add: "storage:\n  ebs:\n    - kmsKey: alias/hpc\n", want: []string{
			"c.yaml:19:15: storage.ebs[0].kmsKey: needs `encrypted: true`",
		}},
		{name: "kmsKey malformed", add: "storage:\n  ebs:\n    - encrypted: true\n      kmsKey: my key\n", want: []string{
			"c.yaml:20:15: storage.ebs[0].kmsKey: must be a KMS key id, key ARN or alias (alias/NAME), not `my key`",
		}},
		{name: "iops with gp2", add: "storage:\n  ebs:\n    - type: gp2\n      iops: 3000\n", want: []string{
			"c.yaml:20:13: storage.ebs[0].iops: is not used with gp2 volumes; use gp3, io1 or io2 to provision IOPS",
		}},
		{name: "io1 without iops", add: "storage:\n  ebs:\n    - type: io1\n      size: 100\n", want: []string{
			"c.yaml:19:13: storage.ebs[0].iops: is required for io1 volumes",
		}},
		{name: "io1 iops above ratio", add: "storage:\n  ebs:\n    - type: io1\n      size: 10\n      iops: 1000\n", want: []string{
			"c.yaml:21:13: storage.ebs[0].iops: is 1000, more than 50 per GiB of a 10 GiB io1 volume allows (500)",
		}},
		{name: "gp3 iops out of range", add: "storage:\n  ebs:\n    - type: gp3\n      iops: 20000\n", want: []string{
			"c.yaml:20:13: storage.ebs[0].iops: is 20000; gp3 volumes take 3000 to 16000",
		}},
		{name: "throughput with gp2", add: "storage:\n  ebs:\n    - type: gp2\n      throughput: 250\n", want: []string{
			"c.yaml:20:19: storage.ebs[0].throughput: is only used with gp3 volumes, not gp2",
		}},
		{name: "gp3 throughput above iops allow", add: "storage:\n  ebs:\n    - type: gp3\n      throughput: 1000\n", want: []string{
			"c.yaml:20:19: storage.ebs[0].throughput: is 1000 MiB/s; gp3 allows at most 1 MiB/s per 4 IOPS, so 750 with 3000 IOPS",
		}},
		{name: "st1 too small", add: "storage:\n  ebs:\n    - type: st1\n      size: 100\n", want: []string{
			"c.yaml:20:13: storage.ebs[0].size: is 100 GiB; st1 volumes need at least 125 GiB",
		}},
		{name: "snapshot id", add: "storage:\n  ebs:\n    - snapshot: snapshot-1\n", want: []string{
			"c.yaml:19:17: storage.ebs[0].snapshot: must be an EBS snapshot id such as snap-0123456789abcdef0, not `snapshot-1`",
		}},
		{name: "efs existing with settings", add: "storage:\n  efs:\n    mountDir: /efs\n    fileSystem: fs-0123456789abcdef0\n    performanceMode: maxIO\n", want: []string{
			"c.yaml:21:5: storage.efs.performanceMode: is not allowed with `fileSystem`: an existing file system keeps its own settings; remove one of the two",
		}},
		{name: "efs provisioned without throughput", add: "storage:\n  efs:\n    mountDir: /efs\n    throughputMode: provisioned\n", want: []string{
			"c.yaml:20:21: storage.efs.provisionedThroughput: is required with `throughputMode: provisioned`",
		}},
		{name: "efs throughput without provisioned", add: "storage:\n  efs:\n    mountDir: /efs\n    provisionedThroughput: 100\n", want: []string{
			"c.yaml:20:28: storage.efs.provisionedThroughput: is only used with `throughputMode: provisioned`",
		}},
		{name: "efs without mountDir", add: "storage:\n  efs:\n    fileSystem: fs-12345678\n", want: []string{
			"c.yaml:19:5: storage.efs.mountDir: is required",
		}},
		{name: "raid level and volumes", add: "storage:\n  raid:\n    mountDir: /raid\n    level: 5\n    volumes: 6\n", want: []string{
			"c.yaml:20:12: storage.raid.level: must be `0` or `1`, not 5",
			"c.yaml:21:14: storage.raid.volumes: must be at most 5, not 6",
		}},
		{name: "raid level missing", add: "storage:\n  raid:\n    mountDir: /raid\n", want: []string{
			"c.yaml:19:5: storage.raid.level: is required",
		}},
		{name: "sshFrom with securityGroup", edits: []string{"  sshFrom: 203.0.113.0/24\n", "  sshFrom: 203.0.113.0/24\n  securityGroup: sg-0123456789abcdef0\n"}, want: []string{
			"c.yaml:9:12: headNode.sshFrom: is not allowed with headNode.securityGroup: the existing group decides who may connect; remove one of the two",
		}},
		{name: "securityGroup instead of sshFrom", edits: []string{"  sshFrom: 203.0.113.0/24\n", "  securityGroup: sg-0123456789abcdef0\n"}},
		{name: "security group ids", edits: []string{"  sshFrom: 203.0.113.0/24\n", "  sshFrom: 203.0.113.0/24\n  additionalSecurityGroups: [sg-0123456789abcdef0, group-1, sg-0123456789abcdef0]\n"}, want: []string{
			"c.yaml:10:52: headNode.additionalSecurityGroups[1]: must be a security group id such as sg-0123456789abcdef0, not `group-1`",
			"c.yaml:10:61: headNode.additionalSecurityGroups[2]: repeats headNode.additionalSecurityGroups[0]",
		}},
		{name: "script URLs", add: "bootstrap:\n  preInstall:\n    url: ftp://example.com/pre.sh\n  postInstall:\n    url: s3://bucket\n    args: [a, 1]\n", want: []string{
			"c.yaml:19:10: bootstrap.preInstall.url: must be an s3://, https:// or http:// URL of a script, not `ftp://example.com/pre.sh`",
			"c.yaml:21:10: bootstrap.postInstall.url: `s3://bucket` names no script: add its path",
			"c.yaml:22:15: bootstrap.postInstall.args[1]: must be text, not the number 1; put it in quotes: \"1\"",
		}},
		{name: "script without url", add: "bootstrap:\n  postInstall:\n    args: [a]\n", want: []string{
			"c.yaml:19:5: bootstrap.postInstall.url: is required",
		}},
		{name: "proxy with a path", add: "proxy: http://proxy.example.com:8080/path\n", want: []string{
			"c.yaml:17:8: proxy: must be an http:// or https:// proxy URL such as http://proxy.example.com:8080, not `http://proxy.example.com:8080/path`",
		}},
		{name: "proxy without scheme", add: "proxy: proxy.example.com:8080\n", want: []string{
			"c.yaml:17:8: proxy: must be an http:// or https:// proxy URL such as http://proxy.example.com:8080, not `proxy.example.com:8080`",
		}},
		{name: "iam role with policies", add: "iam:\n  role: hpc-nodes\n  policies: [arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess]\n  s3Read: ['*']\n", want: []string{
			"c.yaml:19:3: iam.policies: is not allowed with iam.role: Driftless adds permissions only to the role it creates; attach them to hpc-nodes yourself",
			"c.yaml:20:3: iam.s3Read: is not allowed with iam.role: Driftless adds permissions only to the role it creates; attach them to hpc-nodes yourself",
		}},
		{name: "iam ARNs", add: "iam:\n  policies: [AmazonS3ReadOnlyAccess]\n  s3ReadWrite: [my-bucket]\n", want: []string{
			"c.yaml:18:14: iam.policies[0]: must be an IAM policy ARN such as arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess, not `AmazonS3ReadOnlyAccess`",
			"c.yaml:19:17: iam.s3ReadWrite[0]: must be * or an S3 ARN such as arn:aws:s3:::my-bucket/*, not `my-bucket`",
		}},
		{name: "policy onDrift", add: "policy:\n  onDrift: fix\n  prune: 1\n", want: []string{
			"c.yaml:18:12: policy.onDrift: must be `heal` or `report`, not `fix`",
			"c.yaml:19:10: policy.prune: must be true or false, not the number 1",
		}},
	}
}
