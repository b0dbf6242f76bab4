// Package observe reads what is live: our CloudFormation stacks and the
// Auto Scaling groups that belong to them, as []diff.Live for the planner.
//
// A steady-state cycle costs one paginated DescribeStacks and one paginated
// DescribeAutoScalingGroups, whatever the number of clusters, plus one
// paginated DescribeInstances for the head nodes when the Observer has an
// EC2 client. Everything else is read only where something may differ: a
// stack's template when its spec hash differs from the repo's, the deleted
// stack of a declared cluster that has none, and CloudFormation's drift
// detection at most once per interval per stack. It never changes
// anything (DetectStackDrift only starts a check).
package observe
