package moto

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// EnvServer names the environment variable that points at a moto_server
// binary, overriding the one in the module's .venv.
const EnvServer = "DRIFTLESS_MOTO_SERVER"

// Region is the region the test configuration uses. moto keeps separate
// state per region, so every client of a test must agree on it.
const Region = "us-east-1"

// AccountID is the account moto reports for the static test credentials.
const AccountID = "123456789012"

// readyTimeout bounds how long a server may take to answer after exec; it
// normally takes one to two seconds, more on a loaded two-core machine.
const readyTimeout = 30 * time.Second

// Server is a running moto_server bound to 127.0.0.1.
type Server struct {
	// Endpoint is the server's base URL, http://127.0.0.1:PORT, to use as
	// the SDK's BaseEndpoint.
	Endpoint string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  *logBuffer
	once sync.Once
}

// Option changes how a server is started.
type Option func(*options)

type options struct {
	env []string
}

// WithValidation makes moto check key pairs, AMIs and instance types, which
// it accepts blindly by default. Tests of pre-flight checks need it; tests
// that launch instances from made-up AMIs must not use it.
func WithValidation() Option {
	return WithEnv(
		"MOTO_ENABLE_KEYPAIR_VALIDATION=true",
		"MOTO_ENABLE_AMI_VALIDATION=true",
		"MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION=true",
	)
}

// WithEnv adds KEY=VALUE switches to the server's environment.
func WithEnv(kv ...string) Option {
	return func(o *options) { o.env = append(o.env, kv...) }
}

// errNotInstalled marks a missing server binary: a reason to skip outside CI.
var errNotInstalled = errors.New("moto_server not installed")

// Start starts a fresh moto_server on a free 127.0.0.1 port, waits until it
// answers and stops it when the test ends. Without a server binary the test
// is skipped (or fails when $CI is set).
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := start(opts...)
	if err != nil {
		fail(t, err)
	}
	t.Cleanup(s.Close)
	return s
}

func fail(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, errNotInstalled) && os.Getenv("CI") == "" {
		t.Skip(err.Error())
	}
	t.Fatal(err.Error())
}

// Binary returns the moto_server that Start would run.
func Binary() (string, error) {
	if p := os.Getenv(EnvServer); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: $%s=%s: %v (unset it to use the one scripts/moto.sh install puts in .venv)",
				errNotInstalled, EnvServer, p, err)
		}
		return p, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("%w: %v (set $%s to a moto_server binary)", errNotInstalled, err, EnvServer)
	}
	p := filepath.Join(root, ".venv", "bin", "moto_server")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%w at %s: run scripts/moto.sh install from the module root (or set $%s)",
			errNotInstalled, p, EnvServer)
	}
	return p, nil
}

// moduleRoot walks up from the working directory, which go test sets to
// the package under test, to the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func start(opts ...Option) (*Server, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	// A port picked by the kernel can be taken by someone else between our
	// close and moto's bind; try a few before giving up.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("pick a port for moto_server: %w", err)
		}
		s, err := launch(bin, port, o.env)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func launch(bin string, port int, env []string) (*Server, error) {
	s := &Server{
		Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port),
		done:     make(chan struct{}),
		log:      &logBuffer{},
	}
	s.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	s.cmd.SysProcAttr = sysProcAttr()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(); err != nil {
		s.Close()
		return nil, fmt.Errorf("moto_server on port %d: %w\n%s", port, err, s.log.tail(2000))
	}
	return s, nil
}

func (s *Server) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/moto-api/", nil)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return errors.New("exited before answering")
		case <-ctx.Done():
			return fmt.Errorf("no answer within %s", readyTimeout)
		case <-tick.C:
		}
	}
}

// Close stops the server and waits for it to exit. It is safe to call more
// than once.
func (s *Server) Close() {
	s.once.Do(func() {
		if s.cmd.Process == nil {
			return
		}
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
}

// Reset drops everything the server holds (POST /moto-api/reset), for tests
// that share a server but need a clean account.
func (s *Server) Reset(t testing.TB) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.Endpoint+"/moto-api/reset", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("reset moto: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("reset moto: %s: %s", resp.Status, b)
	}
}

// AWSConfig returns an SDK configuration that talks to this server with
// static test credentials, so tests never pick up a real account.
func (s *Server) AWSConfig() aws.Config {
	return aws.Config{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	}
}

// Log returns the tail of the server's output, for failure messages.
func (s *Server) Log() string { return s.log.tail(4000) }

// logBuffer keeps the server's output for failure messages.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

// maxLog bounds the kept output; moto logs one line per request.
const maxLog = 64 << 10

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > maxLog {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-maxLog/2:]...)
	}
	return len(p), nil
}

func (b *logBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := string(b.buf)
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return strings.TrimSpace(s)
}
