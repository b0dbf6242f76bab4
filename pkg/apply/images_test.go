package apply_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/spec"
)

// images is the image resolver of a test: SSM on the emulator, except
// for the paths in served, which the test answers itself (a test cannot
// publish a newer image under /aws/ there), recording every path read.
type images struct {
	ssm apply.Images

	mu     sync.Mutex
	served map[string]string
	reads  []string
}

func (i *images) GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	i.mu.Lock()
	path := aws.ToString(in.Name)
	i.reads = append(i.reads, path)
	id, ok := i.served[path]
	i.mu.Unlock()
	if ok {
		return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Name: in.Name, Value: aws.String(id)}}, nil
	}
	return i.ssm.GetParameter(ctx, in, opts...)
}

func (i *images) serve(path, id string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.served[path] = id
}

func (i *images) read() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return slices.Clone(i.reads)
}

// renderSpec renders a cluster on the test's network.
func renderSpec(t *testing.T, e *env, name, baseOS, computeType string, maxNodes int) *render.Stack {
	t.Helper()
	doc := fmt.Sprintf(`version: 1
name: %s
region: us-east-1
scheduler: slurm
baseOS: %s
vpc: %s
headNode:
  instanceType: t3.medium
  subnet: %s
  sshFrom: 192.0.2.0/24
compute:
  - name: compute
    instanceType: %s
    maxNodes: %d
`, name, baseOS, e.net.VPC, e.net.Subnet, computeType, maxNodes)
	c, errs := spec.Parse(name+".yaml", []byte(doc))
	if len(errs) > 0 {
		t.Fatalf("spec: %v", errs)
	}
	st, err := render.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// parameters are the stack's parameter values as DescribeStacks reports
// them.
func (e *env) parameters(t *testing.T, name string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, p := range e.stack(t, name).Parameters {
		m[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	return m
}

// TestImagePinned: a create resolves the base OS's image from SSM and
// passes its id; an update keeps that image even once a newer one is
// published (UsePreviousValue, no read), tags-only updates too; a new base
// OS is a new parameter, resolved anew.
func TestImagePinned(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	imgs := &images{ssm: e.clients.SSM, served: map[string]string{}}
	e.applier.Images = imgs
	name := moto.UniqueName("pin")

	st := renderSpec(t, e, name, "alinux2", "c5.large", 2)
	if len(st.Images) != 1 {
		t.Fatalf("image parameters %+v, want one (x86 head and compute)", st.Images)
	}
	param, path := st.Images[0].Name, st.Images[0].Path
	out, err := e.clients.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(path)})
	if err != nil {
		t.Fatalf("moto does not resolve %s: %v", path, err)
	}
	current := aws.ToString(out.Parameter.Value)

	if _, err := e.applier.Apply(ctx, diff.Change{Cluster: st.Cluster, Action: diff.Create, Desired: st}, "rev1"); err != nil {
		t.Fatal(err)
	}
	if got := e.parameters(t, st.Name)[param]; got != current {
		t.Fatalf("created with %s = %q, want the image %s names, %s", param, got, path, current)
	}
	if got := imgs.read(); !slices.Equal(got, []string{path}) {
		t.Errorf("create read %q, want %s once", got, path)
	}

	// A newer image is published; updates keep the one the stack runs.
	imgs.serve(path, "ami-0feedfacefeedface")
	steps := []struct {
		name     string
		st       *render.Stack
		revision string
	}{
		{"template changes", renderSpec(t, e, name, "alinux2", "c5.large", 3), "rev2"},
		{"tags only", renderSpec(t, e, name, "alinux2", "c5.large", 3), "rev3"},
	}
	for _, s := range steps {
		before := e.parameters(t, st.Name)[param]
		ch := diff.Change{Cluster: st.Cluster, Action: diff.Update, Desired: s.st, Live: e.live(t, s.st)}
		if _, err := e.applier.Apply(ctx, ch, s.revision); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if after := e.parameters(t, st.Name)[param]; after != before || after != current {
			t.Errorf("%s: %s went from %s to %s, want %s kept", s.name, param, before, after, current)
		}
		in, _ := e.lastInput("UpdateStack").(*cloudformation.UpdateStackInput)
		if in == nil || !slices.ContainsFunc(in.Parameters, func(p cfntypes.Parameter) bool {
			return aws.ToString(p.ParameterKey) == param && aws.ToBool(p.UsePreviousValue) && p.ParameterValue == nil
		}) {
			t.Errorf("%s: UpdateStack does not keep the previous value of %s: %+v", s.name, param, in)
		}
		if got := imgs.read(); len(got) != 1 {
			t.Errorf("%s: the update read %q from SSM; it needs nothing", s.name, got[1:])
		}
	}

	// Graviton compute nodes need the arm64 image: a new parameter,
	// resolved now, while the head node keeps its image.
	arm := renderSpec(t, e, name, "alinux2", "c7g.large", 3)
	armParam := slices.IndexFunc(arm.Images, func(p render.ImageParameter) bool { return p.Name != param })
	if len(arm.Images) != 2 || armParam < 0 {
		t.Fatalf("graviton image parameters %+v", arm.Images)
	}
	armImage := arm.Images[armParam]
	out, err = e.clients.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(armImage.Path)})
	if err != nil {
		t.Fatalf("moto does not resolve %s: %v", armImage.Path, err)
	}
	if _, err := e.applier.Apply(ctx, diff.Change{Cluster: arm.Cluster, Action: diff.Update, Desired: arm, Live: e.live(t, arm)}, "rev4"); err != nil {
		t.Fatal(err)
	}
	got := e.parameters(t, arm.Name)
	if got[param] != current || got[armImage.Name] != aws.ToString(out.Parameter.Value) {
		t.Errorf("after graviton compute: %v, want %s = %s kept and %s = %s", got, param, current, armImage.Name, aws.ToString(out.Parameter.Value))
	}
	if got := imgs.read(); !slices.Equal(got, []string{path, armImage.Path}) {
		t.Errorf("reads %q, want the arm64 path read once more", got)
	}

	// A new base OS is a new parameter: its image is resolved now. moto
	// 5.2.5 cannot update a stack whose head node changes (it drops the
	// instance and fails the template), so the request is checked.
	al := renderSpec(t, e, name, "alinux2023", "c5.large", 3)
	if len(al.Images) != 1 || al.Images[0].Name == param {
		t.Fatalf("alinux2023 image parameters %+v", al.Images)
	}
	out, err = e.clients.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(al.Images[0].Path)})
	if err != nil {
		t.Fatalf("moto does not resolve %s: %v", al.Images[0].Path, err)
	}
	_, err = e.applier.Apply(ctx, diff.Change{Cluster: al.Cluster, Action: diff.Update, Desired: al, Live: e.live(t, al)}, "rev5")
	in, _ := e.lastInput("UpdateStack").(*cloudformation.UpdateStackInput)
	if in == nil || len(in.Parameters) != 1 || aws.ToString(in.Parameters[0].ParameterKey) != al.Images[0].Name ||
		aws.ToString(in.Parameters[0].ParameterValue) != aws.ToString(out.Parameter.Value) {
		t.Errorf("update to the new base OS sent %+v (apply error %v), want %s = %s", in, err, al.Images[0].Name, aws.ToString(out.Parameter.Value))
	}
	if got := imgs.read(); !slices.Equal(got, []string{path, armImage.Path, al.Images[0].Path}) {
		t.Errorf("reads %q, want the new base OS's path read once", got)
	}
}

// TestImagePinnedFromSSMType: a stack made from an older template, whose
// image parameter was of an SSM type, keeps the image CloudFormation
// resolved for it when the parameter becomes a plain image id. moto reports
// such a parameter already resolved and without ResolvedValue, so this
// runs against a hand-written CloudFormation answering as AWS does.
func TestImagePinnedFromSSMType(t *testing.T) {
	st := &render.Stack{
		Cluster: "hpc", Name: "driftless-hpc", Template: []byte(`{"Resources":{}}`), Hash: "h2",
		Tags:   map[string]string{render.TagCluster: "hpc"},
		Images: []render.ImageParameter{{Name: "Alinux2X86ImageId", Path: "/aws/service/ami-amazon-linux-latest/amzn2-ami-kernel-5.10-hvm-x86_64-gp2"}},
	}
	const running = "ami-0aaaaaaaaaaaaaaaa"
	describe := statuses("", cfntypes.StackStatusUpdateComplete)
	stacks := &fakeStacks{describe: func(in *cloudformation.DescribeStacksInput) (*cloudformation.DescribeStacksOutput, error) {
		out, err := describe(in)
		out.Stacks[0].Parameters = []cfntypes.Parameter{{
			ParameterKey:   aws.String("Alinux2X86ImageId"),
			ParameterValue: aws.String(st.Images[0].Path),
			ResolvedValue:  aws.String(running),
		}}
		return out, err
	}}
	imgs := &images{served: map[string]string{st.Images[0].Path: "ami-0bbbbbbbbbbbbbbbb"}}
	a := &apply.Applier{Stacks: stacks, Groups: noGroups{t}, Images: imgs, PollInterval: time.Millisecond}
	ch := diff.Change{Cluster: "hpc", Action: diff.Update, Desired: st,
		Live: &diff.Live{Cluster: "hpc", StackName: st.Name, StackID: stackID, Status: "UPDATE_COMPLETE", Hash: "h1"}}
	if _, err := a.Apply(t.Context(), ch, "rev2"); err != nil {
		t.Fatal(err)
	}
	in, _ := stacks.input("UpdateStack").(*cloudformation.UpdateStackInput)
	if in == nil || len(in.Parameters) != 1 || aws.ToString(in.Parameters[0].ParameterValue) != running || aws.ToBool(in.Parameters[0].UsePreviousValue) {
		t.Fatalf("UpdateStack parameters %+v, want Alinux2X86ImageId = %s", in, running)
	}
	if got := imgs.read(); len(got) != 0 {
		t.Errorf("read %q from SSM; the running image needs no read", got)
	}
}
