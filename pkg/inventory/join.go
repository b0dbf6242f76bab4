package inventory

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/spec"
)

// Stack outputs the inventory reads. They are the names pkg/render gives
// its outputs; a test renders specs and checks that they are there.
const (
	OutputHeadNodePublicIP   = "HeadNodePublicIp"
	OutputHeadNodePrivateIP  = "HeadNodePrivateIp"
	OutputLoginUser          = "LoginUser"
	OutputJobQueue           = "BatchJobQueue"
	OutputComputeEnvironment = "BatchComputeEnvironment"
	OutputJobDefinition      = "BatchJobDefinition"
)

// Declared is the repo side: the specs of one checkout.
type Declared struct {
	// Revision is the commit the specs were read from.
	Revision string
	// Set is the loaded specs; nil when no repo was read, and every live
	// cluster's sync is then Unknown.
	Set *spec.Set
}

// Join pairs the declared specs with what AWS runs and says, for every
// cluster, how it is. It is pure: the same input gives the same inventory.
func Join(d Declared, live *Live) *Inventory {
	inv := &Inventory{Revision: d.Revision, Source: "computed"}
	var stacks []*render.Stack
	var invalidNames []string
	nameUnknown := false
	specs := map[string]*spec.Cluster{}
	if d.Set != nil {
		invalidNames = slices.Clone(d.Set.InvalidNames)
		nameUnknown = d.Set.NameUnknown
		for f, es := range d.Set.Invalid {
			inv.addInvalid(f, es)
		}
		for _, c := range d.Set.Clusters {
			specs[c.Name] = c
			st, err := render.Render(c)
			if err != nil {
				inv.addInvalid(c.File, spec.Errors{{File: c.File, Msg: "render: " + err.Error()}})
				invalidNames = append(invalidNames, c.Name)
				continue
			}
			stacks = append(stacks, st)
		}
	}
	changes := diff.Plan(diff.Input{Desired: stacks, Invalid: invalidNames, NameUnknown: nameUnknown, Live: live.Stacks})

	byCluster := map[string][]Instance{}
	for _, in := range live.Instances {
		byCluster[in.Cluster] = append(byCluster[in.Cluster], in)
	}
	for _, ch := range changes {
		c := Cluster{Name: ch.Cluster}
		if s := specs[ch.Cluster]; s != nil {
			c.File, c.Scheduler, c.Region = s.File, s.Scheduler, s.Region
			c.DeclaredRevision = d.Revision
		}
		if ch.Live != nil {
			l := ch.Live
			c.Stack, c.StackStatus, c.StackReason = l.StackName, l.Status, l.StatusReason
			c.AppliedRevision = l.Revision
			c.Outputs = l.Outputs
			c.LoginUser = l.Outputs[OutputLoginUser]
		}
		if c.Scheduler == "" && c.Outputs[OutputComputeEnvironment] != "" {
			c.Scheduler = "awsbatch" // known from the stack alone
		}
		if c.LoginUser == "" && specs[ch.Cluster] != nil {
			c.LoginUser = specs[ch.Cluster].LoginUser
		}
		c.Sync, c.Condition, c.Reason = classify(ch, d.Set != nil)
		c.Message = ch.Reason
		c.Instances = byCluster[ch.Cluster]
		c.placeInstances()
		c.Fleet = fleet(ch)
		c.Batch = batchEnv(ch.Live, live.Environments)
		c.Drift = drift(ch, &c)
		inv.Clusters = append(inv.Clusters, c)
	}
	return inv
}

func (inv *Inventory) addInvalid(file string, es spec.Errors) {
	if inv.Invalid == nil {
		inv.Invalid = map[string][]string{}
	}
	for _, e := range es {
		inv.Invalid[file] = append(inv.Invalid[file], e.Error())
	}
}

// classify turns a plan's action into the cluster's sync and the
// condition the daemon would report for it before acting.
func classify(ch diff.Change, declared bool) (Sync, string, string) {
	switch ch.Action {
	case diff.None:
		return Synced, "Ready", "InSync"
	case diff.Create:
		return NotCreated, "Reconciling", "Pending"
	case diff.Update:
		return OutOfSync, "Reconciling", "Pending"
	case diff.Wait:
		return Busy, "Reconciling", "StackBusy"
	case diff.Skip:
		return InvalidSpec, "Blocked", "InvalidSpec"
	case diff.Retain, diff.Delete:
		if !declared {
			return Unknown, "Unknown", "NoRepo"
		}
		return NotDeclared, "Blocked", "NotDeclared"
	case actionHeal:
		return Synced, "Reconciling", "Drifted"
	case diff.Recreate:
		return Failed, "Reconciling", "Recreating"
	case diff.ContinueRollback:
		return Failed, "Reconciling", "RollingBack"
	case diff.Blocked:
		if ch.Desired != nil && ch.Live != nil && diff.StatusKind(ch.Live.Status) == diff.Stable {
			// A change the daemon will not make alone (approval, a
			// setting that cannot change in place).
			return OutOfSync, "Blocked", "ChangeBlocked"
		}
	}
	return Failed, "Blocked", "StackFailed"
}

// actionHeal is the plan's action for a cluster that matches its spec but
// drifted behind the repo's back.
const actionHeal diff.Action = "heal"

// placeInstances picks out the head node: the instance named as one, or
// the one at the stack's head node address. In an awsbatch cluster every
// other instance with the cluster tag was launched by AWS Batch.
func (c *Cluster) placeInstances() {
	private := c.Outputs[OutputHeadNodePrivateIP]
	for i := range c.Instances {
		in := &c.Instances[i]
		if in.Role == RoleOther && private != "" && in.PrivateIP == private {
			in.Role = RoleHead
		}
		if in.Role == RoleOther && c.Outputs[OutputComputeEnvironment] != "" {
			in.Role = RoleBatch
		}
	}
	slices.SortStableFunc(c.Instances, func(a, b Instance) int {
		return cmp.Or(cmp.Compare(roleOrder(a.Role), roleOrder(b.Role)), cmp.Compare(a.Queue, b.Queue))
	})
	for i := range c.Instances {
		if c.Instances[i].Role == RoleHead {
			h := c.Instances[i]
			c.HeadNode = &h
			break
		}
	}
	if c.HeadNode == nil && c.Outputs[OutputHeadNodePrivateIP] != "" {
		// The instance is gone or untagged; the stack still says where it was.
		c.HeadNode = &Instance{Role: RoleHead, PrivateIP: private, PublicIP: c.Outputs[OutputHeadNodePublicIP]}
	}
	if c.HeadNode != nil && c.HeadNode.PublicIP == "" {
		c.HeadNode.PublicIP = c.Outputs[OutputHeadNodePublicIP]
	}
}

func roleOrder(r Role) int {
	return map[Role]int{RoleHead: 0, RoleCompute: 1, RoleBatch: 2, RoleOther: 3}[r]
}

// fleet pairs the live groups with the declared ones, so a group that is
// declared but missing still shows, with zero sizes.
func fleet(ch diff.Change) []Group {
	var out []Group
	queues := map[string]string{}
	if ch.Desired != nil {
		for _, g := range ch.Desired.Groups {
			queues[g.Name] = g.Queue
		}
	}
	if ch.Live != nil {
		for _, g := range ch.Live.Groups {
			out = append(out, Group{Name: g.Name, Queue: queues[g.Name], Min: g.Min, Desired: g.Desired, Max: g.Max, InService: g.InService})
		}
	}
	return out
}

func batchEnv(l *diff.Live, envs map[string]ComputeEnvironment) *ComputeEnvironment {
	if l == nil {
		return nil
	}
	arn := l.Outputs[OutputComputeEnvironment]
	if arn == "" {
		return nil
	}
	env, ok := envs[arn]
	if !ok {
		env = ComputeEnvironment{ARN: arn, Status: "NOT_FOUND"}
	}
	env.JobQueue = l.Outputs[OutputJobQueue]
	return &env
}

// drift lists where the live cluster differs from its last applied
// template: groups resized or removed by hand, a head node that is not
// running, nodes that did not come into service. A spec changed in the
// repo is not drift; that is OutOfSync.
func drift(ch diff.Change, c *Cluster) []string {
	var out []string
	if ch.Live == nil || diff.StatusKind(ch.Live.Status) != diff.Stable {
		return nil
	}
	if ch.Desired != nil && (ch.Action == diff.None || ch.Action == actionHeal) {
		live := map[string]diff.LiveGroup{}
		for _, g := range ch.Live.Groups {
			live[g.Name] = g
		}
		for _, g := range ch.Desired.Groups {
			lg, ok := live[g.Name]
			switch {
			case !ok:
				out = append(out, fmt.Sprintf("group %s is missing", g.Name))
			case lg.Min != g.Min || lg.Max != g.Max:
				out = append(out, fmt.Sprintf("group %s is min %d max %d; the spec says min %d max %d", g.Name, lg.Min, lg.Max, g.Min, g.Max))
			}
		}
	}
	if h := c.HeadNode; h != nil && h.ID != "" && h.State != "running" {
		out = append(out, fmt.Sprintf("head node %s is %s", h.ID, h.State))
	}
	for _, g := range c.Fleet {
		if g.InService < g.Desired {
			out = append(out, fmt.Sprintf("group %s has %d of %d nodes in service", g.Name, g.InService, g.Desired))
		}
	}
	if ch.Action == actionHeal && len(out) == 0 {
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(ch.Reason, "drift: "), "; healing"))
	}
	return out
}

// Names returns the cluster names, sorted.
func (inv *Inventory) Names() []string {
	names := make([]string, 0, len(inv.Clusters))
	for _, c := range inv.Clusters {
		names = append(names, c.Name)
	}
	return names
}

// Find returns the named cluster.
func (inv *Inventory) Find(name string) (*Cluster, bool) {
	for i := range inv.Clusters {
		if inv.Clusters[i].Name == name {
			return &inv.Clusters[i], true
		}
	}
	return nil, false
}
