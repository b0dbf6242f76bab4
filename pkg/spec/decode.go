package spec

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// pos is a place in the file, 1-based.
type pos struct{ line, col int }

func posOf(n *yaml.Node) pos { return pos{n.Line, n.Column} }

// decoder turns a YAML node tree into the schema's Go types, strictly: it
// refuses unknown and duplicate keys, values of the wrong type and values
// that break a field's tag rules, and remembers where every field was
// written so later checks can point at it.
type decoder struct {
	file string
	errs Errors
	// keys and values map a field path to where its key and its value
	// were written. A path is in values only when its value was present
	// and not null.
	keys   map[string]pos
	values map[string]pos
	// bad holds the paths that already have an error, so that rules
	// across fields do not pile more errors on a value that was wrong.
	bad map[string]bool
	// places is every key of the schema and where it belongs.
	places []schemaPlace
}

func newDecoder(file string) *decoder {
	return &decoder{
		file:   file,
		keys:   map[string]pos{},
		values: map[string]pos{},
		bad:    map[string]bool{},
		places: schemaPlaces(reflect.TypeFor[Cluster]()),
	}
}

// errorf records an error at p for the field at path.
func (d *decoder) errorf(p pos, path, format string, args ...any) {
	d.errs = append(d.errs, Error{File: d.file, Line: p.line, Column: p.col, Field: path, Msg: fmt.Sprintf(format, args...)})
	if d.bad != nil {
		d.bad[path] = true
	}
}

// ok says whether none of the fields at paths, nor any field they are
// part of, has an error yet.
func (d *decoder) ok(paths ...string) bool {
	for _, p := range paths {
		for ; p != ""; p = parentPath(p) {
			if d.bad[p] {
				return false
			}
		}
	}
	return true
}

// keyAt is where the key of the field at path was written; for a problem
// with a whole list or mapping it reads better than its first entry.
func (d *decoder) keyAt(path string) pos {
	if p, ok := d.keys[path]; ok {
		return p
	}
	return d.at(path)
}

// present says whether the field at path was written with a value.
func (d *decoder) present(path string) bool {
	_, ok := d.values[path]
	return ok
}

// at returns the best place to report a problem with the field at path:
// its value, or when it was not written, the key of the nearest ancestor
// that was, or the top of the file.
func (d *decoder) at(path string) pos {
	if p, ok := d.values[path]; ok {
		return p
	}
	for path != "" {
		path = parentPath(path)
		if p, ok := d.keys[path]; ok {
			return p
		}
	}
	if p, ok := d.keys[""]; ok {
		return p
	}
	return pos{1, 1}
}

// parentPath strips the last element of a field path: compute[0].maxNodes
// → compute[0] → compute.
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// decodeStruct decodes a mapping into the struct v.
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(posOf(n), path, "must be a mapping of keys to values, not %s", describe(n))
		return
	}
	fs := fieldsOf(v.Type())
	seen := map[string]pos{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		name, ok := d.key(k, path)
		if !ok {
			continue
		}
		kp := joinPath(path, name)
		if first, dup := seen[name]; dup {
			d.errorf(posOf(k), kp, "duplicate key; it is first set on line %d", first.line)
			continue
		}
		seen[name] = posOf(k)
		f := fieldNamed(fs, name)
		if f == nil {
			d.unknown(k, path, name, fs)
			continue
		}
		d.keys[kp] = posOf(k)
		if isNull(val) {
			continue
		}
		d.values[kp] = posOf(val)
		d.decodeField(val, v.Field(f.index), kp, f)
	}
	for i := range fs {
		f := &fs[i]
		if d.present(joinPath(path, f.name)) {
			continue
		}
		if f.required {
			d.errorf(posOf(n), joinPath(path, f.name), "is required%s", requiredHint(joinPath(path, f.name)))
			continue
		}
		d.setDefault(v.Field(f.index), f, joinPath(path, f.name))
	}
}

// key reads a mapping key, which must be a plain string.
func (d *decoder) key(k *yaml.Node, path string) (string, bool) {
	switch {
	case k.Kind == yaml.AliasNode:
		d.errorf(posOf(k), path, "YAML aliases (*%s) are not allowed; write the value out", k.Value)
		return "", false
	case k.Kind != yaml.ScalarNode:
		d.errorf(posOf(k), path, "a key must be a plain word, not %s", describe(k))
		return "", false
	case k.Tag == "!!merge":
		d.errorf(posOf(k), path, "YAML merge keys (<<) are not allowed; write the keys out")
		return "", false
	case k.Tag != "!!str":
		d.errorf(posOf(k), path, "a key must be a word, not %s", describe(k))
		return "", false
	}
	return k.Value, true
}

// setDefault gives an absent field its default, and an absent struct the
// defaults of its own fields.
func (d *decoder) setDefault(v reflect.Value, f *field, path string) {
	if f.hasDef {
		n := &yaml.Node{Kind: yaml.ScalarNode, Value: f.def, Tag: defaultTag(f.typ, f.def)}
		sub := &decoder{file: d.file, keys: map[string]pos{}, values: map[string]pos{}}
		sub.decodeField(n, v, path, f)
		if len(sub.errs) > 0 {
			panic("spec: bad default for " + path + ": " + sub.errs.Error())
		}
		return
	}
	if v.Kind() == reflect.Struct && v.Type() != durationType {
		applyDefaults(v)
	}
}

// applyDefaults sets the defaults of every field of a struct that was not
// written at all.
func applyDefaults(v reflect.Value) {
	d := &decoder{keys: map[string]pos{}, values: map[string]pos{}}
	for _, f := range fieldsOf(v.Type()) {
		d.setDefault(v.Field(f.index), &f, f.name)
	}
}

// defaultTag is the YAML tag a default's text would resolve to.
func defaultTag(t reflect.Type, text string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "!!bool"
	case reflect.Int:
		return "!!int"
	case reflect.Float64:
		return "!!float"
	}
	return "!!str"
}

// decodeField decodes a value that is present and not null into v, then
// checks the field's tag rules.
func (d *decoder) decodeField(n *yaml.Node, v reflect.Value, path string, f *field) {
	if n.Kind == yaml.AliasNode {
		d.errorf(posOf(n), path, "YAML aliases (*%s) are not allowed; write the value out", n.Value)
		return
	}
	t := v.Type()
	switch {
	case t == durationType:
		if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
			d.errorf(posOf(n), path, "must be a duration with a unit such as 10m or 1h30m, not the number %s; did you mean %sm?", n.Value, n.Value)
			return
		}
		s, ok := d.scalarString(n, path, "a duration such as 10m or 1h30m")
		if !ok {
			return
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.errorf(posOf(n), path, "must be a duration such as 10m or 1h30m, not `%s`", clip(s))
			return
		}
		v.Set(reflect.ValueOf(Duration{dur}))
		if f != nil && f.min != nil && dur.Seconds() < *f.min {
			d.errorf(posOf(n), path, "must be at least %s, not %s", Duration{secondsToDuration(*f.min)}, s)
		}
		if f != nil && f.max != nil && dur.Seconds() > *f.max {
			d.errorf(posOf(n), path, "must be at most %s, not %s", Duration{secondsToDuration(*f.max)}, s)
		}
	case t.Kind() == reflect.Pointer:
		p := reflect.New(t.Elem())
		d.decodeField(n, p.Elem(), path, f)
		v.Set(p)
	case t.Kind() == reflect.String:
		s, ok := d.scalarString(n, path, "text")
		if !ok {
			return
		}
		v.SetString(s)
		d.checkString(n, path, f, s)
	case t.Kind() == reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			hint := ""
			if n.Kind == yaml.ScalarNode {
				switch strings.ToLower(n.Value) {
				case "true", "false":
					hint = "; remove the quotes"
				case "yes", "on", "y":
					hint = "; write `true`"
				case "no", "off", "n":
					hint = "; write `false`"
				}
			}
			d.errorf(posOf(n), path, "must be true or false, not %s%s", describe(n), hint)
			return
		}
		var b bool
		if err := n.Decode(&b); err != nil {
			d.errorf(posOf(n), path, "must be true or false, not %s", describe(n))
			return
		}
		v.SetBool(b)
	case t.Kind() == reflect.Int:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			d.errorf(posOf(n), path, "must be a whole number, not %s", describe(n))
			return
		}
		var x float64
		if err := n.Decode(&x); err != nil || x != math.Trunc(x) || math.Abs(x) > 1<<31 {
			d.errorf(posOf(n), path, "must be a whole number, not %s", describe(n))
			return
		}
		v.SetInt(int64(x))
		d.checkNumber(n, path, f, x)
	case t.Kind() == reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			d.errorf(posOf(n), path, "must be a number, not %s", describe(n))
			return
		}
		var x float64
		if err := n.Decode(&x); err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			d.errorf(posOf(n), path, "must be a number, not %s", describe(n))
			return
		}
		v.SetFloat(x)
		d.checkNumber(n, path, f, x)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(posOf(n), path, "must be a list, not %s", describe(n))
			return
		}
		if len(n.Content) == 0 {
			return // an empty list is no list: nil, as when it is left out
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			ip := fmt.Sprintf("%s[%d]", path, i)
			d.keys[ip] = posOf(item)
			if isNull(item) {
				d.errorf(posOf(item), ip, "is empty")
				continue
			}
			d.values[ip] = posOf(item)
			// A rule on a list field applies to each item.
			d.decodeField(item, s.Index(i), ip, f)
		}
		v.Set(s)
	case t.Kind() == reflect.Map:
		d.decodeMap(n, v, path)
	case t.Kind() == reflect.Struct:
		d.decodeStruct(n, v, path)
	default:
		panic("spec: no decoder for " + t.String())
	}
}

// decodeMap decodes a mapping of strings to strings (tags).
func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(posOf(n), path, "must be a mapping of keys to values, not %s", describe(n))
		return
	}
	if len(n.Content) == 0 {
		return // an empty mapping is nil, as when it is left out
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]pos{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		name, ok := d.key(k, path)
		if !ok {
			continue
		}
		kp := joinPath(path, name)
		if first, dup := seen[name]; dup {
			d.errorf(posOf(k), kp, "duplicate key; it is first set on line %d", first.line)
			continue
		}
		seen[name] = posOf(k)
		d.keys[kp] = posOf(k)
		d.values[kp] = posOf(val)
		s := ""
		if !isNull(val) {
			if s, ok = d.scalarString(val, kp, "text"); !ok {
				continue
			}
		}
		m.SetMapIndex(reflect.ValueOf(name), reflect.ValueOf(s))
	}
	v.Set(m)
}

// scalarString reads a value that must be text. A number or a boolean
// where text is expected is refused with the fix, because YAML would
// otherwise turn 0700 or 1e3 into something other than what was written.
func (d *decoder) scalarString(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(posOf(n), path, "must be %s, not %s", want, describe(n))
		return "", false
	}
	if n.Tag != "!!str" {
		d.errorf(posOf(n), path, "must be %s, not %s; put it in quotes: \"%s\"", want, describe(n), n.Value)
		return "", false
	}
	return n.Value, true
}

// checkString applies a field's enum and kind rules to a string.
func (d *decoder) checkString(n *yaml.Node, path string, f *field, s string) {
	if f == nil {
		return
	}
	if len(f.enum) > 0 && !slices.Contains(f.enum, s) {
		msg := fmt.Sprintf("must be %s, not `%s`", joinQuoted(f.enum, "or"), clip(s))
		if m := closest(s, f.enum); len(m) > 0 {
			msg += "; did you mean " + joinQuoted(m, "or") + "?"
		}
		d.errorf(posOf(n), path, "%s", msg)
	}
	if f.kind != "" {
		if msg := checkKind(f.kind, s); msg != "" {
			d.errorf(posOf(n), path, "%s", msg)
		}
	}
}

// checkNumber applies a field's min and max rules.
func (d *decoder) checkNumber(n *yaml.Node, path string, f *field, x float64) {
	if f == nil {
		return
	}
	if len(f.enum) > 0 {
		if !slices.Contains(f.enum, fmtNum(x)) {
			d.errorf(posOf(n), path, "must be %s, not %s", joinQuoted(f.enum, "or"), fmtNum(x))
		}
		return
	}
	if f.min != nil && x < *f.min {
		d.errorf(posOf(n), path, "must be at least %s, not %s", fmtNum(*f.min), fmtNum(x))
	}
	if f.max != nil && x > *f.max {
		d.errorf(posOf(n), path, "must be at most %s, not %s", fmtNum(*f.max), fmtNum(x))
	}
}

func fmtNum(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// isNull says whether a node is YAML null (~, null, or nothing at all).
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names what a node is, for "must be X, not Y".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.Tag {
	case "!!int", "!!float":
		return "the number " + clip(n.Value)
	case "!!bool":
		return "the boolean " + n.Value
	case "!!null":
		return "nothing (null)"
	case "!!str":
		return "the text `" + clip(n.Value) + "`"
	case "!!timestamp":
		return "the timestamp " + clip(n.Value)
	}
	return "a value tagged " + clip(n.Tag)
}

// requiredHint completes "is required" for fields whose right value is
// not obvious from the name.
func requiredHint(path string) string {
	switch path {
	case "version":
		return fmt.Sprintf("; start the file with `version: %d`", CurrentVersion)
	case "scheduler":
		return "; write one of `slurm`, `sge`, `torque` or `awsbatch`"
	case "headNode.sshFrom":
		return "; name the addresses allowed to reach the head node over SSH, e.g. 203.0.113.0/24 (0.0.0.0/0 opens it to the internet)"
	}
	return ""
}
