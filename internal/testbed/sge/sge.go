// Package sge starts a real Grid Engine (Debian's gridengine 8.1.9) for
// integration tests: sge_qmaster and one sge_execd for this host, in a
// cell of its own whose spool directories live in a temporary directory.
//
// Grid Engine's daemons listen on every address and have no option to
// bind one, so both run in a new network namespace that holds only its own
// loopback interface: nothing outside the machine, and nothing outside
// the namespace, can reach them. Client programs enter the namespace
// through Run, which is also a scale.Runner for the adapter.
//
// Grid Engine names hosts, so one machine is one execution host: the
// host's name is this machine's hostname, which must resolve to 127.0.0.1
// (it is aliased to "localhost" in host_aliases, as 127.0.0.1 reverse-
// resolves to that).
//
// When the programs are missing the test is skipped with a message, unless
// $CI is set, where it fails: scripts/ci-scale.sh installs them.
package sge

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Root is Debian's SGE_ROOT.
const Root = "/var/lib/gridengine"

// Cell is a running Grid Engine cell.
type Cell struct {
	// Host is the one execution host's name.
	Host string
	// Env is what a client program needs (SGE_ROOT, SGE_CELL).
	Env []string

	dir      string
	cellDir  string
	qmaster  *exec.Cmd
	execd    *exec.Cmd
	nsPID    int
	cellName string
}

func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("sge testbed: %s (CI must run this test: scripts/ci-scale.sh installs Grid Engine)", msg)
	}
	t.Skipf("sge testbed: %s; install with: sudo scripts/ci-scale.sh", msg)
}

// Start brings up a cell with one 2-slot queue all.q on this host, a 1 s
// scheduling interval, root allowed to run jobs, and a STRING host complex
// instance_id; it registers the teardown.
func Start(t testing.TB) *Cell {
	t.Helper()
	for _, p := range []string{"sge_qmaster", "sge_execd", "qconf", "qstat", "qsub", "qmod", "qhost", "unshare", "nsenter", "ip"} {
		if _, err := exec.LookPath(p); err != nil {
			if _, err := os.Stat("/usr/sbin/" + p); err != nil {
				skipOrFail(t, "%s not found", p)
			}
		}
	}
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root (network namespace, daemons run as sgeadmin)")
	}
	admin, err := user.Lookup("sgeadmin")
	if err != nil {
		skipOrFail(t, "no user sgeadmin (gridengine-common not installed?)")
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	if addrs, err := net.LookupHost(host); err != nil || !contains(addrs, "127.0.0.1") {
		skipOrFail(t, "hostname %s must resolve to 127.0.0.1 (got %v, %v)", host, addrs, err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	c := &Cell{Host: host, cellName: "driftless-" + hex.EncodeToString(b[:])}
	c.cellDir = filepath.Join(Root, c.cellName)
	c.Env = []string{"SGE_ROOT=" + Root, "SGE_CELL=" + c.cellName, "SGE_QMASTER_PORT=6444", "SGE_EXECD_PORT=6445",
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if c.dir, err = os.MkdirTemp("", "driftless-sge-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.stop()
		if t.Failed() {
			c.dumpLogs(t)
		}
		os.RemoveAll(c.cellDir)
		os.RemoveAll(c.dir)
	})
	uid, _ := strconv.Atoi(admin.Uid)
	gid, _ := strconv.Atoi(admin.Gid)
	if err := c.start(uid, gid); err != nil {
		t.Fatalf("sge testbed: %v", err)
	}
	t.Logf("sge testbed: cell %s, host %s, spool in %s", c.cellName, host, c.dir)
	return c
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (c *Cell) path(p ...string) string { return filepath.Join(append([]string{c.dir}, p...)...) }

func (c *Cell) start(uid, gid int) error {
	for _, d := range []string{"qmaster/job_scripts", "db", "execd", "log"} {
		if err := os.MkdirAll(c.path(d), 0o755); err != nil {
			return err
		}
	}
	for _, d := range []string{c.dir, c.path("qmaster"), c.path("qmaster", "job_scripts"), c.path("db"), c.path("execd")} {
		if err := os.Chown(d, uid, gid); err != nil {
			return err
		}
	}
	if err := os.Chmod(c.dir, 0o755); err != nil {
		return err
	}
	common := filepath.Join(c.cellDir, "common")
	if err := os.MkdirAll(common, 0o755); err != nil {
		return err
	}
	boot := fmt.Sprintf(`# Version: 8.1.9
admin_user              sgeadmin
default_domain          none
ignore_fqdn             false
spooling_method         berkeleydb
spooling_lib            libspoolb
spooling_params         %s
binary_path             /usr/sbin
qmaster_spool_dir       %s
security_mode           none
listener_threads        2
worker_threads          2
scheduler_threads       1
`, c.path("db"), c.path("qmaster"))
	files := map[string]string{
		"bootstrap":    boot,
		"act_qmaster":  c.Host + "\n",
		"host_aliases": c.Host + " localhost\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(common, name), []byte(body), 0o644); err != nil {
			return err
		}
		if err := os.Chown(filepath.Join(common, name), uid, gid); err != nil {
			return err
		}
	}
	_ = os.Chown(c.cellDir, uid, gid)
	_ = os.Chown(common, uid, gid)

	// The spool database with Debian's default configuration, complexes
	// and usersets, made as the package's postinst makes it.
	initCmd := fmt.Sprintf("/usr/share/gridengine/scripts/init_cluster %s %s %s sgeadmin", Root, c.cellName, c.path("db"))
	if out, err := exec.Command("su", "-s", "/bin/sh", "-c", initCmd, "sgeadmin").CombinedOutput(); err != nil {
		return fmt.Errorf("init_cluster: %v: %s", err, out)
	}

	// sge_qmaster in a namespace with only loopback; SGE_ND keeps it in
	// the foreground so the test owns the process.
	var err error
	c.qmaster, err = c.spawn("qmaster", "unshare", "-n", "sh", "-c", "ip link set lo up && exec sge_qmaster")
	if err != nil {
		return err
	}
	c.nsPID = c.qmaster.Process.Pid
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := waitFor(30*time.Second, func() error { _, err := c.Run(ctx, nil, "qconf", "-sh"); return err }); err != nil {
		return fmt.Errorf("sge_qmaster did not answer: %w", err)
	}

	steps := [][]string{{"qconf", "-as", c.Host}}
	for _, s := range steps {
		if _, err := c.Run(ctx, nil, s[0], s[1:]...); err != nil {
			return err
		}
	}
	// Root may run jobs (the default minimum uid is 1000), execd spools in
	// the temporary directory, and the scheduler runs every second instead
	// of every 15.
	if err := c.edit(ctx, "global", []string{"-sconf", "global"}, "-Mconf", map[string]string{
		"min_uid": "0", "min_gid": "0", "execd_spool_dir": c.path("execd"),
	}); err != nil {
		return err
	}
	if err := c.edit(ctx, "sched", []string{"-ssconf"}, "-Msconf", map[string]string{"schedule_interval": "0:0:1"}); err != nil {
		return err
	}
	if err := c.load(ctx, "hostgroup", "-Ahgrp", fmt.Sprintf("group_name @allhosts\nhostlist %s\n", c.Host)); err != nil {
		return err
	}
	cx, err := c.Run(ctx, nil, "qconf", "-sc")
	if err != nil {
		return err
	}
	cx = append(cx, []byte("instance_id iid STRING == YES NO NONE 0\n")...)
	if err := c.load(ctx, "complexes", "-Mc", string(cx)); err != nil {
		return err
	}
	if err := c.load(ctx, "queue", "-Aq", queueConf); err != nil {
		return err
	}
	return c.StartExecd(ctx)
}

// StartExecd starts the execution daemon, which registers the host, and
// waits until its queue instance is up.
func (c *Cell) StartExecd(ctx context.Context) error {
	var err error
	c.execd, err = c.spawn("execd", "nsenter", "-t", strconv.Itoa(c.nsPID), "-n", "sge_execd")
	if err != nil {
		return err
	}
	return waitFor(60*time.Second, func() error {
		out, err := c.Run(ctx, nil, "qstat", "-f")
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) >= 5 && f[0] == "all.q@"+c.Host {
				if len(f) > 5 && strings.ContainsAny(f[5], "u") {
					return fmt.Errorf("queue instance state %s", f[5])
				}
				return nil
			}
		}
		return errors.New("no queue instance yet")
	})
}

// edit changes "key value" lines of a configuration read with show and
// writes it back with modify from a file named name.
func (c *Cell) edit(ctx context.Context, name string, show []string, modify string, set map[string]string) error {
	out, err := c.Run(ctx, nil, "qconf", show...)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 {
			if v, ok := set[f[0]]; ok {
				line = f[0] + " " + v
			}
		}
		b.WriteString(line + "\n")
	}
	return c.load(ctx, name, modify, b.String())
}

// load writes body to a file named name (qconf -Mconf takes the
// configuration's name from the file's) and runs qconf op on it.
func (c *Cell) load(ctx context.Context, name, op, body string) error {
	dir, err := os.MkdirTemp(c.dir, "conf-")
	if err != nil {
		return err
	}
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		return err
	}
	_, err = c.Run(ctx, nil, "qconf", op, f)
	return err
}

func (c *Cell) spawn(name string, prog string, args ...string) (*exec.Cmd, error) {
	out, err := os.Create(c.path("log", name+".out"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.Command(prog, args...)
	cmd.Env = append(append(os.Environ(), c.Env...), "SGE_ND=1")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = c.dir
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return cmd, nil
}

// Run runs a Grid Engine client program inside the cell's network
// namespace. It satisfies scale.Runner.
func (c *Cell) Run(ctx context.Context, stdin io.Reader, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(c.nsPID), "-n", "--", name}, args...)...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Dir = c.dir
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %w: %s %s", name, strings.Join(args, " "), err,
			strings.TrimSpace(stderr.String()), strings.TrimSpace(stdout.String()))
	}
	return stdout.Bytes(), nil
}

// SetInstance records the instance id in the host's instance_id complex,
// as a boot script would.
func (c *Cell) SetInstance(ctx context.Context, id string) error {
	_, err := c.Run(ctx, nil, "qconf", "-mattr", "exechost", "complex_values", "instance_id="+id, c.Host)
	return err
}

// Submit submits a binary job and returns its id.
func (c *Cell) Submit(ctx context.Context, args ...string) (string, error) {
	out, err := c.Run(ctx, nil, "qsub", append([]string{"-terse", "-b", "y", "-o", "/dev/null", "-e", "/dev/null"}, args...)...)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// WaitJobsDone waits until no job is left.
func (c *Cell) WaitJobsDone(ctx context.Context, timeout time.Duration) error {
	return waitFor(timeout, func() error {
		out, err := c.Run(ctx, nil, "qstat", "-u", "*")
		if err != nil {
			return err
		}
		if s := strings.TrimSpace(string(out)); s != "" {
			return errors.New("jobs left:\n" + s)
		}
		return nil
	})
}

func (c *Cell) stop() {
	kill := func(cmd *exec.Cmd) {
		if cmd == nil || cmd.Process == nil {
			return
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	if c.qmaster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, _ = c.Run(ctx, nil, "qdel", "-f", "-u", "*")
		_, _ = c.Run(ctx, nil, "qconf", "-ke", "all")
		cancel()
	}
	kill(c.execd)
	if c.qmaster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, _ = c.Run(ctx, nil, "qconf", "-km")
		cancel()
	}
	kill(c.qmaster)
}

func (c *Cell) dumpLogs(t testing.TB) {
	files, _ := filepath.Glob(c.path("log", "*"))
	files = append(files, c.path("qmaster", "messages"))
	more, _ := filepath.Glob(c.path("execd", "*", "messages"))
	for _, f := range append(files, more...) {
		b, err := os.ReadFile(f)
		if err != nil || len(b) == 0 {
			continue
		}
		if len(b) > 3000 {
			b = b[len(b)-3000:]
		}
		t.Logf("--- %s\n%s", f, b)
	}
}

func waitFor(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// queueConf is all.q: 2 slots on @allhosts.
const queueConf = `qname                 all.q
hostlist              @allhosts
seq_no                0
load_thresholds       NONE
suspend_thresholds    NONE
nsuspend              1
suspend_interval      00:05:00
priority              0
min_cpu_interval      00:05:00
processors            UNDEFINED
qtype                 BATCH INTERACTIVE
ckpt_list             NONE
pe_list               make
rerun                 FALSE
slots                 2
tmpdir                /tmp
shell                 /bin/sh
prolog                NONE
epilog                NONE
shell_start_mode      unix_behavior
starter_method        NONE
suspend_method        NONE
resume_method         NONE
terminate_method      NONE
notify                00:00:60
owner_list            NONE
user_lists            NONE
xuser_lists           NONE
subordinate_list      NONE
complex_values        NONE
projects              NONE
xprojects             NONE
calendar              NONE
initial_state         default
s_rt                  INFINITY
h_rt                  INFINITY
s_cpu                 INFINITY
h_cpu                 INFINITY
s_fsize               INFINITY
h_fsize               INFINITY
s_data                INFINITY
h_data                INFINITY
s_stack               INFINITY
h_stack               INFINITY
s_core                INFINITY
h_core                INFINITY
s_rss                 INFINITY
h_rss                 INFINITY
s_vmem                INFINITY
h_vmem                INFINITY
`
