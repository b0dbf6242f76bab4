package inventory

import "time"

// Sync says how a cluster's live stack relates to its spec in the repo.
type Sync string

// The sync states.
const (
	// Synced: the stack was made from the spec the repo declares.
	Synced Sync = "Synced"
	// OutOfSync: the spec changed since the stack was last applied.
	OutOfSync Sync = "OutOfSync"
	// NotCreated: declared in the repo, no stack yet.
	NotCreated Sync = "NotCreated"
	// NotDeclared: a stack of ours whose spec left the repo.
	NotDeclared Sync = "NotDeclared"
	// InvalidSpec: the spec is broken; the live cluster is left as it is.
	InvalidSpec Sync = "InvalidSpec"
	// Busy: the stack is being changed; its sync is known once it settles.
	Busy Sync = "Busy"
	// Failed: the stack is in a failed state a person must resolve.
	Failed Sync = "Failed"
	// Unknown: no repo was read, so nothing is declared to compare with.
	Unknown Sync = "Unknown"
)

// Inventory is every cluster the repo declares or AWS runs.
type Inventory struct {
	// Revision is the repo revision the declared side was read from.
	Revision string `json:"revision,omitempty"`
	// Clusters are sorted by name.
	Clusters []Cluster `json:"clusters"`
	// Invalid maps each broken spec file to its errors.
	Invalid map[string][]string `json:"invalid,omitempty"`
	// Source says where conditions came from: "daemon" when a running
	// daemon's /status answered, otherwise "computed".
	Source string `json:"source"`
}

// Cluster is one cluster as the operator sees it.
type Cluster struct {
	Name      string `json:"name"`
	File      string `json:"file,omitempty"`
	Scheduler string `json:"scheduler,omitempty"`
	Region    string `json:"region,omitempty"`
	// Stack is the CloudFormation stack name; empty when none exists.
	Stack       string `json:"stack,omitempty"`
	StackStatus string `json:"stackStatus,omitempty"`
	// StackReason is CloudFormation's reason for the stack status.
	StackReason string `json:"stackReason,omitempty"`
	Sync        Sync   `json:"sync"`
	// DeclaredRevision is the repo revision that declares the cluster;
	// AppliedRevision the one recorded on the live stack.
	DeclaredRevision string `json:"declaredRevision,omitempty"`
	AppliedRevision  string `json:"appliedRevision,omitempty"`
	// Drift lists, in a person's words, where the live cluster differs from
	// what its stack declares (group limits changed by hand, a stopped head
	// node, nodes missing from service).
	Drift []string `json:"drift,omitempty"`
	// Condition, Reason and Message are the daemon's view of the cluster
	// (Ready, Reconciling, Stalled, Blocked), or the same computed from the
	// repo and AWS when no daemon was asked.
	Condition string `json:"condition"`
	Reason    string `json:"reason,omitempty"`
	Message   string `json:"message,omitempty"`
	LoginUser string `json:"loginUser,omitempty"`
	// HeadNode is the head node instance, when it exists.
	HeadNode *Instance `json:"headNode,omitempty"`
	// Fleet are the compute Auto Scaling groups.
	Fleet []Group `json:"fleet,omitempty"`
	// Batch is the AWS Batch compute environment of an awsbatch cluster.
	Batch *ComputeEnvironment `json:"batch,omitempty"`
	// Idle is the number of idle compute nodes as the daemon's fleet loop
	// last saw them; nil when unknown.
	Idle *int `json:"idleNodes,omitempty"`
	// Instances are the cluster's instances: head node first, then compute
	// nodes by queue and launch time.
	Instances []Instance `json:"instances,omitempty"`
	// Outputs are the stack's outputs.
	Outputs map[string]string `json:"outputs,omitempty"`
}

// Group is one compute Auto Scaling group with its declared and live size.
type Group struct {
	Name      string `json:"name"`
	Queue     string `json:"queue,omitempty"`
	Min       int    `json:"min"`
	Desired   int    `json:"desired"`
	Max       int    `json:"max"`
	InService int    `json:"inService"`
}

// ComputeEnvironment is an AWS Batch compute environment's size and state.
type ComputeEnvironment struct {
	ARN          string `json:"arn"`
	Name         string `json:"name"`
	State        string `json:"state,omitempty"`
	Status       string `json:"status,omitempty"`
	MinVCPUs     int    `json:"minVCPUs"`
	DesiredVCPUs int    `json:"desiredVCPUs"`
	MaxVCPUs     int    `json:"maxVCPUs"`
	// JobQueue is the ARN of the cluster's job queue, from the stack
	// outputs.
	JobQueue string `json:"jobQueue,omitempty"`
}

// Role is what an instance does in its cluster.
type Role string

// The instance roles.
const (
	RoleHead    Role = "head"
	RoleCompute Role = "compute"
	RoleBatch   Role = "batch"
	RoleOther   Role = "other"
)

// Instance is one EC2 instance of a cluster.
type Instance struct {
	ID      string `json:"id"`
	Cluster string `json:"-"`
	Role    Role   `json:"role"`
	// Queue and Group name the compute queue and Auto Scaling group of a
	// compute node.
	Queue      string    `json:"queue,omitempty"`
	Group      string    `json:"group,omitempty"`
	State      string    `json:"state"`
	Type       string    `json:"type"`
	PublicIP   string    `json:"publicIP,omitempty"`
	PrivateIP  string    `json:"privateIP,omitempty"`
	PrivateDNS string    `json:"privateDNS,omitempty"`
	LaunchTime time.Time `json:"launchTime"`
	// Node and SchedulerState are the scheduler's name and state (idle,
	// allocated, drained...) for the instance, when the scheduler was
	// asked (reconciler instances --scheduler).
	Node           string `json:"node,omitempty"`
	SchedulerState string `json:"schedulerState,omitempty"`
}
