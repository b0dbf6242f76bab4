package torque

import (
	"context"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/driftless/driftless/pkg/scale"
)

var _ scale.Scheduler = (*Torque)(nil)

// Torque is the fleet loop's view of one Torque server.
type Torque struct{ run scale.Runner }

// New makes an adapter that runs pbsnodes and qstat through run.
func New(run scale.Runner) *Torque { return &Torque{run: run} }

// Snapshot reads nodes and jobs.
func (t *Torque) Snapshot(ctx context.Context) (scale.State, error) {
	out, err := t.run.Run(ctx, nil, "pbsnodes", "-x")
	if err != nil {
		return scale.State{}, err
	}
	nodes, err := ParseNodes(out)
	if err != nil {
		return scale.State{}, err
	}
	out, err = t.run.Run(ctx, nil, "qstat", "-x")
	if err != nil {
		return scale.State{}, err
	}
	jobs, err := ParseJobs(out)
	if err != nil {
		return scale.State{}, err
	}
	return scale.State{Nodes: nodes, Jobs: jobs}, nil
}

// Drain marks the node offline with the reason as its note.
func (t *Torque) Drain(ctx context.Context, node, reason string) error {
	_, err := t.run.Run(ctx, nil, "pbsnodes", "-o", "-N", reason, node)
	return err
}

// Resume clears offline and the note.
func (t *Torque) Resume(ctx context.Context, node string) error {
	_, err := t.run.Run(ctx, nil, "pbsnodes", "-c", "-N", "n", node)
	return err
}

// Remove leaves the node offline with a note; deleting a node needs
// qmgr and a server restart on older versions, which the loop does not do.
func (t *Torque) Remove(ctx context.Context, node string) error {
	_, err := t.run.Run(ctx, nil, "pbsnodes", "-o", "-N", scale.DrainReasonPrefix+" instance terminated", node)
	return err
}

type nodesDoc struct {
	XMLName xml.Name `xml:"Data"`
	Nodes   []struct {
		Name       string `xml:"name"`
		State      string `xml:"state"`
		NP         int    `xml:"np"`
		Jobs       string `xml:"jobs"`
		Note       string `xml:"note"`
		Properties string `xml:"properties"`
	} `xml:"Node"`
}

// ParseNodes reads pbsnodes -x. A node's state is a comma-separated list
// (free, offline, down, job-exclusive, busy, reserve, state-unknown).
func ParseNodes(data []byte) ([]scale.Node, error) {
	var doc nodesDoc
	if err := xml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("pbsnodes xml: %w", err)
	}
	var out []scale.Node
	for _, r := range doc.Nodes {
		if r.Name == "" {
			continue
		}
		st := map[string]bool{}
		for _, w := range strings.Split(r.State, ",") {
			st[strings.TrimSpace(w)] = true
		}
		used := usedSlots(r.Jobs)
		n := scale.Node{Name: r.Name, Slots: max(r.NP, 0), SlotsUsed: used, Reason: r.Note}
		if r.Properties != "" {
			n.Queues = strings.Split(r.Properties, ",")
		}
		switch {
		case st["down"] || st["state-unknown"]:
			n.State = scale.Down
		case st["offline"] && used > 0:
			n.State = scale.Draining
		case st["offline"]:
			n.State = scale.Drained
		case st["job-exclusive"] || st["busy"] || (n.Slots > 0 && used >= n.Slots):
			n.State = scale.Allocated
		case st["free"] && used > 0:
			n.State = scale.Mixed
		case st["free"]:
			n.State = scale.Idle
		default:
			n.State = scale.Unknown
		}
		out = append(out, n)
	}
	return out, nil
}

// usedSlots counts the cores in a jobs list: "0/12.srv, 1/12.srv" (one
// entry per core) or, from Torque 5, "0-3/12.srv,4/13.srv".
func usedSlots(jobs string) int {
	n := 0
	for _, e := range strings.Split(jobs, ",") {
		cores, _, ok := strings.Cut(strings.TrimSpace(e), "/")
		if !ok {
			continue
		}
		lo, hi, isRange := strings.Cut(cores, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if isRange && err1 == nil && err2 == nil && b >= a && b-a < 1<<16 {
			n += b - a + 1
		} else {
			n++
		}
	}
	return n
}

type jobsDoc struct {
	XMLName xml.Name `xml:"Data"`
	Jobs    []struct {
		ID        string `xml:"Job_Id"`
		State     string `xml:"job_state"`
		Queue     string `xml:"queue"`
		Hold      string `xml:"Hold_Types"`
		QTime     int64  `xml:"qtime"`
		Resources struct {
			Nodes  string `xml:"nodes"`
			NodeCt int    `xml:"nodect"`
			Procs  int    `xml:"procs"`
		} `xml:"Resource_List"`
	} `xml:"Job"`
}

// ParseJobs reads qstat -x: queued (Q) and running (R, E) jobs. A queued
// job with a hold, or waiting for its start time (W), is not eligible.
func ParseJobs(data []byte) ([]scale.Job, error) {
	var doc jobsDoc
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, nil // qstat -x prints nothing when no job exists
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("qstat xml: %w", err)
	}
	var out []scale.Job
	for _, r := range doc.Jobs {
		var pending bool
		switch r.State {
		case "Q", "H", "W":
			pending = true
		case "R", "E":
		default:
			continue
		}
		nodes, ppn := nodeSpec(r.Resources.Nodes)
		if r.Resources.NodeCt > 0 {
			nodes = r.Resources.NodeCt
		}
		slots := nodes * ppn
		if r.Resources.Procs > slots {
			slots = r.Resources.Procs
		}
		j := scale.Job{
			ID:       r.ID,
			Queue:    r.Queue,
			Pending:  pending,
			Eligible: pending && r.State == "Q" && (r.Hold == "" || r.Hold == "n"),
			Nodes:    max(nodes, 1),
			Slots:    max(slots, 1),
			Reason:   r.State,
		}
		if r.QTime > 0 {
			j.Submitted = time.Unix(r.QTime, 0).UTC()
		}
		out = append(out, j)
	}
	return out, nil
}

// nodeSpec reads the count and ppn of "2:ppn=4" (or "2", or a list of
// node names "n1+n2"), defaulting to 1 node of 1 processor.
func nodeSpec(s string) (nodes, ppn int) {
	nodes, ppn = 0, 1
	for _, part := range strings.Split(s, "+") {
		fields := strings.Split(part, ":")
		n, err := strconv.Atoi(fields[0])
		if err != nil || n <= 0 || n > 1<<16 {
			n = 1
		}
		nodes += n
		for _, f := range fields[1:] {
			if v, ok := strings.CutPrefix(f, "ppn="); ok {
				if p, err := strconv.Atoi(v); err == nil && p > 0 && p < 1<<16 {
					ppn = max(ppn, p)
				}
			}
		}
	}
	return max(nodes, 1), ppn
}
