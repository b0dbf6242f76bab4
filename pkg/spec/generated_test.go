package spec

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// TestGeneratedFilesAreFresh fails when the committed JSON Schema or the
// generated parts of docs/spec.md no longer match the Go types.
func TestGeneratedFilesAreFresh(t *testing.T) {
	schema, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(schema) {
		t.Fatal("JSONSchema returned invalid JSON")
	}
	committed, err := os.ReadFile("../../schema/cluster.schema.json")
	if err != nil || !bytes.Equal(committed, schema) {
		t.Errorf("schema/cluster.schema.json is stale (%v): run go generate ./pkg/spec", err)
	}
	md, err := os.ReadFile("../../docs/spec.md")
	if err != nil {
		t.Fatal(err)
	}
	updated, err := UpdateDocs(md)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(md, updated) {
		t.Error("docs/spec.md is stale: run go generate ./pkg/spec")
	}
}

func TestUpdateDocsNeedsMarkers(t *testing.T) {
	if _, err := UpdateDocs([]byte("# no markers\n")); err == nil {
		t.Error("UpdateDocs without markers: want an error")
	}
}
