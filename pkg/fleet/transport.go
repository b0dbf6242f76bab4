package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/driftless/driftless/pkg/scale"
	"github.com/driftless/driftless/pkg/scale/remote"
	"github.com/driftless/driftless/pkg/scale/sge"
	"github.com/driftless/driftless/pkg/scale/slurm"
	"github.com/driftless/driftless/pkg/scale/torque"
)

// SGEInstanceComplex is the Grid Engine host complex a compute node's boot
// script sets to its instance id, which maps hosts to instances.
const SGEInstanceComplex = "instance_id"

// Transport says how the daemon reaches the scheduler's client programs on
// a cluster's head node.
type Transport struct {
	// Local runs them on this machine: a daemon that runs on the head
	// node of the one cluster it manages.
	Local bool
	// SSH reaches every other head node at its private address.
	SSH SSH
	// Env is set for every scheduler command, as NAME=value (SLURM_CONF,
	// SGE_ROOT, SGE_CELL, PATH).
	Env []string
}

// SSH is the daemon's SSH identity towards head nodes. Host keys are always
// checked against KnownHostsFile; there is no way to turn that off.
type SSH struct {
	// User logs in; empty takes the cluster's login user (the stack's
	// LoginUser output).
	User string
	// Port is sshd's port; 22 when zero.
	Port int
	// KeyFile is the private key, read at each connection so a rotated
	// key takes effect at the next one.
	KeyFile string
	// KnownHostsFile holds the head nodes' host keys.
	KnownHostsFile string
	// DialTimeout bounds connecting; 10 s when zero.
	DialTimeout time.Duration
}

// ErrNoTransport says the daemon has no way to reach a head node: neither
// SSH credentials nor the local transport are configured.
var ErrNoTransport = errors.New("no way to reach the head node: set an SSH key and known_hosts file, or run on the head node with the local transport")

// Connect reaches the target's scheduler and returns its adapter and what
// to close when the loop stops. It does not touch the network: an SSH
// connection is opened by the first command.
func (tr Transport) Connect(_ context.Context, t Target) (scale.Scheduler, io.Closer, error) {
	var run scale.Runner
	var closer io.Closer = nopCloser{}
	switch {
	case tr.Local:
		run = &remote.Local{Env: tr.Env}
	case tr.SSH.KeyFile == "" || tr.SSH.KnownHostsFile == "":
		return nil, nil, ErrNoTransport
	case t.HeadNode == "":
		return nil, nil, fmt.Errorf("the stack has no %s output: the head node's address is unknown", OutputHeadNodePrivateIP)
	default:
		key, err := os.ReadFile(tr.SSH.KeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("ssh key: %w", err)
		}
		port := tr.SSH.Port
		if port == 0 {
			port = 22
		}
		user := tr.SSH.User
		if user == "" {
			user = t.LoginUser
		}
		if user == "" {
			return nil, nil, fmt.Errorf("no SSH user: set one, or give the stack a %s output", OutputLoginUser)
		}
		s, err := remote.NewSSH(remote.SSHConfig{
			Addr: net.JoinHostPort(t.HeadNode, strconv.Itoa(port)), User: user, Key: key,
			KnownHosts: tr.SSH.KnownHostsFile, Env: tr.Env, DialTimeout: tr.SSH.DialTimeout,
		})
		if err != nil {
			return nil, nil, err
		}
		run, closer = s, s
	}
	sched, err := NewScheduler(t.Scheduler, run)
	if err != nil {
		closer.Close()
		return nil, nil, err
	}
	return sched, closer, nil
}

// NewScheduler makes the adapter of a scheduler over a runner.
func NewScheduler(name string, run scale.Runner) (scale.Scheduler, error) {
	switch name {
	case Slurm:
		return slurm.New(run, nil)
	case SGE:
		return sge.New(run, sge.Options{InstanceComplex: SGEInstanceComplex}), nil
	case Torque:
		return torque.New(run), nil
	}
	return nil, fmt.Errorf("no fleet loop for scheduler %q", name)
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
