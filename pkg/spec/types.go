package spec

// CurrentVersion is the newest spec version this build understands. Files
// declare their version so the schema can grow without breaking files
// written today: a field added later is optional in every older version.
const CurrentVersion = 1

// Cluster is one declared cluster, as written in one spec file.
type Cluster struct {
	// Version of the schema the file is written against.
	Version int `json:"version"`
	// Name is the cluster's name; the stack name is derived from it.
	Name string `json:"name"`
	// Region is the AWS region the cluster lives in.
	Region string `json:"region"`
	// Scheduler is one of slurm, sge, torque, awsbatch.
	Scheduler string `json:"scheduler"`
	// VPC is the id of the VPC the cluster's subnets belong to.
	VPC string `json:"vpc"`
	// LoginUser is the user people log in as on the head node.
	LoginUser string `json:"loginUser,omitempty"`
	// HeadNode describes the cluster's head node.
	HeadNode HeadNode `json:"headNode"`
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
	InstanceType string `json:"instanceType"`
	Subnet       string `json:"subnet"`
	KeyPair      string `json:"keyPair,omitempty"`
	// SSHFrom is the only CIDR allowed to reach the head node on port 22.
	SSHFrom string `json:"sshFrom"`
	// AMI is the image of the head node and the compute nodes.
	AMI string `json:"ami,omitempty"`
}

// Queue is one compute queue: a group of identical nodes.
type Queue struct {
	Name         string `json:"name"`
	InstanceType string `json:"instanceType"`
	MinNodes     int    `json:"minNodes"`
	InitialNodes *int   `json:"initialNodes,omitempty"`
	MaxNodes     int    `json:"maxNodes"`
	// Subnet defaults to the head node's subnet.
	Subnet string `json:"subnet,omitempty"`
}
