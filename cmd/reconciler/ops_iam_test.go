package main

import (
	"encoding/json"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
)

const policyFile = "../../deploy/iam/policy.json"

// iamPrefix maps the SDK's service IDs to IAM's action prefixes.
var iamPrefix = map[string]string{
	"CloudFormation":  "cloudformation",
	"Auto Scaling":    "autoscaling",
	"EC2":             "ec2",
	"SSM":             "ssm",
	"Batch":           "batch",
	"STS":             "sts",
	"CloudWatch Logs": "logs",
	"ECS":             "ecs",
	"EFS":             "elasticfilesystem",
	"IAM":             "iam",
}

// policyDoc is the part of an IAM policy the test reads.
type policyDoc struct {
	Version   string
	Statement []struct {
		Sid       string
		Effect    string
		Action    []string
		Resource  any
		Condition map[string]map[string]any
	}
}

// notExercised are actions the policy grants that no run against the
// emulator can make, with the reason.
var notExercised = map[string]string{
	"cloudformation:DetectStackDrift":            "moto 5.x does not implement CloudFormation drift detection",
	"cloudformation:DescribeStackResourceDrifts": "moto 5.x does not implement CloudFormation drift detection",
	"cloudformation:UpdateTerminationProtection": "moto 5.x does not implement it; pkg/apply tests it with a fake",
	"iam:PassRole": "not a call: AWS checks it when a stack call names aws.cloudFormationRoleArn (TestCloudFormationRoleReachesCalls)",
}

// ownByCondition reports whether a statement's condition limits it to
// resources of the daemon's stacks (a tag whose value is driftless-*),
// for resources whose ARN cannot say so (instance ids).
func ownByCondition(cond map[string]map[string]any) bool {
	for _, kv := range cond["StringLike"] {
		if v, ok := kv.(string); ok && strings.HasPrefix(v, "driftless-") {
			return true
		}
	}
	return false
}

// TestIAMPolicy replays the end-to-end runs, records every AWS action the
// daemon called, and requires deploy/iam/policy.json to grant exactly
// those: none missing, none unused.
func TestIAMPolicy(t *testing.T) {
	data, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	var p policyDoc
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatalf("%s: %v", policyFile, err)
	}
	if p.Version != "2012-10-17" {
		t.Errorf("policy Version %q", p.Version)
	}
	granted := map[string]bool{}
	for _, st := range p.Statement {
		if st.Effect != "Allow" {
			t.Errorf("statement %s: effect %s; the policy only allows", st.Sid, st.Effect)
		}
		for _, a := range st.Action {
			if strings.Contains(a, "*") {
				t.Errorf("statement %s grants a wildcard action %s", st.Sid, a)
			}
			granted[a] = true
			// Only reads may name every resource; a change is limited to
			// the stacks and groups the daemon names driftless-*.
			_, op, _ := strings.Cut(a, ":")
			read := strings.HasPrefix(op, "Describe") || strings.HasPrefix(op, "List") || strings.HasPrefix(op, "Get")
			if r, ok := st.Resource.(string); !read && (!ok || r == "*" || !strings.Contains(r, "driftless-") && !ownByCondition(st.Condition)) {
				t.Errorf("statement %s grants %s on %v; want the daemon's own resources only", st.Sid, a, st.Resource)
			}
		}
	}

	used := map[string][]string{} // action → runs that used it
	for _, run := range iamRuns {
		t.Run(run.name, func(t *testing.T) {
			for _, c := range run.run(t) {
				prefix, ok := iamPrefix[c.Service]
				if !ok {
					t.Fatalf("no IAM prefix known for service %q: add it to iamPrefix", c.Service)
				}
				a := prefix + ":" + c.Operation
				if !slices.Contains(used[a], run.name) {
					used[a] = append(used[a], run.name)
				}
			}
		})
	}
	if t.Failed() || t.Skipped() {
		return
	}
	var actions []string
	for a := range used {
		actions = append(actions, a)
		if !granted[a] {
			t.Errorf("policy lacks %s, used by %v", a, used[a])
		}
	}
	for a := range granted {
		if used[a] == nil && notExercised[a] == "" {
			t.Errorf("policy grants %s, which no run used", a)
		}
	}
	sort.Strings(actions)
	t.Logf("actions used: %s", strings.Join(actions, ", "))
}
