package remote

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/driftless/driftless/pkg/scale"
)

var _ scale.Runner = (*Local)(nil)

// Local runs commands on this machine.
type Local struct {
	// Env is added to the daemon's environment (SLURM_CONF, SGE_ROOT...).
	Env []string
}

// Run runs name with args and returns its standard output. A command that
// fails returns an error with the end of its standard error.
func (l *Local) Run(ctx context.Context, stdin io.Reader, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), l.Env...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), commandError(name, args, err, stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

// commandError names the command and keeps the last lines of its
// standard error, which is where the scheduler explains itself.
func commandError(name string, args []string, err error, stderr []byte) error {
	msg := strings.TrimSpace(string(stderr))
	if len(msg) > 512 {
		msg = "..." + msg[len(msg)-512:]
	}
	cmdline := strings.TrimSpace(name + " " + strings.Join(args, " "))
	if msg == "" {
		return fmt.Errorf("%s: %w", cmdline, err)
	}
	return fmt.Errorf("%s: %w: %s", cmdline, err, msg)
}
