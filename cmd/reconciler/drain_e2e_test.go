package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/driftless/driftless/pkg/reconcile"
	"github.com/driftless/driftless/pkg/render"
)

// TestApprovedFleetStopDrainsFirst drives `reconciler run` with the fleet
// loop on a real Slurm: an approved change of the queue's instance type
// (fleet-stop) committed while a job runs drains the node and leaves the
// stack and the group alone, the cluster Reconciling (DrainingForUpdate)
// with the job counted; once the job has ended the next cycle stops the
// fleet, updates the stack, restores the group and resumes the node.
func TestApprovedFleetStopDrainsFirst(t *testing.T) {
	b := newFleetBed(t, nil)
	ctx := t.Context()
	doc := clusterSpec(b.net, "alpha", "slurm", 4)
	rev := b.repo.Commit(t, "alpha", map[string]string{"clusters/alpha.yaml": doc})
	path := filepath.Join(t.TempDir(), "config.yaml")
	b.writeConfig(path, fmt.Sprintf("fleet:\n  transport: local\n  interval: 1h\n  drainTimeout: 2h\n  env: [%q]\n", b.sl.Env[0]))
	b.serve(path)
	b.run.cycle(t, rev)
	b.run.settled(t, "alpha", rev)

	b.boot()
	var node string
	for _, n := range b.nodeOf {
		node = n
	}
	job, err := b.sl.Submit(ctx, "-N", "1", "--wrap", "sleep 20")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if st, _ := b.sl.JobState(ctx, job); st == "RUNNING" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s never ran", job)
		}
	}
	b.cycle(rev)
	if r := b.round(); r.Err != nil {
		t.Fatal(r.Err)
	}

	approved := strings.Replace(doc, "instanceType: c5.large", "instanceType: c5.xlarge", 1) +
		"policy:\n  approve:\n    - compute[compute].instanceType=c5.xlarge\n"
	rev2 := b.repo.Commit(t, "alpha: approve the bigger compute nodes", map[string]string{"clusters/alpha.yaml": approved})
	b.calls.reset()
	b.cycle(rev2)
	var st reconcile.ClusterStatus
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st = b.run.status(t).cluster("alpha")
		if st.Reason == "DrainingForUpdate" || time.Now().After(deadline) {
			break
		}
	}
	if st.Condition != reconcile.Reconciling || st.Reason != "DrainingForUpdate" || !strings.Contains(st.Message, "waiting for 1 running jobs") {
		t.Fatalf("status while the job runs: %+v\nlogs:\n%s", st, b.logs)
	}
	if s, _ := b.sl.NodeState(ctx, node); !strings.Contains(s, "drain") {
		t.Errorf("node %s is %q while the change waits, want draining", node, s)
	}
	for _, c := range b.calls.all() {
		switch c.Input.(type) {
		case *cloudformation.UpdateStackInput, *autoscaling.UpdateAutoScalingGroupInput, *autoscaling.SetDesiredCapacityInput:
			t.Errorf("%s while the job runs", c.Operation)
		}
	}

	if err := b.sl.WaitJobsDone(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	b.calls.reset()
	b.cycle(rev2)
	b.run.settled(t, "alpha", rev2)
	group := render.GroupName("alpha", "compute")
	var order []string
	for _, c := range b.calls.all() {
		switch in := c.Input.(type) {
		case *autoscaling.UpdateAutoScalingGroupInput:
			if aws.ToString(in.AutoScalingGroupName) == group {
				order = append(order, fmt.Sprintf("%s %d/%d/%d", c.Operation, aws.ToInt32(in.MinSize), aws.ToInt32(in.MaxSize), aws.ToInt32(in.DesiredCapacity)))
			}
		case *cloudformation.UpdateStackInput:
			order = append(order, c.Operation)
		}
	}
	if got, want := strings.Join(order, ", "), "UpdateAutoScalingGroup 0/0/0, UpdateStack, UpdateAutoScalingGroup 1/4/1"; got != want {
		t.Errorf("calls after the job ended: %s, want %s", got, want)
	}
	if s, _ := b.sl.NodeState(ctx, node); strings.Contains(s, "drain") {
		t.Errorf("node %s is %q after the update, want resumed", node, s)
	}
}

func TestDrainTimeoutDefault(t *testing.T) {
	cfg, err := parseConfig("config.yaml", []byte("repo:\n  dir: /srv/clusters\naws:\n  region: us-east-1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Fleet.DrainTimeout != 2*time.Hour {
		t.Errorf("fleet.drainTimeout defaults to %s, want 2h", cfg.Fleet.DrainTimeout)
	}
}
