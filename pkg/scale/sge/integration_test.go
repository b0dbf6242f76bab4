package sge_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/driftless/driftless/internal/testbed/moto"
	sgebed "github.com/driftless/driftless/internal/testbed/sge"
	"github.com/driftless/driftless/pkg/scale"
	"github.com/driftless/driftless/pkg/scale/asgfleet"
	"github.com/driftless/driftless/pkg/scale/internal/scaletest"
	"github.com/driftless/driftless/pkg/scale/sge"
)

// TestFleetLoopAgainstGridEngine retires an idle Grid Engine host: held at
// the group's minimum, kept when a job lands on it right before its drain,
// then drained, re-checked, terminated and removed from the cell.
func TestFleetLoopAgainstGridEngine(t *testing.T) {
	cell := sgebed.Start(t)
	srv := moto.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	cfg := srv.AWSConfig()
	name := scaletest.Group(t, ctx, cfg, 1, 1, 2)
	asg := autoscaling.NewFromConfig(cfg)
	fleet := asgfleet.New(asg, ec2.NewFromConfig(cfg))
	g, err := fleet.Group(ctx, name)
	if err != nil || len(g.Instances) != 1 {
		t.Fatalf("group: %+v %v", g, err)
	}
	// The host's boot script records its instance id.
	if err := cell.SetInstance(ctx, g.Instances[0].ID); err != nil {
		t.Fatal(err)
	}

	qcfg := scale.DefaultConfig()
	racer := &racing{Scheduler: sge.New(cell, sge.Options{InstanceComplex: "instance_id"})}
	loop, err := scale.NewLoop(scale.LoopConfig{
		Cluster:   "sge",
		Scheduler: racer,
		Fleet:     fleet,
		Queues:    []scale.Queue{{Name: "all.q", Group: name, Config: qcfg}},
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	round := func(d time.Duration) scale.GroupReport {
		t.Helper()
		now = now.Add(d)
		rep, err := loop.RunOnce(ctx, now)
		if err != nil {
			t.Fatalf("round: %v", err)
		}
		gr := rep.Groups[0]
		t.Logf("round +%v: desired %d->%d (%s) drained %v resumed %v terminated %v",
			d, gr.Group.Desired, gr.Decision.Desired, gr.Decision.DesiredReason, gr.Drained, gr.Resumed, gr.Terminated)
		return gr
	}
	queueState := func() string {
		t.Helper()
		out, err := cell.Run(ctx, nil, "qstat", "-f")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) >= 5 && f[0] == "all.q@"+cell.Host {
				if len(f) > 5 {
					return f[5]
				}
				return ""
			}
		}
		return "gone"
	}

	// A job runs and ends; the host then idles at the group's minimum.
	if _, err := cell.Submit(ctx, "sleep", "1"); err != nil {
		t.Fatal(err)
	}
	if err := cell.WaitJobsDone(ctx, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	round(0)
	if gr := round(30 * time.Minute); len(gr.Drained) != 0 {
		t.Fatalf("drained %v at the minimum", gr.Drained)
	}

	// The spec lowers the minimum to 0 and the idle host is drained, but a
	// job lands on it right before the drain: the re-check finds it
	// running and the host is kept.
	if _, err := asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(0),
	}); err != nil {
		t.Fatal(err)
	}
	racer.before = func(string) {
		if _, err := cell.Submit(ctx, "sleep", "3"); err != nil {
			t.Fatal(err)
		}
		if err := waitRunning(ctx, cell); err != nil {
			t.Fatal(err)
		}
	}
	gr := round(time.Minute)
	if !slices.Equal(gr.Drained, []string{cell.Host}) || !slices.Equal(gr.Resumed, []string{cell.Host}) || len(gr.Terminated) != 0 {
		t.Fatalf("drained %v resumed %v terminated %v; want the host drained and kept", gr.Drained, gr.Resumed, gr.Terminated)
	}
	if st := queueState(); strings.Contains(st, "d") {
		t.Fatalf("queue instance state %q after the drain was cancelled", st)
	}
	if err := cell.WaitJobsDone(ctx, 60*time.Second); err != nil {
		t.Fatal(err)
	}

	// Idle again past the idle time: drained, re-checked, terminated and
	// removed from the cell in one round.
	round(time.Minute)
	if gr := round(11 * time.Minute); !slices.Equal(gr.Terminated, []string{cell.Host}) {
		t.Fatalf("terminated %v, want %s", gr.Terminated, cell.Host)
	}
	if g, err = fleet.Group(ctx, name); err != nil || g.Desired != 0 || g.InService() != 0 {
		t.Fatalf("group after scale-down: %+v %v", g, err)
	}
	out, err := cell.Run(ctx, nil, "qconf", "-sel")
	if err == nil && strings.Contains(string(out), cell.Host) {
		t.Fatalf("host still an execution host: %s", out)
	}
	if st := queueState(); st != "gone" {
		t.Fatalf("queue instance still there: %q", st)
	}
}

// racing is the real adapter with a hook that runs once, right before the
// next drain, to land a job between the loop's look and its drain.
type racing struct {
	scale.Scheduler
	before func(node string)
}

func (r *racing) Drain(ctx context.Context, node, reason string) error {
	if f := r.before; f != nil {
		r.before = nil
		f(node)
	}
	return r.Scheduler.Drain(ctx, node, reason)
}

// waitRunning waits until some job runs.
func waitRunning(ctx context.Context, cell *sgebed.Cell) error {
	for range 100 {
		out, err := cell.Run(ctx, nil, "qstat", "-s", "r", "-u", "*")
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(out)) != "" {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("no job started within 10 s")
}
