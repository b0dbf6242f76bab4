package awsbatch_test

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	batchapi "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/driftless/driftless/internal/testbed/images"
	"github.com/driftless/driftless/internal/testbed/moto"
	prombed "github.com/driftless/driftless/internal/testbed/prometheus"
	"github.com/driftless/driftless/pkg/batch"
	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/scale/awsbatch"
	"github.com/driftless/driftless/pkg/spec"
)

// holdJobs makes the emulator keep every Batch job in SUBMITTED: moto's
// state manager advances a job only after a million looks at it. In its
// default (Docker) mode a job's thread then waits for that, and never
// needs Docker.
func holdJobs(t *testing.T, endpoint string) {
	t.Helper()
	body := `{"model_name": "batch::job", "transition": {"progression": "manual", "times": 1000000}}`
	resp, err := http.Post(endpoint+"/moto-api/state-manager/set-transition", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("configure moto: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("configure moto: %s", resp.Status)
	}
}

// batchCluster creates an awsbatch cluster's stack from a spec and returns
// its target as the daemon reads it from the stack's outputs.
func batchCluster(t *testing.T, cfn *cloudformation.Client, net moto.Network) batch.Target {
	t.Helper()
	name := moto.UniqueName("jobs")
	doc := fmt.Sprintf(`version: 1
name: %s
region: us-east-1
scheduler: awsbatch
vpc: %s
headNode:
  instanceType: t3.medium
  subnet: %s
  sshFrom: 192.0.2.0/24
batch:
  minVCPUs: 2
  desiredVCPUs: 4
  maxVCPUs: 16
  instanceTypes: [c5.large]
`, name, net.VPC, net.Subnet)
	cl, errs := spec.Parse(name+".yaml", []byte(doc))
	if len(errs) > 0 {
		t.Fatalf("spec: %v", errs)
	}
	st, err := render.Render(cl)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String(st.Name),
		TemplateBody: aws.String(string(st.Template)),
		Parameters:   images.Parameters(t, cfn, st),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
	}); err != nil {
		t.Fatalf("create stack: %v", err)
	}
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(st.Name)})
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	target, err := batch.TargetFromOutputs(name, outputs)
	if err != nil {
		t.Fatalf("%v (outputs %v)", err, outputs)
	}
	return target
}

// TestObserveOnEmulator reads a compute environment and a job queue made
// by a rendered stack on the emulator: vCPUs as the spec sized them, and
// the queue's jobs counted by state.
func TestObserveOnEmulator(t *testing.T) {
	srv := moto.Start(t)
	holdJobs(t, srv.Endpoint)
	cfg := srv.AWSConfig()
	api := batchapi.NewFromConfig(cfg)
	net := moto.NewNetwork(t, t.Context(), ec2.NewFromConfig(cfg))
	target := batchCluster(t, cloudformation.NewFromConfig(cfg), net)
	ctx := t.Context()

	for i := range 3 {
		if _, err := batch.Submit(ctx, api, target, batch.JobSpec{Name: fmt.Sprintf("held-%d", i), Command: []string{"true"}}); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewPedanticRegistry()
	m := awsbatch.NewMetrics()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_780_000_000, 0)
	obs, err := awsbatch.New(api, m).Observe(ctx, target, now)
	if err != nil {
		t.Fatal(err)
	}
	if obs.MinVCPUs != 2 || obs.DesiredVCPUs != 4 || obs.MaxVCPUs != 16 || obs.State != "ENABLED" {
		t.Errorf("environment %+v, want 2/4/16 vCPUs, ENABLED", obs)
	}
	if obs.Jobs[types.JobStatusSubmitted] != 3 || obs.Jobs[types.JobStatusRunning] != 0 {
		t.Errorf("jobs by state %v, want 3 submitted", obs.Jobs)
	}

	want := fmt.Sprintf(`# HELP driftless_batch_jobs Unfinished jobs of an awsbatch cluster's job queue, by state (submitted, pending, runnable, starting, running).
# TYPE driftless_batch_jobs gauge
driftless_batch_jobs{cluster="%[1]s",state="pending"} 0
driftless_batch_jobs{cluster="%[1]s",state="runnable"} 0
driftless_batch_jobs{cluster="%[1]s",state="running"} 0
driftless_batch_jobs{cluster="%[1]s",state="starting"} 0
driftless_batch_jobs{cluster="%[1]s",state="submitted"} 3
# HELP driftless_batch_last_observed_timestamp_seconds When the compute environment and job queue of an awsbatch cluster were last read.
# TYPE driftless_batch_last_observed_timestamp_seconds gauge
driftless_batch_last_observed_timestamp_seconds{cluster="%[1]s"} 1.78e+09
# HELP driftless_batch_vcpus vCPUs of the AWS Batch compute environment of an awsbatch cluster, by kind (min, desired, max).
# TYPE driftless_batch_vcpus gauge
driftless_batch_vcpus{cluster="%[1]s",kind="desired"} 4
driftless_batch_vcpus{cluster="%[1]s",kind="max"} 16
driftless_batch_vcpus{cluster="%[1]s",kind="min"} 2
`, target.Cluster)
	if got := exposition(t, reg); got != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", got, want)
	}
	t.Run("promtool check metrics", func(t *testing.T) {
		cmd := exec.CommandContext(t.Context(), prombed.Promtool(t), "check", "metrics")
		cmd.Stdin = strings.NewReader(want)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	})

	// A cluster that goes away leaves no series behind.
	m.Forget(target.Cluster)
	if got := exposition(t, reg); got != "" {
		t.Errorf("series left after Forget:\n%s", got)
	}

	// A compute environment AWS Batch does not know is an error, counted.
	gone := target
	gone.ComputeEnvironment = strings.Replace(target.ComputeEnvironment, target.Cluster, "gone", 1)
	if _, err := awsbatch.New(api, m).Observe(ctx, gone, now); err == nil {
		t.Error("observing a missing compute environment succeeded")
	}
	if got := exposition(t, reg); !strings.Contains(got, `driftless_batch_errors_total{cluster="`+target.Cluster+`"} 1`) {
		t.Errorf("failed look not counted:\n%s", got)
	}
}

// exposition is the registry's text exposition, families in name order.
func exposition(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}
