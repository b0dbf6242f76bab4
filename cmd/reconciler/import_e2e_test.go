package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/awsclient"
	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/reconcile"
	"github.com/driftless/driftless/pkg/render"
)

// importedBed is the announcement's config imported into a directory of
// specs whose network exists in an emulator with its validation switches
// on, and a daemon config pointing at both.
type importedBed struct {
	srv      *moto.Server
	ec2      *ec2.Client
	net      moto.Network
	clusters string
	config   string
}

func newImportedBed(t *testing.T) *importedBed {
	t.Helper()
	srv := moto.Start(t, moto.WithValidation())
	b := &importedBed{srv: srv, ec2: ec2.NewFromConfig(srv.AWSConfig())}
	b.net = moto.NewNetwork(t, t.Context(), b.ec2)
	// The announcement's key pair, so its name carries over unchanged.
	if _, err := b.ec2.CreateKeyPair(t.Context(), &ec2.CreateKeyPairInput{KeyName: aws.String("duff_key_us-east-1")}); err != nil {
		t.Fatal(err)
	}
	// The announcement's VPC and subnet ids do not exist in the emulator
	// (and are not even hex): the config imported here names the test
	// network's instead, and nothing else changes.
	ini := strings.NewReplacer(
		"vpc-abcdefghigjlmnopq", b.net.VPC,
		"subnet-abcdefghigjlmnop1", b.net.Subnet,
	).Replace(announcementINI)
	dir := t.TempDir()
	b.clusters = filepath.Join(dir, "clusters")
	cfgFile := writeFile(t, dir, "pcluster.config", ini)
	if code, out, errOut := runCmd(t, "import", cfgFile, "--out", b.clusters); code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	b.config = writeFile(t, dir, "config.yaml", fmt.Sprintf("repo:\n  dir: %s\naws:\n  region: us-east-1\n  endpoint: %s\n", b.clusters, srv.Endpoint))
	return b
}

// daemon wires a daemon on the bed, recording its AWS calls.
func (b *importedBed) daemon(t *testing.T, calls *calls, logs *syncBuffer) *daemon {
	t.Helper()
	cfg, err := loadConfig(b.config)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := wire(t.Context(), cfg, log, prometheus.NewRegistry(), reconcile.Options{}, calls.record)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestImportedClusterComesUp is the must-show: the launch
// announcement's config imports into two specs that validate, pass the
// pre-flight checks and render, and the daemon brings the default (SGE)
// cluster to CREATE_COMPLETE with SSH open only to 11.22.33.44/32.
func TestImportedClusterComesUp(t *testing.T) {
	b := newImportedBed(t)
	ctx := t.Context()
	if code, out, errOut := runCmd(t, "validate", "--live", "--config", b.config, b.clusters); code != 0 ||
		!strings.Contains(out, "2 clusters valid; pre-flight checks passed in us-east-1") {
		t.Fatalf("validate --live: exit %d\n%s%s", code, out, errOut)
	}
	for _, f := range []string{"default.yaml", "awsbatch.yaml"} {
		if code, _, errOut := runCmd(t, "render", filepath.Join(b.clusters, f)); code != 0 {
			t.Fatalf("render %s: exit %d\n%s", f, code, errOut)
		}
	}

	cs, logs := &calls{}, &syncBuffer{}
	d := b.daemon(t, cs, logs)
	rep, err := d.reconciler.Reconcile(ctx)
	if err != nil {
		t.Fatalf("cycle: %v\n%s", err, logs)
	}
	for _, o := range rep.Outcomes {
		if o.Change.Action != diff.Create || o.Err != nil {
			t.Fatalf("%s: %s, %v\n%s", o.Change.Cluster, o.Change.Action, o.Err, logs)
		}
	}
	for _, cluster := range []string{"default", "awsbatch"} {
		groups := b.sshOnlyFrom(t, cluster, "11.22.33.44/32")
		t.Logf("%s: CREATE_COMPLETE, security groups %v", cluster, groups)
	}
	t.Logf("%d AWS calls in the cycle", len(cs.all()))
}

// sshOnlyFrom checks that the cluster's stack is CREATE_COMPLETE and that
// its security groups let in SSH, and nothing else, from the internet
// only from cidr; everything else is between the cluster's own groups.
// It returns the groups.
func (b *importedBed) sshOnlyFrom(t *testing.T, cluster, cidr string) []string {
	t.Helper()
	ctx := t.Context()
	cfn := cloudformation.NewFromConfig(b.srv.AWSConfig())
	stack := aws.String(render.StackName(cluster))
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: stack})
	if err != nil || out.Stacks[0].StackStatus != "CREATE_COMPLETE" {
		t.Fatalf("%s's stack: %v %v", cluster, err, out)
	}
	res, err := cfn.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: stack})
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	for _, r := range res.StackResources {
		if aws.ToString(r.ResourceType) == "AWS::EC2::SecurityGroup" {
			groups = append(groups, aws.ToString(r.PhysicalResourceId))
		}
	}
	sgs, err := b.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: groups})
	if err != nil || len(sgs.SecurityGroups) == 0 {
		t.Fatalf("%s: security groups %v of the stack: %v", cluster, groups, err)
	}
	var cidrRules []string
	for _, g := range sgs.SecurityGroups {
		for _, p := range g.IpPermissions {
			for _, r := range p.IpRanges {
				cidrRules = append(cidrRules, fmt.Sprintf("%s %d-%d from %s", aws.ToString(p.IpProtocol), aws.ToInt32(p.FromPort), aws.ToInt32(p.ToPort), aws.ToString(r.CidrIp)))
			}
			for _, pair := range p.UserIdGroupPairs {
				if !slices.Contains(groups, aws.ToString(pair.GroupId)) {
					t.Errorf("%s: group %s lets in group %s, not one of the cluster's", cluster, aws.ToString(g.GroupId), aws.ToString(pair.GroupId))
				}
			}
			if len(p.Ipv6Ranges) > 0 || len(p.PrefixListIds) > 0 {
				t.Errorf("%s: group %s has IPv6 or prefix-list ingress: %+v", cluster, aws.ToString(g.GroupId), p)
			}
		}
	}
	if want := []string{"tcp 22-22 from " + cidr}; !slices.Equal(cidrRules, want) {
		t.Errorf("%s: ingress from addresses %v, want only %v", cluster, cidrRules, want)
	}
	return groups
}

// preflightCalls runs a daemon cycle over specs that make the pre-flight
// checks read every kind of resource they know, and returns the calls, for
// TestIAMPolicy. Each extra spec names a key pair that does not exist, so
// it is held after its checks rather than created; the one naming a
// placement group gets moto's 500 (moto 5.2.5 has no placement groups) and
// is held as unchecked.
func preflightCalls(t *testing.T) []awsclient.Call {
	t.Helper()
	b := newImportedBed(t)
	ctx := t.Context()
	cfg := b.srv.AWSConfig()
	image, err := b.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"},
		Filters: []ec2types.Filter{{Name: aws.String("architecture"), Values: []string{"x86_64"}}}})
	if err != nil || len(image.Images) == 0 {
		t.Fatalf("an x86_64 image in moto: %v", err)
	}
	ami := aws.ToString(image.Images[0].ImageId)
	sg, err := b.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("extra"), Description: aws.String("extra"), VpcId: &b.net.VPC})
	if err != nil {
		t.Fatal(err)
	}
	vol, err := b.ec2.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(moto.Region + "a"), Size: aws.Int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := b.ec2.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: vol.VolumeId})
	if err != nil {
		t.Fatal(err)
	}
	// A volume in use, so the checks look at the instance it is on.
	inst, err := b.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: &ami, InstanceType: "t3.micro", MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: &b.net.Subnet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.ec2.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: vol.VolumeId, InstanceId: inst.Instances[0].InstanceId, Device: aws.String("/dev/sdf")}); err != nil {
		t.Fatal(err)
	}
	fs, err := efs.NewFromConfig(cfg).CreateFileSystem(ctx, &efs.CreateFileSystemInput{CreationToken: aws.String("shared")})
	if err != nil {
		t.Fatal(err)
	}
	iamc := iam.NewFromConfig(cfg)
	role, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("nodes"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := iamc.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("extra"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	base := func(name, head, rest string) string {
		return fmt.Sprintf("version: 1\nname: %s\nregion: us-east-1\nscheduler: slurm\nvpc: %s\nheadNode:\n  instanceType: t3.medium\n  subnet: %s\n  keyPair: no-such-key\n%scompute:\n  - instanceType: c5n.18xlarge\n    maxNodes: 2\n%s",
			name, b.net.VPC, b.net.Subnet, head, rest)
	}
	writeFile(t, b.clusters, "full.yaml", base("full",
		fmt.Sprintf("  ami: %s\n  securityGroup: %s\n", ami, aws.ToString(sg.GroupId)),
		fmt.Sprintf("    efa: true\nstorage:\n  ebs:\n    - mountDir: /data\n      snapshot: %s\n    - mountDir: /old\n      volume: %s\n  efs:\n    mountDir: /efs\n    fileSystem: %s\niam:\n  role: %s\n",
			aws.ToString(snap.SnapshotId), aws.ToString(vol.VolumeId), aws.ToString(fs.FileSystemId), aws.ToString(role.Role.Arn))))
	writeFile(t, b.clusters, "policies.yaml", base("policies", "  sshFrom: 192.0.2.0/24\n", "iam:\n  policies: ["+aws.ToString(pol.Policy.Arn)+"]\n"))
	writeFile(t, b.clusters, "placed.yaml", base("placed", "  sshFrom: 192.0.2.0/24\n", "    placementGroup: tight\n"))

	cs, logs := &calls{}, &syncBuffer{}
	d := b.daemon(t, cs, logs)
	rep, err := d.reconciler.Reconcile(ctx)
	if err != nil {
		t.Fatalf("cycle: %v\n%s", err, logs)
	}
	for _, o := range rep.Outcomes {
		held := o.Change.Action == diff.Hold
		if want := o.Change.Cluster == "full" || o.Change.Cluster == "policies" || o.Change.Cluster == "placed"; held != want {
			t.Errorf("%s: %s (%s)", o.Change.Cluster, o.Change.Action, o.Change.Reason)
		}
	}
	return cs.all()
}
