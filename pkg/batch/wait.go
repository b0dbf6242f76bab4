package batch

import (
	"context"
	"time"
)

// Clock is what Wait needs of time; tests give it a clock that never
// sleeps.
type Clock interface {
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// After is time.After.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Wait polls a job until it finishes, calling progress with every status
// it sees change (including the first). It returns the finished job, or
// the last one seen when ctx ends.
func Wait(ctx context.Context, api JobsAPI, clock Clock, every time.Duration, id string, progress func(JobInfo)) (JobInfo, error) {
	var last JobInfo
	for {
		jobs, err := Describe(ctx, api, id)
		if err != nil {
			return last, err
		}
		j := jobs[0]
		if progress != nil && (j.Status != last.Status || last.ID == "") {
			progress(j)
		}
		last = j
		if Finished(j.Status) {
			return j, nil
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-clock.After(every):
		}
	}
}
