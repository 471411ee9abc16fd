package eventpattern

import (
	"bytes"
	"encoding/json"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// The naive evaluator: a second, deliberately simple implementation of the
// matching semantics over encoding/json values, written for the tests. It
// re-reads the pattern JSON at every match; the compiled matcher must agree
// with it on every valid pattern and event (FuzzCompiledMatchesNaive).

type absentT struct{}

var absent = absentT{}

func decodeAny(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func naiveMatch(pattern, event []byte) (bool, error) {
	p, err := decodeAny(pattern)
	if err != nil {
		return false, err
	}
	e, err := decodeAny(event)
	if err != nil {
		return false, err
	}
	return naiveObj(p.(map[string]any), e), nil
}

func naiveObj(p map[string]any, v any) bool {
	switch v := v.(type) {
	case map[string]any:
		return naiveDirect(p, v)
	case []any:
		var objs []map[string]any
		var walk func([]any)
		walk = func(a []any) {
			for _, e := range a {
				switch e := e.(type) {
				case map[string]any:
					objs = append(objs, e)
				case []any:
					walk(e)
				}
			}
		}
		walk(v)
		if len(objs) > 0 {
			for _, o := range objs {
				if naiveDirect(p, o) {
					return true
				}
			}
			return false
		}
	}
	return naiveDirect(p, nil)
}

func naiveIsOr(v any) bool {
	a, ok := v.([]any)
	if !ok || len(a) == 0 {
		return false
	}
	for _, e := range a {
		m, ok := e.(map[string]any)
		if !ok {
			return false
		}
		for k := range m {
			switch k {
			case "exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists",
				"wildcard", "numeric", "cidr", "=", "<", "<=", ">", ">=":
				return false
			}
		}
	}
	return true
}

func naiveDirect(p map[string]any, obj map[string]any) bool {
	for k, pv := range p {
		if k == "$or" && naiveIsOr(pv) {
			ok := false
			for _, alt := range pv.([]any) {
				if naiveDirect(alt.(map[string]any), obj) {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
			continue
		}
		var child any = absent
		if obj != nil {
			if c, ok := obj[k]; ok {
				child = c
			}
		}
		switch pv := pv.(type) {
		case map[string]any:
			if !naiveObj(pv, child) {
				return false
			}
		case []any:
			if !naiveLeaf(pv, child) {
				return false
			}
		}
	}
	return true
}

func naiveLeaves(v any) []any {
	switch v := v.(type) {
	case absentT, map[string]any:
		return nil
	case []any:
		var out []any
		for _, e := range v {
			out = append(out, naiveLeaves(e)...)
		}
		return out
	default:
		return []any{v}
	}
}

func naiveLeaf(vals []any, v any) bool {
	leaves := naiveLeaves(v)
	if len(leaves) == 0 {
		for _, pv := range vals {
			if m, ok := pv.(map[string]any); ok && m["exists"] == false {
				return true
			}
		}
		return false
	}
	for _, leaf := range leaves {
		for _, pv := range vals {
			if naiveValue(pv, leaf) {
				return true
			}
		}
	}
	return false
}

func num(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, _ := strconv.ParseFloat(string(n), 64)
	return f, true
}

func naiveValue(pv, leaf any) bool {
	ls, lIsStr := leaf.(string)
	switch pv := pv.(type) {
	case string:
		return lIsStr && ls == pv
	case json.Number:
		a, ok := num(leaf)
		b, _ := num(pv)
		return ok && a == b
	case nil:
		return leaf == nil
	case bool:
		b, ok := leaf.(bool)
		return ok && b == pv
	case map[string]any:
		for op, arg := range pv {
			return naiveOp(op, arg, leaf, ls, lIsStr)
		}
	}
	return false
}

func runePrefixFold(s, p string) bool {
	rs, rp := []rune(s), []rune(p)
	return len(rs) >= len(rp) && strings.EqualFold(string(rs[:len(rp)]), p)
}

func runeSuffixFold(s, p string) bool {
	rs, rp := []rune(s), []rune(p)
	return len(rs) >= len(rp) && strings.EqualFold(string(rs[len(rs)-len(rp):]), p)
}

func wildcardRegexp(w string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	for i := 0; i < len(w); i++ {
		switch w[i] {
		case '*':
			b.WriteString(".*")
		case '\\':
			i++
			b.WriteString(regexp.QuoteMeta(string(w[i])))
		default:
			b.WriteString(regexp.QuoteMeta(string(w[i])))
		}
	}
	b.WriteString(`\z`)
	return regexp.MustCompile(b.String())
}

func strList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, e.(string))
		}
		return out
	}
	return nil
}

func naiveOp(op string, arg, leaf any, ls string, lIsStr bool) bool {
	switch op {
	case "exists":
		return arg == true
	case "prefix", "suffix":
		if m, ok := arg.(map[string]any); ok {
			s := m["equals-ignore-case"].(string)
			if op == "prefix" {
				return lIsStr && runePrefixFold(ls, s)
			}
			return lIsStr && runeSuffixFold(ls, s)
		}
		if op == "prefix" {
			return lIsStr && strings.HasPrefix(ls, arg.(string))
		}
		return lIsStr && strings.HasSuffix(ls, arg.(string))
	case "equals-ignore-case":
		return lIsStr && strings.EqualFold(ls, arg.(string))
	case "wildcard":
		return lIsStr && wildcardRegexp(arg.(string)).MatchString(ls)
	case "cidr":
		_, n, err := net.ParseCIDR(arg.(string))
		if err != nil || !lIsStr {
			return false
		}
		ip := net.ParseIP(ls)
		// An address matches only a network of its own family (an
		// IPv4-mapped IPv6 address is IPv6).
		if ip == nil || strings.Contains(ls, ":") != strings.Contains(arg.(string), ":") {
			return false
		}
		return n.Contains(ip)
	case "numeric":
		x, ok := num(leaf)
		if !ok {
			return false
		}
		a := arg.([]any)
		for i := 0; i+1 < len(a); i += 2 {
			y, _ := num(a[i+1])
			var hold bool
			switch a[i].(string) {
			case "=":
				hold = x == y
			case "<":
				hold = x < y
			case "<=":
				hold = x <= y
			case ">":
				hold = x > y
			case ">=":
				hold = x >= y
			}
			if !hold {
				return false
			}
		}
		return true
	case "anything-but":
		switch arg := arg.(type) {
		case map[string]any:
			for inner, v := range arg {
				if !lIsStr {
					return true
				}
				for _, s := range strList(v) {
					var hit bool
					switch inner {
					case "prefix":
						hit = strings.HasPrefix(ls, s)
					case "suffix":
						hit = strings.HasSuffix(ls, s)
					case "equals-ignore-case":
						hit = strings.EqualFold(ls, s)
					case "wildcard":
						hit = wildcardRegexp(s).MatchString(ls)
					}
					if hit {
						return false
					}
				}
				return true
			}
		case []any:
			for _, e := range arg {
				if naiveValue(e, leaf) {
					return false
				}
			}
			return true
		default:
			return !naiveValue(arg, leaf)
		}
	}
	return false
}
