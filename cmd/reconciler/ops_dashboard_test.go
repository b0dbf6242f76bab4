package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/testbed/prometheus"
)

const dashboardFile = "../../deploy/grafana/driftless.json"

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	Panels  []panel
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// queries lists every panel's expressions with Grafana's variables
// replaced by what they stand for on a dashboard showing everything.
func (d dashboard) queries() map[string]string {
	vars := strings.NewReplacer(
		"$__rate_interval", "1m",
		"$__interval", "1s",
		"$__range", "5m",
		"$job", ".*",
		"$cluster", ".*",
	)
	out := map[string]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out[p.Title+" / "+tg.RefID] = vars.Replace(tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

func TestDashboardShape(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard has no uid or title")
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	for _, v := range []string{"datasource", "job", "cluster"} {
		if !vars[v] {
			t.Errorf("dashboard lacks the $%s variable", v)
		}
	}
	ids := map[int]string{}
	for _, p := range d.Panels {
		if other, ok := ids[p.ID]; ok {
			t.Errorf("panels %q and %q share id %d", p.Title, other, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
	}
	for name, expr := range d.queries() {
		if strings.Contains(expr, "$") {
			t.Errorf("%s: unknown variable left in %s", name, expr)
		}
		if !strings.Contains(expr, `job=~".*"`) {
			t.Errorf("%s: query does not select on $job: %s", name, expr)
		}
	}
}

// TestDashboardPanels runs the daemon end to end with a real Prometheus
// scraping it every second, then asks Prometheus every panel's query: each
// must return data. It also checks the exposition with promtool.
func TestDashboardPanels(t *testing.T) {
	promtool := prometheus.Promtool(t)
	var prom *prometheus.Server
	ops := operationsRun(t, func(addr string) {
		prom = prometheus.Start(t, prometheus.Options{Targets: []string{addr}})
	})
	prom.WaitScraped(t, time.Now())

	// This run reaches no head node, so no fleet loop completes a round:
	// the fleet panels are checked for syntax here, and for data by
	// TestDashboardFleetPanels.
	families, err := ops.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, mf := range families {
		exported[mf.GetName()] = true
	}
	missing := func(expr string) string {
		if strings.Contains(expr, "driftless_scale_") && !exported["driftless_scale_nodes"] {
			return "driftless_scale_*"
		}
		return ""
	}

	for name, expr := range readDashboard(t).queries() {
		t.Run(name, func(t *testing.T) {
			res, err := prom.Query(t.Context(), expr, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if m := missing(expr); m != "" {
				t.Skipf("this run has no fleet loop round, so no %s (TestDashboardFleetPanels checks it); query is valid", m)
			}
			if len(res) == 0 {
				t.Errorf("no data for %s", expr)
			}
		})
	}

	t.Run("promtool check metrics", func(t *testing.T) {
		code, body := ops.r.get(t, "/metrics")
		if code != 200 {
			t.Fatalf("/metrics answered %d", code)
		}
		cmd := exec.CommandContext(t.Context(), promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(string(body))
		if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	})
}
