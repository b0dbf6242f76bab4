// Package bootstrap renders the boot scripts of a cluster's nodes: the
// user data that turns a fresh instance into a head node (scheduler
// controller, shared storage formatted, mounted and exported over NFS,
// proxy, site scripts, then a signal to CloudFormation) or a compute node
// (shared directories mounted from the head node, scheduler joined).
//
// The scripts are text templates embedded from templates/, rendered per
// scheduler, role and base OS; package and service names per OS come from
// one table (oses.go). The output is in Fn::Sub form, so values that only
// CloudFormation knows (the head node's address, the wait condition's URL)
// ride in it as variables.
//
// It never calls AWS and never runs a script.
package bootstrap
