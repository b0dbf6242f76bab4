package reconcile

import (
	"fmt"
	"testing"
	"time"

	"github.com/driftless/driftless/pkg/apply"
	"github.com/driftless/driftless/pkg/diff"
)

// TestDrainVerdicts: an approved change waiting for jobs on drained nodes
// is Reconciling and not a failure, so the next cycle looks again without
// a backoff; one whose jobs outlast the drain timeout is Blocked, still
// without a backoff, so it goes ahead once the jobs are cancelled; one
// with no scheduler to drain is Blocked until a person approves a forced
// stop, also without a backoff: a fleet loop that starts after the
// daemon's first cycle drains it in the next.
func TestDrainVerdicts(t *testing.T) {
	ch := diff.Change{Cluster: "hpc", Action: diff.Update, StopFleet: true}
	for _, tc := range []struct {
		name      string
		err       error
		condition Condition
		reason    string
		failed    bool
	}{
		{"draining", &apply.DrainingError{Cluster: "hpc", Jobs: 3, Since: time.Unix(0, 0)}, Reconciling, "DrainingForUpdate", false},
		{"timed out", fmt.Errorf("apply: %w", &apply.DrainTimeoutError{Cluster: "hpc", Jobs: 1, After: time.Hour}), Blocked, "DrainTimedOut", false},
		{"no scheduler", fmt.Errorf("drain hpc: %w", apply.ErrNoScheduler), Blocked, "NoScheduler", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := judge(ch, tc.err, false)
			if v.condition != tc.condition || v.reason != tc.reason || v.failed != tc.failed || v.message != tc.err.Error() {
				t.Errorf("verdict %+v, want %s/%s failed=%v", v, tc.condition, tc.reason, tc.failed)
			}
		})
	}
}
