package render

import "errors"

// batch declares the AWS Batch side of an awsbatch cluster: a managed
// compute environment sized by the spec, the job queue the head node
// submits to, and the service role Batch acts with.
//
// The compute environment names its service role explicitly rather than
// relying on Batch's service-linked role: moto 5.2.5 refuses a compute
// environment without ServiceRole.
func (b *builder) batch() {
	c := b.c
	if c.Scheduler != schedulerBatch {
		return
	}
	bt := c.Batch
	if bt == nil {
		b.fail(errors.New("an awsbatch cluster needs its batch settings"))
		return
	}
	b.addResource(idBatchServiceRole, resource{
		Type: "AWS::IAM::Role",
		Properties: map[string]any{
			"AssumeRolePolicyDocument": trustPolicy("batch.amazonaws.com"),
			"ManagedPolicyArns":        []any{sub(policyBatchService)},
			"Tags":                     tagList(b.resourceTags(b.stackName+"-batch", nil), false),
		},
	})
	resources := map[string]any{
		"Type":             "EC2",
		"MinvCpus":         bt.MinVCPUs,
		"DesiredvCpus":     bt.DesiredVCPUs,
		"MaxvCpus":         bt.MaxVCPUs,
		"InstanceTypes":    bt.InstanceTypes,
		"Subnets":          []string{bt.Subnet},
		"SecurityGroupIds": []any{ref(idClusterSG)},
		"InstanceRole":     getAtt(idInstanceProfile, "Arn"),
		// A map, unlike the tag lists elsewhere.
		"Tags":               b.resourceTags(b.stackName+"-batch", nil),
		"AllocationStrategy": "BEST_FIT_PROGRESSIVE",
	}
	if bt.Subnet == "" {
		resources["Subnets"] = []string{c.HeadNode.Subnet}
	}
	if len(bt.InstanceTypes) == 0 {
		resources["InstanceTypes"] = []string{"optimal"}
	}
	if bt.CapacityType == "spot" {
		resources["Type"] = "SPOT"
		resources["AllocationStrategy"] = "SPOT_CAPACITY_OPTIMIZED"
		if bt.SpotBidPercentage > 0 {
			resources["BidPercentage"] = bt.SpotBidPercentage
		}
	}
	if c.HeadNode.AMI != "" {
		resources["Ec2Configuration"] = []map[string]any{{"ImageType": "ECS_AL2", "ImageIdOverride": c.HeadNode.AMI}}
	}
	if c.HeadNode.KeyPair != "" {
		resources["Ec2KeyPair"] = c.HeadNode.KeyPair
	}
	b.addResource(idBatchComputeEnv, resource{
		Type: "AWS::Batch::ComputeEnvironment",
		Properties: map[string]any{
			"Type":             "MANAGED",
			"State":            "ENABLED",
			"ServiceRole":      getAtt(idBatchServiceRole, "Arn"),
			"ComputeResources": resources,
			"Tags":             b.resourceTags(b.stackName+"-batch", nil),
		},
	})
	b.addResource(idBatchJobQueue, resource{
		Type: "AWS::Batch::JobQueue",
		Properties: map[string]any{
			"JobQueueName": b.stackName,
			"Priority":     1,
			"State":        "ENABLED",
			"ComputeEnvironmentOrder": []map[string]any{{
				"Order":              1,
				"ComputeEnvironment": ref(idBatchComputeEnv),
			}},
			"Tags": b.resourceTags(b.stackName+"-batch", nil),
		},
	})
	b.addOutput(outBatchJobQueue, output{Description: "AWS Batch job queue of the cluster", Value: ref(idBatchJobQueue)})
	b.addOutput(outBatchComputeEnv, output{Description: "AWS Batch compute environment of the cluster", Value: ref(idBatchComputeEnv)})
	b.batchJobDefinition()
}
