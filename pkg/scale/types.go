package scale

import "time"

// NodeState is a compute node's condition as the scheduler reports it,
// reduced to what the fleet loop decides on.
type NodeState string

// The node states the planner knows. Adapters map their scheduler's own
// states onto these; anything they cannot place is Unknown, which the
// planner never acts on.
const (
	// Idle: up, accepting work, running nothing.
	Idle NodeState = "idle"
	// Allocated: every slot is in use.
	Allocated NodeState = "allocated"
	// Mixed: some slots are in use.
	Mixed NodeState = "mixed"
	// Draining: no new work is accepted but jobs still run.
	Draining NodeState = "draining"
	// Drained: no new work is accepted and nothing runs.
	Drained NodeState = "drained"
	// Down: the scheduler cannot reach the node or marked it failed.
	Down NodeState = "down"
	// PoweredDown: the scheduler powered the node off (Slurm power
	// saving); it has no instance behind it.
	PoweredDown NodeState = "powered-down"
	// Booting: the scheduler knows the node but it has not registered yet
	// (Slurm's POWERING_UP, or a node that never answered).
	Booting NodeState = "booting"
	// Unknown: a state the adapter could not place.
	Unknown NodeState = "unknown"
)

// NodeStates lists every state, in the order metrics and reports use.
var NodeStates = []NodeState{Idle, Allocated, Mixed, Draining, Drained, Down, PoweredDown, Booting, Unknown}

// Busy reports whether a node in this state runs at least one job.
func (s NodeState) Busy() bool {
	return s == Allocated || s == Mixed || s == Draining
}

// Node is one compute node as the scheduler sees it.
type Node struct {
	// Name is the scheduler's name for the node (Slurm NodeName, SGE host).
	Name string
	// Hostname and Address are what the scheduler uses to reach the node,
	// when it reports them; either may match the instance's private DNS
	// name or private IP.
	Hostname string
	Address  string
	// InstanceID is the EC2 instance behind the node, when the adapter
	// knows it directly. Otherwise the loop maps it (see MapNodes).
	InstanceID string
	State      NodeState
	// Reason is the scheduler's note for a drained or down node.
	Reason string
	// Since is when the node entered its state according to the scheduler
	// (Slurm's last_busy for an idle node), zero when not reported. The
	// planner only ever uses it to make a clock later, never earlier.
	Since time.Time
	// Slots is the node's capacity in the scheduler's unit (CPUs for Slurm,
	// queue slots for SGE and Torque); SlotsUsed how many run work.
	Slots     int
	SlotsUsed int
	// Queues are the partitions or queues the node serves.
	Queues []string
}

// Job is one job the scheduler holds, reduced to what sizing needs.
type Job struct {
	ID string
	// Queue is the partition or queue the job was submitted to (the first
	// one when it names several).
	Queue string
	// Pending is true for a job that waits for resources; false for one
	// that runs.
	Pending bool
	// Eligible is false for a pending job that more nodes would not start:
	// held, waiting on a dependency or a start time, or blocked by a limit.
	Eligible bool
	// Nodes is the number of nodes the job asks for (at least 1).
	Nodes int
	// Slots is the total number of slots (CPUs) the job asks for.
	Slots int
	// Exclusive jobs take whole nodes.
	Exclusive bool
	// RequiredNodes names nodes the job must run on, if the user said so.
	RequiredNodes []string
	// Reason is the scheduler's reason the job waits.
	Reason string
	// Submitted is when the job was submitted, zero if not reported.
	Submitted time.Time
}

// State is one snapshot of a scheduler.
type State struct {
	Nodes []Node
	Jobs  []Job
}

// Instance is one EC2 instance of an Auto Scaling group.
type Instance struct {
	ID string
	// Lifecycle is the group's lifecycle state (Pending, InService,
	// Terminating, ...).
	Lifecycle string
	// Healthy is the group's health status.
	Healthy bool
	// PrivateDNSName and PrivateIP are filled when the fleet can see them
	// (they come from EC2, not Auto Scaling).
	PrivateDNSName string
	PrivateIP      string
}

// InService reports whether the group counts the instance as running.
func (i Instance) InService() bool { return i.Lifecycle == "InService" }

// Group is one compute Auto Scaling group with its limits.
type Group struct {
	Name      string
	Min       int
	Max       int
	Desired   int
	Instances []Instance
}

// InService counts the group's in-service instances.
func (g Group) InService() int {
	n := 0
	for _, i := range g.Instances {
		if i.InService() {
			n++
		}
	}
	return n
}

// Config is the fleet policy of one queue.
type Config struct {
	// IdleTime is how long a node stays idle before it is drained.
	IdleTime time.Duration
	// ScaleUp turns growth on; with it off the loop only retires nodes.
	ScaleUp bool
	// DownGrace is how long a node may be reported down before its
	// instance is replaced.
	DownGrace time.Duration
	// SlotsPerNode is the capacity of one new node, used to size demand
	// before any node of the group exists. Zero means: learn it from the
	// nodes, and when there are none take InstanceSlots.
	SlotsPerNode int
	// InstanceSlots is what one instance of the group's type offers (its
	// vCPUs, or its cores with one thread per core), for sizing demand
	// when no node reports its own capacity; 1 when zero.
	InstanceSlots int
}

// DefaultInterval is how often the daemon runs a cluster's loop when its
// configuration says nothing (fleet.interval). A loop also runs at the
// idle deadlines the planner reports (Decision.Wake), so the interval
// bounds how soon new demand is seen, not how late an idle node goes.
const DefaultInterval = time.Minute

// DefaultConfig is the policy a queue gets when its spec says nothing.
func DefaultConfig() Config {
	return Config{IdleTime: 10 * time.Minute, ScaleUp: true, DownGrace: 5 * time.Minute}
}
