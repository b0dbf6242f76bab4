package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"

	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/batch"
	"github.com/driftless/driftless/pkg/inventory"
)

// batchSpec is a valid awsbatch spec in the test network.
func batchSpec(net moto.Network, name string) string {
	return fmt.Sprintf(`version: 1
name: %s
region: us-east-1
scheduler: awsbatch
vpc: %s
headNode:
  instanceType: t3.medium
  subnet: %s
  sshFrom: 192.0.2.0/24
batch:
  minVCPUs: 0
  desiredVCPUs: 2
  maxVCPUs: 32
  instanceTypes: [c5.large]
  capacityType: spot
  spotBidPercentage: 60
`, name, net.VPC, net.Subnet)
}

// simpleBatch switches the emulator's AWS Batch to its no-container mode
// (moto's batch.use_docker=false): jobs are not run; they go to SUCCEEDED
// when submitted.
func simpleBatch(t *testing.T, endpoint string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, endpoint+"/moto-api/config",
		strings.NewReader(`{"batch": {"use_docker": false}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("configure moto batch: %s", resp.Status)
	}
}

// operatorBed is the end-to-end bed with a Slurm and an awsbatch cluster
// created by a daemon cycle, and a config file for the operator commands.
type operatorBed struct {
	*bed
	config string
	rev    string
	d      *daemon
}

func newOperatorBed(t *testing.T) *operatorBed {
	t.Helper()
	b := newBed(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // the commands' clone of the repo
	simpleBatch(t, b.server.Endpoint)
	rev := b.repo.Commit(t, "alpha and jobs", map[string]string{
		"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 4),
		"clusters/jobs.yaml":  batchSpec(b.net, "jobs"),
	})
	d := b.start()
	b.cycle(d)
	config := filepath.Join(t.TempDir(), "config.yaml")
	doc := fmt.Sprintf("repo:\n  url: %s\n  branch: main\n  path: clusters\naws:\n  region: %s\n  endpoint: %s\n",
		b.cfg.Repo.URL, moto.Region, b.server.Endpoint)
	if err := os.WriteFile(config, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return &operatorBed{bed: b, config: config, rev: rev, d: d}
}

// cli runs the reconciler with args and returns its output; want is the
// exit code expected.
func (o *operatorBed) cli(want int, args ...string) string {
	o.t.Helper()
	var out, errOut bytes.Buffer
	err := run(o.t.Context(), args, &out, &errOut)
	if code := exitCode(err, &errOut); code != want {
		o.t.Fatalf("reconciler %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out.String(), errOut.String())
	}
	return out.String()
}

func TestOperatorCommands(t *testing.T) {
	o := newOperatorBed(t)

	// list: both clusters, in sync, with head node addresses and sizes.
	var inv inventory.Inventory
	if err := json.Unmarshal([]byte(o.cli(0, "list", "--config", o.config, "--output", "json")), &inv); err != nil {
		t.Fatal(err)
	}
	if inv.Revision != o.rev || len(inv.Clusters) != 2 {
		t.Fatalf("inventory %+v", inv)
	}
	alpha, jobs := inv.Clusters[0], inv.Clusters[1]
	if alpha.Sync != inventory.Synced || alpha.Condition != "Ready" || alpha.HeadNode == nil || alpha.HeadNode.PublicIP == "" ||
		alpha.HeadNode.PrivateIP == "" || alpha.LoginUser != "ec2-user" || len(alpha.Fleet) != 1 || alpha.Fleet[0].Max != 4 {
		t.Errorf("alpha %+v", alpha)
	}
	if jobs.Scheduler != "awsbatch" || jobs.Batch == nil || jobs.Batch.MaxVCPUs != 32 || jobs.Batch.Status != "VALID" || jobs.Sync != inventory.Synced {
		t.Errorf("jobs %+v batch %+v", jobs, jobs.Batch)
	}
	text := o.cli(0, "list", "--config", o.config)
	for _, want := range []string{"CLUSTER", "alpha", "slurm", "CREATE_COMPLETE", "Synced", "Ready", alpha.HeadNode.PublicIP, "1/1/4/1", "0/2/32 vCPUs"} {
		if !strings.Contains(text, want) {
			t.Errorf("list does not show %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\x1b[") {
		t.Errorf("colour into a buffer:\n%q", text)
	}
	if got := o.cli(0, "list", "--names", "--config", o.config); got != "alpha\njobs\n" {
		t.Errorf("list --names: %q", got)
	}

	// status CLUSTER, for people and for scripts.
	text = o.cli(0, "status", "alpha", "--config", o.config)
	for _, want := range []string{"condition:", "Ready", "sync:", "Synced", "login user:", "ec2-user", "driftless-alpha-compute min 1 desired 1 max 4 in service 1", "applied revision:", o.rev[:12]} {
		if !strings.Contains(text, want) {
			t.Errorf("status alpha does not show %q:\n%s", want, text)
		}
	}
	var one inventory.Cluster
	if err := json.Unmarshal([]byte(o.cli(0, "status", "jobs", "--output", "json", "--config", o.config)), &one); err != nil || one.Name != "jobs" {
		t.Errorf("status jobs --output json: %+v %v", one, err)
	}
	o.cli(1, "status", "nosuch", "--config", o.config)

	// With --daemon, the daemon's conditions win: a daemon that found
	// alpha stalled says so, and the AWS side is still read. The handler
	// serves the real reconciler's statuses in the shape of the daemon's
	// /status.
	statuses := o.d.reconciler.Statuses().List()
	statuses[0].Condition, statuses[0].Reason, statuses[0].Message = "Stalled", "ApplyFailed", "throttled by CloudFormation"
	daemonSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/status":
			// The daemon's /status object; only its clusters are read.
			_ = json.NewEncoder(w).Encode(map[string]any{"clusters": statuses})
		case "/metrics":
			fmt.Fprint(w, "# TYPE driftless_scale_nodes gauge\ndriftless_scale_nodes{cluster=\"alpha\",state=\"idle\"} 1\n")
		default:
			http.NotFound(w, r)
		}
	}))
	defer daemonSrv.Close()
	if err := json.Unmarshal([]byte(o.cli(0, "status", "alpha", "--output", "json", "--config", o.config, "--daemon", daemonSrv.URL)), &one); err != nil {
		t.Fatal(err)
	}
	if one.Condition != "Stalled" || one.Message != "throttled by CloudFormation" || one.Idle == nil || *one.Idle != 1 || one.HeadNode == nil {
		t.Errorf("status with --daemon: %+v", one)
	}

	// instances: the head node first, then the compute node.
	var instances []inventory.Instance
	if err := json.Unmarshal([]byte(o.cli(0, "instances", "alpha", "--config", o.config, "--output", "json")), &instances); err != nil {
		t.Fatal(err)
	}
	if len(instances) != 2 || instances[0].Role != inventory.RoleHead || instances[1].Role != inventory.RoleCompute ||
		instances[1].Queue != "compute" || instances[1].State != "running" || instances[1].LaunchTime.IsZero() {
		t.Errorf("instances %+v", instances)
	}
	text = o.cli(0, "instances", "alpha", "--config", o.config)
	if !strings.Contains(text, "head") || !strings.Contains(text, "c5.large") || !strings.Contains(text, instances[0].ID) {
		t.Errorf("instances table:\n%s", text)
	}

	// ssh: ParallelCluster's template by default, the user's arguments
	// passed through, the private address on request.
	got := o.cli(0, "ssh", "--dry-run", "--config", o.config, "alpha", "-L", "8080:localhost:80", "squeue -u $USER")
	want := fmt.Sprintf("ssh ec2-user@%s -L 8080:localhost:80 'squeue -u $USER'\n", alpha.HeadNode.PublicIP)
	if got != want {
		t.Errorf("ssh --dry-run:\n got %q\nwant %q", got, want)
	}
	got = o.cli(0, "ssh", "--dry-run", "--private", "--command", "ssh -i {CLUSTER}.pem {CFN_USER}@{MASTER_IP} {ARGS}", "--config", o.config, "alpha")
	if want := fmt.Sprintf("ssh -i alpha.pem ec2-user@%s\n", alpha.HeadNode.PrivateIP); got != want {
		t.Errorf("ssh --dry-run --private: got %q, want %q", got, want)
	}
	// Without --dry-run the process becomes the command (exec): here echo.
	cmd := reconcilerCmd(t, "ssh", "--config", o.config, "alpha", "uptime")
	cmd.Env = append(cmd.Env, envSSHCommand+"=echo connecting {CFN_USER}@{MASTER_IP} {ARGS}")
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != fmt.Sprintf("connecting ec2-user@%s uptime\n", alpha.HeadNode.PublicIP) {
		t.Errorf("ssh exec: %v: %q", err, out)
	}

	// Colour on a terminal only.
	term := startTerminal(t, "list", "--config", o.config)
	term.expect("alpha")
	if code := term.wait(); code != 0 {
		t.Fatalf("list on a terminal exited %d", code)
	}
	if !strings.Contains(term.buf.String(), "\x1b[32mReady\x1b[0m") {
		t.Errorf("no colour on a terminal:\n%q", term.buf.String())
	}
}

// TestBatchCluster: an awsbatch spec committed to the repo creates its
// compute environment, job queue and job definition; a submitted job shows
// through to SUCCEEDED.
func TestBatchCluster(t *testing.T) {
	o := newOperatorBed(t)
	ctx := t.Context()
	outputs, err := stackOutputs(ctx, o.cfn, "jobs")
	if err != nil {
		t.Fatal(err)
	}
	target, err := batch.TargetFromOutputs("jobs", outputs)
	if err != nil {
		t.Fatal(err)
	}
	bc := awsbatch.NewFromConfig(o.aws)
	ces, err := bc.DescribeComputeEnvironments(ctx, &awsbatch.DescribeComputeEnvironmentsInput{ComputeEnvironments: []string{target.ComputeEnvironment}})
	if err != nil || len(ces.ComputeEnvironments) != 1 {
		t.Fatalf("compute environment %s: %v", target.ComputeEnvironment, err)
	}
	ce := ces.ComputeEnvironments[0]
	if cr := ce.ComputeResources; cr == nil || aws.ToInt32(cr.MaxvCpus) != 32 || string(cr.Type) != "SPOT" || aws.ToInt32(cr.BidPercentage) != 60 {
		t.Errorf("compute resources %+v", ce.ComputeResources)
	}
	qs, err := bc.DescribeJobQueues(ctx, &awsbatch.DescribeJobQueuesInput{JobQueues: []string{target.JobQueue}})
	if err != nil || len(qs.JobQueues) != 1 || string(qs.JobQueues[0].State) != "ENABLED" {
		t.Fatalf("job queue %s: %+v %v", target.JobQueue, qs, err)
	}

	// batch queues shows both.
	text := o.cli(0, "batch", "queues", "jobs", "--config", o.config)
	for _, want := range []string{"driftless-jobs", "ENABLED", "VALID", "32", "c5.large"} {
		if !strings.Contains(text, want) {
			t.Errorf("batch queues does not show %q:\n%s", want, text)
		}
	}

	// submit, then status: SUCCEEDED.
	text = o.cli(0, "batch", "submit", "--config", o.config, "--vcpus", "2", "--memory", "2048", "--env", "STEP=1", "jobs", "--", "echo", "hello world")
	var id string
	if _, err := fmt.Sscanf(text, "Job %s", &id); err != nil || !strings.Contains(text, "(echo) has been submitted") {
		t.Fatalf("submit said %q", text)
	}
	text = o.cli(0, "batch", "status", "jobs", "--status", "ALL", "--config", o.config)
	if line := lineWith(text, id); !strings.Contains(line, "SUCCEEDED") || !strings.Contains(line, "echo") {
		t.Errorf("batch status: job %s not SUCCEEDED:\n%s", id, text)
	}
	// The default listing shows unfinished jobs only: none.
	if text := o.cli(0, "batch", "status", "jobs", "--config", o.config); strings.Contains(text, id) {
		t.Errorf("a finished job in the default listing:\n%s", text)
	}
	var jobs []batch.JobInfo
	if err := json.Unmarshal([]byte(o.cli(0, "batch", "status", "jobs", id, "--output", "json", "--config", o.config)), &jobs); err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].Status != "SUCCEEDED" || jobs[0].Command[2] != "echo 'hello world'" {
		t.Errorf("status of %s: %+v", id, jobs)
	}

	// submit --wait reports the end; an array job lists its children.
	text = o.cli(0, "batch", "submit", "--wait", "--quiet", "--array-size", "3", "--name", "sweep", "--config", o.config, "jobs", "echo $AWS_BATCH_JOB_ARRAY_INDEX")
	if !strings.Contains(text, "(sweep) succeeded") {
		t.Errorf("submit --wait said %q", text)
	}
	text = o.cli(0, "batch", "status", "--status", "SUCCEEDED", "--expand", "--config", o.config, "jobs")
	if strings.Count(text, "sweep") != 4 {
		t.Errorf("array job and its 3 children not listed:\n%s", text)
	}

	// kill: a finished job is left alone; bad input is a usage error.
	if text := o.cli(0, "batch", "kill", "jobs", id, "--config", o.config); !strings.Contains(text, "already finished") {
		t.Errorf("kill said %q", text)
	}
	o.cli(2, "batch", "submit", "--array-size", "1", "--config", o.config, "jobs", "true")
	o.cli(2, "batch", "submit", "--depends-on", "x:LATER", "--config", o.config, "jobs", "true")

	// hosts: none registered with the compute environment's ECS cluster
	// (moto runs no ECS agent); pkg/batch registers one and lists it.
	if text := o.cli(0, "batch", "hosts", "jobs", "--output", "json", "--config", o.config); strings.TrimSpace(text) != "[]" {
		t.Errorf("hosts %q", text)
	}
	// output: the no-container mode logs nothing, so there is nothing to
	// print (pkg/batch writes log events and reads them back).
	o.cli(1, "batch", "output", "jobs", id, "--config", o.config)

	// A Slurm cluster is not a batch target.
	o.cli(1, "batch", "queues", "alpha", "--config", o.config)
}

func lineWith(text, s string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// TestCompletion sources the bash script and completes commands, flags and
// cluster names the way bash would; the zsh script is checked by zsh.
func TestCompletion(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"completion", "bash"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "reconciler.bash")
	if err := os.WriteFile(script, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// A reconciler on $PATH for the script to ask for cluster names: this
	// test binary acting as the command.
	bin := t.TempDir()
	shim := fmt.Sprintf("#!/bin/sh\n%s=1 exec %q -test.run='^TestHelperProcess$' -- \"$@\"\n", envHelper, os.Args[0])
	if err := os.WriteFile(filepath.Join(bin, "reconciler"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	specs := t.TempDir()
	for _, n := range []string{"alpha", "beta"} {
		if err := os.WriteFile(filepath.Join(specs, n+".yaml"), []byte("version: 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	complete := func(line string) string {
		t.Helper()
		words := strings.Fields(line)
		if strings.HasSuffix(line, " ") {
			words = append(words, "")
		}
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, batch.Quote(w))
		}
		prog := fmt.Sprintf(`source %q; COMP_WORDS=(%s); COMP_CWORD=%d; _reconciler; printf '%%s\n' "${COMPREPLY[@]}"`,
			script, strings.Join(quoted, " "), len(words)-1)
		cmd := exec.CommandContext(t.Context(), bash, "-c", prog)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
		got, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", line, err, got)
		}
		return strings.TrimSpace(string(got))
	}
	tests := []struct{ line, want string }{
		{"reconciler st", "status"},
		{"reconciler batch su", "submit"},
		{"reconciler status --out", "--output"},
		{"reconciler batch submit --array", "--array-size"},
		{"reconciler list --output ", "text\njson"},
		{"reconciler completion ", "bash\nzsh"},
		{"reconciler configure --sched", "--scheduler"},
		{"reconciler configure --scheduler aws", "awsbatch"},
	}
	for _, tt := range tests {
		if got := complete(tt.line); got != tt.want {
			t.Errorf("%q completes to %q, want %q", tt.line, got, tt.want)
		}
	}
	// Cluster names come from `reconciler list --names` with the flags on
	// the line. Without AWS at the given endpoint the list is empty, and
	// completion stays quiet rather than printing errors.
	if got := complete("reconciler ssh --repo " + specs + " --region us-east-1 --endpoint http://127.0.0.1:1 "); got != "" {
		t.Errorf("cluster names without AWS: %q", got)
	}

	out.Reset()
	if err := run(t.Context(), []string{"completion", "zsh"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("zsh is not installed; scripts/ci-deps.sh installs it")
		}
		t.Skip("zsh is not installed (apt-get install zsh); the zsh script is not checked")
	}
	zfile := filepath.Join(t.TempDir(), "_reconciler")
	if err := os.WriteFile(zfile, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := exec.CommandContext(t.Context(), zsh, "-n", zfile).CombinedOutput(); err != nil {
		t.Errorf("zsh -n: %v\n%s", err, got)
	}
	check := fmt.Sprintf(`autoload -U compinit && compinit -u -D; source %q; whence -w _reconciler`, zfile)
	if got, err := exec.CommandContext(t.Context(), zsh, "-f", "-c", check).CombinedOutput(); err != nil || !strings.Contains(string(got), "function") {
		t.Errorf("zsh: %v\n%s", err, got)
	}
}
