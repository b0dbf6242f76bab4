package faults_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"github.com/driftless/driftless/internal/testbed/faults"
	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/awsclient"
)

var emulator moto.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.Close()
	os.Exit(code)
}

// setup returns a proxy in front of the shared emulator and a client of
// it. The client uses the SDK's standard retry mode with short backoffs:
// these tests are about the proxy, and the adaptive mode the daemon uses
// slows a throttled client down by seconds.
func setup(t *testing.T) (*faults.Proxy, *cloudformation.Client) {
	t.Helper()
	srv := emulator.Get(t)
	p := faults.Start(t, srv.Endpoint, 1)
	cfg := srv.AWSConfig()
	cfg.BaseEndpoint = aws.String(p.URL)
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 4
			o.MaxBackoff = 10 * time.Millisecond
			o.RateLimiter = ratelimit.None
		})
	}
	return p, cloudformation.NewFromConfig(cfg)
}

func createStack(t *testing.T, cfn *cloudformation.Client, name string) string {
	t.Helper()
	out, err := cfn.CreateStack(t.Context(), &cloudformation.CreateStackInput{
		StackName:    aws.String(name),
		TemplateBody: aws.String(`{"Resources":{"Q":{"Type":"AWS::SQS::Queue"}}}`),
	})
	if err != nil {
		t.Fatalf("create stack: %v", err)
	}
	return aws.ToString(out.StackId)
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name         string
		fault        faults.Fault
		wantClass    awsclient.Class
		wantAttempts int
		wantErr      bool
	}{
		{"two throttles are retried away", withCount(faults.Throttling(), 2), "", 3, false},
		{"a 500 is retried away", withCount(faults.ServerError(), 1), "", 2, false},
		{"throttled every time gives up", faults.Throttling(), awsclient.ClassThrottle, 4, true},
		{"expired credentials are not retried", faults.ExpiredToken(), awsclient.ClassDenied, 1, true},
		{"access denied is not retried", faults.AccessDenied(), awsclient.ClassDenied, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, cfn := setup(t)
			tt.fault.Actions = []string{"DescribeStacks"}
			p.Inject(tt.fault)
			_, err := cfn.DescribeStacks(t.Context(), &cloudformation.DescribeStacksInput{})
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if c := awsclient.ClassOf(err); c != tt.wantClass {
				t.Errorf("error class %q, want %q: %v", c, tt.wantClass, err)
			}
			if got := p.Requests("DescribeStacks", ""); got != tt.wantAttempts {
				t.Errorf("proxy saw %d requests, want %d", got, tt.wantAttempts)
			}
		})
	}
}

func TestShareIsRoughlyKept(t *testing.T) {
	p, cfn := setup(t)
	f := faults.Throttling()
	f.Share = 0.3
	f.Actions = []string{"DescribeStacks"}
	p.Inject(f)
	for range 100 {
		// One call in about 120 is throttled on all four attempts.
		_, _ = cfn.DescribeStacks(t.Context(), &cloudformation.DescribeStacksInput{})
	}
	seen, hit := p.Requests("DescribeStacks", ""), p.Hits()
	if share := float64(hit) / float64(seen); share < 0.2 || share > 0.4 || p.Forwarded("DescribeStacks", "") != seen-hit {
		t.Errorf("%d of %d requests throttled, %d forwarded; want about 30%% throttled", hit, seen, p.Forwarded("DescribeStacks", ""))
	}
}

func TestLostAnswerStillReachesMoto(t *testing.T) {
	p, cfn := setup(t)
	name := moto.UniqueName("lost")
	f := faults.ServerError()
	f.Actions, f.Count, f.After = []string{"CreateStack"}, 1, true
	p.Inject(f)
	_, err := cfn.CreateStack(t.Context(), &cloudformation.CreateStackInput{
		StackName:    aws.String(name),
		TemplateBody: aws.String(`{"Resources":{"Q":{"Type":"AWS::SQS::Queue"}}}`),
	})
	// The retry finds the stack the lost attempt made.
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "AlreadyExistsException" {
		t.Fatalf("error = %v, want the retry to meet the stack the first attempt made", err)
	}
	if got := p.Forwarded("CreateStack", name); got != 2 {
		t.Errorf("%d CreateStack reached moto, want 2", got)
	}
}

func TestStatusAndEvents(t *testing.T) {
	p, cfn := setup(t)
	name := moto.UniqueName("status")
	other := moto.UniqueName("other")
	id := createStack(t, cfn, name)
	createStack(t, cfn, other)

	p.SetStatus(name, "UPDATE_ROLLBACK_FAILED", "Resource <Group> failed & more")
	for _, in := range []*cloudformation.DescribeStacksInput{{}, {StackName: aws.String(name)}, {StackName: aws.String(id)}} {
		out, err := cfn.DescribeStacks(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range out.Stacks {
			switch aws.ToString(s.StackName) {
			case name:
				if s.StackStatus != cfntypes.StackStatusUpdateRollbackFailed || aws.ToString(s.StackStatusReason) != "Resource <Group> failed & more" {
					t.Errorf("rewritten stack: %s (%q)", s.StackStatus, aws.ToString(s.StackStatusReason))
				}
			case other:
				if s.StackStatus != cfntypes.StackStatusCreateComplete {
					t.Errorf("the other stack was rewritten too: %s", s.StackStatus)
				}
			}
		}
	}

	p.AddEvents(name,
		faults.Event{Resource: "Group", Type: "AWS::AutoScaling::AutoScalingGroup", Status: "UPDATE_FAILED", Reason: "boom"},
		faults.Event{Resource: name, Type: "AWS::CloudFormation::Stack", Status: "UPDATE_ROLLBACK_FAILED"},
	)
	ev, err := cfn.DescribeStackEvents(t.Context(), &cloudformation.DescribeStackEventsInput{StackName: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.StackEvents) < 3 {
		t.Fatalf("%d events", len(ev.StackEvents))
	}
	first, second := ev.StackEvents[0], ev.StackEvents[1]
	if first.ResourceStatus != "UPDATE_ROLLBACK_FAILED" || aws.ToString(first.PhysicalResourceId) != id ||
		second.ResourceStatus != "UPDATE_FAILED" || aws.ToString(second.ResourceStatusReason) != "boom" {
		t.Errorf("events: %+v / %+v", first, second)
	}
	if aws.ToString(first.EventId) == aws.ToString(second.EventId) || !first.Timestamp.After(*second.Timestamp) {
		t.Errorf("events not distinct and newest first: %v %v", first.Timestamp, second.Timestamp)
	}

	p.Handle("ContinueUpdateRollback", func(c faults.Call) faults.Answer {
		p.SetStatus(c.Stack, "UPDATE_ROLLBACK_COMPLETE", "")
		return faults.EmptyResult("ContinueUpdateRollback")
	})
	if _, err := cfn.ContinueUpdateRollback(t.Context(), &cloudformation.ContinueUpdateRollbackInput{StackName: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	out, err := cfn.DescribeStacks(t.Context(), &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil || out.Stacks[0].StackStatus != cfntypes.StackStatusUpdateRollbackComplete || out.Stacks[0].StackStatusReason != nil {
		t.Errorf("after the handled call: %v %+v", err, out)
	}
	p.ClearStatus(name)
	out, err = cfn.DescribeStacks(t.Context(), &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil || out.Stacks[0].StackStatus != cfntypes.StackStatusCreateComplete {
		t.Errorf("after ClearStatus: %v %+v", err, out)
	}
}

func withCount(f faults.Fault, n int) faults.Fault {
	f.Count = n
	return f
}
