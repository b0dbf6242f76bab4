package slurm_test

import (
	"context"
	"strings"
	"testing"
	"time"

	slurmbed "github.com/driftless/driftless/internal/testbed/slurm"
	"github.com/driftless/driftless/pkg/scale"
	"github.com/driftless/driftless/pkg/scale/remote"
	"github.com/driftless/driftless/pkg/scale/slurm"
)

// TestRESTAgainstSlurmrestd reads a real slurmrestd (v0.0.38, JWT) and
// drains through scontrol, which 22.05's REST API cannot do.
func TestRESTAgainstSlurmrestd(t *testing.T) {
	sl := slurmbed.Start(t, slurmbed.Options{Nodes: 2, REST: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sl.StartNode(ctx, "n1", "i-0123456789abcdef0"); err != nil {
		t.Fatal(err)
	}
	rest := &slurm.REST{BaseURL: sl.RESTURL, Version: "v0.0.38", User: sl.RESTUser, Token: sl.RESTToken}
	s, err := slurm.New(&remote.Local{Env: sl.Env}, rest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sl.Submit(ctx, "-N", "2", "--wrap", "true"); err != nil {
		t.Fatal(err)
	}
	st, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]scale.Node{}
	for _, n := range st.Nodes {
		byName[n.Name] = n
	}
	if n := byName["n1"]; n.State != scale.Idle || n.InstanceID != "i-0123456789abcdef0" || n.Slots != 2 {
		t.Errorf("n1 = %+v", n)
	}
	if n := byName["n2"]; n.State != scale.Down {
		t.Errorf("n2 = %+v", n)
	}
	if len(st.Jobs) != 1 || !st.Jobs[0].Pending || st.Jobs[0].Nodes != 2 || !st.Jobs[0].Eligible {
		t.Errorf("jobs = %+v", st.Jobs)
	}

	if err := s.Drain(ctx, "n1", scale.DrainReasonPrefix+" test"); err != nil {
		t.Fatal(err)
	}
	if st, err = s.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.Name == "n1" && (n.State != scale.Drained || !strings.HasPrefix(n.Reason, scale.DrainReasonPrefix)) {
			t.Errorf("after drain n1 = %+v", n)
		}
	}

	bad := &slurm.REST{BaseURL: sl.RESTURL, Version: "v0.0.38", User: sl.RESTUser, Token: "not-a-token"}
	if _, err := bad.Snapshot(ctx); err == nil {
		t.Error("a bad token was accepted")
	}
}
