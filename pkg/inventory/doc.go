// Package inventory answers the operator's questions (which clusters exist,
// how they are, which instances they run) from one round of batched AWS
// reads joined with the declared specs: every stack and every Auto Scaling
// group of ours (pkg/observe), every instance carrying the cluster tag, and,
// when an awsbatch cluster is present, every Batch compute environment. The
// number of calls grows with pages of results, never with the number of
// clusters. It changes nothing in AWS and does not decide what should exist.
package inventory
