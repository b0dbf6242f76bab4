package main

import (
	"context"
	"testing"
	"time"
)

// gateBed drives a gate the way reconcile.Run does, with timers the test
// fires by hand.
type gateBed struct {
	t         *testing.T
	g         *gate
	ctx       context.Context
	cancelled bool
	timers    []chan time.Time
	trigger   chan struct{}
	loop      chan struct{}
	clock     time.Time
}

func newGateBed(t *testing.T) *gateBed {
	b := &gateBed{t: t, trigger: make(chan struct{}, 1), loop: make(chan struct{}, 1), clock: time.Unix(1000, 0)}
	ctx, cancel := context.WithCancel(t.Context())
	b.ctx = ctx
	b.g = newGate(func() { b.cancelled = true; cancel() }, func(time.Duration) <-chan time.Time {
		ch := make(chan time.Time, 1)
		b.timers = append(b.timers, ch)
		return ch
	}, func() time.Time { return b.clock }, b.loop)
	go b.g.forward(ctx, b.trigger)
	return b
}

// wait is the loop's select after a cycle: it reports what woke it.
func (b *gateBed) wait(timeout time.Duration) string {
	b.t.Helper()
	after := b.g.after(time.Minute)
	select {
	case <-b.ctx.Done():
		return "stopped"
	case <-b.loop:
		return "trigger"
	case <-after:
		return "timer"
	case <-time.After(timeout):
		return "nothing"
	}
}

func (b *gateBed) busy() bool {
	busy, _ := b.g.state()
	return busy
}

func TestGate(t *testing.T) {
	t.Run("timer starts a cycle", func(t *testing.T) {
		b := newGateBed(t)
		b.g.idle()
		after := b.g.after(time.Minute)
		b.timers[0] <- b.clock
		select {
		case <-after:
		case <-time.After(10 * time.Second):
			t.Fatal("timer did not wake the loop")
		}
		if !b.busy() {
			t.Error("gate not busy after a wake-up")
		}
	})
	t.Run("trigger starts a cycle", func(t *testing.T) {
		b := newGateBed(t)
		b.g.idle()
		after := b.g.after(time.Minute)
		b.trigger <- struct{}{}
		select {
		case <-b.loop:
		case <-after:
			t.Fatal("the timer fired, not the trigger")
		case <-time.After(10 * time.Second):
			t.Fatal("trigger did not wake the loop")
		}
		// The timer firing later must not wake the loop a second time.
		b.timers[0] <- b.clock
		select {
		case <-after:
			t.Fatal("a second wake-up for one wait")
		case <-time.After(50 * time.Millisecond):
		}
	})
	t.Run("trigger during a cycle runs the next at once", func(t *testing.T) {
		b := newGateBed(t)
		// The first cycle runs: the trigger is kept.
		b.trigger <- struct{}{}
		waitFor(t, func() bool { b.g.mu.Lock(); defer b.g.mu.Unlock(); return b.g.pending })
		b.g.idle()
		if got := b.wait(10 * time.Second); got != "timer" {
			t.Fatalf("woke by %s; want the kept trigger to end the wait at once", got)
		}
		if len(b.timers) != 0 {
			t.Error("a timer was started although a trigger was pending")
		}
	})
	t.Run("stop while waiting ends the loop at once", func(t *testing.T) {
		b := newGateBed(t)
		b.g.idle()
		after := b.g.after(time.Minute)
		b.g.stop()
		if !b.cancelled {
			t.Fatal("stop of a waiting loop did not cancel it")
		}
		select {
		case <-after:
			t.Fatal("a stopped loop was woken")
		default:
		}
	})
	t.Run("stop during a cycle waits for its end", func(t *testing.T) {
		b := newGateBed(t)
		b.g.stop()
		if b.cancelled {
			t.Fatal("stop cancelled a running cycle")
		}
		b.g.idle()
		if !b.cancelled {
			t.Fatal("the loop was not stopped when its cycle ended")
		}
	})
	t.Run("a stopping gate hands triggers on", func(t *testing.T) {
		b := newGateBed(t)
		b.g.stop()
		if b.g.poke() {
			t.Fatal("a stopping gate took a trigger")
		}
	})
}

// waitFor polls a condition that another goroutine makes true.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWedgeCheck(t *testing.T) {
	start := time.Unix(10000, 0)
	clock := start
	s := &service{opts: serviceOptions{wedgeAfter: 10 * time.Minute}, now: func() time.Time { return clock }}
	g := &generation{gate: newGate(func() {}, nil, func() time.Time { return clock }, make(chan struct{}, 1))}
	s.cur.Store(g)
	s.touch()

	tests := []struct {
		name    string
		step    func()
		wedged  bool
		atDelta time.Duration
	}{
		{"cycle just started", func() {}, false, time.Minute},
		{"long cycle with AWS calls", func() { clock = start.Add(30 * time.Minute); s.touch() }, false, 9 * time.Minute},
		{"cycle without progress", func() {}, true, 11 * time.Minute},
		{"waiting between cycles is not wedged", func() { g.gate.idle() }, false, 5 * time.Hour},
	}
	for _, tt := range tests {
		tt.step()
		err := s.check(clock.Add(tt.atDelta))
		if (err != nil) != tt.wedged {
			t.Errorf("%s: check = %v, want wedged %v", tt.name, err, tt.wedged)
		}
	}
}
