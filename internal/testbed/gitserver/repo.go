package gitserver

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Repo is a bare repo plus a scratch work tree to commit from, using the git
// CLI. Commits are pushed to the bare repository by file path.
type Repo struct {
	// Name is the repository's name under the root, without ".git".
	Name string
	// Bare is the absolute path of the bare repository: a plain local path
	// any git client can fetch from, and what a Server serves.
	Bare string
	// Work is the scratch work tree commits are made in.
	Work string
}

// NewRepo makes root/name.git, a bare repository whose default branch is
// main, and a scratch work tree on branch main that pushes to it. It skips
// the test when git is not installed.
func NewRepo(t testing.TB, root, name string) *Repo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("git is not installed: %v", err)
	}
	root, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	name = strings.TrimSuffix(name, ".git")
	r := &Repo{Name: name, Bare: filepath.Join(root, name+".git"), Work: t.TempDir()}
	run(t, root, "init", "--quiet", "--bare", "--initial-branch=main", r.Bare)
	run(t, r.Work, "init", "--quiet", "--initial-branch=main")
	r.Git(t, "config", "user.name", "Driftless Test")
	r.Git(t, "config", "user.email", "test@driftless.invalid")
	r.Git(t, "config", "commit.gpgsign", "false")
	r.Git(t, "remote", "add", "origin", r.Bare)
	return r
}

// FileURL returns the file:// URL of the bare repository.
func (r *Repo) FileURL() string {
	return "file://" + filepath.ToSlash(r.Bare)
}

// Commit writes files (slash paths relative to the work tree, created with
// their directories), removes the paths in remove, commits everything on the
// current branch, pushes it to the bare repository and returns the commit
// hash. A commit with no changes is made anyway, so every call moves the
// branch.
func (r *Repo) Commit(t testing.TB, msg string, files map[string]string, remove ...string) string {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(r.Work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range remove {
		if err := os.RemoveAll(filepath.Join(r.Work, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	r.Git(t, "add", "--all")
	r.Git(t, "commit", "--quiet", "--allow-empty", "-m", msg)
	r.Push(t)
	return r.Head(t)
}

// Push pushes the current branch to the bare repository, forcing, so that a
// test can rewrite history with Git and publish it.
func (r *Repo) Push(t testing.TB) {
	t.Helper()
	r.Git(t, "push", "--quiet", "--force", "origin", "HEAD:refs/heads/"+r.Branch(t))
}

// Head returns the hash of the work tree's HEAD commit.
func (r *Repo) Head(t testing.TB) string {
	t.Helper()
	return r.Git(t, "rev-parse", "HEAD")
}

// Branch returns the work tree's current branch.
func (r *Repo) Branch(t testing.TB) string {
	t.Helper()
	return r.Git(t, "rev-parse", "--abbrev-ref", "HEAD")
}

// Checkout switches the work tree to branch, creating it from the current
// commit when it does not exist. The next Commit pushes to it.
func (r *Repo) Checkout(t testing.TB, branch string) {
	t.Helper()
	if _, err := r.git("rev-parse", "--verify", "--quiet", "refs/heads/"+branch); err == nil {
		r.Git(t, "checkout", "--quiet", branch)
		return
	}
	r.Git(t, "checkout", "--quiet", "-b", branch)
}

// Git runs git with args in the work tree and returns its trimmed output,
// failing the test on error.
func (r *Repo) Git(t testing.TB, args ...string) string {
	t.Helper()
	out, err := r.git(args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (r *Repo) git(args ...string) (string, error) {
	return gitOutput(r.Work, args...)
}

func run(t testing.TB, dir string, args ...string) {
	t.Helper()
	if out, err := gitOutput(dir, args...); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// gitOutput runs git isolated from the user's and the system's
// configuration, so that a developer's signing or hook settings cannot leak
// into a test.
func gitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
	)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
