package diff

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/driftless/driftless/pkg/spec"
)

var update = flag.Bool("update", false, "rewrite golden files")

// schemaKeys walks spec.Cluster the way the semantic diff does and returns
// every key a change can have: each setting, each list of blocks ([]),
// and each block that may be absent (a pointer).
func schemaKeys(t reflect.Type, prefix string, out *[]string) {
	for _, f := range schemaFields(t) {
		ft := t.Field(f.index).Type
		key := join(prefix, f.name)
		switch {
		case ft == durationType:
			*out = append(*out, key)
		case ft.Kind() == reflect.Struct:
			schemaKeys(ft, key, out)
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
			*out = append(*out, key)
			schemaKeys(ft.Elem(), key, out)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			*out = append(*out, key+"[]")
			schemaKeys(ft.Elem(), key+"[]", out)
		default:
			*out = append(*out, key)
		}
	}
}

// TestPolicyCoversSchema fails when a field of the spec has no update
// policy, or the table names a field the spec no longer has. A field
// added to pkg/spec must be given a policy in policy.go.
func TestPolicyCoversSchema(t *testing.T) {
	var keys []string
	schemaKeys(reflect.TypeFor[spec.Cluster](), "", &keys)
	if len(keys) < 50 {
		t.Fatalf("walked only %d keys; the walk is broken", len(keys))
	}
	for _, k := range keys {
		if _, ok := policies[k]; !ok {
			t.Errorf("spec field %s has no update policy: add it to policies in policy.go", k)
		}
	}
	for k := range policies {
		if !slices.Contains(keys, k) {
			t.Errorf("policy table names %s, which is not a field of the spec", k)
		}
	}
}

// TestPolicyRules checks the decisions the issue names and every refined
// rule's branches.
func TestPolicyRules(t *testing.T) {
	tests := []struct {
		key  string
		args refineArgs
		want Policy
		data Data
	}{
		{"compute[].maxNodes", refineArgs{old: 4, new: 10, known: true}, InPlace, ""},
		{"compute[].maxNodes", refineArgs{old: 10, new: 4, known: true, running: 3}, InPlace, ""},
		{"compute[].maxNodes", refineArgs{old: 10, new: 4, known: true, running: 6}, FleetStop, ""},
		{"compute[].maxNodes", refineArgs{old: 10, new: 4}, FleetStop, ""},
		{"headNode.sshFrom", refineArgs{}, InPlace, ""},
		{"tags", refineArgs{}, InPlace, ""},
		{"scaling.idleTime", refineArgs{}, InPlace, ""},
		{"compute[].instanceType", refineArgs{}, FleetStop, ""},
		{"compute[]", refineArgs{old: nil, new: spec.Queue{}}, InPlace, ""},
		{"compute[]", refineArgs{old: spec.Queue{}, new: nil}, FleetStop, ""},
		{"headNode.instanceType", refineArgs{}, Replace, DataKept},
		{"headNode.subnet", refineArgs{}, Replace, DataLost},
		{"headNode.ami", refineArgs{}, Replace, DataLost},
		{"headNode.securityGroup", refineArgs{publicIP: true}, InPlace, ""},
		{"headNode.securityGroup", refineArgs{publicIP: false}, Replace, DataLost},
		{"storage.ebs[].type", refineArgs{}, Replace, DataKept},
		{"storage.ebs[].size", refineArgs{old: 20, new: 40}, Replace, DataKept},
		{"storage.ebs[].size", refineArgs{old: 40, new: 20}, NotAllowed, ""},
		{"storage.ebs[].encrypted", refineArgs{}, Replace, DataSnapshot},
		{"storage.ebs[]", refineArgs{old: spec.EBSVolume{}, new: nil}, Replace, DataSnapshot},
		{"storage.efs", refineArgs{old: spec.EFS{}, new: nil}, Replace, DataRetained},
		{"storage.raid.level", refineArgs{}, Replace, DataLost},
		{"region", refineArgs{}, NotAllowed, ""},
		{"scheduler", refineArgs{}, NotAllowed, ""},
		{"name", refineArgs{}, NotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %v→%v", tt.key, tt.args.old, tt.args.new), func(t *testing.T) {
			r, ok := ruleFor(tt.key, tt.args)
			if !ok {
				t.Fatalf("no rule for %s", tt.key)
			}
			if r.Policy != tt.want || r.Data != tt.data {
				t.Errorf("policy %s, data %q; want %s, %q", r.Policy, r.Data, tt.want, tt.data)
			}
			if r.Effect == "" {
				t.Error("rule has no effect text")
			}
			if r.Policy == Replace && r.Replaces == "" {
				t.Error("a Replace rule must say what it replaces")
			}
			if r.Policy == FleetStop && !r.StopFleet {
				t.Error("a FleetStop rule must stop the fleet")
			}
		})
	}
}

// TestPolicyDocs keeps docs/update-policies.md, generated from the table,
// in step with it: run go test ./pkg/diff -run TestPolicyDocs -update.
func TestPolicyDocs(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "update-policies.md")
	got := policyDocs()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: run go test ./pkg/diff -run TestPolicyDocs -update", path)
	}
}

func policyDocs() []byte {
	var b bytes.Buffer
	b.WriteString(`# Update policies

What changing each setting of a cluster spec does to a live cluster, and
whether the daemon does it on its own. Generated from the table in
` + "`pkg/diff/policy.go`" + ` by ` + "`go test ./pkg/diff -run TestPolicyDocs -update`" + `;
a test fails when a spec field has no policy.

| policy | the daemon |
|---|---|
| ` + "`in-place`" + ` | applies it |
| ` + "`fleet-stop`" + ` | waits for an approval line, then drains the compute nodes and waits for their jobs (up to ` + "`fleet.drainTimeout`" + `; see [plan.md](plan.md#approving-a-change)), stops the compute fleet, updates and restores the fleet |
| ` + "`replace`" + ` | waits for an approval line (it replaces, restarts or modifies the head node or shared storage), then carries it out, with the fleet stopped first where the effect says so |
| ` + "`not-allowed`" + ` | refuses it: declare a new cluster instead |

How to approve a change is in [plan.md](plan.md#approving-a-change).
A key ending in ` + "`[]`" + ` is an entry of a list added or removed; a
block such as ` + "`storage.efs`" + ` is the block added or removed. Where a
field has two policies, the values decide (lowering a maximum below the
running nodes, shrinking a volume).

| setting | policy | effect |
|---|---|---|
`)
	for _, fp := range Policies() {
		names := make([]string, len(fp.Policies))
		for i, p := range fp.Policies {
			names[i] = "`" + p.String() + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", fp.Field, strings.Join(names, ", "), strings.ReplaceAll(fp.Effect, "|", "\\|"))
	}
	return b.Bytes()
}
