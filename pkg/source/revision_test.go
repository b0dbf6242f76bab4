package source_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/driftless/driftless/pkg/source"
)

func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org", "GIT_CONFIG_GLOBAL=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func TestReadRevision(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	gitIn(t, dir, "init", "-q", "-b", "main")
	write := func(name, text string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("clusters/a.yaml", "one\n")
	write("README.md", "repo\n")
	gitIn(t, dir, "add", ".")
	gitIn(t, dir, "commit", "-q", "-m", "one")
	write("clusters/a.yaml", "two\n")
	write("clusters/b.yaml", "new\n")
	gitIn(t, dir, "add", ".")
	gitIn(t, dir, "commit", "-q", "-m", "two")
	// The work tree holds an uncommitted edit: revisions never see it.
	write("clusters/a.yaml", "dirty\n")

	tests := []struct {
		rev  string
		want map[string]string
	}{
		{"HEAD~1", map[string]string{"a.yaml": "one\n"}},
		{"main", map[string]string{"a.yaml": "two\n", "b.yaml": "new\n"}},
		{"HEAD", map[string]string{"a.yaml": "two\n", "b.yaml": "new\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.rev, func(t *testing.T) {
			snap, err := source.ReadRevision(filepath.Join(dir, "clusters"), tt.rev, "clusters", nil)
			if err != nil {
				t.Fatal(err)
			}
			if snap.Dir != "clusters" || len(snap.Revision) != 40 || len(snap.Files) != len(tt.want) {
				t.Fatalf("snapshot %q %q with %d files", snap.Revision, snap.Dir, len(snap.Files))
			}
			for f, text := range tt.want {
				if string(snap.Files[f]) != text {
					t.Errorf("%s = %q, want %q", f, snap.Files[f], text)
				}
			}
		})
	}
	if _, err := source.ReadRevision(dir, "no-such-branch", "", nil); err == nil {
		t.Error("an unknown revision read without error")
	}
	if _, err := source.ReadRevision(dir, "HEAD", "../up", nil); err == nil {
		t.Error("a path leaving the repository read without error")
	}
}
