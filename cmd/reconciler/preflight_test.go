package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/reconcile"
)

// TestPlanShowsPreflightHolds: a change the pre-flight checks held reads
// as such in the plan, with its failures, and makes the plan exit 2.
func TestPlanShowsPreflightHolds(t *testing.T) {
	changes := []diff.Change{
		{Cluster: "research", Action: diff.Hold, Hold: reconcile.HoldPreflightFailed,
			Reason: "pre-flight checks failed, so the create waits: research.yaml: headNode.keyPair: key pair \"k\" does not exist in us-east-1"},
		{Cluster: "teaching", Action: diff.Hold, Hold: reconcile.HoldPreflightError,
			Reason: "pre-flight checks could not run, so the update waits: describe VPCs: unreachable"},
	}
	var out bytes.Buffer
	writePlanText(&out, planReport{Mode: "online", Revision: "abc", Changes: changes}, false)
	for _, want := range []string{
		"research: held: pre-flight checks failed",
		`headNode.keyPair: key pair "k" does not exist`,
		"teaching: held: pre-flight checks could not run",
		"Held: 2 failed pre-flight checks.",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, out.String())
		}
	}
	if s := summarisePlan(changes); s.Held != 2 || s.Preflight != 2 || s.Drift != 0 {
		t.Errorf("summary %+v", s)
	}
	if !planHasChanges(changes) {
		t.Error("a plan with held clusters must exit 2")
	}
}
