package spec

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds a spec file. A cluster spec is a page or two; a file
// far larger is a mistake, or an attempt to make the daemon chew on it.
const MaxFileSize = 256 << 10

// parsed is what parse learned from one file, good or bad.
type parsed struct {
	cluster *Cluster
	// name is the cluster name as written, "" when it could not be read.
	name    string
	namePos pos
	errs    Errors
}

// parse reads one spec file strictly, applies defaults and validates it.
func parse(file string, data []byte) (*Cluster, Errors) {
	p := parseFile(file, data)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return p.cluster, nil
}

// parseFile does the work of Parse and also returns the name of a broken
// file when it can be read, for Load.
func parseFile(file string, data []byte) parsed {
	fail := func(line, col int, msg string) parsed {
		return parsed{errs: Errors{{File: file, Line: line, Column: col, Msg: msg}}}
	}
	if len(data) > MaxFileSize {
		return fail(0, 0, fmt.Sprintf("file is %d bytes; a spec file may hold at most %d (%d KiB)", len(data), MaxFileSize, MaxFileSize>>10))
	}
	if line, col, ok := firstInvalidUTF8(data); !ok {
		return fail(line, col, "file is not UTF-8 text: invalid byte sequence here; save it as UTF-8")
	}
	root, err := readYAML(data)
	var multi *multiDocError
	switch {
	case errors.As(err, &multi):
		return fail(multi.line, 1, "invalid YAML: a second YAML document starts here; a spec file holds one cluster, put each in its own file")
	case err != nil:
		return parsed{errs: Errors{yamlError(file, err)}}
	}
	if root == nil || len(root.Content) == 0 || isNull(root.Content[0]) {
		return fail(1, 1, "file is empty; a spec starts with `version: 1`")
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return fail(doc.Line, doc.Column, fmt.Sprintf("a spec must be a mapping of keys to values, not %s", describe(doc)))
	}

	d := newDecoder(file)
	d.keys[""] = posOf(doc)
	if errs := checkVersion(d, doc); len(errs) > 0 {
		return parsed{errs: errs, name: peekName(doc)}
	}
	c := &Cluster{File: file}
	d.decodeStruct(doc, reflect.ValueOf(c).Elem(), "")
	// The name of a broken file is still reported, even an invalid one: the
	// file meant some cluster, and the daemon must not prune it.
	p := parsed{name: cmp.Or(c.Name, peekName(doc)), namePos: d.at("name")}
	setDefaults(c, d)
	validate(c, d)
	if len(d.errs) > 0 {
		p.errs = sortErrors(d.errs)
		return p
	}
	p.cluster = c
	return p
}

// readYAML parses data into a node tree. It allows one document only.
// yaml.v3 guards its own recursion depth; a panic from it is turned into
// an error rather than taking the daemon down with one bad file.
func readYAML(data []byte) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("yaml: cannot parse this file (%v)", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, err
	default:
		return nil, &multiDocError{line: extra.Line}
	}
	return &n, nil
}

// multiDocError is a file with more than one YAML document.
type multiDocError struct{ line int }

func (e *multiDocError) Error() string {
	return fmt.Sprintf("a second YAML document starts on line %d", e.line)
}

// yamlLine finds the line number yaml.v3 puts in its messages.
var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?`)

// yamlError turns a yaml.v3 syntax error into an Error with its line.
func yamlError(file string, err error) Error {
	msg := err.Error()
	e := Error{File: file, Line: 1}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		msg = msg[len(m[0]):]
		if m[1] != "" {
			e.Line, _ = strconv.Atoi(m[1])
		}
	}
	e.Msg = "invalid YAML: " + msg
	return e
}

// firstInvalidUTF8 returns the line and column of the first byte that is
// not UTF-8, and false; or true when all of data is UTF-8.
func firstInvalidUTF8(data []byte) (line, col int, ok bool) {
	if utf8.Valid(data) {
		return 0, 0, true
	}
	line, col = 1, 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 {
			return line, col, false
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		data = data[size:]
	}
	return line, col, false
}

// checkVersion reads the version first: a file for a newer Driftless
// would otherwise drown the one error that matters in unknown fields.
func checkVersion(d *decoder, doc *yaml.Node) Errors {
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value != "version" || v.Kind != yaml.ScalarNode || v.Tag != "!!int" {
			continue
		}
		n, err := strconv.Atoi(v.Value)
		if err == nil && n > CurrentVersion {
			return Errors{{File: d.file, Line: v.Line, Column: v.Column, Field: "version",
				Msg: fmt.Sprintf("this file is written for a newer Driftless (spec version %d); this build understands versions up to %d, so upgrade the daemon", n, CurrentVersion)}}
		}
	}
	return nil
}

// peekName reads the top-level name of a document without decoding it.
func peekName(doc *yaml.Node) string {
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "name" && v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
			return v.Value
		}
	}
	return ""
}

// sortErrors orders errors as they appear in the file and drops repeats.
func sortErrors(es Errors) Errors {
	slices.SortStableFunc(es, func(a, b Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column), cmp.Compare(a.Field, b.Field), cmp.Compare(a.Msg, b.Msg))
	})
	return slices.Compact(es)
}
