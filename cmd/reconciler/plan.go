package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/reconcile"
)

// oneShot loads the config and wires a reconciler for plan and apply.
func oneShot(ctx context.Context, name string, args []string, stderr io.Writer, opts reconcile.Options) (*daemon, *string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "/etc/driftless/config.yaml", "daemon config file")
	output := fs.String("output", "text", "text or json")
	if err := fs.Parse(args); err != nil {
		return nil, nil, &exitError{code: 2}
	}
	if *output != "text" && *output != "json" {
		return nil, nil, &exitError{code: 2, err: fmt.Errorf("--output must be text or json, got %q", *output)}
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return nil, nil, err
	}
	log := newLogger(cfg.Log, stderr, nil)
	if name == "plan" {
		log = slog.New(slog.DiscardHandler)
	}
	d, err := wire(ctx, cfg, log, prometheus.NewRegistry(), opts, nil)
	return d, output, err
}

// runPlan prints what the next cycle would do. Exit 0: nothing to do;
// 2: changes present; 1: error.
func runPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d, output, err := oneShot(ctx, "plan", args, stderr, reconcile.Options{DryRun: true})
	if err != nil {
		return err
	}
	c, err := d.reconciler.Plan(ctx)
	if err != nil {
		return err
	}
	if *output == "json" {
		err = writePlanJSON(stdout, c)
	} else {
		writePlanText(stdout, c)
	}
	if err != nil {
		return err
	}
	for _, ch := range c.Changes {
		if ch.Mutating() {
			return &exitError{code: 2}
		}
	}
	return nil
}

// runApply runs one cycle and exits; non-zero when any cluster failed.
func runApply(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d, output, err := oneShot(ctx, "apply", args, stderr, reconcile.Options{})
	if err != nil {
		return err
	}
	rep, err := d.reconciler.Reconcile(ctx)
	if err != nil {
		return err
	}
	if *output == "json" {
		if err := json.NewEncoder(stdout).Encode(d.reconciler.Statuses().List()); err != nil {
			return err
		}
	} else {
		for _, st := range d.reconciler.Statuses().List() {
			fmt.Fprintf(stdout, "%-24s %-12s %s\n", st.Cluster, st.Condition, st.Message)
		}
	}
	if n := rep.Failed(); n > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d clusters failed", n)}
	}
	return nil
}

var symbols = map[diff.Action]string{
	diff.Create: "+", diff.Update: "~", diff.Delete: "-", diff.None: " ",
	diff.Retain: "!", diff.Wait: "…", diff.Skip: "!", diff.Blocked: "!",
}

func writePlanText(w io.Writer, c *reconcile.Cycle) {
	counts := map[diff.Action]int{}
	fmt.Fprintf(w, "revision %s\n\n", c.Revision)
	for _, ch := range c.Changes {
		counts[ch.Action]++
		fmt.Fprintf(w, "%s %-24s %-8s %s\n", symbols[ch.Action], ch.Cluster, ch.Action, ch.Reason)
	}
	files := make([]string, 0, len(c.Invalid))
	for f := range c.Invalid {
		files = append(files, f)
	}
	sort.Strings(files)
	for i, f := range files {
		if i == 0 {
			fmt.Fprintln(w)
		}
		for _, e := range c.Invalid[f] {
			fmt.Fprintf(w, "invalid: %s\n", e.Error())
		}
	}
	fmt.Fprintf(w, "\nPlan: %d to create, %d to update, %d to delete.\n", counts[diff.Create], counts[diff.Update], counts[diff.Delete])
}

type planJSON struct {
	Revision string              `json:"revision"`
	Changes  []changeJSON        `json:"changes"`
	Invalid  map[string][]string `json:"invalid,omitempty"`
}

type changeJSON struct {
	Cluster string `json:"cluster"`
	Action  string `json:"action"`
	Reason  string `json:"reason"`
	Stack   string `json:"stack,omitempty"`
}

func writePlanJSON(w io.Writer, c *reconcile.Cycle) error {
	out := planJSON{Revision: c.Revision, Changes: []changeJSON{}}
	for _, ch := range c.Changes {
		cj := changeJSON{Cluster: ch.Cluster, Action: string(ch.Action), Reason: ch.Reason}
		if ch.Live != nil {
			cj.Stack = ch.Live.StackName
		} else if ch.Desired != nil {
			cj.Stack = ch.Desired.Name
		}
		out.Changes = append(out.Changes, cj)
	}
	if len(c.Invalid) > 0 {
		out.Invalid = make(map[string][]string)
		for f, es := range c.Invalid {
			for _, e := range es {
				out.Invalid[f] = append(out.Invalid[f], e.Error())
			}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
