package sshserver

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGitOverSSH proves the server with the OpenSSH client and git: the
// user key logs in, git-upload-pack runs, and the known_hosts file written
// for the client is the one the server presents.
func TestGitOverSSH(t *testing.T) {
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skipf("ssh client missing: %v", err)
	}
	s := Start(t)
	bare := filepath.Join(t.TempDir(), "r.git")
	if out, err := exec.Command("git", "init", "--quiet", "--bare", bare).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cmd := exec.Command("git", "ls-remote", s.URL(bare))
	cmd.Env = append(cmd.Environ(), "GIT_SSH_COMMAND=ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"+
		" -o UserKnownHostsFile="+s.KnownHostsFile+" -i "+s.ClientKeyFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git ls-remote over ssh: %v\n%s", err, out)
	}
	if strings.TrimSpace(string(out)) != "" {
		t.Errorf("empty repository listed refs: %s", out)
	}
}
