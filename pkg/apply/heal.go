package apply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/driftless/driftless/pkg/diff"
)

// StackApplier carries out a change's stack calls; *Applier satisfies it.
type StackApplier interface {
	Apply(ctx context.Context, ch diff.Change, revision string) (Result, error)
}

// FleetGroups are the Auto Scaling calls the Healer makes;
// *autoscaling.Client satisfies it.
type FleetGroups interface {
	DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput,
		opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	UpdateAutoScalingGroup(ctx context.Context, in *autoscaling.UpdateAutoScalingGroupInput,
		opts ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error)
	CreateOrUpdateTags(ctx context.Context, in *autoscaling.CreateOrUpdateTagsInput,
		opts ...func(*autoscaling.Options)) (*autoscaling.CreateOrUpdateTagsOutput, error)
}

// HeadNodes are the EC2 calls the Healer makes on a head node;
// *ec2.Client satisfies it.
type HeadNodes interface {
	CreateTags(ctx context.Context, in *ec2.CreateTagsInput, opts ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
	StartInstances(ctx context.Context, in *ec2.StartInstancesInput, opts ...func(*ec2.Options)) (*ec2.StartInstancesOutput, error)
}

var (
	_ StackApplier = (*Applier)(nil)
	_ FleetGroups  = (*autoscaling.Client)(nil)
	_ HeadNodes    = (*ec2.Client)(nil)
)

// ErrFleetNotStopped says the compute fleet still had instances when the
// wait for it to stop ran out; the update was not sent.
var ErrFleetNotStopped = errors.New("compute fleet did not stop")

// Healer carries out what a change needs beyond its stack calls, which it
// leaves to Stacks:
//
//   - an approved change that needs the compute fleet stopped (ch.StopFleet)
//     first drains every compute node in the scheduler (Drainer), which
//     also pauses the cluster's fleet loop, and returns a *DrainingError
//     while jobs still run: the change waits across cycles, holding no
//     concurrency slot, and a *DrainTimeoutError once DrainTimeout has
//     passed (the jobs are never killed). With no job left it sets every
//     group of the stack to min 0, max 0, desired 0 and waits until no
//     instance is left, then updates the stack, then gives each group the
//     new template's minimum and maximum and its former desired capacity
//     (clamped to them), and resumes the nodes. A cluster with no
//     scheduler to drain gets an ErrNoScheduler unless the spec approves
//     ForceStopApproval (ch.ForceStop), which stops the fleet without a
//     drain: jobs still running are then lost.
//   - drift the plan marked for healing (Drift.Heal) is put back after the
//     stack calls: a group's minimum and maximum (UpdateAutoScalingGroup),
//     tags removed from a group (CreateOrUpdateTags) or from the head node
//     (CreateTags), and a stopped head node (StartInstances). A stack's own
//     tags are healed by the plan's Update; a deleted stack by its Create.
//
// Zero durations take the Applier defaults; a nil Log discards.
type Healer struct {
	Stacks    StackApplier
	Groups    FleetGroups
	HeadNodes HeadNodes
	Log       *slog.Logger
	// PollInterval is the wait between two looks at a stopping fleet.
	PollInterval time.Duration
	// Timeout bounds the wait for the fleet to stop.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Drainer drains a cluster before its fleet is stopped; without it
	// only a forced stop (ForceStopApproval) goes ahead.
	Drainer Drainer
	// DrainTimeout bounds the wait for jobs on drained nodes;
	// DefaultDrainTimeout when zero.
	DrainTimeout time.Duration

	drains drains
}

// groupSize is what a group was before its fleet was stopped.
type groupSize struct {
	name               string
	min, max, capacity int
}

// Apply carries out ch: the fleet stop around it when it needs one, the
// stack calls, then the heals.
func (h *Healer) Apply(ctx context.Context, ch diff.Change, revision string) (Result, error) {
	log := h.logger().With("cluster", ch.Cluster, "action", string(ch.Action), "revision", revision)
	var (
		res Result
		err error
	)
	// An awsbatch cluster has no groups to stop, but its change still
	// interrupts jobs: it too waits for a drain or a forced stop.
	drain := ch.StopFleet && ch.Action == diff.Update && !ch.ForceStop
	if drain {
		if err := h.drained(ctx, log, ch, revision); err != nil {
			return Result{Cluster: ch.Cluster, Action: ch.Action}, err
		}
	}
	if ch.StopFleet && ch.Action == diff.Update && ch.Live != nil && len(ch.Live.Groups) > 0 {
		res, err = h.withFleetStopped(ctx, log, ch, revision)
	} else {
		res, err = h.Stacks.Apply(ctx, ch, revision)
	}
	if drain {
		if rerr := h.resume(ctx, log, ch.Cluster); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	if err != nil {
		return res, err
	}
	switch ch.Action {
	case diff.Heal, diff.Update:
		if err := h.heal(ctx, log, ch.Drift); err != nil {
			return res, err
		}
	}
	return res, nil
}

// withFleetStopped stops the stack's compute fleet, applies ch and
// restores the fleet, whether the update succeeded or not.
func (h *Healer) withFleetStopped(ctx context.Context, log *slog.Logger, ch diff.Change, revision string) (Result, error) {
	start := h.now()
	res := Result{Cluster: ch.Cluster, Action: ch.Action}
	saved := make([]groupSize, 0, len(ch.Live.Groups))
	for _, g := range ch.Live.Groups {
		saved = append(saved, groupSize{name: g.Name, min: g.Min, max: g.Max, capacity: g.Desired})
	}
	log.InfoContext(ctx, "stopping the compute fleet before an approved change", "groups", len(saved))
	if err := h.stop(ctx, log, saved); err != nil {
		// Give the fleet back what it had; the change is not made.
		if rerr := h.resize(ctx, log, saved, nil); rerr != nil {
			err = errors.Join(err, rerr)
		}
		res.Duration = h.now().Sub(start)
		return res, fmt.Errorf("stop the compute fleet of %s: %w", ch.Cluster, err)
	}
	res, err := h.Stacks.Apply(ctx, ch, revision)
	// After a successful update the groups take the new template's
	// limits; after a failed one, CloudFormation rolled back to the old
	// template, whose limits they had.
	var want map[string][2]int
	if err == nil && ch.Desired != nil {
		want = map[string][2]int{}
		for _, g := range ch.Desired.Groups {
			want[g.Name] = [2]int{g.Min, g.Max}
		}
	}
	if rerr := h.resize(ctx, log, saved, want); rerr != nil {
		err = errors.Join(err, fmt.Errorf("restore the compute fleet of %s: %w", ch.Cluster, rerr))
	} else {
		log.InfoContext(ctx, "compute fleet restored")
	}
	res.Duration = h.now().Sub(start)
	return res, err
}

// stop sets every group to zero and waits until no instance is left.
func (h *Healer) stop(ctx context.Context, log *slog.Logger, groups []groupSize) error {
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.name
		if _, err := h.Groups.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(g.name),
			MinSize:              aws.Int32(0),
			MaxSize:              aws.Int32(0),
			DesiredCapacity:      aws.Int32(0),
		}); err != nil {
			return fmt.Errorf("set group %s to zero: %w", g.name, err)
		}
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	interval := h.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	start := h.now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		left, err := h.instances(ctx, names)
		if err != nil {
			return err
		}
		if left == 0 {
			log.InfoContext(ctx, "compute fleet stopped")
			return nil
		}
		log.DebugContext(ctx, "waiting for the compute fleet to stop", "instances", left)
		if h.now().Sub(start) >= timeout {
			return fmt.Errorf("%w: %d instances left after %s", ErrFleetNotStopped, left, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// instances counts the instances still in the named groups, whatever
// their lifecycle state: a terminating node may still run a job.
func (h *Healer) instances(ctx context.Context, names []string) (int, error) {
	n := 0
	for chunk := range slices.Chunk(names, 50) {
		p := autoscaling.NewDescribeAutoScalingGroupsPaginator(h.Groups, &autoscaling.DescribeAutoScalingGroupsInput{
			AutoScalingGroupNames: chunk,
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return 0, fmt.Errorf("describe groups: %w", err)
			}
			for _, g := range page.AutoScalingGroups {
				n += len(g.Instances)
			}
		}
	}
	return n, nil
}

// resize gives each group its limits (from want when it names the group,
// else the saved ones) and its saved desired capacity within them. A group
// the update removed is left alone.
func (h *Healer) resize(ctx context.Context, log *slog.Logger, groups []groupSize, want map[string][2]int) error {
	var errs []error
	for _, g := range groups {
		lo, hi := g.min, g.max
		if w, ok := want[g.name]; ok {
			lo, hi = w[0], w[1]
		} else if want != nil {
			// The update removed the group.
			continue
		}
		capacity := min(max(g.capacity, lo), hi)
		_, err := h.Groups.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(g.name),
			MinSize:              aws.Int32(int32(lo)),
			MaxSize:              aws.Int32(int32(hi)),
			DesiredCapacity:      aws.Int32(int32(capacity)),
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("restore group %s: %w", g.name, err))
			continue
		}
		log.InfoContext(ctx, "group restored", "group", g.name, "min", lo, "max", hi, "desired", capacity)
	}
	return errors.Join(errs...)
}

// heal puts back every drift marked for healing. It tries them all and
// returns every failure.
func (h *Healer) heal(ctx context.Context, log *slog.Logger, drift []diff.Drift) error {
	var errs []error
	for _, d := range drift {
		if !d.Heal {
			continue
		}
		var err error
		switch {
		case d.Kind == diff.DriftGroupLimits:
			_, err = h.Groups.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
				AutoScalingGroupName: aws.String(d.Name),
				MinSize:              aws.Int32(int32(d.Min)),
				MaxSize:              aws.Int32(int32(d.Max)),
			})
		case d.Kind == diff.DriftTags && d.Target == diff.TargetGroup:
			var tags []asgtypes.Tag
			for _, k := range slices.Sorted(maps.Keys(d.Tags)) {
				tags = append(tags, asgtypes.Tag{
					ResourceId: aws.String(d.Name), ResourceType: aws.String("auto-scaling-group"),
					Key: aws.String(k), Value: aws.String(d.Tags[k]), PropagateAtLaunch: aws.Bool(true),
				})
			}
			_, err = h.Groups.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: tags})
		case d.Kind == diff.DriftTags && d.Target == diff.TargetInstance:
			err = h.needHeadNodes()
			if err == nil {
				var tags []ec2types.Tag
				for _, k := range slices.Sorted(maps.Keys(d.Tags)) {
					tags = append(tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(d.Tags[k])})
				}
				_, err = h.HeadNodes.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{d.Name}, Tags: tags})
			}
		case d.Kind == diff.DriftHeadNode && d.Target == diff.TargetInstance:
			err = h.needHeadNodes()
			if err == nil {
				_, err = h.HeadNodes.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{d.Name}})
			}
		default:
			// Healed by the stack calls (stack tags, a deleted stack).
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("heal %s of %s: %w", d.Kind, d.Name, err))
			continue
		}
		log.InfoContext(ctx, "drift healed", "kind", string(d.Kind), "target", d.Target, "name", d.Name, "was", d.Detail)
	}
	return errors.Join(errs...)
}

func (h *Healer) needHeadNodes() error {
	if h.HeadNodes == nil {
		return errors.New("no EC2 client to heal the head node with")
	}
	return nil
}

func (h *Healer) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Healer) logger() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.New(slog.DiscardHandler)
}
