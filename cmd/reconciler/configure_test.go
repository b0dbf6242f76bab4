package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/spec"
)

// choiceNumber finds the number the wizard listed value under.
func choiceNumber(t *testing.T, listing, value string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*(\d+)\. ` + regexp.QuoteMeta(value) + `\b`).FindStringSubmatch(listing)
	if m == nil {
		t.Fatalf("%s is not listed:\n%s", value, listing)
	}
	return m[1]
}

// TestConfigureThroughATerminal answers the wizard through a
// pseudo-terminal against the emulator, commits the spec it writes and
// runs a cycle: the cluster is created.
func TestConfigureThroughATerminal(t *testing.T) {
	b := newBed(t)
	ctx := t.Context()
	// A second VPC, so the wizard has to list and the answer has to pick.
	other, err := b.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.9.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}

	term := startTerminal(t, "configure", "--repo", b.repo.Work, "--endpoint", b.server.Endpoint)
	term.expect("Cluster name: ")
	term.send("bad name!")
	term.expect("starts with a letter")
	term.expect("Cluster name: ")
	term.send("wizard")
	listing := term.expect("AWS region [")
	if !strings.Contains(listing, "us-east-1") || !strings.Contains(listing, "eu-west-1") {
		t.Errorf("regions not listed:\n%s", listing)
	}
	term.send(choiceNumber(t, listing, "us-east-1"))
	listing = term.expect("EC2 key pair (none: no key pair)")
	term.expect(": ")
	term.send(choiceNumber(t, listing, b.net.KeyName))
	listing = term.expect("VPC [")
	term.expect(": ")
	if !strings.Contains(listing, aws.ToString(other.Vpc.VpcId)) {
		t.Errorf("the second VPC is not listed:\n%s", listing)
	}
	term.send(choiceNumber(t, listing, b.net.VPC))
	listing = term.expect("Subnet of the head node and compute nodes")
	term.expect(": ")
	term.send(choiceNumber(t, listing, b.net.Subnet))
	listing = term.expect("Scheduler [slurm]: ")
	if !strings.Contains(listing, "awsbatch") {
		t.Errorf("schedulers not listed:\n%s", listing)
	}
	term.send("")
	term.expect("Head node instance type [t3.medium]: ")
	term.send("")
	term.expect("Compute queue name [compute]: ")
	term.send("")
	term.expect("Compute node instance type [c5.large]: ")
	term.send("c5.xlarge")
	term.expect("Minimum compute nodes [0]: ")
	term.send("1")
	term.expect("Maximum compute nodes [10]: ")
	term.send("many")
	term.expect("whole number")
	term.expect("Maximum compute nodes [10]: ")
	term.send("6")
	term.expect("SSH (0.0.0.0/0 is the whole internet): ")
	term.send("192.0.2.0/24")
	term.expect("Wrote ")
	if code := term.wait(); code != 0 {
		t.Fatalf("configure exited %d", code)
	}

	file := filepath.Join(b.repo.Work, "clusters", "wizard.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c, errs := spec.Parse("clusters/wizard.yaml", data)
	if len(errs) > 0 {
		t.Fatalf("the written spec is invalid:\n%s\n%s", errs, data)
	}
	if c.VPC != b.net.VPC || c.HeadNode.KeyPair != b.net.KeyName || c.Compute[0].InstanceType != "c5.xlarge" || c.Compute[0].MaxNodes != 6 || c.Compute[0].MinNodes != 1 {
		t.Errorf("spec does not hold the answers:\n%s", data)
	}
	if out := b.repo.Git(t, "status", "--porcelain"); !strings.Contains(out, "clusters/") {
		t.Errorf("configure should leave the file uncommitted; git status: %q", out)
	}

	// Committed and pushed, the daemon creates it.
	b.repo.Commit(t, "cluster wizard", nil)
	d := b.start()
	rep := b.cycle(d)
	if got := actions(rep)["wizard"]; got != diff.Create {
		t.Fatalf("action %s for the configured cluster, want create", got)
	}
	if st := b.stack("wizard").Stacks[0]; st.StackStatus != "CREATE_COMPLETE" {
		t.Errorf("stack %s", st.StackStatus)
	}
	if mn, mx := b.group("wizard"); mn != 1 || mx != 6 {
		t.Errorf("group min/max %d/%d, want 1/6", mn, mx)
	}

	// A second run will not overwrite it.
	var out, errOut bytes.Buffer
	err = configure(ctx, []string{"--non-interactive", "--repo", b.repo.Work, "--endpoint", b.server.Endpoint,
		"--name", "wizard", "--region", moto.Region, "--vpc", b.net.VPC, "--subnet", b.net.Subnet, "--ssh-from", "192.0.2.0/24"},
		strings.NewReader(""), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second configure: %v", err)
	}
}

// TestConfigureInterrupted: Ctrl-C at a prompt ends the wizard at once and
// writes nothing.
func TestConfigureInterrupted(t *testing.T) {
	srv := moto.Start(t)
	dir := t.TempDir()
	term := startTerminal(t, "configure", "--repo", dir, "--endpoint", srv.Endpoint, "--region", moto.Region)
	term.expect("Cluster name: ")
	term.send("halfway")
	term.expect("EC2 key pair")
	if _, err := term.f.Write([]byte{3}); err != nil { // Ctrl-C
		t.Fatal(err)
	}
	term.expect("nothing was written")
	if code := term.wait(); code != 130 {
		t.Errorf("exit %d, want 130", code)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "clusters")); len(entries) != 0 {
		t.Errorf("files written: %v", entries)
	}
}

func TestConfigureNonInteractive(t *testing.T) {
	srv := moto.Start(t)
	ctx := t.Context()
	net := moto.NewNetwork(t, ctx, ec2.NewFromConfig(srv.AWSConfig()))
	base := []string{"--non-interactive", "--endpoint", srv.Endpoint, "--region", moto.Region}
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, c *spec.Cluster)
	}{
		{"missing answers are named", []string{"--name", "x"}, "--vpc, --subnet, --ssh-from", nil},
		{"a bad flag value is refused", []string{"--name", "x", "--vpc", net.VPC, "--subnet", net.Subnet, "--ssh-from", "everyone"}, "headNode.sshFrom", nil},
		{"slurm with defaults", []string{"--name", "plain", "--vpc", net.VPC, "--subnet", net.Subnet, "--ssh-from", "192.0.2.0/24"}, "",
			func(t *testing.T, c *spec.Cluster) {
				if c.Scheduler != "slurm" || c.Compute[0].InstanceType != "c5.large" || c.Compute[0].MaxNodes != 10 || c.HeadNode.KeyPair != "" {
					t.Errorf("%+v", c)
				}
			}},
		{"awsbatch", []string{"--name", "jobs", "--scheduler", "awsbatch", "--vpc", net.VPC, "--subnet", net.Subnet, "--ssh-from", "192.0.2.0/24",
			"--key-pair", net.KeyName, "--max-vcpus", "64", "--batch-instance-types", "c5,m5.large", "--capacity-type", "spot"}, "",
			func(t *testing.T, c *spec.Cluster) {
				if c.Batch == nil || c.Batch.MaxVCPUs != 64 || strings.Join(c.Batch.InstanceTypes, ",") != "c5,m5.large" || c.Batch.CapacityType != "spot" || len(c.Compute) != 0 {
					t.Errorf("%+v %+v", c, c.Batch)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var out, errOut bytes.Buffer
			err := configure(ctx, append(append([]string{"--repo", dir}, base...), tt.args...), strings.NewReader(""), &out, &errOut)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut.String())
			}
			name := tt.args[1]
			data, err := os.ReadFile(filepath.Join(dir, "clusters", name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			c, errs := spec.Parse(name+".yaml", data)
			if len(errs) > 0 {
				t.Fatalf("%s\n%s", errs, data)
			}
			tt.check(t, c)
		})
	}
}
