// Package slurm starts a real Slurm cluster (Debian's slurm-wlm 22.05) on
// 127.0.0.1 for integration tests: munged with its own key and socket,
// slurmctld, one slurmd per node with its own port (Debian builds Slurm
// with multiple-slurmd support), and optionally slurmrestd with JWT.
// Every process runs in the foreground as a child of the test and is
// killed in t.Cleanup; all state lives in a temporary directory.
//
// Nodes are slots n1..nN written into slurm.conf and set DOWN at start, as
// if no instance stood behind them. StartNode plays an instance booting:
// it starts the node's slurmd, which brings the node back (ReturnToService=2),
// and records the instance id in the node's Comment, which is how the
// fleet loop maps a node to its instance when names and addresses cannot
// (here every node is 127.0.0.1). StopNode plays the instance going away.
//
// When the programs are missing the test is skipped with a message, unless
// $CI is set, where it fails: scripts/ci-scale.sh installs them.
package slurm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options shape the cluster.
type Options struct {
	// Nodes is the number of node slots (default 4).
	Nodes int
	// CPUs per node (default 2).
	CPUs int
	// REST starts slurmrestd (OpenAPI v0.0.38) with JWT authentication.
	REST bool
}

// Cluster is a running Slurm.
type Cluster struct {
	// Dir holds slurm.conf, state, spool directories and logs.
	Dir string
	// Env is what a Slurm client program needs (SLURM_CONF).
	Env []string
	// RESTURL, RESTUser and RESTToken reach slurmrestd when Options.REST.
	RESTURL, RESTUser, RESTToken string

	opts  Options
	mu    sync.Mutex
	procs map[string]*exec.Cmd
	order []string
	ports map[string]int
}

// programs the harness needs.
var programs = []string{"munged", "mungekey", "slurmctld", "slurmd", "scontrol", "sinfo", "squeue", "sbatch"}

func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("slurm testbed: %s (CI must run this test: scripts/ci-scale.sh installs Slurm)", msg)
	}
	t.Skipf("slurm testbed: %s; install with: sudo scripts/ci-scale.sh", msg)
}

// Start brings the cluster up and registers its teardown.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Nodes == 0 {
		opts.Nodes = 4
	}
	if opts.CPUs == 0 {
		opts.CPUs = 2
	}
	need := programs
	if opts.REST {
		need = append(need, "slurmrestd")
	}
	for _, p := range need {
		if _, err := exec.LookPath(p); err != nil {
			if _, err := os.Stat("/usr/sbin/" + p); err != nil {
				skipOrFail(t, "%s not found", p)
			}
		}
	}
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root (slurmd runs jobs as their users)")
	}
	if opts.REST {
		if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/slurm-wlm/auth_jwt.so"); err != nil {
			skipOrFail(t, "slurmrestd needs the JWT plugin (slurm-wlm-jwt-plugin)")
		}
		if _, err := user.Lookup("slurm"); err != nil {
			skipOrFail(t, "slurmrestd needs the user slurm")
		}
	}
	dir, err := os.MkdirTemp("", "driftless-slurm-")
	if err != nil {
		t.Fatal(err)
	}
	// slurmrestd runs as the user slurm and must reach the files.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Dir: dir, opts: opts, procs: map[string]*exec.Cmd{}, ports: map[string]int{}}
	t.Cleanup(func() {
		c.stopAll()
		if t.Failed() {
			c.dumpLogs(t)
		}
		os.RemoveAll(dir)
	})
	if err := c.start(t); err != nil {
		t.Fatalf("slurm testbed: %v", err)
	}
	return c
}

// Nodes returns the node names n1..nN.
func (c *Cluster) Nodes() []string {
	var out []string
	for i := 1; i <= c.opts.Nodes; i++ {
		out = append(out, fmt.Sprintf("n%d", i))
	}
	return out
}

func (c *Cluster) path(p ...string) string { return filepath.Join(append([]string{c.Dir}, p...)...) }

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (c *Cluster) start(t testing.TB) error {
	for _, d := range []string{"etc", "state", "log", "munge", "spool"} {
		if err := os.MkdirAll(c.path(d), 0o755); err != nil {
			return err
		}
	}
	ports, err := freePorts(c.opts.Nodes + 2)
	if err != nil {
		return err
	}
	ctld, rest := ports[0], ports[1]

	// munge, with its own key and socket.
	key, sock := c.path("munge", "munge.key"), c.path("munge", "munge.socket")
	if out, err := exec.Command("mungekey", "-c", "-f", "-k", key).CombinedOutput(); err != nil {
		return fmt.Errorf("mungekey: %v: %s", err, out)
	}
	if err := c.spawn("munged", nil, "munged", "-F", "--force", "-S", sock, "--key-file="+key,
		"--log-file="+c.path("log", "munged.log"), "--pid-file="+c.path("munge", "munged.pid"),
		"--seed-file="+c.path("munge", "munged.seed")); err != nil {
		return err
	}
	if err := waitFor(10*time.Second, func() error { _, err := os.Stat(sock); return err }); err != nil {
		return fmt.Errorf("munged socket: %w", err)
	}

	conf := c.path("etc", "slurm.conf")
	c.Env = []string{"SLURM_CONF=" + conf}
	var b strings.Builder
	fmt.Fprintf(&b, `ClusterName=driftless
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=%d
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=%s
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmUser=root
SlurmdUser=root
StateSaveLocation=%s
SlurmdSpoolDir=%s/%%n
SlurmctldPidFile=%s
SlurmdPidFile=%s/slurmd-%%n.pid
SlurmctldLogFile=%s
SlurmdLogFile=%s/slurmd-%%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SlurmdParameters=config_overrides
DebugFlags=NO_CONF_HASH
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=2
KillWait=2
Waittime=0
TreeWidth=65533
`, ctld, sock, c.path("state"), c.path("spool"), c.path("slurmctld.pid"), c.Dir, c.path("log", "slurmctld.log"), c.path("log"))
	if c.opts.REST {
		jwt := c.path("etc", "jwt_hs256.key")
		k := make([]byte, 32)
		if f, err := os.Open("/dev/urandom"); err == nil {
			_, _ = f.Read(k)
			f.Close()
		}
		if err := os.WriteFile(jwt, k, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(&b, "AuthAltTypes=auth/jwt\nAuthAltParameters=jwt_key=%s\n", jwt)
	}
	for i, n := range c.Nodes() {
		c.ports[n] = ports[2+i]
		fmt.Fprintf(&b, "NodeName=%s NodeHostname=localhost NodeAddr=127.0.0.1 Port=%d CPUs=%d RealMemory=1000 State=UNKNOWN\n",
			n, ports[2+i], c.opts.CPUs)
		if err := os.MkdirAll(c.path("spool", n), 0o755); err != nil {
			return err
		}
	}
	b.WriteString("PartitionName=compute Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		return err
	}

	if err := c.spawn("slurmctld", nil, "slurmctld", "-D", "-i"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := waitFor(30*time.Second, func() error { _, err := c.Command(ctx, "scontrol", "ping"); return err }); err != nil {
		return fmt.Errorf("slurmctld did not answer: %w", err)
	}
	// No instance stands behind any node yet.
	all := fmt.Sprintf("n[1-%d]", c.opts.Nodes)
	if _, err := c.Command(ctx, "scontrol", "update", "NodeName="+all, "State=DOWN", "Reason=no instance"); err != nil {
		return err
	}
	if c.opts.REST {
		if err := c.startREST(ctx, rest); err != nil {
			return err
		}
	}
	t.Logf("slurm testbed: slurmctld on 127.0.0.1:%d, %d node slots, state in %s", ctld, c.opts.Nodes, c.Dir)
	return nil
}

func (c *Cluster) startREST(ctx context.Context, port int) error {
	out, err := c.Command(ctx, "scontrol", "token", "username=slurm", "lifespan=7200")
	if err != nil {
		return err
	}
	tok, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "SLURM_JWT=")
	if !ok {
		return fmt.Errorf("scontrol token: unexpected %q", out)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := c.spawn("slurmrestd", []string{"SLURM_JWT=daemon"}, "slurmrestd", "-u", "slurm", "-g", "slurm",
		"-s", "openapi/v0.0.38", "-a", "rest_auth/jwt", addr); err != nil {
		return err
	}
	c.RESTURL, c.RESTUser, c.RESTToken = "http://"+addr, "slurm", tok
	return waitFor(20*time.Second, func() error {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return conn.Close()
	})
}

// spawn starts a foreground daemon whose output goes to log/NAME.out.
func (c *Cluster) spawn(name string, env []string, prog string, args ...string) error {
	out, err := os.Create(c.path("log", name+".out"))
	if err != nil {
		return err
	}
	cmd := exec.Command(prog, args...)
	cmd.Env = append(append(append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin"), c.Env...), env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = c.Dir
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	out.Close()
	c.mu.Lock()
	c.procs[name] = cmd
	c.order = append(c.order, name)
	c.mu.Unlock()
	return nil
}

// stop ends one daemon: SIGTERM, then SIGKILL after a few seconds.
func (c *Cluster) stop(name string) {
	c.mu.Lock()
	cmd := c.procs[name]
	delete(c.procs, name)
	c.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func (c *Cluster) stopAll() {
	c.mu.Lock()
	order := append([]string(nil), c.order...)
	c.mu.Unlock()
	// Nodes first, the controller and munge last.
	for i := len(order) - 1; i >= 0; i-- {
		c.stop(order[i])
	}
}

func (c *Cluster) dumpLogs(t testing.TB) {
	files, _ := filepath.Glob(c.path("log", "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || len(b) == 0 {
			continue
		}
		if len(b) > 3000 {
			b = b[len(b)-3000:]
		}
		t.Logf("--- %s\n%s", filepath.Base(f), b)
	}
}

// Command runs a Slurm client program against the cluster.
func (c *Cluster) Command(ctx context.Context, prog string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = append(append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin"), c.Env...)
	cmd.Dir = c.Dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %w: %s", prog, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// Submit runs sbatch with the arguments and returns the job id.
func (c *Cluster) Submit(ctx context.Context, args ...string) (string, error) {
	out, err := c.Command(ctx, "sbatch", append([]string{"--parsable", "-o", "/dev/null"}, args...)...)
	if err != nil {
		return "", err
	}
	id, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";")
	return id, nil
}

// NodeState returns sinfo's state word for one node (idle, alloc,
// drained, down*...).
func (c *Cluster) NodeState(ctx context.Context, node string) (string, error) {
	out, err := c.Command(ctx, "sinfo", "-h", "-N", "-n", node, "-o", "%T")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// StartNode plays an instance booting as node: its slurmd starts, the
// instance id goes into the node's Comment, and StartNode returns once
// the node answers.
func (c *Cluster) StartNode(ctx context.Context, node, instanceID string) error {
	if _, ok := c.ports[node]; !ok {
		return fmt.Errorf("no node slot %s", node)
	}
	if err := c.spawn("slurmd-"+node, nil, "slurmd", "-D", "-N", node); err != nil {
		return err
	}
	if _, err := c.Command(ctx, "scontrol", "update", "NodeName="+node, "Comment="+instanceID); err != nil {
		return err
	}
	return waitFor(30*time.Second, func() error {
		st, err := c.NodeState(ctx, node)
		if err != nil {
			return err
		}
		if strings.HasPrefix(st, "down") || strings.HasSuffix(st, "*") || st == "unknown" {
			return fmt.Errorf("node %s is %s", node, st)
		}
		return nil
	})
}

// StopNode plays the node's instance going away: its slurmd stops and the
// node is set DOWN, as Slurm would after SlurmdTimeout. A node already
// deleted from Slurm (scontrol delete, which 22.05 allows for an unused
// node of slurm.conf until slurmctld restarts) stays deleted.
func (c *Cluster) StopNode(ctx context.Context, node string) error {
	c.stop("slurmd-" + node)
	_, err := c.Command(ctx, "scontrol", "update", "NodeName="+node, "State=DOWN", "Reason=no instance", "Comment=")
	if err != nil && strings.Contains(err.Error(), "Invalid node name") {
		return nil
	}
	return err
}

// Running reports whether the node's slurmd runs.
func (c *Cluster) Running(node string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs["slurmd-"+node] != nil
}

// WaitJobsDone waits until no job is pending or running.
func (c *Cluster) WaitJobsDone(ctx context.Context, timeout time.Duration) error {
	return waitFor(timeout, func() error {
		out, err := c.Command(ctx, "squeue", "-h", "-o", "%i %T")
		if err != nil {
			return err
		}
		if s := strings.TrimSpace(string(out)); s != "" {
			return errors.New("jobs left: " + s)
		}
		return nil
	})
}

// JobState returns the state of one job as squeue shows it, or "" once
// the job has left the queue.
func (c *Cluster) JobState(ctx context.Context, id string) (string, error) {
	out, err := c.Command(ctx, "squeue", "-h", "-j", id, "-o", "%T")
	if err != nil {
		if strings.Contains(err.Error(), "Invalid job id") {
			return "", nil
		}
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	if sc.Scan() {
		return strings.TrimSpace(sc.Text()), nil
	}
	return "", nil
}

// waitFor polls f every 200 ms until it succeeds or timeout passes.
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
		time.Sleep(200 * time.Millisecond)
	}
}

// Port returns the slurmd port of a node, for diagnostics.
func (c *Cluster) Port(node string) string { return strconv.Itoa(c.ports[node]) }
