package spec

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// base is a valid spec; the cases below edit it, so the line numbers in
// their expected errors refer to it.
const base = `version: 1
name: research
region: us-east-1
scheduler: slurm
vpc: vpc-0123456789abcdef0
headNode:
  instanceType: c5.xlarge
  subnet: subnet-0123456789abcdef0
  sshFrom: 203.0.113.0/24
compute:
  - name: batch
    instanceType: c5.18xlarge
    minNodes: 0
    maxNodes: 10
tags:
  team: hpc
`

// edit returns base with each old text replaced by the new text that
// follows it. It fails the test when an old text is not in base, so a
// case cannot silently test the unedited spec.
func edit(t *testing.T, pairs ...string) string {
	t.Helper()
	s := base
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("edit: %q is not in the base spec", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

// errorLines renders errors one per line, as the CLI prints them.
func errorLines(es Errors) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Error()
	}
	return out
}

// checkErrors parses data and compares its errors with want, exactly.
func checkErrors(t *testing.T, data string, want []string) {
	t.Helper()
	c, errs := Parse("c.yaml", []byte(data))
	got := errorLines(errs)
	if len(want) == 0 {
		if len(errs) > 0 || c == nil {
			t.Fatalf("Parse: want no errors, got:\n%s", strings.Join(got, "\n"))
		}
		return
	}
	if c != nil {
		t.Errorf("Parse returned a cluster along with errors")
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseRules(t *testing.T) {
	tests := []struct {
		name  string
		edits []string
		data  string // used instead of edits when set
		want  []string
	}{
		{name: "base is valid"},
		{
			name:  "unknown field with a typo",
			edits: []string{"maxNodes: 10", "maxNode: 10"},
			want: []string{
				"c.yaml:11:5: compute[0].maxNodes: is required",
				"c.yaml:14:5: compute[0].maxNode: unknown field; did you mean `maxNodes`?",
			},
		},
		{
			name:  "unknown field in snake case",
			edits: []string{"  sshFrom:", "  ssh_from:"},
			want: []string{
				"c.yaml:7:3: headNode.sshFrom: is required; name the addresses allowed to reach the head node over SSH, e.g. 203.0.113.0/24 (0.0.0.0/0 opens it to the internet)",
				"c.yaml:9:3: headNode.ssh_from: unknown field; did you mean `sshFrom`?",
			},
		},
		{
			name:  "key known elsewhere",
			edits: []string{"    minNodes: 0\n", "    minNodes: 0\n    keyPair: admins\n"},
			want:  []string{"c.yaml:14:5: compute[0].keyPair: unknown field; `keyPair` belongs under `headNode`, not under `compute[0]`"},
		},
		{
			name:  "queue key at the top level",
			edits: []string{"tags:", "maxNodes: 3\ntags:"},
			want:  []string{"c.yaml:15:1: maxNodes: unknown field; `maxNodes` belongs in each entry of `compute`, not at the top level"},
		},
		{
			name:  "unknown field far from anything",
			edits: []string{"tags:", "colour: blue\ntags:"},
			want:  []string{"c.yaml:15:1: colour: unknown field"},
		},
		{
			name:  "duplicate key",
			edits: []string{"region: us-east-1\n", "region: us-east-1\nregion: us-west-2\n"},
			want:  []string{"c.yaml:4:1: region: duplicate key; it is first set on line 3"},
		},
		{
			name:  "duplicate tag",
			edits: []string{"  team: hpc\n", "  team: hpc\n  team: ops\n"},
			want:  []string{"c.yaml:17:3: tags.team: duplicate key; it is first set on line 16"},
		},
		{
			name:  "version missing",
			edits: []string{"version: 1\n", ""},
			want:  []string{"c.yaml:1:1: version: is required; start the file with `version: 1`"},
		},
		{
			name:  "version zero",
			edits: []string{"version: 1", "version: 0"},
			want:  []string{"c.yaml:1:10: version: must be at least 1, not 0"},
		},
		{
			name:  "version from the future",
			edits: []string{"version: 1", "version: 2", "maxNodes: 10", "maxNodes: 10\n    futureField: x"},
			want:  []string{"c.yaml:1:10: version: this file is written for a newer Driftless (spec version 2); this build understands versions up to 1, so upgrade the daemon"},
		},
		{
			name:  "version as text",
			edits: []string{"version: 1", `version: "1"`},
			want:  []string{"c.yaml:1:10: version: must be a whole number, not the text `1`"},
		},
		{
			name:  "name missing",
			edits: []string{"name: research\n", ""},
			want:  []string{"c.yaml:1:1: name: is required"},
		},
		{
			name:  "name with underscore",
			edits: []string{"name: research", "name: research_2"},
			want:  []string{"c.yaml:2:7: name: must be a name that starts with a letter and holds only letters, digits and hyphens, at most 100 characters (the stack is named driftless-NAME), not `research_2`"},
		},
		{
			name:  "name starting with a digit",
			edits: []string{"name: research", "name: 2research"},
			want:  []string{"c.yaml:2:7: name: must be a name that starts with a letter and holds only letters, digits and hyphens, at most 100 characters (the stack is named driftless-NAME), not `2research`"},
		},
		{
			name:  "name too long",
			edits: []string{"name: research", "name: " + strings.Repeat("a", 101)},
			want:  []string{"c.yaml:2:7: name: must be a name that starts with a letter and holds only letters, digits and hyphens, at most 100 characters (the stack is named driftless-NAME); `" + strings.Repeat("a", 60) + "…` is 101 characters long"},
		},
		{
			name:  "name of 100 characters",
			edits: []string{"name: research", "name: " + strings.Repeat("a", 100)},
		},
		{
			name:  "region missing",
			edits: []string{"region: us-east-1\n", ""},
			want:  []string{"c.yaml:1:1: region: is required"},
		},
		{
			name:  "region malformed",
			edits: []string{"region: us-east-1", "region: US East"},
			want:  []string{"c.yaml:3:9: region: must be an AWS region such as us-east-1, not `US East`"},
		},
		{
			name:  "scheduler missing",
			edits: []string{"scheduler: slurm\n", ""},
			want:  []string{"c.yaml:1:1: scheduler: is required; write one of `slurm`, `sge`, `torque` or `awsbatch`"},
		},
		{
			name:  "scheduler unknown",
			edits: []string{"scheduler: slurm", "scheduler: Slurm"},
			want:  []string{"c.yaml:4:12: scheduler: must be `slurm`, `sge`, `torque` or `awsbatch`, not `Slurm`; did you mean `slurm`?"},
		},
		{
			name:  "scheduler pbs",
			edits: []string{"scheduler: slurm", "scheduler: pbs"},
			want:  []string{"c.yaml:4:12: scheduler: must be `slurm`, `sge`, `torque` or `awsbatch`, not `pbs`"},
		},
		{
			name:  "vpc malformed",
			edits: []string{"vpc: vpc-0123456789abcdef0", "vpc: 0123456789abcdef0"},
			want:  []string{"c.yaml:5:6: vpc: must be a VPC id such as vpc-0123456789abcdef0, not `0123456789abcdef0`"},
		},
		{
			name:  "vpc missing",
			edits: []string{"vpc: vpc-0123456789abcdef0\n", ""},
			want:  []string{"c.yaml:1:1: vpc: is required"},
		},
		{
			name:  "head node missing",
			edits: []string{"headNode:\n  instanceType: c5.xlarge\n  subnet: subnet-0123456789abcdef0\n  sshFrom: 203.0.113.0/24\n", ""},
			want:  []string{"c.yaml:1:1: headNode: is required"},
		},
		{
			name:  "head node subnet missing",
			edits: []string{"  subnet: subnet-0123456789abcdef0\n", ""},
			want:  []string{"c.yaml:7:3: headNode.subnet: is required"},
		},
		{
			name:  "head node subnet of the wrong kind",
			edits: []string{"  subnet: subnet-0123456789abcdef0", "  subnet: vpc-0123456789abcdef0"},
			want:  []string{"c.yaml:8:11: headNode.subnet: must be a subnet id such as subnet-0123456789abcdef0, not `vpc-0123456789abcdef0`"},
		},
		{
			name:  "instance type without size",
			edits: []string{"instanceType: c5.xlarge", "instanceType: c5"},
			want:  []string{"c.yaml:7:17: headNode.instanceType: must be an EC2 instance type such as c5.xlarge, not `c5`"},
		},
		{
			name:  "sshFrom not a CIDR",
			edits: []string{"sshFrom: 203.0.113.0/24", "sshFrom: 203.0.113.0"},
			want:  []string{"c.yaml:9:12: headNode.sshFrom: must be an IPv4 CIDR such as 203.0.113.0/24 (or 203.0.113.7/32 for one address), not `203.0.113.0`"},
		},
		{
			name:  "sshFrom IPv6",
			edits: []string{"sshFrom: 203.0.113.0/24", "sshFrom: 2001:db8::/32"},
			want:  []string{"c.yaml:9:12: headNode.sshFrom: must be an IPv4 CIDR such as 203.0.113.0/24 (or 203.0.113.7/32 for one address), not `2001:db8::/32`"},
		},
		{
			name:  "sshFrom with host bits",
			edits: []string{"sshFrom: 203.0.113.0/24", "sshFrom: 203.0.113.9/24"},
			want:  []string{"c.yaml:9:12: headNode.sshFrom: `203.0.113.9/24` has host bits set; did you mean `203.0.113.0/24`?"},
		},
		{
			name:  "sshFrom bad octet",
			edits: []string{"sshFrom: 203.0.113.0/24", "sshFrom: 203.0.113.256/32"},
			want:  []string{"c.yaml:9:12: headNode.sshFrom: must be an IPv4 CIDR such as 203.0.113.0/24 (or 203.0.113.7/32 for one address), not `203.0.113.256/32`"},
		},
		{
			name:  "sshFrom missing",
			edits: []string{"  sshFrom: 203.0.113.0/24\n", ""},
			want:  []string{"c.yaml:7:3: headNode.sshFrom: is required; name the addresses allowed to reach the head node over SSH, e.g. 203.0.113.0/24 (0.0.0.0/0 opens it to the internet)"},
		},
		{
			name:  "min above max",
			edits: []string{"minNodes: 0", "minNodes: 11"},
			want:  []string{"c.yaml:13:15: compute[0].minNodes: is 11, more than maxNodes (10)"},
		},
		{
			name:  "initial below min",
			edits: []string{"minNodes: 0", "minNodes: 2\n    initialNodes: 1"},
			want:  []string{"c.yaml:14:19: compute[0].initialNodes: is 1, less than minNodes (2)"},
		},
		{
			name:  "initial above max",
			edits: []string{"minNodes: 0", "initialNodes: 12"},
			want:  []string{"c.yaml:13:19: compute[0].initialNodes: is 12, more than maxNodes (10)"},
		},
		{
			name:  "max zero",
			edits: []string{"maxNodes: 10", "maxNodes: 0"},
			want:  []string{"c.yaml:14:15: compute[0].maxNodes: must be at least 1, not 0"},
		},
		{
			name:  "negative min",
			edits: []string{"minNodes: 0", "minNodes: -1"},
			want:  []string{"c.yaml:13:15: compute[0].minNodes: must be at least 0, not -1"},
		},
		{
			name:  "fractional max",
			edits: []string{"maxNodes: 10", "maxNodes: 2.5"},
			want:  []string{"c.yaml:14:15: compute[0].maxNodes: must be a whole number, not the number 2.5"},
		},
		{
			name:  "max as words",
			edits: []string{"maxNodes: 10", "maxNodes: ten"},
			want:  []string{"c.yaml:14:15: compute[0].maxNodes: must be a whole number, not the text `ten`"},
		},
		{
			name:  "no queue",
			edits: []string{"compute:\n  - name: batch\n    instanceType: c5.18xlarge\n    minNodes: 0\n    maxNodes: 10\n", ""},
			want:  []string{"c.yaml:1:1: compute: a slurm cluster needs at least one queue"},
		},
		{
			name:  "compute not a list",
			edits: []string{"compute:\n  - name: batch", "compute:\n    name: batch"},
			want:  []string{"c.yaml:11:5: compute: must be a list, not a mapping"},
		},
		{
			name:  "queue names must be unique",
			edits: []string{"tags:", "  - name: batch\n    instanceType: c5.large\n    maxNodes: 1\ntags:"},
			want:  []string{"c.yaml:15:11: compute[1].name: queue `batch` is already declared in compute[0]; queue names must be unique"},
		},
		{
			name:  "queue name required with two queues",
			edits: []string{"  - name: batch\n    instanceType", "  - instanceType", "tags:", "  - instanceType: c5.large\n    maxNodes: 1\ntags:"},
			want: []string{
				"c.yaml:11:5: compute[0].name: is required when there is more than one queue",
				"c.yaml:14:5: compute[1].name: is required when there is more than one queue",
			},
		},
		{
			name:  "queue name not a DNS label",
			edits: []string{"name: batch", "name: Batch_1"},
			want:  []string{"c.yaml:11:11: compute[0].name: must be a lowercase name of letters, digits and hyphens that starts with a letter and does not end with a hyphen, at most 63 characters, not `Batch_1`"},
		},
		{
			name:  "queue subnet malformed",
			edits: []string{"maxNodes: 10", "maxNodes: 10\n    subnet: subnet-XYZ"},
			want:  []string{"c.yaml:15:13: compute[0].subnet: must be a subnet id such as subnet-0123456789abcdef0, not `subnet-XYZ`"},
		},
		{
			name:  "reserved aws tag",
			edits: []string{"  team: hpc", "  aws:cloudformation:stack-name: x"},
			want:  []string{"c.yaml:16:3: tags.aws:cloudformation:stack-name: tag keys starting with `aws:` are reserved by AWS"},
		},
		{
			name:  "reserved driftless tag",
			edits: []string{"  team: hpc", "  Driftless:cluster: x"},
			want:  []string{"c.yaml:16:3: tags.Driftless:cluster: tag keys starting with `driftless:` are reserved: Driftless sets them to recognise its stacks"},
		},
		{
			name:  "tag value a number",
			edits: []string{"  team: hpc", "  cost-center: 4711"},
			want:  []string{"c.yaml:16:16: tags.cost-center: must be text, not the number 4711; put it in quotes: \"4711\""},
		},
		{
			name:  "tag value with forbidden characters",
			edits: []string{"  team: hpc", "  team: hpc;drop"},
			want:  []string{"c.yaml:16:9: tags.team: must be a tag value of letters, digits, spaces and _ . : / = + - @, at most 256 characters, not `hpc;drop`"},
		},
		{
			name:  "too many tags",
			edits: []string{"  team: hpc\n", manyTags(48)},
			want:  []string{"c.yaml:15:1: tags: has 48 tags; at most 47 are allowed (CloudFormation allows 50 and Driftless sets 3)"},
		},
		{
			name:  "as many tags as allowed",
			edits: []string{"  team: hpc\n", manyTags(47)},
		},
		{
			name:  "boolean where text is expected",
			edits: []string{"name: research", "name: true"},
			want:  []string{"c.yaml:2:7: name: must be text, not the boolean true; put it in quotes: \"true\""},
		},
		{
			name:  "mapping where text is expected",
			edits: []string{"region: us-east-1", "region: {name: us-east-1}"},
			want:  []string{"c.yaml:3:9: region: must be text, not a mapping"},
		},
		{
			name:  "every error at once",
			edits: []string{"name: research", "name: re_search", "sshFrom: 203.0.113.0/24", "sshFrom: any", "minNodes: 0", "minNodes: 20", "  team: hpc", "  aws:x: y"},
			want: []string{
				"c.yaml:2:7: name: must be a name that starts with a letter and holds only letters, digits and hyphens, at most 100 characters (the stack is named driftless-NAME), not `re_search`",
				"c.yaml:9:12: headNode.sshFrom: must be an IPv4 CIDR such as 203.0.113.0/24 (or 203.0.113.7/32 for one address), not `any`",
				"c.yaml:13:15: compute[0].minNodes: is 20, more than maxNodes (10)",
				"c.yaml:16:3: tags.aws:x: tag keys starting with `aws:` are reserved by AWS",
			},
		},
		{
			name:  "alias refused",
			edits: []string{"region: us-east-1", "region: &r us-east-1", "  team: hpc", "  team: *r"},
			want:  []string{"c.yaml:16:9: tags.team: must be text, not an alias"},
		},
		{
			name:  "alias of a queue refused",
			edits: []string{"  - name: batch", "  - &q\n    name: batch", "tags:", "  - *q\ntags:"},
			want:  []string{"c.yaml:16:5: compute[1]: YAML aliases (*q) are not allowed; write the value out"},
		},
		{
			name:  "merge key refused",
			edits: []string{"headNode:\n", "hn: &hn\n  subnet: subnet-0123456789abcdef0\nheadNode:\n  <<: *hn\n"},
			want: []string{
				"c.yaml:6:1: hn: unknown field",
				"c.yaml:9:3: headNode: YAML merge keys (<<) are not allowed; write the keys out",
			},
		},
		{
			name:  "non-string key",
			edits: []string{"  team: hpc", "  7: hpc"},
			want:  []string{"c.yaml:16:3: tags: a key must be a word, not the number 7"},
		},
		{
			name: "billion laughs",
			data: "version: 1\n" + billionLaughs,
			want: []string{
				"c.yaml:1:1: headNode: is required",
				"c.yaml:1:1: name: is required",
				"c.yaml:1:1: region: is required",
				"c.yaml:1:1: scheduler: is required; write one of `slurm`, `sge`, `torque` or `awsbatch`",
				"c.yaml:1:1: vpc: is required",
				"c.yaml:2:1: a: unknown field",
				"c.yaml:3:1: b: unknown field",
				"c.yaml:4:1: c: unknown field",
				"c.yaml:5:1: d: unknown field",
				"c.yaml:6:1: e: unknown field",
				"c.yaml:7:1: f: unknown field",
				"c.yaml:8:1: g: unknown field",
				"c.yaml:9:1: h: unknown field",
				"c.yaml:10:7: tags: must be a mapping of keys to values, not a list",
			},
		},
		{
			name: "billion laughs in a list the schema walks",
			data: edit(t, "tags:\n  team: hpc\n", "") + billionLaughs[:strings.Index(billionLaughs, "tags:")] + "storage:\n  ebs: [*h, *h]\n",
			want: []string{
				"c.yaml:15:1: a: unknown field",
				"c.yaml:16:1: b: unknown field",
				"c.yaml:17:1: c: unknown field",
				"c.yaml:18:1: d: unknown field",
				"c.yaml:19:1: e: unknown field",
				"c.yaml:20:1: f: unknown field",
				"c.yaml:21:1: g: unknown field",
				"c.yaml:22:1: h: unknown field",
				"c.yaml:24:9: storage.ebs[0]: YAML aliases (*h) are not allowed; write the value out",
				"c.yaml:24:13: storage.ebs[1]: YAML aliases (*h) are not allowed; write the value out",
			},
		},
		{
			name: "empty file",
			data: "",
			want: []string{"c.yaml:1:1: file is empty; a spec starts with `version: 1`"},
		},
		{
			name: "comments only",
			data: "# nothing yet\n",
			want: []string{"c.yaml:1:1: file is empty; a spec starts with `version: 1`"},
		},
		{
			name: "a list at the top",
			data: "- version: 1\n",
			want: []string{"c.yaml:1:1: a spec must be a mapping of keys to values, not a list"},
		},
		{
			name: "two documents",
			data: base + "---\n" + base,
			want: []string{"c.yaml:17:1: invalid YAML: a second YAML document starts here; a spec file holds one cluster, put each in its own file"},
		},
		{
			name: "syntax error",
			data: "version: 1\nname: [research\n",
			want: []string{"c.yaml:1: invalid YAML: did not find expected ',' or ']'"},
		},
		{
			name: "tab indentation",
			data: "version: 1\nheadNode:\n\tsubnet: x\n",
			want: []string{"c.yaml:3: invalid YAML: found character that cannot start any token"},
		},
		{
			name: "not UTF-8",
			data: "version: 1\nname: caf\xe9\n",
			want: []string{"c.yaml:2:10: file is not UTF-8 text: invalid byte sequence here; save it as UTF-8"},
		},
		{
			name: "too large",
			data: base + "# " + strings.Repeat("x", MaxFileSize) + "\n",
			want: []string{fmt.Sprintf("c.yaml: file is %d bytes; a spec file may hold at most 262144 (256 KiB)", len(base)+MaxFileSize+3)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data
			if data == "" && tt.want == nil || len(tt.edits) > 0 {
				data = edit(t, tt.edits...)
			}
			checkErrors(t, data, tt.want)
		})
	}
}

// billionLaughs is the classic alias bomb: nine levels of ten aliases,
// a billion strings if anything expanded it.
const billionLaughs = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
tags: [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`

// manyTags writes n tag lines for the tags mapping of base.
func manyTags(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("  key")
		b.WriteString(strings.Repeat("x", i))
		b.WriteString(": v\n")
	}
	return b.String()
}

func TestParseDefaults(t *testing.T) {
	c, errs := Parse("c.yaml", []byte(base))
	if errs != nil {
		t.Fatal(errs)
	}
	if c.File != "c.yaml" {
		t.Errorf("File = %q, want c.yaml", c.File)
	}
	if c.LoginUser != "ec2-user" {
		t.Errorf("LoginUser = %q, want ec2-user", c.LoginUser)
	}
	q := c.Compute[0]
	if q.InitialNodes == nil || *q.InitialNodes != 0 {
		t.Errorf("InitialNodes = %v, want 0 (minNodes)", q.InitialNodes)
	}
	if q.Subnet != c.HeadNode.Subnet {
		t.Errorf("queue Subnet = %q, want the head node's %q", q.Subnet, c.HeadNode.Subnet)
	}

	c, errs = Parse("c.yaml", []byte(edit(t, "  - name: batch\n    ", "  - ", "minNodes: 0", "minNodes: 3")))
	if errs != nil {
		t.Fatal(errs)
	}
	if q := c.Compute[0]; q.Name != DefaultQueueName || *q.InitialNodes != 3 {
		t.Errorf("queue = %q with %d initial nodes, want %q with 3", q.Name, *q.InitialNodes, DefaultQueueName)
	}
}

// TestValidExamples parses every file in testdata/valid and compares the
// normalised cluster with its golden JSON (go test -update rewrites them).
func TestValidExamples(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*.y*ml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			c, errs := Parse(file, data)
			if errs != nil {
				t.Fatalf("Parse:\n%v", errs)
			}
			got, err := json.MarshalIndent(c, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(file, filepath.Ext(file))+".golden.json", append(got, '\n'))
		})
	}
}

// golden compares got with the file, or rewrites the file with -update.
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test -update rewrites it):\n got:\n%s\nwant:\n%s", file, got, want)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	for _, tt := range schemaRuleCases() {
		f.Add([]byte(base + tt.add))
	}
	files, _ := filepath.Glob("testdata/valid/*.y*ml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"))
	f.Add([]byte("version: 1\ncompute: [{maxNodes: 1e309}]\n"))
	f.Add([]byte("\xef\xbb\xbfversion: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, errs := Parse("f.yaml", data)
		if (c == nil) == (len(errs) == 0) {
			t.Fatalf("Parse returned cluster %v with %d errors", c != nil, len(errs))
		}
		for _, e := range errs {
			if e.Line < 1 && len(data) <= MaxFileSize {
				t.Errorf("error without a line: %v", e)
			}
		}
		if c == nil {
			return
		}
		out, err := Marshal(c)
		if err != nil {
			t.Fatalf("Marshal of a parsed cluster: %v", err)
		}
		back, errs := Parse("f.yaml", out)
		if errs != nil {
			t.Fatalf("Parse of Marshal's output:\n%v\n%s", errs, out)
		}
		if !reflect.DeepEqual(c, back) {
			t.Fatalf("round trip changed the cluster:\n%s", out)
		}
	})
}
