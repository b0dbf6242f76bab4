package spec

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// unknown reports a key the schema has no field for at this place, with
// the fix: the sibling key it is probably a typo of, or the place in the
// schema where a key of that name belongs.
func (d *decoder) unknown(k *yaml.Node, parent, name string, fs []field) {
	path := joinPath(parent, name)
	siblings := make([]string, len(fs))
	for i, f := range fs {
		siblings[i] = f.name
	}
	msg := "unknown field"
	if m := closest(name, siblings); len(m) > 0 {
		msg += "; did you mean " + joinQuoted(m, "or") + "?"
	} else if where := d.elsewhere(name); len(where) > 0 {
		here := "at the top level"
		if parent != "" {
			here = "under `" + parent + "`"
		}
		msg += "; `" + where[0].key + "` belongs " + strings.Join(placeNames(where), " or ") + ", not " + here
	} else if hint := legacyHint(name); hint != "" {
		msg += "; " + hint
	}
	d.errorf(posOf(k), path, "%s", msg)
}

// elsewhere finds the places in the schema that have a key spelled like
// name (ignoring case, - and _).
func (d *decoder) elsewhere(name string) []schemaPlace {
	want := normalizeKey(name)
	var out []schemaPlace
	for _, p := range d.places {
		if normalizeKey(p.key) == want {
			out = append(out, p)
		}
	}
	return out
}

// placeNames renders places for a message: under `scaling`, in each entry
// of `compute`, at the top level.
func placeNames(ps []schemaPlace) []string {
	var out []string
	for _, p := range ps {
		var s string
		switch {
		case p.parent == "":
			s = "at the top level"
		case strings.HasSuffix(p.parent, "[]"):
			s = "in each entry of `" + strings.TrimSuffix(p.parent, "[]") + "`"
		default:
			s = "under `" + p.parent + "`"
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// normalizeKey folds the spellings people use for the same key:
// maxNodes, MaxNodes, max_nodes, max-nodes.
func normalizeKey(s string) string {
	s = strings.ToLower(s)
	s = strings.ReplaceAll(s, "_", "")
	return strings.ReplaceAll(s, "-", "")
}

// closest returns the candidates nearest to s, when they are near enough
// to be a typo: the same key spelled differently, or an edit distance of
// at most 2 that is less than half of s's length.
func closest(s string, candidates []string) []string {
	ns := normalizeKey(s)
	best, bestDist := []string(nil), 3
	for _, c := range candidates {
		dist := editDistance(ns, normalizeKey(c))
		if dist > 0 && dist*2 >= len([]rune(ns)) {
			continue
		}
		switch {
		case dist < bestDist:
			best, bestDist = []string{c}, dist
		case dist == bestDist:
			best = append(best, c)
		}
	}
	if len(best) > 3 {
		best = best[:3]
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of neighbours each cost one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Keys are short; a long input is no typo of one.
	if len(ra) > 64 || len(rb) > 64 {
		if a == b {
			return 0
		}
		return 1 << 20
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
