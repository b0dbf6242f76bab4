package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/driftless/driftless/pkg/diff"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata file name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/reconciler -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// canonicalJSON re-indents a JSON document so a golden file compares by
// meaning, not by the encoder's spacing.
func canonicalJSON(t *testing.T, doc []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, doc)
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

// TestPlanGolden runs offline plans between pairs of spec directories
// under testdata/plan and compares the exact text and JSON: every update
// policy class (in place, fleet stop, replace, not allowed), create,
// delete, an invalid spec, approvals, and no change at all.
func TestPlanGolden(t *testing.T) {
	tests := []struct {
		name string
		exit int
	}{
		{"policies", 2},
		{"approved", 2},
		{"unchanged", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join("testdata", "plan", tt.name)
			args := []string{"plan", "--offline", "--prune", "--color", "never",
				"--base", filepath.Join(dir, "base"), "--head", filepath.Join(dir, "head")}
			for _, format := range []string{"text", "json"} {
				var stdout, stderr bytes.Buffer
				err := run(t.Context(), append(args, "--output", format), &stdout, &stderr)
				if code := exitCode(err, &stderr); code != tt.exit {
					t.Fatalf("%s: exit %d, want %d\n%s%s", format, code, tt.exit, stdout.String(), stderr.String())
				}
				out := stdout.Bytes()
				// Directory revisions are content hashes; keep the goldens
				// about the plan.
				out = bytes.ReplaceAll(out, []byte(dirRevision(t, filepath.Join(dir, "base"))), []byte("BASE"))
				out = bytes.ReplaceAll(out, []byte(dirRevision(t, filepath.Join(dir, "head"))), []byte("HEAD"))
				if format == "json" {
					golden(t, filepath.Join("plan", tt.name, "plan.json"), canonicalJSON(t, out))
				} else {
					golden(t, filepath.Join("plan", tt.name, "plan.txt"), out)
				}
			}
		})
	}
}

// dirRevision is the revision an offline plan gives a directory.
func dirRevision(t *testing.T, dir string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"plan", "--offline", "--output", "json", "--base", dir, "--head", dir}, &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 0 {
		t.Fatalf("plan of %s against itself: exit %d: %s", dir, code, stderr.String())
	}
	var p struct{ Revision string }
	if err := json.Unmarshal(stdout.Bytes(), &p); err != nil || p.Revision == "" {
		t.Fatalf("no revision: %v", err)
	}
	return p.Revision
}

// TestPlanColour: colour only on a terminal, or when asked for.
func TestPlanColour(t *testing.T) {
	dir := filepath.Join("testdata", "plan", "policies")
	args := []string{"plan", "--offline", "--base", filepath.Join(dir, "base"), "--head", filepath.Join(dir, "head")}
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm")
	var out, errOut bytes.Buffer
	_ = run(t.Context(), args, &out, &errOut)
	if strings.Contains(out.String(), "\x1b[") {
		t.Error("colour written to a buffer with --color auto")
	}
	out.Reset()
	_ = run(t.Context(), append(args, "--color", "always"), &out, &errOut)
	if !strings.Contains(out.String(), "\x1b[33m~\x1b[0m") {
		t.Errorf("no colour with --color always:\n%s", out.String())
	}

	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal to test auto colour on: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if on, _ := planColor("auto", tty); !on {
		t.Error("auto colour is off on a terminal")
	}
	t.Setenv("NO_COLOR", "1")
	if on, _ := planColor("auto", tty); on {
		t.Error("auto colour is on with NO_COLOR set")
	}
}

// TestPlanOfflineRevisions compares two commits of a git work tree, as a
// pull request check does.
func TestPlanOfflineRevisions(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	copyDir := func(from string) {
		t.Helper()
		if err := os.RemoveAll(filepath.Join(repo, "clusters")); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(filepath.Join(repo, "clusters"), os.DirFS(from)); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q", "-b", "main")
	copyDir(filepath.Join("testdata", "plan", "policies", "base"))
	git("add", "-A")
	git("commit", "-q", "-m", "base")
	copyDir(filepath.Join("testdata", "plan", "policies", "head"))
	git("add", "-A")
	git("commit", "-q", "-m", "head")

	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"plan", "--offline", "--repo", repo, "--path", "clusters",
		"--base", "HEAD~1", "--head", "main", "--output", "json"}, &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 2 {
		t.Fatalf("exit %d, want 2: %s", code, stderr.String())
	}
	var p planJSON
	if err := json.Unmarshal(stdout.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Base) != 40 || len(p.Revision) != 40 || p.Base == p.Revision {
		t.Errorf("revisions %q → %q, want two commit ids", p.Base, p.Revision)
	}
	actions := map[string]string{}
	for _, c := range p.Changes {
		actions[c.Cluster] = c.Action
	}
	// Without --prune the removed spec is retained, as a daemon with
	// pruning off would.
	want := map[string]string{"inplace": "update", "fleet": "hold", "headnode": "hold", "volume": "hold", "region": "hold",
		"created": "create", "removed": "retain", "same": "none", "broken": "skip"}
	for c, a := range want {
		if actions[c] != a {
			t.Errorf("%s: action %q, want %q", c, actions[c], a)
		}
	}
	if _, ok := p.Invalid["clusters/broken.yaml"]; !ok {
		t.Errorf("the broken spec is not reported by its path in the repo: %v", p.Invalid)
	}
}

// TestPlanFlags: bad flags are errors (exit 1), never "changes" (exit 2).
func TestPlanFlags(t *testing.T) {
	for _, args := range [][]string{
		{"plan", "--offline"},
		{"plan", "--base", "HEAD~1"},
		{"plan", "--output", "yaml", "--offline", "--base", "x"},
		{"plan", "--color", "sometimes", "--offline", "--base", "x"},
		{"plan", "--no-such-flag"},
		{"plan", "--offline", "--base", "no-such-revision", "--repo", t.TempDir()},
	} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), args, &stdout, &stderr)
		if code := exitCode(err, &stderr); code != 1 {
			t.Errorf("%v: exit %d, want 1", args, code)
		}
	}
}

// TestPlanDriftGolden prints a plan with drift, as an online plan finds
// it: the specs of testdata/plan/unchanged stand for both the repo and the
// last apply, and the live state is edited the way a person in the console
// would.
func TestPlanDriftGolden(t *testing.T) {
	dir := filepath.Join("testdata", "plan", "unchanged", "head")
	side, err := loadSide(t.Context(), offlineOptions{}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(side.stacks) != 2 {
		t.Fatalf("%d stacks, want inplace and same", len(side.stacks))
	}
	var lives []diff.Live
	for _, st := range side.stacks {
		l := liveFromRevision(st, "r1")
		l.Template = nil // in sync: not read
		l.StackID = "arn:aws:cloudformation:us-east-1:123456789012:stack/" + st.Name + "/1"
		switch st.Cluster {
		case "inplace":
			l.Groups[0].Max = 9
			l.HeadNode = &diff.Instance{ID: "i-0123456789abcdef0", State: "stopped"}
		case "same":
			l.Status, l.StatusReason = "DELETE_COMPLETE", "deleted at 2026-01-02T03:04:05Z"
		}
		lives = append(lives, l)
	}
	rep := planReport{Mode: "online", Revision: "0123456789abcdef0123456789abcdef01234567",
		Changes: diff.Plan(diff.Input{Desired: side.stacks, Live: lives})}
	var text, js bytes.Buffer
	writePlanText(&text, rep, false)
	if err := writePlanJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("plan", "drift.txt"), text.Bytes())
	golden(t, filepath.Join("plan", "drift.json"), canonicalJSON(t, js.Bytes()))
	if !planHasChanges(rep.Changes) {
		t.Error("drift does not count as a change")
	}
}
