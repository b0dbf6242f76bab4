package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/driftless/driftless/pkg/diff"
)

func TestCloudFormationRoleConfig(t *testing.T) {
	base := "repo:\n  dir: /tmp\naws:\n  region: us-east-1\n  cloudFormationRoleArn: "
	tests := []struct {
		name, arn string
		ok        bool
	}{
		{"role", "arn:aws:iam::123456789012:role/driftless-cloudformation", true},
		{"role with a path", "arn:aws:iam::123456789012:role/service-role/driftless-cloudformation", true},
		{"other partition", "arn:aws-us-gov:iam::123456789012:role/driftless-cloudformation", true},
		{"a name, not an ARN", "driftless-cloudformation", false},
		{"a user", "arn:aws:iam::123456789012:user/driftless", false},
		{"no account", "arn:aws:iam:::role/driftless-cloudformation", false},
		{"an instance profile", "arn:aws:iam::123456789012:instance-profile/driftless", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig("config.yaml", []byte(base+tt.arn+"\n"))
			switch {
			case tt.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.ok && cfg.AWS.CloudFormationRoleARN != tt.arn:
				t.Errorf("role %q, want %q", cfg.AWS.CloudFormationRoleARN, tt.arn)
			case !tt.ok && (err == nil || !strings.Contains(err.Error(), "config.yaml: aws.cloudFormationRoleArn must be an IAM role's ARN")):
				t.Errorf("error %v, want one naming aws.cloudFormationRoleArn", err)
			}
		})
	}
}

// TestCloudFormationRoleReachesCalls: with aws.cloudFormationRoleArn set,
// the daemon names the role in every CreateStack, UpdateStack and
// DeleteStack it sends; without it, in none.
func TestCloudFormationRoleReachesCalls(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/driftless-cloudformation"
	b := newBed(t)
	b.cfg.AWS.CloudFormationRoleARN = role
	b.cfg.Prune = true
	b.repo.Commit(t, "alpha and beta", map[string]string{
		"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 2),
		"clusters/beta.yaml":  clusterSpec(b.net, "beta", "slurm", 2),
	})
	d := b.start()
	b.cycle(d)
	b.repo.Commit(t, "alpha grows, beta goes", map[string]string{"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 3)}, "clusters/beta.yaml")
	if got := actions(b.cycle(d)); got["alpha"] != diff.Update || got["beta"] != diff.Delete {
		t.Fatalf("second cycle %v, want alpha updated and beta deleted", got)
	}

	sent := map[string]int{}
	b.calls.mu.Lock()
	for _, c := range b.calls.list {
		var arn *string
		switch in := c.Input.(type) {
		case *cloudformation.CreateStackInput:
			arn = in.RoleARN
		case *cloudformation.UpdateStackInput:
			arn = in.RoleARN
		case *cloudformation.DeleteStackInput:
			arn = in.RoleARN
		default:
			continue
		}
		sent[c.Operation]++
		if aws.ToString(arn) != role {
			t.Errorf("%s %s names role %q, want %s", c.Operation, target(c.Input), aws.ToString(arn), role)
		}
	}
	b.calls.mu.Unlock()
	if sent["CreateStack"] != 2 || sent["UpdateStack"] != 1 || sent["DeleteStack"] != 1 {
		t.Errorf("stack calls %v, want 2 creates, an update and a delete", sent)
	}
	if got := aws.ToString(b.stack("alpha").Stacks[0].RoleARN); got != role {
		t.Errorf("the emulator holds alpha's role as %q, want %s", got, role)
	}

	// Without the setting no call names a role.
	b.cfg.AWS.CloudFormationRoleARN = ""
	d = b.start()
	b.repo.Commit(t, "alpha grows again", map[string]string{"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 4)})
	b.cycle(d)
	in, _ := b.calls.last("UpdateStack").(*cloudformation.UpdateStackInput)
	if in == nil || in.RoleARN != nil {
		t.Errorf("UpdateStack without the setting: %+v, want no role", in)
	}
}

func (c *calls) last(op string) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.list) - 1; i >= 0; i-- {
		if c.list[i].Operation == op {
			return c.list[i].Input
		}
	}
	return nil
}

const (
	rolePolicyFile = "../../deploy/iam/cloudformation-role.json"
	roleTrustFile  = "../../deploy/iam/cloudformation-role-trust.json"
)

// roleNeeds are, per resource type pkg/render emits, the actions
// CloudFormation calls to create, update and delete it, as the resource
// type reference lists them. The wait condition and its handle are
// CloudFormation's own and need none.
var roleNeeds = map[string][]string{
	"AWS::AutoScaling::AutoScalingGroup": {"autoscaling:CreateAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup", "autoscaling:DeleteAutoScalingGroup",
		"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeScalingActivities", "autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags",
		"ec2:RunInstances", "ec2:CreateTags", "ec2:DescribeLaunchTemplateVersions", "iam:PassRole", "iam:CreateServiceLinkedRole"},
	"AWS::Batch::ComputeEnvironment":           {"batch:CreateComputeEnvironment", "batch:UpdateComputeEnvironment", "batch:DeleteComputeEnvironment", "batch:DescribeComputeEnvironments", "batch:TagResource", "iam:PassRole", "iam:CreateServiceLinkedRole"},
	"AWS::Batch::JobDefinition":                {"batch:RegisterJobDefinition", "batch:DeregisterJobDefinition", "batch:DescribeJobDefinitions", "batch:TagResource"},
	"AWS::Batch::JobQueue":                     {"batch:CreateJobQueue", "batch:UpdateJobQueue", "batch:DeleteJobQueue", "batch:DescribeJobQueues", "batch:TagResource"},
	"AWS::CloudFormation::WaitCondition":       nil,
	"AWS::CloudFormation::WaitConditionHandle": nil,
	"AWS::EC2::EIP":                            {"ec2:AllocateAddress", "ec2:AssociateAddress", "ec2:DisassociateAddress", "ec2:ReleaseAddress", "ec2:DescribeAddresses"},
	"AWS::EC2::Instance": {"ec2:RunInstances", "ec2:TerminateInstances", "ec2:DescribeInstances", "ec2:StopInstances", "ec2:StartInstances",
		"ec2:ModifyInstanceAttribute", "ec2:CreateTags", "ec2:DeleteTags", "ec2:DescribeImages", "iam:PassRole"},
	"AWS::EC2::LaunchTemplate": {"ec2:CreateLaunchTemplate", "ec2:CreateLaunchTemplateVersion", "ec2:ModifyLaunchTemplate", "ec2:DeleteLaunchTemplate",
		"ec2:DescribeLaunchTemplates", "ec2:DescribeLaunchTemplateVersions", "iam:PassRole"},
	"AWS::EC2::PlacementGroup": {"ec2:CreatePlacementGroup", "ec2:DeletePlacementGroup", "ec2:DescribePlacementGroups"},
	"AWS::EC2::SecurityGroup": {"ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup", "ec2:DescribeSecurityGroups",
		"ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress"},
	"AWS::EC2::SecurityGroupEgress":  {"ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress", "ec2:DescribeSecurityGroupRules"},
	"AWS::EC2::SecurityGroupIngress": {"ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DescribeSecurityGroupRules"},
	"AWS::EC2::Volume":               {"ec2:CreateVolume", "ec2:DeleteVolume", "ec2:ModifyVolume", "ec2:DescribeVolumes", "ec2:DescribeVolumesModifications", "ec2:CreateSnapshot", "ec2:DescribeSnapshots"},
	"AWS::EC2::VolumeAttachment":     {"ec2:AttachVolume", "ec2:DetachVolume", "ec2:DescribeVolumes"},
	"AWS::EFS::FileSystem": {"elasticfilesystem:CreateFileSystem", "elasticfilesystem:DeleteFileSystem", "elasticfilesystem:DescribeFileSystems",
		"elasticfilesystem:TagResource", "iam:CreateServiceLinkedRole"},
	"AWS::EFS::MountTarget": {"elasticfilesystem:CreateMountTarget", "elasticfilesystem:DeleteMountTarget", "elasticfilesystem:DescribeMountTargets",
		"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"},
	"AWS::IAM::InstanceProfile": {"iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:GetInstanceProfile", "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:PassRole"},
	"AWS::IAM::Policy":          {"iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:GetRolePolicy"},
	"AWS::IAM::Role": {"iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:TagRole", "iam:UntagRole", "iam:UpdateAssumeRolePolicy",
		"iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:GetRolePolicy", "iam:ListRolePolicies",
		"iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:ListAttachedRolePolicies"},
	"AWS::SSM::Parameter": {"ssm:PutParameter", "ssm:DeleteParameter", "ssm:GetParameters", "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource"},
}

// TestCloudFormationRolePolicy: the example service role covers every
// resource type pkg/render emits (read from its golden templates), and
// its trust policy lets CloudFormation alone assume it. A new resource
// type fails this test until the role and roleNeeds cover it.
func TestCloudFormationRolePolicy(t *testing.T) {
	var p policyDoc
	readJSON(t, rolePolicyFile, &p)
	granted := map[string]bool{}
	for _, st := range p.Statement {
		if st.Effect != "Allow" {
			t.Errorf("statement %s: effect %s", st.Sid, st.Effect)
		}
		for _, a := range st.Action {
			if strings.Contains(a, "*") {
				t.Errorf("statement %s grants a wildcard action %s", st.Sid, a)
			}
			granted[a] = true
		}
	}
	files, err := filepath.Glob("../../pkg/render/testdata/*.template.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rendered templates: %v", err)
	}
	types := map[string]bool{}
	for _, f := range files {
		var tmpl struct {
			Resources map[string]struct{ Type string }
		}
		readJSON(t, f, &tmpl)
		for _, r := range tmpl.Resources {
			types[r.Type] = true
		}
	}
	needed := map[string]bool{}
	for typ := range types {
		actions, ok := roleNeeds[typ]
		if !ok {
			t.Errorf("pkg/render emits %s, which roleNeeds does not know: add it and its actions to %s", typ, rolePolicyFile)
		}
		for _, a := range actions {
			needed[a] = true
			if !granted[a] {
				t.Errorf("%s lacks %s, which %s needs", rolePolicyFile, a, typ)
			}
		}
	}
	for a := range granted {
		if !needed[a] {
			t.Errorf("%s grants %s, which no resource type pkg/render emits needs", rolePolicyFile, a)
		}
	}

	var trust struct {
		Statement []struct {
			Effect    string
			Principal struct{ Service any }
			Action    any
		}
	}
	readJSON(t, roleTrustFile, &trust)
	if len(trust.Statement) != 1 || trust.Statement[0].Effect != "Allow" || trust.Statement[0].Principal.Service != "cloudformation.amazonaws.com" ||
		trust.Statement[0].Action != "sts:AssumeRole" {
		t.Errorf("%s: %+v, want CloudFormation alone allowed to assume the role", roleTrustFile, trust)
	}

	// The daemon may pass that role, to CloudFormation only.
	var daemon policyDoc
	readJSON(t, policyFile, &daemon)
	i := -1
	for j, st := range daemon.Statement {
		if slices.Contains(st.Action, "iam:PassRole") {
			i = j
		}
	}
	if i < 0 {
		t.Fatalf("%s grants no iam:PassRole", policyFile)
	}
	st := daemon.Statement[i]
	if r, _ := st.Resource.(string); !strings.Contains(r, ":role/driftless-") || st.Condition["StringEquals"]["iam:PassedToService"] != "cloudformation.amazonaws.com" {
		t.Errorf("iam:PassRole on %v with %v; want the driftless-* role, passed to CloudFormation only", st.Resource, st.Condition)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
