package slurm_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	slurmbed "github.com/driftless/driftless/internal/testbed/slurm"
	"github.com/driftless/driftless/internal/testbed/sshserver"
	"github.com/driftless/driftless/pkg/scale"
	"github.com/driftless/driftless/pkg/scale/remote"
	"github.com/driftless/driftless/pkg/scale/slurm"
)

// TestSlurmOverSSH reaches the real Slurm the way a daemon reaches a
// remote head node: through a real sshd on 127.0.0.1, host key checked.
func TestSlurmOverSSH(t *testing.T) {
	sl := slurmbed.Start(t, slurmbed.Options{Nodes: 1})
	srv := sshserver.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sl.StartNode(ctx, "n1", "i-0123456789abcdef0"); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(srv.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	r, err := remote.NewSSH(remote.SSHConfig{
		Addr: srv.Host + ":" + strconv.Itoa(srv.Port), User: srv.User, Key: key,
		KnownHosts: srv.KnownHostsFile, Env: append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, sl.Env...),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := slurm.New(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	reason := scale.DrainReasonPrefix + " idle since 12:00 (over ssh)"
	if err := s.Drain(ctx, "n1", reason); err != nil {
		t.Fatal(err)
	}
	st, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 1 || st.Nodes[0].State != scale.Drained || st.Nodes[0].Reason != reason {
		t.Fatalf("nodes = %+v", st.Nodes)
	}
	if err := s.Resume(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	// slurmctld may flag the node NOT_RESPONDING for a moment on a loaded
	// machine; it settles to idle.
	for i := 0; ; i++ {
		if st, err = s.Snapshot(ctx); err != nil {
			t.Fatal(err)
		}
		if st.Nodes[0].State == scale.Idle && st.Nodes[0].Reason == "" {
			break
		}
		if i == 50 {
			t.Fatalf("after resume: %+v", st.Nodes)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
