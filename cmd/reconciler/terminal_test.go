package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// envHelper makes the test binary act as the reconciler command: tests
// that need a real process (a pseudo-terminal, exec) run themselves with
// it set and the command's arguments after "--".
const envHelper = "DRIFTLESS_TEST_RECONCILER"

func TestHelperProcess(t *testing.T) {
	if os.Getenv(envHelper) != "1" {
		return
	}
	i := slices.Index(os.Args, "--")
	if i < 0 {
		os.Exit(2)
	}
	// As main does: the first SIGINT or SIGTERM ends the context.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[i+1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// reconcilerCmd is the command line of the reconciler run as a process.
func reconcilerCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], append([]string{"-test.run=^TestHelperProcess$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), envHelper+"=1", "NO_COLOR=", "TERM=xterm")
	return cmd
}

// terminal is a process on a pseudo-terminal, with what it has written.
type terminal struct {
	t    *testing.T
	f    *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	buf  bytes.Buffer
	mark int
	more chan struct{}
	done chan struct{}
}

// startTerminal runs the reconciler on a new pseudo-terminal.
func startTerminal(t *testing.T, args ...string) *terminal {
	t.Helper()
	cmd := reconcilerCmd(t, args...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	term := &terminal{t: t, f: f, cmd: cmd, more: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(term.done)
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			term.mu.Lock()
			term.buf.Write(b[:n])
			term.mu.Unlock()
			select {
			case term.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = f.Close()
	})
	return term
}

// expectTimeout bounds a wait for output: a hung wizard fails the test
// instead of hanging it. It is a guard, not a speed target.
const expectTimeout = 60 * time.Second

// expect waits until the output since the last expect contains s and
// returns that output.
func (term *terminal) expect(s string) string {
	term.t.Helper()
	deadline := time.NewTimer(expectTimeout)
	defer deadline.Stop()
	for {
		term.mu.Lock()
		out := term.buf.String()[term.mark:]
		if i := strings.Index(out, s); i >= 0 {
			term.mark += i + len(s)
			term.mu.Unlock()
			return out[:i+len(s)]
		}
		term.mu.Unlock()
		select {
		case <-term.more:
		case <-term.done:
			term.mu.Lock()
			out := term.buf.String()[term.mark:]
			term.mu.Unlock()
			if strings.Contains(out, s) {
				continue
			}
			term.t.Fatalf("process ended before %q; it wrote:\n%s", s, out)
		case <-deadline.C:
			term.t.Fatalf("no %q within %s; output:\n%s", s, expectTimeout, out)
		}
	}
}

func (term *terminal) send(line string) {
	term.t.Helper()
	if _, err := term.f.WriteString(line + "\r"); err != nil {
		term.t.Fatal(err)
	}
}

// wait waits for the process to end and returns its exit code.
func (term *terminal) wait() int {
	term.t.Helper()
	err := term.cmd.Wait()
	<-term.done
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		term.t.Fatal(err)
	}
	return 0
}

func TestTableAlignsColouredCells(t *testing.T) {
	tb := &table{header: []string{"A", "STATUS", "C"}}
	tb.add(plain("alpha"), status("Ready"), plain("x"))
	tb.add(plain("b"), status("Blocked"), plain(""))
	for _, color := range []bool{false, true} {
		var buf bytes.Buffer
		if err := tb.write(&buf, color); err != nil {
			t.Fatal(err)
		}
		plainText := stripANSI(buf.String())
		want := "A      STATUS   C\nalpha  Ready    x\nb      Blocked  -\n"
		if plainText != want {
			t.Errorf("color %v: got\n%s\nwant\n%s", color, plainText, want)
		}
		if hasANSI := strings.Contains(buf.String(), "\x1b["); hasANSI != color {
			t.Errorf("color %v: escape codes present %v", color, hasANSI)
		}
	}
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestProgressOffATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, false)
	for _, s := range []string{"job RUNNABLE", "job RUNNABLE", "job RUNNING", "job SUCCEEDED"} {
		p.update(s)
	}
	p.done()
	if got := buf.String(); got != "job RUNNABLE\njob RUNNING\njob SUCCEEDED\n" {
		t.Errorf("progress on a pipe wrote %q", got)
	}
	buf.Reset()
	q := newProgress(&buf, true)
	q.update("x")
	q.done()
	if buf.Len() != 0 {
		t.Errorf("quiet progress wrote %q", buf.String())
	}
}

func TestExpandSSH(t *testing.T) {
	values := map[string]string{"CFN_USER": "ec2-user", "MASTER_IP": "203.0.113.9", "PRIVATE_IP": "10.0.1.5", "CLUSTER": "alpha"}
	tests := []struct {
		name, tmpl string
		args       []string
		want       []string
		wantErr    string
	}{
		{"parallelcluster default", defaultSSHCommand, []string{"-L", "8080:localhost:80", "uptime"},
			[]string{"ssh", "ec2-user@203.0.113.9", "-L", "8080:localhost:80", "uptime"}, ""},
		{"no args", defaultSSHCommand, nil, []string{"ssh", "ec2-user@203.0.113.9"}, ""},
		{"key and jump host", "ssh -i ~/.ssh/{CLUSTER}.pem -J bastion {CFN_USER}@{PRIVATE_IP} {ARGS}", []string{"hostname"},
			[]string{"ssh", "-i", "~/.ssh/alpha.pem", "-J", "bastion", "ec2-user@10.0.1.5", "hostname"}, ""},
		{"a value with spaces stays one argument", "echo {CLUSTER}", nil, []string{"echo", "alpha"}, ""},
		{"unknown placeholder", "ssh {USER}@{HOST}", nil, nil, "unknown placeholder {USER}"},
		{"ARGS inside a word", "ssh host--{ARGS}", nil, nil, "word of its own"},
		{"unclosed", "ssh {CFN_USER", nil, nil, "unclosed"},
		{"empty", "   ", nil, nil, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := expandSSH(tt.tmpl, values, tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func FuzzExpandSSH(f *testing.F) {
	for _, s := range []string{defaultSSHCommand, "ssh {", "{ARGS}{ARGS}", "a}b{CLUSTER}c", ""} {
		f.Add(s, "x y")
	}
	f.Fuzz(func(t *testing.T, tmpl, value string) {
		argv, err := expandSSH(tmpl, map[string]string{"CFN_USER": value, "MASTER_IP": value, "PRIVATE_IP": value, "CLUSTER": value}, []string{"a b"})
		if err != nil {
			return
		}
		if len(argv) == 0 {
			t.Fatalf("%q: no error and no argv", tmpl)
		}
		// A value never splits into more arguments than the template has
		// words, plus the one user argument.
		if len(argv) > len(strings.Fields(tmpl))+1 {
			t.Fatalf("%q with %q: %d arguments from %d words", tmpl, value, len(argv), len(strings.Fields(tmpl)))
		}
	})
}

func TestInterleave(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("output", "", "")
	fs.Bool("expand", false, "")
	got := interleave(fs, []string{"alpha", "--output", "json", "job1", "--expand", "--", "-x"})
	want := []string{"--output", "json", "--expand", "--", "alpha", "job1", "-x"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
