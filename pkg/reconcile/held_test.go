package reconcile_test

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/driftless/driftless/internal/testbed/faults"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/reconcile"
)

// callCounter counts the calls that reach the bed's proxy, by action.
type callCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *callCounter) see(call faults.Call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[call.Action]++
}

// take returns the counts since the last take.
func (c *callCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.n
	c.n = map[string]int{}
	return out
}

// TestHeldClusterCosts: a cluster the pre-flight checks hold, on create
// and on update, costs the same reads in every cycle (one round of checks,
// and for an update the live template observe reads), and is logged at
// Warn once, when it starts to be held, not every cycle.
func TestHeldClusterCosts(t *testing.T) {
	tests := []struct {
		name   string
		update bool
		// denied makes the checks fail to run rather than fail.
		denied bool
	}{
		{"create", false, false},
		{"update", true, false},
		{"checks cannot run", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBed(t)
			calls := &callCounter{n: map[string]int{}}
			b.proxy.OnCall(calls.see)
			r := b.reconciler(reconcile.Options{Preflight: b.checker(b.proxy.URL)})
			if tt.update {
				b.write("held", 2, "")
				b.cycle(r)
			}
			hold, extra := reconcile.HoldPreflightFailed, missingSnapshot
			if tt.denied {
				hold, extra = reconcile.HoldPreflightError, ""
				// Refused, with a new request id in every answer, as
				// AWS answers.
				var n atomic.Int64
				b.proxy.Handle("DescribeSubnets", func(faults.Call) faults.Answer {
					return faults.Answer{Status: http.StatusForbidden, Body: fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>`+
						`<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors>`+
						`<RequestID>0b7e5f0c-%012d</RequestID></Response>`, n.Add(1))}
				})
			}
			b.write("held", 3, extra)
			calls.take()

			var first map[string]int
			for i := range 4 {
				rep := b.cycle(r)
				if o := outcome(rep, "held"); o.Change.Action != diff.Hold || o.Change.Hold != hold {
					t.Fatalf("cycle %d: %s (%s), want held by the pre-flight checks", i, o.Change.Action, o.Change.Hold)
				}
				got := calls.take()
				t.Logf("cycle %d: %v", i, got)
				if i == 0 {
					first = got
					continue
				}
				if !maps.Equal(got, first) {
					t.Errorf("cycle %d made %v; the first held cycle made %v", i, got, first)
				}
			}
			for action, n := range first {
				if n > 2 && action != "DescribeVpcAttribute" { // DNS support and DNS hostnames
					t.Errorf("a held cycle makes %d %s calls, want one round", n, action)
				}
			}
			t.Logf("held: %s", b.status(r, "held").Message)
			if n := strings.Count(b.logs.String(), `level=WARN msg="pre-flight checks failed`); n != 1 {
				t.Errorf("the held cluster was logged at Warn %d times in 4 cycles, want once", n)
			}
		})
	}
}
