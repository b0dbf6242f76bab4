package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/driftless/driftless/internal/testbed/moto"
)

// TestValidateNamesTheRightSection: a key in the wrong place is an error
// naming the file, line and column and the place it belongs, never
// silently ignored as ParallelCluster did.
func TestValidateNamesTheRightSection(t *testing.T) {
	const head = `version: 1
name: research
region: us-east-1
scheduler: slurm
vpc: vpc-0123456789abcdef0
headNode:
  instanceType: c5.xlarge
  subnet: subnet-0123456789abcdef0
  sshFrom: 203.0.113.0/24
`
	tests := []struct {
		name, rest, want string
	}{
		{"idle time under compute", "compute:\n  - instanceType: c5.18xlarge\n    maxNodes: 10\n    idleTime: 5m\n",
			"research.yaml:13:5: compute[0].idleTime: unknown field; `idleTime` belongs under `scaling`, not under `compute[0]`"},
		{"maxNodes under the head node", "  maxNodes: 10\ncompute:\n  - instanceType: c5.18xlarge\n    maxNodes: 10\n",
			"research.yaml:10:3: headNode.maxNodes: unknown field; `maxNodes` belongs in each entry of `compute`, not under `headNode`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "research.yaml", head+tt.rest)
			code, out, errOut := runCmd(t, "validate", dir)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
			}
			want := filepath.Join(dir, tt.want)
			if !strings.Contains(out, want) {
				t.Errorf("validate output\n%s\nlacks\n%s", out, want)
			}
		})
	}
}

// liveBed is an emulator with its validation switches on, a network, and
// a daemon config pointing at it.
type liveBed struct {
	srv    *moto.Server
	net    moto.Network
	dir    string
	config string
}

func newLiveBed(t *testing.T) *liveBed {
	t.Helper()
	srv := moto.Start(t, moto.WithValidation())
	b := &liveBed{srv: srv, dir: t.TempDir()}
	b.net = moto.NewNetwork(t, t.Context(), ec2.NewFromConfig(srv.AWSConfig()))
	b.config = writeFile(t, b.dir, "config.yaml", fmt.Sprintf("repo:\n  dir: %s\naws:\n  region: us-east-1\n  endpoint: %s\n", filepath.Join(b.dir, "clusters"), srv.Endpoint))
	return b
}

// spec is a valid spec in the bed's network with the key pair named.
func (b *liveBed) spec(name, keyPair, subnet string) string {
	return fmt.Sprintf(`version: 1
name: %s
region: us-east-1
scheduler: slurm
vpc: %s
headNode:
  instanceType: t3.medium
  subnet: %s
  keyPair: %s
  sshFrom: 192.0.2.0/24
compute:
  - instanceType: c5.large
    maxNodes: 4
`, name, b.net.VPC, subnet, keyPair)
}

// TestValidateLive: --live runs the pre-flight checks of every valid spec
// against the account the config names, and lists every failure with its
// file and field.
func TestValidateLive(t *testing.T) {
	b := newLiveBed(t)
	clusters := filepath.Join(b.dir, "clusters")
	writeFile(t, clusters, "good.yaml", b.spec("good", b.net.KeyName, b.net.Subnet))

	code, out, errOut := runCmd(t, "validate", "--live", "--config", b.config, clusters)
	if code != 0 || !strings.Contains(out, "1 clusters valid; pre-flight checks passed in us-east-1") {
		t.Fatalf("good spec: exit %d\n%s%s", code, out, errOut)
	}
	// Offline, a spec naming what does not exist is valid.
	writeFile(t, clusters, "bad.yaml", b.spec("bad", "duff_key_us-east-1", "subnet-0123456789abcdef0"))
	if code, out, errOut := runCmd(t, "validate", clusters); code != 0 {
		t.Fatalf("offline: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCmd(t, "validate", "--live", "--config", b.config, clusters)
	bad := filepath.Join(clusters, "bad.yaml")
	for _, want := range []string{
		bad + ": headNode.subnet: subnet subnet-0123456789abcdef0 does not exist in us-east-1 (also named in compute[0].subnet)",
		bad + `: headNode.keyPair: key pair "duff_key_us-east-1" does not exist in us-east-1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate --live output lacks %q:\n%s", want, out)
		}
	}
	if code != 1 || strings.Contains(out, "good.yaml") || !strings.Contains(errOut, "1 of 2 files invalid") {
		t.Errorf("exit %d, want 1 with only bad.yaml listed\n%s%s", code, out, errOut)
	}
}

// TestValidateLiveUnreachable: when AWS cannot be reached, --live fails
// with one error rather than passing the specs.
func TestValidateLiveUnreachable(t *testing.T) {
	dir := t.TempDir()
	clusters := filepath.Join(dir, "clusters")
	writeFile(t, clusters, "a.yaml", clusterSpec(moto.Network{VPC: "vpc-0123456789abcdef0", Subnet: "subnet-0123456789abcdef0"}, "a", "slurm", 2))
	endpoint := "http://" + freeAddr(t)
	config := writeFile(t, dir, "config.yaml", "repo:\n  dir: "+clusters+"\naws:\n  region: us-east-1\n  endpoint: "+endpoint+"\n")
	code, out, errOut := runCmd(t, "validate", "--live", "--config", config, clusters)
	if code != 1 || strings.Contains(out, "valid") || !strings.Contains(errOut, "DescribeVpcs") || !strings.Contains(errOut, endpoint) {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
}
