package sshserver

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHD is where Debian's openssh-server installs the daemon. sshd must be
// started by absolute path: it re-executes itself for every connection.
const SSHD = "/usr/sbin/sshd"

// Server is a running sshd that lets one user in with one key.
type Server struct {
	// Host and Port are where the server listens; Host is 127.0.0.1.
	Host string
	Port int
	// User is the account the client key logs into: the user running the
	// test.
	User string
	// ClientKeyFile is an OpenSSH private key (no passphrase) the server
	// accepts for User.
	ClientKeyFile string
	// KnownHostsFile is a known_hosts file holding the server's real host
	// key, as a client should have it.
	KnownHostsFile string
	// HostKey is the server's public host key.
	HostKey ssh.PublicKey

	authorizedKeys string
}

// Start runs sshd -D on 127.0.0.1 with a generated configuration, host key
// and user key, and stops it with t.Cleanup. It skips the test when sshd is
// not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := os.Stat(SSHD); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing (Debian package openssh-server; scripts/ci-deps.sh installs it): %v", SSHD, err)
		}
		t.Skipf("%s is missing (Debian package openssh-server): %v", SSHD, err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	// sshd refuses to start without its privilege separation directory,
	// which Debian creates only when the service starts.
	if u.Uid == "0" {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	hostPub := writeKey(t, hostKey)
	clientKey := filepath.Join(dir, "id_ed25519")
	clientPub := writeKey(t, clientKey)
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, ssh.MarshalAuthorizedKey(clientPub), 0o600); err != nil {
		t.Fatal(err)
	}

	s := &Server{
		Host:           "127.0.0.1",
		User:           u.Username,
		ClientKeyFile:  clientKey,
		KnownHostsFile: filepath.Join(dir, "known_hosts"),
		HostKey:        hostPub,
		authorizedKeys: authorized,
	}
	// A free port may be taken between the probe and sshd's bind: try a few.
	var lastErr error
	for range 5 {
		s.Port = freePort(t)
		if lastErr = s.run(t, dir, hostKey, authorized); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("start sshd: %v", lastErr)
	}
	s.WriteKnownHosts(t, s.KnownHostsFile, hostPub)
	return s
}

// run starts sshd on s.Port and waits until it greets.
func (s *Server) run(t testing.TB, dir, hostKey, authorized string) error {
	t.Helper()
	conf := filepath.Join(dir, "sshd_config")
	lines := []string{
		"ListenAddress " + s.Host,
		"Port " + strconv.Itoa(s.Port),
		"HostKey " + hostKey,
		"PidFile " + filepath.Join(dir, "sshd.pid"),
		"AuthorizedKeysFile " + authorized,
		"AllowUsers " + s.User,
		"PermitRootLogin prohibit-password",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		// The test tree lives under a world-writable /tmp.
		"StrictModes no",
		// PAM lets an account without a password (root's "*") log in
		// with a key; without PAM such an account counts as locked.
		"UsePAM yes",
		"X11Forwarding no",
		"AllowTcpForwarding no",
		"PrintMotd no",
		"LogLevel VERBOSE",
	}
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(SSHD, "-D", "-e", "-f", conf)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Logf("sshd: %s", sc.Text())
		}
		exited <- cmd.Wait()
	}()

	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("sshd exited: %v", err)
		default:
		}
		if greets(addr) {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("sshd did not answer on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	return nil
}

// greets reports whether an SSH server answers on addr with its banner.
func greets(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-2.0-")
}

// URL returns the ssh:// URL of a repository at an absolute path on this
// machine, e.g. ssh://root@127.0.0.1:PORT/tmp/x/clusters.git.
func (s *Server) URL(path string) string {
	return fmt.Sprintf("ssh://%s@%s/%s", s.User, net.JoinHostPort(s.Host, strconv.Itoa(s.Port)),
		strings.TrimPrefix(filepath.ToSlash(path), "/"))
}

// WriteKnownHosts writes a known_hosts file that names key as this
// server's host key: the real one, or another to prove a client refuses it.
func (s *Server) WriteKnownHosts(t testing.TB, file string, key ssh.PublicKey) {
	t.Helper()
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"
	if err := os.WriteFile(file, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Authorize lets key log in as User too; sshd reads the file on every
// connection.
func (s *Server) Authorize(t testing.TB, key ssh.PublicKey) {
	t.Helper()
	f, err := os.OpenFile(s.authorizedKeys, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(ssh.MarshalAuthorizedKey(key)); err != nil {
		t.Fatal(err)
	}
}

// NewKey makes an ed25519 key pair, writes the private half to file in
// OpenSSH format and returns the public half.
func NewKey(t testing.TB, file string) ssh.PublicKey {
	t.Helper()
	return writeKey(t, file)
}

func writeKey(t testing.TB, file string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sshPub
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
