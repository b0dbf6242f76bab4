// Command reconciler keeps HPC clusters on AWS as a git repository
// declares them. See README.md for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// exitError carries a specific exit code out of run.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err once and maps it to the process's exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "reconciler:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "reconciler:", err)
	return 1
}

const usage = `usage: reconciler COMMAND [flags]

commands:
  run       --config FILE   run the daemon: reconcile every poll interval
  apply     --config FILE   run one cycle, then exit
  plan      --config FILE   show what the next cycle would do (exit 0: no changes, 2: changes, 1: error)
  validate  PATH...         check spec files or directories (exit 1 when any is invalid)
  render    FILE            print the CloudFormation template of one spec
  import    FILE --out DIR  turn a ParallelCluster 2.x / CfnCluster config into specs
  version                   print the version

operator's terminal (read-only but for configure, which writes a spec file, and batch):
  configure [flags]         ask for region, key pair, VPC, subnet, scheduler, sizes; write a spec
  list      [flags]         every declared and live cluster, one line each
  status    [CLUSTER]       every detail of one cluster, or of each
  instances CLUSTER         the cluster's instances: state, type, addresses, launch time
  ssh       CLUSTER [ARGS]  ssh to the head node as the login user (--dry-run prints the command)
  batch     COMMAND         AWS Batch clusters: submit, status, output, kill, queues, hosts
  completion bash|zsh       print a shell completion script
`

// run is the whole program behind main, so tests can drive it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{code: 2}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return runDaemon(ctx, rest, stdout, stderr)
	case "apply":
		return runApply(ctx, rest, stdout, stderr)
	case "plan":
		return runPlan(ctx, rest, stdout, stderr)
	case "validate":
		return runValidate(ctx, rest, stdout, stderr)
	case "render":
		return runRender(ctx, rest, stdout, stderr)
	case "import":
		return runImport(ctx, rest, stdout, stderr)
	case "configure":
		return runConfigure(ctx, rest, stdout, stderr)
	case "list":
		return runList(ctx, rest, stdout, stderr)
	case "status":
		return runStatus(ctx, rest, stdout, stderr)
	case "instances":
		return runInstances(ctx, rest, stdout, stderr)
	case "ssh":
		return runSSH(ctx, rest, stdout, stderr)
	case "batch":
		return runBatch(ctx, rest, stdout, stderr)
	case "completion":
		return runCompletion(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "reconciler", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return &exitError{code: 2, err: fmt.Errorf("unknown command %q", cmd)}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"
