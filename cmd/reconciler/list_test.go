package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/driftless/driftless/pkg/inventory"
)

// goldenInventory has a cluster in each state people meet.
func goldenInventory() *inventory.Inventory {
	idle := 2
	launched := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	head := inventory.Instance{ID: "i-0aaa", Role: inventory.RoleHead, State: "running", Type: "t3.medium",
		PublicIP: "203.0.113.10", PrivateIP: "10.0.1.10", LaunchTime: launched}
	node := inventory.Instance{ID: "i-0bbb", Role: inventory.RoleCompute, Queue: "compute", Group: "driftless-alpha-compute",
		State: "running", Type: "c5.large", PrivateIP: "10.0.1.20", LaunchTime: launched.Add(time.Minute), Node: "compute-1", SchedulerState: "idle"}
	return &inventory.Inventory{
		Revision: "0123456789abcdef0123", Source: "computed",
		Invalid: map[string][]string{"clusters/gamma.yaml": {"clusters/gamma.yaml:14:5: compute[0].maxNode: unknown field"}},
		Clusters: []inventory.Cluster{
			{Name: "alpha", File: "clusters/alpha.yaml", Scheduler: "slurm", Stack: "driftless-alpha", StackStatus: "UPDATE_COMPLETE",
				Sync: inventory.Synced, DeclaredRevision: "0123456789abcdef0123", AppliedRevision: "0123456789abcdef0123",
				Condition: "Ready", Reason: "InSync", Message: "stack matches the repo", LoginUser: "ec2-user",
				HeadNode: &head, Idle: &idle, Instances: []inventory.Instance{head, node},
				Fleet: []inventory.Group{{Name: "driftless-alpha-compute", Queue: "compute", Min: 1, Desired: 1, Max: 8, InService: 1}}},
			{Name: "beta", Scheduler: "sge", Stack: "driftless-beta", StackStatus: "UPDATE_ROLLBACK_FAILED",
				StackReason: "Resource handler returned message: throttled", Sync: inventory.Failed, AppliedRevision: "fedcba9876543210",
				Condition: "Blocked", Reason: "StackFailed", Message: "stack is UPDATE_ROLLBACK_FAILED; a person must resolve it",
				Drift: []string{"group driftless-beta-all has 0 of 1 nodes in service"}},
			{Name: "jobs", Scheduler: "awsbatch", Stack: "driftless-jobs", StackStatus: "CREATE_COMPLETE", Sync: inventory.OutOfSync,
				Condition: "Reconciling", Reason: "Pending", LoginUser: "ec2-user",
				Batch: &inventory.ComputeEnvironment{ARN: "arn:aws:batch:us-east-1:1:compute-environment/ce-1", Name: "ce-1", State: "ENABLED", Status: "VALID",
					MinVCPUs: 0, DesiredVCPUs: 4, MaxVCPUs: 64, JobQueue: "arn:aws:batch:us-east-1:1:job-queue/driftless-jobs"}},
			{Name: "new", File: "clusters/new.yaml", Scheduler: "slurm", Sync: inventory.NotCreated, Condition: "Reconciling", Reason: "Pending"},
		},
	}
}

func TestTerminalGolden(t *testing.T) {
	inv := goldenInventory()
	tests := []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"list.txt", func(b *bytes.Buffer) error { return writeList(b, inv, false) }},
		{"list-color.txt", func(b *bytes.Buffer) error { return writeList(b, inv, true) }},
		{"status.txt", func(b *bytes.Buffer) error {
			for i, c := range inv.Clusters {
				if i > 0 {
					b.WriteString("\n")
				}
				writeStatus(b, c, false)
			}
			return nil
		}},
		{"instances.txt", func(b *bytes.Buffer) error { return writeInstances(b, inv.Clusters[0].Instances, true, false) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.write(&buf); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "terminal", tt.name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs; got:\n%s", golden, buf.String())
			}
		})
	}
}
