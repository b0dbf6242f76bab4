package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/driftless/driftless/pkg/bootstrap"
	"github.com/driftless/driftless/pkg/spec"
)

// Role says what a node is in its cluster.
type Role string

// The roles of a node.
const (
	RoleHead    Role = "head"
	RoleCompute Role = "compute"
)

// NodeConfig is everything a node needs to know at boot to become part of
// its cluster: who it is, where the scheduler and the shared directories
// are, and the site settings (proxy, install scripts) to apply. The
// renderer builds one per node role and queue; the node bootstrap reads it
// from /etc/driftless/node.json.
//
// Compute nodes get it in their launch template's user data, so a change
// reaches new nodes through a new launch template version. The head node
// gets it from the SSM parameter HeadNodeParameter(cluster), so a change
// such as a queue's new maximum does not touch the head node's user data,
// which would stop and restart it.
type NodeConfig struct {
	Cluster   string `json:"cluster"`
	Stack     string `json:"stack"`
	Region    string `json:"region"`
	Scheduler string `json:"scheduler"`
	BaseOS    string `json:"baseOS"`
	Role      Role   `json:"role"`
	// Queue is the compute node's queue; empty on the head node.
	Queue     string `json:"queue,omitempty"`
	LoginUser string `json:"loginUser"`
	// HeadNodeAddress is the head node's private IP, for compute nodes.
	HeadNodeAddress *Value `json:"headNodeAddress,omitempty"`
	// Proxy is the HTTP(S) proxy for the OS, the package manager and the
	// scheduler.
	Proxy string `json:"proxy,omitempty"`
	// PreInstall and PostInstall run before and after the node is
	// configured.
	PreInstall  *Script `json:"preInstall,omitempty"`
	PostInstall *Script `json:"postInstall,omitempty"`
	// Mounts are the shared directories, in the order to mount them.
	Mounts []Mount `json:"mounts,omitempty"`
	// Queues are the cluster's queues, for the head node's scheduler.
	Queues []QueueConfig `json:"queues,omitempty"`
	// Scaling is how the fleet follows the job queue, for the head node.
	Scaling *ScalingConfig `json:"scaling,omitempty"`
	// Batch names the AWS Batch resources the head node submits to.
	Batch *BatchConfig `json:"batch,omitempty"`
	// SchedulerPreinstalled says the image has the scheduler already.
	SchedulerPreinstalled bool `json:"schedulerPreinstalled,omitempty"`
	// ExportTo is who may mount the head node's NFS exports: subnet or
	// vpc (when a queue lives in another subnet); head node only.
	ExportTo string `json:"exportTo,omitempty"`
}

// Script is a script a node fetches and runs as root with its arguments.
type Script struct {
	URL  string   `json:"url"`
	Args []string `json:"args,omitempty"`
}

// Mount is one shared directory of a node.
type Mount struct {
	Dir string `json:"dir"`
	// Type is ebs or raid (volumes attached to this node, formatted on
	// first boot and exported to the compute nodes), efs, or nfs (a
	// directory the head node exports).
	Type string `json:"type"`
	// Devices are the device names of the volumes, ebs and raid only.
	Devices []string `json:"devices,omitempty"`
	// RAIDLevel is 0 or 1, raid only.
	RAIDLevel *int `json:"raidLevel,omitempty"`
	// Server is the NFS server, nfs only.
	Server *Value `json:"server,omitempty"`
	// FileSystem is the EFS file system id, efs only.
	FileSystem *Value `json:"fileSystem,omitempty"`
}

// QueueConfig is one queue as the head node's scheduler sees it.
type QueueConfig struct {
	Name         string `json:"name"`
	InstanceType string `json:"instanceType"`
	MinNodes     int    `json:"minNodes"`
	MaxNodes     int    `json:"maxNodes"`
	// DisableHyperthreading halves the CPUs the scheduler sees per node.
	DisableHyperthreading bool `json:"disableHyperthreading,omitempty"`
	// Group is the queue's Auto Scaling group.
	Group string `json:"group"`
}

// ScalingConfig is the fleet's scaling behaviour.
type ScalingConfig struct {
	// IdleTime is how long a node stays idle before it is retired, as a
	// Go duration string.
	IdleTime string `json:"idleTime"`
	ScaleUp  bool   `json:"scaleUp"`
}

// BatchConfig names the AWS Batch resources of an awsbatch cluster.
type BatchConfig struct {
	JobQueue           Value `json:"jobQueue"`
	ComputeEnvironment Value `json:"computeEnvironment"`
}

// HeadNodeParameter is the name of the SSM parameter that holds the head
// node's NodeConfig as JSON text.
func HeadNodeParameter(cluster string) string { return "/driftless/" + cluster + "/head-node" }

// HeadNodeHostKeyParameter is the name of the SSM parameter the head node
// publishes its SSH host public key to at every boot, and from which the
// daemon's fleet loop learns the key: only the head node may write it
// (see headNodeHostKeyPolicy).
func HeadNodeHostKeyParameter(cluster string) string { return HeadNodeParameter(cluster) + "/host-key" }

// Value is a string of a NodeConfig that is either known when the
// template is rendered (Text) or filled in by CloudFormation when it
// creates or updates the stack: the Ref of Resource, or its Attribute.
type Value struct {
	Text      string
	Resource  string
	Attribute string
}

// subOpen stands for the "${" of a reference while the node configuration
// is JSON text. encoding/json never writes \u007b for "{", and a user's
// literal text "$\u007b" comes out as "$\\u007b", so after encoding the
// sequence occurs exactly where a reference was written.
const subOpen = `$\u007b`

// MarshalJSON writes known text as a string and a reference in the form
// SubText turns into an Fn::Sub variable.
func (v Value) MarshalJSON() ([]byte, error) {
	if v.Resource == "" {
		return json.Marshal(v.Text)
	}
	if !isAlnum(v.Resource) || (v.Attribute != "" && !isAlnum(strings.ReplaceAll(v.Attribute, ".", ""))) {
		return nil, fmt.Errorf("bad reference %q.%q", v.Resource, v.Attribute)
	}
	s := v.Resource
	if v.Attribute != "" {
		s += "." + v.Attribute
	}
	return []byte(`"` + subOpen + s + `}"`), nil
}

// SubText encodes cfg as indented JSON ready for Fn::Sub: every reference
// becomes a ${...} variable, and a "${" of the user's own text is written
// with its dollar sign as the JSON escape \u0024, so CloudFormation sees no
// variable there and the node still reads "${". (Fn::Sub's own escape,
// "${!", is not used: how much text after it is literal is unclear, and
// moto's implementation differs once the text holds quotes.)
func (cfg NodeConfig) SubText() (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(cfg); err != nil {
		return "", fmt.Errorf("node config: %w", err)
	}
	// Outside strings JSON has no "$", and no escape sequence holds one,
	// so every "${" here is the user's text.
	s := strings.ReplaceAll(strings.TrimSuffix(buf.String(), "\n"), "${", `\u0024{`)
	return strings.ReplaceAll(s, subOpen, "${"), nil
}

// maxUserData is the largest user data EC2 accepts, before base64.
const maxUserData = 16 << 10

// UserData returns the user data of a node, meant for Fn::Sub (see
// SubText): for slurm, sge and torque the node bootstrap of pkg/bootstrap
// (scheduler, shared storage, site scripts; the head node signals its
// wait condition). The head node of an awsbatch cluster gets a script
// that writes its identity to /etc/driftless/node.json; its full
// configuration lives in an SSM parameter.
func UserData(cfg NodeConfig) (string, error) {
	if cfg.Scheduler != schedulerBatch {
		return bootstrap.Render(bootstrapConfig(cfg))
	}
	body := cfg
	if cfg.Role == RoleHead {
		body = NodeConfig{
			Cluster: cfg.Cluster, Stack: cfg.Stack, Region: cfg.Region, Scheduler: cfg.Scheduler,
			BaseOS: cfg.BaseOS, Role: cfg.Role, LoginUser: cfg.LoginUser,
		}
	}
	text, err := body.SubText()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("#!/bin/bash\n")
	b.WriteString("# Driftless " + string(cfg.Role) + " node: writes the node's configuration for the bootstrap.\n")
	if cfg.Role == RoleHead {
		fmt.Fprintf(&b, "# The full configuration is in SSM parameter %s.\n", HeadNodeParameter(cfg.Cluster))
	}
	b.WriteString("set -euo pipefail\n")
	b.WriteString("umask 022\n")
	b.WriteString("mkdir -p /etc/driftless\n")
	b.WriteString("cat >/etc/driftless/node.json <<'DRIFTLESS_NODE_JSON'\n")
	b.WriteString(text)
	b.WriteString("\nDRIFTLESS_NODE_JSON\n")
	if b.Len() > maxUserData {
		return "", fmt.Errorf("user data of the %s node is %d bytes, more than EC2's %d", cfg.Role, b.Len(), maxUserData)
	}
	return b.String(), nil
}

// HeadNodeConfig is the configuration of the cluster's head node.
func HeadNodeConfig(c *spec.Cluster) NodeConfig {
	cfg := baseNodeConfig(c, RoleHead)
	for i := range c.Compute {
		q := &c.Compute[i]
		minNodes, _, maxNodes := queueSizes(q)
		cfg.Queues = append(cfg.Queues, QueueConfig{
			Name:                  q.Name,
			InstanceType:          q.InstanceType,
			MinNodes:              minNodes,
			MaxNodes:              maxNodes,
			DisableHyperthreading: q.DisableHyperthreading,
			Group:                 GroupName(c.Name, q.Name),
		})
	}
	if c.Scheduler == schedulerBatch {
		cfg.Batch = &BatchConfig{
			JobQueue:           Value{Resource: idBatchJobQueue},
			ComputeEnvironment: Value{Resource: idBatchComputeEnv},
		}
	} else {
		cfg.Scaling = &ScalingConfig{IdleTime: c.Scaling.IdleTime.String(), ScaleUp: c.Scaling.ScaleUp}
		cfg.ExportTo = exportScope(c)
	}
	return cfg
}

// ComputeNodeConfig is the configuration of the nodes of queue q.
func ComputeNodeConfig(c *spec.Cluster, q *spec.Queue) NodeConfig {
	cfg := baseNodeConfig(c, RoleCompute)
	cfg.Queue = q.Name
	cfg.HeadNodeAddress = headAddress()
	return cfg
}

func baseNodeConfig(c *spec.Cluster, role Role) NodeConfig {
	name, _, _ := baseOS(c)
	return NodeConfig{
		Cluster:     c.Name,
		Stack:       StackName(c.Name),
		Region:      c.Region,
		Scheduler:   c.Scheduler,
		BaseOS:      name,
		Role:        role,
		LoginUser:   loginUser(c),
		Proxy:       c.Proxy,
		PreInstall:  script(c.Bootstrap.PreInstall),
		PostInstall: script(c.Bootstrap.PostInstall),
		Mounts:      mounts(c, role),

		SchedulerPreinstalled: c.HeadNode.SchedulerPreinstalled,
	}
}

func script(s *spec.Script) *Script {
	if s == nil {
		return nil
	}
	return &Script{URL: s.URL, Args: s.Args}
}

// sub turns text in Fn::Sub form into a template value: Fn::Sub when it
// holds a variable, else the plain text with the escapes undone (cfn-lint
// warns about an Fn::Sub without variables, W1020).
func sub(text string) any {
	for i := 0; ; {
		j := strings.Index(text[i:], "${")
		if j < 0 {
			return strings.ReplaceAll(text, "${!", "${")
		}
		i += j + 2
		if !strings.HasPrefix(text[i:], "!") {
			return map[string]any{"Fn::Sub": text}
		}
	}
}

// userDataValue is the UserData property of a node: base64 of the
// substituted script.
func userDataValue(cfg NodeConfig) (any, error) {
	s, err := UserData(cfg)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Fn::Base64": sub(s)}, nil
}
