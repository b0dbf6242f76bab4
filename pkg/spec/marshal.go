package spec

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Marshal writes c as a spec file that Parse accepts and that reads like
// one written by hand: keys in schema order, and fields left out when they
// hold their default (a constant one from the schema) or nothing at all.
// Defaults that depend on other fields are written out, so the file says
// exactly what c says. Marshal does not validate; Parse the result for that.
func Marshal(c *Cluster) ([]byte, error) {
	if c == nil {
		return nil, errors.New("marshal spec: no cluster")
	}
	n, err := encodeStruct(reflect.ValueOf(c).Elem())
	if err != nil {
		return nil, fmt.Errorf("marshal spec %s: %w", c.Name, err)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("marshal spec %s: %w", c.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("marshal spec %s: %w", c.Name, err)
	}
	return buf.Bytes(), nil
}

// encodeStruct writes the fields of a struct that say something.
func encodeStruct(v reflect.Value) (*yaml.Node, error) {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, f := range fieldsOf(v.Type()) {
		fv := v.Field(f.index)
		skip, err := omit(fv, &f)
		if err != nil {
			return nil, err
		}
		if skip {
			continue
		}
		val, err := encodeValue(fv)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		if val.Kind == yaml.MappingNode && len(val.Content) == 0 && !f.required {
			continue // a block whose every field holds its default
		}
		m.Content = append(m.Content, scalar("!!str", f.name), val)
	}
	return m, nil
}

// omit says whether a field can be left out because Parse would give it
// the same value.
func omit(v reflect.Value, f *field) (bool, error) {
	if f.required {
		// An empty required string is left out, so that Parse says it is
		// required rather than that "" is malformed.
		return v.Kind() == reflect.String && v.Len() == 0, nil
	}
	if f.hasDef {
		// An empty string or duration is never a value of its own: it
		// stands for the default. A false or a 0 can be meant.
		if v.IsZero() && (v.Kind() == reflect.String || v.Type() == durationType) {
			return true, nil
		}
		def := reflect.New(v.Type()).Elem()
		sub := &decoder{keys: map[string]pos{}, values: map[string]pos{}}
		sub.setDefault(def, f, f.name)
		return reflect.DeepEqual(v.Interface(), def.Interface()), nil
	}
	return v.IsZero() || (v.Kind() == reflect.Slice || v.Kind() == reflect.Map) && v.Len() == 0, nil
}

// encodeValue writes one value.
func encodeValue(v reflect.Value) (*yaml.Node, error) {
	t := v.Type()
	switch {
	case t == durationType:
		return scalar("!!str", v.Interface().(Duration).String()), nil
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			return scalar("!!null", "null"), nil
		}
		return encodeValue(v.Elem())
	case t.Kind() == reflect.String:
		return scalar("!!str", v.String()), nil
	case t.Kind() == reflect.Bool:
		return scalar("!!bool", strconv.FormatBool(v.Bool())), nil
	case t.Kind() == reflect.Int:
		return scalar("!!int", strconv.FormatInt(v.Int(), 10)), nil
	case t.Kind() == reflect.Float64:
		s := strconv.FormatFloat(v.Float(), 'f', -1, 64)
		return scalar("!!float", s), nil
	case t.Kind() == reflect.Slice:
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if t.Elem().Kind() != reflect.Struct {
			seq.Style = yaml.FlowStyle
		}
		for i := 0; i < v.Len(); i++ {
			item, err := encodeValue(v.Index(i))
			if err != nil {
				return nil, err
			}
			seq.Content = append(seq.Content, item)
		}
		return seq, nil
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.String:
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		for _, k := range keys {
			m.Content = append(m.Content, scalar("!!str", k), scalar("!!str", v.MapIndex(reflect.ValueOf(k)).String()))
		}
		return m, nil
	case t.Kind() == reflect.Struct:
		return encodeStruct(v)
	}
	return nil, fmt.Errorf("cannot write a %s", t)
}

// scalar makes a scalar node; the encoder quotes a string that would
// otherwise read back as a number or a boolean.
func scalar(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}
