package apigw

import (
	"net/url"
	"strings"
)

// segKind orders path segments by specificity: a literal beats a
// {param}, which beats a greedy {proxy+}.
type segKind int

const (
	segLiteral segKind = iota
	segParam
	segGreedy
)

type segment struct {
	kind segKind
	text string // the literal, or the parameter's name
}

// pattern is a route's or resource's path: "/items/{id}", "/{proxy+}".
type pattern struct {
	segs []segment
}

// parsePattern checks and compiles a path pattern. A greedy segment may
// only be last; names are non-empty and unique.
func parsePattern(p string) (pattern, bool) {
	if !strings.HasPrefix(p, "/") {
		return pattern{}, false
	}
	if p == "/" {
		return pattern{}, true
	}
	var out pattern
	seen := map[string]bool{}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		switch {
		case s == "":
			return pattern{}, false
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "+}"):
			name := s[1 : len(s)-2]
			if i != len(parts)-1 || !validParamName(name) || seen[name] {
				return pattern{}, false
			}
			seen[name] = true
			out.segs = append(out.segs, segment{segGreedy, name})
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			name := s[1 : len(s)-1]
			if !validParamName(name) || seen[name] {
				return pattern{}, false
			}
			seen[name] = true
			out.segs = append(out.segs, segment{segParam, name})
		case strings.ContainsAny(s, "{}"):
			return pattern{}, false
		default:
			out.segs = append(out.segs, segment{segLiteral, s})
		}
	}
	return out, true
}

func validParamName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && c != '-' && c != '.' && !isAlnum(c) {
			return false
		}
	}
	return true
}

// splitPath splits a request's escaped path into raw segments; a trailing
// slash is ignored. ok is false for a path that does not start with "/".
func splitPath(escaped string) ([]string, bool) {
	if !strings.HasPrefix(escaped, "/") {
		return nil, false
	}
	p := strings.TrimRight(escaped, "/")
	if p == "" {
		return nil, true
	}
	return strings.Split(p[1:], "/"), true
}

// match matches raw (escaped) path segments. Parameters are decoded when
// decode is set (HTTP APIs) and left as sent otherwise (REST APIs). The
// score ranks matches: lower is more specific.
func (p pattern) match(raw []string, decode bool) (params map[string]string, score []segKind, ok bool) {
	unesc := func(s string) string {
		if !decode {
			return s
		}
		if u, err := url.PathUnescape(s); err == nil {
			return u
		}
		return s
	}
	for i, sg := range p.segs {
		if i >= len(raw) {
			return nil, nil, false
		}
		switch sg.kind {
		case segLiteral:
			if raw[i] != sg.text && unesc(raw[i]) != sg.text {
				return nil, nil, false
			}
		case segParam:
			if raw[i] == "" {
				return nil, nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[sg.text] = unesc(raw[i])
		case segGreedy:
			rest := strings.Join(raw[i:], "/")
			if rest == "" {
				return nil, nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[sg.text] = unesc(rest)
			score = append(score, segGreedy)
			return params, score, true
		}
		score = append(score, sg.kind)
	}
	if len(raw) != len(p.segs) {
		return nil, nil, false
	}
	return params, score, true
}

// moreSpecific reports whether score a beats score b: the first segment
// where they differ decides (literal over parameter over greedy); a
// match without a greedy segment beats one with.
func moreSpecific(a, b []segKind) bool {
	ga, gb := hasGreedy(a), hasGreedy(b)
	if ga != gb {
		return !ga
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) > len(b)
}

func hasGreedy(s []segKind) bool { return len(s) > 0 && s[len(s)-1] == segGreedy }

// routeKey is a parsed HTTP API route key: "$default" or "METHOD /path".
type routeKey struct {
	isDefault bool
	method    string // "ANY" or an HTTP method
	path      pattern
}

var httpMethods = map[string]bool{"ANY": true, "GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "HEAD": true, "OPTIONS": true}

func parseRouteKey(k string) (routeKey, bool) {
	if k == "$default" {
		return routeKey{isDefault: true}, true
	}
	m, p, ok := strings.Cut(k, " ")
	if !ok || !httpMethods[m] {
		return routeKey{}, false
	}
	pat, ok := parsePattern(p)
	if !ok {
		return routeKey{}, false
	}
	return routeKey{method: m, path: pat}, true
}

// matchRoutes picks the route for method and raw path segments among keys
// with API Gateway's precedence: the most specific path, then an exact
// method over ANY; the $default route when nothing else matches. It
// returns the index of the chosen key (-1 for none) and the path
// parameters.
func matchRoutes(keys []routeKey, method string, raw []string, decode bool) (int, map[string]string) {
	best, def := -1, -1
	bestAny := false // the best match so far is an ANY route
	var bestScore []segKind
	var bestParams map[string]string
	for i, k := range keys {
		if k.isDefault {
			def = i
			continue
		}
		if k.method != method && k.method != "ANY" {
			continue
		}
		params, score, ok := k.path.match(raw, decode)
		if !ok {
			continue
		}
		if best < 0 || moreSpecific(score, bestScore) ||
			(!moreSpecific(bestScore, score) && bestAny && k.method != "ANY") {
			best, bestScore, bestParams, bestAny = i, score, params, k.method == "ANY"
		}
	}
	if best < 0 {
		return def, nil
	}
	return best, bestParams
}
