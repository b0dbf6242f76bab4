package asgfleet_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/scale/asgfleet"
	"github.com/driftless/driftless/pkg/scale/internal/scaletest"
)

func TestFleetAgainstMoto(t *testing.T) {
	srv := moto.Start(t)
	ctx := context.Background()
	cfg := srv.AWSConfig()
	name := scaletest.Group(t, ctx, cfg, 1, 2, 5)
	f := asgfleet.New(autoscaling.NewFromConfig(cfg), ec2.NewFromConfig(cfg))

	g, err := f.Group(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if g.Min != 1 || g.Max != 5 || g.Desired != 2 || len(g.Instances) != 2 || g.InService() != 2 {
		t.Fatalf("group = %+v", g)
	}
	for _, in := range g.Instances {
		if !strings.HasPrefix(in.ID, "i-") || !strings.HasPrefix(in.PrivateDNSName, "ip-") || in.PrivateIP == "" || !in.Healthy {
			t.Errorf("instance = %+v", in)
		}
	}

	if err := f.SetDesiredCapacity(ctx, name, 4); err != nil {
		t.Fatal(err)
	}
	if g, err = f.Group(ctx, name); err != nil || g.Desired != 4 || len(g.Instances) != 4 {
		t.Fatalf("after scale-up: %+v, %v", g, err)
	}

	// With decrement the group shrinks; without it, it launches a new one.
	victim := g.Instances[0].ID
	if err := f.Terminate(ctx, victim, true); err != nil {
		t.Fatal(err)
	}
	if g, err = f.Group(ctx, name); err != nil || g.Desired != 3 {
		t.Fatalf("after terminate with decrement: %+v, %v", g, err)
	}
	for _, in := range g.Instances {
		if in.ID == victim && in.InService() {
			t.Fatalf("%s still in service", victim)
		}
	}
	if err := f.Terminate(ctx, g.Instances[0].ID, false); err != nil {
		t.Fatal(err)
	}
	if g, err = f.Group(ctx, name); err != nil || g.Desired != 3 || g.InService() != 3 {
		t.Fatalf("after replace: %+v, %v", g, err)
	}

	if _, err := f.Group(ctx, "no-such-group"); !errors.Is(err, asgfleet.ErrNoGroup) {
		t.Fatalf("missing group: %v", err)
	}
	// moto 5 accepts a desired capacity above the maximum (AWS refuses
	// it with ValidationError); the planner never asks for one.
}
