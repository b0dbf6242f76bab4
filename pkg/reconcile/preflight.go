package reconcile

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"

	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/spec"
)

// Preflight checks, before a cluster is created or changed, that what its
// spec names exists in the account and can be used (preflight.Checker).
// failures are what is wrong, each naming the spec field; err means the
// checks could not all run, which holds the cluster too: a cluster that
// was not checked has not passed.
type Preflight interface {
	Check(ctx context.Context, c *spec.Cluster) (failures spec.Errors, err error)
}

// forgetter is a Preflight with per-cluster series to delete when the
// cluster's spec leaves the repo (preflight.Checker).
type forgetter interface {
	Forget(cluster string)
}

// Why the pre-flight checks hold a change (Change.Hold values, and the
// status reasons of the held cluster).
const (
	// HoldPreflightFailed: something the spec names is missing from the
	// account or cannot be used. The cluster is Blocked until the spec or
	// the account is fixed; every cycle checks again.
	HoldPreflightFailed = "PreflightFailed"
	// HoldPreflightError: the checks could not run (AWS unreachable, a
	// call refused). The cluster is Stalled and checked again next cycle.
	HoldPreflightError = "PreflightError"
)

// needsPreflight reports whether carrying out a change sends the cluster's
// template to CloudFormation.
func needsPreflight(a diff.Action) bool {
	return a == diff.Create || a == diff.Update || a == diff.Recreate
}

// preflight runs the checks of every cluster that a change would create,
// update or recreate, up to Options.Concurrency at once, and holds the
// changes of the clusters that fail, so dispatch sends nothing for them.
func (r *Reconciler) preflight(ctx context.Context, changes []diff.Change, clusters []*spec.Cluster) {
	if r.opts.Preflight == nil {
		return
	}
	byName := make(map[string]*spec.Cluster, len(clusters))
	for _, c := range clusters {
		byName[c.Name] = c
	}
	if f, ok := r.opts.Preflight.(forgetter); ok {
		for _, ch := range changes {
			if ch.Action == diff.Delete || ch.Action == diff.Retain {
				f.Forget(ch.Cluster) // its spec left the repo
			}
		}
	}
	sem := make(chan struct{}, r.opts.Concurrency)
	var wg sync.WaitGroup
	for i := range changes {
		ch := &changes[i]
		c := byName[ch.Cluster]
		if c == nil || !needsPreflight(ch.Action) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			fails, err := r.opts.Preflight.Check(ctx, c)
			hold(ch, fails, err)
		}()
	}
	wg.Wait()
	for _, ch := range changes {
		if ch.Action != diff.Hold || (ch.Hold != HoldPreflightFailed && ch.Hold != HoldPreflightError) {
			continue
		}
		// Logged when it starts or changes; the status says it every cycle.
		level := slog.LevelWarn
		if prev, ok := r.status.Get(ch.Cluster); ok && prev.Reason == ch.Hold && sameHold(prev.Message, ch.Reason) {
			level = slog.LevelDebug
		}
		r.log.Log(ctx, level, "pre-flight checks failed; cluster not touched", "cluster", ch.Cluster, "reason", ch.Hold, "failures", ch.Reason)
	}
}

// requestID is the request id the SDK quotes in an AWS error
// ("StatusCode: 403, RequestID: 0b7e…, api error …"), new in every answer.
var requestID = regexp.MustCompile(`RequestID: [^,]*, `)

// sameHold reports whether two hold reasons say the same thing but for
// the request ids of the errors they quote: checks that keep failing the
// same way are logged once, not every cycle.
func sameHold(a, b string) bool {
	return a == b || requestID.ReplaceAllString(a, "") == requestID.ReplaceAllString(b, "")
}

// hold turns a change whose checks failed into a Hold that says why.
func hold(ch *diff.Change, fails spec.Errors, err error) {
	if err == nil && len(fails) == 0 {
		return
	}
	lines := make([]string, 0, len(fails)+1)
	for _, f := range fails {
		lines = append(lines, f.Error())
	}
	what := "pre-flight checks failed"
	ch.Hold = HoldPreflightFailed
	if err != nil {
		what = "pre-flight checks could not run"
		ch.Hold = HoldPreflightError
		lines = append(lines, err.Error())
	}
	ch.Reason = what + ", so the " + string(ch.Action) + " waits: " + strings.Join(lines, "; ")
	ch.Action = diff.Hold
}

// heldByPreflight is the status of a cluster the pre-flight checks held.
func heldByPreflight(st ClusterStatus, ch diff.Change) ClusterStatus {
	if ch.Action != diff.Hold {
		return st
	}
	switch ch.Hold {
	case HoldPreflightFailed:
		st.Condition, st.Reason, st.Message = Blocked, HoldPreflightFailed, ch.Reason
	case HoldPreflightError:
		st.Condition, st.Reason, st.Message = Stalled, HoldPreflightError, ch.Reason
	}
	return st
}
