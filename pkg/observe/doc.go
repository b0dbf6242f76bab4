// Package observe reads what is live: our CloudFormation stacks and the
// Auto Scaling groups that belong to them, as []diff.Live for the planner.
//
// A steady-state cycle costs one paginated DescribeStacks and one paginated
// DescribeAutoScalingGroups, whatever the number of clusters. It reads
// only; it never changes anything and never fetches templates.
package observe
