package source

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Refusal is a head the source would not hand out because it is not
// trusted, and since when that has been so.
type Refusal struct {
	// Revision is the refused commit.
	Revision string `json:"revision"`
	// Reason says why ("unsigned", or why the signature did not verify).
	Reason string `json:"reason"`
	// Since is when this revision was first refused.
	Since time.Time `json:"since"`
}

// KeepTrusted wraps a Source so that a refused head leaves the last trusted
// snapshot in force: when the wrapped source returns an *UntrustedError,
// Fetch returns the last snapshot it returned before, without an error,
// and Refused says what was refused. Until one trusted snapshot has been
// seen there is nothing to keep, and the error passes through.
//
// The loop that uses it therefore keeps applying the last trusted revision
// (healing drift with it, never moving to the refused one), while the
// daemon shows the refusal in its status and metrics.
type KeepTrusted struct {
	src Source
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	last    Snapshot
	have    bool
	refused *Refusal
}

var _ Source = (*KeepTrusted)(nil)

// NewKeepTrusted wraps src. now is the clock the refusal's Since is read
// from (time.Now in the daemon).
func NewKeepTrusted(src Source, now func() time.Time, log *slog.Logger) *KeepTrusted {
	return &KeepTrusted{src: src, now: now, log: orDiscard(log)}
}

// Adopt takes over the last trusted snapshot and the current refusal of
// prev, the wrapper of the same repository before a configuration reload,
// so that a reload while the head is refused keeps the trusted revision in
// force. A nil prev changes nothing.
func (k *KeepTrusted) Adopt(prev *KeepTrusted) {
	if prev == nil || prev == k {
		return
	}
	prev.mu.Lock()
	last, have, refused := prev.last, prev.have, prev.refused
	prev.mu.Unlock()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.last, k.have, k.refused = last, have, refused
}

// Fetch returns the wrapped source's snapshot, or the last trusted one when
// the head is refused.
func (k *KeepTrusted) Fetch(ctx context.Context) (Snapshot, error) {
	snap, err := k.src.Fetch(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	var untrusted *UntrustedError
	switch {
	case err == nil:
		if k.refused != nil {
			k.log.Info("the branch head is trusted again", "revision", snap.Revision, "refused_was", k.refused.Revision)
			k.refused = nil
		}
		k.last, k.have = snap.clone(), true
		return snap, nil
	case errors.As(err, &untrusted):
		if k.refused == nil || k.refused.Revision != untrusted.Revision || k.refused.Reason != untrusted.Reason {
			k.refused = &Refusal{Revision: untrusted.Revision, Reason: untrusted.Reason, Since: k.now()}
			attrs := []any{"refused", untrusted.Revision, "reason", untrusted.Reason}
			if k.have {
				attrs = append(attrs, "in_force", k.last.Revision)
			}
			k.log.Warn("branch head refused: not signed by a trusted key; the last trusted revision stays in force", attrs...)
		}
		if !k.have {
			return Snapshot{}, err
		}
		return k.last.clone(), nil
	default:
		return Snapshot{}, err
	}
}

// Refused returns the refused head, or nil when the head is in force.
func (k *KeepTrusted) Refused() *Refusal {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.refused == nil {
		return nil
	}
	r := *k.refused
	return &r
}

// Revision returns the revision of the snapshot in force, "" before the
// first trusted one.
func (k *KeepTrusted) Revision() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.last.Revision
}
