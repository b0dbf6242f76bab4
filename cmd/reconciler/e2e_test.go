package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/internal/testbed/gitserver"
	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/awsclient"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/reconcile"
	"github.com/driftless/driftless/pkg/render"
)

// calls keeps every AWS call a test's daemon made.
type calls struct {
	mu   sync.Mutex
	list []awsclient.Call
}

func (c *calls) record(call awsclient.Call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, call)
}

func (c *calls) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = nil
}

// mutating returns "Operation target" for every call that changes
// something, where target is the stack or group name the call names.
func (c *calls) mutating() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, call := range c.list {
		op := call.Operation
		if strings.HasPrefix(op, "Describe") || strings.HasPrefix(op, "List") || strings.HasPrefix(op, "Get") {
			continue
		}
		out = append(out, op+" "+target(call.Input))
	}
	return out
}

func target(in any) string {
	switch in := in.(type) {
	case *cloudformation.CreateStackInput:
		return aws.ToString(in.StackName)
	case *cloudformation.UpdateStackInput:
		return aws.ToString(in.StackName)
	case *cloudformation.DeleteStackInput:
		return aws.ToString(in.StackName)
	case *autoscaling.SetDesiredCapacityInput:
		return aws.ToString(in.AutoScalingGroupName)
	case *autoscaling.UpdateAutoScalingGroupInput:
		return aws.ToString(in.AutoScalingGroupName)
	}
	return fmt.Sprintf("%T", in)
}

// syncBuffer is a log sink shared by the loop's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// clusterSpec is a valid spec in the test network.
func clusterSpec(net moto.Network, name, scheduler string, maxNodes int) string {
	return fmt.Sprintf(`version: 1
name: %s
region: us-east-1
scheduler: %s
vpc: %s
headNode:
  instanceType: t3.medium
  subnet: %s
  sshFrom: 192.0.2.0/24
compute:
  - name: compute
    instanceType: c5.large
    minNodes: 1
    maxNodes: %d
`, name, scheduler, net.VPC, net.Subnet, maxNodes)
}

// bed is one end-to-end test bed: the emulator, a git server with the
// cluster repo, and a config pointing the daemon at both.
type bed struct {
	t      *testing.T
	aws    aws.Config
	net    moto.Network
	repo   *gitserver.Repo
	cfg    *Config
	calls  *calls
	logs   *syncBuffer
	reg    *prometheus.Registry
	cfn    *cloudformation.Client
	asg    *autoscaling.Client
	ec2    *ec2.Client
	server *moto.Server
}

func newBed(t *testing.T) *bed {
	t.Helper()
	srv := moto.Start(t)
	awsCfg := srv.AWSConfig()
	b := &bed{t: t, aws: awsCfg, server: srv,
		cfn: cloudformation.NewFromConfig(awsCfg), asg: autoscaling.NewFromConfig(awsCfg), ec2: ec2.NewFromConfig(awsCfg)}
	b.net = moto.NewNetwork(t, t.Context(), b.ec2)
	root := t.TempDir()
	git := gitserver.Start(t, root)
	b.repo = gitserver.NewRepo(t, root, "clusters.git")
	b.cfg = &Config{
		Repo: RepoConfig{URL: git.URL("clusters.git"), Branch: "main", Path: "clusters", CacheDir: filepath.Join(t.TempDir(), "cache")},
		AWS:  AWSConfig{Region: moto.Region, Endpoint: srv.Endpoint},
	}
	b.cfg.defaults()
	if errs := b.cfg.validate(); len(errs) > 0 {
		t.Fatalf("test config invalid: %v", errs)
	}
	return b
}

// start wires a fresh daemon, as a restarted process would be.
func (b *bed) start() *daemon {
	b.t.Helper()
	b.calls, b.logs, b.reg = &calls{}, &syncBuffer{}, prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := wire(b.t.Context(), b.cfg, log, b.reg, reconcile.Options{}, b.calls.record)
	if err != nil {
		b.t.Fatalf("wire: %v", err)
	}
	return d
}

// cycle runs one cycle and fails the test when any cluster failed.
func (b *bed) cycle(d *daemon) *reconcile.Report {
	b.t.Helper()
	rep, err := d.reconciler.Reconcile(b.t.Context())
	if err != nil {
		b.t.Fatalf("cycle: %v\nlogs:\n%s", err, b.logs)
	}
	for _, o := range rep.Outcomes {
		if o.Err != nil {
			b.t.Fatalf("%s: %v\nlogs:\n%s", o.Change.Cluster, o.Err, b.logs)
		}
	}
	return rep
}

func (b *bed) stack(cluster string) *cloudformation.DescribeStacksOutput {
	b.t.Helper()
	out, err := b.cfn.DescribeStacks(b.t.Context(), &cloudformation.DescribeStacksInput{StackName: aws.String(render.StackName(cluster))})
	if err != nil {
		b.t.Fatalf("describe stack of %s: %v", cluster, err)
	}
	return out
}

func (b *bed) group(cluster string) (min, max int32) {
	b.t.Helper()
	name := render.StackName(cluster) + "-compute"
	out, err := b.asg.DescribeAutoScalingGroups(b.t.Context(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil || len(out.AutoScalingGroups) != 1 {
		b.t.Fatalf("describe group %s: %v (%d groups)", name, err, len(out.AutoScalingGroups))
	}
	g := out.AutoScalingGroups[0]
	return aws.ToInt32(g.MinSize), aws.ToInt32(g.MaxSize)
}

func actions(rep *reconcile.Report) map[string]diff.Action {
	m := make(map[string]diff.Action)
	for _, o := range rep.Outcomes {
		m[o.Change.Cluster] = o.Change.Action
	}
	return m
}

func TestEndToEnd(t *testing.T) {
	b := newBed(t)
	ctx := t.Context()

	// 1. Two specs committed: both stacks are created with our tags, the
	// groups have the declared limits and the head node runs.
	rev1 := b.repo.Commit(t, "alpha and beta", map[string]string{
		"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 4),
		"clusters/beta.yaml":  clusterSpec(b.net, "beta", "sge", 3),
		"README.md":           "cluster repo\n",
	})
	d := b.start()
	rep := b.cycle(d)
	if got := actions(rep); got["alpha"] != diff.Create || got["beta"] != diff.Create {
		t.Fatalf("first cycle actions %v, want both created", got)
	}
	for _, c := range []string{"alpha", "beta"} {
		st := b.stack(c).Stacks[0]
		if st.StackStatus != "CREATE_COMPLETE" {
			t.Errorf("%s: stack status %s", c, st.StackStatus)
		}
		tags := map[string]string{}
		for _, tag := range st.Tags {
			tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		if tags[render.TagCluster] != c || tags[render.TagRevision] != rev1 || len(tags[render.TagSpecHash]) != 64 {
			t.Errorf("%s: tags %v", c, tags)
		}
		var headID string
		for _, o := range st.Outputs {
			if aws.ToString(o.OutputKey) == "HeadNodePrivateIp" && aws.ToString(o.OutputValue) == "" {
				t.Errorf("%s: empty head node private IP output", c)
			}
		}
		res, err := b.cfn.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: st.StackName})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.StackResources {
			if aws.ToString(r.ResourceType) == "AWS::EC2::Instance" {
				headID = aws.ToString(r.PhysicalResourceId)
			}
		}
		inst, err := b.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{headID}})
		if err != nil || len(inst.Reservations) != 1 {
			t.Errorf("%s: head node %q not found: %v", c, headID, err)
		}
	}
	if mn, mx := b.group("alpha"); mn != 1 || mx != 4 {
		t.Errorf("alpha group min/max %d/%d, want 1/4", mn, mx)
	}
	if mn, mx := b.group("beta"); mn != 1 || mx != 3 {
		t.Errorf("beta group min/max %d/%d, want 1/3", mn, mx)
	}

	// 2. alpha's maximum changes: alpha is updated, beta sees no
	// mutating call at all.
	b.repo.Commit(t, "alpha grows", map[string]string{"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 10)})
	b.calls.reset()
	rep = b.cycle(d)
	if got := actions(rep); got["alpha"] != diff.Update || got["beta"] != diff.None {
		t.Fatalf("actions %v, want alpha updated and beta untouched", got)
	}
	if _, mx := b.group("alpha"); mx != 10 {
		t.Errorf("alpha group max %d after update, want 10", mx)
	}
	for _, m := range b.calls.mutating() {
		if strings.Contains(m, "beta") {
			t.Errorf("beta received a mutating call: %s", m)
		}
	}
	if len(b.calls.mutating()) == 0 {
		t.Error("no mutating call recorded for alpha's update; the call hook sees nothing")
	}

	// 3. A third spec with a typo'd field: the others still reconcile and
	// the bad file is reported with file, line and field.
	bad := strings.Replace(clusterSpec(b.net, "gamma", "slurm", 2), "maxNodes", "maxNode", 1)
	b.repo.Commit(t, "gamma with a typo", map[string]string{"clusters/gamma.yaml": bad})
	rep = b.cycle(d)
	if got := actions(rep); got["alpha"] != diff.None || got["beta"] != diff.None || got["gamma"] != diff.Skip {
		t.Fatalf("actions %v, want alpha and beta in sync and gamma skipped", got)
	}
	if errs := rep.Invalid["clusters/gamma.yaml"]; len(errs) == 0 {
		t.Fatalf("gamma.yaml not reported invalid: %v", rep.Invalid)
	}
	logs := b.logs.String()
	if !strings.Contains(logs, "file=clusters/gamma.yaml line=14") || !strings.Contains(logs, "maxNode") {
		t.Errorf("log does not name the bad file, line and field:\n%s", logs)
	}
	if n := seriesValue(t, b.reg, "driftless_spec_errors", "clusters/gamma.yaml"); n < 1 {
		t.Errorf("driftless_spec_errors{file=clusters/gamma.yaml} = %v", n)
	}
	if st, _ := d.reconciler.Statuses().Get("gamma"); st.Condition != reconcile.Blocked || !strings.Contains(st.Message, "clusters/gamma.yaml:14:5: compute[0].maxNode") {
		t.Errorf("gamma status %+v does not quote its error", st)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gamma.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err := run(ctx, []string{"validate", dir}, &out, &errOut)
	if exitCode(err, &errOut) != 1 || !strings.Contains(out.String(), "gamma.yaml:14:5: compute[0].maxNode") {
		t.Errorf("validate: exit %v, output:\n%s%s", err, out.String(), errOut.String())
	}

	// 4. beta's spec leaves the repo: kept while pruning is off, deleted
	// once it is on.
	b.repo.Commit(t, "retire beta", nil, "clusters/beta.yaml")
	rep = b.cycle(d)
	if got := actions(rep)["beta"]; got != diff.Retain {
		t.Fatalf("beta action %s with pruning off, want retain", got)
	}
	if st := b.stack("beta").Stacks[0]; st.StackStatus != "CREATE_COMPLETE" {
		t.Errorf("beta stack %s after a cycle with pruning off", st.StackStatus)
	}
	b.cfg.Prune = true
	d = b.start()
	rep = b.cycle(d)
	if got := actions(rep)["beta"]; got != diff.Delete {
		t.Fatalf("beta action %s with pruning on, want delete", got)
	}
	out2, err := b.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(render.StackName("beta"))})
	if err == nil && len(out2.Stacks) == 1 && out2.Stacks[0].StackStatus != "DELETE_COMPLETE" {
		t.Errorf("beta stack still %s after pruning", out2.Stacks[0].StackStatus)
	}

	// 5. A restart with nothing changed makes no mutating call.
	d = b.start()
	b.cycle(d)
	if m := b.calls.mutating(); len(m) != 0 {
		t.Errorf("first cycle after a restart made mutating calls: %v", m)
	}
}

// seriesValue reads the value of the series of a gauge whose first label
// has the given value.
func seriesValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() == label {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no series %s{%q}", name, label)
	return 0
}
