package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/driftless/driftless/pkg/inventory"
)

// runInstances is `reconciler instances CLUSTER`: the head node and the
// compute nodes with state, type, addresses and launch time.
func runInstances(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("instances", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f clusterFlags
	f.register(fs, true, false)
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
	inv, err := s.inventory(ctx, name, false)
	if err != nil {
		return err
	}
	c, ok := inv.Find(name)
	if !ok {
		return fmt.Errorf("cluster %s has no stack in %s", name, s.aws.Region)
	}
	if f.output == "json" {
		list := c.Instances
		if list == nil {
			list = []inventory.Instance{}
		}
		return writeJSON(stdout, list)
	}
	color, _ := colorOn(f.color, stdout)
	return writeInstances(stdout, c.Instances, color)
}

func writeInstances(w io.Writer, list []inventory.Instance, color bool) error {
	t := &table{header: []string{"INSTANCE", "ROLE", "QUEUE", "STATE", "TYPE", "PUBLIC IP", "PRIVATE IP", "LAUNCHED"}}
	for _, in := range list {
		launched := ""
		if !in.LaunchTime.IsZero() {
			launched = in.LaunchTime.Format(time.RFC3339)
		}
		t.add(plain(in.ID), plain(string(in.Role)), plain(in.Queue), status(in.State), plain(in.Type),
			plain(in.PublicIP), plain(in.PrivateIP), plain(launched))
	}
	return t.write(w, color)
}
