package slurm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/driftless/driftless/pkg/scale"
)

// number reads a JSON number in every shape Slurm has used for one: a
// plain number, a numeric string, null, or (v0.0.40 on) an object
// {"set": true, "infinite": false, "number": 5}. Unset and infinite are 0.
type number int64

func (n *number) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*n = 0
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '{':
		var o struct {
			Set      *bool    `json:"set"`
			Infinite bool     `json:"infinite"`
			Number   *float64 `json:"number"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		if (o.Set != nil && !*o.Set) || o.Infinite || o.Number == nil {
			return nil
		}
		*n = number(*o.Number)
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil // Slurm writes "" for an unset number in places.
		}
		*n = number(v)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = number(f)
	return nil
}

// words reads a string or a list of strings (v0.0.38 writes a node's state
// as "idle", later versions as ["IDLE", "DRAIN"]).
type words []string

func (w *words) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*w = nil
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] == '[' {
		var l []string
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
		*w = l
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s != "" {
		*w = words{s}
	}
	return nil
}

type apiError struct {
	Error       string `json:"error"`
	Description string `json:"description"`
	ErrorNumber number `json:"error_number"`
	Errno       number `json:"errno"`
}

func checkErrors(errs []apiError) error {
	var out []error
	for _, e := range errs {
		msg := strings.TrimSpace(e.Description + " " + e.Error)
		if msg == "" {
			msg = fmt.Sprintf("error %d", max(e.ErrorNumber, e.Errno))
		}
		out = append(out, errors.New(msg))
	}
	return errors.Join(out...)
}

type nodesDoc struct {
	Errors []apiError `json:"errors"`
	Nodes  *[]rawNode `json:"nodes"`
}

type rawNode struct {
	Name            string `json:"name"`
	Hostname        string `json:"hostname"`
	Address         string `json:"address"`
	State           words  `json:"state"`
	StateFlags      words  `json:"state_flags"`
	Reason          string `json:"reason"`
	ReasonChangedAt number `json:"reason_changed_at"`
	LastBusy        number `json:"last_busy"`
	CPUs            number `json:"cpus"`
	AllocCPUs       number `json:"alloc_cpus"`
	Partitions      words  `json:"partitions"`
	Comment         string `json:"comment"`
}

var instanceID = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)

// ParseNodes reads the nodes of sinfo --json or of slurmrestd's nodes
// endpoint.
func ParseNodes(data []byte) ([]scale.Node, error) {
	var doc nodesDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("slurm nodes: %w", err)
	}
	if err := checkErrors(doc.Errors); err != nil {
		return nil, fmt.Errorf("slurm nodes: %w", err)
	}
	if doc.Nodes == nil {
		return nil, errors.New("slurm nodes: no \"nodes\" in the answer")
	}
	out := make([]scale.Node, 0, len(*doc.Nodes))
	for _, r := range *doc.Nodes {
		if r.Name == "" {
			continue
		}
		st := nodeState(r.State, r.StateFlags)
		n := scale.Node{
			Name:      r.Name,
			Hostname:  r.Hostname,
			Address:   r.Address,
			State:     st,
			Reason:    r.Reason,
			Slots:     int(r.CPUs),
			SlotsUsed: int(r.AllocCPUs),
			Queues:    r.Partitions,
		}
		if instanceID.MatchString(strings.TrimSpace(r.Comment)) {
			n.InstanceID = strings.TrimSpace(r.Comment)
		}
		switch st {
		case scale.Idle:
			n.Since = unix(r.LastBusy)
		case scale.Down, scale.Drained:
			n.Since = unix(r.ReasonChangedAt)
		}
		out = append(out, n)
	}
	return out, nil
}

func unix(n number) time.Time {
	if n <= 0 {
		return time.Time{}
	}
	return time.Unix(int64(n), 0).UTC()
}

// nodeState maps Slurm's base state and flags onto the loop's states.
// In v0.0.38 the base is the state field and flags are separate; later
// versions put both into one list, base first.
func nodeState(state, flags words) scale.NodeState {
	all := map[string]bool{}
	base := ""
	for i, w := range append(append(words{}, state...), flags...) {
		w = strings.ToUpper(strings.TrimSpace(w))
		if i == 0 {
			base = w
		}
		all[w] = true
	}
	switch {
	case all["POWERED_DOWN"] || all["POWERING_DOWN"] || all["POWER_DOWN"] || base == "FUTURE":
		return scale.PoweredDown
	case all["POWERING_UP"]:
		return scale.Booting
	case base == "DOWN" || base == "ERROR" || all["NOT_RESPONDING"] || all["FAIL"]:
		return scale.Down
	}
	busy := base == "ALLOCATED" || base == "MIXED" || all["COMPLETING"]
	if all["DRAIN"] {
		if busy {
			return scale.Draining
		}
		return scale.Drained
	}
	switch {
	case base == "IDLE" && all["COMPLETING"]:
		return scale.Mixed
	case base == "IDLE":
		return scale.Idle
	case base == "ALLOCATED":
		return scale.Allocated
	case base == "MIXED":
		return scale.Mixed
	}
	return scale.Unknown
}

type jobsDoc struct {
	Errors []apiError `json:"errors"`
	Jobs   *[]rawJob  `json:"jobs"`
}

type rawJob struct {
	JobID         number `json:"job_id"`
	JobState      words  `json:"job_state"`
	StateReason   string `json:"state_reason"`
	Partition     string `json:"partition"`
	NodeCount     number `json:"node_count"`
	CPUs          number `json:"cpus"`
	Shared        words  `json:"shared"`
	Exclusive     words  `json:"exclusive"`
	RequiredNodes string `json:"required_nodes"`
	SubmitTime    number `json:"submit_time"`
	ArrayJobID    number `json:"array_job_id"`
	ArrayTaskID   number `json:"array_task_id"`
}

// eligibleReasons are the reasons a pending job gives when more or other
// nodes would start it. Every other reason (a dependency, a hold, a begin
// time, an association or QOS limit) is something nodes cannot fix.
var eligibleReasons = []string{"None", "Priority", "Resources", "PartitionNodeLimit",
	"ReqNodeNotAvail", "NodeDown", "Nodes_required_for_job_are_DOWN", "BeginTime_passed",
	"PowerUp", "Configuring"}

func eligible(reason string) bool {
	for _, r := range eligibleReasons {
		if reason == r || strings.HasPrefix(reason, r+",") || strings.HasPrefix(reason, r+" ") {
			return true
		}
	}
	return reason == ""
}

// ParseJobs reads the pending and running jobs of squeue --json or of
// slurmrestd's jobs endpoint; finished jobs are left out.
func ParseJobs(data []byte) ([]scale.Job, error) {
	var doc jobsDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("slurm jobs: %w", err)
	}
	if err := checkErrors(doc.Errors); err != nil {
		return nil, fmt.Errorf("slurm jobs: %w", err)
	}
	if doc.Jobs == nil {
		return nil, errors.New("slurm jobs: no \"jobs\" in the answer")
	}
	var out []scale.Job
	for _, r := range *doc.Jobs {
		var pending bool
		switch state := firstUpper(r.JobState); state {
		case "PENDING":
			pending = true
		case "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "STAGE_OUT", "RESIZING":
		default:
			continue
		}
		id := strconv.FormatInt(int64(r.JobID), 10)
		if r.ArrayJobID > 0 && r.ArrayJobID != r.JobID {
			id = fmt.Sprintf("%d_%d", int64(r.ArrayJobID), int64(r.ArrayTaskID))
		}
		queue, _, _ := strings.Cut(r.Partition, ",")
		j := scale.Job{
			ID:        id,
			Queue:     queue,
			Pending:   pending,
			Eligible:  pending && eligible(r.StateReason),
			Nodes:     max(int(r.NodeCount), 1),
			Slots:     max(int(r.CPUs), 1),
			Reason:    r.StateReason,
			Submitted: unix(r.SubmitTime),
		}
		for _, s := range append(append(words{}, r.Shared...), r.Exclusive...) {
			switch strings.ToLower(s) {
			case "none", "exclusive", "true", "user", "mcs", "topo":
				j.Exclusive = true
			}
		}
		if r.RequiredNodes != "" {
			nodes, err := ExpandHostlist(r.RequiredNodes)
			if err != nil {
				return nil, fmt.Errorf("slurm jobs: job %s: required nodes: %w", id, err)
			}
			j.RequiredNodes = nodes
		}
		out = append(out, j)
	}
	return out, nil
}

func firstUpper(w words) string {
	if len(w) == 0 {
		return ""
	}
	return strings.ToUpper(w[0])
}
