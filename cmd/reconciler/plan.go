package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

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

// runPlan prints what the next cycle would do, or, with --offline, what
// merging one revision of the repo onto another would make the daemon do.
// Exit 0: no changes; 2: changes present (to apply, or held for a
// person); 1: error, including a bad flag.
func runPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "/etc/driftless/config.yaml", "daemon config file; with --offline it is optional and supplies repo.path, prune and pruneLimit")
	output := fs.String("output", "text", "text or json")
	color := fs.String("color", "auto", "colour the text: auto (only on a terminal), always or never")
	offline := fs.Bool("offline", false, "compare two revisions of the repo without AWS, e.g. for a pull request check")
	base := fs.String("base", "", "offline: the revision (or directory of specs) the plan starts from")
	head := fs.String("head", "HEAD", "offline: the revision (or directory of specs) the plan goes to")
	repo := fs.String("repo", ".", "offline: the git repository holding the revisions")
	specPath := fs.String("path", "", "offline: the sub-directory of the specs in a revision (default: the config's repo.path, else the root)")
	prune := fs.Bool("prune", false, "offline: show specs removed between the revisions as deletes, as a daemon with prune: true would")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 1}
	}
	if *output != "text" && *output != "json" {
		return &exitError{code: 1, err: fmt.Errorf("--output must be text or json, got %q", *output)}
	}
	colour, err := planColor(*color, stdout)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var rep planReport
	if *offline {
		if *base == "" {
			return &exitError{code: 1, err: errors.New("--offline needs --base, the revision or directory to compare with")}
		}
		o := offlineOptions{repo: *repo, base: *base, head: *head, path: *specPath, prune: *prune}
		if set["config"] {
			cfg, err := loadConfig(*configPath)
			if err != nil {
				return err
			}
			if !set["path"] {
				o.path = cfg.Repo.Path
			}
			o.prune = o.prune || cfg.Prune
			o.pruneLimit = cfg.PruneLimit
		}
		rep, err = offlinePlan(ctx, o, slog.New(slog.DiscardHandler))
		if err != nil {
			return err
		}
	} else {
		for _, name := range []string{"base", "head", "repo", "path", "prune"} {
			if set[name] {
				return &exitError{code: 1, err: fmt.Errorf("--%s needs --offline", name)}
			}
		}
		cfg, err := loadConfig(*configPath)
		if err != nil {
			return err
		}
		d, err := wire(ctx, cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), reconcile.Options{DryRun: true}, nil)
		if err != nil {
			return err
		}
		c, err := d.reconciler.Plan(ctx)
		if err != nil {
			return err
		}
		rep = planReport{Mode: "online", Revision: c.Revision, Changes: c.Changes}
		if len(c.Invalid) > 0 {
			rep.Invalid = make(map[string][]string, len(c.Invalid))
			for f, es := range c.Invalid {
				for _, e := range es {
					rep.Invalid[f] = append(rep.Invalid[f], e.Error())
				}
			}
		}
	}
	if *output == "json" {
		if err := writePlanJSON(stdout, rep); err != nil {
			return err
		}
	} else {
		writePlanText(stdout, rep, colour)
	}
	if planHasChanges(rep.Changes) {
		return &exitError{code: 2}
	}
	return nil
}
