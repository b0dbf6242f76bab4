package batch

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// ECSAPI is what Hosts asks ECS; *ecs.Client satisfies it.
type ECSAPI interface {
	ListContainerInstances(ctx context.Context, in *ecs.ListContainerInstancesInput, opts ...func(*ecs.Options)) (*ecs.ListContainerInstancesOutput, error)
	DescribeContainerInstances(ctx context.Context, in *ecs.DescribeContainerInstancesInput, opts ...func(*ecs.Options)) (*ecs.DescribeContainerInstancesOutput, error)
}

// EC2API is what Hosts asks EC2; *ec2.Client satisfies it.
type EC2API interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

var (
	_ ECSAPI = (*ecs.Client)(nil)
	_ EC2API = (*ec2.Client)(nil)
)

// Host is one instance of a compute environment, as awsbhosts showed it.
type Host struct {
	InstanceID string    `json:"instanceId"`
	Type       string    `json:"type,omitempty"`
	State      string    `json:"state,omitempty"`
	PrivateIP  string    `json:"privateIP,omitempty"`
	PublicIP   string    `json:"publicIP,omitempty"`
	LaunchTime time.Time `json:"launchTime,omitzero"`
	// Agent is the ECS container instance's status (ACTIVE, DRAINING...).
	Agent        string `json:"agentStatus"`
	RunningJobs  int    `json:"runningJobs"`
	PendingJobs  int    `json:"pendingJobs"`
	CPUs         int    `json:"cpuUnits"`
	FreeCPUs     int    `json:"freeCpuUnits"`
	MemoryMiB    int    `json:"memoryMiB"`
	FreeMemoryMi int    `json:"freeMemoryMiB"`
}

// describeContainerBatch is the most container instances one
// DescribeContainerInstances takes.
const describeContainerBatch = 100

// Hosts lists the instances of a compute environment: the container
// instances of its ECS cluster, each with its EC2 instance's type,
// addresses and launch time. The calls are paginated by ECS and EC2
// limits, never one per host.
func Hosts(ctx context.Context, q QueuesAPI, e ECSAPI, ec EC2API, computeEnvironment string) ([]Host, error) {
	envs, err := Environments(ctx, q, computeEnvironment)
	if err != nil {
		return nil, err
	}
	cluster := envs[0].ECSCluster
	if cluster == "" {
		return nil, nil // not yet valid: no ECS cluster behind it
	}
	var arns []string
	p := ecs.NewListContainerInstancesPaginator(e, &ecs.ListContainerInstancesInput{Cluster: aws.String(cluster)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list container instances of %s: %w", nameOf(cluster), err)
		}
		arns = append(arns, page.ContainerInstanceArns...)
	}
	var hosts []Host
	byID := map[string]int{}
	for chunk := range slices.Chunk(arns, describeContainerBatch) {
		out, err := e.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String(cluster), ContainerInstances: chunk})
		if err != nil {
			return nil, fmt.Errorf("describe container instances of %s: %w", nameOf(cluster), err)
		}
		for _, ci := range out.ContainerInstances {
			h := Host{
				InstanceID:  aws.ToString(ci.Ec2InstanceId),
				Agent:       aws.ToString(ci.Status),
				RunningJobs: int(ci.RunningTasksCount),
				PendingJobs: int(ci.PendingTasksCount),
			}
			for _, r := range ci.RegisteredResources {
				switch aws.ToString(r.Name) {
				case "CPU":
					h.CPUs = int(r.IntegerValue)
				case "MEMORY":
					h.MemoryMiB = int(r.IntegerValue)
				}
			}
			for _, r := range ci.RemainingResources {
				switch aws.ToString(r.Name) {
				case "CPU":
					h.FreeCPUs = int(r.IntegerValue)
				case "MEMORY":
					h.FreeMemoryMi = int(r.IntegerValue)
				}
			}
			byID[h.InstanceID] = len(hosts)
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(hosts))
	for _, h := range hosts {
		ids = append(ids, h.InstanceID)
	}
	// DescribeInstances with instance ids takes no MaxResults; chunks of
	// 200 keep each request small.
	for chunk := range slices.Chunk(ids, 200) {
		p := ec2.NewDescribeInstancesPaginator(ec, &ec2.DescribeInstancesInput{InstanceIds: chunk})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describe instances: %w", err)
			}
			for _, r := range page.Reservations {
				for _, in := range r.Instances {
					i, ok := byID[aws.ToString(in.InstanceId)]
					if !ok {
						continue
					}
					h := &hosts[i]
					h.Type = string(in.InstanceType)
					h.PrivateIP = aws.ToString(in.PrivateIpAddress)
					h.PublicIP = aws.ToString(in.PublicIpAddress)
					if in.State != nil {
						h.State = string(in.State.Name)
					}
					if in.LaunchTime != nil {
						h.LaunchTime = in.LaunchTime.UTC()
					}
				}
			}
		}
	}
	slices.SortFunc(hosts, func(a, b Host) int {
		return cmp.Or(a.LaunchTime.Compare(b.LaunchTime), cmp.Compare(a.InstanceID, b.InstanceID))
	})
	return hosts, nil
}
