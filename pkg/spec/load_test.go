package spec

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// specNamed returns base renamed to name.
func specNamed(t *testing.T, name string) []byte {
	t.Helper()
	return []byte(edit(t, "name: research", "name: "+name))
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name         string
		files        map[string][]byte
		clusters     []string // name@file, in order
		invalid      map[string][]string
		invalidNames []string
		nameUnknown  bool
	}{
		{
			name:  "empty checkout",
			files: map[string][]byte{},
		},
		{
			name: "sorted by name, files kept",
			files: map[string][]byte{
				"b.yaml":         specNamed(t, "beta"),
				"sub/a.yml":      specNamed(t, "alpha"),
				"clusters/c.YML": specNamed(t, "Gamma"),
			},
			clusters: []string{"Gamma@clusters/c.YML", "alpha@sub/a.yml", "beta@b.yaml"},
		},
		{
			name: "files that may sit beside specs",
			files: map[string][]byte{
				"a.yaml":                   specNamed(t, "alpha"),
				"README.md":                []byte("# clusters"),
				"docs/notes.md":            []byte("x"),
				"LICENSE":                  []byte("x"),
				"readme.txt":               []byte("x"),
				"LICENSE.txt":              []byte("x"),
				".gitignore":               []byte("x"),
				".pre-commit-config.yaml":  []byte("repos: []"),
				".github/workflows/ci.yml": []byte("on: push"),
			},
			clusters: []string{"alpha@a.yaml"},
		},
		{
			name: "a spec named like a readme is a spec",
			files: map[string][]byte{
				"README.yaml": specNamed(t, "alpha"),
			},
			clusters: []string{"alpha@README.yaml"},
		},
		{
			name: "unexpected file without a name",
			files: map[string][]byte{
				"a.yaml":   specNamed(t, "alpha"),
				"Makefile": []byte("all:\n\ttrue\n"),
			},
			clusters:    []string{"alpha@a.yaml"},
			invalid:     map[string][]string{"Makefile": {"Makefile: unexpected file: the cluster repo holds cluster specs (*.yaml, *.yml) and README, *.md and LICENSE files; rename a spec to .yaml or move other files under a dot-directory"}},
			nameUnknown: true,
		},
		{
			name: "renamed spec keeps its name out of pruning",
			files: map[string][]byte{
				"a.yaml.bak": specNamed(t, "alpha"),
			},
			invalid:      map[string][]string{"a.yaml.bak": {"a.yaml.bak: unexpected file: the cluster repo holds cluster specs (*.yaml, *.yml) and README, *.md and LICENSE files; rename a spec to .yaml or move other files under a dot-directory"}},
			invalidNames: []string{"alpha"},
		},
		{
			name: "broken file with a readable name",
			files: map[string][]byte{
				"a.yaml": []byte(edit(t, "maxNodes: 10", "maxNodes: 0")),
				"b.yaml": specNamed(t, "beta"),
			},
			clusters:     []string{"beta@b.yaml"},
			invalid:      map[string][]string{"a.yaml": {"a.yaml:14:15: compute[0].maxNodes: must be at least 1, not 0"}},
			invalidNames: []string{"research"},
		},
		{
			name: "broken file with an invalid name",
			files: map[string][]byte{
				"a.yaml": specNamed(t, "re_search"),
			},
			invalid:      map[string][]string{"a.yaml": {"a.yaml:2:7: name: must be a name that starts with a letter and holds only letters, digits and hyphens, at most 100 characters (the stack is named driftless-NAME), not `re_search`"}},
			invalidNames: []string{"re_search"},
		},
		{
			name: "name from a newer version",
			files: map[string][]byte{
				"a.yaml": []byte(edit(t, "version: 1", "version: 9")),
			},
			invalid:      map[string][]string{"a.yaml": {"a.yaml:1:10: version: this file is written for a newer Driftless (spec version 9); this build understands versions up to 1, so upgrade the daemon"}},
			invalidNames: []string{"research"},
		},
		{
			name: "broken file without a name",
			files: map[string][]byte{
				"a.yaml": []byte("version: 1\nname: [\n"),
			},
			invalid:     map[string][]string{"a.yaml": {"a.yaml:2: invalid YAML: did not find expected node content"}},
			nameUnknown: true,
		},
		{
			name: "duplicate names",
			files: map[string][]byte{
				"a.yaml":     specNamed(t, "alpha"),
				"old/a.yaml": specNamed(t, "alpha"),
				"b.yaml":     specNamed(t, "beta"),
			},
			clusters: []string{"beta@b.yaml"},
			invalid: map[string][]string{
				"a.yaml":     {"a.yaml:2:7: name: cluster `alpha` is also declared in old/a.yaml; each cluster must have one file"},
				"old/a.yaml": {"old/a.yaml:2:7: name: cluster `alpha` is also declared in a.yaml; each cluster must have one file"},
			},
			invalidNames: []string{"alpha"},
		},
		{
			name: "three files with one name",
			files: map[string][]byte{
				"a.yaml": specNamed(t, "alpha"),
				"b.yaml": specNamed(t, "alpha"),
				"c.yaml": specNamed(t, "alpha"),
			},
			invalid: map[string][]string{
				"a.yaml": {"a.yaml:2:7: name: cluster `alpha` is also declared in b.yaml, c.yaml; each cluster must have one file"},
				"b.yaml": {"b.yaml:2:7: name: cluster `alpha` is also declared in a.yaml, c.yaml; each cluster must have one file"},
				"c.yaml": {"c.yaml:2:7: name: cluster `alpha` is also declared in a.yaml, b.yaml; each cluster must have one file"},
			},
			invalidNames: []string{"alpha"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Load(tt.files)
			var got []string
			for _, c := range s.Clusters {
				got = append(got, c.Name+"@"+c.File)
			}
			if !slices.Equal(got, tt.clusters) {
				t.Errorf("clusters = %v, want %v", got, tt.clusters)
			}
			gotInvalid := map[string][]string{}
			for f, es := range s.Invalid {
				gotInvalid[f] = errorLines(es)
			}
			if tt.invalid == nil {
				tt.invalid = map[string][]string{}
			}
			if !reflect.DeepEqual(gotInvalid, tt.invalid) {
				t.Errorf("invalid:\n got %s\nwant %s", dump(gotInvalid), dump(tt.invalid))
			}
			if !slices.Equal(s.InvalidNames, tt.invalidNames) {
				t.Errorf("InvalidNames = %v, want %v", s.InvalidNames, tt.invalidNames)
			}
			if s.NameUnknown != tt.nameUnknown {
				t.Errorf("NameUnknown = %v, want %v", s.NameUnknown, tt.nameUnknown)
			}
		})
	}
}

func dump(m map[string][]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}) {
		b.WriteString("\n  " + k + ":\n    " + strings.Join(m[k], "\n    "))
	}
	return b.String()
}
