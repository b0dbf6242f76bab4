package source

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/testbed/gitserver"
)

func TestKeepTrusted(t *testing.T) {
	root := t.TempDir()
	srv := gitserver.Start(t, root)
	repo := gitserver.NewRepo(t, root, "clusters")
	trusted, other := newPGPKey(t, "trusted"), newPGPKey(t, "other")
	keys := filepath.Join(t.TempDir(), "trusted.asc")
	writePublicKeys(t, keys, trusted)
	clock := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var logs bytes.Buffer
	k := NewKeepTrusted(newGit(t, GitConfig{URL: srv.URL("clusters"), TrustedKeysFile: keys}), func() time.Time { return clock }, slogTo(&logs))

	// Nothing trusted yet: the refusal passes through, there is nothing
	// to keep.
	unsigned0 := repo.Commit(t, "unsigned first", map[string]string{"a.yaml": "0"})
	var ue *UntrustedError
	if _, err := k.Fetch(context.Background()); !errors.As(err, &ue) || ue.Revision != unsigned0 {
		t.Fatalf("first fetch of an unsigned head: %v, want an *UntrustedError for %s", err, unsigned0)
	}
	if r := k.Refused(); r == nil || r.Revision != unsigned0 {
		t.Fatalf("Refused() = %+v", r)
	}

	good := signedCommit(t, repo, trusted, map[string]string{"a.yaml": "1"})
	snap, err := k.Fetch(context.Background())
	if err != nil || snap.Revision != good || k.Refused() != nil || k.Revision() != good {
		t.Fatalf("trusted head: %s, %v, refused %+v", snap.Revision, err, k.Refused())
	}
	if !strings.Contains(logs.String(), "trusted again") {
		t.Errorf("the end of a refusal is not logged:\n%s", logs.String())
	}

	steps := []struct {
		name, reason string
		commit       func() string
	}{
		{"unsigned", "unsigned", func() string { return repo.Commit(t, "unsigned", map[string]string{"a.yaml": "2"}) }},
		{"foreign key", "signature does not verify", func() string {
			return signedCommit(t, repo, other, map[string]string{"a.yaml": "3"})
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			clock = clock.Add(time.Minute)
			refused, since := st.commit(), clock
			logs.Reset()
			for i := range 2 {
				snap, err := k.Fetch(context.Background())
				if err != nil {
					t.Fatalf("fetch %d: %v; want the last trusted snapshot", i, err)
				}
				if snap.Revision != good {
					t.Errorf("fetch %d: revision %s in force, want the trusted %s", i, snap.Revision, good)
				}
				wantFiles(t, snap, map[string]string{"a.yaml": "1"})
				r := k.Refused()
				if r == nil || r.Revision != refused || !strings.Contains(r.Reason, st.reason) || !r.Since.Equal(since) {
					t.Errorf("fetch %d: Refused() = %+v, want %s (%s) since %s", i, r, refused, st.reason, since)
				}
				clock = clock.Add(time.Second) // Since stays at the first refusal
			}
			if n := strings.Count(logs.String(), "branch head refused"); n != 1 {
				t.Errorf("refusal logged %d times over two fetches, want once:\n%s", n, logs.String())
			}
			if !strings.Contains(logs.String(), "in_force="+good) {
				t.Errorf("log does not say which revision stays in force:\n%s", logs.String())
			}
		})
	}

	// A reload builds a new wrapper; it keeps what the old one held.
	k2 := NewKeepTrusted(newGit(t, GitConfig{URL: srv.URL("clusters"), TrustedKeysFile: keys}), time.Now, nil)
	k2.Adopt(k)
	if snap, err := k2.Fetch(context.Background()); err != nil || snap.Revision != good || k2.Refused() == nil {
		t.Errorf("after Adopt: %s, %v, refused %+v", snap.Revision, err, k2.Refused())
	}

	// The snapshot in force is a copy: a caller's change does not leak
	// into the next fetch.
	snap, _ = k.Fetch(context.Background())
	snap.Files["a.yaml"] = []byte("changed")
	if snap, _ := k.Fetch(context.Background()); string(snap.Files["a.yaml"]) != "1" {
		t.Errorf("kept snapshot was modified through a returned copy")
	}

	again := signedCommit(t, repo, trusted, map[string]string{"a.yaml": "4"})
	if snap, err := k.Fetch(context.Background()); err != nil || snap.Revision != again || k.Refused() != nil {
		t.Errorf("trusted again: %s, %v, refused %+v", snap.Revision, err, k.Refused())
	}
}

func TestKeepTrustedPassesOtherErrors(t *testing.T) {
	k := NewKeepTrusted(newGit(t, GitConfig{URL: "http://127.0.0.1:1/nothing.git"}), time.Now, nil)
	if _, err := k.Fetch(context.Background()); err == nil {
		t.Fatal("fetch from an unreachable remote succeeded")
	}
	if k.Refused() != nil {
		t.Error("an unreachable remote counts as a refusal")
	}
}
