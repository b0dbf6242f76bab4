package render

// Logical id and output of an awsbatch cluster's job definition.
const (
	idBatchJobDefinition  = "BatchJobDefinition"
	outBatchJobDefinition = "BatchJobDefinition"
)

// batchJobImage is the container every job of an awsbatch cluster runs
// in: Amazon Linux 2, the base OS an awsbatch cluster must have, so a
// command that runs on the head node runs in the job too.
const batchJobImage = "public.ecr.aws/amazonlinux/amazonlinux:2"

// batchJobDefinition declares the job definition `reconciler batch submit`
// runs commands with: the command is given per job (bash -c), and so are
// vCPUs and memory when they differ from the 1 vCPU and 1 GiB here. The
// job sees the cluster's name and the head node's private address in its
// environment.
//
// The name is left to CloudFormation: a job definition is replaced on
// every change, and CloudFormation refuses to replace a resource with a
// custom name. Multi-node jobs need a multinode definition, which the
// client registers from this one on first use (pkg/batch): the emulator's
// CloudFormation (moto 5.2.5) registers every AWS::Batch::JobDefinition
// as type container and fails the stack on NodeProperties. moto also
// requires RetryStrategy.
func (b *builder) batchJobDefinition() {
	if b.c.Scheduler != schedulerBatch || b.err != nil {
		return
	}
	b.addResource(idBatchJobDefinition, resource{
		Type: "AWS::Batch::JobDefinition",
		Properties: map[string]any{
			"Type":                 "container",
			"PlatformCapabilities": []string{"EC2"},
			"PropagateTags":        true,
			"RetryStrategy":        map[string]any{"Attempts": 1},
			"ContainerProperties": map[string]any{
				"Image": batchJobImage,
				"Command": []string{"/bin/bash", "-c",
					"echo 'no command: submit one with reconciler batch submit' >&2; exit 2"},
				// Vcpus and Memory rather than ResourceRequirements: AWS
				// takes either, and moto 5.2.5 turns requirements into a
				// float that the SDK cannot read back from DescribeJobs.
				// A job's own requirements override these.
				"Vcpus":  1,
				"Memory": 1024,
				"Environment": []map[string]any{
					{"Name": "DRIFTLESS_CLUSTER", "Value": b.c.Name},
					{"Name": "DRIFTLESS_HEAD_NODE", "Value": getAtt(idHeadNode, "PrivateIp")},
				},
			},
			// A map, as on the other Batch resources.
			"Tags": b.resourceTags(b.stackName+"-batch", nil),
		},
	})
	b.addOutput(outBatchJobDefinition, output{Description: "AWS Batch job definition of the cluster's jobs", Value: ref(idBatchJobDefinition)})
}
