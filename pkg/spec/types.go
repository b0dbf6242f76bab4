package spec

// CurrentVersion is the newest spec version this build understands. Files
// declare their version so the schema can grow without breaking files
// written today: a field added later is optional in every older version.
const CurrentVersion = 1

// The struct tags below are the schema. `json` names the YAML key; `spec`
// holds the rules the decoder checks on every value that is present
// (required, enum=a|b, kind=NAME from kinds.go, min=N, max=N); `default`
// is the value of a field that is absent. The JSON Schema in schema/ is
// generated from the same tags, so the two cannot disagree.

// Cluster is one declared cluster, as written in one spec file.
type Cluster struct {
	// Version of the schema the file is written against.
	Version int `json:"version" spec:"required,min=1"`
	// Name is the cluster's name; the stack name is derived from it.
	Name string `json:"name" spec:"required,kind=clusterName"`
	// Region is the AWS region the cluster lives in.
	Region string `json:"region" spec:"required,kind=region"`
	// Scheduler is one of slurm, sge, torque, awsbatch.
	Scheduler string `json:"scheduler" spec:"required,enum=slurm|sge|torque|awsbatch"`
	// VPC is the id of the VPC the cluster's subnets belong to.
	VPC string `json:"vpc" spec:"required,kind=vpc"`
	// LoginUser is the user people log in as on the head node.
	LoginUser string `json:"loginUser,omitempty" spec:"kind=loginUser"`
	// HeadNode describes the cluster's head node.
	HeadNode HeadNode `json:"headNode" spec:"required"`
	// Compute lists the compute queues. The first cut renders one Auto
	// Scaling group per queue.
	Compute []Queue `json:"compute"`
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
	SSHFrom string `json:"sshFrom" spec:"required,kind=cidr"`
	// AMI is the image of the head node and the compute nodes.
	AMI string `json:"ami,omitempty" spec:"kind=ami"`
}

// Queue is one compute queue: a group of identical nodes.
type Queue struct {
	// Name is the scheduler's name for the queue (Slurm partition, SGE
	// queue); it defaults to "compute" when the cluster has one queue.
	Name string `json:"name" spec:"kind=queueName"`
	// InstanceType is the EC2 instance type of every node of the queue.
	InstanceType string `json:"instanceType" spec:"required,kind=instanceType"`
	// MinNodes is the number of nodes kept running even when idle.
	MinNodes int `json:"minNodes" spec:"min=0"`
	// InitialNodes is the number of nodes started with the cluster; it
	// defaults to MinNodes and is never nil after Parse.
	InitialNodes *int `json:"initialNodes,omitempty" spec:"min=0"`
	// MaxNodes is the most nodes the queue grows to.
	MaxNodes int `json:"maxNodes" spec:"required,min=1"`
	// Subnet defaults to the head node's subnet.
	Subnet string `json:"subnet,omitempty" spec:"kind=subnet"`
}
