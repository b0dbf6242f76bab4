package diff

import (
	"fmt"
	"sort"

	"github.com/driftless/driftless/pkg/render"
)

// Input is everything a plan is computed from: what the repo declares and
// what is live. It holds no clients; Plan is a pure function of it.
type Input struct {
	// Desired are the rendered stacks of every valid spec.
	Desired []*render.Stack
	// Invalid are the names of clusters whose spec is broken. Their live
	// stacks are left as they are.
	Invalid []string
	// NameUnknown is set when a broken spec's cluster name could not be
	// read: any live stack might be its, so nothing is pruned.
	NameUnknown bool
	// Live are the stacks that carry our ownership tag.
	Live []Live
	// Prune allows deleting stacks whose spec left the repo.
	Prune bool
	// PruneLimit caps how many clusters one cycle may delete; zero means
	// the default, max(1, 10% of live clusters). A negative value lifts
	// the cap (a person's explicit override).
	PruneLimit int
	// RecreateFailed names the clusters whose policy.recreateFailed lets
	// the daemon delete a stack that never came up and create it again.
	RecreateFailed map[string]bool
	// Offline is set when Live is another revision of the repo rather
	// than AWS (reconciler plan --offline): node counts are unknown and
	// no drift is looked for.
	Offline bool
}

// Plan pairs desired and live stacks by cluster and decides one action for
// each. The result is sorted by cluster name.
func Plan(in Input) []Change {
	desired := make(map[string]*render.Stack, len(in.Desired))
	for _, d := range in.Desired {
		desired[d.Cluster] = d
	}
	live := make(map[string]*Live, len(in.Live))
	for i := range in.Live {
		l := &in.Live[i]
		live[l.Cluster] = l
	}
	invalid := make(map[string]bool, len(in.Invalid))
	for _, n := range in.Invalid {
		invalid[n] = true
	}

	names := make(map[string]bool)
	for n := range desired {
		names[n] = true
	}
	for n := range live {
		names[n] = true
	}
	for n := range invalid {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)

	changes := make([]Change, 0, len(sorted))
	for _, name := range sorted {
		d, l := desired[name], live[name]
		var ch Change
		switch {
		case invalid[name]:
			ch = Change{Action: Skip, Reason: "the spec is invalid; the live cluster is left as it is"}
		case d != nil:
			ch = planDeclared(d, l, in.RecreateFailed[name])
			if ch.Action == Update && l != nil {
				explainUpdate(&ch, d, l, in.Offline)
			}
			if !in.Offline {
				addDrift(&ch, d, l)
			}
		default:
			ch = planRemoved(in, l)
		}
		ch.Cluster, ch.Desired, ch.Live = name, d, l
		changes = append(changes, ch)
	}
	limitPrunes(changes, in.PruneLimit, countLive(in.Live))
	return changes
}

// planDeclared decides for a cluster the repo declares.
func planDeclared(d *render.Stack, l *Live, recreate bool) Change {
	if l == nil {
		return Change{Action: Create, Reason: "declared in the repo, no stack exists"}
	}
	if ch, ok := planStatus(l, recreate); ok {
		return ch
	}
	if l.Hash == d.Hash {
		return Change{Action: None, Reason: "stack matches the repo"}
	}
	if l.Hash == "" {
		return Change{Action: Update, Reason: "stack carries no spec hash"}
	}
	return Change{Action: Update, Reason: fmt.Sprintf("spec changed (stack %s, repo %s)", short(l.Hash), short(d.Hash))}
}

// planRemoved decides for a live stack the repo no longer declares.
func planRemoved(in Input, l *Live) Change {
	switch {
	case !in.Prune:
		return Change{Action: Retain, Reason: "not declared in the repo; pruning is off"}
	case in.NameUnknown:
		return Change{Action: Retain, Refused: RefusedUnreadableSpec, Reason: "not declared in the repo, but a broken spec's name could not be read; pruning nothing this cycle"}
	case len(in.Desired) == 0 && len(in.Invalid) == 0:
		return Change{Action: Retain, Refused: RefusedEmptyCheckout, Reason: "the checkout declares no clusters at all; an empty checkout prunes nothing"}
	case l.TerminationProtection:
		return Change{Action: Retain, Refused: RefusedTerminationProtection, Reason: "not declared in the repo, but termination protection is on"}
	}
	if ch, ok := planRemovedStatus(l); ok {
		return ch
	}
	return Change{Action: Delete, Reason: "no longer declared in the repo; pruning is on"}
}

// limitPrunes turns every delete into a retain when a cycle would delete an
// implausible share of all clusters: a repo emptied by mistake must not take
// the clusters with it.
func limitPrunes(changes []Change, limit, total int) {
	if limit < 0 {
		return
	}
	if limit == 0 {
		limit = max(1, total/10)
	}
	n := 0
	for _, c := range changes {
		if c.Action == Delete {
			n++
		}
	}
	if n <= limit {
		return
	}
	for i := range changes {
		if changes[i].Action == Delete {
			changes[i].Action, changes[i].Refused = Retain, RefusedLimit
			changes[i].Reason = fmt.Sprintf("refusing to delete %d of %d clusters in one cycle (limit %d); raise the prune limit to allow it", n, total, limit)
		}
	}
}

// countLive counts the stacks that exist: observe also reports the
// deleted stack of a declared cluster, which must not raise the prune
// limit.
func countLive(ls []Live) int {
	n := 0
	for _, l := range ls {
		if StatusKind(l.Status) != Gone {
			n++
		}
	}
	return n
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
