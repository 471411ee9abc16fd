package vtl

import (
	"strconv"
	"strings"
)

// JSONPath as $input.json and $input.path take it (API Gateway uses
// Jayway JsonPath): $ the root; .name and ['name'] (or ["name"]) members;
// [n] indexes (negative from the end); [a,b] unions of names or indexes;
// [start:end] slices; * and [*] wildcards; ..name deep scan. A path with
// a wildcard, union, slice or deep scan gives a list of what matched; a
// definite path the one value or null. Filters ([?(...)]) and functions
// (.length()) are refused.

type pathStep struct {
	deep     bool     // ..
	wildcard bool     // * or [*]
	names    []string // members
	indexes  []int    // array indexes
	slice    *[2]*int // [a:b]
}

func parsePath(p string) ([]pathStep, bool, error) {
	p = strings.TrimSpace(p)
	if !strings.HasPrefix(p, "$") {
		// Jayway reads a path without $ as relative to the root.
		p = "$." + p
		if p == "$." {
			p = "$"
		}
	}
	var steps []pathStep
	definite := true
	i := 1
	for i < len(p) {
		var st pathStep
		switch {
		case strings.HasPrefix(p[i:], ".."):
			st.deep = true
			definite = false
			i += 2
			if i < len(p) && p[i] == '[' {
				break
			}
			fallthrough
		case p[i] == '.':
			if !st.deep {
				i++
			}
			if i < len(p) && p[i] == '*' {
				st.wildcard = true
				definite = false
				i++
				steps = append(steps, st)
				continue
			}
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			name := p[i:j]
			if name == "" {
				return nil, false, evalError("Invalid JSONPath %q", p)
			}
			if strings.HasSuffix(name, ")") {
				return nil, false, evalError("JSONPath functions are not supported: %q", p)
			}
			st.names = []string{name}
			i = j
			steps = append(steps, st)
			continue
		}
		if i >= len(p) || p[i] != '[' {
			return nil, false, evalError("Invalid JSONPath %q", p)
		}
		end := strings.IndexByte(p[i:], ']')
		// A quoted name may hold ']'.
		if i+1 < len(p) && (p[i+1] == '\'' || p[i+1] == '"') {
			q := p[i+1]
			k := i + 2
			for k < len(p) {
				if p[k] == q && (k+1 < len(p)) && (p[k+1] == ']' || p[k+1] == ',') {
					break
				}
				k++
			}
			if rel := strings.IndexByte(p[k:], ']'); rel >= 0 {
				end = k + rel - i
			} else {
				end = -1
			}
		}
		if end < 0 {
			return nil, false, evalError("Invalid JSONPath %q: missing ']'", p)
		}
		inner := strings.TrimSpace(p[i+1 : i+end])
		i += end + 1
		switch {
		case inner == "*":
			st.wildcard = true
			definite = false
		case strings.HasPrefix(inner, "?") || strings.HasPrefix(inner, "("):
			return nil, false, evalError("JSONPath filters are not supported: %q", p)
		case strings.Contains(inner, ":") && !strings.ContainsAny(inner, `'"`):
			a, b, _ := strings.Cut(inner, ":")
			var sl [2]*int
			for k, s := range []string{a, b} {
				s = strings.TrimSpace(s)
				if s == "" {
					continue
				}
				n, err := strconv.Atoi(s)
				if err != nil {
					return nil, false, evalError("Invalid JSONPath %q", p)
				}
				sl[k] = &n
			}
			st.slice = &sl
			definite = false
		default:
			parts := strings.Split(inner, ",")
			if len(parts) > 1 {
				definite = false
			}
			for _, part := range parts {
				part = strings.TrimSpace(part)
				if len(part) >= 2 && (part[0] == '\'' || part[0] == '"') && part[len(part)-1] == part[0] {
					st.names = append(st.names, part[1:len(part)-1])
					continue
				}
				n, err := strconv.Atoi(part)
				if err != nil {
					return nil, false, evalError("Invalid JSONPath %q", p)
				}
				st.indexes = append(st.indexes, n)
			}
			if len(st.names) > 0 && len(st.indexes) > 0 {
				return nil, false, evalError("Invalid JSONPath %q", p)
			}
		}
		steps = append(steps, st)
		if len(steps) > 256 {
			return nil, false, evalError("JSONPath too long")
		}
	}
	return steps, definite, nil
}

// evalPath applies a path to a document.
func evalPath(doc any, path string) (any, error) {
	steps, definite, err := parsePath(path)
	if err != nil {
		return nil, err
	}
	cur := []any{doc}
	for _, st := range steps {
		var next []any
		for _, v := range cur {
			if st.deep {
				var all []any
				descend(v, &all, 0)
				for _, d := range all {
					next = append(next, apply(st, d)...)
				}
			} else {
				next = append(next, apply(st, v)...)
			}
			if len(next) > maxCollection {
				return nil, limitErr("JSONPath matched more than %d values", maxCollection)
			}
		}
		cur = next
	}
	if definite {
		if len(cur) == 0 {
			return nil, nil
		}
		return cur[0], nil
	}
	return &List{Items: append([]any{}, cur...)}, nil
}

// descend lists v and everything below it, depth first.
func descend(v any, out *[]any, depth int) {
	if depth > maxJSONDepth || len(*out) > maxCollection {
		return
	}
	*out = append(*out, v)
	switch x := v.(type) {
	case *Map:
		for _, k := range x.keys {
			descend(x.m[k], out, depth+1)
		}
	case *List:
		for _, it := range x.Items {
			descend(it, out, depth+1)
		}
	}
}

func apply(st pathStep, v any) []any {
	var out []any
	switch x := v.(type) {
	case *Map:
		if st.wildcard {
			for _, k := range x.keys {
				out = append(out, x.m[k])
			}
		}
		for _, n := range st.names {
			if r, ok := x.Get(n); ok {
				out = append(out, r)
			}
		}
	case *List:
		switch {
		case st.wildcard:
			out = append(out, x.Items...)
		case st.slice != nil:
			a, b := 0, len(x.Items)
			if st.slice[0] != nil {
				a = *st.slice[0]
				if a < 0 {
					a += len(x.Items)
				}
			}
			if st.slice[1] != nil {
				b = *st.slice[1]
				if b < 0 {
					b += len(x.Items)
				}
			}
			a, b = max(a, 0), min(b, len(x.Items))
			if a < b {
				out = append(out, x.Items[a:b]...)
			}
		default:
			for _, i := range st.indexes {
				if i < 0 {
					i += len(x.Items)
				}
				if i >= 0 && i < len(x.Items) {
					out = append(out, x.Items[i])
				}
			}
		}
	}
	return out
}
