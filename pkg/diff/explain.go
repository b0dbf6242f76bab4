package diff

import (
	"fmt"
	"strings"

	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/spec"
)

// explainUpdate turns a planned update (the template's hash differs from
// the live stack's) into one a person can review: which settings change
// and how (ch.Fields), which resources (ch.Resources), and whether the
// daemon may go ahead. A change that needs the fleet stopped or replaces
// the head node or storage goes ahead only with its approval line in the
// desired spec's policy.approve; a change that is not allowed never does.
// Either way the update becomes Hold with a reason that says what to do.
func explainUpdate(ch *Change, d *render.Stack, l *Live, offline bool) {
	if l.Template == nil {
		ch.Reason += " (the live template was not read, so the change is not explained)"
		return
	}
	newSpec, nerr := render.SpecFromTemplate(d.Template)
	oldSpec, oerr := render.SpecFromTemplate(l.Template)
	newT, terr := parseTemplate(d.Template)
	oldT, lerr := parseTemplate(l.Template)
	if terr == nil && lerr == nil {
		ch.Resources = compareTemplates(oldT, newT)
	}
	var approvals map[string]bool
	if nerr == nil {
		approvals = approvalSet(newSpec)
	}
	if nerr == nil && oerr == nil {
		ch.Fields = compareSpecs(oldSpec, newSpec, factsOf(l, offline))
	}
	ch.Fields = append(ch.Fields, unexplained(ch.Resources, ch.Fields, oerr != nil, l)...)
	for i := range ch.Fields {
		f := &ch.Fields[i]
		f.Approved = f.Approval != "" && approvals[f.Approval]
	}

	if refused := ch.Disallowed(); len(refused) > 0 {
		ch.Action, ch.Hold = Hold, HoldNotAllowed
		ch.Reason = "not allowed on a live cluster: " + listChanges(refused) + "; " + refused[0].Effect
		return
	}
	if pending := ch.Unapproved(); len(pending) > 0 {
		ch.Action, ch.Hold = Hold, HoldApproval
		lines := make([]string, len(pending))
		for i, f := range pending {
			lines[i] = fmt.Sprintf("%q", f.Approval)
		}
		ch.Reason = fmt.Sprintf("needs approval: %s (%s); to approve, add to the spec's policy.approve: [%s]",
			listChanges(pending), pending[0].Describe(), strings.Join(lines, ", "))
		return
	}
	for _, f := range ch.Fields {
		if f.StopFleet && f.Approved {
			ch.StopFleet = true
		}
	}
	ch.ForceStop = ch.StopFleet && approvals[ForceStopApproval]
	switch {
	case len(ch.Fields) == 0 && len(ch.Resources) == 0:
		ch.Reason = "the template differs only in what the cluster does not see (metadata); updating the stack"
	case len(ch.Fields) == 0:
		ch.Reason = fmt.Sprintf("no setting changed, but %d resources render differently; updating in place", len(ch.Resources))
	default:
		ch.Reason = "spec changed: " + listChanges(ch.Fields)
		if ch.ForceStop {
			ch.Reason += "; approved, with the compute fleet stopped first without draining it (" + ForceStopApproval + ")"
		} else if ch.StopFleet {
			ch.Reason += "; approved, with the compute fleet stopped first"
		} else if approvedAny(ch.Fields) {
			ch.Reason += "; approved"
		}
	}
}

// factsOf reads what the rules may need from the live stack: the nodes in
// service per queue, matched by the group names the renderer gives.
func factsOf(l *Live, offline bool) liveFacts {
	f := liveFacts{running: map[string]int{}, known: !offline}
	prefix := render.GroupName(l.Cluster, "")
	for _, g := range l.Groups {
		if q, ok := strings.CutPrefix(g.Name, prefix); ok {
			f.running[q] = g.InService
		}
	}
	return f
}

func approvalSet(c *spec.Cluster) map[string]bool {
	out := map[string]bool{}
	for _, a := range c.Policy.Approve {
		out[strings.TrimSpace(a)] = true
	}
	return out
}

// unexplained turns resource changes no setting accounts for into
// changes that need approval: a replaced head node or volume is never
// carried out just because a newer Driftless renders it differently, or
// because the live spec could not be read.
func unexplained(resources []ResourceChange, fields []FieldChange, noLiveSpec bool, l *Live) []FieldChange {
	for _, f := range fields {
		if f.Policy >= Replace {
			return nil
		}
	}
	var out []FieldChange
	for _, r := range resources {
		disruptive := r.Data != "" && (r.Op == Removed || r.Replaces())
		if r.Type == "AWS::EC2::Instance" && r.Op == Changed && r.Disruption == Interruption {
			disruptive = true
		}
		if !disruptive {
			continue
		}
		why := "no setting of the spec asks for it (a newer Driftless renders it differently)"
		if noLiveSpec {
			why = "the live stack carries no readable Driftless spec, so the change cannot be explained"
		}
		verb := "replaces"
		switch {
		case r.Op == Removed:
			verb = "removes"
		case r.Disruption == Interruption:
			verb = "restarts"
		}
		data := r.Data
		if data == "" {
			data = DataKept
		}
		out = append(out, FieldChange{
			Path: "resource." + r.LogicalID, Field: "(template)", Op: r.Op,
			Policy: Replace, Replaces: fmt.Sprintf("%s (%s)", r.LogicalID, r.Type), Data: data,
			Effect:   fmt.Sprintf("the template %s %s (%s): %s", verb, r.LogicalID, r.Type, why),
			Approval: fmt.Sprintf("resource.%s=%s@%s", r.LogicalID, verb, short(l.Hash)),
		})
	}
	return out
}

// listChanges writes changes as "path old → new" joined by commas.
func listChanges(fs []FieldChange) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		switch f.Op {
		case Added:
			parts[i] = fmt.Sprintf("%s added", f.Path)
		case Removed:
			parts[i] = fmt.Sprintf("%s removed", f.Path)
		default:
			parts[i] = fmt.Sprintf("%s %s → %s", f.Path, f.Old, f.New)
		}
		if f.Field == "(template)" {
			parts[i] = f.Effect
		}
	}
	return strings.Join(parts, ", ")
}

func approvedAny(fs []FieldChange) bool {
	for _, f := range fs {
		if f.Approved {
			return true
		}
	}
	return false
}

// Unapproved returns the changes that wait for a person's approval.
func (c Change) Unapproved() []FieldChange {
	var out []FieldChange
	for _, f := range c.Fields {
		if f.NeedsApproval() && !f.Approved {
			out = append(out, f)
		}
	}
	return out
}

// Disallowed returns the changes no approval can let through.
func (c Change) Disallowed() []FieldChange {
	var out []FieldChange
	for _, f := range c.Fields {
		if f.Policy == NotAllowed {
			out = append(out, f)
		}
	}
	return out
}

// Policy is the most severe policy among the change's settings; InPlace
// when none changed.
func (c Change) Policy() Policy {
	p := InPlace
	for _, f := range c.Fields {
		p = max(p, f.Policy)
	}
	return p
}

// ReplacesResources reports whether carrying out the change replaces a
// resource: a setting whose policy is Replace, or a resource
// CloudFormation replaces.
func (c Change) ReplacesResources() bool {
	for _, f := range c.Fields {
		if f.Policy == Replace {
			return true
		}
	}
	for _, r := range c.Resources {
		if r.Replaces() {
			return true
		}
	}
	return false
}
