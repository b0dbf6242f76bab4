package reconcile

import (
	"context"
	"math/rand/v2"
	"time"
)

// Hooks let the daemon follow the loop without the loop knowing about
// systemd or HTTP. Every field is optional.
type Hooks struct {
	// AfterCycle is called after every cycle, successful or not.
	AfterCycle func(rep *Report, err error)
	// After returns a channel that fires after d; tests replace it so no
	// test waits for a real timer. Defaults to time.After.
	After func(d time.Duration) <-chan time.Time
}

// Run reconciles until ctx is done: one cycle at start, then one per poll
// interval or whenever trigger fires (a webhook, a changed directory).
// A cycle that fails as a whole (repo or AWS unreachable) is retried with
// exponential backoff and jitter, never more often than once a second and
// never less often than the poll interval.
func (r *Reconciler) Run(ctx context.Context, trigger <-chan struct{}, hooks Hooks) error {
	after := hooks.After
	if after == nil {
		after = time.After
	}
	failures := 0
	// Applies running in the background end soon after ctx: wait for
	// them, so nothing outlives the loop.
	defer r.WaitApplies()
	for {
		rep, err := r.Reconcile(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := r.opts.Interval
		if err != nil {
			failures++
			wait = Backoff(failures, time.Second, r.opts.Interval, rand.Float64())
			r.log.Error("cycle failed", "error", err, "attempt", failures, "retry_in", wait.Round(time.Millisecond).String())
		} else {
			if failures > 0 {
				r.log.Info("cycle succeeded again", "after_failures", failures)
			}
			failures = 0
			r.log.Debug("cycle done", "revision", rep.Revision, "clusters", len(rep.Changes), "failed", rep.Failed())
		}
		if hooks.AfterCycle != nil {
			hooks.AfterCycle(rep, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-trigger:
		case <-r.Finished():
		case <-after(wait):
		}
	}
}
