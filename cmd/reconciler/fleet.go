package main

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/awsclient"
	"github.com/driftless/driftless/pkg/fleet"
	"github.com/driftless/driftless/pkg/reconcile"
	"github.com/driftless/driftless/pkg/scale"
	"github.com/driftless/driftless/pkg/scale/asgfleet"
	batchobs "github.com/driftless/driftless/pkg/scale/awsbatch"
)

// FleetConfig is the fleet loop's part of the daemon config: how often it
// runs and how it reaches head nodes.
type FleetConfig struct {
	// Enabled runs a fleet loop for every live cluster; on unless set to
	// false.
	Enabled *bool `yaml:"enabled"`
	// Interval is how often each cluster's loop runs (60s). A loop also
	// runs when an idle node reaches its idle time.
	Interval time.Duration `yaml:"interval"`
	// Transport is how head nodes are reached: ssh (the default) to each
	// head node's private address, or local when the daemon runs on the
	// head node of the one cluster it manages.
	Transport string `yaml:"transport"`
	// SSH is the daemon's SSH identity towards head nodes.
	SSH FleetSSHConfig `yaml:"ssh"`
	// Env is set for every scheduler command, as NAME=value (SGE_ROOT,
	// SGE_CELL, SLURM_CONF, PATH): a non-interactive SSH session does
	// not read the login shell's profile.
	Env []string `yaml:"env"`
	// DrainTimeout bounds the wait for jobs on nodes drained before an
	// approved change stops the fleet (2h); past it the cluster is
	// Blocked and its jobs run on.
	DrainTimeout time.Duration `yaml:"drainTimeout"`
}

// FleetSSHConfig names the key and known_hosts files; the config never
// holds a key itself.
type FleetSSHConfig struct {
	// User logs in; empty takes each cluster's login user.
	User string `yaml:"user"`
	// Port is sshd's port (22).
	Port int `yaml:"port"`
	// KeyFile is the private key: that of the key pair the clusters'
	// head nodes are launched with (headNode.keyPair), which EC2
	// installs for the login user.
	KeyFile string `yaml:"keyFile"`
	// KnownHostsFile, if set, holds the head nodes' host keys. Without
	// it each head node's key is the one it published to SSM at boot
	// (/driftless/<cluster>/head-node/host-key). Host keys are always
	// checked.
	KnownHostsFile string `yaml:"knownHostsFile"`
}

// The values of fleet.transport.
const (
	transportSSH   = "ssh"
	transportLocal = "local"
)

// on reports whether the fleet loop runs.
func (f FleetConfig) on() bool { return f.Enabled == nil || *f.Enabled }

func (f *FleetConfig) defaults() {
	if f.Interval == 0 {
		f.Interval = scale.DefaultInterval
	}
	if f.Transport == "" {
		f.Transport = transportSSH
	}
	if f.DrainTimeout == 0 {
		f.DrainTimeout = apply.DefaultDrainTimeout
	}
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

func (f *FleetConfig) validate() []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if f.Interval < time.Second {
		bad("fleet.interval must be at least 1s, got %s", f.Interval)
	}
	if f.DrainTimeout < 0 {
		bad("fleet.drainTimeout must not be negative, got %s", f.DrainTimeout)
	}
	s := f.SSH
	switch f.Transport {
	case transportSSH:
		if (s != FleetSSHConfig{}) && s.KeyFile == "" {
			bad("fleet.ssh needs keyFile: head nodes are reached with a key")
		}
	case transportLocal:
		if (s != FleetSSHConfig{}) {
			bad("fleet.ssh applies to fleet.transport ssh, not local")
		}
	default:
		bad("fleet.transport must be ssh or local, got %q", f.Transport)
	}
	if s.Port < 0 || s.Port > 65535 {
		bad("fleet.ssh.port must be a TCP port, got %d", s.Port)
	}
	for _, e := range f.Env {
		if !envName.MatchString(e) {
			bad("fleet.env entries are NAME=value, got %q", e)
		}
	}
	return errs
}

// transport is the fleet package's transport for the config; hostKeys
// reads the head nodes' published host keys when no known_hosts file is
// set.
func (f FleetConfig) transport(hostKeys fleet.Parameters) fleet.Transport {
	tr := fleet.Transport{
		Local: f.Transport == transportLocal,
		Env:   f.Env,
		SSH: fleet.SSH{User: f.SSH.User, Port: f.SSH.Port, KeyFile: f.SSH.KeyFile,
			KnownHostsFile: f.SSH.KnownHostsFile},
	}
	if !tr.Local && tr.SSH.KnownHostsFile == "" {
		tr.HostKeys = hostKeys
	}
	return tr
}

// fleetRunner keeps one fleet.Manager running for the configuration in
// force. Its metric recorders live as long as the process; a reload that
// changes the fleet or AWS settings replaces the manager once the old one
// has finished its rounds (idle clocks start again, which can only delay
// a scale-down).
type fleetRunner struct {
	log     *slog.Logger
	metrics *scale.Metrics
	batch   *batchobs.Metrics
	aws     *awsclient.Metrics
	// onCall sees the fleet's AWS calls (tests); it is not a sign of the
	// reconcile loop's progress.
	onCall func(awsclient.Call)
	now    func() time.Time
	after  func(time.Duration) <-chan time.Time
	// onRound, when set, sees every round (tests).
	onRound func(fleet.Round)

	mu  sync.Mutex
	ctx context.Context
	// cur is the manager in force, nil while the fleet loop is off; last
	// is the one started last, which stop waits for.
	cur, last *fleetManager
	targets   []fleet.Target
}

// fleetManager is one running manager and the settings it was built from.
type fleetManager struct {
	fleet            FleetConfig
	region, endpoint string
	m                *fleet.Manager
	ctx              context.Context
	cancel           context.CancelFunc
	done             chan struct{}
}

// newFleetRunner registers the fleet's metrics on reg.
func newFleetRunner(log *slog.Logger, reg prometheus.Registerer, aws *awsclient.Metrics, onCall func(awsclient.Call), now func() time.Time) (*fleetRunner, error) {
	r := &fleetRunner{log: log, metrics: scale.NewMetrics(), batch: batchobs.NewMetrics(), aws: aws, onCall: onCall, now: now}
	if err := r.metrics.Register(reg); err != nil {
		return nil, fmt.Errorf("register fleet loop metrics: %w", err)
	}
	if err := r.batch.Register(reg); err != nil {
		return nil, fmt.Errorf("register AWS Batch metrics: %w", err)
	}
	return r, nil
}

// start sets the context managers run under; sync starts them.
func (r *fleetRunner) start(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ctx = ctx
}

// sync hands a finished cycle's clusters to the manager of cfg, making
// or replacing the manager first when needed. A failed cycle changes
// nothing: the loops that run go on.
func (r *fleetRunner) sync(cfg *Config, rep *reconcile.Report) {
	if rep == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx == nil || r.ctx.Err() != nil {
		return
	}
	r.targets = fleet.FromChanges(rep.Changes, r.targets)
	if !cfg.Fleet.on() {
		if c := r.cur; c != nil {
			r.log.Info("fleet loop switched off by the configuration")
			c.cancel()
			r.cur = nil
			clusters := r.targets
			go func() {
				<-c.done
				for _, t := range clusters {
					r.metrics.Forget(t.Cluster)
					r.batch.Forget(t.Cluster)
				}
			}()
		}
		return
	}
	if c := r.cur; c == nil || !reflect.DeepEqual(c.fleet, cfg.Fleet) || c.region != cfg.AWS.Region || c.endpoint != cfg.AWS.Endpoint {
		next, err := r.manager(cfg)
		if err != nil {
			r.log.Error("fleet loop not started", "error", err)
			return
		}
		prev := r.last
		if prev != nil {
			next.m.Adopt(prev.m)
		}
		r.cur, r.last = next, next
		go func() {
			if prev != nil {
				prev.cancel()
				<-prev.done
			}
			_ = next.m.Run(next.ctx)
			close(next.done)
		}()
	}
	r.cur.m.Sync(r.targets)
	// A cluster drained for a change that was since reverted gets its
	// nodes and its loop back.
	m, ctx := r.cur.m, r.cur.ctx
	go func() {
		sctx, cancel := context.WithTimeout(ctx, fleet.DefaultRoundTimeout)
		defer cancel()
		m.Settle(sctx, rep.Changes)
	}()
}

// manager builds a manager for cfg, with AWS clients of its own.
func (r *fleetRunner) manager(cfg *Config) (*fleetManager, error) {
	rec := &awsclient.Recorder{Metrics: r.aws, Log: r.log.With("component", "aws"), OnCall: r.onCall}
	awsCfg, err := awsclient.Load(r.ctx, awsclient.Config{Region: cfg.AWS.Region, Endpoint: cfg.AWS.Endpoint}, rec)
	if err != nil {
		return nil, fmt.Errorf("AWS clients: %w", err)
	}
	ec := ec2.NewFromConfig(awsCfg)
	m, err := fleet.New(fleet.Config{
		Interval:      cfg.Fleet.Interval,
		Connect:       cfg.Fleet.transport(ssm.NewFromConfig(awsCfg)).Connect,
		Fleet:         asgfleet.New(autoscaling.NewFromConfig(awsCfg), ec),
		InstanceTypes: ec,
		Batch:         batchobs.New(awsbatch.NewFromConfig(awsCfg), r.batch),
		Metrics:       r.metrics,
		BatchMetrics:  r.batch,
		Logger:        r.log,
		Now:           r.now,
		After:         r.after,
		OnRound:       r.onRound,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(r.ctx)
	return &fleetManager{fleet: cfg.Fleet, region: cfg.AWS.Region, endpoint: cfg.AWS.Endpoint, m: m,
		ctx: ctx, cancel: cancel, done: make(chan struct{})}, nil
}

// stop stops the managers and waits up to limit for their running rounds
// to finish.
func (r *fleetRunner) stop(limit time.Duration) {
	r.mu.Lock()
	last := r.last
	r.cur = nil
	r.mu.Unlock()
	if last == nil {
		return
	}
	last.cancel()
	select {
	case <-last.done:
	case <-time.After(limit):
		r.log.Warn("the fleet loop did not finish its rounds in time", "waited", limit)
	}
}
