// Package preflight checks, before a cluster is created or changed, that
// what its spec names exists in the AWS account and can be used: the VPC
// and its DNS settings, the subnets, security groups, key pair, image,
// instance types, placement groups, snapshots, volumes, EFS file system
// and IAM role and policies. It is what ParallelCluster's sanity_check did,
// with every failure reported at once and naming the spec field to fix.
//
// It only reads the account. Each kind of EC2 resource is read with one
// call per cluster, whatever the number of fields that name it. It must
// not decide what to do about a failure: the daemon blocks the cluster,
// `reconciler validate --live` prints it.
package preflight
