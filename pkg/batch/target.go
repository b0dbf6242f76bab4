package batch

import (
	"errors"
	"fmt"
	"strings"
)

// Target is the AWS Batch side of one awsbatch cluster, as its stack
// outputs name it.
type Target struct {
	Cluster string
	// JobQueue, ComputeEnvironment and JobDefinition are ARNs.
	JobQueue           string
	ComputeEnvironment string
	JobDefinition      string
}

// Stack output keys of an awsbatch cluster.
const (
	OutputJobQueue           = "BatchJobQueue"
	OutputComputeEnvironment = "BatchComputeEnvironment"
	OutputJobDefinition      = "BatchJobDefinition"
)

// ErrNotBatch says a cluster's stack has no AWS Batch outputs.
var ErrNotBatch = errors.New("not an awsbatch cluster")

// TargetFromOutputs reads a cluster's target from its stack outputs.
func TargetFromOutputs(cluster string, outputs map[string]string) (Target, error) {
	t := Target{
		Cluster:            cluster,
		JobQueue:           outputs[OutputJobQueue],
		ComputeEnvironment: outputs[OutputComputeEnvironment],
		JobDefinition:      outputs[OutputJobDefinition],
	}
	if t.JobQueue == "" {
		return t, fmt.Errorf("cluster %s: %w: its stack has no %s output", cluster, ErrNotBatch, OutputJobQueue)
	}
	return t, nil
}

// nameOf is the last path element of an ARN (arn:...:job-queue/NAME) or
// the name itself; for a job definition ARN it keeps NAME:REVISION.
func nameOf(arn string) string {
	if i := strings.LastIndex(arn, "/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}
