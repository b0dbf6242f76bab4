package apply_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/diff"
)

// busyDrainer is a scheduler whose jobs never end.
type busyDrainer struct {
	drains, resumes int
	reasons         []string
}

func (d *busyDrainer) DrainAll(_ context.Context, _, reason string) error {
	d.drains++
	d.reasons = append(d.reasons, reason)
	return nil
}
func (d *busyDrainer) Busy(context.Context, string) (int, error) { return 2, nil }
func (d *busyDrainer) ResumeAll(context.Context, string) error   { d.resumes++; return nil }

// TestDrainClockSurvivesAReload: the drain timeout counts from the first
// drain of a change, also across a Healer rebuilt by a reload (Adopt);
// another desired template starts the clock again.
func TestDrainClockSurvivesAReload(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	d := &busyDrainer{}
	ch := diff.Change{Cluster: "hpc", Action: diff.Update, StopFleet: true,
		Live:   &diff.Live{Cluster: "hpc", Groups: []diff.LiveGroup{{Name: "g", Max: 2, Desired: 1}}},
		Fields: []diff.FieldChange{{Path: "compute[a].instanceType", StopFleet: true, Approved: true}}}
	first := &apply.Healer{Drainer: d, DrainTimeout: time.Hour, Now: clock}
	_, err := first.Apply(t.Context(), ch, "0123456789abcdef")
	var draining *apply.DrainingError
	if !errors.As(err, &draining) || draining.Jobs != 2 || !draining.Since.Equal(now) {
		t.Fatalf("first apply: %v", err)
	}
	if want := apply.DrainReasonPrefix + " of compute[a].instanceType (0123456789ab)"; d.reasons[0] != want {
		t.Errorf("drain reason %q, want %q", d.reasons[0], want)
	}

	now = now.Add(61 * time.Minute)
	second := &apply.Healer{Drainer: d, DrainTimeout: time.Hour, Now: clock}
	second.Adopt(first)
	_, err = second.Apply(t.Context(), ch, "0123456789abcdef")
	var timeout *apply.DrainTimeoutError
	if !errors.As(err, &timeout) {
		t.Fatalf("apply after a reload past the timeout: %v, want a DrainTimeoutError", err)
	}
	if d.resumes != 0 {
		t.Errorf("nodes resumed %d times while jobs run", d.resumes)
	}

	// Forced, on a cluster without groups (awsbatch): no drain, and the
	// update is sent.
	forced := ch
	forced.ForceStop = true
	forced.Live = &diff.Live{Cluster: "hpc"}
	drains, sent := d.drains, 0
	second.Stacks = stacksFunc(func(context.Context, diff.Change, string) (apply.Result, error) {
		sent++
		return apply.Result{}, nil
	})
	if _, err := second.Apply(t.Context(), forced, "rev"); err != nil || sent != 1 {
		t.Fatalf("forced apply: %v, %d updates sent", err, sent)
	}
	if d.drains != drains {
		t.Error("a forced stop drained the nodes")
	}
}

type stacksFunc func(context.Context, diff.Change, string) (apply.Result, error)

func (f stacksFunc) Apply(ctx context.Context, ch diff.Change, rev string) (apply.Result, error) {
	return f(ctx, ch, rev)
}
