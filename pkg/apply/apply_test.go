package apply_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/awsclient"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/render"
)

var emulator moto.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.Close()
	os.Exit(code)
}

// env is one test's clients, network and a log of the calls they made.
type env struct {
	clients *awsclient.Clients
	net     moto.Network
	applier *apply.Applier

	mu    sync.Mutex
	calls []awsclient.Call
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := emulator.Get(t)
	e := &env{}
	cl, err := awsclient.New(t.Context(), awsclient.Config{Region: moto.Region, Endpoint: srv.Endpoint},
		&awsclient.Recorder{OnCall: func(c awsclient.Call) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.calls = append(e.calls, c)
		}})
	if err != nil {
		t.Fatal(err)
	}
	e.clients = cl
	e.net = moto.NewNetwork(t, t.Context(), cl.EC2)
	e.applier = &apply.Applier{Stacks: cl.CFN, Groups: cl.ASG, PollInterval: 10 * time.Millisecond, Timeout: time.Minute}
	return e
}

// mutations counts the calls that change something, by operation, made
// for the given stack or its groups since the last reset.
func (e *env) mutations(stack string, groups ...string) map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := map[string]int{}
	for _, c := range e.calls {
		var target string
		switch in := c.Input.(type) {
		case *cloudformation.CreateStackInput:
			target = aws.ToString(in.StackName)
		case *cloudformation.UpdateStackInput:
			target = aws.ToString(in.StackName)
		case *cloudformation.DeleteStackInput:
			target = aws.ToString(in.StackName)
		case *autoscaling.SetDesiredCapacityInput:
			target = aws.ToString(in.AutoScalingGroupName)
		default:
			continue
		}
		if strings.Contains(target, stack) {
			n[c.Operation]++
		}
	}
	return n
}

func (e *env) resetCalls() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = nil
}

func (e *env) lastInput(op string) any {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.calls) - 1; i >= 0; i-- {
		if e.calls[i].Operation == op {
			return e.calls[i].Input
		}
	}
	return nil
}

// rendered builds what the renderer would: a launch template and named
// groups tagged with the cluster. Naming the groups keeps their names
// when moto replaces them on update.
func rendered(t *testing.T, cluster, subnet string, groups ...render.Group) *render.Stack {
	t.Helper()
	res := map[string]any{
		"LaunchTemplate": map[string]any{
			"Type": "AWS::EC2::LaunchTemplate",
			"Properties": map[string]any{"LaunchTemplateData": map[string]any{
				"ImageId": "ami-12345678", "InstanceType": "t3.micro",
			}},
		},
	}
	for _, g := range groups {
		res["Group"+g.Queue] = map[string]any{
			"Type": "AWS::AutoScaling::AutoScalingGroup",
			"Properties": map[string]any{
				"AutoScalingGroupName": g.Name,
				"MinSize":              g.Min,
				"MaxSize":              g.Max,
				"VPCZoneIdentifier":    []string{subnet},
				"LaunchTemplate": map[string]any{
					"LaunchTemplateId": map[string]any{"Ref": "LaunchTemplate"},
					"Version":          map[string]any{"Fn::GetAtt": []string{"LaunchTemplate", "LatestVersionNumber"}},
				},
				"Tags": []map[string]any{{"Key": render.TagCluster, "Value": cluster, "PropagateAtLaunch": true}},
			},
		}
	}
	body, err := json.Marshal(map[string]any{"Resources": res})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	return &render.Stack{
		Cluster:  cluster,
		Name:     render.StackName(cluster),
		Template: body,
		Hash:     hex.EncodeToString(sum[:]),
		Tags:     map[string]string{render.TagCluster: cluster, "team": "physics"},
		Groups:   groups,
	}
}

func (e *env) stack(t *testing.T, name string) *cfntypes.Stack {
	t.Helper()
	out, err := e.clients.CFN.DescribeStacks(t.Context(), &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		t.Fatalf("describe stack %s: %v", name, err)
	}
	return &out.Stacks[0]
}

func tagsOf(s *cfntypes.Stack) map[string]string {
	m := map[string]string{}
	for _, t := range s.Tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

type groupState struct{ min, max, desired, instances int }

func (e *env) group(t *testing.T, name string) (groupState, bool) {
	t.Helper()
	out, err := e.clients.ASG.DescribeAutoScalingGroups(t.Context(), &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{name},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.AutoScalingGroups) == 0 {
		return groupState{}, false
	}
	g := out.AutoScalingGroups[0]
	return groupState{
		min: int(aws.ToInt32(g.MinSize)), max: int(aws.ToInt32(g.MaxSize)),
		desired: int(aws.ToInt32(g.DesiredCapacity)), instances: len(g.Instances),
	}, true
}

// live is what observe would report for the stack now.
func (e *env) live(t *testing.T, d *render.Stack) *diff.Live {
	t.Helper()
	s := e.stack(t, d.Name)
	tags := tagsOf(s)
	return &diff.Live{
		Cluster: d.Cluster, StackName: d.Name, StackID: aws.ToString(s.StackId), Status: string(s.StackStatus),
		Tags: tags, Revision: tags[render.TagRevision], Hash: tags[render.TagSpecHash],
		TerminationProtection: aws.ToBool(s.EnableTerminationProtection),
	}
}

func TestLifecycleAgainstMoto(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	cluster := moto.UniqueName("life")
	compute := render.Group{Name: cluster + "-compute", Queue: "Compute", Min: 0, Max: 4, Initial: 2}
	gpu := render.Group{Name: cluster + "-gpu", Queue: "Gpu", Min: 0, Max: 2}
	v1 := rendered(t, cluster, e.net.Subnet, compute, gpu)

	// Create.
	res, err := e.applier.Apply(ctx, diff.Change{Cluster: cluster, Action: diff.Create, Desired: v1}, "rev1")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if res.StackStatus != "CREATE_COMPLETE" || res.Action != diff.Create || res.Cluster != cluster {
		t.Errorf("create result = %+v", res)
	}
	wantTags := map[string]string{
		render.TagCluster: cluster, render.TagRevision: "rev1", render.TagSpecHash: v1.Hash, "team": "physics",
	}
	if got := tagsOf(e.stack(t, v1.Name)); !maps.Equal(got, wantTags) {
		t.Errorf("tags after create = %v, want %v", got, wantTags)
	}
	in := e.lastInput("CreateStack").(*cloudformation.CreateStackInput)
	if aws.ToString(in.ClientRequestToken) == "" || len(in.Capabilities) != 2 {
		t.Errorf("CreateStack sent token %q and capabilities %v", aws.ToString(in.ClientRequestToken), in.Capabilities)
	}
	if g, _ := e.group(t, compute.Name); g != (groupState{0, 4, 2, 2}) {
		t.Errorf("compute group after create = %+v, want its initial 2 nodes", g)
	}
	if g, _ := e.group(t, gpu.Name); g != (groupState{0, 2, 0, 0}) {
		t.Errorf("gpu group after create = %+v, want empty", g)
	}

	// Update: more nodes allowed; the group keeps its name.
	compute.Max = 8
	v2 := rendered(t, cluster, e.net.Subnet, compute, gpu)
	res, err = e.applier.Apply(ctx, diff.Change{Cluster: cluster, Action: diff.Update, Desired: v2, Live: e.live(t, v1)}, "rev2")
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if res.StackStatus != "UPDATE_COMPLETE" {
		t.Errorf("update result = %+v", res)
	}
	g, ok := e.group(t, compute.Name)
	if !ok || g.max != 8 {
		t.Errorf("compute group after update = %+v (found %v), want max 8 under the same name", g, ok)
	}
	tags := tagsOf(e.stack(t, v2.Name))
	if tags[render.TagRevision] != "rev2" || tags[render.TagSpecHash] != v2.Hash {
		t.Errorf("tags after update = %v", tags)
	}
	if in := e.lastInput("UpdateStack").(*cloudformation.UpdateStackInput); in.TemplateBody == nil || in.UsePreviousTemplate != nil {
		t.Errorf("template update sent UsePreviousTemplate=%v and no body", in.UsePreviousTemplate)
	}

	// A new revision with the same template updates the tags only.
	if _, err := e.applier.Apply(ctx, diff.Change{Cluster: cluster, Action: diff.Update, Desired: v2, Live: e.live(t, v2)}, "rev3"); err != nil {
		t.Fatalf("tags-only update: %v", err)
	}
	if in := e.lastInput("UpdateStack").(*cloudformation.UpdateStackInput); in.TemplateBody != nil || !aws.ToBool(in.UsePreviousTemplate) {
		t.Errorf("tags-only update sent a body (UsePreviousTemplate=%v)", in.UsePreviousTemplate)
	}
	if got := tagsOf(e.stack(t, v2.Name))[render.TagRevision]; got != "rev3" {
		t.Errorf("revision after tags-only update = %q, want rev3", got)
	}

	// Delete.
	live := e.live(t, v2)
	res, err = e.applier.Apply(ctx, diff.Change{Cluster: cluster, Action: diff.Delete, Live: live}, "rev4")
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if res.StackStatus != "DELETE_COMPLETE" && res.StackStatus != "" {
		t.Errorf("delete result = %+v", res)
	}
	if s := e.stack(t, live.StackID); s.StackStatus != cfntypes.StackStatusDeleteComplete {
		t.Errorf("stack after delete is %s", s.StackStatus)
	}
	if _, ok := e.group(t, compute.Name); ok {
		t.Errorf("group %s survived the delete", compute.Name)
	}

	want := map[string]int{"CreateStack": 1, "SetDesiredCapacity": 1, "UpdateStack": 2, "DeleteStack": 1}
	if got := e.mutations(cluster); !maps.Equal(got, want) {
		t.Errorf("mutating calls = %v, want %v", got, want)
	}
}

func TestRetriedCreateIsIdempotent(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	cluster := moto.UniqueName("idem")
	d := rendered(t, cluster, e.net.Subnet, render.Group{Name: cluster + "-compute", Queue: "Compute", Max: 4, Initial: 1})
	ch := diff.Change{Cluster: cluster, Action: diff.Create, Desired: d}

	first, err := e.applier.Apply(ctx, ch, "rev1")
	if err != nil {
		t.Fatal(err)
	}
	// The scaler takes over the group between the two attempts.
	if _, err := e.clients.ASG.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(cluster + "-compute"), DesiredCapacity: aws.Int32(3),
	}); err != nil {
		t.Fatal(err)
	}
	e.resetCalls()
	second, err := e.applier.Apply(ctx, ch, "rev1")
	if err != nil {
		t.Fatalf("retried create: %v", err)
	}
	if first.StackStatus != "CREATE_COMPLETE" || second.StackStatus != "CREATE_COMPLETE" {
		t.Errorf("results %+v, %+v", first, second)
	}
	out, err := e.clients.CFN.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range out.Stacks {
		if aws.ToString(s.StackName) == d.Name {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d stacks named %s, want 1", n, d.Name)
	}
	if got := e.mutations(cluster); got["SetDesiredCapacity"] != 0 {
		t.Errorf("the retry resized the group: %v", got)
	}
	if g, _ := e.group(t, cluster+"-compute"); g.desired != 3 {
		t.Errorf("desired = %d after the retry, want the scaler's 3", g.desired)
	}

	// The same name made from another template is not ours to adopt.
	other := rendered(t, cluster, e.net.Subnet)
	if _, err := e.applier.Apply(ctx, diff.Change{Cluster: cluster, Action: diff.Create, Desired: other}, "rev2"); err == nil {
		t.Error("create over a stack made from another template succeeded")
	}
}

func TestNothingToApply(t *testing.T) {
	e := newEnv(t)
	cluster := moto.UniqueName("noop")
	d := rendered(t, cluster, e.net.Subnet)
	for _, action := range []diff.Action{diff.None, diff.Retain, diff.Skip, diff.Wait, diff.Blocked} {
		t.Run(string(action), func(t *testing.T) {
			res, err := e.applier.Apply(t.Context(), diff.Change{Cluster: cluster, Action: action, Desired: d,
				Live: &diff.Live{Cluster: cluster, StackName: d.Name}}, "rev")
			if err != nil || res.StackStatus != "" || res.Action != action {
				t.Errorf("Apply = %+v, %v", res, err)
			}
		})
	}
	if got := e.mutations(cluster); len(got) != 0 {
		t.Errorf("calls made: %v", got)
	}
}

func TestRefusals(t *testing.T) {
	e := newEnv(t)
	cluster := moto.UniqueName("refuse")
	big := rendered(t, cluster, e.net.Subnet)
	big.Template = []byte(`{"Description":"` + strings.Repeat("x", apply.MaxTemplateBody) + `","Resources":{}}`)

	tests := []struct {
		name string
		ch   diff.Change
		want error
	}{
		{"template too large to create", diff.Change{Cluster: cluster, Action: diff.Create, Desired: big}, apply.ErrTemplateTooLarge},
		{"template too large to update", diff.Change{Cluster: cluster, Action: diff.Update, Desired: big,
			Live: &diff.Live{Cluster: cluster, StackName: big.Name, Hash: "old"}}, apply.ErrTemplateTooLarge},
		{"protected stack", diff.Change{Cluster: cluster, Action: diff.Delete,
			Live: &diff.Live{Cluster: cluster, StackName: big.Name, TerminationProtection: true}}, apply.ErrProtected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.applier.Apply(t.Context(), tt.ch, "rev")
			if !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
	if got := e.mutations(cluster); len(got) != 0 {
		t.Errorf("calls made: %v", got)
	}
}
