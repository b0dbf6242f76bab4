package sdnotify

import (
	"context"
	"time"
)

// RunWatchdog pings the service manager on every tick for as long as check
// finds the service healthy. The first time check returns an error it sends
// WATCHDOG=trigger with the error as status, so the service manager
// restarts the service now rather than when the timeout runs out, and
// returns that error. It returns nil when ctx ends.
//
// Ticks come from the caller (a time.Ticker at half of WatchdogInterval),
// so a test drives it without waiting. A process that hangs as a whole
// stops ticking too, and the service manager's timeout catches it.
func (n *Notifier) RunWatchdog(ctx context.Context, ticks <-chan time.Time, check func(now time.Time) error) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-ticks:
			if err := check(now); err != nil {
				_ = n.WatchdogTrigger(err.Error())
				return err
			}
			if err := n.Watchdog(); err != nil {
				// The manager went away or the socket is full: the next
				// tick tries again; missing pings are its to judge.
				continue
			}
		}
	}
}
