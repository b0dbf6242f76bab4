package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestMarshalRoundTrip parses each valid example, writes it with Marshal
// and parses the result: the cluster must come back the same.
func TestMarshalRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.y*ml")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, file, data)
		})
	}
}

// roundTrip checks that Marshal writes what Parse reads back as the same
// cluster, and returns what Marshal wrote.
func roundTrip(t *testing.T, file string, data []byte) []byte {
	t.Helper()
	c, errs := Parse(file, data)
	if errs != nil {
		t.Fatalf("Parse:\n%v", errs)
	}
	out, err := Marshal(c)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	back, errs := Parse(file, out)
	if errs != nil {
		t.Fatalf("Parse of Marshal's output:\n%v\n%s", errs, out)
	}
	if !reflect.DeepEqual(c, back) {
		t.Fatalf("round trip changed the cluster:\n got %+v\nwant %+v\n%s", back, c, out)
	}
	return out
}

func TestMarshalOutput(t *testing.T) {
	out := roundTrip(t, "c.yaml", []byte(base+"baseOS: ubuntu2004\nscaling:\n  idleTime: 1h30m\n  scaleUp: false\n"))
	want := `version: 1
name: research
region: us-east-1
scheduler: slurm
vpc: vpc-0123456789abcdef0
baseOS: ubuntu2004
loginUser: ubuntu
headNode:
  instanceType: c5.xlarge
  subnet: subnet-0123456789abcdef0
  sshFrom: 203.0.113.0/24
compute:
  - name: batch
    instanceType: c5.18xlarge
    initialNodes: 0
    maxNodes: 10
    subnet: subnet-0123456789abcdef0
scaling:
  idleTime: 1h30m
  scaleUp: false
tags:
  team: hpc
`
	if string(out) != want {
		t.Errorf("Marshal:\n%s\nwant:\n%s", out, want)
	}
}

func TestMarshalQuotesWhatWouldReadBackAsAnotherType(t *testing.T) {
	c, errs := Parse("c.yaml", []byte(edit(t, "team: hpc", `team: "1234"`, "  sshFrom", "  keyPair: \"true\"\n  sshFrom")))
	if errs != nil {
		t.Fatal(errs)
	}
	out, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`team: "1234"`, `keyPair: "true"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("Marshal output lacks %s:\n%s", want, out)
		}
	}
}

func TestMarshalLeavesOutUnsetFields(t *testing.T) {
	initial := 2
	c := &Cluster{
		Version: 1, Name: "built", Region: "us-east-1", Scheduler: "sge", VPC: "vpc-0123456789abcdef0",
		HeadNode: HeadNode{InstanceType: "t3.micro", Subnet: "subnet-0123456789abcdef0", SSHFrom: "192.0.2.0/24"},
		Compute:  []Queue{{InstanceType: "t3.micro", InitialNodes: &initial, MaxNodes: 10}},
	}
	out, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	got, errs := Parse("built.yaml", out)
	if errs != nil {
		t.Fatalf("Parse:\n%v\n%s", errs, out)
	}
	// A false is meant, an empty string stands for the default.
	if got.HeadNode.PublicIP || got.Compute[0].CapacityType != "onDemand" || got.Scaling.IdleTime.Minutes() != 10 || got.BaseOS != "alinux2" {
		t.Errorf("Marshal of a built cluster:\n%s", out)
	}
	if _, err := Marshal(nil); err == nil {
		t.Error("Marshal(nil): want an error")
	}
}
