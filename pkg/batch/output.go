package batch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// LogsAPI is what Output reads; *cloudwatchlogs.Client satisfies it.
type LogsAPI interface {
	GetLogEvents(ctx context.Context, in *cloudwatchlogs.GetLogEventsInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.GetLogEventsOutput, error)
}

var _ LogsAPI = (*cloudwatchlogs.Client)(nil)

// LogGroup is where AWS Batch's default awslogs driver writes every job's
// output.
const LogGroup = "/aws/batch/job"

// ErrNoOutput says a job has no log stream yet: it has not started, or it
// is an array or multi-node parent whose output is in its children.
var ErrNoOutput = errors.New("no log stream")

// OutputOptions choose what part of a job's output to read.
type OutputOptions struct {
	// Head reads only the first N lines; Tail only the last N. Zero reads
	// everything.
	Head, Tail int
	// Follow keeps reading until the job finishes, polling every Every
	// with Clock.
	Follow bool
	Every  time.Duration
	Clock  Clock
	// Group overrides LogGroup, for job definitions with their own log
	// configuration.
	Group string
}

// Output writes a job's output (its CloudWatch Logs events, one line
// each) to w, as awsbout did.
func Output(ctx context.Context, logs LogsAPI, jobs JobsAPI, id string, w io.Writer, o OutputOptions) error {
	list, err := Describe(ctx, jobs, id)
	if err != nil {
		return err
	}
	j := list[0]
	if j.LogStream == "" {
		what := "it has not started"
		if j.ArraySize > 1 || j.Nodes > 1 {
			what = "read the output of its child jobs (batch status --expand lists them)"
		}
		return fmt.Errorf("job %s (%s): %w: %s", id, j.Status, ErrNoOutput, what)
	}
	group := o.Group
	if group == "" {
		group = LogGroup
	}
	in := &cloudwatchlogs.GetLogEventsInput{
		LogGroupName:  aws.String(group),
		LogStreamName: aws.String(j.LogStream),
		StartFromHead: aws.Bool(o.Tail == 0),
	}
	switch {
	case o.Tail > 0:
		in.Limit = aws.Int32(int32(min(o.Tail, 10000)))
	case o.Head > 0:
		in.Limit = aws.Int32(int32(min(o.Head, 10000)))
	}
	written := 0
	for {
		out, err := logs.GetLogEvents(ctx, in)
		if err != nil {
			return fmt.Errorf("read log stream %s of job %s: %w", j.LogStream, id, err)
		}
		for _, e := range out.Events {
			if o.Head > 0 && written >= o.Head {
				return nil
			}
			if _, err := fmt.Fprintln(w, aws.ToString(e.Message)); err != nil {
				return err
			}
			written++
		}
		if o.Tail > 0 || (o.Head > 0 && written >= o.Head) {
			return nil
		}
		// The forward token repeats once the end of the stream is reached.
		next := aws.ToString(out.NextForwardToken)
		if len(out.Events) > 0 && next != "" && next != aws.ToString(in.NextToken) {
			in.NextToken = aws.String(next)
			continue
		}
		if next != "" {
			in.NextToken = aws.String(next)
		}
		if !o.Follow {
			return nil
		}
		now, err := Describe(ctx, jobs, id)
		if err != nil {
			return err
		}
		if Finished(now[0].Status) && len(out.Events) == 0 {
			return nil
		}
		clock := o.Clock
		if clock == nil {
			clock = RealClock{}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-clock.After(o.Every):
		}
	}
}
