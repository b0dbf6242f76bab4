package source

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/driftless/driftless/internal/testbed/gitserver"
	"github.com/driftless/driftless/internal/testbed/sshserver"
)

func TestGitHTTPAuth(t *testing.T) {
	const token = "tok-3f9a1c"
	root := t.TempDir()
	srv := gitserver.Start(t, root, gitserver.WithBasicAuth("deploy", token))
	repo := gitserver.NewRepo(t, root, "private")
	rev := repo.Commit(t, "first", map[string]string{"a.yaml": "a"})

	secrets := t.TempDir()
	good := filepath.Join(secrets, "token")
	if err := os.WriteFile(good, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(secrets, "wrong")
	if err := os.WriteFile(bad, []byte("not-the-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DRIFTLESS_TEST_TOKEN", token)
	t.Setenv("DRIFTLESS_TEST_EMPTY", "")

	tests := []struct {
		name    string
		cfg     GitConfig
		wantErr string
	}{
		{"password file", GitConfig{Username: "deploy", PasswordFile: good}, ""},
		{"password env", GitConfig{Username: "deploy", PasswordEnv: "DRIFTLESS_TEST_TOKEN"}, ""},
		{"no credentials", GitConfig{}, "authentication required"},
		{"wrong password", GitConfig{Username: "deploy", PasswordFile: bad}, "authentication"},
		{"default user", GitConfig{PasswordFile: good}, "authentication"},
		{"missing file", GitConfig{PasswordFile: filepath.Join(secrets, "nope")}, "read password"},
		{"empty env", GitConfig{PasswordEnv: "DRIFTLESS_TEST_EMPTY"}, "DRIFTLESS_TEST_EMPTY is empty or unset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			cfg := tt.cfg
			cfg.URL = srv.URL("private")
			cfg.CacheDir = filepath.Join(t.TempDir(), "cache")
			g, err := NewGit(cfg, slogTo(&logs))
			if err != nil {
				t.Fatal(err)
			}
			snap, err := g.Fetch(context.Background())
			if strings.Contains(logs.String(), token) || (err != nil && strings.Contains(err.Error(), token)) {
				t.Errorf("the token leaked: error %v, logs:\n%s", err, logs.String())
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if snap.Revision != rev {
					t.Errorf("revision = %s, want %s", snap.Revision, rev)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestGitHTTPSPrivateCA(t *testing.T) {
	const token = "tok-tls-77"
	root := t.TempDir()
	srv := gitserver.Start(t, root, gitserver.WithTLS(), gitserver.WithBasicAuth("ci", token))
	repo := gitserver.NewRepo(t, root, "clusters")
	rev := repo.Commit(t, "first", map[string]string{"a.yaml": "a"})
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, srv.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DRIFTLESS_TEST_TLS_TOKEN", token)
	url := srv.URL("clusters")
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("url %s is not https", url)
	}

	tests := []struct {
		name    string
		cfg     GitConfig
		wantErr string
	}{
		{"trusted CA", GitConfig{CAFile: ca}, ""},
		{"unknown CA", GitConfig{}, "certificate"},
		{"missing CA file", GitConfig{CAFile: filepath.Join(dir, "nope.pem")}, "read CA file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.URL, cfg.Username, cfg.PasswordEnv = url, "ci", "DRIFTLESS_TEST_TLS_TOKEN"
			g := newGit(t, cfg)
			snap, err := g.Fetch(context.Background())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if snap.Revision != rev {
					t.Errorf("revision = %s, want %s", snap.Revision, rev)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestGitSSH(t *testing.T) {
	sshd := sshserver.Start(t)
	repo := gitserver.NewRepo(t, t.TempDir(), "clusters")
	rev := repo.Commit(t, "first", map[string]string{"clusters/a.yaml": "a"})
	url := sshd.URL(repo.Bare)
	scpLike := sshd.User + "@" + sshd.Host + ":" + repo.Bare // port 22: only parsed, never dialled

	keys := t.TempDir()
	otherHost := filepath.Join(keys, "other_host_key")
	unknown := filepath.Join(keys, "known_hosts_unknown")
	if err := os.WriteFile(unknown, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	changed := filepath.Join(keys, "known_hosts_changed")
	sshd.WriteKnownHosts(t, changed, sshserver.NewKey(t, otherHost))
	strangerKey := filepath.Join(keys, "stranger")
	sshserver.NewKey(t, strangerKey)
	lockedKey := filepath.Join(keys, "locked")
	sshd.Authorize(t, writeLockedKey(t, lockedKey, "open sesame"))
	passphrase := filepath.Join(keys, "passphrase")
	if err := os.WriteFile(passphrase, []byte("open sesame\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DRIFTLESS_TEST_WRONG_PASSPHRASE", "open says me")

	tests := []struct {
		name    string
		cfg     GitConfig
		wantErr string
	}{
		{"known host", GitConfig{URL: url, SSHKeyFile: sshd.ClientKeyFile, KnownHostsFile: sshd.KnownHostsFile}, ""},
		{"insecure", GitConfig{URL: url, SSHKeyFile: sshd.ClientKeyFile, InsecureIgnoreHostKey: true}, ""},
		{"unknown host", GitConfig{URL: url, SSHKeyFile: sshd.ClientKeyFile, KnownHostsFile: unknown}, "is not in known_hosts file"},
		{"changed host key", GitConfig{URL: url, SSHKeyFile: sshd.ClientKeyFile, KnownHostsFile: changed}, "does not match known_hosts file"},
		{"key with passphrase", GitConfig{URL: url, SSHKeyFile: lockedKey, SSHKeyPassphraseFile: passphrase, KnownHostsFile: sshd.KnownHostsFile}, ""},
		{"wrong passphrase", GitConfig{URL: url, SSHKeyFile: lockedKey, SSHKeyPassphraseEnv: "DRIFTLESS_TEST_WRONG_PASSPHRASE", KnownHostsFile: sshd.KnownHostsFile}, "ssh key " + lockedKey},
		{"no passphrase", GitConfig{URL: url, SSHKeyFile: lockedKey, KnownHostsFile: sshd.KnownHostsFile}, "ssh key " + lockedKey},
		{"key not authorised", GitConfig{URL: url, SSHKeyFile: strangerKey, KnownHostsFile: sshd.KnownHostsFile}, "unable to authenticate"},
		{"missing known_hosts", GitConfig{URL: url, SSHKeyFile: sshd.ClientKeyFile, KnownHostsFile: filepath.Join(keys, "nope")}, "known_hosts"},
		{"missing key", GitConfig{URL: scpLike, SSHKeyFile: filepath.Join(keys, "nope"), KnownHostsFile: sshd.KnownHostsFile}, "read ssh key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			cfg := tt.cfg
			cfg.Path = "clusters"
			cfg.CacheDir = filepath.Join(t.TempDir(), "cache")
			g, err := NewGit(cfg, slogTo(&logs))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.InsecureIgnoreHostKey && !strings.Contains(logs.String(), "HOST KEY CHECKING IS OFF") {
				t.Errorf("insecure host key checking was not logged loudly:\n%s", logs.String())
			}
			snap, err := g.Fetch(context.Background())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if snap.Revision != rev {
					t.Errorf("revision = %s, want %s", snap.Revision, rev)
				}
				wantFiles(t, snap, map[string]string{"a.yaml": "a"})
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one mentioning %q", err, tt.wantErr)
			}
			t.Log(err)
		})
	}
}

// writeLockedKey writes a passphrase-protected ed25519 key and returns its
// public half.
func writeLockedKey(t *testing.T, file, passphrase string) gossh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := gossh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sshPub
}

func TestNewGitRejectsMismatchedCredentials(t *testing.T) {
	tests := []struct {
		name string
		cfg  GitConfig
	}{
		{"password file and env", GitConfig{URL: "https://h/x.git", PasswordFile: "f", PasswordEnv: "E"}},
		{"user without password", GitConfig{URL: "https://h/x.git", Username: "u"}},
		{"ssh key on https", GitConfig{URL: "https://h/x.git", SSHKeyFile: "k"}},
		{"password on ssh", GitConfig{URL: "ssh://git@h/x.git", SSHKeyFile: "k", KnownHostsFile: "kh", PasswordFile: "f"}},
		{"ssh without key", GitConfig{URL: "git@h:x.git", KnownHostsFile: "kh"}},
		{"ssh without known_hosts", GitConfig{URL: "ssh://git@h/x.git", SSHKeyFile: "k"}},
		{"known_hosts and insecure", GitConfig{URL: "ssh://git@h/x.git", SSHKeyFile: "k", KnownHostsFile: "kh", InsecureIgnoreHostKey: true}},
		{"CA file on http", GitConfig{URL: "http://h/x.git", CAFile: "ca.pem"}},
		{"password on a local path", GitConfig{URL: "/srv/x.git", PasswordEnv: "E"}},
		{"passphrase file and env", GitConfig{URL: "ssh://git@h/x.git", SSHKeyFile: "k", KnownHostsFile: "kh", SSHKeyPassphraseFile: "f", SSHKeyPassphraseEnv: "E"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.CacheDir = t.TempDir()
			if _, err := NewGit(cfg, nil); err == nil {
				t.Error("no error")
			} else {
				t.Log(err)
			}
		})
	}
}

func TestKindOf(t *testing.T) {
	tests := []struct {
		url  string
		want transportKind
	}{
		{"https://github.com/o/r.git", kindHTTP},
		{"http://127.0.0.1:8080/r.git", kindHTTP},
		{"ssh://git@github.com/o/r.git", kindSSH},
		{"git@github.com:o/r.git", kindSSH},
		{"github.com:o/r.git", kindSSH},
		{"git://host/r.git", kindGit},
		{"file:///srv/r.git", kindLocal},
		{"/srv/r.git", kindLocal},
		{"./r.git", kindLocal},
		{"r.git", kindLocal},
		{"dir/with:colon", kindLocal},
	}
	for _, tt := range tests {
		if got := kindOf(tt.url); got != tt.want {
			t.Errorf("kindOf(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
}

func TestSecretErrorsNameNoValue(t *testing.T) {
	_, err := secret("password", filepath.Join(t.TempDir(), "nope"), "")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error = %v, want not-exist", err)
	}
}
