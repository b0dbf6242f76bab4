package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	promclient "github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/ssh"

	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/internal/testbed/sshserver"
	"github.com/driftless/driftless/pkg/awsclient"
	"github.com/driftless/driftless/pkg/fleet"
	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/scale"
)

// fleetHostKeyRun runs the daemon's fleet wiring (fleetRunner.manager)
// with a key and no known_hosts file against the emulator and a real sshd
// standing in for a head node that published its host key: the round gets
// through SSH to the head node's shell, where it fails only because
// Torque's programs are missing. It returns the AWS calls the fleet made.
func fleetHostKeyRun(t *testing.T) []awsclient.Call {
	t.Helper()
	srv := sshserver.Start(t)
	mo := moto.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := ssm.NewFromConfig(mo.AWSConfig()).PutParameter(ctx, &ssm.PutParameterInput{
		Name:  aws.String(render.HeadNodeHostKeyParameter("hpc")),
		Value: aws.String(strings.TrimSpace(string(ssh.MarshalAuthorizedKey(srv.HostKey)))),
		Type:  ssmtypes.ParameterTypeString,
	}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var calls []awsclient.Call
	r, err := newFleetRunner(slog.New(slog.DiscardHandler), promclient.NewPedanticRegistry(), awsclient.NewMetrics(),
		func(c awsclient.Call) { mu.Lock(); calls = append(calls, c); mu.Unlock() }, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	rounds := make(chan fleet.Round, 4)
	r.onRound = func(rd fleet.Round) { rounds <- rd }
	r.start(ctx)
	cfg := &Config{
		AWS: AWSConfig{Region: moto.Region, Endpoint: mo.Endpoint},
		Fleet: FleetConfig{Interval: time.Hour, Env: []string{"PATH=/nonexistent"},
			SSH: FleetSSHConfig{User: srv.User, Port: srv.Port, KeyFile: srv.ClientKeyFile}},
	}
	cfg.Fleet.defaults()
	if errs := cfg.Fleet.validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	fm, err := r.manager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = fm.m.Run(fm.ctx); close(done) }()
	defer func() { fm.cancel(); <-done }()
	fm.m.Sync([]fleet.Target{{Cluster: "hpc", Scheduler: fleet.Torque, HeadNode: srv.Host, Queues: []fleet.Queue{{
		Queue: scale.Queue{Name: "batch", Group: render.GroupName("hpc", "batch"), Config: scale.DefaultConfig()},
	}}}})
	select {
	case rd := <-rounds:
		if rd.Err == nil || !strings.Contains(rd.Err.Error(), "pbsnodes") || strings.Contains(rd.Err.Error(), "host key") {
			t.Fatalf("round error %v; want Torque's missing pbsnodes on the head node, reached over SSH", rd.Err)
		}
	case <-ctx.Done():
		t.Fatal("no round within a minute")
	}
	mu.Lock()
	defer mu.Unlock()
	return append([]awsclient.Call(nil), calls...)
}

// TestFleetPublishedHostKey: the daemon reaches a head node whose host key
// it learnt from the head node's SSM parameter (read when the loop
// connects and at each new SSH connection), and calls nothing else of
// SSM.
func TestFleetPublishedHostKey(t *testing.T) {
	var reads int
	for _, c := range fleetHostKeyRun(t) {
		if c.Service == "SSM" {
			if c.Operation != "GetParameter" {
				t.Errorf("SSM %s called", c.Operation)
			}
			reads++
		}
	}
	if reads == 0 {
		t.Error("the host key parameter was not read")
	}
}
