package batch

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
)

// QueuesAPI is what Queue calls; *batch.Client satisfies it.
type QueuesAPI interface {
	DescribeJobQueues(ctx context.Context, in *batch.DescribeJobQueuesInput, opts ...func(*batch.Options)) (*batch.DescribeJobQueuesOutput, error)
	DescribeComputeEnvironments(ctx context.Context, in *batch.DescribeComputeEnvironmentsInput, opts ...func(*batch.Options)) (*batch.DescribeComputeEnvironmentsOutput, error)
}

var _ QueuesAPI = (*batch.Client)(nil)

// QueueInfo is a job queue with the compute environments it feeds, as
// awsbqueues showed it.
type QueueInfo struct {
	Name         string        `json:"name"`
	ARN          string        `json:"arn"`
	State        string        `json:"state"`
	Status       string        `json:"status"`
	StatusReason string        `json:"statusReason,omitempty"`
	Priority     int           `json:"priority"`
	Environments []Environment `json:"computeEnvironments"`
}

// Environment is a compute environment's state and size.
type Environment struct {
	Name          string   `json:"name"`
	ARN           string   `json:"arn"`
	State         string   `json:"state"`
	Status        string   `json:"status"`
	StatusReason  string   `json:"statusReason,omitempty"`
	Type          string   `json:"type"`
	MinVCPUs      int      `json:"minVCPUs"`
	DesiredVCPUs  int      `json:"desiredVCPUs"`
	MaxVCPUs      int      `json:"maxVCPUs"`
	InstanceTypes []string `json:"instanceTypes,omitempty"`
	// ECSCluster is the ECS cluster whose container instances are the
	// environment's hosts.
	ECSCluster string `json:"ecsCluster,omitempty"`
}

// Queue describes the cluster's job queue and its compute environments.
func Queue(ctx context.Context, api QueuesAPI, queue string) (QueueInfo, error) {
	out, err := api.DescribeJobQueues(ctx, &batch.DescribeJobQueuesInput{JobQueues: []string{queue}})
	if err != nil {
		return QueueInfo{}, fmt.Errorf("describe job queue %s: %w", nameOf(queue), err)
	}
	if len(out.JobQueues) == 0 {
		return QueueInfo{}, fmt.Errorf("job queue %s not found", nameOf(queue))
	}
	q := out.JobQueues[0]
	info := QueueInfo{
		Name:         aws.ToString(q.JobQueueName),
		ARN:          aws.ToString(q.JobQueueArn),
		State:        string(q.State),
		Status:       string(q.Status),
		StatusReason: aws.ToString(q.StatusReason),
		Priority:     int(aws.ToInt32(q.Priority)),
	}
	var arns []string
	for _, o := range q.ComputeEnvironmentOrder {
		arns = append(arns, aws.ToString(o.ComputeEnvironment))
	}
	envs, err := Environments(ctx, api, arns...)
	if err != nil {
		return info, err
	}
	info.Environments = envs
	return info, nil
}

// Environments describes compute environments by ARN or name, in the
// order given.
func Environments(ctx context.Context, api QueuesAPI, arns ...string) ([]Environment, error) {
	if len(arns) == 0 {
		return nil, nil
	}
	out, err := api.DescribeComputeEnvironments(ctx, &batch.DescribeComputeEnvironmentsInput{ComputeEnvironments: arns})
	if err != nil {
		return nil, fmt.Errorf("describe compute environments: %w", err)
	}
	byKey := map[string]Environment{}
	for _, ce := range out.ComputeEnvironments {
		e := environment(ce)
		byKey[e.ARN], byKey[e.Name] = e, e
	}
	envs := make([]Environment, 0, len(arns))
	for _, a := range arns {
		e, ok := byKey[a]
		if !ok {
			return nil, fmt.Errorf("compute environment %s not found", nameOf(a))
		}
		envs = append(envs, e)
	}
	return envs, nil
}

func environment(ce types.ComputeEnvironmentDetail) Environment {
	e := Environment{
		Name:         aws.ToString(ce.ComputeEnvironmentName),
		ARN:          aws.ToString(ce.ComputeEnvironmentArn),
		State:        string(ce.State),
		Status:       string(ce.Status),
		StatusReason: aws.ToString(ce.StatusReason),
		Type:         string(ce.Type),
		ECSCluster:   aws.ToString(ce.EcsClusterArn),
	}
	if cr := ce.ComputeResources; cr != nil {
		e.MinVCPUs = int(aws.ToInt32(cr.MinvCpus))
		e.DesiredVCPUs = int(aws.ToInt32(cr.DesiredvCpus))
		e.MaxVCPUs = int(aws.ToInt32(cr.MaxvCpus))
		e.InstanceTypes = cr.InstanceTypes
		if cr.Type != "" {
			e.Type += "/" + string(cr.Type)
		}
	}
	return e
}
