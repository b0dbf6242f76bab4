package reconcile

import (
	"sort"
	"sync"
	"time"
)

// Condition is the one-word state of a cluster, as people see it.
type Condition string

// The conditions a cluster can be in.
const (
	// Ready: the live cluster is what the repo declares.
	Ready Condition = "Ready"
	// Reconciling: a change is being applied or waited for.
	Reconciling Condition = "Reconciling"
	// Stalled: the last attempt failed; it will be tried again.
	Stalled Condition = "Stalled"
	// Blocked: the daemon will not act without a person (a broken spec,
	// a failed stack, a stack kept although its spec left the repo).
	Blocked Condition = "Blocked"
)

// ClusterStatus is what the daemon knows of one cluster.
type ClusterStatus struct {
	Cluster   string    `json:"cluster"`
	Condition Condition `json:"condition"`
	// Reason is a short machine-friendly cause, e.g. InvalidSpec.
	Reason string `json:"reason,omitempty"`
	// Message says in a person's words what is going on.
	Message string `json:"message,omitempty"`
	// Declared is the repo revision that declares the cluster.
	Declared string `json:"declaredRevision,omitempty"`
	// Applied is the revision recorded on the live stack.
	Applied     string    `json:"appliedRevision,omitempty"`
	StackStatus string    `json:"stackStatus,omitempty"`
	Updated     time.Time `json:"updated"`
	// Operation is the action running on the cluster since
	// OperationStarted, e.g. create; empty when none runs.
	Operation        string     `json:"operation,omitempty"`
	OperationStarted *time.Time `json:"operationStarted,omitempty"`
	// Failures counts the applies that failed in a row; NextAttempt is
	// when the cluster is tried again.
	Failures    int        `json:"failures,omitempty"`
	NextAttempt *time.Time `json:"nextAttempt,omitempty"`
}

// Statuses holds the status of every cluster; the loop is its one writer.
type Statuses struct {
	mu sync.RWMutex
	m  map[string]ClusterStatus
}

// NewStatuses returns an empty status table.
func NewStatuses() *Statuses { return &Statuses{m: make(map[string]ClusterStatus)} }

func (s *Statuses) set(st ClusterStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[st.Cluster] = st
}

// retain drops every cluster not in keep.
func (s *Statuses) retain(keep map[string]bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gone []string
	for name := range s.m {
		if !keep[name] {
			delete(s.m, name)
			gone = append(gone, name)
		}
	}
	return gone
}

// List returns every cluster's status, sorted by name.
func (s *Statuses) List() []ClusterStatus {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]ClusterStatus, 0, len(s.m))
	for _, st := range s.m {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cluster < out[j].Cluster })
	return out
}

// Get returns one cluster's status.
func (s *Statuses) Get(cluster string) (ClusterStatus, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.m[cluster]
	return st, ok
}
