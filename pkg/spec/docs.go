package spec

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
)

// The generated parts of docs/spec.md sit between these markers; the rest
// of the file is written by hand.
const (
	docsFieldsBegin = "<!-- BEGIN GENERATED: fields (go generate ./pkg/spec) -->"
	docsFieldsEnd   = "<!-- END GENERATED: fields -->"
	docsImportBegin = "<!-- BEGIN GENERATED: parallelcluster (go generate ./pkg/spec) -->"
	docsImportEnd   = "<!-- END GENERATED: parallelcluster -->"
)

// UpdateDocs returns the Markdown document md with its generated parts
// rewritten: the reference of every spec field (type, default, meaning,
// from the Go types and their doc comments) and the table of every
// ParallelCluster 2.x setting with its Driftless equivalent. Each part
// sits between its BEGIN and END markers, which md must hold.
func UpdateDocs(md []byte) ([]byte, error) {
	docs, err := fieldDocs()
	if err != nil {
		return nil, err
	}
	md, err = splice(md, docsFieldsBegin, docsFieldsEnd, fieldReference(docs))
	if err != nil {
		return nil, err
	}
	return splice(md, docsImportBegin, docsImportEnd, legacyReference())
}

// splice replaces what lies between two marker lines.
func splice(md []byte, begin, end, content string) ([]byte, error) {
	i := bytes.Index(md, []byte(begin))
	j := bytes.Index(md, []byte(end))
	if i < 0 || j < i {
		return nil, fmt.Errorf("docs: the markers %q and %q are missing or out of order", begin, end)
	}
	var b bytes.Buffer
	b.Write(md[:i+len(begin)])
	b.WriteString("\n\n" + content + "\n")
	b.Write(md[j:])
	return b.Bytes(), nil
}

// fieldReference writes a table per block of the schema, in the order a
// spec is written.
func fieldReference(docs map[string]string) string {
	var b strings.Builder
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		if seen[t] {
			return
		}
		seen[t] = true
		title := "Top level"
		if path != "" {
			title = "`" + path + "`"
		}
		if t == reflect.TypeFor[Script]() {
			title = "`bootstrap.preInstall`, `bootstrap.postInstall`"
		}
		fmt.Fprintf(&b, "### %s\n\n", title)
		if d := docSentence(t.Name(), docs[t.Name()]); d != "" {
			b.WriteString(d + "\n\n")
		}
		b.WriteString("| key | type | default | meaning |\n|---|---|---|---|\n")
		var children []reflect.Type
		var childPaths []string
		for _, f := range fieldsOf(t) {
			sf := t.Field(f.index)
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.name, typeText(f.typ, &f), defaultText(&f),
				strings.ReplaceAll(docSentence(sf.Name, docs[t.Name()+"."+sf.Name]), "|", "\\|"))
			ct, cp := f.typ, joinPath(path, f.name)
			if ct.Kind() == reflect.Pointer {
				ct = ct.Elem()
			}
			if ct.Kind() == reflect.Slice {
				ct, cp = ct.Elem(), cp+"[]"
			}
			if ct.Kind() == reflect.Struct && ct != durationType {
				children = append(children, ct)
				childPaths = append(childPaths, cp)
			}
		}
		b.WriteString("\n")
		for i, ct := range children {
			walk(ct, childPaths[i])
		}
	}
	walk(reflect.TypeFor[Cluster](), "")
	return strings.TrimRight(b.String(), "\n")
}

// typeText describes a field's type and the rules on its value.
func typeText(t reflect.Type, f *field) string {
	switch {
	case t == durationType:
		return "duration (`10m`, `1h30m`)" + rangeText(f, true)
	case t.Kind() == reflect.Pointer:
		return typeText(t.Elem(), f)
	case t.Kind() == reflect.Slice:
		return "list of " + typeText(t.Elem(), f)
	case t.Kind() == reflect.Map:
		return "mapping of text to text"
	case t.Kind() == reflect.Struct:
		return "mapping"
	case len(f.enum) > 0:
		return "one of " + joinQuoted(f.enum, "or")
	case t.Kind() == reflect.String && f.kind != "":
		return "text: " + strings.ReplaceAll(kinds[f.kind].want, "|", "\\|")
	case t.Kind() == reflect.String:
		return "text"
	case t.Kind() == reflect.Bool:
		return "`true` or `false`"
	case t.Kind() == reflect.Int:
		return "whole number" + rangeText(f, false)
	case t.Kind() == reflect.Float64:
		return "number" + rangeText(f, false)
	}
	return t.String()
}

// rangeText renders min and max: " ≥ 1", " 8–16384".
func rangeText(f *field, duration bool) string {
	num := func(x float64) string {
		if duration {
			return Duration{secondsToDuration(x)}.String()
		}
		return fmtNum(x)
	}
	switch {
	case f.min != nil && f.max != nil:
		return fmt.Sprintf(", %s to %s", num(*f.min), num(*f.max))
	case f.min != nil:
		return ", at least " + num(*f.min)
	case f.max != nil:
		return ", at most " + num(*f.max)
	}
	return ""
}

// defaultText is the default column: required, a constant, or what the
// default depends on.
func defaultText(f *field) string {
	switch {
	case f.required:
		return "**required**"
	case f.hasDef:
		return "`" + f.def + "`"
	case f.docDef != "":
		return f.docDef
	case f.typ.Kind() == reflect.Bool:
		return "`false`"
	}
	return "none"
}

// legacyReference writes the table of ParallelCluster settings, a table
// per section.
func legacyReference() string {
	var b strings.Builder
	section := ""
	for _, p := range legacyParams {
		if p.section != section {
			if section != "" {
				b.WriteString("\n")
			}
			section = p.section
			title := "[" + section + " NAME]"
			if section == "aws" || section == "global" || section == "aliases" {
				title = "[" + section + "]"
			}
			fmt.Fprintf(&b, "#### `%s`\n\n| setting | Driftless | how, or why there is none |\n|---|---|---|\n", title)
		}
		field := "none"
		if p.field != "" {
			field = "`" + p.field + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", p.key, field, strings.ReplaceAll(p.how, "|", "\\|"))
	}
	return strings.TrimRight(b.String(), "\n")
}
