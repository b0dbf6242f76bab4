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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/driftless/driftless/pkg/render"
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
	// HostKeys reads the host key each head node publishes at boot
	// (render.HeadNodeHostKeyParameter), from which the daemon builds the
	// head node's known_hosts line; used when SSH.KnownHostsFile is empty.
	HostKeys Parameters
	// Env is set for every scheduler command, as NAME=value (SLURM_CONF,
	// SGE_ROOT, SGE_CELL, PATH).
	Env []string
}

// SSH is the daemon's SSH identity towards head nodes. Host keys are always
// checked, against KnownHostsFile or the key the head node published;
// there is no way to turn that off.
type SSH struct {
	// User logs in; empty takes the cluster's login user (the stack's
	// LoginUser output).
	User string
	// Port is sshd's port; 22 when zero.
	Port int
	// KeyFile is the private key, read at each connection so a rotated
	// key takes effect at the next one.
	KeyFile string
	// KnownHostsFile holds the head nodes' host keys; when empty, each
	// head node's published key is used (Transport.HostKeys).
	KnownHostsFile string
	// DialTimeout bounds connecting; 10 s when zero.
	DialTimeout time.Duration
}

// ErrNoTransport says the daemon has no way to reach a head node: neither
// SSH credentials nor the local transport are configured.
var ErrNoTransport = errors.New("no way to reach the head node: set an SSH key, or run on the head node with the local transport")

// ErrNoHostKey says the head node's host key is not known: it has not
// published one (yet), and no known_hosts file is configured. The daemon
// does not connect to a head node it cannot authenticate.
var ErrNoHostKey = errors.New("the head node's SSH host key is not published")

// Parameters is the SSM call that reads a head node's published host key;
// *ssm.Client satisfies it.
type Parameters interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

var _ Parameters = (*ssm.Client)(nil)

// KnownHostsLine reads the host key the head node of cluster published
// (SSM parameter render.HeadNodeHostKeyParameter, written by its
// bootstrap with the node's IAM role, the only writer IAM allows) and
// returns the known_hosts line that binds it to addr, host:port of the
// head node's private address.
func KnownHostsLine(ctx context.Context, p Parameters, cluster, addr string) (string, error) {
	name := render.HeadNodeHostKeyParameter(cluster)
	out, err := p.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	var nf *ssmtypes.ParameterNotFound
	if errors.As(err, &nf) {
		return "", fmt.Errorf("%w: SSM parameter %s does not exist", ErrNoHostKey, name)
	}
	if err != nil {
		return "", fmt.Errorf("read SSM parameter %s: %w", name, err)
	}
	if out.Parameter == nil || aws.ToString(out.Parameter.Value) == "" {
		return "", fmt.Errorf("%w: SSM parameter %s is empty", ErrNoHostKey, name)
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(aws.ToString(out.Parameter.Value)))
	if err != nil {
		return "", fmt.Errorf("SSM parameter %s holds no SSH public key: %w", name, err)
	}
	return knownhosts.Line([]string{addr}, key), nil
}

// Connect reaches the target's scheduler and returns its adapter and what
// to close when the loop stops. Without a known_hosts file it reads the
// head node's published host key, and fails when there is none; the SSH
// connection itself is opened by the first command.
func (tr Transport) Connect(ctx context.Context, t Target) (scale.Scheduler, io.Closer, error) {
	var run scale.Runner
	var closer io.Closer = nopCloser{}
	switch {
	case tr.Local:
		run = &remote.Local{Env: tr.Env}
	case tr.SSH.KeyFile == "" || tr.SSH.KnownHostsFile == "" && tr.HostKeys == nil:
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
		addr := net.JoinHostPort(t.HeadNode, strconv.Itoa(port))
		cfg := remote.SSHConfig{
			Addr: addr, User: user, Key: key,
			KnownHosts: tr.SSH.KnownHostsFile, Env: tr.Env, DialTimeout: tr.SSH.DialTimeout,
		}
		if cfg.KnownHosts == "" {
			// Read now, so that a head node without a published key
			// fails the connect step; and again at every new
			// connection, so that a head node replaced at the same
			// address is known by its new key.
			if _, err := KnownHostsLine(ctx, tr.HostKeys, t.Cluster, addr); err != nil {
				return nil, nil, err
			}
			cfg.HostKeysFunc = func(ctx context.Context) ([]byte, error) {
				line, err := KnownHostsLine(ctx, tr.HostKeys, t.Cluster, addr)
				return []byte(line + "\n"), err
			}
		}
		s, err := remote.NewSSH(cfg)
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
