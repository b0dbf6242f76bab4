package batch_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/driftless/driftless/internal/testbed/images"
	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/batch"
	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/spec"
)

var emulator moto.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.Close()
	os.Exit(code)
}

// clients are the SDK clients of the shared emulator, which runs AWS Batch
// in its no-container mode: a submitted job is marked SUCCEEDED at once.
type clients struct {
	batch *awsbatch.Client
	cfn   *cloudformation.Client
	ec2   *ec2.Client
	ecs   *ecs.Client
	logs  *cloudwatchlogs.Client
	net   moto.Network
}

func newClients(t *testing.T) clients {
	t.Helper()
	srv := emulator.Get(t)
	SimpleBatch(t, srv.Endpoint)
	cfg := srv.AWSConfig()
	c := clients{
		batch: awsbatch.NewFromConfig(cfg),
		cfn:   cloudformation.NewFromConfig(cfg),
		ec2:   ec2.NewFromConfig(cfg),
		ecs:   ecs.NewFromConfig(cfg),
		logs:  cloudwatchlogs.NewFromConfig(cfg),
	}
	c.net = moto.NewNetwork(t, t.Context(), c.ec2)
	return c
}

// SimpleBatch switches the emulator's AWS Batch to its no-container mode
// (moto's config batch.use_docker=false): jobs are not run, they go to
// SUCCEEDED when submitted.
func SimpleBatch(t testing.TB, endpoint string) {
	t.Helper()
	body := strings.NewReader(`{"batch": {"use_docker": false}}`)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, endpoint+"/moto-api/config", body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("configure moto: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("configure moto: %s", resp.Status)
	}
}

// batchCluster creates an awsbatch cluster's stack from a parsed spec
// and returns its target.
func batchCluster(t *testing.T, c clients) batch.Target {
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
  minVCPUs: 0
  desiredVCPUs: 4
  maxVCPUs: 16
  instanceTypes: [c5.large]
`, name, c.net.VPC, c.net.Subnet)
	cl, errs := spec.Parse(name+".yaml", []byte(doc))
	if len(errs) > 0 {
		t.Fatalf("spec: %v", errs)
	}
	st, err := render.Render(cl)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := c.cfn.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String(st.Name),
		TemplateBody: aws.String(string(st.Template)),
		Parameters:   images.Parameters(t, c.cfn, st),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
	}); err != nil {
		t.Fatalf("create stack: %v", err)
	}
	out, err := c.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(st.Name)})
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
	for k, v := range map[string]string{"queue": target.JobQueue, "environment": target.ComputeEnvironment, "definition": target.JobDefinition} {
		if !strings.HasPrefix(v, "arn:aws:batch:") {
			t.Fatalf("%s output %q is not a Batch ARN", k, v)
		}
	}
	return target
}

func TestSubmitStatusKillOnEmulator(t *testing.T) {
	c := newClients(t)
	target := batchCluster(t, c)
	ctx := t.Context()

	job, err := batch.Submit(ctx, c.batch, target, batch.JobSpec{
		Name: "hello", Command: []string{"echo hello from $DRIFTLESS_CLUSTER;", "it's", "me"},
		VCPUs: 2, MemoryMiB: 2048, Timeout: 10 * time.Minute, Env: map[string]string{"STAGE": "test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := batch.Describe(ctx, c.batch, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	j := jobs[0]
	if j.Status != "SUCCEEDED" || j.Name != "hello" {
		t.Errorf("job %+v, want hello SUCCEEDED", j)
	}
	wantCmd := []string{"/bin/bash", "-c", `echo hello from $DRIFTLESS_CLUSTER; 'it'\''s' me`}
	if strings.Join(j.Command, "|") != strings.Join(wantCmd, "|") {
		t.Errorf("command %q, want %q", j.Command, wantCmd)
	}
	// moto 5.2.5 keeps resource requirement overrides but describes a job
	// with its definition's vCPUs and memory; submit_test.go checks the
	// request.
	if j.VCPUs != "1" || j.Memory != "1024" {
		t.Errorf("vcpus %q memory %q, want the definition's 1 and 1024", j.VCPUs, j.Memory)
	}

	// A second job that depends on the first, and an array job.
	dep, err := batch.Submit(ctx, c.batch, target, batch.JobSpec{
		Name: "after", Command: []string{"true"}, DependsOn: []batch.Dependency{{JobID: job.ID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	arr, err := batch.Submit(ctx, c.batch, target, batch.JobSpec{Name: "sweep", Command: []string{"echo $AWS_BATCH_JOB_ARRAY_INDEX"}, ArraySize: 3})
	if err != nil {
		t.Fatal(err)
	}
	got, err := batch.Describe(ctx, c.batch, dep.ID, arr.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0].DependsOn) != 1 || got[0].DependsOn[0] != job.ID {
		t.Errorf("dependencies %v, want [%s]", got[0].DependsOn, job.ID)
	}
	if got[1].ArraySize != 3 {
		t.Errorf("array size %d, want 3", got[1].ArraySize)
	}
	children, err := batch.Children(ctx, c.batch, got[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(children) != 3 || children[0].ID != arr.ID+":0" || children[2].ID != arr.ID+":2" {
		t.Errorf("children %+v", children)
	}

	// The listing by status finds all three among the finished jobs.
	list, err := batch.List(ctx, c.batch, target.JobQueue, "SUCCEEDED")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, l := range list {
		ids[l.ID] = true
	}
	for _, id := range []string{job.ID, dep.ID, arr.ID} {
		if !ids[id] {
			t.Errorf("job %s not listed as SUCCEEDED: %+v", id, list)
		}
	}
	active, err := batch.List(ctx, c.batch, target.JobQueue, batch.Active...)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 0 {
		t.Errorf("active jobs %+v, want none", active)
	}

	// Wait sees the finished job at once and reports it.
	var seen []string
	done, err := batch.Wait(ctx, c.batch, neverClock{t}, time.Second, job.ID, func(j batch.JobInfo) { seen = append(seen, j.Status) })
	if err != nil || done.Status != "SUCCEEDED" || len(seen) != 1 {
		t.Errorf("wait: %v, %+v, progress %v", err, done, seen)
	}

	// Killing a finished job does nothing; an unknown job is an error.
	killed, err := batch.Kill(ctx, c.batch, "", job.ID)
	if err != nil || len(killed) != 1 || killed[0].Action != "none" {
		t.Errorf("kill finished job: %+v, %v", killed, err)
	}
	if _, err := batch.Kill(ctx, c.batch, "", "no-such-job"); err == nil || !strings.Contains(err.Error(), "no-such-job") {
		t.Errorf("kill unknown job: %v", err)
	}
}

// neverClock fails the test if Wait ever needs to sleep.
type neverClock struct{ t *testing.T }

func (c neverClock) After(time.Duration) <-chan time.Time {
	c.t.Helper()
	c.t.Error("waited for a timer")
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch
}

func TestMultiNodeDefinitionOnEmulator(t *testing.T) {
	c := newClients(t)
	target := batchCluster(t, c)
	ctx := t.Context()
	job, err := batch.Submit(ctx, c.batch, target, batch.JobSpec{Name: "mpi", Command: []string{"mpirun hostname"}, Nodes: 4})
	if err != nil {
		t.Fatal(err)
	}
	first, err := batch.MultiNodeDefinition(ctx, c.batch, target)
	if err != nil {
		t.Fatal(err)
	}
	again, err := batch.MultiNodeDefinition(ctx, c.batch, target)
	if err != nil || again != first {
		t.Errorf("second lookup %q (%v), want the registered %q reused", again, err, first)
	}
	defs, err := c.batch.DescribeJobDefinitions(ctx, &awsbatch.DescribeJobDefinitionsInput{JobDefinitions: []string{first}})
	if err != nil || len(defs.JobDefinitions) != 1 {
		t.Fatalf("describe %s: %v", first, err)
	}
	d := defs.JobDefinitions[0]
	// moto 5.2.5 keeps but does not describe NodeProperties.
	if d.Type == nil || *d.Type != "multinode" {
		t.Errorf("multi-node definition %+v", d)
	}
	jobs, err := batch.Describe(ctx, c.batch, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(jobs[0].Definition, nameOfARN(first)) {
		t.Errorf("job ran with %s, want %s", jobs[0].Definition, first)
	}
}

func nameOfARN(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

func TestQueueAndHostsOnEmulator(t *testing.T) {
	c := newClients(t)
	target := batchCluster(t, c)
	ctx := t.Context()
	q, err := batch.Queue(ctx, c.batch, target.JobQueue)
	if err != nil {
		t.Fatal(err)
	}
	if q.ARN != target.JobQueue || q.State != "ENABLED" || len(q.Environments) != 1 {
		t.Fatalf("queue %+v", q)
	}
	env := q.Environments[0]
	if env.ARN != target.ComputeEnvironment || env.MaxVCPUs != 16 || env.DesiredVCPUs != 4 || env.ECSCluster == "" {
		t.Errorf("environment %+v", env)
	}

	// No instance has joined the environment's ECS cluster yet.
	hosts, err := batch.Hosts(ctx, c.batch, c.ecs, c.ec2, target.ComputeEnvironment)
	if err != nil || len(hosts) != 0 {
		t.Fatalf("hosts before any registered: %+v, %v", hosts, err)
	}
	// moto launches the environment's desired instances but runs no ECS
	// agent: register one instance the way its agent would.
	inst, err := c.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("subnet-id"), Values: []string{c.net.Subnet}},
		{Name: aws.String("instance-type"), Values: []string{"c5.large"}},
	}})
	if err != nil || len(inst.Reservations) == 0 {
		t.Fatalf("no instance launched for the compute environment: %v", err)
	}
	id := aws.ToString(inst.Reservations[0].Instances[0].InstanceId)
	identity, _ := json.Marshal(map[string]string{"instanceId": id})
	if _, err := c.ecs.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{
		Cluster:                  aws.String(env.ECSCluster),
		InstanceIdentityDocument: aws.String(string(identity)),
	}); err != nil {
		t.Fatal(err)
	}
	hosts, err = batch.Hosts(ctx, c.batch, c.ecs, c.ec2, target.ComputeEnvironment)
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 1 || hosts[0].InstanceID != id || hosts[0].Type != "c5.large" || hosts[0].PrivateIP == "" || hosts[0].Agent != "ACTIVE" {
		t.Errorf("hosts %+v, want %s", hosts, id)
	}
}

func TestOutputOnEmulator(t *testing.T) {
	c := newClients(t)
	target := batchCluster(t, c)
	ctx := t.Context()
	job, err := batch.Submit(ctx, c.batch, target, batch.JobSpec{Name: "talk", Command: []string{"seq 5"}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := batch.Describe(ctx, c.batch, job.ID)
	if err != nil || info[0].LogStream == "" {
		t.Fatalf("job %+v has no log stream: %v", info, err)
	}
	// The no-container mode runs nothing, so nothing is logged: write what
	// the awslogs driver would have written for `seq 5`.
	stream := info[0].LogStream
	_, _ = c.logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(batch.LogGroup)})
	if _, err := c.logs.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(batch.LogGroup), LogStreamName: aws.String(stream)}); err != nil {
		t.Fatal(err)
	}
	var events []logtypes.InputLogEvent
	now := time.Now().UnixMilli()
	for i := 1; i <= 5; i++ {
		events = append(events, logtypes.InputLogEvent{Message: aws.String(fmt.Sprint(i)), Timestamp: aws.Int64(now + int64(i))})
	}
	if _, err := c.logs.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(batch.LogGroup), LogStreamName: aws.String(stream), LogEvents: events}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts batch.OutputOptions
		want string
	}{
		{"all", batch.OutputOptions{}, "1\n2\n3\n4\n5\n"},
		{"head", batch.OutputOptions{Head: 2}, "1\n2\n"},
		{"tail", batch.OutputOptions{Tail: 2}, "4\n5\n"},
		{"follow a finished job", batch.OutputOptions{Follow: true, Every: time.Second, Clock: neverClock{t}}, "1\n2\n3\n4\n5\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := batch.Output(ctx, c.logs, c.batch, job.ID, &buf, tt.opts); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tt.want {
				t.Errorf("output %q, want %q", buf.String(), tt.want)
			}
		})
	}
}
