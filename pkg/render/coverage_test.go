package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/pkg/spec"
)

// A setting the renderer ignores is a bug: a user who writes it sees no
// effect and no error. TestEverySettingChangesTheTemplate walks every
// field of spec.Cluster, changes it in a fully populated cluster, and fails
// when the rendered stack (template without the copy of the spec in its
// Metadata, tags, groups) stays the same. New spec fields are covered automatically; a
// new kind of value needs a sample in kindSamples.

// notRendered lists the fields the renderer leaves alone on purpose, each
// with the reason. Paths use JSON names, with [] for list elements.
var notRendered = map[string]string{
	"policy.prune":                 "the daemon reads it from the spec in the template's Metadata; it is no resource setting",
	"policy.terminationProtection": "apply sets it on the stack (UpdateTerminationProtection); templates cannot",
	"policy.onDrift":               "the daemon reads it from the spec in the template's Metadata; it is no resource setting",
	"policy.recreateFailed":        "the daemon reads it when a stack is in a failed state; it is no resource setting",
	"policy.approve[]":             "the daemon reads it from the spec when it plans a change; it is no resource setting",
}

// kindSamples are valid values of each spec kind, used to change a field of
// that kind. Two per kind, so one always differs from the current value.
var kindSamples = map[string][]string{
	"clusterName":       {"walked", "walked-two"},
	"queueName":         {"walked", "walked-two"},
	"region":            {"eu-west-1", "us-west-2"},
	"loginUser":         {"walker", "walker2"},
	"instanceType":      {"m6i.large", "r6i.xlarge"},
	"keyPair":           {"walk-key", "walk-key-2"},
	"cidr":              {"198.51.100.0/24", "192.0.2.0/24"},
	"vpc":               {"vpc-0aaaaaaaaaaaaaaaa", "vpc-0bbbbbbbbbbbbbbbb"},
	"subnet":            {"subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"},
	"ami":               {"ami-0aaaaaaaaaaaaaaaa", "ami-0bbbbbbbbbbbbbbbb"},
	"tagKey":            {"walk-key", "walk-key-2"},
	"tagValue":          {"walk-value", "walk-value-2"},
	"securityGroup":     {"sg-0aaaaaaaaaaaaaaaa", "sg-0bbbbbbbbbbbbbbbb"},
	"snapshot":          {"snap-0aaaaaaaaaaaaaaaa", "snap-0bbbbbbbbbbbbbbbb"},
	"volume":            {"vol-0aaaaaaaaaaaaaaaa", "vol-0bbbbbbbbbbbbbbbb"},
	"url":               {"https://example.com/walk.sh", "s3://walk-bucket/walk.sh"},
	"s3Url":             {"s3://walk-bucket/walk.sh", "s3://walk-bucket/other.sh"},
	"path":              {"/walked", "/walked/two"},
	"mountDir":          {"/walked", "/walked/two"},
	"kmsKey":            {"arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555", "alias/walk"},
	"arn":               {"arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess", "arn:aws:iam::123456789012:policy/walk"},
	"iamPolicy":         {"arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess", "arn:aws:iam::123456789012:policy/walk"},
	"iamRole":           {"arn:aws:iam::123456789012:role/walk", "walk-role"},
	"batchInstanceType": {"c6i", "r6i.large"},
	"approval":          {"headNode.instanceType=c5.xlarge", "compute[0].maxNodes=20"},
	"efs":               {"fs-0aaaaaaaaaaaaaaaa", "fs-0bbbbbbbbbbbbbbbb"},
	"placementGroup":    {"walk-group", "walk-group-2"},
	"s3Resource":        {"arn:aws:s3:::walk-bucket/*", "arn:aws:s3:::other-bucket"},
	"s3Bucket":          {"walk-bucket", "other-bucket"},
	"proxy":             {"http://proxy.example.com:8080", "http://10.0.0.1:3128"},
}

// coverageBases are fully populated clusters. A field counts as rendered
// when changing it changes the stack of at least one base; settings that
// exclude each other (a new volume or an existing one, queues or AWS Batch)
// need a base each.
func coverageBases() map[string]*spec.Cluster {
	return map[string]*spec.Cluster{
		"full":          full(),
		"existing":      existing(),
		"awsbatch":      batch(),
		"awsbatch-spot": batchSpot(),
	}
}

// walkResult says, per field path, whether some change of it changed a
// template, and collects the problems met on the way.
type walkResult struct {
	changed  map[string]bool
	failures map[string][]string // render errors of changes, by path
	problems []string
}

func TestEverySettingChangesTheTemplate(t *testing.T) {
	res := walkResult{changed: map[string]bool{}, failures: map[string][]string{}}
	for _, name := range slices.Sorted(maps.Keys(coverageBases())) {
		base := coverageBases()[name]
		want, err := comparable(base)
		if err != nil {
			t.Fatalf("base %s: %v", name, err)
		}
		w := walker{base: base, want: want, res: &res, baseName: name}
		w.walk(reflect.ValueOf(base).Elem(), "")
	}
	for _, p := range res.problems {
		t.Error(p)
	}
	paths := leaves(reflect.TypeFor[spec.Cluster](), "")
	for p := range res.changed {
		if !slices.Contains(paths, p) {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	for _, path := range paths {
		changed, walked := res.changed[path]
		switch {
		case notRendered[path] != "":
		case !walked:
			t.Errorf("no coverage base sets %s, so nothing checks that it is rendered; set it in a base", path)
		case !changed && len(res.failures[path]) > 0:
			t.Errorf("changing %s fails to render in every way tried: %s", path, strings.Join(res.failures[path], "; "))
		case !changed:
			t.Errorf("changing %s does not change the rendered stack: render it, or list it in notRendered with the reason", path)
		}
	}
	for path := range notRendered {
		if !slices.Contains(paths, path) {
			t.Errorf("notRendered lists %s, which is not a field of the spec any more", path)
		}
		if res.changed[path] {
			t.Errorf("notRendered lists %s, but changing it does change the stack", path)
		}
	}
}

// leaves are the paths of the values a spec holds: scalars, durations,
// maps and lists of scalars; structs and lists of structs are walked into.
func leaves(t reflect.Type, path string) []string {
	switch {
	case isDuration(t):
		return []string{path}
	case t.Kind() == reflect.Pointer:
		return leaves(t.Elem(), path)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return leaves(t.Elem(), path+"[]")
	case t.Kind() == reflect.Slice:
		return []string{path + "[]"}
	case t.Kind() == reflect.Struct:
		var out []string
		for i := range t.NumField() {
			sf := t.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "" || name == "-" || !sf.IsExported() {
				continue
			}
			p := name
			if path != "" {
				p = path + "." + name
			}
			out = append(out, leaves(sf.Type, p)...)
		}
		return out
	}
	return []string{path}
}

// comparable renders c into what the rest of the daemon receives: the
// template, the stack tags and the groups (whose initial sizes the daemon
// applies after create). The copy of the spec in the Metadata is dropped:
// it changes with every field and would hide an ignored setting.
func comparable(c *spec.Cluster) ([]byte, error) {
	st, err := Render(c)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(st.Template, &doc); err != nil {
		return nil, err
	}
	if md, ok := doc["Metadata"].(map[string]any); ok {
		if d, ok := md["Driftless"].(map[string]any); ok {
			delete(d, "Spec")
		}
	}
	return json.Marshal(map[string]any{"Template": doc, "Tags": st.Tags, "Groups": st.Groups})
}

type walker struct {
	base     *spec.Cluster
	baseName string
	want     []byte
	res      *walkResult
}

func (w walker) problem(format string, args ...any) {
	w.res.problems = append(w.res.problems, fmt.Sprintf("base %s: ", w.baseName)+fmt.Sprintf(format, args...))
}

// try applies each candidate change to the field at v (a field of w.base),
// renders, and restores the field. It records whether any change showed.
func (w walker) try(v reflect.Value, path string, candidates []reflect.Value) {
	if _, ok := w.res.changed[path]; !ok {
		w.res.changed[path] = false
	}
	if len(candidates) == 0 {
		w.problem("%s: no way to change a field of type %s; teach the walker", path, v.Type())
		return
	}
	old := reflect.New(v.Type()).Elem()
	old.Set(v)
	defer v.Set(old)
	var errs []string
	for _, cand := range candidates {
		v.Set(cand)
		got, err := comparable(w.base)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if !bytes.Equal(got, w.want) {
			w.res.changed[path] = true
			return
		}
	}
	for _, e := range errs {
		w.res.failures[path] = append(w.res.failures[path], "base "+w.baseName+": "+e)
	}
}

// isDuration says whether t is a duration written as a struct that embeds
// time.Duration (spec.Duration); the walker treats it as one value.
func isDuration(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t.NumField() > 0 && t.Field(0).Anonymous &&
		t.Field(0).Type == reflect.TypeFor[time.Duration]()
}

func (w walker) walk(v reflect.Value, path string) {
	t := v.Type()
	switch {
	case isDuration(t):
		d := reflect.New(t).Elem()
		d.Set(v)
		d.Field(0).SetInt(d.Field(0).Int() + int64(7*time.Minute))
		w.try(v, path, []reflect.Value{d})
		return
	case t.Kind() == reflect.Struct:
		for i := range t.NumField() {
			sf := t.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "" || name == "-" || !sf.IsExported() {
				continue
			}
			p := name
			if path != "" {
				p = path + "." + name
			}
			fv := v.Field(i)
			switch {
			case isDuration(fv.Type()):
				w.walk(fv, p)
			case fv.Kind() == reflect.Struct, fv.Kind() == reflect.Slice, fv.Kind() == reflect.Pointer, fv.Kind() == reflect.Map:
				w.walkComposite(fv, p, sf)
			default:
				w.try(fv, p, leafCandidates(fv, sf))
			}
		}
		return
	}
	w.problem("%s: cannot walk a %s", path, t)
}

func (w walker) walkComposite(v reflect.Value, path string, sf reflect.StructField) {
	switch v.Kind() {
	case reflect.Struct:
		w.walk(v, path)
	case reflect.Pointer:
		elem := v.Type().Elem()
		if elem.Kind() == reflect.Struct && !isDuration(elem) {
			if v.IsNil() {
				// Another base has to fill the block in; here, only check
				// that a block with its zero values renders.
				return
			}
			w.walk(v.Elem(), path)
			return
		}
		// A pointer to a scalar: unset it, or set it to a changed value.
		var cands []reflect.Value
		if !v.IsNil() {
			cands = append(cands, reflect.Zero(v.Type()))
			for _, c := range leafCandidates(v.Elem(), sf) {
				p := reflect.New(elem)
				p.Elem().Set(c)
				cands = append(cands, p)
			}
		} else {
			zero := reflect.New(elem)
			cands = append(cands, zero)
			for _, c := range leafCandidates(zero.Elem(), sf) {
				p := reflect.New(elem)
				p.Elem().Set(c)
				cands = append(cands, p)
			}
		}
		w.try(v, path, cands)
	case reflect.Slice:
		p := path + "[]"
		if v.Type().Elem().Kind() == reflect.Struct {
			for i := range v.Len() {
				w.walk(v.Index(i), p)
			}
			return
		}
		// A list of scalars: one more element, or a changed element.
		var cands []reflect.Value
		for _, e := range leafCandidates(reflect.New(v.Type().Elem()).Elem(), sf) {
			cands = append(cands, reflect.Append(v, e))
		}
		w.try(v, p, cands)
		for i := range v.Len() {
			ev := v.Index(i)
			for _, e := range leafCandidates(ev, sf) {
				changed := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
				reflect.Copy(changed, v)
				changed.Index(i).Set(e)
				w.try(v, p, []reflect.Value{changed})
			}
		}
	case reflect.Map:
		// Adding an entry must show.
		if v.Type().Key().Kind() != reflect.String || v.Type().Elem().Kind() != reflect.String {
			w.problem("%s: cannot walk a %s", path, v.Type())
			return
		}
		m := reflect.MakeMap(v.Type())
		for _, k := range v.MapKeys() {
			m.SetMapIndex(k, v.MapIndex(k))
		}
		m.SetMapIndex(reflect.ValueOf("walk-key"), reflect.ValueOf("walk-value"))
		w.try(v, path, []reflect.Value{m})
	}
}

// leafCandidates are values that differ from v and are valid by the field's
// spec tag where the walker can tell.
func leafCandidates(v reflect.Value, sf reflect.StructField) []reflect.Value {
	var enum []string
	kind := ""
	maxVal := -1.0
	for _, rule := range strings.Split(sf.Tag.Get("spec"), ",") {
		key, val, _ := strings.Cut(rule, "=")
		switch key {
		case "enum":
			enum = strings.Split(val, "|")
		case "kind":
			kind = val
		case "max":
			maxVal, _ = strconv.ParseFloat(val, 64)
		}
	}
	var out []reflect.Value
	switch v.Kind() {
	case reflect.String:
		var pool []string
		switch {
		case enum != nil:
			pool = enum
		case kind != "":
			pool = kindSamples[kind]
			if pool == nil {
				return nil
			}
		default:
			pool = []string{v.String() + "walked", "walked"}
		}
		for _, s := range pool {
			if s != v.String() {
				out = append(out, reflect.ValueOf(s).Convert(v.Type()))
			}
		}
	case reflect.Bool:
		out = append(out, reflect.ValueOf(!v.Bool()).Convert(v.Type()))
	case reflect.Int, reflect.Int32, reflect.Int64:
		n := v.Int()
		if maxVal >= 0 && float64(n+1) > maxVal {
			out = append(out, reflect.ValueOf(n-1).Convert(v.Type()))
		} else {
			out = append(out, reflect.ValueOf(n+1).Convert(v.Type()))
		}
	case reflect.Float64:
		out = append(out, reflect.ValueOf(v.Float()+1).Convert(v.Type()))
	}
	return out
}
