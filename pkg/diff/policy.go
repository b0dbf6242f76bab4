package diff

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Policy says what changing one setting of a spec does to a live cluster,
// after the update policies of AWS ParallelCluster. The daemon applies
// InPlace changes on its own; every other class waits for a person's
// approval in the repo, and NotAllowed is refused outright.
type Policy int

// The update policies, from the mildest to the most severe.
const (
	// InPlace: applied to the running cluster without interrupting it.
	InPlace Policy = iota
	// FleetStop: the compute fleet must be stopped first (its nodes are
	// terminated), because running nodes would not pick the change up or
	// would be torn down by it.
	FleetStop
	// Replace: the head node or shared storage is replaced, restarted or
	// modified in a way that cannot be undone; Rule.Replaces says which and
	// Rule.Data what happens to the data on it.
	Replace
	// NotAllowed: the setting cannot change on a live cluster; declare a
	// new cluster instead.
	NotAllowed
)

var policyNames = [...]string{InPlace: "in-place", FleetStop: "fleet-stop", Replace: "replace", NotAllowed: "not-allowed"}

// String returns the policy's name as it appears in JSON and metrics.
func (p Policy) String() string {
	if p >= 0 && int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// MarshalText writes the policy's name.
func (p Policy) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads a policy's name.
func (p *Policy) UnmarshalText(b []byte) error {
	for i, n := range policyNames {
		if n == string(b) {
			*p = Policy(i)
			return nil
		}
	}
	return fmt.Errorf("unknown update policy %q", b)
}

// Describe says in a person's words what the policy means for the cluster.
func (p Policy) Describe() string {
	switch p {
	case InPlace:
		return "in place"
	case FleetStop:
		return "needs the compute fleet stopped"
	case Replace:
		return "replaces a resource"
	case NotAllowed:
		return "not allowed on a live cluster"
	}
	return p.String()
}

// Data says what happens to the data on a resource a change replaces or
// removes.
type Data string

// What happens to data.
const (
	// DataKept: the resource keeps its data (it is modified or restarted,
	// not replaced).
	DataKept Data = "kept"
	// DataSnapshot: the old resource is deleted, and CloudFormation takes
	// a snapshot of it first (DeletionPolicy/UpdateReplacePolicy
	// Snapshot); the cluster itself no longer sees the data.
	DataSnapshot Data = "snapshot"
	// DataRetained: the old resource is kept in the account
	// (DeletionPolicy/UpdateReplacePolicy Retain) but no longer used.
	DataRetained Data = "retained"
	// DataLost: the data on the old resource is gone.
	DataLost Data = "lost"
)

// Rule is the update policy of one spec field.
type Rule struct {
	Policy Policy
	// Effect says what the change does to a running cluster, in a
	// person's words.
	Effect string
	// Replaces names the resource a Replace change replaces or modifies.
	Replaces string
	// Data says what happens to the data on that resource.
	Data Data
	// StopFleet: an approved change is carried out with the compute
	// fleet stopped first and restored after. Always true for FleetStop.
	StopFleet bool

	// refine, when set, picks the rule from the values: lowering a
	// maximum is not the same as raising it.
	refine func(a refineArgs) Rule
}

// refineArgs are what a rule may look at to refine itself.
type refineArgs struct {
	old, new any // the Go values; nil when absent
	// queue is the name of the compute queue the field belongs to.
	queue string
	// running is the number of nodes running in that queue; known is
	// false when it cannot be known (an offline plan).
	running int
	known   bool
	// publicIP is the new spec's headNode.publicIP.
	publicIP bool
}

// The effects several rules share.
const (
	effectDaemon      = "a setting of the daemon itself; nothing in AWS changes"
	effectLaunch      = "new compute nodes start with it; nodes already running keep the old setting, so the fleet is stopped first"
	effectBoot        = "every node reads it when it boots; the compute fleet is stopped first so no node runs with the old setting"
	effectNewCluster  = "cannot change on a live cluster: declare a new cluster (a new name) and remove this one"
	headNode          = "the head node"
	effectHeadReplace = "a new head node instance replaces the old one: everything on its root volume is lost, its private address changes, and the compute fleet is stopped first"
)

// Rule constructors, so the table reads as a list of decisions.
func inPlace(effect string) Rule { return Rule{Policy: InPlace, Effect: effect} }
func fleetStop(effect string) Rule {
	return Rule{Policy: FleetStop, Effect: effect, StopFleet: true}
}
func notAllowed(effect string) Rule { return Rule{Policy: NotAllowed, Effect: effect} }
func replaceHead() Rule {
	return Rule{Policy: Replace, Effect: effectHeadReplace, Replaces: headNode, Data: DataLost, StopFleet: true}
}

// policies is the update policy of every field of spec.Cluster, keyed by
// its schema path: compute[].maxNodes is maxNodes of any queue, a key
// ending in [] is an entry of a list added or removed, and a key naming a
// block that may be absent (storage.efs) is that block added or removed.
// TestPolicyCoversSchema walks spec.Cluster by reflection and fails when a
// field has no entry here, or an entry names no field.
var policies = map[string]Rule{
	"version":   inPlace("the schema version of the file; nothing in AWS changes"),
	"name":      notAllowed("the cluster's identity: a renamed cluster is a new cluster, and the old one is removed (or retained) on its own"),
	"region":    notAllowed(effectNewCluster),
	"scheduler": notAllowed(effectNewCluster),
	"vpc":       notAllowed("every resource of the cluster lives in its VPC; " + effectNewCluster),
	"baseOS":    notAllowed("every node's image, packages and login user follow the base OS; " + effectNewCluster),
	"loginUser": notAllowed("the login user's home and files live on the head node; " + effectNewCluster),

	"headNode.instanceType": {Policy: Replace, Replaces: headNode, Data: DataKept, StopFleet: true,
		Effect: "the head node is stopped, resized and started again (a new instance if the architecture changes): the scheduler and every login are interrupted, and the compute fleet is stopped first"},
	"headNode.subnet":  replaceHead(),
	"headNode.keyPair": replaceHead(),
	"headNode.sshFrom": inPlace("the SSH rule of the head node's security group is replaced; open sessions stay up"),
	"headNode.ami": {Policy: Replace, Replaces: "the head node and every compute node", Data: DataLost, StopFleet: true,
		Effect: "a new head node instance replaces the old one (everything on its root volume is lost) and compute nodes start from the new image; the compute fleet is stopped first"},
	"headNode.rootVolumeSize": replaceHead(),
	// The node bootstrap installs the scheduler's packages or not.
	"headNode.schedulerPreinstalled": fleetStop(effectBoot),
	"headNode.publicIP":              replaceHead(),
	"headNode.securityGroup": {refine: func(a refineArgs) Rule {
		if a.publicIP {
			return inPlace("the head node's security groups change without a restart")
		}
		return replaceHead()
	}},
	"headNode.additionalSecurityGroups": {refine: func(a refineArgs) Rule {
		if a.publicIP {
			return inPlace("the head node's security groups change without a restart")
		}
		return replaceHead()
	}},
	"headNode.disableHyperthreading": replaceHead(),

	"compute[]":              {refine: refineQueue},
	"compute[].name":         fleetStop("a queue's name is its identity: a renamed queue is one queue removed (its nodes terminated) and one added"),
	"compute[].instanceType": fleetStop(effectLaunch),
	"compute[].minNodes":     inPlace("the group's minimum changes; the fleet loop starts or retires nodes to follow it"),
	"compute[].initialNodes": inPlace("only used when the cluster is created; nothing in AWS changes"),
	"compute[].maxNodes":     {refine: refineMaxNodes},
	"compute[].keepInitialSize": inPlace(
		"the group's minimum changes; the fleet loop starts or retires nodes to follow it"),
	"compute[].subnet":                   fleetStop(effectLaunch),
	"compute[].publicIP":                 fleetStop(effectLaunch),
	"compute[].capacityType":             fleetStop(effectLaunch),
	"compute[].spotPrice":                fleetStop(effectLaunch),
	"compute[].placementGroup":           fleetStop(effectLaunch),
	"compute[].rootVolumeSize":           fleetStop(effectLaunch),
	"compute[].disableHyperthreading":    fleetStop(effectLaunch),
	"compute[].efa":                      fleetStop(effectLaunch),
	"compute[].additionalSecurityGroups": fleetStop(effectLaunch),

	"scaling.idleTime": inPlace("the fleet loop retires idle nodes after the new time"),
	"scaling.scaleUp":  inPlace("the fleet loop starts (or stops starting) nodes for waiting jobs"),

	"batch":                   notAllowed("only an awsbatch cluster has AWS Batch settings, and the scheduler cannot change; " + effectNewCluster),
	"batch.minVCPUs":          inPlace("the compute environment's limits change"),
	"batch.desiredVCPUs":      inPlace("the compute environment's limits change"),
	"batch.maxVCPUs":          inPlace("the compute environment's limits change"),
	"batch.instanceTypes":     fleetStop("AWS Batch replaces the compute environment's instances; jobs running on them are interrupted"),
	"batch.capacityType":      fleetStop("a new compute environment replaces the old one; jobs running on it are interrupted"),
	"batch.spotBidPercentage": fleetStop("a new compute environment replaces the old one; jobs running on it are interrupted"),
	"batch.subnet":            fleetStop("a new compute environment replaces the old one; jobs running on it are interrupted"),

	"storage.ebs[]":            {refine: refineEBSEntry},
	"storage.ebs[].mountDir":   fleetStop(effectBoot),
	"storage.ebs[].type":       modifyVolume("storage.ebs"),
	"storage.ebs[].size":       {refine: refineSize("a shared EBS volume")},
	"storage.ebs[].iops":       modifyVolume("storage.ebs"),
	"storage.ebs[].throughput": modifyVolume("storage.ebs"),
	"storage.ebs[].encrypted":  replaceVolume("a shared EBS volume"),
	"storage.ebs[].kmsKey":     replaceVolume("a shared EBS volume"),
	"storage.ebs[].snapshot":   replaceVolume("a shared EBS volume"),
	"storage.ebs[].volume": {Policy: Replace, Replaces: "a shared EBS volume", Data: DataSnapshot, StopFleet: true,
		Effect: "another volume is attached in its place; a volume Driftless created is deleted after a snapshot, an existing one is only detached; the compute fleet is stopped first"},

	"storage.efs": {refine: func(a refineArgs) Rule {
		if a.new == nil {
			return Rule{Policy: Replace, Replaces: "the shared file system", Data: DataRetained, StopFleet: true,
				Effect: "the file system is no longer mounted; one Driftless created is retained in the account (DeletionPolicy Retain); the compute fleet is stopped first"}
		}
		return fleetStop(effectBoot)
	}},
	"storage.efs.mountDir":              fleetStop(effectBoot),
	"storage.efs.fileSystem":            replaceEFS(),
	"storage.efs.performanceMode":       replaceEFS(),
	"storage.efs.throughputMode":        inPlace("the file system's throughput mode changes online"),
	"storage.efs.provisionedThroughput": inPlace("the file system's provisioned throughput changes online"),
	"storage.efs.encrypted":             replaceEFS(),
	"storage.efs.kmsKey":                replaceEFS(),

	"storage.raid": {refine: func(a refineArgs) Rule {
		if a.new == nil {
			return Rule{Policy: Replace, Replaces: "the RAID array", Data: DataSnapshot, StopFleet: true,
				Effect: "the array's volumes are deleted after a snapshot of each; the compute fleet is stopped first"}
		}
		return fleetStop(effectBoot)
	}},
	"storage.raid.mountDir":   fleetStop(effectBoot),
	"storage.raid.level":      rebuildRAID(),
	"storage.raid.volumes":    rebuildRAID(),
	"storage.raid.type":       modifyVolume("storage.raid"),
	"storage.raid.size":       {refine: refineSize("the RAID array's volumes")},
	"storage.raid.iops":       modifyVolume("storage.raid"),
	"storage.raid.throughput": modifyVolume("storage.raid"),
	"storage.raid.encrypted":  rebuildRAID(),
	"storage.raid.kmsKey":     rebuildRAID(),

	"proxy": fleetStop(effectBoot),

	"bootstrap.preInstall":       fleetStop(effectBoot),
	"bootstrap.preInstall.url":   fleetStop(effectBoot),
	"bootstrap.preInstall.args":  fleetStop(effectBoot),
	"bootstrap.postInstall":      fleetStop(effectBoot),
	"bootstrap.postInstall.url":  fleetStop(effectBoot),
	"bootstrap.postInstall.args": fleetStop(effectBoot),

	"iam.role":        inPlace("the nodes' instance profile switches role; running nodes get the new permissions within minutes"),
	"iam.policies":    inPlace("the nodes' permissions change; running nodes get them within minutes"),
	"iam.s3Read":      inPlace("the nodes' permissions change; running nodes get them within minutes"),
	"iam.s3ReadWrite": inPlace("the nodes' permissions change; running nodes get them within minutes"),

	"policy.prune":                 inPlace(effectDaemon),
	"policy.terminationProtection": inPlace("the stack's termination protection changes; nothing else in AWS changes"),
	"policy.onDrift":               inPlace(effectDaemon),
	"policy.recreateFailed":        inPlace(effectDaemon),
	"policy.approve":               inPlace(effectDaemon),

	"tags": inPlace("the tags change on the stack and every resource; new nodes carry the new tags"),
}

// modifyVolume is a change EBS makes to attached volumes in place
// (ModifyVolume). It is not a replacement, but it touches shared storage
// and cannot be undone for six hours, so it waits for approval.
func modifyVolume(where string) Rule {
	return Rule{Policy: Replace, Replaces: "the volumes of " + where, Data: DataKept,
		Effect: "EBS modifies the attached volumes in place (ModifyVolume); they cannot be modified again for six hours"}
}

// replaceVolume is a change that makes CloudFormation create a new volume
// in place of the old one, which it snapshots first.
func replaceVolume(what string) Rule {
	return Rule{Policy: Replace, Replaces: what, Data: DataSnapshot, StopFleet: true,
		Effect: "a new volume replaces the old one, which CloudFormation snapshots and deletes: the cluster no longer sees the old data; the compute fleet is stopped first"}
}

func replaceEFS() Rule {
	return Rule{Policy: Replace, Replaces: "the shared file system", Data: DataRetained, StopFleet: true,
		Effect: "another file system replaces the mounted one (one Driftless created is retained in the account, not deleted); the cluster no longer sees the old data; the compute fleet is stopped first"}
}

func rebuildRAID() Rule {
	return Rule{Policy: Replace, Replaces: "the RAID array", Data: DataLost, StopFleet: true,
		Effect: "the array is built again over new volumes: the data on it is lost (snapshots of the old volumes are taken); the compute fleet is stopped first"}
}

// refineSize: volumes grow in place but never shrink.
func refineSize(what string) func(a refineArgs) Rule {
	return func(a refineArgs) Rule {
		o, _ := a.old.(int)
		n, _ := a.new.(int)
		if n < o {
			return notAllowed("EBS volumes cannot shrink: add a new volume, copy the data and remove the old one")
		}
		return Rule{Policy: Replace, Replaces: what, Data: DataKept,
			Effect: "EBS grows the attached volumes in place (ModifyVolume); the file system must then be grown on the head node, and they cannot be modified again for six hours"}
	}
}

// refineQueue: a new queue is a new group; removing one terminates its
// nodes.
func refineQueue(a refineArgs) Rule {
	if a.old == nil {
		return inPlace("a new Auto Scaling group and launch template; the scheduler learns the queue from the head node's configuration")
	}
	return fleetStop("the queue's Auto Scaling group is deleted and its nodes terminated; jobs running on them are lost")
}

// refineMaxNodes: raising the maximum is in place; lowering it below the
// number of running nodes would make Auto Scaling terminate nodes that
// may run jobs.
func refineMaxNodes(a refineArgs) Rule {
	o, _ := a.old.(int)
	n, _ := a.new.(int)
	switch {
	case n >= o:
		return inPlace("the group's maximum changes; the fleet loop may start more nodes")
	case a.known && a.running <= n:
		return inPlace(fmt.Sprintf("the group's maximum changes; %d nodes run, no more than the new maximum", a.running))
	case a.known:
		return fleetStop(fmt.Sprintf("%d nodes run, more than the new maximum: Auto Scaling would terminate nodes that may run jobs, so the fleet is stopped first", a.running))
	}
	return fleetStop("lowering the maximum needs the fleet stopped when more nodes run than the new maximum (an offline plan cannot know how many run)")
}

// refineEBSEntry: a new shared volume is mounted at boot; a removed one is
// deleted after a snapshot, or detached when it was an existing volume.
func refineEBSEntry(a refineArgs) Rule {
	if a.old == nil {
		return fleetStop("a new volume is attached to the head node and exported to every node, which mount it at boot; the compute fleet is stopped first")
	}
	return Rule{Policy: Replace, Replaces: "a shared EBS volume", Data: DataSnapshot, StopFleet: true,
		Effect: "the volume is detached from the cluster; a volume Driftless created is deleted after a snapshot, an existing one is only detached; the compute fleet is stopped first"}
}

// ruleFor returns the rule of a change, refined by its values.
func ruleFor(key string, a refineArgs) (Rule, bool) {
	r, ok := policies[key]
	if !ok {
		return Rule{}, false
	}
	if r.refine != nil {
		r = r.refine(a)
	}
	if r.Policy == FleetStop {
		r.StopFleet = true
	}
	return r, true
}

// unknownField is the rule of a field the table does not know, which
// TestPolicyCoversSchema keeps from happening: refuse rather than guess.
func unknownField(key string) Rule {
	return notAllowed(fmt.Sprintf("this version of Driftless has no update policy for %s; refusing to guess", key))
}

// FieldPolicy is one entry of the policy table, for documentation.
type FieldPolicy struct {
	// Field is the schema path, e.g. compute[].maxNodes.
	Field string
	// Policies are the policies the field can have: more than one when
	// it depends on the values (lowering a maximum, shrinking a volume).
	Policies []Policy
	// Effect is the effect of the rule, or of its most severe variant.
	Effect string
}

// Policies returns the policy of every spec field, sorted by field: the
// table docs/update-policies.md is generated from.
func Policies() []FieldPolicy {
	out := make([]FieldPolicy, 0, len(policies))
	for _, key := range slices.Sorted(maps.Keys(policies)) {
		r := policies[key]
		fp := FieldPolicy{Field: key}
		if r.refine == nil {
			fp.Policies, fp.Effect = []Policy{r.Policy}, r.Effect
			out = append(out, fp)
			continue
		}
		seen := map[Policy]bool{}
		worst := Rule{Policy: -1}
		for _, a := range sampleArgs {
			v := r.refine(a)
			seen[v.Policy] = true
			if v.Policy > worst.Policy {
				worst = v
			}
		}
		for p := InPlace; p <= NotAllowed; p++ {
			if seen[p] {
				fp.Policies = append(fp.Policies, p)
			}
		}
		fp.Effect = worst.Effect
		out = append(out, fp)
	}
	return out
}

// sampleArgs exercise every branch of the refining rules: raise and
// lower, add and remove, public and private head node, counts known and
// unknown.
var sampleArgs = []refineArgs{
	{old: 1, new: 2, known: true},
	{old: 2, new: 1},
	{old: 2, new: 1, known: true, running: 2},
	{old: 2, new: 1, known: true, running: 0},
	{old: nil, new: struct{}{}},
	{old: struct{}{}, new: nil},
	{publicIP: true},
	{publicIP: false},
}

// describeRule is the one-line text of a rule for people: its policy, what
// it replaces and what becomes of the data.
func describeRule(r Rule) string {
	var b strings.Builder
	switch r.Policy {
	case Replace:
		fmt.Fprintf(&b, "replaces %s", r.Replaces)
		if r.Data == DataKept {
			b.Reset()
			fmt.Fprintf(&b, "changes %s", r.Replaces)
		}
		switch r.Data {
		case DataLost:
			b.WriteString("; data on it is lost")
		case DataSnapshot:
			b.WriteString("; old data kept only in a snapshot")
		case DataRetained:
			b.WriteString("; old data retained, no longer mounted")
		case DataKept:
			b.WriteString("; data kept")
		}
	default:
		b.WriteString(r.Policy.Describe())
	}
	return b.String()
}
