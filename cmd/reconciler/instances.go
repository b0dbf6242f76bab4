package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/driftless/driftless/pkg/inventory"
	"github.com/driftless/driftless/pkg/scale"
	"github.com/driftless/driftless/pkg/scale/remote"
	"github.com/driftless/driftless/pkg/scale/sge"
	"github.com/driftless/driftless/pkg/scale/slurm"
)

// runInstances is `reconciler instances CLUSTER`: the head node and the
// compute nodes with state, type, addresses and launch time, and with
// --scheduler the scheduler's state of each node.
func runInstances(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("instances", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f clusterFlags
	f.register(fs, true, false)
	withScheduler := fs.Bool("scheduler", false, "ask the scheduler on the head node for each node's state, through the ssh command")
	template := fs.String("command", "", "ssh command template for --scheduler, as for reconciler ssh (default $"+envSSHCommand+", then "+defaultSSHCommand+")")
	private := fs.Bool("private", false, "with --scheduler, reach the head node's private address")
	if err := fs.Parse(interleave(fs, args)); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() != 1 {
		return &exitError{code: 2, err: errors.New("usage: reconciler instances CLUSTER")}
	}
	name := fs.Arg(0)
	s, err := f.open(ctx, stderr)
	if err != nil {
		return err
	}
	// The scheduler is the spec's: the repo is read only to ask it.
	inv, err := s.inventory(ctx, name, *withScheduler)
	if err != nil {
		return err
	}
	c, ok := inv.Find(name)
	if !ok {
		return fmt.Errorf("cluster %s has no stack in %s", name, s.aws.Region)
	}
	if *withScheduler {
		run, err := headRunner(c, cmp.Or(*template, os.Getenv(envSSHCommand), defaultSSHCommand), *private)
		if err != nil {
			return err
		}
		if err := schedulerStates(ctx, c, run); err != nil {
			return err
		}
	}
	if f.output == "json" {
		list := c.Instances
		if list == nil {
			list = []inventory.Instance{}
		}
		return writeJSON(stdout, list)
	}
	color, _ := colorOn(f.color, stdout)
	return writeInstances(stdout, c.Instances, *withScheduler, color)
}

func writeInstances(w io.Writer, list []inventory.Instance, withScheduler, color bool) error {
	header := []string{"INSTANCE", "ROLE", "QUEUE", "STATE", "TYPE", "PUBLIC IP", "PRIVATE IP", "LAUNCHED"}
	if withScheduler {
		header = append(header, "NODE", "SCHEDULER")
	}
	t := &table{header: header}
	for _, in := range list {
		launched := ""
		if !in.LaunchTime.IsZero() {
			launched = in.LaunchTime.Format(time.RFC3339)
		}
		row := []cell{plain(in.ID), plain(string(in.Role)), plain(in.Queue), status(in.State), plain(in.Type),
			plain(in.PublicIP), plain(in.PrivateIP), plain(launched)}
		if withScheduler {
			row = append(row, plain(in.Node), status(in.SchedulerState))
		}
		t.add(row...)
	}
	return t.write(w, color)
}

// templateRunner runs a scheduler's client program on the head node
// through the user's ssh command template: the program and its arguments
// become one quoted command line, run by a login shell there, so the
// scheduler's environment (SGE_ROOT, PATH) is set as it is for a person.
// It is the scale.Runner the fleet loop's adapters take.
type templateRunner struct {
	argv func(line string) ([]string, error)
}

var _ scale.Runner = templateRunner{}

func (r templateRunner) Run(ctx context.Context, stdin io.Reader, name string, args ...string) ([]byte, error) {
	line := "bash -lc " + remote.Quote(remote.Command(nil, name, args...))
	argv, err := r.argv(line)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		return out.Bytes(), fmt.Errorf("%s on the head node: %w: %s", name, err, msg[max(0, len(msg)-512):])
	}
	return out.Bytes(), nil
}

// headRunner is a templateRunner for a cluster's head node.
func headRunner(c *inventory.Cluster, tmpl string, private bool) (templateRunner, error) {
	h := c.HeadNode
	if h == nil {
		return templateRunner{}, fmt.Errorf("cluster %s has no head node to ask", c.Name)
	}
	host := h.PublicIP
	if host == "" || private {
		host = h.PrivateIP
	}
	values := map[string]string{
		"CFN_USER": cmp.Or(c.LoginUser, "ec2-user"), "MASTER_IP": host, "PRIVATE_IP": h.PrivateIP, "CLUSTER": c.Name,
	}
	if _, err := expandSSH(tmpl, values, nil); err != nil {
		return templateRunner{}, &exitError{code: 2, err: err}
	}
	return templateRunner{argv: func(line string) ([]string, error) {
		return expandSSH(tmpl, values, []string{line})
	}}, nil
}

// schedulerStates asks the cluster's scheduler for its nodes and puts each
// node's name and state on the instance behind it, matched the way the
// fleet loop matches them (instance id, hostname or address).
func schedulerStates(ctx context.Context, c *inventory.Cluster, run scale.Runner) error {
	var sched scale.Scheduler
	switch c.Scheduler {
	case "":
		return fmt.Errorf("cluster %s: its scheduler is not known without its spec; pass --repo or --config", c.Name)
	case "slurm":
		s, err := slurm.New(run, nil)
		if err != nil {
			return err
		}
		sched = s
	case "sge":
		sched = sge.New(run, sge.Options{})
	default:
		return fmt.Errorf("cluster %s: the %s scheduler's node states are not read (slurm and sge are); for awsbatch see reconciler batch hosts", c.Name, c.Scheduler)
	}
	state, err := sched.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("cluster %s: read the scheduler: %w", c.Name, err)
	}
	groups := map[string]*scale.Group{}
	var order []string
	for _, in := range c.Instances {
		if in.Role != inventory.RoleCompute {
			continue
		}
		g, ok := groups[in.Group]
		if !ok {
			g = &scale.Group{Name: in.Group}
			groups[in.Group] = g
			order = append(order, in.Group)
		}
		g.Instances = append(g.Instances, scale.Instance{ID: in.ID, PrivateDNSName: in.PrivateDNS, PrivateIP: in.PrivateIP})
	}
	var list []scale.Group
	for _, name := range order {
		list = append(list, *groups[name])
	}
	byGroup, _ := scale.MapNodes(state.Nodes, list)
	nodes := map[string]scale.Node{}
	for _, ns := range byGroup {
		for _, n := range ns {
			nodes[n.InstanceID] = n
		}
	}
	for i := range c.Instances {
		if n, ok := nodes[c.Instances[i].ID]; ok {
			c.Instances[i].Node, c.Instances[i].SchedulerState = n.Name, string(n.State)
		}
	}
	return nil
}
