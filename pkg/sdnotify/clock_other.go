//go:build !linux

package sdnotify

import (
	"errors"
	"time"
)

// monotonic is unavailable where systemd does not run.
func monotonic() (time.Duration, error) {
	return 0, errors.New("no CLOCK_MONOTONIC on this system")
}
