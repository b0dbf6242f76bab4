// Package scale runs the fleet loop: from the scheduler's view of nodes and
// jobs it decides how many compute nodes each group needs (a pure planner)
// and acts on it (the actuator): desired capacity up, drain and terminate
// idle nodes down.
//
// It never changes stacks.
package scale
