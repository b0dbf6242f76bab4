package source

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDirFetch(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"a.yaml":        "a",
		"eu/b.yaml":     "b",
		".git/config":   "[core]",
		".gitignore":    "*.tmp",
		"big.yaml":      strings.Repeat("x", 11),
		"deep/er/c.yml": "c",
	})
	if err := os.Symlink("a.yaml", filepath.Join(dir, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	d := NewDir(dir, testLog(t))
	d.MaxFileSize = 10
	snap := fetch(t, d)
	wantFiles(t, snap, map[string]string{"a.yaml": "a", "eu/b.yaml": "b", "deep/er/c.yml": "c"})
	if !strings.HasPrefix(snap.Revision, "dir:") || len(snap.Revision) != len("dir:")+16 {
		t.Errorf("revision %q is not dir:<16 hex>", snap.Revision)
	}
	var big *FileTooLargeError
	if !errors.As(snap.Skipped["big.yaml"], &big) {
		t.Errorf("big.yaml skipped with %v", snap.Skipped["big.yaml"])
	}
	var link *SymlinkError
	if !errors.As(snap.Skipped["link.yaml"], &link) {
		t.Errorf("link.yaml skipped with %v", snap.Skipped["link.yaml"])
	}

	if again := fetch(t, d); again.Revision != snap.Revision {
		t.Errorf("unchanged directory: revision %s, then %s", snap.Revision, again.Revision)
	}
	tests := []struct {
		name   string
		change func(t *testing.T)
	}{
		{"content", func(t *testing.T) { writeFiles(t, dir, map[string]string{"a.yaml": "A"}) }},
		{"new file", func(t *testing.T) { writeFiles(t, dir, map[string]string{"new.yaml": ""}) }},
		{"rename", func(t *testing.T) {
			if err := os.Rename(filepath.Join(dir, "new.yaml"), filepath.Join(dir, "new2.yaml")); err != nil {
				t.Fatal(err)
			}
		}},
		{"removal", func(t *testing.T) {
			if err := os.Remove(filepath.Join(dir, "eu/b.yaml")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	prev := snap.Revision
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.change(t)
			rev := fetch(t, d).Revision
			if rev == prev {
				t.Errorf("revision %s unchanged", rev)
			}
			prev = rev
		})
	}
}

func TestDirFetchMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := NewDir(missing, nil).Fetch(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "read directory "+missing+": ") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error = %v", err)
	}
}

func TestContentHashSeparatesNamesFromContents(t *testing.T) {
	a := contentHash(map[string][]byte{"ab": []byte("c")})
	b := contentHash(map[string][]byte{"a": []byte("bc")})
	if a == b {
		t.Error("moving bytes between name and content keeps the hash")
	}
}

// startWatch runs d.Watch until the test ends and returns once its watches
// are in place.
func startWatch(t *testing.T, d *Dir) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	d.watching = func() { close(ready) }
	changed := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() { done <- d.Watch(ctx, changed) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watch: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("watch ended early: %v", err)
	}
	return changed
}

// waitChange waits for a report; the bound only keeps a broken watcher from
// hanging the test.
func waitChange(t *testing.T, changed <-chan struct{}) {
	t.Helper()
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("no change reported")
	}
}

func TestDirWatch(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.yaml": "a", "eu/b.yaml": "b"})
	d := NewDir(dir, testLog(t))
	d.Debounce = time.Millisecond
	changed := startWatch(t, d)

	tests := []struct {
		name   string
		change func(t *testing.T)
	}{
		{"file in root", func(t *testing.T) { writeFiles(t, dir, map[string]string{"a.yaml": "A"}) }},
		{"file in sub-directory", func(t *testing.T) { writeFiles(t, dir, map[string]string{"eu/b.yaml": "B"}) }},
		{"new sub-directory", func(t *testing.T) { writeFiles(t, dir, map[string]string{"us/c.yaml": "c"}) }},
		{"file in the new sub-directory", func(t *testing.T) { writeFiles(t, dir, map[string]string{"us/c.yaml": "C"}) }},
		{"removal", func(t *testing.T) {
			if err := os.RemoveAll(filepath.Join(dir, "eu")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			drain(changed)
			tt.change(t)
			waitChange(t, changed)
		})
	}
}

func TestDirWatchCoalescesBursts(t *testing.T) {
	dir := t.TempDir()
	d := NewDir(dir, testLog(t))
	// A long quiet period: the burst below is certainly inside it.
	d.Debounce = 500 * time.Millisecond
	changed := startWatch(t, d)
	for i := range 20 {
		writeFiles(t, dir, map[string]string{"f.yaml": strings.Repeat("x", i)})
	}
	waitChange(t, changed)
	select {
	case <-changed:
		t.Error("a burst of writes was reported more than once")
	default:
	}
}

func drain(c <-chan struct{}) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}
