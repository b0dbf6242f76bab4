package diff

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/driftless/driftless/pkg/spec"
)

// Op is what happened to a setting or a resource.
type Op string

// The ops of a field or resource change.
const (
	Added   Op = "add"
	Changed Op = "change"
	Removed Op = "remove"
)

// FieldChange is one setting of the spec that differs between the live
// cluster and the repo, with the policy that decides what the daemon may
// do about it.
type FieldChange struct {
	// Path names the setting as a person writes it, with list entries
	// by name or position: compute[gpu].maxNodes, storage.ebs[0].size,
	// tags.team.
	Path string `json:"path"`
	// Field is Path's key in the policy table: compute[].maxNodes.
	Field string `json:"field"`
	Op    Op     `json:"op"`
	// Old and New are the values as a person would write them; empty on
	// the side where the setting is absent.
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
	// Policy, Effect, Replaces, Data and StopFleet come from the
	// field's Rule, refined by the values.
	Policy    Policy `json:"policy"`
	Effect    string `json:"effect"`
	Replaces  string `json:"replaces,omitempty"`
	Data      Data   `json:"data,omitempty"`
	StopFleet bool   `json:"stopFleet,omitempty"`
	// Approval is the line that approves this change in the spec's
	// policy.approve; empty when the change needs no approval.
	Approval string `json:"approval,omitempty"`
	// Approved: the desired spec carries Approval.
	Approved bool `json:"approved,omitempty"`
}

// Describe is the change's policy in a person's words, e.g. "replaces
// the head node; data on it is lost".
func (f FieldChange) Describe() string {
	return describeRule(Rule{Policy: f.Policy, Replaces: f.Replaces, Data: f.Data})
}

// NeedsApproval reports whether the change waits for a person.
func (f FieldChange) NeedsApproval() bool { return f.Policy == FleetStop || f.Policy == Replace }

// liveFacts are what a rule may need to know about the running cluster.
type liveFacts struct {
	// running maps each queue to its nodes in service; known is false
	// when nobody can know (an offline plan).
	running map[string]int
	known   bool
}

// compareSpecs lists every setting that differs between the live spec and
// the desired one, sorted by path, each with its refined policy.
func compareSpecs(old, new *spec.Cluster, facts liveFacts) []FieldChange {
	w := &specWalker{facts: facts, publicIP: new.HeadNode.PublicIP}
	w.walk("", "", "", reflect.ValueOf(old).Elem(), reflect.ValueOf(new).Elem())
	slices.SortFunc(w.out, func(a, b FieldChange) int { return strings.Compare(a.Path, b.Path) })
	return w.out
}

type specWalker struct {
	facts    liveFacts
	publicIP bool
	out      []FieldChange
}

var durationType = reflect.TypeFor[spec.Duration]()

// walk compares a and b, two values of the same type at path (for people)
// and key (for the policy table); queue is the queue the values belong to.
func (w *specWalker) walk(path, key, queue string, a, b reflect.Value) {
	t := a.Type()
	switch {
	case t == durationType:
		if a.Interface() != b.Interface() {
			w.add(path, key, queue, Changed, a.Interface(), b.Interface())
		}
	case t.Kind() == reflect.Struct:
		for _, f := range schemaFields(t) {
			w.walk(join(path, f.name), join(key, f.name), queue, a.Field(f.index), b.Field(f.index))
		}
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct && t.Elem() != durationType:
		switch {
		case a.IsNil() && b.IsNil():
		case a.IsNil():
			w.add(path, key, queue, Added, nil, b.Elem().Interface())
		case b.IsNil():
			w.add(path, key, queue, Removed, a.Elem().Interface(), nil)
		default:
			w.walk(path, key, queue, a.Elem(), b.Elem())
		}
	case t.Kind() == reflect.Pointer:
		av, bv := deref(a), deref(b)
		if !reflect.DeepEqual(av, bv) {
			w.add(path, key, queue, opOf(av, bv), av, bv)
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		w.walkList(path, key, a, b)
	case t.Kind() == reflect.Slice:
		if a.Len() != b.Len() || (a.Len() > 0 && !reflect.DeepEqual(a.Interface(), b.Interface())) {
			var av, bv any
			if a.Len() > 0 {
				av = a.Interface()
			}
			if b.Len() > 0 {
				bv = b.Interface()
			}
			w.add(path, key, queue, opOf(av, bv), av, bv)
		}
	case t.Kind() == reflect.Map:
		w.walkMap(path, key, queue, a, b)
	default:
		if a.Interface() != b.Interface() {
			w.add(path, key, queue, Changed, a.Interface(), b.Interface())
		}
	}
}

// walkList pairs the entries of two lists of blocks: by their name when
// the block has one (compute queues), otherwise by position (volumes,
// whose logical ids follow their position in the template).
func (w *specWalker) walkList(path, key string, a, b reflect.Value) {
	named := fieldIndex(a.Type().Elem(), "name")
	id := func(v reflect.Value, i int) string {
		if named >= 0 {
			return v.Index(i).Field(named).String()
		}
		return strconv.Itoa(i)
	}
	olds := map[string]int{}
	for i := range a.Len() {
		olds[id(a, i)] = i
	}
	news := map[string]int{}
	var order []string
	for i := range b.Len() {
		news[id(b, i)] = i
		order = append(order, id(b, i))
	}
	for i := range a.Len() {
		if _, ok := news[id(a, i)]; !ok {
			order = append(order, id(a, i))
		}
	}
	for _, k := range order {
		p, ek := path+"["+k+"]", key+"[]"
		queue := ""
		if path == "compute" {
			queue = k
		}
		oi, inOld := olds[k]
		ni, inNew := news[k]
		switch {
		case inOld && inNew:
			w.walk(p, ek, queue, a.Index(oi), b.Index(ni))
		case inNew:
			w.add(p, ek, queue, Added, nil, b.Index(ni).Interface())
		default:
			w.add(p, ek, queue, Removed, a.Index(oi).Interface(), nil)
		}
	}
}

// walkMap compares two string maps key by key (tags).
func (w *specWalker) walkMap(path, key, queue string, a, b reflect.Value) {
	keys := map[string]bool{}
	for _, k := range a.MapKeys() {
		keys[k.String()] = true
	}
	for _, k := range b.MapKeys() {
		keys[k.String()] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		av, bv := a.MapIndex(reflect.ValueOf(k)), b.MapIndex(reflect.ValueOf(k))
		var ao, bo any
		if av.IsValid() {
			ao = av.Interface()
		}
		if bv.IsValid() {
			bo = bv.Interface()
		}
		if !reflect.DeepEqual(ao, bo) {
			w.add(path+"."+k, key, queue, opOf(ao, bo), ao, bo)
		}
	}
}

func (w *specWalker) add(path, key, queue string, op Op, old, new any) {
	args := refineArgs{old: old, new: new, queue: queue, publicIP: w.publicIP, known: w.facts.known}
	args.running = w.facts.running[queue]
	r, ok := ruleFor(key, args)
	if !ok {
		r = unknownField(key)
	}
	fc := FieldChange{
		Path: path, Field: key, Op: op,
		Old: format(old), New: format(new),
		Policy: r.Policy, Effect: r.Effect, Replaces: r.Replaces, Data: r.Data, StopFleet: r.StopFleet,
	}
	if fc.NeedsApproval() {
		fc.Approval = approvalFor(fc)
	}
	w.out = append(w.out, fc)
}

// approvalFor is the line of policy.approve that approves a change: the
// path and the new value, so that it cannot approve a later, different
// change of the same setting.
func approvalFor(f FieldChange) string {
	switch f.Op {
	case Added:
		if f.Field == "compute[]" || strings.HasSuffix(f.Field, "[]") || isBlock(f.Field) {
			return f.Path + "=added"
		}
	case Removed:
		return f.Path + "=removed"
	}
	return f.Path + "=" + f.New
}

// isBlock reports whether a key names a block that can be absent.
func isBlock(key string) bool {
	switch key {
	case "storage.efs", "storage.raid", "batch", "bootstrap.preInstall", "bootstrap.postInstall":
		return true
	}
	return false
}

func opOf(old, new any) Op {
	switch {
	case old == nil:
		return Added
	case new == nil:
		return Removed
	}
	return Changed
}

func deref(v reflect.Value) any {
	if v.IsNil() {
		return nil
	}
	return v.Elem().Interface()
}

// format writes a value as a person would in the spec: strings bare
// (quoted only when empty or padded), lists in flow style, blocks as
// compact JSON of the settings they hold.
func format(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		if v == "" || strings.TrimSpace(v) != v || strings.ContainsAny(v, ",[]") {
			return strconv.Quote(v)
		}
		return v
	case spec.Duration:
		return v.String()
	case []string:
		parts := make([]string, len(v))
		for i, s := range v {
			parts[i] = format(s)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool, int:
		return fmt.Sprint(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// schemaField is a field of a spec struct that is part of the file.
type schemaField struct {
	index int
	name  string
}

// schemaFields lists the fields of a spec struct that a file can hold:
// those with a json name other than "-".
func schemaFields(t reflect.Type) []schemaField {
	var out []schemaField
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" || name == "-" || !sf.IsExported() {
			continue
		}
		out = append(out, schemaField{index: i, name: name})
	}
	return out
}

func fieldIndex(t reflect.Type, name string) int {
	for _, f := range schemaFields(t) {
		if f.name == name {
			return f.index
		}
	}
	return -1
}

func join(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}
