package fleet

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/driftless/driftless/pkg/batch"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/scale"
	"github.com/driftless/driftless/pkg/spec"
)

// rendered parses and renders a spec: the desired side of a change.
func rendered(t *testing.T, name, scheduler, extra string) *render.Stack {
	t.Helper()
	doc := fmt.Sprintf(`version: 1
name: %s
region: us-east-1
scheduler: %s
vpc: vpc-0123456789abcdef0
headNode:
  instanceType: t3.medium
  subnet: subnet-0123456789abcdef0
  sshFrom: 192.0.2.0/24
%s`, name, scheduler, extra)
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

const twoQueues = `compute:
  - name: cpu
    instanceType: c5.large
    maxNodes: 8
  - name: gpu
    instanceType: g4dn.xlarge
    maxNodes: 2
    disableHyperthreading: true
scaling:
  idleTime: 3m
`

// live is the observed side of a change for a rendered stack.
func live(st *render.Stack, status string, groups ...string) *diff.Live {
	l := &diff.Live{Cluster: st.Cluster, StackName: st.Name, Status: status,
		Outputs: map[string]string{OutputHeadNodePrivateIP: "10.0.0.5", OutputLoginUser: "ec2-user"}}
	for _, g := range groups {
		l.Groups = append(l.Groups, diff.LiveGroup{Name: g})
	}
	return l
}

func TestFromChanges(t *testing.T) {
	hpc := rendered(t, "hpc", "slurm", twoQueues)
	cpu, gpu := render.GroupName("hpc", "cpu"), render.GroupName("hpc", "gpu")
	grid := rendered(t, "grid", "sge", "compute:\n  - instanceType: c5.large\n    maxNodes: 3\nscaling:\n  scaleUp: false\n")
	jobs := rendered(t, "jobs", "awsbatch", "")
	quick := scale.DefaultConfig()
	quick.IdleTime = 3 * time.Minute
	hpcTarget := Target{Cluster: "hpc", Scheduler: "slurm", HeadNode: "10.0.0.5", LoginUser: "ec2-user", Queues: []Queue{
		{Queue: scale.Queue{Name: "cpu", Group: cpu, Config: quick}, InstanceType: "c5.large"},
		{Queue: scale.Queue{Name: "gpu", Group: gpu, Config: quick}, InstanceType: "g4dn.xlarge", OneThreadPerCore: true},
	}}
	noUp := scale.DefaultConfig()
	noUp.ScaleUp = false
	sgeWithSlurmLive := live(grid, "UPDATE_COMPLETE", render.GroupName("grid", "compute"))
	sgeWithSlurmLive.Template = rendered(t, "grid", "slurm", "compute:\n  - instanceType: c5.large\n    maxNodes: 3\n").Template
	batchLive := live(jobs, "CREATE_COMPLETE")
	batchLive.Outputs["BatchJobQueue"] = "arn:aws:batch:us-east-1:123456789012:job-queue/jobs"
	batchLive.Outputs["BatchComputeEnvironment"] = "arn:aws:batch:us-east-1:123456789012:compute-environment/jobs"

	tests := []struct {
		name    string
		changes []diff.Change
		prev    []Target
		want    []Target
	}{
		{
			name:    "a live cluster in sync: each declared queue with its group and the scaling policy",
			changes: []diff.Change{{Cluster: "hpc", Action: diff.None, Desired: hpc, Live: live(hpc, "CREATE_COMPLETE", cpu, gpu)}},
			want:    []Target{hpcTarget},
		},
		{
			name:    "a stack being created has no loop yet",
			changes: []diff.Change{{Cluster: "hpc", Action: diff.Create, Desired: hpc}},
		},
		{
			name:    "nor one still in CREATE_IN_PROGRESS",
			changes: []diff.Change{{Cluster: "hpc", Action: diff.Wait, Desired: hpc, Live: live(hpc, "CREATE_IN_PROGRESS", cpu, gpu)}},
		},
		{
			name:    "a stack being updated keeps its loop",
			changes: []diff.Change{{Cluster: "hpc", Action: diff.Wait, Desired: hpc, Live: live(hpc, "UPDATE_IN_PROGRESS", cpu, gpu)}},
			want:    []Target{hpcTarget},
		},
		{
			name:    "a stack deleted in this cycle stops its loop",
			changes: []diff.Change{{Cluster: "hpc", Action: diff.Delete, Live: live(hpc, "CREATE_COMPLETE", cpu, gpu)}},
			prev:    []Target{hpcTarget},
		},
		{
			name:    "a queue whose group is not live yet is left out",
			changes: []diff.Change{{Cluster: "hpc", Action: diff.Blocked, Desired: hpc, Live: live(hpc, "UPDATE_COMPLETE", cpu)}},
			want:    []Target{{Cluster: "hpc", Scheduler: "slurm", HeadNode: "10.0.0.5", LoginUser: "ec2-user", Queues: hpcTarget.Queues[:1]}},
		},
		{
			name:    "an invalid spec keeps the loop that runs",
			changes: []diff.Change{{Cluster: "hpc", Action: diff.Skip, Live: live(hpc, "UPDATE_COMPLETE", cpu, gpu)}},
			prev:    []Target{hpcTarget},
			want:    []Target{hpcTarget},
		},
		{
			name:    "and starts none",
			changes: []diff.Change{{Cluster: "hpc", Action: diff.Skip, Live: live(hpc, "UPDATE_COMPLETE", cpu, gpu)}},
		},
		{
			name:    "the deployed scheduler wins over a declared one not applied yet",
			changes: []diff.Change{{Cluster: "grid", Action: diff.Blocked, Desired: grid, Live: sgeWithSlurmLive}},
			want: []Target{{Cluster: "grid", Scheduler: "slurm", HeadNode: "10.0.0.5", LoginUser: "ec2-user", Queues: []Queue{
				{Queue: scale.Queue{Name: "compute", Group: render.GroupName("grid", "compute"), Config: noUp}, InstanceType: "c5.large"},
			}}},
		},
		{
			name:    "an awsbatch cluster is observed through its stack's Batch outputs",
			changes: []diff.Change{{Cluster: "jobs", Action: diff.None, Desired: jobs, Live: batchLive}},
			want: []Target{{Cluster: "jobs", Scheduler: "awsbatch", HeadNode: "10.0.0.5", LoginUser: "ec2-user", Batch: batchTarget("jobs",
				"arn:aws:batch:us-east-1:123456789012:job-queue/jobs", "arn:aws:batch:us-east-1:123456789012:compute-environment/jobs")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FromChanges(tt.changes, tt.prev)
			if !slices.EqualFunc(got, tt.want, Target.Equal) {
				t.Fatalf("targets\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func batchTarget(cluster, queue, env string) (t batch.Target) {
	t.Cluster, t.JobQueue, t.ComputeEnvironment = cluster, queue, env
	return t
}
