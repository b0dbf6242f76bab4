package slurm

import (
	"fmt"
	"strconv"
	"strings"
)

// maxHostlist bounds the expansion of one hostlist expression, so a bad
// or hostile answer cannot make the daemon allocate without limit.
const maxHostlist = 65536

// ExpandHostlist expands a Slurm hostlist expression such as
// "c[1-2],n[01-03,7],gpu1" into node names, keeping zero padding.
// Several bracket groups in one name ("r[1-2]n[1-2]") are expanded as a
// product, as Slurm does.
func ExpandHostlist(expr string) ([]string, error) {
	var out []string
	for _, part := range splitTop(expr) {
		if part == "" {
			continue
		}
		names, err := expandOne(part, maxHostlist-len(out))
		if err != nil {
			return nil, fmt.Errorf("hostlist %q: %w", expr, err)
		}
		out = append(out, names...)
	}
	return out, nil
}

// splitTop splits at commas outside brackets.
func splitTop(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

func expandOne(s string, limit int) ([]string, error) {
	open := strings.IndexByte(s, '[')
	if open < 0 {
		if strings.ContainsRune(s, ']') {
			return nil, fmt.Errorf("unbalanced ]")
		}
		return []string{s}, nil
	}
	end := strings.IndexByte(s[open:], ']')
	if end < 0 {
		return nil, fmt.Errorf("unbalanced [")
	}
	end += open
	prefix, body, rest := s[:open], s[open+1:end], s[end+1:]
	if strings.ContainsRune(body, '[') {
		return nil, fmt.Errorf("nested [")
	}
	tails, err := expandOne(rest, limit)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range strings.Split(body, ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a < 0 || b < a {
			return nil, fmt.Errorf("bad range %q", r)
		}
		if (b-a+1)*len(tails) > limit-len(out) {
			return nil, fmt.Errorf("more than %d names", maxHostlist)
		}
		width := 0
		if len(lo) > 1 && lo[0] == '0' {
			width = len(lo)
		}
		for i := a; i <= b; i++ {
			num := fmt.Sprintf("%0*d", width, i)
			for _, t := range tails {
				out = append(out, prefix+num+t)
			}
		}
	}
	return out, nil
}
