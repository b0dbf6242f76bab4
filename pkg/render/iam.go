package render

import (
	"slices"
	"strings"

	"github.com/driftless/driftless/pkg/spec"
)

// Managed policies the cluster itself needs, written with the partition so
// the template works in every partition.
const (
	policyBatchInstance = "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
	policyBatchService  = "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSBatchServiceRole"
)

// iam declares the nodes' instance profile and, unless the spec names an
// existing role, the role behind it: what the cluster needs (its own
// stack's metadata and signals, describing instances and volumes, the
// bootstrap scripts on S3), the spec's extra managed policies and its S3
// access. An existing role is used as it is: the spec's policies and S3
// access belong on it, and the spec's validation says so.
//
// Roles get no explicit name, so CreateStack needs CAPABILITY_IAM only.
// (moto 5.2.5 ignores ManagedPolicyArns on AWS::IAM::Role; inline
// Policies are kept.)
func (b *builder) iam() {
	c := b.c
	var roles []any
	if c.IAM.Role == "" {
		var managed []any
		for _, p := range c.IAM.Policies {
			managed = append(managed, p)
		}
		if c.Scheduler == schedulerBatch {
			managed = append(managed, sub(policyBatchInstance))
		}
		props := map[string]any{
			"AssumeRolePolicyDocument": trustPolicy("ec2.amazonaws.com"),
			"Policies":                 b.nodePolicies(),
			"Tags":                     tagList(b.resourceTags(b.stackName+"-nodes", nil), false),
		}
		if len(managed) > 0 {
			props["ManagedPolicyArns"] = managed
		}
		b.addResource(idNodeRole, resource{Type: "AWS::IAM::Role", Properties: props})
		roles = []any{ref(idNodeRole)}
	} else {
		roles = []any{roleName(c.IAM.Role)}
	}
	b.addResource(idInstanceProfile, resource{
		Type:       "AWS::IAM::InstanceProfile",
		Properties: map[string]any{"Roles": roles},
	})
	if c.Scheduler != schedulerBatch {
		b.headNodeHostKeyPolicy(roles)
	}
}

// idHeadNodeHostKeyPolicy is the policy that lets the head node publish
// its SSH host key.
const idHeadNodeHostKeyPolicy = "HeadNodeHostKeyPolicy"

// headNodeHostKeyPolicy lets the head node, and no other instance of the
// role, write its SSH host key to HeadNodeHostKeyParameter, which the
// daemon trusts as the head node's key. It is a policy of its own beside
// the role because it names the instance, which needs the role first; the
// head node's bootstrap retries the write until the policy is in force.
// A role the spec names gets it too: the bootstrap fails without it.
func (b *builder) headNodeHostKeyPolicy(roles []any) {
	name := b.c.Name
	b.addResource(idHeadNodeHostKeyPolicy, resource{
		Type: "AWS::IAM::Policy",
		Properties: map[string]any{
			"PolicyName": "driftless-" + name + "-head-node-host-key",
			"Roles":      roles,
			"PolicyDocument": map[string]any{
				"Version": "2012-10-17",
				"Statement": []map[string]any{{
					"Sid":      "PublishHostKey",
					"Effect":   "Allow",
					"Action":   "ssm:PutParameter",
					"Resource": sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter" + HeadNodeHostKeyParameter(name)),
					"Condition": map[string]any{"ArnEquals": map[string]any{
						"ec2:SourceInstanceARN": sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/${" + idHeadNode + "}"),
					}},
				}},
			},
		},
	})
}

// roleName is the name of a role given by name or ARN
// (arn:aws:iam::123456789012:role/path/name); an instance profile takes
// the name.
func roleName(role string) string {
	if !strings.HasPrefix(role, "arn:") {
		return role
	}
	return role[strings.LastIndex(role, "/")+1:]
}

func trustPolicy(service string) map[string]any {
	return map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": service},
			"Action":    "sts:AssumeRole",
		}},
	}
}

// nodePolicies are the inline policies of the nodes' role.
func (b *builder) nodePolicies() []map[string]any {
	c := b.c
	cluster := []map[string]any{
		{
			"Sid":      "OwnStack",
			"Effect":   "Allow",
			"Action":   []string{"cloudformation:DescribeStackResource", "cloudformation:SignalResource"},
			"Resource": ref("AWS::StackId"),
		},
		{
			"Sid":      "HeadNodeConfig",
			"Effect":   "Allow",
			"Action":   "ssm:GetParameter",
			"Resource": sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter" + HeadNodeParameter(c.Name)),
		},
		{
			"Sid":      "Describe",
			"Effect":   "Allow",
			"Action":   describeActions(c),
			"Resource": "*",
		},
	}
	if scripts := scriptObjects(c.Bootstrap.PreInstall, c.Bootstrap.PostInstall); len(scripts) > 0 {
		cluster = append(cluster, map[string]any{
			"Sid":      "BootstrapScripts",
			"Effect":   "Allow",
			"Action":   "s3:GetObject",
			"Resource": scripts,
		})
	}
	policies := []map[string]any{{
		"PolicyName":     "driftless-cluster",
		"PolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": cluster},
	}}
	var s3 []map[string]any
	if len(c.IAM.S3Read) > 0 {
		s3 = append(s3, map[string]any{
			"Sid":      "S3Read",
			"Effect":   "Allow",
			"Action":   []string{"s3:GetObject", "s3:ListBucket"},
			"Resource": s3Resources(c.IAM.S3Read),
		})
	}
	if len(c.IAM.S3ReadWrite) > 0 {
		s3 = append(s3, map[string]any{
			"Sid":      "S3ReadWrite",
			"Effect":   "Allow",
			"Action":   []string{"s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject"},
			"Resource": s3Resources(c.IAM.S3ReadWrite),
		})
	}
	if len(s3) > 0 {
		policies = append(policies, map[string]any{
			"PolicyName":     "driftless-s3",
			"PolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": s3},
		})
	}
	return policies
}

// s3Resources are the spec's S3 ARNs plus the bucket of each object ARN,
// which s3:ListBucket needs, in the spec's order without duplicates.
func s3Resources(arns []string) []string {
	var out []string
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, a := range arns {
		add(a)
		if bucket, _, ok := strings.Cut(a, "/"); ok && strings.HasPrefix(a, "arn:") {
			add(bucket)
		}
	}
	return out
}

// scriptObjects are the S3 object ARNs of the bootstrap scripts fetched
// from S3, so the nodes may read them without an S3 grant in the spec.
func scriptObjects(scripts ...*spec.Script) []any {
	var out []any
	for _, s := range scripts {
		if s == nil {
			continue
		}
		rest, ok := strings.CutPrefix(s.URL, "s3://")
		if !ok {
			continue
		}
		// Fn::Join rather than Fn::Sub: the key is the user's text.
		out = append(out, map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":s3:::" + rest}}})
	}
	return out
}

// describeActions are the read-only calls the bootstrap makes. With EFS,
// the mount helper looks up a mount target in another Availability Zone
// when the node's own zone has none.
func describeActions(c *spec.Cluster) []string {
	actions := []string{"autoscaling:DescribeAutoScalingGroups", "ec2:DescribeInstances", "ec2:DescribeTags", "ec2:DescribeVolumes"}
	if usesEFS(c) {
		actions = append(actions, "ec2:DescribeAvailabilityZones", "elasticfilesystem:DescribeMountTargets")
	}
	slices.Sort(actions)
	return actions
}
