package source

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/driftless/driftless/internal/testbed/gitserver"
)

// testLog logs to the test's output at Debug, so a failing test shows what
// the source did.
func testLog(t *testing.T) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// slogTo logs everything to w, for tests that look for what was (or was
// not) logged.
func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func newGit(t *testing.T, cfg GitConfig) *Git {
	t.Helper()
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(t.TempDir(), "cache")
	}
	g, err := NewGit(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func fetch(t *testing.T, s Source) Snapshot {
	t.Helper()
	snap, err := s.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func wantFiles(t *testing.T, snap Snapshot, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for k, v := range snap.Files {
		got[k] = string(v)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("files at %s = %v, want %v", snap.Revision, got, want)
	}
}

func TestGitFetchTransports(t *testing.T) {
	root := t.TempDir()
	srv := gitserver.Start(t, root)
	repo := gitserver.NewRepo(t, root, "clusters")
	first := repo.Commit(t, "first", map[string]string{
		"alpha.yaml":      "name: alpha\n",
		"team/beta.yaml":  "name: beta\n",
		".gitignore":      "*.tmp\n",
		".github/ci.yaml": "on: push\n",
	})

	tests := []struct {
		name string
		url  string
	}{
		{"file url", repo.FileURL()},
		{"plain path", repo.Bare},
		{"smart http", srv.URL("clusters")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGit(t, GitConfig{URL: tt.url})
			snap := fetch(t, g)
			if snap.Revision != first {
				t.Errorf("revision = %s, want %s", snap.Revision, first)
			}
			wantFiles(t, snap, map[string]string{
				"alpha.yaml":     "name: alpha\n",
				"team/beta.yaml": "name: beta\n",
			})
		})
	}
}

func TestGitRelativeLocalPath(t *testing.T) {
	root := t.TempDir()
	repo := gitserver.NewRepo(t, root, "clusters")
	rev := repo.Commit(t, "first", map[string]string{"a.yaml": "a"})
	t.Chdir(root)
	g := newGit(t, GitConfig{URL: "./clusters.git"})
	if snap := fetch(t, g); snap.Revision != rev {
		t.Errorf("revision = %s, want %s", snap.Revision, rev)
	}
}

func TestGitBranchAndPath(t *testing.T) {
	root := t.TempDir()
	srv := gitserver.Start(t, root)
	repo := gitserver.NewRepo(t, root, "infra")
	repo.Commit(t, "main", map[string]string{"clusters/a.yaml": "on main"})
	repo.Checkout(t, "prod")
	prod := repo.Commit(t, "prod", map[string]string{
		"clusters/a.yaml":         "on prod",
		"clusters/eu/b.yaml":      "b",
		"clusters-old/gone.yaml":  "x",
		"README.md":               "hello",
		"clusters/.gitattributes": "* text",
	})

	for _, p := range []string{"clusters", "/clusters/", "./clusters"} {
		t.Run(p, func(t *testing.T) {
			g := newGit(t, GitConfig{URL: srv.URL("infra"), Branch: "prod", Path: p})
			snap := fetch(t, g)
			if snap.Revision != prod {
				t.Errorf("revision = %s, want %s", snap.Revision, prod)
			}
			wantFiles(t, snap, map[string]string{"a.yaml": "on prod", "eu/b.yaml": "b"})
		})
	}
}

func TestGitNewCommitShowsUp(t *testing.T) {
	root := t.TempDir()
	srv := gitserver.Start(t, root)
	repo := gitserver.NewRepo(t, root, "clusters")
	repo.Commit(t, "first", map[string]string{"a.yaml": "1", "b.yaml": "1"})
	g := newGit(t, GitConfig{URL: srv.URL("clusters")})
	fetch(t, g)

	second := repo.Commit(t, "second", map[string]string{"a.yaml": "2", "c/d.yaml": "new"}, "b.yaml")
	snap := fetch(t, g)
	if snap.Revision != second {
		t.Errorf("revision = %s, want %s", snap.Revision, second)
	}
	wantFiles(t, snap, map[string]string{"a.yaml": "2", "c/d.yaml": "new"})

	// A force-push back to an older commit (a rollback) is followed too,
	// although the cache already holds every object of it.
	repo.Git(t, "reset", "--hard", "HEAD~1")
	repo.Push(t)
	snap = fetch(t, g)
	if snap.Revision == second {
		t.Errorf("revision still %s after a force-push to the previous commit", second)
	}
	wantFiles(t, snap, map[string]string{"a.yaml": "1", "b.yaml": "1"})
}

func TestGitUnchangedRemoteFetchesNothing(t *testing.T) {
	root := t.TempDir()
	srv := gitserver.Start(t, root)
	repo := gitserver.NewRepo(t, root, "clusters")
	rev := repo.Commit(t, "first", map[string]string{"a.yaml": "1"})
	cache := filepath.Join(t.TempDir(), "cache")
	g := newGit(t, GitConfig{URL: srv.URL("clusters"), CacheDir: cache})
	first := fetch(t, g)
	if srv.UploadPacks() != 1 {
		t.Fatalf("first fetch made %d pack requests, want 1", srv.UploadPacks())
	}

	for i := range 3 {
		lists, packs := srv.RefLists(), srv.UploadPacks()
		snap := fetch(t, g)
		if snap.Revision != rev || !reflect.DeepEqual(snap.Files, first.Files) {
			t.Fatalf("fetch %d: snapshot changed: %+v", i, snap)
		}
		if got := srv.UploadPacks() - packs; got != 0 {
			t.Errorf("fetch %d of an unchanged remote made %d pack requests, want 0", i, got)
		}
		if got := srv.RefLists() - lists; got != 1 {
			t.Errorf("fetch %d of an unchanged remote listed refs %d times, want 1", i, got)
		}
	}

	// A restarted daemon reuses its cache: still no objects transferred.
	packs := srv.UploadPacks()
	fetch(t, newGit(t, GitConfig{URL: srv.URL("clusters"), CacheDir: cache}))
	if got := srv.UploadPacks() - packs; got != 0 {
		t.Errorf("fetch after restart made %d pack requests, want 0", got)
	}
}

func TestGitSnapshotIsACopy(t *testing.T) {
	repo := gitserver.NewRepo(t, t.TempDir(), "clusters")
	repo.Commit(t, "first", map[string]string{"a.yaml": "1"})
	g := newGit(t, GitConfig{URL: repo.Bare})
	snap := fetch(t, g)
	delete(snap.Files, "a.yaml")
	wantFiles(t, fetch(t, g), map[string]string{"a.yaml": "1"})
}

func TestGitErrors(t *testing.T) {
	root := t.TempDir()
	srv := gitserver.Start(t, root)
	repo := gitserver.NewRepo(t, root, "clusters")
	repo.Commit(t, "first", map[string]string{"clusters/a.yaml": "1"})
	gitserver.NewRepo(t, root, "empty")

	tests := []struct {
		name   string
		cfg    GitConfig
		prefix string
		is     error
		text   string
	}{
		{
			name:   "unreachable",
			cfg:    GitConfig{URL: "http://127.0.0.1:1/x.git"},
			prefix: "fetch http://127.0.0.1:1/x.git: ",
			text:   "connection refused",
		},
		{
			name:   "no such repository",
			cfg:    GitConfig{URL: srv.URL("nope")},
			prefix: "fetch " + srv.URL("nope") + ": ",
		},
		{
			name:   "missing local path",
			cfg:    GitConfig{URL: filepath.Join(root, "nope.git")},
			prefix: "fetch " + filepath.Join(root, "nope.git") + ": ",
		},
		{
			name:   "missing branch",
			cfg:    GitConfig{URL: srv.URL("clusters"), Branch: "nope"},
			prefix: "fetch " + srv.URL("clusters") + ": ",
			is:     ErrBranchNotFound,
			text:   `"nope"`,
		},
		{
			name:   "empty repository",
			cfg:    GitConfig{URL: srv.URL("empty")},
			prefix: "fetch " + srv.URL("empty") + ": ",
			is:     ErrBranchNotFound,
		},
		{
			name:   "missing path",
			cfg:    GitConfig{URL: srv.URL("clusters"), Path: "specs"},
			prefix: "fetch " + srv.URL("clusters") + ": ",
			is:     ErrPathNotFound,
			text:   `"specs"`,
		},
		{
			name:   "password kept out of the message",
			cfg:    GitConfig{URL: "http://user:hunter2@127.0.0.1:1/x.git"},
			prefix: "fetch http://user:xxxxx@127.0.0.1:1/x.git: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGit(t, tt.cfg)
			_, err := g.Fetch(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tt.prefix) || strings.Count(msg, "fetch ") != 1 {
				t.Errorf("error %q does not start with %q exactly once", msg, tt.prefix)
			}
			t.Log(msg)
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", msg, tt.is)
			}
			if !strings.Contains(msg, tt.text) {
				t.Errorf("error %q does not mention %q", msg, tt.text)
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("error %q leaks the password", msg)
			}
		})
	}
}

func TestNewGitRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  GitConfig
	}{
		{"no url", GitConfig{CacheDir: "/tmp/x"}},
		{"no cache", GitConfig{URL: "/tmp/x"}},
		{"bad branch", GitConfig{URL: "/tmp/x", CacheDir: "/tmp/c", Branch: "a b"}},
		{"path escapes", GitConfig{URL: "/tmp/x", CacheDir: "/tmp/c", Path: "../etc"}},
		{"bad scheme", GitConfig{URL: "ftp://host/x", CacheDir: "/tmp/c"}},
		{"negative limit", GitConfig{URL: "/tmp/x", CacheDir: "/tmp/c", MaxFileSize: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewGit(tt.cfg, nil); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestGitSkipsLargeFilesAndSymlinks(t *testing.T) {
	repo := gitserver.NewRepo(t, t.TempDir(), "clusters")
	if err := os.Symlink("a.yaml", filepath.Join(repo.Work, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	repo.Commit(t, "first", map[string]string{
		"a.yaml":   "small",
		"big.yaml": strings.Repeat("x", 101),
		"ok.yaml":  strings.Repeat("x", 100),
	})
	g := newGit(t, GitConfig{URL: repo.Bare, MaxFileSize: 100})
	snap := fetch(t, g)
	wantFiles(t, snap, map[string]string{"a.yaml": "small", "ok.yaml": strings.Repeat("x", 100)})
	var big *FileTooLargeError
	if !errors.As(snap.Skipped["big.yaml"], &big) || big.Size != 101 || big.Limit != 100 {
		t.Errorf("big.yaml skipped with %v, want a FileTooLargeError", snap.Skipped["big.yaml"])
	}
	var link *SymlinkError
	if !errors.As(snap.Skipped["link.yaml"], &link) {
		t.Errorf("link.yaml skipped with %v, want a SymlinkError", snap.Skipped["link.yaml"])
	}
	if len(snap.Skipped) != 2 {
		t.Errorf("skipped %v, want big.yaml and link.yaml", snap.Skipped)
	}
}

func TestGitCache(t *testing.T) {
	root := t.TempDir()
	one := gitserver.NewRepo(t, root, "one")
	revOne := one.Commit(t, "one", map[string]string{"one.yaml": "1"})
	two := gitserver.NewRepo(t, root, "two")
	revTwo := two.Commit(t, "two", map[string]string{"two.yaml": "2"})

	t.Run("another url is cloned afresh", func(t *testing.T) {
		cache := filepath.Join(t.TempDir(), "cache")
		if got := fetch(t, newGit(t, GitConfig{URL: one.Bare, CacheDir: cache})); got.Revision != revOne {
			t.Fatalf("revision = %s, want %s", got.Revision, revOne)
		}
		snap := fetch(t, newGit(t, GitConfig{URL: two.Bare, CacheDir: cache}))
		if snap.Revision != revTwo {
			t.Errorf("revision = %s, want %s", snap.Revision, revTwo)
		}
		wantFiles(t, snap, map[string]string{"two.yaml": "2"})
	})

	t.Run("foreign directory is left alone", func(t *testing.T) {
		cache := t.TempDir()
		precious := filepath.Join(cache, "precious.txt")
		if err := os.WriteFile(precious, []byte("keep"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := newGit(t, GitConfig{URL: one.Bare, CacheDir: cache}).Fetch(context.Background()); err == nil {
			t.Fatal("fetch into a non-empty foreign directory succeeded")
		}
		if _, err := os.Stat(precious); err != nil {
			t.Errorf("foreign file touched: %v", err)
		}
	})

	t.Run("foreign repository is left alone", func(t *testing.T) {
		if _, err := newGit(t, GitConfig{URL: one.Bare, CacheDir: two.Work}).Fetch(context.Background()); err == nil {
			t.Fatal("fetch into a work tree succeeded")
		}
		if _, err := os.Stat(filepath.Join(two.Work, "two.yaml")); err != nil {
			t.Errorf("work tree touched: %v", err)
		}
	})
}
