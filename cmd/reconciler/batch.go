package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/driftless/driftless/pkg/batch"
)

const batchUsage = `usage: reconciler batch COMMAND [flags] CLUSTER ...

commands (what ParallelCluster's awsb* tools did):
  submit  [flags] CLUSTER COMMAND [ARGS...]  submit a command as a job (awsbsub)
  status  [flags] CLUSTER [JOBID...]         list jobs by status, or show jobs (awsbstat)
  output  [flags] CLUSTER JOBID              print a job's output from CloudWatch Logs (awsbout)
  kill    [flags] CLUSTER JOBID...           cancel or terminate jobs (awsbkill)
  queues  [flags] CLUSTER                    show the job queue and compute environment (awsbqueues)
  hosts   [flags] CLUSTER                    list the compute environment's instances (awsbhosts)

Every command takes the cluster flags (--region, --endpoint, --profile, --config)
and --output json.
`

// runBatch is `reconciler batch ...`.
func runBatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, batchUsage)
		return &exitError{code: 2}
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "submit":
		return batchSubmit(ctx, rest, stdout, stderr)
	case "status":
		return batchStatus(ctx, rest, stdout, stderr)
	case "output":
		return batchOutput(ctx, rest, stdout, stderr)
	case "kill":
		return batchKill(ctx, rest, stdout, stderr)
	case "queues":
		return batchQueues(ctx, rest, stdout, stderr)
	case "hosts":
		return batchHosts(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, batchUsage)
		return nil
	}
	fmt.Fprint(stderr, batchUsage)
	return &exitError{code: 2, err: fmt.Errorf("unknown batch command %q", sub)}
}

// batchSession is a cluster's Batch target and the clients to reach it.
type batchSession struct {
	*session
	target batch.Target
	client *awsbatch.Client
	color  bool
}

func openBatch(ctx context.Context, f *clusterFlags, cluster string, stdout, stderr io.Writer) (*batchSession, error) {
	s, err := f.open(ctx, stderr)
	if err != nil {
		return nil, err
	}
	outputs, err := stackOutputs(ctx, cloudformation.NewFromConfig(s.aws), cluster)
	if err != nil {
		return nil, err
	}
	t, err := batch.TargetFromOutputs(cluster, outputs)
	if err != nil {
		return nil, err
	}
	color, _ := colorOn(f.color, stdout)
	return &batchSession{session: s, target: t, client: awsbatch.NewFromConfig(s.aws), color: color}, nil
}

func newBatchFlags(name string, stderr io.Writer) (*flag.FlagSet, *clusterFlags) {
	fs := flag.NewFlagSet("batch "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &clusterFlags{}
	f.register(fs, true, false)
	return fs, f
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

var unsafeJobName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// jobName is the default name of a job: the command's program, as awsbsub
// named jobs, made safe for Batch.
func jobName(command []string) string {
	fields := strings.Fields(command[0])
	if len(fields) == 0 {
		return "job"
	}
	n := unsafeJobName.ReplaceAllString(path.Base(fields[0]), "-")
	n = strings.Trim(n, "-")
	if n == "" {
		return "job"
	}
	return n[:min(len(n), 128)]
}

func batchSubmit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f := newBatchFlags("submit", stderr)
	var js batch.JobSpec
	var deps, env listFlag
	fs.StringVar(&js.Name, "name", "", "job name (default: the command's program)")
	fs.IntVar(&js.VCPUs, "vcpus", 0, "vCPUs per node (default: the job definition's, 1)")
	fs.IntVar(&js.MemoryMiB, "memory", 0, "memory per node in MiB (default: the job definition's, 1024)")
	fs.IntVar(&js.Nodes, "nodes", 1, "nodes of a multi-node parallel job")
	fs.IntVar(&js.ArraySize, "array-size", 0, "run an array job of this many children (2 to 10000)")
	fs.Var(&deps, "depends-on", "JOBID or JOBID:N_TO_N or JOBID:SEQUENTIAL; repeat for several")
	fs.DurationVar(&js.Timeout, "timeout", 0, "end an attempt that runs longer (at least 1m)")
	fs.IntVar(&js.Retries, "retries", 0, "attempts after the first (0 to 9)")
	fs.Var(&env, "env", "KEY=VALUE added to the job's environment; repeat for several")
	wait := fs.Bool("wait", false, "wait until the job finishes, showing its status; exit 1 if it failed")
	quiet := fs.Bool("quiet", false, "no progress while waiting")
	// Flags stop at the cluster name: the command's own flags are its.
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() < 2 {
		return &exitError{code: 2, err: errors.New("usage: reconciler batch submit [flags] CLUSTER COMMAND [ARGS...]")}
	}
	cluster, command := fs.Arg(0), fs.Args()[1:]
	if command[0] == "--" {
		command = command[1:]
	}
	if len(command) == 0 {
		return &exitError{code: 2, err: errors.New("no command to submit")}
	}
	js.Command = command
	if js.Name == "" {
		js.Name = jobName(command)
	}
	for _, d := range deps {
		dep, err := batch.ParseDependency(d)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		js.DependsOn = append(js.DependsOn, dep)
	}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return &exitError{code: 2, err: fmt.Errorf("--env %q: want KEY=VALUE", kv)}
		}
		if js.Env == nil {
			js.Env = map[string]string{}
		}
		js.Env[k] = v
	}
	if err := js.Validate(); err != nil {
		return &exitError{code: 2, err: err}
	}
	bs, err := openBatch(ctx, f, cluster, stdout, stderr)
	if err != nil {
		return err
	}
	job, err := batch.Submit(ctx, bs.client, bs.target, js)
	if err != nil {
		return err
	}
	if !*wait {
		if f.output == "json" {
			return writeJSON(stdout, job)
		}
		fmt.Fprintf(stdout, "Job %s (%s) has been submitted.\n", job.ID, job.Name)
		return nil
	}
	p := newProgress(stderr, *quiet)
	done, err := batch.Wait(ctx, bs.client, batch.RealClock{}, 5*time.Second, job.ID, func(j batch.JobInfo) {
		p.update(fmt.Sprintf("job %s (%s): %s", j.ID, j.Name, paint(isTerminal(stderr), conditionColor(j.Status), j.Status)))
	})
	p.done()
	if err != nil {
		return err
	}
	if f.output == "json" {
		if err := writeJSON(stdout, done); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "Job %s (%s) %s.\n", done.ID, done.Name, strings.ToLower(done.Status))
	}
	if done.Status == "FAILED" {
		return &exitError{code: 1, err: fmt.Errorf("job %s failed: %s", done.ID, done.StatusReason)}
	}
	return nil
}

func batchStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f := newBatchFlags("status", stderr)
	statuses := fs.String("status", "", "comma-separated statuses to list, or ALL (default: the unfinished ones)")
	expand := fs.Bool("expand", false, "also list the children of array and multi-node jobs")
	if err := fs.Parse(interleave(fs, args)); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() < 1 {
		return &exitError{code: 2, err: errors.New("usage: reconciler batch status [flags] CLUSTER [JOBID...]")}
	}
	want, err := parseStatuses(*statuses)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	bs, err := openBatch(ctx, f, fs.Arg(0), stdout, stderr)
	if err != nil {
		return err
	}
	var jobs []batch.JobInfo
	if ids := fs.Args()[1:]; len(ids) > 0 {
		jobs, err = batch.Describe(ctx, bs.client, ids...)
	} else {
		jobs, err = batch.List(ctx, bs.client, bs.target.JobQueue, want...)
	}
	if err != nil {
		return err
	}
	if *expand {
		var all []batch.JobInfo
		for _, j := range jobs {
			all = append(all, j)
			children, err := batch.Children(ctx, bs.client, j)
			if err != nil {
				return err
			}
			all = append(all, children...)
		}
		jobs = all
	}
	if f.output == "json" {
		if jobs == nil {
			jobs = []batch.JobInfo{}
		}
		return writeJSON(stdout, jobs)
	}
	t := &table{header: []string{"JOB ID", "NAME", "STATUS", "CREATED", "STARTED", "DURATION", "EXIT", "NODES", "ARRAY"}}
	for _, j := range jobs {
		exit := ""
		if j.ExitCode != nil {
			exit = strconv.Itoa(int(*j.ExitCode))
		}
		t.add(plain(j.ID), plain(j.Name), status(j.Status), plain(stamp(j.Created)), plain(stamp(j.Started)),
			plain(duration(j)), plain(exit), plain(count(j.Nodes)), plain(count(j.ArraySize)))
	}
	return t.write(stdout, bs.color)
}

func parseStatuses(s string) ([]string, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "":
		return batch.Active, nil
	case "ALL":
		return batch.Statuses, nil
	}
	var out []string
	for _, st := range strings.Split(strings.ToUpper(s), ",") {
		st = strings.TrimSpace(st)
		if !contains(batch.Statuses, st) {
			return nil, fmt.Errorf("--status %q: each must be one of %s, or ALL", s, strings.Join(batch.Statuses, ", "))
		}
		out = append(out, st)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func duration(j batch.JobInfo) string {
	if j.Started.IsZero() {
		return ""
	}
	end := j.Stopped
	if end.IsZero() {
		end = time.Now()
	}
	return end.Sub(j.Started).Round(time.Second).String()
}

func count(n int) string {
	if n <= 1 {
		return ""
	}
	return strconv.Itoa(n)
}

func batchOutput(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f := newBatchFlags("output", stderr)
	var o batch.OutputOptions
	fs.IntVar(&o.Head, "head", 0, "print only the first N lines")
	fs.IntVar(&o.Tail, "tail", 0, "print only the last N lines")
	fs.BoolVar(&o.Follow, "follow", false, "keep printing until the job finishes")
	fs.StringVar(&o.Group, "log-group", batch.LogGroup, "CloudWatch Logs group of the job's output")
	if err := fs.Parse(interleave(fs, args)); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() != 2 {
		return &exitError{code: 2, err: errors.New("usage: reconciler batch output [flags] CLUSTER JOBID")}
	}
	if o.Head > 0 && o.Tail > 0 {
		return &exitError{code: 2, err: errors.New("--head and --tail exclude each other")}
	}
	bs, err := openBatch(ctx, f, fs.Arg(0), stdout, stderr)
	if err != nil {
		return err
	}
	o.Every, o.Clock = 5*time.Second, batch.RealClock{}
	return batch.Output(ctx, cloudwatchlogs.NewFromConfig(bs.aws), bs.client, fs.Arg(1), stdout, o)
}

func batchKill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f := newBatchFlags("kill", stderr)
	reason := fs.String("reason", "", "reason recorded on the job")
	if err := fs.Parse(interleave(fs, args)); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() < 2 {
		return &exitError{code: 2, err: errors.New("usage: reconciler batch kill [flags] CLUSTER JOBID...")}
	}
	bs, err := openBatch(ctx, f, fs.Arg(0), stdout, stderr)
	if err != nil {
		return err
	}
	killed, err := batch.Kill(ctx, bs.client, *reason, fs.Args()[1:]...)
	if f.output == "json" && err == nil {
		return writeJSON(stdout, killed)
	}
	for _, k := range killed {
		switch k.Action {
		case "none":
			fmt.Fprintf(stdout, "Job %s had already finished (%s).\n", k.ID, k.Status)
		default:
			fmt.Fprintf(stdout, "Job %s %s (was %s).\n", k.ID, k.Action, k.Status)
		}
	}
	return err
}

func batchQueues(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f := newBatchFlags("queues", stderr)
	if err := fs.Parse(interleave(fs, args)); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() != 1 {
		return &exitError{code: 2, err: errors.New("usage: reconciler batch queues [flags] CLUSTER")}
	}
	bs, err := openBatch(ctx, f, fs.Arg(0), stdout, stderr)
	if err != nil {
		return err
	}
	q, err := batch.Queue(ctx, bs.client, bs.target.JobQueue)
	if err != nil {
		return err
	}
	if f.output == "json" {
		return writeJSON(stdout, q)
	}
	t := &table{header: []string{"QUEUE", "STATE", "STATUS", "PRIORITY", "REASON"}}
	t.add(plain(q.Name), status(q.State), status(q.Status), plain(strconv.Itoa(q.Priority)), plain(q.StatusReason))
	if err := t.write(stdout, bs.color); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	ct := &table{header: []string{"COMPUTE ENVIRONMENT", "TYPE", "STATE", "STATUS", "MIN vCPUs", "DESIRED", "MAX", "INSTANCE TYPES"}}
	for _, e := range q.Environments {
		ct.add(plain(e.Name), plain(e.Type), status(e.State), status(e.Status), plain(strconv.Itoa(e.MinVCPUs)),
			plain(strconv.Itoa(e.DesiredVCPUs)), plain(strconv.Itoa(e.MaxVCPUs)), plain(strings.Join(e.InstanceTypes, ",")))
	}
	return ct.write(stdout, bs.color)
}

func batchHosts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f := newBatchFlags("hosts", stderr)
	if err := fs.Parse(interleave(fs, args)); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() != 1 {
		return &exitError{code: 2, err: errors.New("usage: reconciler batch hosts [flags] CLUSTER")}
	}
	bs, err := openBatch(ctx, f, fs.Arg(0), stdout, stderr)
	if err != nil {
		return err
	}
	hosts, err := batch.Hosts(ctx, bs.client, ecs.NewFromConfig(bs.aws), ec2.NewFromConfig(bs.aws), bs.target.ComputeEnvironment)
	if err != nil {
		return err
	}
	if f.output == "json" {
		if hosts == nil {
			hosts = []batch.Host{}
		}
		return writeJSON(stdout, hosts)
	}
	t := &table{header: []string{"INSTANCE", "TYPE", "STATE", "PRIVATE IP", "PUBLIC IP", "AGENT", "RUNNING", "PENDING", "CPU free/total", "MEMORY free/total MiB"}}
	for _, h := range hosts {
		t.add(plain(h.InstanceID), plain(h.Type), status(h.State), plain(h.PrivateIP), plain(h.PublicIP), status(h.Agent),
			plain(strconv.Itoa(h.RunningJobs)), plain(strconv.Itoa(h.PendingJobs)),
			plain(fmt.Sprintf("%d/%d", h.FreeCPUs, h.CPUs)), plain(fmt.Sprintf("%d/%d", h.FreeMemoryMi, h.MemoryMiB)))
	}
	return t.write(stdout, bs.color)
}
