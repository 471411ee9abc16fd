package sfn

import (
	"encoding/json"
	"strings"
)

// tmpl is a compiled payload template (Parameters, ResultSelector,
// ItemSelector): JSON whose object fields named "key.$" take their value
// from a path or an intrinsic function.
type tmpl struct {
	lit    any
	isLit  bool
	path   *path
	call   *intrinsic
	fields []tmplField // an object
	items  []*tmpl     // an array
	isObj  bool
	isArr  bool
}

type tmplField struct {
	key string
	val *tmpl
}

func (p *parser) template(b json.RawMessage, loc, field string) *tmpl {
	v, err := decodeJSON(b)
	if err != nil {
		p.schema(loc, "The field '%s' must be JSON", field)
		return nil
	}
	return p.compileTmpl(v, loc, 0)
}

func (p *parser) compileTmpl(v any, loc string, depth int) *tmpl {
	if depth > 64 {
		p.schema(loc, "The payload template nests too deeply")
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		t := &tmpl{isObj: true}
		for _, k := range sortedKeys(x) {
			if name, ok := strings.CutSuffix(k, ".$"); ok {
				s, isStr := x[k].(string)
				if !isStr {
					p.schema(loc+"/"+k, "The value for the field '%s' must be a STRING that contains a JSONPath or an intrinsic function", k)
					continue
				}
				if dt := p.dynamic(s, loc+"/"+k, k); dt != nil {
					t.fields = append(t.fields, tmplField{name, dt})
				}
				continue
			}
			t.fields = append(t.fields, tmplField{k, p.compileTmpl(x[k], loc+"/"+k, depth+1)})
		}
		return t
	case []any:
		t := &tmpl{isArr: true}
		for _, e := range x {
			t.items = append(t.items, p.compileTmpl(e, loc, depth+1))
		}
		return t
	}
	return &tmpl{lit: v, isLit: true}
}

// dynamic compiles the value of a "key.$" field (or ErrorPath/CausePath):
// a path or an intrinsic function.
func (p *parser) dynamic(s, loc, field string) *tmpl {
	if strings.HasPrefix(s, "$") {
		pp, err := compilePath(s)
		if err != nil {
			p.schema(loc, "The value for the field '%s' must be a valid JSONPath", field)
			return nil
		}
		return &tmpl{path: pp}
	}
	if isIntrinsic(s) {
		c, err := parseIntrinsic(s)
		if err != nil {
			p.schema(loc, "The value for the field '%s' must be a valid JSONPath or a valid intrinsic function call: %v", field, err)
			return nil
		}
		return &tmpl{call: c}
	}
	p.schema(loc, "The value for the field '%s' must be a valid JSONPath or a valid intrinsic function call", field)
	return nil
}

// eval builds the payload. A path that selects nothing is
// States.Runtime (AWS: "The JsonPath argument for the field ... could not
// be found in the input").
func (t *tmpl) eval(env *intrinsicEnv) (any, error) {
	switch {
	case t == nil:
		return nil, nil
	case t.isLit:
		return t.lit, nil
	case t.path != nil:
		v, err := t.path.eval(env.input, env.ctx, env.vars)
		if err != nil {
			return nil, &Failure{Name: ErrRuntime, Cause: "An error occurred while executing the state. The JsonPath argument for the field '" +
				t.path.src + "' could not be found in the input '" + truncate(encodeJSON(env.input), 1000) + "'"}
		}
		return v, nil
	case t.call != nil:
		return t.call.eval(env)
	case t.isArr:
		out := make([]any, len(t.items))
		for i, it := range t.items {
			v, err := it.eval(env)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	out := make(map[string]any, len(t.fields))
	for _, f := range t.fields {
		v, err := f.val.eval(env)
		if err != nil {
			return nil, err
		}
		out[f.key] = v
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
