package sdnotify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// manager is the receiving end of a notification socket, as systemd binds
// it: a unix datagram socket.
type manager struct {
	conn *net.UnixConn
	name string
}

func listen(t *testing.T, name string) *manager {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen on %s: %v", name, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &manager{conn: conn, name: name}
}

// next reads one datagram; a deadline keeps a missing message from
// hanging the test.
func (m *manager) next(t *testing.T) string {
	t.Helper()
	if err := m.conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, _, err := m.conn.ReadFromUnix(buf)
	if err != nil {
		t.Fatalf("read notification: %v", err)
	}
	return string(buf[:n])
}

// none checks that nothing is queued on the socket.
func (m *manager) none(t *testing.T) {
	t.Helper()
	if err := m.conn.SetReadDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if n, _, err := m.conn.ReadFromUnix(buf); err == nil {
		t.Fatalf("unexpected notification %q", buf[:n])
	}
}

func TestMessages(t *testing.T) {
	sockets := map[string]string{
		"path":     filepath.Join(t.TempDir(), "notify"),
		"abstract": fmt.Sprintf("@driftless-test-%d-%d", os.Getpid(), time.Now().UnixNano()),
	}
	for kind, socket := range sockets {
		t.Run(kind, func(t *testing.T) {
			m := listen(t, socket)
			n, err := FromEnv(func(k string) string {
				if k == EnvSocket {
					return socket
				}
				return ""
			})
			if err != nil {
				t.Fatal(err)
			}
			if !n.Enabled() {
				t.Fatal("notifier with a socket is disabled")
			}
			n.Monotonic = func() (time.Duration, error) { return 1234567890 * time.Microsecond, nil }
			tests := []struct {
				name string
				send func() error
				want string
			}{
				{"ready", func() error { return n.Ready("") }, "READY=1\n"},
				{"ready with status", func() error { return n.Ready("3 clusters\nready") }, "READY=1\nSTATUS=3 clusters ready\n"},
				{"reloading", func() error { return n.Reloading("reloading config") }, "RELOADING=1\nMONOTONIC_USEC=1234567890\nSTATUS=reloading config\n"},
				{"watchdog", n.Watchdog, "WATCHDOG=1\n"},
				{"trigger", func() error { return n.WatchdogTrigger("loop wedged") }, "WATCHDOG=trigger\nSTATUS=loop wedged\n"},
				{"status", func() error { return n.Status("revision abc") }, "STATUS=revision abc\n"},
				{"stopping", func() error { return n.Stopping("") }, "STOPPING=1\n"},
			}
			for _, tt := range tests {
				if err := tt.send(); err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
				if got := m.next(t); got != tt.want {
					t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
				}
			}
		})
	}
}

func TestRealMonotonicClock(t *testing.T) {
	m := listen(t, filepath.Join(t.TempDir(), "notify"))
	n, err := New(m.name)
	if err != nil {
		t.Fatal(err)
	}
	before, err := monotonic()
	if err != nil {
		t.Skipf("no monotonic clock: %v", err)
	}
	if err := n.Reloading(""); err != nil {
		t.Fatal(err)
	}
	var usec int64
	got := m.next(t)
	if _, err := fmt.Sscanf(got, "RELOADING=1\nMONOTONIC_USEC=%d\n", &usec); err != nil {
		t.Fatalf("message %q: %v", got, err)
	}
	if usec < before.Microseconds() {
		t.Errorf("MONOTONIC_USEC %d is before the clock read just earlier (%d)", usec, before.Microseconds())
	}
}

func TestDisabled(t *testing.T) {
	for _, n := range []*Notifier{nil, {}, must(New(""))} {
		if n.Enabled() {
			t.Error("notifier without a socket is enabled")
		}
		for _, err := range []error{n.Ready("x"), n.Reloading("x"), n.Stopping("x"), n.Watchdog(), n.Status("x"), n.WatchdogTrigger("x")} {
			if err != nil {
				t.Errorf("disabled notifier: %v", err)
			}
		}
	}
}

func must(n *Notifier, err error) *Notifier {
	if err != nil {
		panic(err)
	}
	return n
}

func TestErrors(t *testing.T) {
	if _, err := New("vsock:2:1234"); err == nil {
		t.Error("vsock address accepted")
	}
	if _, err := New("relative/path"); err == nil {
		t.Error("relative path accepted")
	}
	n, err := New(filepath.Join(t.TempDir(), "nobody-listens"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Ready(""); err == nil {
		t.Error("sending to a socket nobody listens on succeeded")
	}
	if err := n.Send("NOEQUALS"); err == nil {
		t.Error("malformed assignment accepted")
	}
	if err := n.Send("STATUS=a\nREADY=1"); err == nil {
		t.Error("assignment with a newline accepted")
	}
}

func TestWatchdogInterval(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    time.Duration
		wantErr bool
	}{
		{"none", nil, 0, false},
		{"set", map[string]string{EnvWatchdogUsec: "30000000"}, 30 * time.Second, false},
		{"our pid", map[string]string{EnvWatchdogUsec: "2000000", EnvWatchdogPID: "42"}, 2 * time.Second, false},
		{"other pid", map[string]string{EnvWatchdogUsec: "2000000", EnvWatchdogPID: "7"}, 0, false},
		{"garbage", map[string]string{EnvWatchdogUsec: "soon"}, 0, true},
		{"zero", map[string]string{EnvWatchdogUsec: "0"}, 0, true},
		{"bad pid", map[string]string{EnvWatchdogUsec: "1", EnvWatchdogPID: "x"}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := WatchdogInterval(func(k string) string { return tt.env[k] }, 42)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestRunWatchdog(t *testing.T) {
	m := listen(t, filepath.Join(t.TempDir(), "notify"))
	n, err := New(m.name)
	if err != nil {
		t.Fatal(err)
	}
	ticks := make(chan time.Time)
	wedged := errors.New("no progress for 10m0s")
	var healthy atomic.Bool
	healthy.Store(true)
	done := make(chan error, 1)
	go func() {
		done <- n.RunWatchdog(t.Context(), ticks, func(time.Time) error {
			if healthy.Load() {
				return nil
			}
			return wedged
		})
	}()
	for range 3 {
		ticks <- time.Now()
		if got := m.next(t); got != "WATCHDOG=1\n" {
			t.Fatalf("got %q, want a ping", got)
		}
	}
	healthy.Store(false)
	ticks <- time.Now()
	if got := m.next(t); got != "WATCHDOG=trigger\nSTATUS=no progress for 10m0s\n" {
		t.Fatalf("got %q, want a trigger", got)
	}
	if err := <-done; !errors.Is(err, wedged) {
		t.Errorf("RunWatchdog returned %v, want the check's error", err)
	}
	m.none(t)
}

func TestRunWatchdogStopsWithContext(t *testing.T) {
	n, _ := New("")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := n.RunWatchdog(ctx, nil, func(time.Time) error { return errors.New("never called") }); err != nil {
		t.Errorf("got %v after cancel", err)
	}
}
