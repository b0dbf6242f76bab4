package gitserver

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestServeCloneAndCount(t *testing.T) {
	root := t.TempDir()
	srv := Start(t, root)
	repo := NewRepo(t, root, "clusters")
	want := repo.Commit(t, "first", map[string]string{"a/b.yaml": "x: 1\n"})

	dst := filepath.Join(t.TempDir(), "clone")
	out, err := exec.Command("git", "clone", "--quiet", srv.URL("clusters"), dst).CombinedOutput()
	if err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	got, err := exec.Command("git", "-C", dst, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(got)) != want {
		t.Errorf("cloned HEAD = %s, want %s", got, want)
	}
	// git speaks protocol v2, which lists refs with a POST too: count at
	// least one of each.
	if srv.RefLists() < 1 || srv.UploadPacks() < 1 || srv.Requests() != srv.RefLists()+srv.UploadPacks() {
		t.Errorf("requests %d, ref lists %d, upload packs %d", srv.Requests(), srv.RefLists(), srv.UploadPacks())
	}
}

func TestBasicAuthRefusesStrangers(t *testing.T) {
	root := t.TempDir()
	srv := Start(t, root, WithBasicAuth("ci", "s3cret"))
	repo := NewRepo(t, root, "private")
	repo.Commit(t, "first", map[string]string{"a": "1"})

	cmd := exec.Command("git", "ls-remote", srv.URL("private"))
	cmd.Env = append(cmd.Environ(), "GIT_TERMINAL_PROMPT=0")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("ls-remote without credentials succeeded:\n%s", out)
	}
	u := strings.Replace(srv.URL("private"), "http://", "http://ci:s3cret@", 1)
	if out, err := exec.Command("git", "ls-remote", u).CombinedOutput(); err != nil {
		t.Fatalf("ls-remote with credentials: %v\n%s", err, out)
	}
}

func TestCheckoutBranch(t *testing.T) {
	repo := NewRepo(t, t.TempDir(), "r")
	main := repo.Commit(t, "on main", map[string]string{"f": "main"})
	repo.Checkout(t, "prod")
	prod := repo.Commit(t, "on prod", map[string]string{"f": "prod"})
	if got := repo.Branch(t); got != "prod" {
		t.Fatalf("branch = %s", got)
	}
	heads := repo.Git(t, "ls-remote", repo.Bare)
	for _, want := range []string{main + "\trefs/heads/main", prod + "\trefs/heads/prod"} {
		if !strings.Contains(heads, want) {
			t.Errorf("bare repo heads %q lack %q", heads, want)
		}
	}
}
