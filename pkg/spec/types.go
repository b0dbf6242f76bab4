package spec

// CurrentVersion is the newest spec version this build understands. Files
// declare their version so the schema can grow without breaking files
// written today: a field added later is optional in every older version.
const CurrentVersion = 1

// The struct tags below are the schema. `json` names the YAML key; `spec`
// holds the rules the decoder checks on every value that is present
// (required, enum=a|b, kind=NAME from kinds.go, min=N, max=N); `default`
// is the value of an absent field; `docDefault` describes a default that
// depends on other fields and is set in defaults.go. The JSON Schema in
// schema/ and the field reference in docs/spec.md are generated from the
// same tags and doc comments, so they cannot disagree with the parser.

// Cluster is one declared cluster, as written in one spec file.
type Cluster struct {
	// Version is the version of the schema the file is written against.
	Version int `json:"version" spec:"required,min=1"`
	// Name is the cluster's name; the stack is named driftless-NAME.
	Name string `json:"name" spec:"required,kind=clusterName"`
	// Region is the AWS region the cluster lives in.
	Region string `json:"region" spec:"required,kind=region"`
	// Scheduler is the batch scheduler the cluster runs.
	Scheduler string `json:"scheduler" spec:"required,enum=slurm|sge|torque|awsbatch"`
	// VPC is the id of the VPC the cluster's subnets belong to.
	VPC string `json:"vpc" spec:"required,kind=vpc"`
	// BaseOS is the operating system of every node. With awsbatch it
	// must be alinux2. alinux2, centos7, ubuntu1804 and ubuntu2004 are
	// past their end of life and package no Slurm the node bootstrap can
	// use (docs/nodes.md).
	BaseOS string `json:"baseOS,omitempty" spec:"enum=alinux2023|ubuntu2204|ubuntu2404|rocky9|alinux2|centos7|ubuntu1804|ubuntu2004" default:"alinux2"`
	// LoginUser is the user people log in as on the head node.
	LoginUser string `json:"loginUser,omitempty" spec:"kind=loginUser" docDefault:"the base OS's user: ec2-user (alinux2023, alinux2), ubuntu (ubuntu2204, ubuntu2404, ubuntu1804, ubuntu2004), rocky (rocky9), centos (centos7)"`
	// HeadNode describes the cluster's head node.
	HeadNode HeadNode `json:"headNode" spec:"required"`
	// Compute lists the compute queues, each an Auto Scaling group. Slurm
	// clusters may have several; sge and torque exactly one; awsbatch none.
	Compute []Queue `json:"compute,omitempty"`
	// Scaling says how the compute fleet follows the job queue. Not with
	// awsbatch, where AWS Batch sizes the fleet.
	Scaling Scaling `json:"scaling,omitzero"`
	// Batch sizes the AWS Batch compute environment; awsbatch only.
	Batch *Batch `json:"batch,omitempty" docDefault:"the defaults of its fields when the scheduler is awsbatch"`
	// Storage is the shared storage mounted on every node.
	Storage Storage `json:"storage,omitzero"`
	// Proxy is the HTTP(S) proxy the nodes reach the internet and AWS
	// through, for subnets without a NAT gateway, e.g. http://proxy:8080.
	Proxy string `json:"proxy,omitempty" spec:"kind=proxy"`
	// Bootstrap runs your scripts on every node as it starts.
	Bootstrap Bootstrap `json:"bootstrap,omitzero"`
	// IAM adds permissions to the nodes' role, or names a role to use.
	IAM IAM `json:"iam,omitzero"`
	// Policy holds the settings the daemon itself follows for this cluster.
	Policy Policy `json:"policy,omitzero"`
	// Tags are added to the stack and propagated to every instance.
	Tags map[string]string `json:"tags,omitempty"`

	// File is the repo-relative path the spec was read from.
	File string `json:"-"`
}

// HeadNode is the head (master) node of a cluster.
type HeadNode struct {
	// InstanceType is the EC2 instance type of the head node.
	InstanceType string `json:"instanceType" spec:"required,kind=instanceType"`
	// Subnet is the subnet the head node is launched in.
	Subnet string `json:"subnet" spec:"required,kind=subnet"`
	// KeyPair is the EC2 key pair installed for the login user.
	KeyPair string `json:"keyPair,omitempty" spec:"kind=keyPair"`
	// SSHFrom is the only CIDR allowed to reach the head node on port 22.
	// Required unless securityGroup is set; 0.0.0.0/0 opens SSH to the
	// internet and must be written out to get it.
	SSHFrom string `json:"sshFrom,omitempty" spec:"kind=cidr"`
	// AMI is a custom image for the head node and the compute nodes,
	// built from the base OS; by default Driftless picks its own.
	AMI string `json:"ami,omitempty" spec:"kind=ami"`
	// SchedulerPreinstalled says the custom AMI already has the
	// scheduler, laid out as the base OS's packages lay it out: the node
	// bootstrap installs none of its packages. Needs ami.
	SchedulerPreinstalled bool `json:"schedulerPreinstalled,omitempty"`
	// RootVolumeSize is the head node's root volume in GiB; by default the
	// size of the image's root snapshot.
	RootVolumeSize int `json:"rootVolumeSize,omitempty" spec:"min=8,max=16384"`
	// PublicIP gives the head node a public (Elastic) IP address.
	PublicIP bool `json:"publicIP" default:"true"`
	// SecurityGroup is an existing security group to use instead of the
	// one Driftless creates; sshFrom is then not allowed, because the
	// group decides who may connect.
	SecurityGroup string `json:"securityGroup,omitempty" spec:"kind=securityGroup"`
	// AdditionalSecurityGroups are attached to the head node besides its
	// own group.
	AdditionalSecurityGroups []string `json:"additionalSecurityGroups,omitempty" spec:"kind=securityGroup"`
	// DisableHyperthreading runs one thread per core.
	DisableHyperthreading bool `json:"disableHyperthreading,omitempty"`
}

// Queue is one compute queue: a group of identical nodes.
type Queue struct {
	// Name is the scheduler's name for the queue (Slurm partition, SGE
	// queue).
	Name string `json:"name" spec:"kind=queueName" docDefault:"compute, when the cluster has one queue"`
	// InstanceType is the EC2 instance type of every node of the queue.
	InstanceType string `json:"instanceType" spec:"required,kind=instanceType"`
	// MinNodes is the number of nodes kept running even when idle.
	MinNodes int `json:"minNodes" spec:"min=0" docDefault:"0, or initialNodes with keepInitialSize"`
	// InitialNodes is the number of nodes started with the cluster.
	//
	// Parse sets it when the file does not, so it is never nil after Parse.
	InitialNodes *int `json:"initialNodes,omitempty" spec:"min=0" docDefault:"minNodes"`
	// MaxNodes is the most nodes the queue grows to.
	MaxNodes int `json:"maxNodes" spec:"required,min=1"`
	// KeepInitialSize keeps the initial nodes running when idle: minNodes
	// becomes initialNodes (ParallelCluster's maintain_initial_size).
	KeepInitialSize bool `json:"keepInitialSize,omitempty"`
	// Subnet is the subnet the queue's nodes are launched in.
	Subnet string `json:"subnet,omitempty" spec:"kind=subnet" docDefault:"headNode.subnet"`
	// PublicIP gives each node a public IP address, which nodes in a
	// public subnet without a NAT gateway or proxy need to reach AWS.
	PublicIP bool `json:"publicIP,omitempty"`
	// CapacityType buys the nodes on demand or as spot instances.
	CapacityType string `json:"capacityType,omitempty" spec:"enum=onDemand|spot" default:"onDemand"`
	// SpotPrice is the most to pay per node-hour in USD, spot only; by
	// default the on-demand price.
	SpotPrice float64 `json:"spotPrice,omitempty" spec:"min=0"`
	// PlacementGroup puts the nodes in a cluster placement group: dynamic
	// makes one for the queue, any other value names an existing group.
	PlacementGroup string `json:"placementGroup,omitempty" spec:"kind=placementGroup"`
	// RootVolumeSize is each node's root volume in GiB; by default the
	// size of the image's root snapshot.
	RootVolumeSize int `json:"rootVolumeSize,omitempty" spec:"min=8,max=16384"`
	// DisableHyperthreading runs one thread per core.
	DisableHyperthreading bool `json:"disableHyperthreading,omitempty"`
	// EFA attaches an Elastic Fabric Adapter to each node.
	EFA bool `json:"efa,omitempty"`
	// AdditionalSecurityGroups are attached to the nodes besides the
	// cluster's own group.
	AdditionalSecurityGroups []string `json:"additionalSecurityGroups,omitempty" spec:"kind=securityGroup"`
}

// Scaling says how the compute fleet follows the scheduler's queue.
type Scaling struct {
	// IdleTime is how long a node stays idle before it is retired, as a
	// duration such as 10m or 1h.
	IdleTime Duration `json:"idleTime" spec:"min=60" default:"10m"`
	// ScaleUp starts nodes when jobs wait; false keeps the fleet at its
	// current size (retiring idle nodes still happens).
	ScaleUp bool `json:"scaleUp" default:"true"`
}

// Batch is the AWS Batch compute environment of an awsbatch cluster.
type Batch struct {
	// MinVCPUs is the number of vCPUs kept running even when no job waits.
	MinVCPUs int `json:"minVCPUs" spec:"min=0" default:"0"`
	// DesiredVCPUs is the number of vCPUs started with the cluster.
	DesiredVCPUs int `json:"desiredVCPUs" spec:"min=0" default:"4"`
	// MaxVCPUs is the most vCPUs the environment grows to.
	MaxVCPUs int `json:"maxVCPUs" spec:"min=1" default:"20"`
	// InstanceTypes are the instance types or families AWS Batch may
	// launch; optimal lets it choose from the C, M and R families.
	InstanceTypes []string `json:"instanceTypes,omitempty" spec:"kind=batchInstanceType" docDefault:"[optimal]"`
	// CapacityType buys the instances on demand or as spot instances.
	CapacityType string `json:"capacityType,omitempty" spec:"enum=onDemand|spot" default:"onDemand"`
	// SpotBidPercentage is the most to pay for a spot instance, as a
	// percentage of its on-demand price; spot only.
	SpotBidPercentage int `json:"spotBidPercentage,omitempty" spec:"min=1,max=100" docDefault:"100 with spot"`
	// Subnet is the subnet the compute environment launches instances in.
	Subnet string `json:"subnet,omitempty" spec:"kind=subnet" docDefault:"headNode.subnet"`
}

// Storage is the cluster's shared storage, mounted on every node.
type Storage struct {
	// EBS lists up to five EBS volumes attached to the head node and
	// exported to the compute nodes over NFS.
	EBS []EBSVolume `json:"ebs,omitempty"`
	// EFS is an Elastic File System mounted on every node.
	EFS *EFS `json:"efs,omitempty"`
	// RAID is a RAID array of EBS volumes on the head node, exported to
	// the compute nodes over NFS.
	RAID *RAID `json:"raid,omitempty"`
}

// EBSVolume is one shared EBS volume: a new one, one made from a snapshot,
// or an existing volume.
type EBSVolume struct {
	// MountDir is the absolute directory the volume is mounted at.
	MountDir string `json:"mountDir,omitempty" spec:"kind=mountDir" docDefault:"/shared, when it is the only volume"`
	// Type is the EBS volume type of a new volume.
	Type string `json:"type,omitempty" spec:"enum=gp2|gp3|io1|io2|st1|sc1" docDefault:"gp3 for a new volume"`
	// Size is the size of a new volume in GiB; from a snapshot, by default
	// the snapshot's size.
	Size int `json:"size,omitempty" spec:"min=1,max=16384" docDefault:"20 for a new volume"`
	// IOPS are the provisioned I/O operations per second: required for io1
	// and io2, 3000 to 16000 for gp3, not allowed for other types.
	IOPS int `json:"iops,omitempty" spec:"min=100,max=256000" docDefault:"3000 for gp3"`
	// Throughput is the volume's throughput in MiB/s, gp3 only.
	Throughput int `json:"throughput,omitempty" spec:"min=125,max=1000" docDefault:"125 for gp3"`
	// Encrypted encrypts a new volume.
	Encrypted bool `json:"encrypted,omitempty"`
	// KMSKey is the KMS key (id, ARN or alias) that encrypts the volume;
	// by default the account's EBS key. Needs encrypted.
	KMSKey string `json:"kmsKey,omitempty" spec:"kind=kmsKey"`
	// Snapshot creates the volume from this EBS snapshot.
	Snapshot string `json:"snapshot,omitempty" spec:"kind=snapshot"`
	// Volume attaches this existing volume instead of creating one; it
	// excludes every other setting but mountDir.
	Volume string `json:"volume,omitempty" spec:"kind=volume"`
}

// EFS is the cluster's Elastic File System: a new one, or an existing one.
type EFS struct {
	// MountDir is the absolute directory the file system is mounted at.
	MountDir string `json:"mountDir" spec:"required,kind=mountDir"`
	// FileSystem mounts this existing file system instead of creating
	// one; it excludes every other setting but mountDir.
	FileSystem string `json:"fileSystem,omitempty" spec:"kind=efs"`
	// PerformanceMode is the performance mode of a new file system.
	PerformanceMode string `json:"performanceMode,omitempty" spec:"enum=generalPurpose|maxIO" docDefault:"generalPurpose for a new file system"`
	// ThroughputMode is the throughput mode of a new file system.
	ThroughputMode string `json:"throughputMode,omitempty" spec:"enum=bursting|provisioned" docDefault:"bursting for a new file system"`
	// ProvisionedThroughput is the throughput in MiB/s; required with the
	// provisioned throughput mode and only allowed with it.
	ProvisionedThroughput int `json:"provisionedThroughput,omitempty" spec:"min=1,max=1024"`
	// Encrypted encrypts a new file system at rest.
	Encrypted bool `json:"encrypted,omitempty"`
	// KMSKey is the KMS key that encrypts the file system. Needs encrypted.
	KMSKey string `json:"kmsKey,omitempty" spec:"kind=kmsKey"`
}

// RAID is a software RAID array over new EBS volumes on the head node.
type RAID struct {
	// MountDir is the absolute directory the array is mounted at.
	MountDir string `json:"mountDir" spec:"required,kind=mountDir"`
	// Level is the RAID level: 0 (striping) or 1 (mirroring).
	Level int `json:"level" spec:"required,enum=0|1"`
	// Volumes is the number of EBS volumes in the array.
	Volumes int `json:"volumes" spec:"min=2,max=5" default:"2"`
	// Type is the EBS volume type of each volume.
	Type string `json:"type" spec:"enum=gp2|gp3|io1|io2|st1|sc1" default:"gp3"`
	// Size is the size of each volume in GiB.
	Size int `json:"size" spec:"min=1,max=16384" default:"20"`
	// IOPS are the provisioned IOPS of each volume: required for io1 and io2, 3000 to 16000 for
	// gp3, not allowed for other types.
	IOPS int `json:"iops,omitempty" spec:"min=100,max=256000" docDefault:"3000 for gp3"`
	// Throughput is the throughput of each volume in MiB/s, gp3 only.
	Throughput int `json:"throughput,omitempty" spec:"min=125,max=1000" docDefault:"125 for gp3"`
	// Encrypted encrypts the volumes.
	Encrypted bool `json:"encrypted,omitempty"`
	// KMSKey is the KMS key that encrypts the volumes. Needs encrypted.
	KMSKey string `json:"kmsKey,omitempty" spec:"kind=kmsKey"`
}

// Bootstrap holds the scripts every node runs as it starts.
type Bootstrap struct {
	// PreInstall runs before the node is configured.
	PreInstall *Script `json:"preInstall,omitempty"`
	// PostInstall runs after the node is configured.
	PostInstall *Script `json:"postInstall,omitempty"`
}

// Script is a script fetched from a URL and run as root with arguments.
type Script struct {
	// URL is where the script is fetched from: s3://, https:// or http://.
	URL string `json:"url" spec:"required,kind=url"`
	// Args are passed to the script, each as one argument.
	Args []string `json:"args,omitempty"`
}

// IAM is what the nodes may do in AWS beyond what the cluster needs.
type IAM struct {
	// Role is an existing IAM role (name or ARN) for the nodes, instead of
	// the one Driftless creates. Policies and S3 access then belong on
	// that role, so they are not allowed here.
	Role string `json:"role,omitempty" spec:"kind=iamRole"`
	// Policies are ARNs of managed policies attached to the nodes' role.
	Policies []string `json:"policies,omitempty" spec:"kind=iamPolicy"`
	// S3Read are S3 ARNs (arn:aws:s3:::bucket/*) or * the nodes may read.
	S3Read []string `json:"s3Read,omitempty" spec:"kind=s3Resource"`
	// S3ReadWrite are S3 ARNs or * the nodes may read and write.
	S3ReadWrite []string `json:"s3ReadWrite,omitempty" spec:"kind=s3Resource"`
}

// Policy is what the daemon may do to this cluster on its own. The daemon
// reads it from the last applied spec as well (it rides in the stack's
// Metadata), because a deleted file cannot be read.
type Policy struct {
	// Prune lets the daemon delete the cluster when its file leaves the
	// repo, if the daemon's own configuration allows pruning too.
	Prune bool `json:"prune,omitempty"`
	// TerminationProtection turns on the stack's termination protection,
	// which blocks deletion by anyone until it is turned off.
	TerminationProtection bool `json:"terminationProtection,omitempty"`
	// OnDrift says what to do when the live cluster differs from the spec:
	// heal puts it back, report only reports it.
	OnDrift string `json:"onDrift,omitempty" spec:"enum=heal|report" default:"heal"`
	// RecreateFailed lets the daemon delete a stack that never came up
	// (CREATE_FAILED, ROLLBACK_COMPLETE, ROLLBACK_FAILED), whose delete
	// failed (DELETE_FAILED) or that a change set left empty
	// (REVIEW_IN_PROGRESS), and create it again. Off, such a stack blocks
	// the cluster until a person deletes it.
	RecreateFailed bool `json:"recreateFailed,omitempty"`
	// Approve lets the daemon carry out changes it would otherwise refuse
	// on its own (they stop the compute fleet, or replace the head node or
	// storage). Each entry names one change as reconciler plan prints it,
	// the setting and its new value, e.g. headNode.instanceType=c5.xlarge,
	// so it cannot approve a later, different change of the same setting.
	Approve []string `json:"approve,omitempty" spec:"kind=approval"`
}
