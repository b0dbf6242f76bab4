package render

import (
	"github.com/driftless/driftless/pkg/bootstrap"
	"github.com/driftless/driftless/pkg/spec"
)

// Logical ids of the head node's wait condition: the head node's
// bootstrap signals the handle's URL when the cluster is usable (or why it
// is not), and CloudFormation waits for it before CREATE_COMPLETE.
const (
	idHeadNodeWaitHandle    = "HeadNodeWaitHandle"
	idHeadNodeWaitCondition = "HeadNodeWaitCondition"
)

// headNodeBootstrapTimeout is how long CloudFormation waits for the head
// node's signal: packages, formatting volumes, the scheduler.
const headNodeBootstrapTimeout = "1800"

// bootstrapConfig is what pkg/bootstrap renders a node's script from.
func bootstrapConfig(cfg NodeConfig) bootstrap.Config {
	out := bootstrap.Config{
		Cluster: cfg.Cluster, Stack: cfg.Stack, Region: cfg.Region,
		Scheduler: cfg.Scheduler, OS: cfg.BaseOS, Role: bootstrap.Role(cfg.Role),
		Queue: cfg.Queue, LoginUser: cfg.LoginUser, Proxy: cfg.Proxy,
		SchedulerPreinstalled: cfg.SchedulerPreinstalled, ExportTo: cfg.ExportTo,
	}
	if cfg.PreInstall != nil {
		out.PreInstall = &bootstrap.Script{URL: cfg.PreInstall.URL, Args: cfg.PreInstall.Args}
	}
	if cfg.PostInstall != nil {
		out.PostInstall = &bootstrap.Script{URL: cfg.PostInstall.URL, Args: cfg.PostInstall.Args}
	}
	// A Slurm head node reads its partitions from the parameter instead:
	// see bootstrap.Config.HeadParameter.
	if cfg.Scheduler != "slurm" {
		for _, q := range cfg.Queues {
			out.Queues = append(out.Queues, q.Name)
		}
	}
	if cfg.HeadNodeAddress != nil {
		out.HeadAddress = bootstrapValue(*cfg.HeadNodeAddress)
	}
	if cfg.Role == RoleHead {
		out.WaitHandle = bootstrap.Value{Sub: idHeadNodeWaitHandle}
		out.HeadParameter = HeadNodeParameter(cfg.Cluster)
	}
	for _, m := range cfg.Mounts {
		bm := bootstrap.Mount{Dir: m.Dir, Type: m.Type, Devices: m.Devices}
		if m.RAIDLevel != nil {
			bm.RAIDLevel = *m.RAIDLevel
		}
		if m.FileSystem != nil {
			bm.FileSystem = bootstrapValue(*m.FileSystem)
		}
		out.Mounts = append(out.Mounts, bm)
	}
	return out
}

func bootstrapValue(v Value) bootstrap.Value {
	if v.Resource == "" {
		return bootstrap.Value{Text: v.Text}
	}
	s := v.Resource
	if v.Attribute != "" {
		s += "." + v.Attribute
	}
	return bootstrap.Value{Sub: s}
}

// exportScope says who may mount the head node's NFS exports: its own
// subnet, or the whole VPC when a queue's nodes live in another subnet.
func exportScope(c *spec.Cluster) string {
	for _, q := range c.Compute {
		if q.Subnet != "" && q.Subnet != c.HeadNode.Subnet {
			return bootstrap.ExportVPC
		}
	}
	return bootstrap.ExportSubnet
}

// waitCondition declares the head node's wait condition and its handle.
// The handle's URL reaches the head node through its user data; the
// condition fails the stack with the bootstrap's reason, or after the
// timeout when no signal comes. A wait condition waits once: when an
// update replaces the head node, the new one signals a handle nobody
// waits on.
func (b *builder) waitCondition() {
	b.addResource(idHeadNodeWaitHandle, resource{Type: "AWS::CloudFormation::WaitConditionHandle"})
	b.addResource(idHeadNodeWaitCondition, resource{
		Type:      "AWS::CloudFormation::WaitCondition",
		DependsOn: []string{idHeadNode},
		Properties: map[string]any{
			"Handle":  ref(idHeadNodeWaitHandle),
			"Timeout": headNodeBootstrapTimeout,
			"Count":   1,
		},
	})
}
