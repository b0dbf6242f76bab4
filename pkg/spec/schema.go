package spec

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// typesSource is the source of the schema's types: their doc comments are
// the descriptions of the JSON Schema and of docs/spec.md.
//
//go:embed types.go
var typesSource string

// fieldDocs reads the doc comment of every struct field and type in
// types.go, keyed "Type.Field" and "Type".
func fieldDocs() (map[string]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "types.go", typesSource, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("read schema docs: %w", err)
	}
	docs := map[string]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			docs[ts.Name.Name] = commentText(gd.Doc)
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, fl := range st.Fields.List {
				for _, n := range fl.Names {
					docs[ts.Name.Name+"."+n.Name] = commentText(fl.Doc)
				}
			}
		}
	}
	return docs, nil
}

// commentText is a comment's first paragraph on one line. Later
// paragraphs are for Go programmers and stay out of the documentation.
func commentText(g *ast.CommentGroup) string {
	if g == nil {
		return ""
	}
	first, _, _ := strings.Cut(g.Text(), "\n\n")
	return strings.Join(strings.Fields(first), " ")
}

// docSentence turns "IdleTime is how long ..." into "How long ...": the Go
// name means nothing to a person writing YAML.
func docSentence(goName, doc string) string {
	doc = strings.TrimPrefix(doc, goName+" ")
	for _, verb := range []string{"is ", "are "} {
		doc = strings.TrimPrefix(doc, verb)
	}
	if doc == "" {
		return ""
	}
	r := []rune(doc)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// durationPattern matches what time.ParseDuration accepts, without sign.
const durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`

// object is a JSON object that keeps its keys in the order they were added,
// so the schema reads in the order of the spec.
type object []member

type member struct {
	key   string
	value any
}

func (o *object) set(key string, value any) { *o = append(*o, member{key, value}) }

// MarshalJSON writes the members in order.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// JSONSchema returns the JSON Schema (draft 2020-12) of a spec file,
// generated from the Go types and their doc comments, for editors to
// complete and check specs with. It covers every key and the rules on
// single values; the rules across fields are Parse's.
// go generate ./pkg/spec writes it to schema/cluster.schema.json.
func JSONSchema() ([]byte, error) {
	docs, err := fieldDocs()
	if err != nil {
		return nil, err
	}
	g := &schemaGen{docs: docs, defs: &object{}, seen: map[reflect.Type]bool{}}
	root := g.structSchema(reflect.TypeFor[Cluster]())
	out := object{
		{"$schema", "https://json-schema.org/draft/2020-12/schema"},
		{"title", "Driftless cluster spec, version " + strconv.Itoa(CurrentVersion)},
	}
	out = append(out, root...)
	out.set("$defs", g.defs)
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("json schema: %w", err)
	}
	return append(b, '\n'), nil
}

// schemaGen builds the schema, one $defs entry per struct type.
type schemaGen struct {
	docs map[string]string
	defs *object
	seen map[reflect.Type]bool
}

func (g *schemaGen) structSchema(t reflect.Type) object {
	s := object{{"type", "object"}}
	if d := docSentence(t.Name(), g.docs[t.Name()]); d != "" {
		s.set("description", d)
	}
	props := object{}
	var required []string
	for _, f := range fieldsOf(t) {
		sf := t.Field(f.index)
		p := g.valueSchema(f.typ, &f)
		if d := docSentence(sf.Name, g.docs[t.Name()+"."+sf.Name]); d != "" {
			p = append(object{{"description", d}}, p...)
		}
		if t == reflect.TypeFor[Cluster]() && f.name == "version" {
			p = object{{"description", p[0].value}, {"const", CurrentVersion}}
		}
		props.set(f.name, p)
		if f.required {
			required = append(required, f.name)
		}
	}
	s.set("properties", props)
	if len(required) > 0 {
		s.set("required", required)
	}
	if t == reflect.TypeFor[HeadNode]() {
		// sshFrom is required unless an existing group replaces ours.
		s.set("anyOf", []object{{{"required", []string{"sshFrom"}}}, {{"required", []string{"securityGroup"}}}})
	}
	s.set("additionalProperties", false)
	return s
}

// valueSchema is the schema of one value; f carries its rules (for a list,
// the rules of each item).
func (g *schemaGen) valueSchema(t reflect.Type, f *field) object {
	var s object
	switch {
	case t == durationType:
		s = object{{"type", "string"}, {"pattern", durationPattern}}
	case t.Kind() == reflect.Pointer:
		return g.valueSchema(t.Elem(), f)
	case t.Kind() == reflect.String:
		s = object{{"type", "string"}}
		if len(f.enum) > 0 {
			s.set("enum", f.enum)
		}
		if f.kind != "" {
			k := kinds[f.kind]
			s.set("pattern", k.pattern)
			if k.maxLen > 0 {
				s.set("maxLength", k.maxLen)
			}
		}
	case t.Kind() == reflect.Bool:
		s = object{{"type", "boolean"}}
	case t.Kind() == reflect.Int, t.Kind() == reflect.Float64:
		s = object{{"type", map[bool]string{true: "integer", false: "number"}[t.Kind() == reflect.Int]}}
		if len(f.enum) > 0 {
			var e []int
			for _, v := range f.enum {
				n, _ := strconv.Atoi(v)
				e = append(e, n)
			}
			s.set("enum", e)
		}
		if f.min != nil {
			s.set("minimum", *f.min)
		}
		if f.max != nil {
			s.set("maximum", *f.max)
		}
	case t.Kind() == reflect.Slice:
		s = object{{"type", "array"}, {"items", g.valueSchema(t.Elem(), f)}}
		return s
	case t.Kind() == reflect.Map:
		s = object{{"type", "object"}, {"additionalProperties", object{{"type", "string"}}}}
	case t.Kind() == reflect.Struct:
		if !g.seen[t] {
			g.seen[t] = true
			// Hold the place first, so $defs lists types in spec order.
			i := len(*g.defs)
			g.defs.set(t.Name(), nil)
			(*g.defs)[i].value = g.structSchema(t)
		}
		return object{{"$ref", "#/$defs/" + t.Name()}}
	}
	if f.hasDef {
		s.set("default", defaultJSON(t, f.def))
	}
	return s
}

// defaultJSON is a default's text as the JSON value it stands for.
func defaultJSON(t reflect.Type, text string) any {
	switch t.Kind() {
	case reflect.Bool:
		return text == "true"
	case reflect.Int:
		n, _ := strconv.Atoi(text)
		return n
	}
	return text
}

// secondsToDuration converts a rule's bound, in seconds, to a duration.
func secondsToDuration(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
