package source

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/driftless/driftless/internal/testbed/gitserver"
)

// newPGPKey makes a signing key; ed25519 keeps key generation fast.
func newPGPKey(t *testing.T, name string) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@driftless.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// writePublicKeys writes the armored public keys of es to a file.
func writePublicKeys(t *testing.T, file string, es ...*openpgp.Entity) {
	t.Helper()
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if err := e.Serialize(w); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// signedCommit commits files in the repo's work tree signed with key, the
// way `git commit -S` does, pushes it and returns its hash.
func signedCommit(t *testing.T, repo *gitserver.Repo, key *openpgp.Entity, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(repo.Work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := git.PlainOpen(repo.Work)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "Signer", Email: "signer@driftless.invalid", When: time.Now()}
	h, err := wt.Commit("signed", &git.CommitOptions{Author: sig, Committer: sig, SignKey: key, AllowEmptyCommits: true})
	if err != nil {
		t.Fatal(err)
	}
	repo.Push(t)
	return h.String()
}

func TestGitTrustedKeys(t *testing.T) {
	root := t.TempDir()
	srv := gitserver.Start(t, root)
	repo := gitserver.NewRepo(t, root, "clusters")
	trusted, other := newPGPKey(t, "trusted"), newPGPKey(t, "other")
	keys := filepath.Join(t.TempDir(), "trusted.asc")
	writePublicKeys(t, keys, trusted)
	g := newGit(t, GitConfig{URL: srv.URL("clusters"), TrustedKeysFile: keys})

	steps := []struct {
		name   string
		commit func() string
		// reason is what an *UntrustedError says, "" when the commit is
		// accepted.
		reason string
		files  map[string]string
	}{
		{
			name:   "signed by the trusted key",
			commit: func() string { return signedCommit(t, repo, trusted, map[string]string{"a.yaml": "1"}) },
			files:  map[string]string{"a.yaml": "1"},
		},
		{
			name:   "unsigned",
			commit: func() string { return repo.Commit(t, "unsigned", map[string]string{"a.yaml": "2"}) },
			reason: "unsigned",
		},
		{
			name:   "signed by another key",
			commit: func() string { return signedCommit(t, repo, other, map[string]string{"a.yaml": "3"}) },
			reason: "signature does not verify with a trusted key",
		},
		{
			name:   "trusted again",
			commit: func() string { return signedCommit(t, repo, trusted, map[string]string{"a.yaml": "4"}) },
			files:  map[string]string{"a.yaml": "4"},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			rev := st.commit()
			// Twice: a refused head stays refused, and an accepted one is
			// served from the cache the second time.
			for range 2 {
				snap, err := g.Fetch(context.Background())
				if st.reason == "" {
					if err != nil {
						t.Fatal(err)
					}
					if snap.Revision != rev {
						t.Errorf("revision = %s, want %s", snap.Revision, rev)
					}
					wantFiles(t, snap, st.files)
					continue
				}
				var ue *UntrustedError
				if !errors.As(err, &ue) {
					t.Fatalf("error = %v, want an *UntrustedError", err)
				}
				if ue.Revision != rev || !strings.Contains(ue.Reason, st.reason) {
					t.Errorf("untrusted %s (%s), want %s (%s)", ue.Revision, ue.Reason, rev, st.reason)
				}
				if snap.Revision != "" || snap.Files != nil {
					t.Errorf("a refused revision came with a snapshot: %+v", snap)
				}
			}
		})
	}

	t.Run("key removed from the trusted file", func(t *testing.T) {
		writePublicKeys(t, keys, other)
		var ue *UntrustedError
		if _, err := g.Fetch(context.Background()); !errors.As(err, &ue) {
			t.Fatalf("error = %v, want an *UntrustedError", err)
		}
	})
}

func TestGitTrustedKeysFileErrors(t *testing.T) {
	repo := gitserver.NewRepo(t, t.TempDir(), "clusters")
	repo.Commit(t, "first", map[string]string{"a.yaml": "1"})
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.asc")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.asc")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{filepath.Join(dir, "missing.asc"), empty, garbage} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			g := newGit(t, GitConfig{URL: repo.Bare, TrustedKeysFile: file})
			_, err := g.Fetch(context.Background())
			var ue *UntrustedError
			if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), "trusted keys") {
				t.Errorf("error = %v, want a trusted keys configuration error", err)
			}
		})
	}
}
