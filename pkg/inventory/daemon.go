package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/driftless/driftless/pkg/reconcile"
)

// Daemon is what a running daemon reports: its conditions from /status and
// its fleet loop's idle nodes from /metrics.
type Daemon struct {
	Statuses []reconcile.ClusterStatus
	// Idle maps a cluster to its idle nodes; a cluster the fleet loop does
	// not watch is absent.
	Idle map[string]int
}

// maxDaemonBody bounds what is read from the daemon.
const maxDaemonBody = 32 << 20

// idleMetric is the fleet loop's gauge of scheduler nodes by state.
const idleMetric = "driftless_scale_nodes"

// FetchDaemon reads /status and /metrics from the daemon at base
// (http://host:port). /status must answer; /metrics is optional, because a
// daemon whose fleet loop is off has no node gauges.
func FetchDaemon(ctx context.Context, client *http.Client, base string) (*Daemon, error) {
	base = strings.TrimRight(base, "/")
	body, err := get(ctx, client, base+"/status")
	if err != nil {
		return nil, err
	}
	d := &Daemon{}
	// /status is an object whose clusters field is the list; daemons
	// before it answered the bare list.
	var doc struct {
		Clusters []reconcile.ClusterStatus `json:"clusters"`
	}
	if err := json.Unmarshal(body, &doc); err == nil {
		d.Statuses = doc.Clusters
	} else if err := json.Unmarshal(body, &d.Statuses); err != nil {
		return nil, fmt.Errorf("daemon %s/status: %w", base, err)
	}
	if metrics, err := get(ctx, client, base+"/metrics"); err == nil {
		d.Idle, _ = idleNodes(metrics)
	}
	return d, nil
}

func get(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDaemonBody))
	if err != nil {
		return nil, fmt.Errorf("daemon %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("daemon %s: %s", url, resp.Status)
	}
	return body, nil
}

// idleNodes reads driftless_scale_nodes{cluster, state="idle"} from a
// Prometheus text exposition.
func idleNodes(text []byte) (map[string]int, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(string(text)))
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	mf, ok := families[idleMetric]
	if !ok {
		return out, nil
	}
	for _, m := range mf.GetMetric() {
		var cluster, state string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "cluster":
				cluster = l.GetValue()
			case "state":
				state = l.GetValue()
			}
		}
		if state == "idle" && cluster != "" {
			out[cluster] += int(m.GetGauge().GetValue())
		}
	}
	return out, nil
}

// Overlay puts the daemon's conditions and idle counts over the computed
// ones: the daemon knows what it tried and why it is blocked, which the
// repo and AWS alone cannot say.
func (inv *Inventory) Overlay(d *Daemon) {
	if d == nil {
		return
	}
	inv.Source = "daemon"
	byName := map[string]reconcile.ClusterStatus{}
	for _, st := range d.Statuses {
		byName[st.Cluster] = st
	}
	for i := range inv.Clusters {
		c := &inv.Clusters[i]
		if st, ok := byName[c.Name]; ok {
			c.Condition, c.Reason, c.Message = string(st.Condition), st.Reason, st.Message
			if st.Declared != "" {
				c.DeclaredRevision = st.Declared
			}
		}
		if n, ok := d.Idle[c.Name]; ok {
			c.Idle = &n
		}
	}
}
