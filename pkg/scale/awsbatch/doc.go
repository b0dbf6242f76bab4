// Package awsbatch watches the AWS Batch side of an awsbatch cluster for the
// fleet loop. AWS Batch sizes its own compute environment, so there is
// nothing to plan or act on: the observer reads the environment's vCPUs
// (minimum, desired, maximum) and counts the job queue's unfinished jobs by
// state, and exports both as metrics. It never changes anything.
package awsbatch
