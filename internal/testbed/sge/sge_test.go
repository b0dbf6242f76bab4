package sge

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestCellRunsAJob(t *testing.T) {
	c := Start(t)
	ctx := context.Background()
	if err := c.SetInstance(ctx, "i-0123456789abcdef0"); err != nil {
		t.Fatal(err)
	}
	out, err := c.Run(ctx, nil, "qhost", "-F", "instance_id")
	if err != nil || !strings.Contains(string(out), "i-0123456789abcdef0") {
		t.Fatalf("qhost: %s %v", out, err)
	}
	if _, err := c.Submit(ctx, "true"); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitJobsDone(ctx, 60*time.Second); err != nil {
		t.Fatal(err)
	}
}
