package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/driftless/driftless/pkg/spec"
)

// runImport turns a ParallelCluster 2.x or CfnCluster 1.x config into one
// spec file per [cluster NAME] section, and prints every note the import
// made: settings without an equivalent, values it changed, and what each
// spec still lacks. It writes nothing when any file it would write exists,
// unless --force.
func runImport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("import", flag.ContinueOnError)
	fset.SetOutput(stderr)
	out := fset.String("out", ".", "directory to write the specs to (created if missing)")
	force := fset.Bool("force", false, "overwrite spec files that exist")
	output := fset.String("output", "text", "text, or json for machines")
	fset.Usage = func() {
		fmt.Fprintln(stderr, "usage: reconciler import FILE [--out DIR] [--force] [--output text|json]")
		fset.PrintDefaults()
	}
	files, err := parseInterspersed(fset, args)
	if err != nil {
		return &exitError{code: 2}
	}
	if len(files) != 1 {
		fset.Usage()
		return &exitError{code: 2, err: errors.New("import takes one config file")}
	}
	if *output != "text" && *output != "json" {
		return &exitError{code: 2, err: fmt.Errorf("--output %q: want text or json", *output)}
	}
	path := files[0]
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	clusters, notes, err := spec.ImportINI(filepath.ToSlash(path), data)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}

	written, err := writeImported(*out, clusters, *force)
	if err != nil {
		return err
	}
	invalid := make(map[string]bool)
	for _, n := range notes {
		if strings.HasPrefix(n.Msg, "the imported spec is not valid yet") {
			invalid[n.Cluster] = true
		}
	}
	if *output == "json" {
		return writeImportJSON(stdout, written, notes, invalid)
	}
	for i, f := range written {
		state := "valid"
		if invalid[clusters[i].Name] {
			state = "not valid yet, see the notes"
		}
		fmt.Fprintf(stdout, "wrote %s (cluster %s, %s)\n", f, clusters[i].Name, state)
	}
	if len(notes) > 0 {
		fmt.Fprintf(stdout, "\n%d notes: settings that have no equivalent, values that changed, what to do instead\n", len(notes))
		for _, n := range notes {
			fmt.Fprintln(stdout, n.String())
		}
	}
	fmt.Fprintf(stdout, "\nNext: review the specs, then reconciler validate %s (add --live to check them against the account).\n", *out)
	return nil
}

// writeImported writes one spec per cluster into dir and returns the
// paths. It checks every target before writing any, so a refusal leaves
// the directory as it was.
func writeImported(dir string, clusters []*spec.Cluster, force bool) ([]string, error) {
	paths := make([]string, len(clusters))
	bodies := make([][]byte, len(clusters))
	seen := make(map[string]string)
	var exist []string
	for i, c := range clusters {
		body, err := spec.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		name := fileName(c.Name) + ".yaml"
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("import: clusters %q and %q would both be written to %s; rename one in the config", prev, c.Name, name)
		}
		seen[name] = c.Name
		paths[i], bodies[i] = filepath.Join(dir, name), body
		if _, err := os.Lstat(paths[i]); err == nil {
			exist = append(exist, paths[i])
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("import: %w", err)
		}
	}
	if len(exist) > 0 && !force {
		return nil, fmt.Errorf("import: %s already exist; nothing written (--force overwrites them)", strings.Join(exist, ", "))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	for i, p := range paths {
		if err := os.WriteFile(p, bodies[i], 0o644); err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
	}
	return paths, nil
}

// fileName makes a cluster name safe as a file name. A valid cluster name
// is one already; an invalid one is still written, and its spec says what
// is wrong with the name.
func fileName(cluster string) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, cluster)
	if strings.Trim(name, "-") == "" {
		return "cluster"
	}
	return name
}

// writeImportJSON prints what an import wrote and noted, for scripts.
func writeImportJSON(w io.Writer, files []string, notes []spec.Note, invalid map[string]bool) error {
	type note struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Section string `json:"section"`
		Key     string `json:"key,omitempty"`
		Cluster string `json:"cluster,omitempty"`
		Message string `json:"message"`
	}
	type doc struct {
		Files   []string `json:"files"`
		Invalid []string `json:"invalidClusters"`
		Notes   []note   `json:"notes"`
	}
	d := doc{Files: files, Invalid: []string{}, Notes: make([]note, len(notes))}
	for c := range invalid {
		d.Invalid = append(d.Invalid, c)
	}
	slices.Sort(d.Invalid)
	for i, n := range notes {
		d.Notes[i] = note{File: n.File, Line: n.Line, Section: n.Section, Key: n.Key, Cluster: n.Cluster, Message: n.Msg}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// parseInterspersed parses flags that may come after the positional
// arguments (import FILE --out DIR), which package flag stops at.
func parseInterspersed(fset *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fset.Parse(args); err != nil {
			return nil, err
		}
		args = fset.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
