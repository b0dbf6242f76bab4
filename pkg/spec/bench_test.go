package spec

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParse measures a typical spec.
func BenchmarkParse(b *testing.B) {
	data := []byte(base)
	for b.Loop() {
		Parse("c.yaml", data)
	}
}

// BenchmarkParseWorstCase measures a file at the size limit whose every
// key is unknown, so each one is compared with the whole schema.
func BenchmarkParseWorstCase(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("version: 1\n")
	for i := 0; sb.Len() < MaxFileSize-64; i++ {
		fmt.Fprintf(&sb, "unknownKeyNumber%d: x\n", i)
	}
	data := []byte(sb.String())
	for b.Loop() {
		Parse("c.yaml", data)
	}
}
