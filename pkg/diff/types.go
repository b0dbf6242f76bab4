package diff

import "github.com/driftless/driftless/pkg/render"

// Live is one of our stacks as AWS reports it, with its compute groups.
type Live struct {
	Cluster   string
	StackName string
	StackID   string
	Status    string
	// StatusReason is CloudFormation's reason for the status, if any.
	StatusReason string
	Tags         map[string]string
	// Revision and Hash are read from the stack's tags.
	Revision string
	Hash     string
	// TerminationProtection is on when a person protected the stack.
	TerminationProtection bool
	Groups                []LiveGroup
	// Outputs are the stack's outputs by key (head node addresses, login
	// user, group names), as DescribeStacks returns them.
	Outputs map[string]string
	// Template is the live template body; observe reads it (GetTemplate)
	// only when Hash differs from the desired template's, so the plan
	// can explain the change. Nil when it was not read.
	Template []byte
	// HeadNode is the head node instance as EC2 reports it; nil when it
	// was not looked at.
	HeadNode *Instance
	// ResourceDrift is what CloudFormation's own drift detection found
	// modified or deleted at its last check, when that check is newer
	// than the stack's last update.
	ResourceDrift []ResourceDrift
}

// Instance is an EC2 instance of a live stack.
type Instance struct {
	ID string
	// State is the EC2 state name (running, stopped, terminated, ...);
	// InstanceMissing when no instance was found.
	State string
	Tags  map[string]string
}

// InstanceMissing is the State of an instance that EC2 no longer lists.
const InstanceMissing = "missing"

// ResourceDrift is one resource CloudFormation's drift detection found
// different from the template.
type ResourceDrift struct {
	LogicalID string
	Type      string
	// Status is MODIFIED or DELETED.
	Status string
	// Properties are the differing property paths with the expected and
	// actual values, e.g. "/Properties/MaxSize: 4 → 9".
	Properties []string
}

// LiveGroup is an Auto Scaling group that belongs to a live stack.
type LiveGroup struct {
	Name      string
	Min       int
	Max       int
	Desired   int
	InService int
	// Tags are the group's tags; nil when they were not read.
	Tags map[string]string
}

// Action is what a plan does to one cluster.
type Action string

// The actions of a plan.
const (
	// None: the live stack matches the repo.
	None Action = "none"
	// Create: the repo declares a cluster that has no stack.
	Create Action = "create"
	// Update: the stack exists but was made from something else.
	Update Action = "update"
	// Delete: the spec left the repo and pruning allows the delete.
	Delete Action = "delete"
	// Retain: the spec left the repo but the stack is kept (pruning off,
	// protected, or refused as implausible).
	Retain Action = "retain"
	// Wait: the stack is busy; nothing may be issued until it settles.
	Wait Action = "wait"
	// Skip: the spec is invalid; the live cluster is left as it is.
	Skip Action = "skip"
	// Blocked: the stack is in a state the daemon will not act on alone,
	// or the change waits for a person's approval, or is not allowed.
	Blocked Action = "blocked"
	// Hold: the repo and AWS differ, but the daemon holds off until a
	// person acts: the change needs an approval line in the repo or is
	// not allowed, or drift is only to be reported. Change.Hold says
	// which.
	Hold Action = "hold"
	// Heal: the stack matches the repo, but something drifted behind the
	// repo's back (a group's limits, tags, a stopped head node) and the
	// cluster's policy.onDrift puts it back.
	Heal Action = "heal"
)

// ForceStopApproval is the line of policy.approve that lets an approved
// change stop the compute fleet at once, without draining the nodes and
// waiting for their jobs: for a cluster whose scheduler cannot be reached,
// or whose jobs would not end in the drain timeout.
const ForceStopApproval = "fleet.stop=force"

// Why a change is held. The values are status reasons and metric labels
// (driftless_cluster_held{reason}).
const (
	// HoldApproval: the change needs the fleet stopped or replaces the
	// head node or storage, and the spec's policy.approve does not name it.
	HoldApproval = "NeedsApproval"
	// HoldNotAllowed: the change is not allowed on a live cluster.
	HoldNotAllowed = "NotAllowed"
	// HoldDrift: something drifted and policy.onDrift is report, or the
	// daemon cannot heal it.
	HoldDrift = "DriftReported"
	// HoldHeadNode: the head node was terminated behind the repo's back.
	HoldHeadNode = "HeadNodeLost"
)

// Change is the plan for one cluster.
type Change struct {
	Cluster string
	Action  Action
	// Reason says in a person's words why this action was chosen.
	Reason string
	// Refused names the guard that kept a stack whose spec left the repo
	// from being deleted although pruning is on (one of the Refused*
	// values); empty otherwise.
	Refused string
	Desired *render.Stack
	Live    *Live
	// Fields are the settings of the spec that change, each with its
	// update policy; set for an update (or a blocked one) when the live
	// spec could be read.
	Fields []FieldChange
	// Resources are the template's resources that change.
	Resources []ResourceChange
	// Drift is what differs from the last apply behind the repo's back.
	Drift []Drift
	// Hold says why an action is Hold (one of the Hold* values); empty
	// otherwise.
	Hold string
	// StopFleet: an approved change needs the compute fleet stopped
	// before the update and restored after it.
	StopFleet bool
	// ForceStop: the spec's policy.approve holds ForceStopApproval, so
	// the fleet is stopped without draining its nodes and waiting for
	// their jobs first; jobs still running are lost.
	ForceStop bool
}

// Mutating reports whether carrying out the change calls AWS to change
// something.
func (c Change) Mutating() bool {
	switch c.Action {
	case Create, Update, Delete, Recreate, ContinueRollback, Heal:
		return true
	}
	return false
}
