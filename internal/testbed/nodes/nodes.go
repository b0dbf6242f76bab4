// Package nodes runs a cluster's boot scripts on the test machine as if
// each were a node of its own: every "node" runs in one private mount
// namespace (a tmpfs on /run, so munged and slurmd use their default
// sockets without touching the machine's, and /etc/hosts bind-mounted
// from the sandbox so node names resolve to their 127.0.0.x addresses),
// with a UTS namespace per node for its host name, and, on request, a
// loopback-only network namespace (for Grid Engine, whose daemons cannot
// bind one address).
//
// Every process started inside is found through its mount namespace and
// ended when the test ends; nothing is left running.
//
// Missing programs skip the test with a message, unless $CI is set.
package nodes

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Host is one name in the sandbox's /etc/hosts.
type Host struct {
	Name, Addr string
}

// Options shape a sandbox.
type Options struct {
	// Hosts are written to the sandbox's /etc/hosts after localhost.
	Hosts []Host
	// Net gives the sandbox a network namespace with loopback only.
	Net bool
	// Bridge gives the sandbox a network namespace holding a bridge at
	// BridgeAddr/24 and each node added with Node a network namespace of
	// its own, linked to the bridge at its Host address: nodes then reach
	// each other from their own addresses, as instances do (Slurm takes a
	// node's address, and srun's, from the connections it receives). The
	// addresses are loopback addresses (127.0.1.0/24, routed between the
	// namespaces with route_localnet) and live only in namespaces the test
	// made; nothing leaves the machine.
	Bridge bool
}

// BridgeAddr is the bridge's address in a Bridge sandbox; servers the
// nodes reach (metadata, signal capture) listen there.
const BridgeAddr = "127.0.1.1"

// localnet lets a namespace route loopback addresses over its other
// interfaces, so the nodes' addresses can stay in 127.0.0.0/8.
const localnet = "sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.default.route_localnet=1"

// Sandbox is a set of namespaces the node scripts run in.
type Sandbox struct {
	// Dir holds one directory per node (the node's DRIFTLESS_SANDBOX).
	Dir string

	t      testing.TB
	holder *exec.Cmd
	pid    int
	opts   Options
	nodes  map[string]*exec.Cmd
}

// SkipOrFail skips the test with a message, or fails it under CI.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI must run this test: scripts/ci-deps.sh and scripts/ci-scale.sh install what it needs)", msg)
	}
	t.Skipf("%s; install with: sudo scripts/ci-deps.sh && sudo scripts/ci-scale.sh", msg)
}

// Need skips (or fails under CI) unless every program is installed.
func Need(t testing.TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			if _, err := os.Stat("/usr/sbin/" + p); err != nil {
				SkipOrFail(t, "%s not found", p)
			}
		}
	}
}

// New makes the namespaces and registers their teardown.
func New(t testing.TB, opts Options) *Sandbox {
	t.Helper()
	Need(t, "unshare", "nsenter", "mount", "hostname")
	if os.Geteuid() != 0 {
		SkipOrFail(t, "needs root (namespaces, daemons)")
	}
	dir, err := os.MkdirTemp("", "driftless-nodes-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if opts.Bridge {
		Need(t, "ip")
		opts.Net = true
	}
	s := &Sandbox{Dir: dir, t: t, opts: opts, nodes: map[string]*exec.Cmd{}}
	hosts := "127.0.0.1 localhost\n"
	for _, h := range opts.Hosts {
		hosts = fmt.Sprintf("%s %s\n", h.Addr, h.Name) + hosts
	}
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts), 0o644); err != nil {
		t.Fatal(err)
	}
	setup := "mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /run/munge /run/lock && mount --bind " + filepath.Join(dir, "hosts") + " /etc/hosts"
	args := []string{"--mount", "--propagation", "private"}
	if opts.Net {
		args = append(args, "--net")
		setup += " && ip link set lo up"
	}
	if opts.Bridge {
		setup += " && " + localnet + " && ip link add br0 type bridge && ip addr add " + BridgeAddr + "/24 dev br0 && ip link set br0 up"
	}
	args = append(args, "--", "sh", "-c", setup+" && echo ready && exec sleep 86400")
	s.holder = exec.Command("unshare", args...)
	out, err := s.holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.holder.Stderr = os.Stderr
	if err := s.holder.Start(); err != nil {
		t.Fatalf("unshare: %v", err)
	}
	t.Cleanup(func() {
		s.stopAll()
		if !t.Failed() || os.Getenv("DRIFTLESS_KEEP_SANDBOX") == "" {
			os.RemoveAll(dir)
		} else {
			t.Logf("sandbox kept in %s", dir)
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("namespace setup failed: %q %v", line, err)
	}
	s.pid = s.holder.Process.Pid
	return s
}

// NodeDir returns (and makes) the sandbox directory of one node.
func (s *Sandbox) NodeDir(node string) string {
	d := filepath.Join(s.Dir, node)
	if err := os.MkdirAll(d, 0o755); err != nil {
		s.t.Fatal(err)
	}
	return d
}

// Command returns a command that runs inside the sandbox as host name
// hostname (none: the machine's).
func (s *Sandbox) Command(ctx context.Context, hostname string, env []string, name string, args ...string) *exec.Cmd {
	ns := []string{"-t", strconv.Itoa(s.pid), "-m"}
	if s.opts.Net {
		ns = append(ns, "-n")
	}
	inner := append([]string{name}, args...)
	if n, ok := s.nodes[hostname]; ok {
		// A node of a Bridge sandbox: its own network and UTS namespaces.
		ns = []string{"-t", strconv.Itoa(n.Process.Pid), "-m", "-n", "-u"}
	} else if hostname != "" {
		inner = append([]string{"unshare", "--uts", "sh", "-c", `hostname "$0" && exec "$@"`, hostname}, inner...)
	}
	cmd := exec.CommandContext(ctx, "nsenter", append(append(ns, "--"), inner...)...)
	cmd.Env = append(append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin"), env...)
	return cmd
}

// Run runs a command inside the sandbox and returns its standard output.
func (s *Sandbox) Run(ctx context.Context, hostname string, env []string, name string, args ...string) ([]byte, error) {
	cmd := s.Command(ctx, hostname, env, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// Node adds a node with its own network and UTS namespaces to a Bridge
// sandbox: host name h.Name, address h.Addr/24 on an interface linked to
// the bridge. Commands run as that host name run inside them.
func (s *Sandbox) Node(h Host) {
	t := s.t
	t.Helper()
	if !s.opts.Bridge {
		t.Fatal("nodes: Node needs a Bridge sandbox")
	}
	holder := exec.Command("nsenter", "-t", strconv.Itoa(s.pid), "-m", "--", "unshare", "--net", "--uts", "--",
		"sh", "-c", `hostname "$0" && ip link set lo up && `+localnet+` && echo ready && exec sleep 86400`, h.Name)
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	holder.Stderr = os.Stderr
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	s.nodes[h.Name] = holder
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("node %s: %q %v", h.Name, line, err)
	}
	veth := fmt.Sprintf("v%d", len(s.nodes))
	pid := strconv.Itoa(holder.Process.Pid)
	steps := [][]string{
		{"-t", strconv.Itoa(s.pid), "-n", "--", "ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", pid},
		{"-t", strconv.Itoa(s.pid), "-n", "--", "ip", "link", "set", veth, "master", "br0", "up"},
		{"-t", pid, "-n", "--", "ip", "addr", "add", h.Addr + "/24", "dev", "eth0"},
		{"-t", pid, "-n", "--", "ip", "link", "set", "eth0", "up"},
	}
	for _, st := range steps {
		if out, err := exec.Command("nsenter", st...).CombinedOutput(); err != nil {
			t.Fatalf("node %s: ip %v: %v: %s", h.Name, st, err, out)
		}
	}
}

// Addr is the address servers that the nodes reach listen on: BridgeAddr
// in a Bridge sandbox, else 127.0.0.1 (inside the sandbox's network
// namespace when it has one).
func (s *Sandbox) Addr() string {
	if s.opts.Bridge {
		return BridgeAddr
	}
	return "127.0.0.1"
}

// Listen returns a TCP listener on 127.0.0.1 that processes inside the
// sandbox reach: in its network namespace when it has one.
func (s *Sandbox) Listen() (net.Listener, error) {
	if !s.opts.Net {
		return net.Listen("tcp", "127.0.0.1:0")
	}
	type result struct {
		l   net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread enters the namespace to make the socket and never
		// returns to the pool: LockOSThread without Unlock ends it with
		// the goroutine.
		runtime.LockOSThread()
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", s.pid))
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("setns: %w", err)}
			return
		}
		l, err := net.Listen("tcp", s.Addr()+":0")
		ch <- result{l, err}
	}()
	r := <-ch
	return r.l, r.err
}

// processes lists the processes in the sandbox's mount namespace, the
// holder excepted.
func (s *Sandbox) processes() []int {
	want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", s.pid))
	if err != nil {
		return nil
	}
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == s.pid {
			continue
		}
		if ns, err := os.Readlink("/proc/" + e.Name() + "/ns/mnt"); err == nil && ns == want {
			out = append(out, pid)
		}
	}
	return out
}

// Processes returns the command lines of the processes left inside.
func (s *Sandbox) Processes() []string {
	var out []string
	for _, pid := range s.processes() {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")))
	}
	return out
}

// Stop ends every process started inside (SIGTERM, then SIGKILL after a
// grace period) and reports how many were left to end.
func (s *Sandbox) Stop() int {
	pids := s.processes()
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGTERM)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && len(s.processes()) > 0 {
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range s.processes() {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && len(s.processes()) > 0; {
		time.Sleep(50 * time.Millisecond)
	}
	return len(pids)
}

func (s *Sandbox) stopAll() {
	s.Stop()
	for _, n := range s.nodes {
		_ = n.Process.Kill()
		_ = n.Wait()
	}
	if s.holder != nil && s.holder.Process != nil {
		_ = s.holder.Process.Kill()
		_ = s.holder.Wait()
	}
}
