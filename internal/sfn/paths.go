package sfn

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/theory/jsonpath"
)

// Paths. ASL has two kinds (the States Language specification, "Paths"):
//
//   - a path (InputPath, OutputPath, ItemsPath, a Choice's Variable, the
//     value of a "key.$" field): any JSONPath query, evaluated here with
//     github.com/theory/jsonpath (RFC 9535, which covers the Jayway forms
//     AWS's examples use: $.a.b, $['a'], $.a[0], $.a[*].b, $..b, slices and
//     [?(@.x > 1)] filters). A singular query (names and indexes only)
//     yields its one value; any other yields the list of what it selects.
//     A path starting with $$ queries the context object.
//   - a reference path (ResultPath): names and indexes only, so it names
//     exactly one place in a document to write; parsed by parseRefPath.

// path is a compiled query path.
type path struct {
	src      string
	context  bool   // starts with $$: queries the context object
	variable string // starts with $name: queries a workflow variable
	p        *jsonpath.Path
	singular bool
}

// compilePath compiles a query path; src must start with $ (or $$).
func compilePath(src string) (*path, error) {
	if !strings.HasPrefix(src, "$") {
		return nil, fmt.Errorf("the path %q must start with '$'", src)
	}
	q := src
	ctx := false
	variable := ""
	if strings.HasPrefix(src, "$$") {
		ctx = true
		q = src[1:]
	} else if len(src) > 1 && (src[1] == '_' || (src[1]|0x20 >= 'a' && src[1]|0x20 <= 'z')) {
		i := 1
		for i < len(src) && src[i] != '.' && src[i] != '[' {
			i++
		}
		variable = src[1:i]
		if !validVarName(variable) {
			return nil, fmt.Errorf("the path %q names an invalid variable", src)
		}
		q = "$" + src[i:]
	}
	if len(q) > 1 && q[1] != '.' && q[1] != '[' {
		return nil, fmt.Errorf("the path %q is not a valid JSONPath", src)
	}
	p, err := jsonpath.Parse(q)
	if err != nil {
		return nil, fmt.Errorf("the path %q is not a valid JSONPath", src)
	}
	return &path{src: src, context: ctx, variable: variable, p: p, singular: p.Query().Singular() != nil}, nil
}

// errPathMissing is a query that selected nothing.
type errPathMissing struct{ path string }

func (e errPathMissing) Error() string { return "no value at " + e.path }

// eval applies the path to input (or to the context object, or to a
// variable of vars).
func (p *path) eval(input, ctxObj any, vars *scope) (any, error) {
	doc := input
	switch {
	case p.context:
		doc = ctxObj
	case p.variable != "":
		v, ok := vars.get(p.variable)
		if !ok {
			return nil, errPathMissing{p.src}
		}
		doc = v
	}
	nodes := p.p.Select(doc)
	if p.singular {
		if len(nodes) == 0 {
			return nil, errPathMissing{p.src}
		}
		return nodes[0], nil
	}
	out := make([]any, len(nodes))
	copy(out, nodes)
	return out, nil
}

// refStep is one step of a reference path: a member name or an index.
type refStep struct {
	name  string
	index int
	isIdx bool
}

// refPath is a compiled reference path.
type refPath struct {
	src   string
	steps []refStep
}

// parseRefPath parses a reference path: $, then .name, ['name'] or [n]
// steps. Wildcards, filters, slices and descendants are refused.
func parseRefPath(src string) (*refPath, error) {
	bad := func() (*refPath, error) {
		return nil, fmt.Errorf("the value %q is not a valid reference path", src)
	}
	if !strings.HasPrefix(src, "$") || strings.HasPrefix(src, "$$") {
		return bad()
	}
	rp := &refPath{src: src}
	s := src[1:]
	for len(s) > 0 {
		switch s[0] {
		case '.':
			s = s[1:]
			i := 0
			for i < len(s) && s[i] != '.' && s[i] != '[' {
				i++
			}
			name := s[:i]
			if name == "" || strings.ContainsAny(name, "*@?()$ ") {
				return bad()
			}
			rp.steps = append(rp.steps, refStep{name: name})
			s = s[i:]
		case '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return bad()
			}
			in := s[1:end]
			switch {
			case len(in) >= 2 && (in[0] == '\'' || in[0] == '"') && in[len(in)-1] == in[0]:
				rp.steps = append(rp.steps, refStep{name: in[1 : len(in)-1]})
			default:
				n, err := strconv.Atoi(in)
				if err != nil || n < 0 {
					return bad()
				}
				rp.steps = append(rp.steps, refStep{index: n, isIdx: true})
			}
			s = s[end+1:]
		default:
			return bad()
		}
	}
	return rp, nil
}

// set returns doc with value written at the path, creating objects on
// the way; doc itself is not modified (copies along the path). Writing
// through a value that is not an object (or an array, for an index) is
// an error, as AWS's States.Runtime is.
func (rp *refPath) set(doc, value any) (any, error) {
	return setAt(doc, rp.steps, value, rp.src)
}

func setAt(doc any, steps []refStep, value any, src string) (any, error) {
	if len(steps) == 0 {
		return value, nil
	}
	st := steps[0]
	if st.isIdx {
		arr, ok := doc.([]any)
		if !ok || st.index >= len(arr) {
			return nil, fmt.Errorf("unable to apply ResultPath %q to the input", src)
		}
		out := append([]any(nil), arr...)
		v, err := setAt(arr[st.index], steps[1:], value, src)
		if err != nil {
			return nil, err
		}
		out[st.index] = v
		return out, nil
	}
	var obj map[string]any
	switch d := doc.(type) {
	case map[string]any:
		obj = make(map[string]any, len(d)+1)
		for k, v := range d {
			obj[k] = v
		}
	case nil:
		obj = map[string]any{}
	default:
		return nil, fmt.Errorf("unable to apply ResultPath %q to the input: it is not an object", src)
	}
	v, err := setAt(obj[st.name], steps[1:], value, src)
	if err != nil {
		return nil, err
	}
	obj[st.name] = v
	return obj, nil
}

// decodeJSON decodes one JSON document keeping numbers exact.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return v, nil
}

// encodeJSON encodes v compactly, without HTML escaping (as AWS does).
func encodeJSON(v any) string {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "null"
	}
	return strings.TrimSuffix(sb.String(), "\n")
}
