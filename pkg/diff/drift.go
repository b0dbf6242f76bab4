package diff

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/driftless/driftless/pkg/render"
)

// DriftKind names what drifted. The values are metric labels
// (driftless_cluster_drift{kind}).
type DriftKind string

// The kinds of drift.
const (
	// DriftGroupLimits: a compute group's minimum or maximum differs
	// from the template's (edited in the console). Desired capacity is
	// the fleet loop's and never drift.
	DriftGroupLimits DriftKind = "group_limits"
	// DriftStackDeleted: the stack was deleted although the repo still
	// declares the cluster.
	DriftStackDeleted DriftKind = "stack_deleted"
	// DriftStackFailed: the stack is stuck in a failed state.
	DriftStackFailed DriftKind = "stack_failed"
	// DriftHeadNode: the head node was stopped or terminated.
	DriftHeadNode DriftKind = "head_node"
	// DriftTags: tags of the stack, a group or the head node were
	// removed or changed.
	DriftTags DriftKind = "tags"
	// DriftResources: CloudFormation's drift detection found a resource
	// modified or deleted, or a group is missing.
	DriftResources DriftKind = "resources"
)

// DriftKinds lists every kind of drift, for metrics that show each.
func DriftKinds() []DriftKind {
	return []DriftKind{DriftGroupLimits, DriftStackDeleted, DriftStackFailed, DriftHeadNode, DriftTags, DriftResources}
}

// Where a drift is.
const (
	TargetStack    = "stack"
	TargetGroup    = "group"
	TargetInstance = "instance"
	TargetResource = "resource"
)

// Drift is one thing that differs from the last apply behind the repo's
// back.
type Drift struct {
	Kind DriftKind `json:"kind"`
	// Target is where: stack, group, instance or resource.
	Target string `json:"target"`
	// Name is the stack, group, instance id or logical id.
	Name string `json:"name"`
	// Detail says what differs, in a person's words.
	Detail string `json:"detail"`
	// Heal: the daemon puts it back in this cycle.
	Heal bool `json:"heal"`
	// Min and Max are a group's limits to restore (DriftGroupLimits).
	Min int `json:"-"`
	Max int `json:"-"`
	// Tags are the tags to put back (DriftTags on a group or instance).
	Tags map[string]string `json:"-"`
}

// addDrift looks for drift on a declared cluster's live stack and, per the
// cluster's policy.onDrift, marks what the daemon heals and adjusts the
// action: a stack in sync whose drift is healed gets Heal (or Update for
// the stack's own tags); a deleted stack is recreated only when healing.
func addDrift(ch *Change, d *render.Stack, l *Live) {
	if l == nil || d == nil {
		return
	}
	reason := ""
	if l.StatusReason != "" {
		reason = " (" + l.StatusReason + ")"
	}
	switch StatusKind(l.Status) {
	case Gone:
		heal := onDrift(d) != "report"
		ch.Drift = append(ch.Drift, Drift{Kind: DriftStackDeleted, Target: TargetStack, Name: l.StackName,
			Detail: "the stack was deleted outside Driftless" + reason, Heal: heal && ch.Action == Create})
		if !heal && ch.Action == Create {
			ch.Action, ch.Hold = Hold, HoldDrift
			ch.Reason = "the stack was deleted outside Driftless; policy.onDrift is report, so it is not created again: set policy.onDrift: heal to recreate it, or remove the spec"
		} else if ch.Action == Create {
			ch.Reason = "the stack was deleted outside Driftless; creating it again, as the repo still declares it"
		}
		return
	case Stable:
	case InProgress, Review:
		return
	default:
		ch.Drift = append(ch.Drift, Drift{Kind: DriftStackFailed, Target: TargetStack, Name: l.StackName,
			Detail: fmt.Sprintf("the stack is %s%s", l.Status, reason), Heal: ch.Mutating()})
		return
	}

	desired, err := parseDriftTemplate(d.Template)
	if err != nil {
		return
	}
	// What should be live now is the live template's say; when the hashes
	// match it is the desired template. Healing restores the desired
	// values, after any update.
	current := desired
	var liveTags map[string]string
	if l.Hash != d.Hash {
		current = nil
		if l.Template != nil {
			current, _ = parseDriftTemplate(l.Template)
			if c, err := render.SpecFromTemplate(l.Template); err == nil {
				liveTags = maps.Clone(c.Tags)
				if liveTags == nil {
					liveTags = map[string]string{}
				}
				liveTags[render.TagCluster] = c.Name
			}
		}
	} else {
		liveTags = d.Tags
	}
	var found []Drift
	if current != nil {
		found = append(found, groupDrift(current, desired, l)...)
		found = append(found, headNodeDrift(current, desired, l)...)
	}
	if liveTags != nil && l.Tags != nil {
		if miss := missingTags(liveTags, l.Tags); len(miss) > 0 {
			found = append(found, Drift{Kind: DriftTags, Target: TargetStack, Name: l.StackName,
				Detail: "stack tags removed or changed: " + strings.Join(miss, ", ")})
		}
	}
	found = append(found, resourceDrift(l)...)
	if len(found) == 0 {
		return
	}
	// Read only now: a cluster in sync, the common case, never needs it.
	heal := onDrift(d) != "report"
	canAct := ch.Action == None || ch.Action == Update
	stackTags := false
	for i := range found {
		f := &found[i]
		f.Heal = heal && canAct && healable(*f)
		if f.Heal && f.Kind == DriftTags && f.Target == TargetStack {
			stackTags = true
		}
	}
	ch.Drift = append(ch.Drift, found...)
	details := make([]string, len(found))
	for i, f := range found {
		details[i] = f.Detail
	}
	summary := strings.Join(details, "; ")
	switch {
	case ch.Action != None:
	case stackTags:
		ch.Action, ch.Reason = Update, "drift: "+summary+"; updating the stack to put its tags back"
	case anyHeal(found):
		ch.Action, ch.Reason = Heal, "drift: "+summary+"; healing"
	case headNodeGone(found):
		ch.Action, ch.Hold, ch.Reason = Hold, HoldHeadNode, "drift: "+summary
	case !heal:
		ch.Action, ch.Hold, ch.Reason = Hold, HoldDrift, "drift reported, not healed (policy.onDrift is report): "+summary
	default:
		ch.Action, ch.Hold, ch.Reason = Hold, HoldDrift, "drift the daemon cannot heal: "+summary
	}
}

// healable reports whether the daemon knows how to put a drift back.
func healable(f Drift) bool {
	switch f.Kind {
	case DriftGroupLimits, DriftTags:
		return true
	case DriftHeadNode:
		// A stopped head node is started again; a terminated one is
		// reported with Target resource and cannot be healed.
		return f.Target == TargetInstance
	}
	return false
}

func anyHeal(ds []Drift) bool {
	return slices.ContainsFunc(ds, func(d Drift) bool { return d.Heal })
}

func headNodeGone(ds []Drift) bool {
	return slices.ContainsFunc(ds, func(d Drift) bool { return d.Kind == DriftHeadNode && !healable(d) })
}

func onDrift(d *render.Stack) string {
	c, err := render.SpecFromTemplate(d.Template)
	if err != nil {
		return "heal"
	}
	return c.Policy.OnDrift
}

// groupDrift compares each compute group's limits and tags with the
// template.
func groupDrift(current, desired *cfnTemplate, l *Live) []Drift {
	want := groupsOf(current)
	heal := groupsOf(desired)
	live := map[string]LiveGroup{}
	for _, g := range l.Groups {
		live[g.Name] = g
	}
	var out []Drift
	for _, name := range slices.Sorted(maps.Keys(want)) {
		w := want[name]
		g, ok := live[name]
		if !ok {
			out = append(out, Drift{Kind: DriftResources, Target: TargetGroup, Name: name,
				Detail: fmt.Sprintf("Auto Scaling group %s not found (deleted, or its %s tag removed)", name, render.TagCluster)})
			continue
		}
		h, inDesired := heal[name]
		if w.min >= 0 && w.max >= 0 && (g.Min != w.min || g.Max != w.max) {
			dr := Drift{Kind: DriftGroupLimits, Target: TargetGroup, Name: name,
				Detail: fmt.Sprintf("group %s min/max is %d/%d, the template says %d/%d", name, g.Min, g.Max, w.min, w.max)}
			if inDesired {
				dr.Min, dr.Max = h.min, h.max
			} else {
				dr.Min, dr.Max = w.min, w.max
			}
			out = append(out, dr)
		}
		if g.Tags != nil {
			if miss := missingTags(w.tags, g.Tags); len(miss) > 0 {
				tags := w.tags
				if inDesired {
					tags = h.tags
				}
				out = append(out, Drift{Kind: DriftTags, Target: TargetGroup, Name: name, Tags: tags,
					Detail: fmt.Sprintf("group %s tags removed or changed: %s", name, strings.Join(miss, ", "))})
			}
		}
	}
	return out
}

// headNodeDrift looks at the head node's state and tags.
func headNodeDrift(current, desired *cfnTemplate, l *Live) []Drift {
	h := l.HeadNode
	if h == nil {
		return nil
	}
	switch h.State {
	case InstanceMissing, "terminated", "shutting-down":
		what := "is " + h.State
		if h.State == InstanceMissing {
			what = "no longer exists"
		}
		name := h.ID
		if name == "" {
			name = "HeadNode"
		}
		return []Drift{{Kind: DriftHeadNode, Target: TargetResource, Name: name,
			Detail: fmt.Sprintf("head node %s %s: its root volume is gone and the daemon cannot bring it back; delete the stack (shared volumes are snapshotted, a file system is retained) to let the daemon create the cluster again", name, what)}}
	}
	var out []Drift
	if h.State == "stopped" || h.State == "stopping" {
		out = append(out, Drift{Kind: DriftHeadNode, Target: TargetInstance, Name: h.ID,
			Detail: fmt.Sprintf("head node %s is %s", h.ID, h.State)})
	}
	want := instanceTags(current)
	if want == nil || h.Tags == nil {
		return out
	}
	if miss := missingTags(want, h.Tags); len(miss) > 0 {
		tags := instanceTags(desired)
		if tags == nil {
			tags = want
		}
		out = append(out, Drift{Kind: DriftTags, Target: TargetInstance, Name: h.ID, Tags: tags,
			Detail: fmt.Sprintf("head node %s tags removed or changed: %s", h.ID, strings.Join(miss, ", "))})
	}
	return out
}

// ignoredResourceDrift are property paths CloudFormation's drift detection
// reports that the daemon's own checks cover (with a heal), or that
// belong to the fleet loop.
var ignoredResourceDrift = map[string][]string{
	"AWS::AutoScaling::AutoScalingGroup": {"/MinSize", "/MaxSize", "/DesiredCapacity", "/Tags"},
	"AWS::EC2::Instance":                 {"/Tags"},
}

func resourceDrift(l *Live) []Drift {
	var out []Drift
	for _, r := range l.ResourceDrift {
		var props []string
		for _, p := range r.Properties {
			if !slices.ContainsFunc(ignoredResourceDrift[r.Type], func(prefix string) bool { return strings.HasPrefix(p, prefix) }) {
				props = append(props, p)
			}
		}
		if r.Status == "MODIFIED" && len(props) == 0 {
			continue
		}
		detail := fmt.Sprintf("%s (%s) %s", r.LogicalID, r.Type, strings.ToLower(r.Status))
		if len(props) > 0 {
			detail += ": " + strings.Join(props, ", ")
		}
		out = append(out, Drift{Kind: DriftResources, Target: TargetResource, Name: r.LogicalID,
			Detail: detail + " (CloudFormation drift detection)"})
	}
	return out
}

// missingTags lists the wanted tags that are absent or different in have,
// as "key" or "key=have (want)". Tags added by others are not drift.
func missingTags(want, have map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		v, ok := have[k]
		switch {
		case !ok:
			out = append(out, k+" removed")
		case v != want[k]:
			out = append(out, fmt.Sprintf("%s=%s (want %s)", k, v, want[k]))
		}
	}
	return out
}

type groupLimits struct {
	min, max int
	tags     map[string]string
}

// parseDriftTemplate reads what drift is compared with: the properties of
// the compute groups and the head node only. A cycle reads every in-sync
// cluster's template, so the rest is only scanned, never decoded.
func parseDriftTemplate(body []byte) (*cfnTemplate, error) {
	var raw struct {
		Resources map[string]struct {
			Type       string          `json:"Type"`
			Properties json.RawMessage `json:"Properties"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	t := &cfnTemplate{Resources: map[string]cfnResource{}}
	for id, r := range raw.Resources {
		if r.Type != "AWS::AutoScaling::AutoScalingGroup" && !(r.Type == "AWS::EC2::Instance" && id == HeadNodeLogicalID) {
			continue
		}
		var props map[string]any
		if len(r.Properties) > 0 {
			if err := json.Unmarshal(r.Properties, &props); err != nil {
				return nil, fmt.Errorf("template: %s: %w", id, err)
			}
		}
		t.Resources[id] = cfnResource{Type: r.Type, Properties: props}
	}
	return t, nil
}

// groupsOf reads the Auto Scaling groups a template declares, by name.
func groupsOf(t *cfnTemplate) map[string]groupLimits {
	out := map[string]groupLimits{}
	for _, r := range t.Resources {
		if r.Type != "AWS::AutoScaling::AutoScalingGroup" {
			continue
		}
		name, ok := r.Properties["AutoScalingGroupName"].(string)
		if !ok {
			continue
		}
		out[name] = groupLimits{min: intOf(r.Properties["MinSize"]), max: intOf(r.Properties["MaxSize"]), tags: tagsOf(r.Properties["Tags"])}
	}
	return out
}

// instanceTags are the tags of the head node instance in a template.
func instanceTags(t *cfnTemplate) map[string]string {
	r, ok := t.Resources[HeadNodeLogicalID]
	if !ok || r.Type != "AWS::EC2::Instance" {
		return nil
	}
	return tagsOf(r.Properties["Tags"])
}

// HeadNodeLogicalID is the logical id the renderer gives the head node
// instance; observe finds the instance by CloudFormation's
// aws:cloudformation:logical-id tag with this value.
const HeadNodeLogicalID = "HeadNode"

// tagsOf reads a CloudFormation tag list of literal keys and values.
func tagsOf(v any) map[string]string {
	list, ok := v.([]any)
	if !ok {
		return nil
	}
	out := map[string]string{}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		k, kok := m["Key"].(string)
		val, vok := m["Value"].(string)
		if kok && vok {
			out[k] = val
		}
	}
	return out
}

// intOf reads a template number, written as a string or a number; -1 when
// it is neither (an intrinsic function).
func intOf(v any) int {
	switch v := v.(type) {
	case string:
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	case float64:
		return int(v)
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return int(n)
		}
	}
	return -1
}
