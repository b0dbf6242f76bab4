package awsbatch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	dbatch "github.com/driftless/driftless/pkg/batch"
)

// API is the part of the AWS Batch client the observer calls;
// *batch.Client satisfies it.
type API interface {
	DescribeComputeEnvironments(ctx context.Context, in *batch.DescribeComputeEnvironmentsInput, opts ...func(*batch.Options)) (*batch.DescribeComputeEnvironmentsOutput, error)
	ListJobs(ctx context.Context, in *batch.ListJobsInput, opts ...func(*batch.Options)) (*batch.ListJobsOutput, error)
}

var _ API = (*batch.Client)(nil)

// JobStates are the states of an unfinished job, in the order a job goes
// through them; the observer counts jobs in these. Finished jobs
// (SUCCEEDED, FAILED) stay listed for a day or more and say nothing about
// the fleet now.
var JobStates = []types.JobStatus{
	types.JobStatusSubmitted, types.JobStatusPending, types.JobStatusRunnable,
	types.JobStatusStarting, types.JobStatusRunning,
}

// Observation is one look at an awsbatch cluster.
type Observation struct {
	// Environment is the compute environment's name, State (ENABLED,
	// DISABLED) and Status (VALID, INVALID, UPDATING...).
	Environment   string
	State, Status string
	// MinVCPUs, DesiredVCPUs and MaxVCPUs size the environment; AWS
	// Batch moves DesiredVCPUs between the other two.
	MinVCPUs, DesiredVCPUs, MaxVCPUs int
	// Jobs counts the job queue's unfinished jobs by state (JobStates).
	Jobs map[types.JobStatus]int
}

// Observer reads awsbatch clusters and records what it saw.
type Observer struct {
	api     API
	metrics *Metrics
}

// New makes an observer. metrics may be nil.
func New(api API, metrics *Metrics) *Observer { return &Observer{api: api, metrics: metrics} }

// ErrNoEnvironment is returned when the stack names no compute environment
// or AWS Batch does not know it.
var ErrNoEnvironment = errors.New("no compute environment")

// Observe reads the target's compute environment and counts its job
// queue's jobs by state: one DescribeComputeEnvironments and one paginated
// ListJobs per state. now is recorded as the time of the look.
func (o *Observer) Observe(ctx context.Context, t dbatch.Target, now time.Time) (Observation, error) {
	obs, err := o.observe(ctx, t)
	if err != nil {
		o.metrics.failed(t.Cluster)
		return obs, fmt.Errorf("observe AWS Batch of %s: %w", t.Cluster, err)
	}
	o.metrics.observe(t.Cluster, obs, now)
	return obs, nil
}

func (o *Observer) observe(ctx context.Context, t dbatch.Target) (Observation, error) {
	var obs Observation
	if t.ComputeEnvironment == "" {
		return obs, fmt.Errorf("%w: the stack has no %s output", ErrNoEnvironment, dbatch.OutputComputeEnvironment)
	}
	if t.JobQueue == "" {
		return obs, fmt.Errorf("the stack has no %s output", dbatch.OutputJobQueue)
	}
	out, err := o.api.DescribeComputeEnvironments(ctx, &batch.DescribeComputeEnvironmentsInput{
		ComputeEnvironments: []string{t.ComputeEnvironment},
	})
	if err != nil {
		return obs, fmt.Errorf("describe compute environment %s: %w", nameOf(t.ComputeEnvironment), err)
	}
	if len(out.ComputeEnvironments) == 0 {
		return obs, fmt.Errorf("%w: %s is unknown to AWS Batch", ErrNoEnvironment, nameOf(t.ComputeEnvironment))
	}
	ce := out.ComputeEnvironments[0]
	obs.Environment = aws.ToString(ce.ComputeEnvironmentName)
	obs.State, obs.Status = string(ce.State), string(ce.Status)
	if cr := ce.ComputeResources; cr != nil {
		obs.MinVCPUs = int(aws.ToInt32(cr.MinvCpus))
		obs.DesiredVCPUs = int(aws.ToInt32(cr.DesiredvCpus))
		obs.MaxVCPUs = int(aws.ToInt32(cr.MaxvCpus))
	}
	obs.Jobs = make(map[types.JobStatus]int, len(JobStates))
	for _, st := range JobStates {
		p := batch.NewListJobsPaginator(o.api, &batch.ListJobsInput{JobQueue: aws.String(t.JobQueue), JobStatus: st})
		n := 0
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return obs, fmt.Errorf("list %s jobs of %s: %w", st, nameOf(t.JobQueue), err)
			}
			n += len(page.JobSummaryList)
		}
		obs.Jobs[st] = n
	}
	return obs, nil
}

// nameOf is the last path element of an ARN, or the name itself.
func nameOf(arn string) string {
	if i := strings.LastIndex(arn, "/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}
