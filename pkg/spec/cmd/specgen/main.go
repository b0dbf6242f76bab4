// Command specgen writes the files generated from the spec's Go types: the
// JSON Schema editors use, and the field reference and ParallelCluster
// table in the spec documentation. go generate ./pkg/spec runs it; a test
// in pkg/spec fails when the committed files are stale.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/driftless/driftless/pkg/spec"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "specgen:", err)
		os.Exit(1)
	}
}

// run writes the schema and updates the docs, each only when it changed.
func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("specgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	schemaPath := fs.String("schema", "", "write the JSON Schema to this file")
	docsPath := fs.String("docs", "", "rewrite the generated parts of this Markdown file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *schemaPath != "" {
		schema, err := spec.JSONSchema()
		if err != nil {
			return err
		}
		if err := writeIfChanged(*schemaPath, schema); err != nil {
			return err
		}
	}
	if *docsPath != "" {
		md, err := os.ReadFile(*docsPath)
		if err != nil {
			return err
		}
		updated, err := spec.UpdateDocs(md)
		if err != nil {
			return fmt.Errorf("%s: %w", *docsPath, err)
		}
		if err := writeIfChanged(*docsPath, updated); err != nil {
			return err
		}
	}
	return nil
}

// writeIfChanged leaves a file alone when it already holds data.
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return os.WriteFile(path, data, 0o644)
}
