package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Environment variables systemd sets for a service.
const (
	// EnvSocket names the notification socket: a path, or an abstract
	// socket name starting with "@".
	EnvSocket = "NOTIFY_SOCKET"
	// EnvWatchdogUsec is the watchdog timeout in microseconds.
	EnvWatchdogUsec = "WATCHDOG_USEC"
	// EnvWatchdogPID, when set, names the process the watchdog is meant
	// for; other processes must not ping.
	EnvWatchdogPID = "WATCHDOG_PID"
)

// Notifier sends state changes to the service manager. The zero value and
// a nil *Notifier are disabled: every method returns nil and sends nothing.
// It is safe for concurrent use.
type Notifier struct {
	addr *net.UnixAddr
	// Monotonic reads CLOCK_MONOTONIC, which RELOADING=1 must carry as
	// MONOTONIC_USEC; tests replace it.
	Monotonic func() (time.Duration, error)
}

// New returns a notifier for the socket named like $NOTIFY_SOCKET, or a
// disabled one when socket is empty. Only unix datagram sockets are
// supported (a path or "@abstract"), which is what systemd hands a
// service; a vsock address is an error.
func New(socket string) (*Notifier, error) {
	if socket == "" {
		return &Notifier{}, nil
	}
	if !strings.HasPrefix(socket, "/") && !strings.HasPrefix(socket, "@") {
		return nil, fmt.Errorf("sdnotify: unsupported %s %q: want an absolute path or @abstract name", EnvSocket, socket)
	}
	return &Notifier{
		addr:      &net.UnixAddr{Name: socket, Net: "unixgram"},
		Monotonic: monotonic,
	}, nil
}

// FromEnv returns the notifier for $NOTIFY_SOCKET as getenv reports it
// (os.Getenv in main).
func FromEnv(getenv func(string) string) (*Notifier, error) {
	return New(getenv(EnvSocket))
}

// Enabled reports whether a service manager listens.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != nil }

// Send sends the given "KEY=value" assignments in one datagram, so the
// service manager applies them together.
func (n *Notifier) Send(assignments ...string) error {
	if !n.Enabled() || len(assignments) == 0 {
		return nil
	}
	for _, a := range assignments {
		if !strings.Contains(a, "=") || strings.Contains(a, "\n") {
			return fmt.Errorf("sdnotify: malformed assignment %q", a)
		}
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(assignments, "\n") + "\n")); err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	return nil
}

// Ready says start-up (or a reload) is complete. status, when not empty,
// goes with it as STATUS=.
func (n *Notifier) Ready(status string) error {
	return n.Send(withStatus([]string{"READY=1"}, status)...)
}

// Reloading says the service is loading its configuration again; Ready
// must follow when it is done, whether the new configuration was taken or
// refused. systemd wants the time of the request as MONOTONIC_USEC.
func (n *Notifier) Reloading(status string) error {
	if !n.Enabled() {
		return nil
	}
	mono := n.Monotonic
	if mono == nil {
		mono = monotonic
	}
	now, err := mono()
	if err != nil {
		return fmt.Errorf("sdnotify: read the monotonic clock: %w", err)
	}
	return n.Send(withStatus([]string{"RELOADING=1", "MONOTONIC_USEC=" + strconv.FormatInt(now.Microseconds(), 10)}, status)...)
}

// Stopping says the service is shutting down.
func (n *Notifier) Stopping(status string) error {
	return n.Send(withStatus([]string{"STOPPING=1"}, status)...)
}

// Status sets the one-line status systemctl status shows.
func (n *Notifier) Status(status string) error {
	return n.Send(withStatus(nil, status)...)
}

// Watchdog tells the service manager the service is alive. It must be
// sent more often than the watchdog timeout; see WatchdogInterval.
func (n *Notifier) Watchdog() error { return n.Send("WATCHDOG=1") }

// WatchdogTrigger tells the service manager the service is wedged, so it
// acts on the watchdog failure (restart, per the unit) at once instead of
// after the timeout. status says why.
func (n *Notifier) WatchdogTrigger(status string) error {
	return n.Send(withStatus([]string{"WATCHDOG=trigger"}, status)...)
}

func withStatus(a []string, status string) []string {
	if status == "" {
		return a
	}
	// One line: the protocol separates assignments by newlines.
	status = strings.Join(strings.Fields(status), " ")
	return append(a, "STATUS="+status)
}

// WatchdogInterval returns the watchdog timeout systemd set for this
// process (WatchdogSec= of the unit), or 0 when there is none or it is
// meant for another process (pid is the caller's, os.Getpid()). Ping at
// half of it.
func WatchdogInterval(getenv func(string) string, pid int) (time.Duration, error) {
	usec := getenv(EnvWatchdogUsec)
	if usec == "" {
		return 0, nil
	}
	if p := getenv(EnvWatchdogPID); p != "" {
		want, err := strconv.Atoi(p)
		if err != nil {
			return 0, fmt.Errorf("sdnotify: %s=%q: %w", EnvWatchdogPID, p, err)
		}
		if want != pid {
			return 0, nil
		}
	}
	n, err := strconv.ParseInt(usec, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("sdnotify: %s=%q: %w", EnvWatchdogUsec, usec, err)
	}
	if n <= 0 {
		return 0, errors.New("sdnotify: " + EnvWatchdogUsec + " must be positive")
	}
	return time.Duration(n) * time.Microsecond, nil
}
