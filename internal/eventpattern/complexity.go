package eventpattern

import (
	"slices"
	"strconv"
	"strings"
)

// Wildcard complexity, as event-ruler's MachineComplexityEvaluator defines
// it: for the wildcard values a rule has on one field (its own and those of
// anything-but, across $or alternatives), the largest number of pattern
// prefixes that one input string matches at once. "*aa" has complexity 3
// ("aa" is matched by "*", "*a" and "*aa"); repeated sequences after a
// wildcard and many wildcards on one field raise it.

// wildcardsWithin reports whether every field of the pattern stays within
// limit.
func wildcardsWithin(root *objPat, limit int) bool {
	byField := map[string][][]int16{}
	collectWildcards(root, "", byField)
	for _, pats := range byField {
		if wildcardComplexity(pats, limit) > limit {
			return false
		}
	}
	return true
}

func collectWildcards(o *objPat, path string, out map[string][][]int16) {
	for _, f := range o.fields {
		p := path + "/" + strconv.Itoa(int(f.id))
		if f.obj != nil {
			collectWildcards(f.obj, p, out)
			continue
		}
		for _, m := range f.leaf.ms {
			for _, w := range m.wilds {
				out[p] = append(out[p], w.tokens())
			}
		}
	}
	for _, alts := range o.ors {
		for _, a := range alts {
			collectWildcards(a, path, out)
		}
	}
}

// tokens spells a wildcard as bytes, with -1 for each '*'.
func (w *wildcard) tokens() []int16 {
	var t []int16
	for i, part := range w.parts {
		if i > 0 {
			t = append(t, -1)
		}
		for j := 0; j < len(part); j++ {
			t = append(t, int16(part[j]))
		}
	}
	return t
}

// wildcardComplexity explores the sets of matching prefixes reachable by
// some input, stopping as soon as one exceeds limit (or the exploration
// grows past a bound, which also counts as too complex).
func wildcardComplexity(pats [][]int16, limit int) int {
	// A state is, per pattern, the prefix lengths i >= 0 whose prefix
	// matches the input so far; i = 0 (the empty prefix) only at the start.
	type state [][]int
	closure := func(p []int16, set []int) []int {
		for k := 0; k < len(set); k++ {
			if i := set[k]; i < len(p) && p[i] == -1 && !slices.Contains(set, i+1) {
				set = append(set, i+1)
			}
		}
		slices.Sort(set)
		return set
	}
	alphabet := []int16{256} // stands for every byte no pattern names
	for _, p := range pats {
		for _, t := range p {
			if t >= 0 && !slices.Contains(alphabet, t) {
				alphabet = append(alphabet, t)
			}
		}
	}
	start := make(state, len(pats))
	for k, p := range pats {
		start[k] = closure(p, []int{0})
	}
	key := func(s state) string {
		var b strings.Builder
		for _, set := range s {
			for _, i := range set {
				b.WriteString(strconv.Itoa(i))
				b.WriteByte(',')
			}
			b.WriteByte(';')
		}
		return b.String()
	}
	seen := map[string]bool{key(start): true}
	pending := []state{start}
	maximum := 0
	// Bounds on the exploration; a pattern that needs more counts as too
	// complex (its compile time is the attacker's to choose otherwise).
	const maxStates, maxSteps = 20000, 4_000_000
	steps := 0
	for len(pending) > 0 {
		cur := pending[len(pending)-1]
		pending = pending[:len(pending)-1]
		for _, c := range alphabet {
			if steps += len(pats); steps > maxSteps {
				return limit + 1
			}
			next := make(state, len(pats))
			count := 0
			for k, p := range pats {
				var set []int
				for _, i := range cur[k] {
					if i >= 1 && p[i-1] == -1 && !slices.Contains(set, i) {
						set = append(set, i) // a '*' absorbs c
					}
					if i < len(p) && p[i] == c && !slices.Contains(set, i+1) {
						set = append(set, i+1)
					}
				}
				set = closure(p, set)
				next[k] = set
				count += len(set)
			}
			if count == 0 {
				continue
			}
			if count > limit {
				return count
			}
			maximum = max(maximum, count)
			if k := key(next); !seen[k] {
				if len(seen) >= maxStates {
					return limit + 1
				}
				seen[k] = true
				pending = append(pending, next)
			}
		}
	}
	return maximum
}
