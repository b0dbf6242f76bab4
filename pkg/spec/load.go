package spec

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// Set is the result of loading every spec file of one checkout.
type Set struct {
	// Clusters are the valid specs, sorted by name.
	Clusters []*Cluster
	// Invalid maps a file to its problems. A file listed here yields no
	// cluster; its live cluster, if any, must be left as it is.
	Invalid map[string]Errors
	// InvalidNames are the cluster names that invalid files declared, as far
	// as they could be read. When a broken file's name cannot be read at all,
	// NameUnknown is true and nothing may be pruned in that cycle.
	InvalidNames []string
	NameUnknown  bool
	// InvalidFiles maps each name of InvalidNames to the broken files that
	// declare it, so a cluster's status can quote its own file's errors.
	InvalidFiles map[string][]string
}

// Parse reads one spec file strictly, applies defaults and validates it.
// It returns the cluster, or nil and every error found in the file.
func Parse(file string, data []byte) (*Cluster, Errors) {
	return parse(file, data)
}

// Load parses every spec file of a checkout (path → content) and checks
// rules across files, such as duplicate cluster names.
func Load(files map[string][]byte) Set {
	return load(files)
}

// FileRole says what Load makes of a path in the cluster repo.
type FileRole int

const (
	// FileSpec is a cluster spec: *.yaml or *.yml.
	FileSpec FileRole = iota
	// FileIgnored is a file that may sit beside the specs: README*, *.md and
	// LICENSE* (unless they end in .yaml or .yml), and anything under a
	// directory or named with a leading dot (.git, .github, .gitignore,
	// .pre-commit-config.yaml).
	FileIgnored
	// FileUnexpected is any other file. It is reported as invalid, because a
	// misnamed spec (cluster.yaml.bak, cluster.json) would otherwise look
	// like a deleted cluster.
	FileUnexpected
)

// RoleOf classifies a slash-separated, repo-relative path.
func RoleOf(p string) FileRole {
	for _, part := range strings.Split(p, "/") {
		if strings.HasPrefix(part, ".") && part != "." && part != ".." {
			return FileIgnored
		}
	}
	base := strings.ToLower(path.Base(p))
	switch {
	case strings.HasSuffix(base, ".yaml"), strings.HasSuffix(base, ".yml"):
		// Even README.yaml: ignoring a spec would be the worse mistake.
		return FileSpec
	case strings.HasPrefix(base, "readme"), strings.HasPrefix(base, "license"), strings.HasSuffix(base, ".md"):
		return FileIgnored
	}
	return FileUnexpected
}

func load(files map[string][]byte) Set {
	s := Set{Invalid: map[string]Errors{}}
	type named struct {
		file string
		pos  pos
	}
	byName := map[string][]named{}
	var good []parsed
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	invalidNames := map[string]bool{}
	s.InvalidFiles = map[string][]string{}
	broken := func(name, file string) {
		invalidNames[name] = true
		if !slices.Contains(s.InvalidFiles[name], file) {
			s.InvalidFiles[name] = append(s.InvalidFiles[name], file)
		}
	}
	for _, file := range paths {
		switch RoleOf(file) {
		case FileIgnored:
			continue
		case FileUnexpected:
			s.Invalid[file] = Errors{{File: file, Msg: "unexpected file: the cluster repo holds cluster specs (*.yaml, *.yml) and README, *.md and LICENSE files; rename a spec to .yaml or move other files under a dot-directory"}}
			// A renamed spec must not look like a deleted cluster.
			if name := parseFile(file, files[file]).name; name != "" {
				broken(name, file)
			} else {
				s.NameUnknown = true
			}
			continue
		}
		p := parseFile(file, files[file])
		if len(p.errs) > 0 {
			s.Invalid[file] = p.errs
			if p.name != "" {
				broken(p.name, file)
			} else {
				s.NameUnknown = true
			}
			continue
		}
		byName[p.cluster.Name] = append(byName[p.cluster.Name], named{file, p.namePos})
		good = append(good, p)
	}
	for _, p := range good {
		same := byName[p.cluster.Name]
		if len(same) == 1 {
			s.Clusters = append(s.Clusters, p.cluster)
			continue
		}
		var others []string
		var here pos
		for _, n := range same {
			if n.file == p.cluster.File {
				here = n.pos
			} else {
				others = append(others, n.file)
			}
		}
		s.Invalid[p.cluster.File] = append(s.Invalid[p.cluster.File], Error{
			File: p.cluster.File, Line: here.line, Column: here.col, Field: "name",
			Msg: fmt.Sprintf("cluster `%s` is also declared in %s; each cluster must have one file", p.cluster.Name, strings.Join(others, ", ")),
		})
		broken(p.cluster.Name, p.cluster.File)
	}
	slices.SortFunc(s.Clusters, func(a, b *Cluster) int { return strings.Compare(a.Name, b.Name) })
	for n := range invalidNames {
		s.InvalidNames = append(s.InvalidNames, n)
	}
	slices.Sort(s.InvalidNames)
	return s
}
