package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/driftless/driftless/pkg/batch"
	"github.com/driftless/driftless/pkg/inventory"
	"github.com/driftless/driftless/pkg/render"
)

// defaultSSHCommand is ParallelCluster's ssh alias, placeholders and all.
const defaultSSHCommand = "ssh {CFN_USER}@{MASTER_IP} {ARGS}"

// envSSHCommand names the environment variable that replaces the default
// command template, as ParallelCluster's [aliases] ssh = ... did.
const envSSHCommand = "DRIFTLESS_SSH_COMMAND"

// execFunc replaces the process with a program; syscall.Exec in main.
type execFunc func(argv0 string, argv []string, env []string) error

// execProgram finds name on $PATH and replaces this process with it, so
// the user's ssh owns the terminal, its signals and its exit status.
func execProgram(argv0 string, argv []string, env []string) error {
	path, err := exec.LookPath(argv0)
	if err != nil {
		return err
	}
	return syscall.Exec(path, argv, env)
}

// runSSH is `reconciler ssh CLUSTER [ARGS]`.
func runSSH(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return sshCommand(ctx, args, stdout, stderr, execProgram)
}

func sshCommand(ctx context.Context, args []string, stdout, stderr io.Writer, run execFunc) error {
	fs := flag.NewFlagSet("ssh", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f clusterFlags
	f.register(fs, false, false)
	template := fs.String("command", "", "command template (default $"+envSSHCommand+", then "+defaultSSHCommand+`); placeholders {CFN_USER} {MASTER_IP} {PRIVATE_IP} {CLUSTER} {ARGS}`)
	dryRun := fs.Bool("dry-run", false, "print the command instead of running it")
	private := fs.Bool("private", false, "connect to the head node's private address even when it has a public one")
	// Flags stop at the cluster name; everything after it is ssh's.
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() < 1 {
		return &exitError{code: 2, err: errors.New("usage: reconciler ssh [flags] CLUSTER [ARGS...]")}
	}
	name, extra := fs.Arg(0), fs.Args()[1:]
	tmpl := cmp.Or(*template, os.Getenv(envSSHCommand), defaultSSHCommand)
	s, err := f.open(ctx, stderr)
	if err != nil {
		return err
	}
	outputs, err := stackOutputs(ctx, cloudformation.NewFromConfig(s.aws), name)
	if err != nil {
		return err
	}
	host := outputs[inventory.OutputHeadNodePublicIP]
	if host == "" || *private {
		host = outputs[inventory.OutputHeadNodePrivateIP]
	}
	if host == "" {
		return fmt.Errorf("cluster %s: its stack names no head node address", name)
	}
	argv, err := expandSSH(tmpl, map[string]string{
		"CFN_USER":   cmp.Or(outputs[inventory.OutputLoginUser], "ec2-user"),
		"MASTER_IP":  host,
		"PRIVATE_IP": outputs[inventory.OutputHeadNodePrivateIP],
		"CLUSTER":    name,
	}, extra)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if *dryRun {
		quoted := make([]string, len(argv))
		for i, a := range argv {
			quoted[i] = batch.Quote(a)
		}
		_, err := fmt.Fprintln(stdout, strings.Join(quoted, " "))
		return err
	}
	if err := run(argv[0], argv, os.Environ()); err != nil {
		return fmt.Errorf("run %s: %w", argv[0], err)
	}
	return nil
}

// stackOutputs reads one cluster's stack outputs with one DescribeStacks.
func stackOutputs(ctx context.Context, cfn *cloudformation.Client, cluster string) (map[string]string, error) {
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(render.StackName(cluster))})
	if err != nil {
		return nil, fmt.Errorf("cluster %s: describe stack %s: %w", cluster, render.StackName(cluster), err)
	}
	if len(out.Stacks) == 0 {
		return nil, fmt.Errorf("cluster %s: no stack %s", cluster, render.StackName(cluster))
	}
	outputs := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return outputs, nil
}

// expandSSH turns a command template into argv. The template is split on
// spaces first, so a substituted value is always one argument and never
// reaches a shell; {ARGS} standing alone becomes the user's arguments,
// each its own argument.
func expandSSH(tmpl string, values map[string]string, args []string) ([]string, error) {
	var argv []string
	for _, word := range strings.Fields(tmpl) {
		if word == "{ARGS}" {
			argv = append(argv, args...)
			continue
		}
		var b strings.Builder
		rest := word
		for {
			i := strings.IndexByte(rest, '{')
			if i < 0 {
				b.WriteString(rest)
				break
			}
			j := strings.IndexByte(rest[i:], '}')
			if j < 0 {
				return nil, fmt.Errorf("ssh command template %q: unclosed {", tmpl)
			}
			key := rest[i+1 : i+j]
			v, ok := values[key]
			if !ok {
				if key == "ARGS" {
					return nil, fmt.Errorf("ssh command template %q: {ARGS} must be a word of its own", tmpl)
				}
				return nil, fmt.Errorf("ssh command template %q: unknown placeholder {%s}", tmpl, key)
			}
			b.WriteString(rest[:i])
			b.WriteString(v)
			rest = rest[i+j+1:]
		}
		argv = append(argv, b.String())
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("ssh command template %q is empty", tmpl)
	}
	return argv, nil
}
