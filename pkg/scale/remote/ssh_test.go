package remote_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/driftless/driftless/internal/testbed/sshserver"
	"github.com/driftless/driftless/pkg/scale/remote"
)

func newRunner(t *testing.T, srv *sshserver.Server, knownHosts string) (*remote.SSH, error) {
	t.Helper()
	key, err := os.ReadFile(srv.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return remote.NewSSH(remote.SSHConfig{
		Addr:       srv.Host + ":" + strconv.Itoa(srv.Port),
		User:       srv.User,
		Key:        key,
		KnownHosts: knownHosts,
		Env:        []string{"DRIFTLESS_TEST=a b"},
	})
}

// TestSSHAgainstOpenSSH runs commands through a real sshd on 127.0.0.1.
func TestSSHAgainstOpenSSH(t *testing.T) {
	srv := sshserver.Start(t)
	r, err := newRunner(t, srv, srv.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Arguments arrive as they were given, not split or expanded, and the
	// environment is set.
	args := []string{"two words", "$(id)", "it's", "--reason=driftless: idle", "*"}
	out, err := r.Run(ctx, nil, "sh", append([]string{"-c", `printf '%s|' "$DRIFTLESS_TEST" "$@"`, "sh"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a b|" + strings.Join(args, "|") + "|"; string(out) != want {
		t.Fatalf("got %q, want %q", out, want)
	}
	// The connection is reused; standard input reaches the command.
	out, err = r.Run(ctx, strings.NewReader("hello"), "cat")
	if err != nil || string(out) != "hello" {
		t.Fatalf("cat: %q %v", out, err)
	}
	// A failing command's error carries its standard error.
	_, err = r.Run(ctx, nil, "sh", "-c", "echo no such node >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "no such node") {
		t.Fatalf("failing command: %v", err)
	}
}

// TestSSHRejectsUnknownHostKey checks that a host key that is not the one
// in known_hosts stops the connection.
func TestSSHRejectsUnknownHostKey(t *testing.T) {
	srv := sshserver.Start(t)
	other := filepath.Join(t.TempDir(), "known_hosts")
	// A known_hosts that names the server with some other key.
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"))
	if err != nil {
		t.Fatal(err)
	}
	srv.WriteKnownHosts(t, other, pub)
	r, err := newRunner(t, srv, other)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := r.Run(ctx, nil, "true"); err == nil || !strings.Contains(err.Error(), "key") {
		t.Fatalf("connected to a host with an unknown key: %v", err)
	}
	if _, err := remote.NewSSH(remote.SSHConfig{Addr: "127.0.0.1:22", User: "x", Key: []byte("k")}); err == nil {
		t.Fatal("NewSSH without known_hosts accepted")
	}
}

// TestSSHHostKeysInMemory checks host keys given as known_hosts lines
// rather than a file: the server's key lets the command through, and lines
// that name only other hosts are refused before connecting.
func TestSSHHostKeysInMemory(t *testing.T) {
	srv := sshserver.Start(t)
	key, err := os.ReadFile(srv.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Host + ":" + strconv.Itoa(srv.Port)
	cfg := remote.SSHConfig{Addr: addr, User: srv.User, Key: key,
		HostKeys: []byte(knownhosts.Line([]string{addr}, srv.HostKey) + "\n")}
	r, err := remote.NewSSH(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := r.Run(ctx, nil, "echo", "ok"); err != nil || string(out) != "ok\n" {
		t.Fatalf("echo: %q %v", out, err)
	}
	cfg.HostKeys = []byte(knownhosts.Line([]string{"10.0.0.1:22"}, srv.HostKey) + "\n")
	if _, err := remote.NewSSH(cfg); err == nil || !strings.Contains(err.Error(), "no host key") {
		t.Fatalf("lines for other hosts only: %v", err)
	}
}
