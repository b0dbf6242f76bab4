package spec

import (
	"reflect"
	"strconv"
	"strings"
)

// field is one schema field of a struct, read from its tags.
type field struct {
	index    int
	name     string // the YAML key
	typ      reflect.Type
	required bool
	enum     []string
	kind     string
	min, max *float64
	// def is the default of an absent field, as YAML text; hasDef says
	// whether there is one (the empty string can be a default).
	def    string
	hasDef bool
	// docDef describes a default set in code, for the documentation.
	docDef string
}

// fieldsOf reads the schema fields of a struct type. Fields without a
// json name (json:"-") are not part of the file.
func fieldsOf(t reflect.Type) []field {
	var fs []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" || name == "-" || !sf.IsExported() {
			continue
		}
		f := field{index: i, name: name, typ: sf.Type}
		f.def, f.hasDef = sf.Tag.Lookup("default")
		f.docDef = sf.Tag.Get("docDefault")
		for _, rule := range strings.Split(sf.Tag.Get("spec"), ",") {
			key, val, _ := strings.Cut(rule, "=")
			switch key {
			case "":
			case "required":
				f.required = true
			case "enum":
				f.enum = strings.Split(val, "|")
			case "kind":
				if _, ok := kinds[val]; !ok {
					panic("spec: field " + t.Name() + "." + sf.Name + " has unknown kind " + val)
				}
				f.kind = val
			case "min", "max":
				n, err := strconv.ParseFloat(val, 64)
				if err != nil {
					panic("spec: field " + t.Name() + "." + sf.Name + ": bad " + rule)
				}
				if key == "min" {
					f.min = &n
				} else {
					f.max = &n
				}
			default:
				panic("spec: field " + t.Name() + "." + sf.Name + ": unknown rule " + rule)
			}
		}
		fs = append(fs, f)
	}
	return fs
}

// fieldNamed returns the field whose key is name, or nil.
func fieldNamed(fs []field, name string) *field {
	for i := range fs {
		if fs[i].name == name {
			return &fs[i]
		}
	}
	return nil
}

// schemaPlace is where a key may appear: the parent's schema path, with
// [] for "each entry of a list" (compute[]), "" for the top level.
type schemaPlace struct {
	parent string
	key    string
}

// schemaPlaces lists every key of the schema with the place it belongs,
// so that a key written in the wrong place can be sent to the right one.
func schemaPlaces(t reflect.Type) []schemaPlace {
	var out []schemaPlace
	var walk func(t reflect.Type, parent string, depth int)
	walk = func(t reflect.Type, parent string, depth int) {
		if depth > 8 {
			return
		}
		for _, f := range fieldsOf(t) {
			out = append(out, schemaPlace{parent: parent, key: f.name})
			ft := f.typ
			child := joinPath(parent, f.name)
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
				child += "[]"
			}
			if ft.Kind() == reflect.Struct && ft != durationType {
				walk(ft, child, depth+1)
			}
		}
	}
	walk(t, "", 0)
	return out
}

// joinPath appends a key to a field path.
func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}
