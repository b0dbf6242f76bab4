package batch

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
)

// KillAPI is what Kill calls; *batch.Client satisfies it.
type KillAPI interface {
	JobsAPI
	CancelJob(ctx context.Context, in *batch.CancelJobInput, opts ...func(*batch.Options)) (*batch.CancelJobOutput, error)
	TerminateJob(ctx context.Context, in *batch.TerminateJobInput, opts ...func(*batch.Options)) (*batch.TerminateJobOutput, error)
}

var _ KillAPI = (*batch.Client)(nil)

// Killed says what Kill did to one job.
type Killed struct {
	ID string `json:"id"`
	// Action is cancelled (the job had not started), terminated (it was
	// starting or running) or none (it had already finished).
	Action string `json:"action"`
	Status string `json:"status"`
}

// Kill stops jobs the way awsbkill did: a job that has not started is
// cancelled, one that is starting or running is terminated, and a
// finished one is left alone. reason is recorded on the job.
func Kill(ctx context.Context, api KillAPI, reason string, ids ...string) ([]Killed, error) {
	jobs, err := Describe(ctx, api, ids...)
	if err != nil {
		return nil, err
	}
	if reason == "" {
		reason = "killed with reconciler batch kill"
	}
	out := make([]Killed, 0, len(jobs))
	for _, j := range jobs {
		k := Killed{ID: j.ID, Status: j.Status}
		switch j.Status {
		case "SUCCEEDED", "FAILED":
			k.Action = "none"
		case "STARTING", "RUNNING":
			if _, err := api.TerminateJob(ctx, &batch.TerminateJobInput{JobId: aws.String(j.ID), Reason: aws.String(reason)}); err != nil {
				return out, fmt.Errorf("terminate job %s: %w", j.ID, err)
			}
			k.Action = "terminated"
		default:
			if _, err := api.CancelJob(ctx, &batch.CancelJobInput{JobId: aws.String(j.ID), Reason: aws.String(reason)}); err != nil {
				return out, fmt.Errorf("cancel job %s: %w", j.ID, err)
			}
			k.Action = "cancelled"
		}
		out = append(out, k)
	}
	return out, nil
}
