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
}

// LiveGroup is an Auto Scaling group that belongs to a live stack.
type LiveGroup struct {
	Name      string
	Min       int
	Max       int
	Desired   int
	InService int
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
	// Blocked: the stack is in a state the daemon will not act on alone.
	Blocked Action = "blocked"
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
}

// Mutating reports whether carrying out the change calls AWS to change
// something.
func (c Change) Mutating() bool {
	switch c.Action {
	case Create, Update, Delete, Recreate, ContinueRollback:
		return true
	}
	return false
}
