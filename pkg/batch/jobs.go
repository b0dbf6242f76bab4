package batch

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
)

// JobsAPI is what the job listing and describing functions call;
// *batch.Client satisfies it.
type JobsAPI interface {
	ListJobs(ctx context.Context, in *batch.ListJobsInput, opts ...func(*batch.Options)) (*batch.ListJobsOutput, error)
	DescribeJobs(ctx context.Context, in *batch.DescribeJobsInput, opts ...func(*batch.Options)) (*batch.DescribeJobsOutput, error)
}

var _ JobsAPI = (*batch.Client)(nil)

// The job statuses, in the order a job goes through them.
var (
	// Statuses are every status ListJobs knows.
	Statuses = []string{"SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"}
	// Active are the statuses of jobs that have not finished; awsbstat
	// showed these by default.
	Active = []string{"SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"}
)

// Finished reports whether a status is final.
func Finished(status string) bool { return status == "SUCCEEDED" || status == "FAILED" }

// JobInfo is a job as people read it in a listing.
type JobInfo struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
	// StatusReason says why a job failed or is waiting.
	StatusReason string    `json:"statusReason,omitempty"`
	Created      time.Time `json:"created"`
	Started      time.Time `json:"started,omitzero"`
	Stopped      time.Time `json:"stopped,omitzero"`
	// ExitCode is the container's exit code once it stopped.
	ExitCode *int32 `json:"exitCode,omitempty"`
	// Nodes is the node count of a multi-node job; ArraySize the size of an
	// array job.
	Nodes     int `json:"nodes,omitempty"`
	ArraySize int `json:"arraySize,omitempty"`
	// Definition is the job definition's name:revision.
	Definition string `json:"definition,omitempty"`
	// LogStream is the CloudWatch Logs stream of a single-node job's last
	// attempt.
	LogStream string   `json:"logStream,omitempty"`
	DependsOn []string `json:"dependsOn,omitempty"`
	VCPUs     string   `json:"vcpus,omitempty"`
	Memory    string   `json:"memory,omitempty"`
	Command   []string `json:"command,omitempty"`
}

// List returns the queue's jobs in the given statuses (all of Statuses
// when none are given), newest first. ListJobs takes one status a call, so
// this is one paginated call per status, whatever the number of jobs.
func List(ctx context.Context, api JobsAPI, queue string, statuses ...string) ([]JobInfo, error) {
	if len(statuses) == 0 {
		statuses = Statuses
	}
	var out []JobInfo
	for _, st := range statuses {
		p := batch.NewListJobsPaginator(api, &batch.ListJobsInput{JobQueue: aws.String(queue), JobStatus: types.JobStatus(st)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list %s jobs of %s: %w", st, nameOf(queue), err)
			}
			for _, j := range page.JobSummaryList {
				out = append(out, summary(j))
			}
		}
	}
	slices.SortFunc(out, func(a, b JobInfo) int { return cmp.Or(b.Created.Compare(a.Created), cmp.Compare(a.ID, b.ID)) })
	return out, nil
}

func summary(j types.JobSummary) JobInfo {
	info := JobInfo{
		ID:           aws.ToString(j.JobId),
		Name:         aws.ToString(j.JobName),
		Status:       string(j.Status),
		StatusReason: aws.ToString(j.StatusReason),
		Created:      millis(j.CreatedAt),
		Started:      millis(j.StartedAt),
		Stopped:      millis(j.StoppedAt),
		Definition:   nameOf(aws.ToString(j.JobDefinition)),
	}
	if j.Container != nil {
		info.ExitCode = j.Container.ExitCode
	}
	if j.ArrayProperties != nil {
		info.ArraySize = int(aws.ToInt32(j.ArrayProperties.Size))
	}
	if j.NodeProperties != nil {
		info.Nodes = int(aws.ToInt32(j.NodeProperties.NumNodes))
	}
	return info
}

// describeBatch is the most job ids DescribeJobs takes in one call.
const describeBatch = 100

// Describe returns the named jobs in the order given. A job id that AWS
// does not know is an error naming it.
func Describe(ctx context.Context, api JobsAPI, ids ...string) ([]JobInfo, error) {
	found := make(map[string]JobInfo, len(ids))
	for chunk := range slices.Chunk(ids, describeBatch) {
		out, err := api.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: chunk})
		if err != nil {
			return nil, fmt.Errorf("describe jobs: %w", err)
		}
		for _, j := range out.Jobs {
			info := detail(j)
			found[info.ID] = info
		}
	}
	out := make([]JobInfo, 0, len(ids))
	for _, id := range ids {
		info, ok := found[id]
		if !ok {
			return nil, fmt.Errorf("job %s not found", id)
		}
		out = append(out, info)
	}
	return out, nil
}

func detail(j types.JobDetail) JobInfo {
	info := JobInfo{
		ID:           aws.ToString(j.JobId),
		Name:         aws.ToString(j.JobName),
		Status:       string(j.Status),
		StatusReason: aws.ToString(j.StatusReason),
		Created:      millis(j.CreatedAt),
		Started:      millis(j.StartedAt),
		Stopped:      millis(j.StoppedAt),
		Definition:   nameOf(aws.ToString(j.JobDefinition)),
	}
	if c := j.Container; c != nil {
		info.ExitCode = c.ExitCode
		info.LogStream = aws.ToString(c.LogStreamName)
		info.Command = c.Command
		for _, r := range c.ResourceRequirements {
			switch r.Type {
			case types.ResourceTypeVcpu:
				info.VCPUs = aws.ToString(r.Value)
			case types.ResourceTypeMemory:
				info.Memory = aws.ToString(r.Value)
			}
		}
		//lint:ignore SA1019 older job definitions still carry the deprecated fields.
		if info.VCPUs == "" && c.Vcpus != nil {
			info.VCPUs = fmt.Sprint(aws.ToInt32(c.Vcpus))
		}
		if info.Memory == "" && c.Memory != nil {
			info.Memory = fmt.Sprint(aws.ToInt32(c.Memory))
		}
	}
	if info.LogStream == "" && len(j.Attempts) > 0 {
		if c := j.Attempts[len(j.Attempts)-1].Container; c != nil {
			info.LogStream = aws.ToString(c.LogStreamName)
		}
	}
	if j.ArrayProperties != nil {
		info.ArraySize = int(aws.ToInt32(j.ArrayProperties.Size))
	}
	if j.NodeProperties != nil {
		info.Nodes = int(aws.ToInt32(j.NodeProperties.NumNodes))
	}
	for _, d := range j.DependsOn {
		s := aws.ToString(d.JobId)
		if d.Type != "" {
			s += ":" + string(d.Type)
		}
		info.DependsOn = append(info.DependsOn, s)
	}
	return info
}

func millis(ms *int64) time.Time {
	if ms == nil || *ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(*ms).UTC()
}

// Children lists the child jobs of an array job (JOBID:INDEX) or the node
// jobs of a multi-node job (JOBID#NODE): ListJobs with the parent's id.
func Children(ctx context.Context, api JobsAPI, parent JobInfo) ([]JobInfo, error) {
	in := &batch.ListJobsInput{}
	switch {
	case parent.ArraySize > 1:
		in.ArrayJobId = aws.String(parent.ID)
	case parent.Nodes > 1:
		in.MultiNodeJobId = aws.String(parent.ID)
	default:
		return nil, nil
	}
	var out []JobInfo
	p := batch.NewListJobsPaginator(api, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list children of job %s: %w", parent.ID, err)
		}
		for _, j := range page.JobSummaryList {
			out = append(out, summary(j))
		}
	}
	// JOBID:10 after JOBID:9: shorter ids first, then by text.
	slices.SortFunc(out, func(a, b JobInfo) int { return cmp.Or(cmp.Compare(len(a.ID), len(b.ID)), cmp.Compare(a.ID, b.ID)) })
	return out, nil
}
