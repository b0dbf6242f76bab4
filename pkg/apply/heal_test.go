package apply_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/render"
)

func (e *env) healer() *apply.Healer {
	return &apply.Healer{Stacks: e.applier, Groups: e.clients.ASG, HeadNodes: e.clients.EC2,
		PollInterval: 10 * time.Millisecond, Timeout: time.Minute}
}

// groupTags reads a group's tags.
func (e *env) groupTags(t *testing.T, name string) map[string]string {
	t.Helper()
	out, err := e.clients.ASG.DescribeAutoScalingGroups(t.Context(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil || len(out.AutoScalingGroups) != 1 {
		t.Fatalf("describe group %s: %v", name, err)
	}
	tags := map[string]string{}
	for _, tg := range out.AutoScalingGroups[0].Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return tags
}

func TestHealGroupDrift(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	cluster := moto.UniqueName("heal")
	name := render.GroupName(cluster, "compute")
	d := rendered(t, cluster, e.net.Subnet, render.Group{Name: name, Queue: "compute", Min: 0, Max: 4})
	if _, err := e.applier.Apply(ctx, diff.Change{Cluster: cluster, Action: diff.Create, Desired: d}, "rev1"); err != nil {
		t.Fatal(err)
	}
	// Behind the repo's back: the maximum raised and the cluster tag
	// removed.
	if _, err := e.clients.ASG.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name), MaxSize: aws.Int32(9),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.clients.ASG.DeleteTags(ctx, &autoscaling.DeleteTagsInput{Tags: []asgtypes.Tag{{
		ResourceId: aws.String(name), ResourceType: aws.String("auto-scaling-group"), Key: aws.String(render.TagCluster),
	}}}); err != nil {
		t.Fatal(err)
	}
	ch := diff.Change{Cluster: cluster, Action: diff.Heal, Desired: d, Live: e.live(t, d), Drift: []diff.Drift{
		{Kind: diff.DriftGroupLimits, Target: diff.TargetGroup, Name: name, Heal: true, Min: 0, Max: 4},
		{Kind: diff.DriftTags, Target: diff.TargetGroup, Name: name, Heal: true, Tags: map[string]string{render.TagCluster: cluster}},
		{Kind: diff.DriftResources, Target: diff.TargetResource, Name: "Other", Heal: false},
	}}
	e.resetCalls()
	if _, err := e.healer().Apply(ctx, ch, "rev1"); err != nil {
		t.Fatal(err)
	}
	if g, _ := e.group(t, name); g.min != 0 || g.max != 4 {
		t.Errorf("group after heal: %+v, want min 0 max 4", g)
	}
	if tags := e.groupTags(t, name); tags[render.TagCluster] != cluster {
		t.Errorf("group tags after heal: %v", tags)
	}
	if m := e.mutations(d.Name, name); m["UpdateStack"] != 0 || m["CreateStack"] != 0 {
		t.Errorf("healing made stack calls: %v", m)
	}
}

// observingApplier looks at the groups when the stack update is sent, and
// then lets the real applier send it (or fails, to test the restore).
type observingApplier struct {
	e      *env
	t      *testing.T
	group  string
	seen   groupStateAt
	fail   error
	called bool
}

type groupStateAt struct {
	min, max, desired, instances int
}

func (o *observingApplier) Apply(ctx context.Context, ch diff.Change, revision string) (apply.Result, error) {
	o.called = true
	g, _ := o.e.group(o.t, o.group)
	o.seen = groupStateAt(g)
	if o.fail != nil {
		return apply.Result{}, o.fail
	}
	return o.e.applier.Apply(ctx, ch, revision)
}

func TestStopFleetAroundAnApprovedUpdate(t *testing.T) {
	for _, fail := range []bool{false, true} {
		name := map[bool]string{false: "update succeeds", true: "update fails"}[fail]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			ctx := t.Context()
			cluster := moto.UniqueName("stop")
			group := render.GroupName(cluster, "compute")
			d1 := rendered(t, cluster, e.net.Subnet, render.Group{Name: group, Queue: "compute", Min: 1, Max: 4, Initial: 3})
			if _, err := e.applier.Apply(ctx, diff.Change{Cluster: cluster, Action: diff.Create, Desired: d1}, "rev1"); err != nil {
				t.Fatal(err)
			}
			if g, _ := e.group(t, group); g.desired != 3 || g.instances != 3 {
				t.Fatalf("group before: %+v, want 3 nodes", g)
			}
			l := e.live(t, d1)
			l.Groups = []diff.LiveGroup{{Name: group, Min: 1, Max: 4, Desired: 3, InService: 3}}
			d2 := rendered(t, cluster, e.net.Subnet, render.Group{Name: group, Queue: "compute", Min: 2, Max: 6})
			obs := &observingApplier{e: e, t: t, group: group}
			if fail {
				obs.fail = errors.New("stack update rolled back")
			}
			h := e.healer()
			h.Stacks = obs
			_, err := h.Apply(ctx, diff.Change{Cluster: cluster, Action: diff.Update, StopFleet: true, ForceStop: true, Desired: d2, Live: l}, "rev2")
			if fail != (err != nil) {
				t.Fatalf("apply: %v", err)
			}
			if !obs.called {
				t.Fatal("the stack update was never sent")
			}
			if obs.seen != (groupStateAt{}) {
				t.Errorf("group when the update was sent: %+v, want everything at zero", obs.seen)
			}
			g, _ := e.group(t, group)
			want := groupState{min: 2, max: 6, desired: 3, instances: 3}
			if fail {
				want = groupState{min: 1, max: 4, desired: 3, instances: 3}
			}
			if g != want {
				t.Errorf("group after: %+v, want %+v", g, want)
			}
		})
	}
}
