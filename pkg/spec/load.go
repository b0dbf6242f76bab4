package spec

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
}

// Parse reads one spec file strictly, applies defaults and validates it.
// It returns the cluster, or nil and every error found in the file.
// TODO(spec): implemented in parse.go.
func Parse(file string, data []byte) (*Cluster, Errors) {
	return parse(file, data)
}

// Load parses every spec file of a checkout (path → content) and checks
// rules across files, such as duplicate cluster names.
func Load(files map[string][]byte) Set {
	return load(files)
}
