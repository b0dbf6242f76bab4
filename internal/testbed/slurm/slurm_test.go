package slurm

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestClusterRunsAJob(t *testing.T) {
	c := Start(t, Options{Nodes: 2})
	ctx := context.Background()
	if st, err := c.NodeState(ctx, "n1"); err != nil || !strings.HasPrefix(st, "down") {
		t.Fatalf("n1 before boot: %q %v", st, err)
	}
	if err := c.StartNode(ctx, "n1", "i-0123456789abcdef0"); err != nil {
		t.Fatal(err)
	}
	id, err := c.Submit(ctx, "-N", "1", "--wrap", "true")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitJobsDone(ctx, 60*time.Second); err != nil {
		t.Fatalf("job %s: %v", id, err)
	}
	if err := c.StopNode(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if c.Running("n1") {
		t.Fatal("slurmd still running")
	}
}
