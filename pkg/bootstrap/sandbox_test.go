package bootstrap

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/testbed/cfnsignal"
	"github.com/driftless/driftless/internal/testbed/imds"
	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/internal/testbed/nodes"
)

// node is one simulated instance: its metadata service and sandbox.
type node struct {
	name, addr, id string
	dir            string
	imds           *imds.Server
}

// startNode serves the node's instance metadata from inside the sandbox
// (and in a Bridge sandbox gives the node its namespaces).
func startNode(t *testing.T, sb *nodes.Sandbox, name, addr, id string, bridge bool) *node {
	t.Helper()
	if bridge {
		sb.Node(nodes.Host{Name: name, Addr: addr})
	}
	l, err := sb.Listen()
	if err != nil {
		t.Fatal(err)
	}
	s := imds.Serve(l, imds.Instance{
		ID: id, LocalIPv4: addr, Hostname: name, MAC: "0a:00:00:00:00:01",
		SubnetCIDR: subnetOf(addr), VPCCIDRs: []string{subnetOf(addr)},
		Region: "us-east-1", AvailabilityZone: "us-east-1a",
		Role: "driftless-node", AccessKeyID: "AKIATESTTESTTESTTEST", Secret: "test", SessionToken: "token",
	})
	t.Cleanup(func() { s.Close() })
	return &node{name: name, addr: addr, id: id, dir: sb.NodeDir(name), imds: s}
}

func subnetOf(addr string) string {
	return addr[:strings.LastIndexByte(addr, '.')] + ".0/24"
}

// motoInSandbox starts the moto emulator where the sandbox's nodes reach
// it and returns its URL; the sandbox's teardown ends it.
func motoInSandbox(t *testing.T, ctx context.Context, sb *nodes.Sandbox) string {
	t.Helper()
	bin, err := moto.Binary()
	if err != nil {
		nodes.SkipOrFail(t, "moto_server: %v (scripts/moto.sh install)", err)
	}
	var b [2]byte
	_, _ = rand.Read(b[:])
	url := fmt.Sprintf("http://%s:%d", sb.Addr(), 20000+int(b[0])<<4|int(b[1]&15))
	port := url[strings.LastIndexByte(url, ':')+1:]
	cmd := sb.Command(ctx, "", nil, bin, "-H", sb.Addr(), "-p", port)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait() }()
	err = waitFor(30*time.Second, func() error {
		_, err := sb.Run(ctx, "", nil, "curl", "-fsS", "-o", "/dev/null", url+"/moto-api/")
		return err
	})
	if err != nil {
		t.Fatalf("moto in the sandbox: %v", err)
	}
	return url
}

// putParameter stores an SSM parameter in the emulator, as the stack
// does for the head node's configuration.
func putParameter(t *testing.T, ctx context.Context, sb *nodes.Sandbox, url, name, value string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"Name": name, "Value": value, "Type": "String", "Overwrite": true})
	if _, err := sb.Run(ctx, "", nil, "curl", "-fsS", "-H", "X-Amz-Target: AmazonSSM.PutParameter",
		"-H", "Content-Type: application/x-amz-json-1.1", "-H",
		"Authorization: AWS4-HMAC-SHA256 Credential=AKIATESTTESTTESTTEST/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=0",
		"--data", string(body), url+"/"); err != nil {
		t.Fatal(err)
	}
}

// siteScripts serves the pre- and post-install scripts from inside the
// sandbox and returns their base URL.
func siteScripts(t *testing.T, sb *nodes.Sandbox, scripts map[string]string) string {
	t.Helper()
	l, err := sb.Listen()
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := scripts[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(body))
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

// runScript renders cfg, resolves its variables and runs it in the
// sandbox as the node; it returns the script's error and its log.
func runScript(t *testing.T, ctx context.Context, sb *nodes.Sandbox, n *node, hostname string, cfg Config, vars map[string]string, env ...string) (string, error) {
	t.Helper()
	text, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	script, err := Resolve(text, vars)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sb.Dir, n.name+"-"+string(cfg.Role)+".sh")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	env = append(env, "DRIFTLESS_SANDBOX="+n.dir, "DRIFTLESS_IMDS_ENDPOINT="+n.imds.URL)
	_, err = sb.Run(ctx, hostname, env, "bash", path)
	log, _ := os.ReadFile(filepath.Join(n.dir, strings.TrimPrefix(LogFile, "/")))
	return string(log), err
}

func fileHas(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), want) {
		t.Fatalf("%s does not contain %q:\n%s", path, want, b)
	}
}

// waitFor polls f every 200 ms until it succeeds or the timeout passes.
func waitFor(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestSlurmClusterInSandbox runs the rendered head node bootstrap of a
// Slurm cluster, then the compute bootstrap of two nodes, each node in
// namespaces of its own with its own address on a bridge that only the
// test's namespaces see, and runs a job on both nodes through the
// scheduler.
func TestSlurmClusterInSandbox(t *testing.T) {
	nodes.Need(t, "bash", "curl", "munged", "munge", "unmunge", "slurmctld", "slurmd", "scontrol", "sbatch", "sinfo", "srun")
	sb := nodes.New(t, nodes.Options{Bridge: true, Hosts: []nodes.Host{
		{Name: "dl-head", Addr: "127.0.1.10"}, {Name: "dl-c1", Addr: "127.0.1.11"}, {Name: "dl-c2", Addr: "127.0.1.12"},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	head := startNode(t, sb, "dl-head", "127.0.1.10", "i-0000000000000head", true)
	l, err := sb.Listen()
	if err != nil {
		t.Fatal(err)
	}
	sig := cfnsignal.Serve(l)
	defer sig.Close()
	base := siteScripts(t, sb, map[string]string{
		"pre.sh":  "#!/bin/sh\nprintf '%s|' \"$@\" > \"$DRIFTLESS_SANDBOX/pre-install.args\"\necho pre-install ran\n",
		"post.sh": "#!/bin/sh\nhostname > \"$DRIFTLESS_SANDBOX/post-install.host\"\n",
	})
	vars := map[string]string{"HeadNodeWaitHandle": sig.URL, "HeadNode.PrivateIp": head.addr}
	ssm := motoInSandbox(t, ctx, sb)
	// The post-install script comes from S3, fetched with the instance
	// role's credentials.
	for _, args := range [][]string{
		{"-X", "PUT", ssm + "/site-scripts"},
		{"-X", "PUT", "-H", "Content-Type: application/octet-stream", "--data-binary", "#!/bin/sh\nhostname > \"$DRIFTLESS_SANDBOX/post-install.host\"\necho \"$@\" >> \"$DRIFTLESS_SANDBOX/post-install.host\"\n", ssm + "/site-scripts/post.sh"},
	} {
		auth := "Authorization: AWS4-HMAC-SHA256 Credential=AKIATESTTESTTESTTEST/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
		if _, err := sb.Run(ctx, "", nil, "curl", append([]string{"-fsS", "-o", "/dev/null", "-H", auth}, args...)...); err != nil {
			t.Fatal(err)
		}
	}
	putParameter(t, ctx, sb, ssm, "/driftless/sbx/head-node", `{"queues": [{"name": "compute", "maxNodes": 8}]}`)
	ssmEnv := "DRIFTLESS_SSM_ENDPOINT=" + ssm
	s3Env := "DRIFTLESS_S3_ENDPOINT=" + ssm

	headCfg := Config{
		Cluster: "sbx", Stack: "driftless-sbx", Region: "us-east-1", Scheduler: "slurm", OS: "ubuntu2404",
		Role: RoleHead, HeadParameter: "/driftless/sbx/head-node", LoginUser: "ubuntu", ExportTo: ExportSubnet,
		WaitHandle:  Value{Sub: "HeadNodeWaitHandle"},
		PreInstall:  &Script{URL: base + "/pre.sh", Args: []string{"two words", "it's ${HOME}"}},
		PostInstall: &Script{URL: "s3://site-scripts/post.sh", Args: []string{"from-s3"}},
		Mounts:      []Mount{{Dir: "/shared", Type: MountEBS, Devices: []string{"/dev/sdf"}}},
	}
	if log, err := runScript(t, ctx, sb, head, head.name, headCfg, vars, ssmEnv, s3Env); err != nil {
		t.Fatalf("head node bootstrap: %v\n%s", err, log)
	}
	sigs := sig.Signals()
	if len(sigs) != 1 || sigs[0].Status != "SUCCESS" || sigs[0].Data != head.id {
		t.Fatalf("signals after the head node bootstrap: %+v", sigs)
	}
	fileHas(t, filepath.Join(head.dir, "pre-install.args"), "two words|it's ${HOME}|")
	if key, err := os.ReadFile("/etc/ssh/ssh_host_ed25519_key.pub"); err == nil {
		out, err := sb.Run(ctx, "", nil, "curl", "-fsS", "-H", "X-Amz-Target: AmazonSSM.GetParameter", "-H", "Content-Type: application/x-amz-json-1.1",
			"-H", "Authorization: AWS4-HMAC-SHA256 Credential=AKIATESTTESTTESTTEST/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=0",
			"--data", `{"Name":"/driftless/sbx/head-node/host-key"}`, ssm+"/")
		fields := strings.Fields(string(key))
		if err != nil || len(fields) < 2 || !strings.Contains(string(out), fields[0]+" "+fields[1]) {
			t.Errorf("host key parameter: %v %s", err, out)
		}
	}
	fileHas(t, filepath.Join(head.dir, "post-install.host"), "dl-head\nfrom-s3\n")
	fileHas(t, filepath.Join(head.dir, "etc/exports.d/driftless.exports"), "/shared 127.0.1.0/24(rw,sync,no_subtree_check,no_root_squash)")

	// A second run, as at a reboot, changes nothing and signals nothing.
	ctldPID, _ := os.ReadFile(filepath.Join(head.dir, "run/slurmctld.pid"))
	if log, err := runScript(t, ctx, sb, head, head.name, headCfg, vars, ssmEnv, s3Env); err != nil {
		t.Fatalf("head node bootstrap, second run: %v\n%s", err, log)
	}
	if again, _ := os.ReadFile(filepath.Join(head.dir, "run/slurmctld.pid")); string(again) != string(ctldPID) {
		t.Errorf("the second run restarted slurmctld (%s -> %s)", ctldPID, again)
	}
	if n := len(sig.Signals()); n != 1 {
		t.Errorf("%d signals after the second run, want 1", n)
	}

	slurmEnv := []string{"SLURM_CONF=" + filepath.Join(head.dir, "etc/slurm/slurm.conf")}

	// A queue added to the stack's parameter reaches Slurm in place, as
	// the head node's timer runs the script's reconfigure mode.
	putParameter(t, ctx, sb, ssm, "/driftless/sbx/head-node", `{"queues": [{"name": "compute", "maxNodes": 8}, {"name": "gpu", "maxNodes": 2}]}`)
	if _, err := sb.Run(ctx, head.name, []string{"DRIFTLESS_SANDBOX=" + head.dir, "DRIFTLESS_IMDS_ENDPOINT=" + head.imds.URL, ssmEnv},
		"bash", filepath.Join(head.dir, "var/lib/driftless/bootstrap.sh"), "reconfigure"); err != nil {
		log, _ := os.ReadFile(filepath.Join(head.dir, strings.TrimPrefix(LogFile, "/")))
		t.Fatalf("reconfigure: %v\n%s", err, log)
	}
	if out, err := sb.Run(ctx, head.name, slurmEnv, "scontrol", "show", "partition", "gpu"); err != nil || !strings.Contains(string(out), "PartitionName=gpu") {
		t.Errorf("partition gpu after reconfigure: %v\n%s", err, out)
	}
	if again, _ := os.ReadFile(filepath.Join(head.dir, "run/slurmctld.pid")); string(again) != string(ctldPID) {
		t.Errorf("adding a queue restarted slurmctld (%s -> %s)", ctldPID, again)
	}
	for i, name := range []string{"dl-c1", "dl-c2"} {
		c := startNode(t, sb, name, fmt.Sprintf("127.0.1.%d", 11+i), "i-00000000000000c"+fmt.Sprint(i+1), true)
		cfg := Config{
			Cluster: "sbx", Stack: "driftless-sbx", Region: "us-east-1", Scheduler: "slurm", OS: "ubuntu2404",
			Role: RoleCompute, Queue: "compute", LoginUser: "ubuntu", HeadAddress: Value{Sub: "HeadNode.PrivateIp"},
			Mounts: []Mount{{Dir: "/shared", Type: MountNFS}},
		}
		if log, err := runScript(t, ctx, sb, c, name, cfg, vars, "DRIFTLESS_SANDBOX_SERVER="+head.dir); err != nil {
			t.Fatalf("compute bootstrap of %s: %v\n%s", name, err, log)
		}
		fileHas(t, filepath.Join(c.dir, "var/lib/driftless/ready"), "Z")
		if i == 0 {
			// A reboot runs the compute bootstrap again: slurmd stays.
			pidFile := filepath.Join(head.dir, "run", "slurmd-"+name+".pid")
			before, _ := os.ReadFile(pidFile)
			if log, err := runScript(t, ctx, sb, c, name, cfg, vars, "DRIFTLESS_SANDBOX_SERVER="+head.dir); err != nil {
				t.Fatalf("compute bootstrap of %s, second run: %v\n%s", name, err, log)
			}
			if after, _ := os.ReadFile(pidFile); len(before) == 0 || string(after) != string(before) {
				t.Errorf("the second run restarted slurmd on %s (%q -> %q)", name, before, after)
			}
		}
		out, err := sb.Run(ctx, "dl-head", slurmEnv, "scontrol", "show", "node", name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), "Comment="+c.id) || !strings.Contains(string(out), "AvailableFeatures=compute") {
			t.Errorf("node %s:\n%s", name, out)
		}
	}

	// A job on both nodes, submitted on the head node.
	out := filepath.Join(head.dir, "shared", "job.out")
	if _, err := sb.Run(ctx, "dl-head", slurmEnv, "sbatch", "-N2", "-p", "compute", "-o", out, "--wrap", "srun hostname"); err != nil {
		t.Fatal(err)
	}
	err = waitFor(90*time.Second, func() error {
		b, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), "dl-c1") || !strings.Contains(string(b), "dl-c2") {
			return fmt.Errorf("job output so far: %q", b)
		}
		return nil
	})
	if err != nil {
		q, _ := sb.Run(ctx, "dl-head", slurmEnv, "squeue")
		i, _ := sb.Run(ctx, "dl-head", slurmEnv, "sinfo", "-N")
		t.Fatalf("the two-node job: %v\n%s\n%s", err, q, i)
	}
	err = waitFor(60*time.Second, func() error {
		q, err := sb.Run(ctx, "dl-head", slurmEnv, "squeue", "-h")
		if err == nil && len(strings.TrimSpace(string(q))) > 0 {
			err = fmt.Errorf("jobs left: %s", q)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := sb.Stop(); n == 0 {
		t.Error("no daemon was running in the sandbox")
	}
	if left := sb.Processes(); len(left) > 0 {
		t.Errorf("left running: %v", left)
	}
}

// TestFailedBootstrapSignalsFailure runs a head node bootstrap whose
// pre-install script exits 1: the stack must get a FAILURE signal whose
// reason carries the script's last log lines.
func TestFailedBootstrapSignalsFailure(t *testing.T) {
	nodes.Need(t, "bash", "curl")
	sb := nodes.New(t, nodes.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	head := startNode(t, sb, "dl-head", "127.0.0.10", "i-0000000000000head", false)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sig := cfnsignal.Serve(l)
	defer sig.Close()
	base := siteScripts(t, sb, map[string]string{
		"pre.sh": "#!/bin/sh\necho \"checking the licence server $1\"\necho 'licence server \"lic1\" unreachable' >&2\nexit 1\n",
	})
	cfg := Config{
		Cluster: "sbx", Stack: "driftless-sbx", Region: "us-east-1", Scheduler: "slurm", OS: "rocky9",
		Role: RoleHead, HeadParameter: "/driftless/sbx/head-node", ExportTo: ExportSubnet,
		WaitHandle: Value{Sub: "HeadNodeWaitHandle"},
		PreInstall: &Script{URL: base + "/pre.sh", Args: []string{"lic1:27000"}},
	}
	log, err := runScript(t, ctx, sb, head, head.name, cfg, map[string]string{"HeadNodeWaitHandle": sig.URL})
	var exit *exec.ExitError
	if err == nil || !errors.As(err, &exit) {
		t.Fatalf("the bootstrap should fail: %v\n%s", err, log)
	}
	sigs := sig.Signals()
	if len(sigs) != 1 {
		t.Fatalf("signals: %+v\nlog:\n%s", sigs, log)
	}
	got := sigs[0]
	t.Logf("failure reason: %s", got.Reason)
	for _, want := range []string{"step pre-install", "checking the licence server lic1:27000", `licence server "lic1" unreachable`, "exited with status 1"} {
		if !strings.Contains(got.Reason, want) {
			t.Errorf("reason lacks %q:\n%s", want, got.Reason)
		}
	}
	if got.Status != "FAILURE" || got.UniqueID != "head-node" || got.Data != head.id {
		t.Errorf("signal %+v", got)
	}
	if len(got.Reason) > 1100 {
		t.Errorf("reason is %d bytes", len(got.Reason))
	}
}

// TestSGEClusterInSandbox runs the rendered head node bootstrap of a Grid
// Engine cluster and the compute bootstrap of one execution node, both in
// a loopback-only network namespace under one host name (Grid Engine
// knows hosts by name, and one machine is one host), in a cell of their
// own, and runs a job through the queue.
func TestSGEClusterInSandbox(t *testing.T) {
	nodes.Need(t, "bash", "curl", "sge_qmaster", "sge_execd", "qconf", "qsub", "qstat", "su", "ip")
	if _, err := os.Stat("/usr/share/gridengine/scripts/init_cluster"); err != nil {
		nodes.SkipOrFail(t, "Grid Engine's init_cluster not found (gridengine-master)")
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	cell := "driftless-bs-" + hex.EncodeToString(rnd[:])
	t.Cleanup(func() { os.RemoveAll(filepath.Join("/var/lib/gridengine", cell)) })
	sb := nodes.New(t, nodes.Options{Net: true, Hosts: []nodes.Host{{Name: "dl-sge", Addr: "127.0.0.1"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	head := startNode(t, sb, "head", "127.0.0.1", "i-0000000000000head", false)
	l, err := sb.Listen()
	if err != nil {
		t.Fatal(err)
	}
	sig := cfnsignal.Serve(l)
	defer sig.Close()
	vars := map[string]string{"HeadNodeWaitHandle": sig.URL, "HeadNode.PrivateIp": head.addr}
	ssm := motoInSandbox(t, ctx, sb)
	env := []string{"DRIFTLESS_SGE_CELL=" + cell, "DRIFTLESS_SSM_ENDPOINT=" + ssm}
	headCfg := Config{
		Cluster: "sbx", Stack: "driftless-sbx", Region: "us-east-1", Scheduler: "sge", OS: "ubuntu2204",
		Role: RoleHead, Queues: []string{"compute"}, ExportTo: ExportSubnet, LoginUser: "root",
		HeadParameter: "/driftless/sbx/head-node", WaitHandle: Value{Sub: "HeadNodeWaitHandle"},
	}
	if log, err := runScript(t, ctx, sb, head, "dl-sge", headCfg, vars, env...); err != nil {
		t.Fatalf("head node bootstrap: %v\n%s", err, log)
	}
	if sigs := sig.Signals(); len(sigs) != 1 || sigs[0].Status != "SUCCESS" {
		t.Fatalf("signals: %+v", sigs)
	}
	if log, err := runScript(t, ctx, sb, head, "dl-sge", headCfg, vars, env...); err != nil {
		t.Fatalf("head node bootstrap, second run: %v\n%s", err, log)
	}
	if n := len(sig.Signals()); n != 1 {
		t.Errorf("%d signals after the second run, want 1", n)
	}
	exec1 := startNode(t, sb, "exec1", "127.0.0.1", "i-00000000000000e1", false)
	cfg := Config{
		Cluster: "sbx", Stack: "driftless-sbx", Region: "us-east-1", Scheduler: "sge", OS: "ubuntu2204",
		Role: RoleCompute, Queue: "compute", HeadAddress: Value{Sub: "HeadNode.PrivateIp"},
	}
	env = append(env, "DRIFTLESS_SANDBOX_SERVER="+head.dir)
	if log, err := runScript(t, ctx, sb, exec1, "dl-sge", cfg, vars, env...); err != nil {
		t.Fatalf("compute bootstrap: %v\n%s", err, log)
	}
	sgeEnv := []string{"SGE_ROOT=/var/lib/gridengine", "SGE_CELL=" + cell, "SGE_QMASTER_PORT=6444", "SGE_EXECD_PORT=6445"}
	hosts, err := sb.Run(ctx, "dl-sge", sgeEnv, "qhost", "-F", "instance_id")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(hosts), "instance_id="+exec1.id) {
		t.Errorf("qhost -F instance_id:\n%s", hosts)
	}
	out := filepath.Join(head.dir, "home", "job.out")
	if _, err := sb.Run(ctx, "dl-sge", sgeEnv, "qsub", "-b", "y", "-q", "compute", "-o", out, "-j", "y", "hostname"); err != nil {
		t.Fatal(err)
	}
	err = waitFor(90*time.Second, func() error {
		b, err := os.ReadFile(out)
		if err == nil && !strings.Contains(string(b), "dl-sge") {
			err = fmt.Errorf("job output so far: %q", b)
		}
		return err
	})
	if err != nil {
		q, _ := sb.Run(ctx, "dl-sge", sgeEnv, "qstat", "-f", "-u", "*")
		t.Fatalf("the job: %v\n%s", err, q)
	}
	if n := sb.Stop(); n == 0 {
		t.Error("no daemon was running in the sandbox")
	}
	if left := sb.Processes(); len(left) > 0 {
		t.Errorf("left running: %v", left)
	}
}
