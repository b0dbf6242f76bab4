package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"golang.org/x/term"

	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/reconcile"
)

// planReport is what `reconciler plan` prints, online or offline.
type planReport struct {
	// Mode is online (against AWS) or offline (two revisions of the repo).
	Mode string
	// Base is the revision an offline plan starts from.
	Base string
	// Revision is the repo revision the plan goes to.
	Revision string
	Changes  []diff.Change
	// Invalid maps each broken spec file to its error messages.
	Invalid map[string][]string
}

// planSummary counts a plan's clusters the way people read a plan.
type planSummary struct {
	Create  int `json:"create"`
	Update  int `json:"update"`
	Replace int `json:"replace"`
	Delete  int `json:"delete"`
	// Held are changes waiting for a person: Approval ones need an
	// approval line, NotAllowed ones can never be made, Drift ones are
	// drift only reported.
	Held       int `json:"held"`
	Approval   int `json:"needsApproval"`
	NotAllowed int `json:"notAllowed"`
	Drift      int `json:"driftReported"`
	// Preflight ones failed their pre-flight checks against the account.
	Preflight int `json:"preflightFailed,omitempty"`
	// Unchanged clusters match the repo.
	Unchanged int `json:"unchanged"`
	// Other clusters wait, are blocked, skipped or retained; their
	// reason says why.
	Other int `json:"other"`
}

// summarisePlan counts the clusters of a plan.
func summarisePlan(changes []diff.Change) planSummary {
	var s planSummary
	for _, ch := range changes {
		switch ch.Action {
		case diff.Create:
			s.Create++
		case diff.Delete:
			s.Delete++
		case diff.Recreate:
			s.Replace++
		case diff.Update, diff.Heal, diff.ContinueRollback:
			if ch.ReplacesResources() {
				s.Replace++
			} else {
				s.Update++
			}
		case diff.Hold:
			s.Held++
			switch ch.Hold {
			case diff.HoldApproval:
				s.Approval++
			case diff.HoldNotAllowed:
				s.NotAllowed++
			case reconcile.HoldPreflightFailed, reconcile.HoldPreflightError:
				s.Preflight++
			default:
				s.Drift++
			}
		case diff.None:
			s.Unchanged++
		default:
			s.Other++
		}
	}
	return s
}

// planHasChanges says whether a plan shows a difference between the repo
// and what is live: something to apply, or held for a person. It decides
// the exit code 2.
func planHasChanges(changes []diff.Change) bool {
	for _, ch := range changes {
		if ch.Mutating() || ch.Action == diff.Hold {
			return true
		}
	}
	return false
}

// planSymbol is the sign of a change, as terraform plans write them.
func planSymbol(ch diff.Change) string {
	switch ch.Action {
	case diff.Create:
		return "+"
	case diff.Delete:
		return "-"
	case diff.Recreate:
		return "-/+"
	case diff.Update, diff.Heal, diff.ContinueRollback, diff.Hold:
		if ch.ReplacesResources() {
			return "-/+"
		}
		return "~"
	case diff.None:
		return " "
	}
	return "!"
}

func planFieldSymbol(f diff.FieldChange) string {
	switch {
	case f.Policy == diff.NotAllowed:
		return "!"
	case f.Policy == diff.Replace:
		return "-/+"
	case f.Op == diff.Added:
		return "+"
	case f.Op == diff.Removed:
		return "-"
	}
	return "~"
}

func planResourceSymbol(r diff.ResourceChange) string {
	switch {
	case r.Op == diff.Added:
		return "+"
	case r.Op == diff.Removed:
		return "-"
	case r.Replaces():
		return "-/+"
	}
	return "~"
}

// planHeadline says in a few words what happens to a cluster.
func planHeadline(ch diff.Change) string {
	switch ch.Action {
	case diff.Create:
		return "create"
	case diff.Delete:
		return "delete"
	case diff.Recreate:
		return "delete and create again"
	case diff.Update:
		switch {
		case ch.StopFleet:
			return "update, approved, with the compute fleet stopped first"
		case ch.ReplacesResources():
			return "update, replacing resources"
		case len(ch.Fields) == 0 && len(ch.Drift) > 0:
			return "update to heal drift"
		}
		return "update in place"
	case diff.Heal:
		return "heal drift"
	case diff.Hold:
		switch ch.Hold {
		case diff.HoldApproval:
			return "held: needs approval"
		case diff.HoldNotAllowed:
			return "held: not allowed"
		case diff.HoldHeadNode:
			return "held: head node lost"
		case reconcile.HoldPreflightFailed:
			return "held: pre-flight checks failed"
		case reconcile.HoldPreflightError:
			return "held: pre-flight checks could not run"
		}
		return "held: drift reported"
	}
	return string(ch.Action)
}

// Colours of a plan, ANSI SGR codes.
const (
	planAdd     = "32"   // green
	planChange  = "33"   // yellow
	planRemove  = "31"   // red
	planReplace = "35"   // magenta
	planHeld    = "1;31" // bold red
	planBold    = "1"
	planFaint   = "2"
)

// planColor decides whether plan output is coloured: --color always or
// never, or auto: only on a terminal, and not with $NO_COLOR set or a dumb
// $TERM.
func planColor(mode string, w io.Writer) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto", "":
		f, ok := w.(*os.File)
		return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb", nil
	}
	return false, fmt.Errorf("--color must be auto, always or never, got %q", mode)
}

type planPainter bool

func (p planPainter) paint(code, s string) string {
	if !p || code == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func planSymbolColor(sym string) string {
	switch sym {
	case "+":
		return planAdd
	case "~":
		return planChange
	case "-":
		return planRemove
	case "-/+":
		return planReplace
	}
	return planHeld
}

// writePlanText prints a plan for people: one section per cluster that
// changes, its settings old → new with their policy, the resources that
// change, drift, and how to approve what is held; then the summary line.
func writePlanText(w io.Writer, rep planReport, colour bool) {
	p := planPainter(colour)
	if rep.Mode == "offline" {
		fmt.Fprintf(w, "Plan from %s to %s (offline: the repo alone, no AWS)\n", planRev(rep.Base), planRev(rep.Revision))
	} else {
		fmt.Fprintf(w, "Plan for revision %s against live AWS\n", planRev(rep.Revision))
	}
	for _, ch := range rep.Changes {
		if ch.Action == diff.None && len(ch.Drift) == 0 {
			continue
		}
		writePlanCluster(w, p, ch)
	}
	if len(rep.Invalid) > 0 {
		fmt.Fprintln(w)
		for _, f := range slices.Sorted(maps.Keys(rep.Invalid)) {
			for _, e := range rep.Invalid[f] {
				fmt.Fprintf(w, "%s %s\n", p.paint(planHeld, "invalid:"), e)
			}
		}
	}
	s := summarisePlan(rep.Changes)
	fmt.Fprintf(w, "\n%s %d to create, %d to update, %d to replace, %d to delete.\n",
		p.paint(planBold, "Plan:"), s.Create, s.Update, s.Replace, s.Delete)
	if s.Held > 0 {
		var parts []string
		for _, part := range []struct {
			n    int
			what string
		}{{s.Approval, "need approval"}, {s.NotAllowed, "not allowed"}, {s.Drift, "drift reported, not healed"}, {s.Preflight, "failed pre-flight checks"}} {
			if part.n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", part.n, part.what))
			}
		}
		fmt.Fprintf(w, "%s %s.\n", p.paint(planHeld, "Held:"), strings.Join(parts, ", "))
	}
	if s.Unchanged > 0 {
		fmt.Fprintf(w, "%d unchanged.\n", s.Unchanged)
	}
}

func writePlanCluster(w io.Writer, p planPainter, ch diff.Change) {
	sym := planSymbol(ch)
	fmt.Fprintf(w, "\n%s %s: %s\n", p.paint(planSymbolColor(sym), sym), p.paint(planBold, ch.Cluster), planHeadline(ch))
	// The reason repeats what the settings and the drift below say in
	// detail; it stands alone only when there are none to list.
	if len(ch.Fields) == 0 && ch.Action != diff.Heal {
		fmt.Fprintf(w, "    %s\n", ch.Reason)
	}
	for _, f := range ch.Fields {
		fs := planFieldSymbol(f)
		fmt.Fprintf(w, "    %s %s  %s\n", p.paint(planSymbolColor(fs), fs), planFieldValue(f), p.paint(planFaint, "("+f.Describe()+")"))
		if f.Policy != diff.InPlace {
			fmt.Fprintf(w, "        %s\n", f.Effect)
		}
		switch {
		case f.Approved:
			fmt.Fprintf(w, "        approved: %s\n", f.Approval)
		case f.Approval != "":
			fmt.Fprintf(w, "        %s %s\n", p.paint(planHeld, "approve with:"), f.Approval)
		}
	}
	if len(ch.Resources) > 0 {
		fmt.Fprintln(w, "    resources:")
		for _, r := range ch.Resources {
			rs := planResourceSymbol(r)
			line := fmt.Sprintf("      %s %s (%s)", p.paint(planSymbolColor(rs), rs), r.LogicalID, r.Type)
			if len(r.Properties) > 0 {
				line += ": " + strings.Join(r.Properties, ", ")
			}
			var notes []string
			if r.Op == diff.Changed && r.Disruption != diff.NoInterruption {
				notes = append(notes, string(r.Disruption))
			}
			if r.Data != "" {
				notes = append(notes, "data "+string(r.Data))
			}
			if len(notes) > 0 {
				line += " " + p.paint(planFaint, "["+strings.Join(notes, ", ")+"]")
			}
			fmt.Fprintln(w, line)
		}
	}
	if len(ch.Drift) > 0 {
		fmt.Fprintln(w, "    drift:")
		for _, d := range ch.Drift {
			what := "report only"
			if d.Heal {
				what = "to heal"
			}
			fmt.Fprintf(w, "      ! %s %s\n", d.Detail, p.paint(planFaint, "("+what+")"))
		}
	}
	if pending := ch.Unapproved(); len(pending) > 0 && ch.Hold == diff.HoldApproval {
		fmt.Fprintln(w, "    to let the daemon carry it out, commit to the cluster's spec:")
		fmt.Fprintln(w, "      policy:")
		fmt.Fprintln(w, "        approve:")
		for _, f := range pending {
			fmt.Fprintf(w, "          - %q\n", f.Approval)
		}
	}
}

// planFieldValue writes a setting's change: path: old → new, or added/removed.
func planFieldValue(f diff.FieldChange) string {
	switch f.Op {
	case diff.Added:
		return fmt.Sprintf("%s: %s", f.Path, f.New)
	case diff.Removed:
		return fmt.Sprintf("%s: %s (removed)", f.Path, f.Old)
	}
	if f.Field == "(template)" {
		return f.Path
	}
	return fmt.Sprintf("%s: %s → %s", f.Path, f.Old, f.New)
}

func planRev(rev string) string {
	if len(rev) == 40 {
		return rev[:12]
	}
	return rev
}

// The JSON form of a plan, for machines. Its field names are stable.
type planJSON struct {
	Mode     string              `json:"mode"`
	Base     string              `json:"base,omitempty"`
	Revision string              `json:"revision"`
	Changes  []changeJSON        `json:"changes"`
	Invalid  map[string][]string `json:"invalid,omitempty"`
	Summary  planSummary         `json:"summary"`
}

type changeJSON struct {
	Cluster   string                `json:"cluster"`
	Action    string                `json:"action"`
	Symbol    string                `json:"symbol"`
	Reason    string                `json:"reason"`
	Stack     string                `json:"stack,omitempty"`
	Hold      string                `json:"hold,omitempty"`
	Policy    diff.Policy           `json:"policy"`
	StopFleet bool                  `json:"stopFleet,omitempty"`
	Fields    []diff.FieldChange    `json:"fields"`
	Resources []diff.ResourceChange `json:"resources"`
	Drift     []diff.Drift          `json:"drift"`
}

func writePlanJSON(w io.Writer, rep planReport) error {
	out := planJSON{Mode: rep.Mode, Base: rep.Base, Revision: rep.Revision, Changes: []changeJSON{},
		Invalid: rep.Invalid, Summary: summarisePlan(rep.Changes)}
	for _, ch := range rep.Changes {
		cj := changeJSON{Cluster: ch.Cluster, Action: string(ch.Action), Symbol: planSymbol(ch), Reason: ch.Reason,
			Hold: ch.Hold, Policy: ch.Policy(), StopFleet: ch.StopFleet,
			Fields: ch.Fields, Resources: ch.Resources, Drift: ch.Drift}
		if cj.Fields == nil {
			cj.Fields = []diff.FieldChange{}
		}
		if cj.Resources == nil {
			cj.Resources = []diff.ResourceChange{}
		}
		if cj.Drift == nil {
			cj.Drift = []diff.Drift{}
		}
		if ch.Live != nil {
			cj.Stack = ch.Live.StackName
		} else if ch.Desired != nil {
			cj.Stack = ch.Desired.Name
		}
		out.Changes = append(out.Changes, cj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}
