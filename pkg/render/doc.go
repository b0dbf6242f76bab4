// Package render turns a validated cluster spec into a CloudFormation
// template. The same spec always renders to the same bytes (canonical JSON:
// sorted keys, two-space indent), so the hash of the template says whether
// a live stack is what the repo declares.
//
// A template holds the head node and its security groups, a launch template
// and a named Auto Scaling group per queue (MinSize and MaxSize only: the
// desired capacity belongs to the fleet scaler), or for awsbatch an AWS
// Batch compute environment and job queue; the shared storage, the nodes'
// IAM role, and the spec itself in the Metadata (SpecFromTemplate reads it
// back). What a node needs at boot is a NodeConfig, in the compute nodes'
// user data and in an SSM parameter for the head node.
//
// Every setting of the spec changes the rendered stack; the setting walk
// in coverage_test.go fails when one does not.
//
// It never calls AWS.
package render
