package sge

import (
	"context"
	"errors"
	"strings"

	"github.com/driftless/driftless/pkg/scale"
)

var _ scale.Scheduler = (*SGE)(nil)

// Options tune the adapter.
type Options struct {
	// InstanceComplex names a host complex (type STRING) holding each
	// host's instance id, set by the host's boot script with
	// qconf -mattr exechost complex_values NAME=i-... HOST. Empty: hosts
	// are mapped by name only.
	InstanceComplex string
	// HostGroup is the host group a retired host is taken out of
	// (default @allhosts).
	HostGroup string
}

// SGE is the fleet loop's view of one Grid Engine cell.
type SGE struct {
	run  scale.Runner
	opts Options
}

// New makes an adapter that runs qstat, qhost, qmod and qconf through run
// (with SGE_ROOT and SGE_CELL in its environment).
func New(run scale.Runner, opts Options) *SGE {
	if opts.HostGroup == "" {
		opts.HostGroup = "@allhosts"
	}
	return &SGE{run: run, opts: opts}
}

// Snapshot reads every queue instance and every user's jobs.
func (s *SGE) Snapshot(ctx context.Context) (scale.State, error) {
	out, err := s.run.Run(ctx, nil, "qstat", "-f", "-xml", "-u", "*")
	if err != nil {
		return scale.State{}, err
	}
	st, err := ParseQstat(out)
	if err != nil {
		return scale.State{}, err
	}
	if s.opts.InstanceComplex != "" && len(st.Nodes) > 0 {
		out, err := s.run.Run(ctx, nil, "qhost", "-F", s.opts.InstanceComplex, "-xml")
		if err != nil {
			return scale.State{}, err
		}
		ids, err := ParseQhostResource(out, s.opts.InstanceComplex)
		if err != nil {
			return scale.State{}, err
		}
		for i := range st.Nodes {
			st.Nodes[i].InstanceID = ids[st.Nodes[i].Name]
		}
	}
	return st, nil
}

// Drain disables every queue instance of the host. Grid Engine has no
// place for the reason.
func (s *SGE) Drain(ctx context.Context, node, _ string) error {
	_, err := s.run.Run(ctx, nil, "qmod", "-d", "*@"+node)
	return err
}

// Resume enables every queue instance of the host.
func (s *SGE) Resume(ctx context.Context, node string) error {
	_, err := s.run.Run(ctx, nil, "qmod", "-e", "*@"+node)
	return err
}

// Remove takes the host out of the host group and deletes it as an
// execution host. A host already gone is not an error.
func (s *SGE) Remove(ctx context.Context, node string) error {
	var errs []error
	if _, err := s.run.Run(ctx, nil, "qconf", "-dattr", "hostgroup", "hostlist", node, s.opts.HostGroup); err != nil && !gone(err) {
		errs = append(errs, err)
	}
	if _, err := s.run.Run(ctx, nil, "qconf", "-de", node); err != nil && !gone(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func gone(err error) bool {
	m := err.Error()
	return strings.Contains(m, "does not exist") || strings.Contains(m, "is not a member")
}
