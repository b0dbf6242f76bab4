package sge

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/driftless/driftless/pkg/scale"
)

type qstatDoc struct {
	XMLName xml.Name   `xml:"job_info"`
	Queues  []queueXML `xml:"queue_info>Queue-List"`
	// Running jobs without -f sit directly under queue_info.
	Running []jobXML `xml:"queue_info>job_list"`
	Pending []jobXML `xml:"job_info>job_list"`
}

type queueXML struct {
	Name       string   `xml:"name"`
	SlotsUsed  int      `xml:"slots_used"`
	SlotsResv  int      `xml:"slots_resv"`
	SlotsTotal int      `xml:"slots_total"`
	State      string   `xml:"state"`
	Jobs       []jobXML `xml:"job_list"`
}

type jobXML struct {
	State     string `xml:"state,attr"`
	Number    string `xml:"JB_job_number"`
	Name      string `xml:"JB_name"`
	JobState  string `xml:"state"`
	Submitted string `xml:"JB_submission_time"`
	Queue     string `xml:"queue_name"`
	Slots     int    `xml:"slots"`
	Tasks     string `xml:"tasks"`
}

// ParseQstat reads qstat -f -xml -u '*' into nodes, one per host, and
// jobs. A host's state joins the states of its queue instances: any
// unreachable (u) or in error (E) makes it down; all disabled (d) makes it
// drained or draining.
func ParseQstat(data []byte) (scale.State, error) {
	var doc qstatDoc
	if err := xml.Unmarshal(data, &doc); err != nil {
		return scale.State{}, fmt.Errorf("qstat xml: %w", err)
	}
	type host struct {
		node             scale.Node
		queues, disabled int
		down             bool
	}
	hosts := map[string]*host{}
	var order []string
	var st scale.State
	for _, q := range doc.Queues {
		qname, hname, ok := strings.Cut(q.Name, "@")
		if !ok || hname == "" {
			continue
		}
		h := hosts[hname]
		if h == nil {
			h = &host{node: scale.Node{Name: hname}}
			hosts[hname] = h
			order = append(order, hname)
		}
		h.queues++
		h.node.Queues = append(h.node.Queues, qname)
		h.node.Slots += max(q.SlotsTotal, 0)
		h.node.SlotsUsed += max(q.SlotsUsed, 0) + max(q.SlotsResv, 0)
		if strings.ContainsAny(q.State, "uEo") {
			h.down = true
		}
		if strings.ContainsAny(q.State, "dD") {
			h.disabled++
		}
		for _, j := range q.Jobs {
			st.Jobs = append(st.Jobs, runningJob(j, qname))
		}
	}
	for _, j := range doc.Running {
		qname, _, _ := strings.Cut(j.Queue, "@")
		st.Jobs = append(st.Jobs, runningJob(j, qname))
	}
	for _, name := range order {
		h := hosts[name]
		n := h.node
		switch {
		case h.down:
			n.State = scale.Down
		case h.disabled == h.queues && n.SlotsUsed > 0:
			n.State = scale.Draining
		case h.disabled == h.queues:
			n.State = scale.Drained
		case n.SlotsUsed == 0:
			n.State = scale.Idle
		case n.SlotsUsed >= n.Slots:
			n.State = scale.Allocated
		default:
			n.State = scale.Mixed
		}
		st.Nodes = append(st.Nodes, n)
	}
	for _, j := range doc.Pending {
		st.Jobs = append(st.Jobs, pendingJob(j))
	}
	return st, nil
}

func runningJob(j jobXML, queue string) scale.Job {
	return scale.Job{ID: jobID(j), Queue: queue, Nodes: 1, Slots: max(j.Slots, 1)}
}

// pendingJob reads a waiting job. Only plain "qw" is eligible: h (hold),
// E (error) and the like wait for a person, not for a host.
func pendingJob(j jobXML) scale.Job {
	out := scale.Job{
		ID:       jobID(j),
		Pending:  true,
		Eligible: j.JobState == "qw",
		Nodes:    1,
		Slots:    max(j.Slots, 1),
		Reason:   j.JobState,
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05", j.Submitted, time.Local); err == nil {
		out.Submitted = t
	}
	// An array job's pending tasks ("1-10:1") each need their slots.
	if n := taskCount(j.Tasks); n > 1 {
		out.Slots *= n
		out.Nodes = 1
	}
	return out
}

func jobID(j jobXML) string {
	if j.Tasks != "" {
		return j.Number + "." + j.Tasks
	}
	return j.Number
}

// taskCount counts the tasks of a range "1-10:2" or a list "1,3,5".
func taskCount(s string) int {
	if s == "" {
		return 1
	}
	total := 0
	for _, part := range strings.Split(s, ",") {
		rng, step, hasStep := strings.Cut(part, ":")
		lo, hi, isRange := strings.Cut(rng, "-")
		a, err1 := strconv.Atoi(lo)
		if err1 != nil {
			return 1
		}
		if !isRange {
			total++
			continue
		}
		b, err2 := strconv.Atoi(hi)
		st := 1
		if hasStep {
			if v, err := strconv.Atoi(step); err == nil && v > 0 {
				st = v
			}
		}
		if err2 != nil || b < a {
			return 1
		}
		total += (b-a)/st + 1
		if total > 1<<20 {
			return 1 << 20
		}
	}
	return max(total, 1)
}

type qhostDoc struct {
	Hosts []struct {
		Name      string `xml:"name,attr"`
		Resources []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:",chardata"`
		} `xml:"resourcevalue"`
	} `xml:"host"`
}

// ParseQhostResource reads one resource per host from qhost -F NAME -xml,
// the way the adapter learns instance ids kept in a host complex.
func ParseQhostResource(data []byte, resource string) (map[string]string, error) {
	var doc qhostDoc
	if err := xml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("qhost xml: %w", err)
	}
	out := map[string]string{}
	for _, h := range doc.Hosts {
		for _, r := range h.Resources {
			if r.Name == resource && h.Name != "global" {
				out[h.Name] = strings.TrimSpace(r.Value)
			}
		}
	}
	return out, nil
}
