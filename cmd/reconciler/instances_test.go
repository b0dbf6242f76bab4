package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/driftless/driftless/internal/testbed/slurm"
	"github.com/driftless/driftless/pkg/inventory"
)

// TestInstancesWithSchedulerState asks a real Slurm for its nodes through
// the ssh command template and shows each node's state on the instance
// behind it. The template runs the command here (sh -c) instead of on a
// head node over ssh; everything else is the path a person's command takes.
func TestInstancesWithSchedulerState(t *testing.T) {
	o := newOperatorBed(t)
	var before []inventory.Instance
	if err := json.Unmarshal([]byte(o.cli(0, "instances", "alpha", "--config", o.config, "--output", "json")), &before); err != nil {
		t.Fatal(err)
	}
	var compute string
	for _, in := range before {
		if in.Role == inventory.RoleCompute {
			compute = in.ID
		}
	}
	if compute == "" {
		t.Fatalf("no compute instance: %+v", before)
	}

	sl := slurm.Start(t, slurm.Options{Nodes: 2})
	for _, kv := range sl.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	node := sl.Nodes()[0]
	if err := sl.StartNode(t.Context(), node, compute); err != nil {
		t.Fatal(err)
	}

	var after []inventory.Instance
	out := o.cli(0, "instances", "alpha", "--scheduler", "--command", "sh -c {ARGS}", "--config", o.config, "--output", "json")
	if err := json.Unmarshal([]byte(out), &after); err != nil {
		t.Fatal(err)
	}
	for _, in := range after {
		switch in.ID {
		case compute:
			if in.Node != node || in.SchedulerState != "idle" {
				t.Errorf("compute node %s: node %q state %q, want %s idle", in.ID, in.Node, in.SchedulerState, node)
			}
		default:
			if in.SchedulerState != "" {
				t.Errorf("%s (%s) has scheduler state %q", in.ID, in.Role, in.SchedulerState)
			}
		}
	}
	text := o.cli(0, "instances", "alpha", "--scheduler", "--command", "sh -c {ARGS}", "--config", o.config)
	if line := lineWith(text, compute); !strings.Contains(text, "SCHEDULER") || !strings.Contains(line, node) || !strings.Contains(line, "idle") {
		t.Errorf("instances --scheduler:\n%s", text)
	}
	// A scheduler that cannot be reached is an error that says where.
	o.cli(1, "instances", "alpha", "--scheduler", "--command", "false {ARGS}", "--config", o.config)
	// awsbatch has no scheduler nodes: batch hosts lists its instances.
	o.cli(1, "instances", "jobs", "--scheduler", "--command", "sh -c {ARGS}", "--config", o.config)
}
