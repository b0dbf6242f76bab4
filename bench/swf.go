package bench

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Job is one job of a trace: when it was submitted, how long it ran and
// how many nodes it took (one processor per node, as on the iPSC/860).
type Job struct {
	ID     int
	Submit int64 // seconds from the trace's start
	Run    int64 // seconds
	Nodes  int
}

// Trace is a parsed SWF file.
type Trace struct {
	// Header holds the comment lines (";" removed), kept as the archive
	// asks.
	Header   []string
	MaxNodes int
	Jobs     []Job
}

// maxLine bounds one line of a trace.
const maxLine = 1 << 16

// ParseSWF reads a Standard Workload Format trace: comment lines start
// with ";", data lines have 18 whitespace-separated fields. A job's size
// is its requested processors (field 8), or its allocated ones (field 5)
// when the request is unknown (-1); jobs with no size or a negative run
// time are skipped, as the format's cleaned logs intend.
func ParseSWF(r io.Reader) (Trace, error) {
	var t Trace
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		if c, ok := strings.CutPrefix(s, ";"); ok {
			t.Header = append(t.Header, c)
			if k, v, ok := strings.Cut(c, ":"); ok && strings.TrimSpace(k) == "MaxNodes" {
				if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
					t.MaxNodes = n
				}
			}
			continue
		}
		f := strings.Fields(s)
		if len(f) < 8 {
			return Trace{}, fmt.Errorf("swf line %d: %d fields, want 18", line, len(f))
		}
		var v [8]int64
		for i := range v {
			n, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return Trace{}, fmt.Errorf("swf line %d field %d: %w", line, i+1, err)
			}
			v[i] = int64(n)
		}
		nodes := v[7]
		if nodes <= 0 {
			nodes = v[4]
		}
		if nodes <= 0 || v[3] < 0 || v[1] < 0 || nodes > 1<<20 {
			continue
		}
		t.Jobs = append(t.Jobs, Job{ID: int(v[0]), Submit: v[1], Run: v[3], Nodes: int(nodes)})
	}
	if err := sc.Err(); err != nil {
		return Trace{}, fmt.Errorf("swf line %d: %w", line+1, err)
	}
	return t, nil
}

// LoadSWF reads a trace file, gzip-compressed when its name ends in .gz.
func LoadSWF(path string) (Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return Trace{}, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return Trace{}, fmt.Errorf("%s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	t, err := ParseSWF(r)
	if err != nil {
		return Trace{}, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}
