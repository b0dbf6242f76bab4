package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path"

	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/source"
	"github.com/driftless/driftless/pkg/spec"
)

// offlineOptions say which two revisions an offline plan compares.
type offlineOptions struct {
	// repo is the git work tree (or bare repository) holding base and
	// head, when they are revisions.
	repo string
	// base and head are revisions of repo, or directories of specs.
	base, head string
	// path is the sub-directory of the specs in a revision.
	path string
	// prune and pruneLimit are the daemon's settings, so removed specs
	// show as the daemon would treat them.
	prune      bool
	pruneLimit int
}

// loaded is one side of an offline plan: what a checkout declares.
type loaded struct {
	revision    string
	stacks      []*render.Stack
	invalid     map[string][]string
	names       []string // of clusters whose spec is invalid
	nameUnknown bool
}

// offlinePlan compares two revisions of the cluster repo without AWS: the
// clusters declared at base stand for what is live, as if the daemon had
// applied base. It is the check of a pull request: what merging it would
// make the daemon do, and what it would hold for approval. It cannot know
// drift or how many nodes run, so lowering a maximum is taken to need the
// fleet stopped.
func offlinePlan(ctx context.Context, o offlineOptions, log *slog.Logger) (planReport, error) {
	base, err := loadSide(ctx, o, o.base, log)
	if err != nil {
		return planReport{}, fmt.Errorf("base %s: %w", o.base, err)
	}
	head, err := loadSide(ctx, o, o.head, log)
	if err != nil {
		return planReport{}, fmt.Errorf("head %s: %w", o.head, err)
	}
	lives := make([]diff.Live, 0, len(base.stacks))
	for _, st := range base.stacks {
		lives = append(lives, liveFromRevision(st, base.revision))
	}
	changes := diff.Plan(diff.Input{
		Desired:     head.stacks,
		Invalid:     head.names,
		NameUnknown: head.nameUnknown,
		Live:        lives,
		Prune:       o.prune,
		PruneLimit:  o.pruneLimit,
		Offline:     true,
	})
	return planReport{Mode: "offline", Base: base.revision, Revision: head.revision, Changes: changes, Invalid: head.invalid}, nil
}

// loadSide reads one side, a directory or a revision, and renders every
// valid spec, as a daemon cycle does.
func loadSide(ctx context.Context, o offlineOptions, side string, log *slog.Logger) (loaded, error) {
	var snap source.Snapshot
	var err error
	if fi, statErr := os.Stat(side); statErr == nil && fi.IsDir() {
		snap, err = source.NewDir(side, log).Fetch(ctx)
	} else {
		snap, err = source.ReadRevision(o.repo, side, o.path, log)
	}
	if err != nil {
		return loaded{}, err
	}
	files := make(map[string][]byte, len(snap.Files))
	for name, data := range snap.Files {
		files[path.Join(snap.Dir, name)] = data
	}
	set := spec.Load(files)
	out := loaded{revision: snap.Revision, invalid: map[string][]string{}, names: set.InvalidNames, nameUnknown: set.NameUnknown}
	for f, es := range set.Invalid {
		for _, e := range es {
			out.invalid[f] = append(out.invalid[f], e.Error())
		}
	}
	for name, why := range snap.Skipped {
		f := path.Join(snap.Dir, name)
		out.invalid[f] = append(out.invalid[f], f+": not read: "+why.Error())
		out.nameUnknown = true
	}
	for _, c := range set.Clusters {
		st, err := render.Render(c)
		if err != nil {
			out.invalid[c.File] = append(out.invalid[c.File], c.File+": render: "+err.Error())
			out.names = append(out.names, c.Name)
			continue
		}
		out.stacks = append(out.stacks, st)
	}
	if len(out.invalid) == 0 {
		out.invalid = nil
	}
	return out, nil
}

// liveFromRevision is the stack the daemon would have made from st: its
// template, tags and group limits, settled.
func liveFromRevision(st *render.Stack, revision string) diff.Live {
	tags := maps.Clone(st.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	tags[render.TagCluster] = st.Cluster
	tags[render.TagRevision] = revision
	tags[render.TagSpecHash] = st.Hash
	l := diff.Live{
		Cluster: st.Cluster, StackName: st.Name, Status: "UPDATE_COMPLETE",
		Tags: tags, Revision: revision, Hash: st.Hash, Template: st.Template,
	}
	for _, g := range st.Groups {
		l.Groups = append(l.Groups, diff.LiveGroup{Name: g.Name, Min: g.Min, Max: g.Max})
	}
	return l
}
