package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/driftless/driftless/pkg/scale"
)

var _ scale.Runner = (*SSH)(nil)

// SSHConfig says how to reach a head node.
type SSHConfig struct {
	// Addr is host:port of the head node's sshd.
	Addr string
	User string
	// Key is the private key, PEM or OpenSSH format.
	Key []byte
	// KnownHosts is the path of a known_hosts file holding the head
	// node's host key. It or HostKeys is required: there is no way to
	// turn host-key checking off.
	KnownHosts string
	// HostKeys, instead of KnownHosts, are known_hosts lines in memory
	// (plain host patterns, no hashed names or markers): the lines the
	// daemon builds from a head node's published host key.
	HostKeys []byte
	// HostKeysFunc, if set, gives the HostKeys lines afresh for every new
	// connection, so that a host replaced at the same address is known
	// by its new key once the old connection breaks.
	HostKeysFunc func(ctx context.Context) ([]byte, error)
	// Env is set for each command, as NAME=value, through env(1) on the
	// remote side (sshd's AcceptEnv is usually closed).
	Env []string
	// DialTimeout bounds connecting and the handshake; 10 s when zero.
	DialTimeout time.Duration
}

// SSH runs commands on a remote head node over one reused SSH connection,
// reconnecting when it breaks.
type SSH struct {
	cfg    SSHConfig
	client *ssh.ClientConfig

	mu   sync.Mutex
	conn *ssh.Client
}

// NewSSH checks the configuration and loads the key and known hosts; it
// does not connect.
func NewSSH(cfg SSHConfig) (*SSH, error) {
	if cfg.Addr == "" || cfg.User == "" {
		return nil, errors.New("ssh runner: address and user are required")
	}
	if cfg.KnownHosts == "" && len(cfg.HostKeys) == 0 && cfg.HostKeysFunc == nil {
		return nil, errors.New("ssh runner: a known_hosts file or host keys are required")
	}
	signer, err := ssh.ParsePrivateKey(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("ssh runner: private key: %w", err)
	}
	client := &ssh.ClientConfig{User: cfg.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}}
	if cfg.KnownHosts != "" {
		if client.HostKeyCallback, err = knownhosts.New(cfg.KnownHosts); err != nil {
			return nil, fmt.Errorf("ssh runner: known hosts: %w", err)
		}
	} else if cfg.HostKeysFunc == nil {
		if client.HostKeyCallback, client.HostKeyAlgorithms, err = fixedHostKeys(cfg.Addr, cfg.HostKeys); err != nil {
			return nil, fmt.Errorf("ssh runner: host keys: %w", err)
		}
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	client.Timeout = cfg.DialTimeout
	return &SSH{cfg: cfg, client: client}, nil
}

// fixedHostKeys checks a server's key against the known_hosts lines that
// name addr, and returns the algorithms of those keys for the handshake
// (the server would otherwise show a key of another type, which no line
// holds).
func fixedHostKeys(addr string, lines []byte) (ssh.HostKeyCallback, []string, error) {
	host := knownhosts.Normalize(addr)
	var keys []ssh.PublicKey
	var algos []string
	for rest := lines; len(bytes.TrimSpace(rest)) > 0; {
		marker, hosts, key, _, next, err := ssh.ParseKnownHosts(rest)
		if err != nil {
			return nil, nil, err
		}
		rest = next
		if marker != "" {
			return nil, nil, fmt.Errorf("marker %s is not supported here", marker)
		}
		for _, h := range hosts {
			if knownhosts.Normalize(h) == host {
				keys = append(keys, key)
				if key.Type() == ssh.KeyAlgoRSA {
					algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
				}
				algos = append(algos, key.Type())
				break
			}
		}
	}
	if len(keys) == 0 {
		return nil, nil, fmt.Errorf("no host key for %s", host)
	}
	return func(_ string, _ net.Addr, got ssh.PublicKey) error {
		for _, k := range keys {
			if bytes.Equal(k.Marshal(), got.Marshal()) {
				return nil
			}
		}
		return fmt.Errorf("host key mismatch: %s presented %s %s, which is not its known key", host, got.Type(), ssh.FingerprintSHA256(got))
	}, algos, nil
}

func (s *SSH) connect(ctx context.Context) (*ssh.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		return s.conn, nil
	}
	d := net.Dialer{Timeout: s.cfg.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return nil, err
	}
	client := s.client
	if s.cfg.HostKeysFunc != nil {
		lines, err := s.cfg.HostKeysFunc(ctx)
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("host keys: %w", err)
		}
		c := *s.client
		if c.HostKeyCallback, c.HostKeyAlgorithms, err = fixedHostKeys(s.cfg.Addr, lines); err != nil {
			nc.Close()
			return nil, fmt.Errorf("host keys: %w", err)
		}
		client = &c
	}
	_ = nc.SetDeadline(time.Now().Add(s.cfg.DialTimeout))
	c, chans, reqs, err := ssh.NewClientConn(nc, s.cfg.Addr, client)
	if err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	s.conn = ssh.NewClient(c, chans, reqs)
	return s.conn, nil
}

func (s *SSH) drop(c *ssh.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == c {
		s.conn.Close()
		s.conn = nil
	}
}

// Close closes the connection, if one is open.
func (s *SSH) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

// Run runs one command on the head node. The program and each argument
// are quoted for the remote shell, so an argument is never split or
// expanded there.
func (s *SSH) Run(ctx context.Context, stdin io.Reader, name string, args ...string) ([]byte, error) {
	out, err := s.run(ctx, stdin, name, args)
	var exit *ssh.ExitError
	if err != nil && !errors.As(err, &exit) && ctx.Err() == nil && stdin == nil {
		// The connection may have gone stale; try once on a new one.
		out, err = s.run(ctx, stdin, name, args)
	}
	return out, err
}

func (s *SSH) run(ctx context.Context, stdin io.Reader, name string, args []string) ([]byte, error) {
	c, err := s.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("ssh %s@%s: %w", s.cfg.User, s.cfg.Addr, err)
	}
	sess, err := c.NewSession()
	if err != nil {
		s.drop(c)
		return nil, fmt.Errorf("ssh %s@%s: session: %w", s.cfg.User, s.cfg.Addr, err)
	}
	defer sess.Close()
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr, sess.Stdin = &stdout, &stderr, stdin
	done := make(chan error, 1)
	go func() { done <- sess.Run(Command(s.cfg.Env, name, args...)) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = sess.Signal(ssh.SIGKILL)
		sess.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		var exit *ssh.ExitError
		if !errors.As(err, &exit) {
			s.drop(c)
		}
		return stdout.Bytes(), commandError(name, args, err, stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

// Command builds the remote command line: env(1) with the variables when
// there are any, then the program and its arguments, each quoted.
func Command(env []string, name string, args ...string) string {
	var parts []string
	if len(env) > 0 {
		parts = append(parts, "env")
		for _, e := range env {
			parts = append(parts, Quote(e))
		}
	}
	parts = append(parts, Quote(name))
	for _, a := range args {
		parts = append(parts, Quote(a))
	}
	return strings.Join(parts, " ")
}

// Quote quotes s for a POSIX shell: a word of safe characters is left as
// it is, anything else is put in single quotes.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@%+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
