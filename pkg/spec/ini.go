package spec

import (
	"fmt"
	"strings"
)

// iniFile is a ParallelCluster or CfnCluster config as Python's
// ConfigParser reads it: sections of key = value lines, keys folded to
// lower case, indented lines continuing a value. Every section and key
// remembers its line and whether the import used it, so nothing is
// dropped without a note.
type iniFile struct {
	sections []*iniSection
}

// iniSection is one [kind label] section, e.g. [cluster default].
type iniSection struct {
	kind, label string
	line        int
	keys        []*iniKey
	used        bool
}

// iniKey is one key = value line.
type iniKey struct {
	name, value string
	line        int
	used        bool
}

// title is the section as written in the file, for notes.
func (s *iniSection) title() string {
	if s.label == "" {
		return s.kind
	}
	return s.kind + " " + s.label
}

// get returns the key called name, marking it used, or nil.
func (s *iniSection) get(name string) *iniKey {
	if s == nil {
		return nil
	}
	for _, k := range s.keys {
		if k.name == name {
			k.used = true
			return k
		}
	}
	return nil
}

// section finds the section [kind label], or nil.
func (f *iniFile) section(kind, label string) *iniSection {
	for _, s := range f.sections {
		if s.kind == kind && s.label == label {
			return s
		}
	}
	return nil
}

// iniError is a line the INI reader cannot make sense of.
type iniError struct {
	line int
	msg  string
}

func (e *iniError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// parseINI reads a config. Like ConfigParser it refuses keys outside a
// section and a section or key that appears twice, since ParallelCluster
// refused such files too; unlike it, it also strips comments that follow
// a value after white space (CfnCluster's Python 2 parser did).
func parseINI(data string) (*iniFile, error) {
	f := &iniFile{}
	var cur *iniSection
	var last *iniKey
	for i, raw := range strings.Split(data, "\n") {
		line := i + 1
		text := strings.TrimRight(raw, "\r")
		trimmed := strings.TrimSpace(text)
		if trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' {
			last = nil
			continue
		}
		if text[0] == ' ' || text[0] == '\t' {
			if last == nil {
				return nil, &iniError{line, "indented line continues no value"}
			}
			last.value += "\n" + stripComment(trimmed)
			continue
		}
		if trimmed[0] == '[' {
			end := strings.IndexByte(trimmed, ']')
			if end < 0 {
				return nil, &iniError{line, "section header without ]"}
			}
			name := strings.TrimSpace(trimmed[1:end])
			kind, label, _ := strings.Cut(name, " ")
			kind, label = strings.TrimSpace(kind), strings.TrimSpace(label)
			if kind == "" {
				return nil, &iniError{line, "section header without a name"}
			}
			if prev := f.section(kind, label); prev != nil {
				return nil, &iniError{line, fmt.Sprintf("section [%s] is already declared on line %d", name, prev.line)}
			}
			cur = &iniSection{kind: kind, label: label, line: line}
			f.sections = append(f.sections, cur)
			last = nil
			continue
		}
		sep := strings.IndexAny(text, "=:")
		if sep <= 0 {
			return nil, &iniError{line, "expected key = value"}
		}
		if cur == nil {
			return nil, &iniError{line, "key outside of any section; put it under a [section]"}
		}
		k := &iniKey{
			name:  strings.ToLower(strings.TrimSpace(text[:sep])),
			value: stripComment(strings.TrimSpace(text[sep+1:])),
			line:  line,
		}
		for _, prev := range cur.keys {
			if prev.name == k.name {
				return nil, &iniError{line, fmt.Sprintf("key %s is already set in [%s] on line %d", k.name, cur.title(), prev.line)}
			}
		}
		cur.keys = append(cur.keys, k)
		last = k
	}
	return f, nil
}

// stripComment drops a comment that follows a value after white space.
func stripComment(v string) string {
	for i := 1; i < len(v); i++ {
		if (v[i] == '#' || v[i] == ';') && (v[i-1] == ' ' || v[i-1] == '\t') {
			return strings.TrimSpace(v[:i])
		}
	}
	return v
}
