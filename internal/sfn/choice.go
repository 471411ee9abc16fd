package sfn

import (
	"encoding/json"
	"fmt"
	gopath "path"
	"strings"
)

// ChoiceRule is one rule of a Choice state (Next set at the top level
// only) or one operand of And/Or/Not.
type ChoiceRule struct {
	Next     string
	And, Or  []*ChoiceRule
	Not      *ChoiceRule
	Variable *path
	Op       string // a comparison operator, without its Path suffix
	ByPath   bool   // the operator's ...Path form: Value comes from ValuePath
	Value    any
	Path     *path

	// JSONata: the rule's Condition, and what a matching rule assigns
	// and outputs.
	Condition *jexpr
	Assign    *assign
	Output    *jtmpl
}

// comparisons are the operators and the type of value each compares.
var comparisons = map[string]string{
	"StringEquals": "string", "StringLessThan": "string", "StringGreaterThan": "string",
	"StringLessThanEquals": "string", "StringGreaterThanEquals": "string", "StringMatches": "string",
	"NumericEquals": "number", "NumericLessThan": "number", "NumericGreaterThan": "number",
	"NumericLessThanEquals": "number", "NumericGreaterThanEquals": "number",
	"BooleanEquals":   "boolean",
	"TimestampEquals": "timestamp", "TimestampLessThan": "timestamp", "TimestampGreaterThan": "timestamp",
	"TimestampLessThanEquals": "timestamp", "TimestampGreaterThanEquals": "timestamp",
	"IsNull": "boolean", "IsPresent": "boolean", "IsNumeric": "boolean", "IsString": "boolean",
	"IsBoolean": "boolean", "IsTimestamp": "boolean",
}

func (p *parser) choice(s *State, raw map[string]json.RawMessage, loc string) {
	v, ok := raw["Choices"]
	if !ok {
		p.schema(loc, "These fields are required: [Choices]")
		return
	}
	var rules []map[string]json.RawMessage
	if err := json.Unmarshal(v, &rules); err != nil || len(rules) == 0 {
		p.schema(loc+"/Choices", "The field 'Choices' must be a non-empty array of objects")
		return
	}
	for i, r := range rules {
		l := fmt.Sprintf("%s/Choices[%d]", loc, i)
		if s.JSONata {
			s.Choices = append(s.Choices, p.jsonataRule(r, l))
			continue
		}
		rule := p.rule(r, l, true, 0)
		if rule != nil {
			s.Choices = append(s.Choices, rule)
		}
	}
	if d, ok := raw["Default"]; ok {
		p.str(d, loc+"/Default", "Default", &s.Default)
	}
}

// jsonataRule parses a JSONata Choice rule: Condition, Next, and
// optionally Assign and Output.
func (p *parser) jsonataRule(raw map[string]json.RawMessage, loc string) *ChoiceRule {
	r := &ChoiceRule{}
	for _, k := range sortedKeys(raw) {
		switch k {
		case "Next", "Comment", "Condition", "Assign", "Output":
		default:
			p.schema(loc, "Field '%s' is not supported when QueryLanguage is JSONata", k)
		}
	}
	if v, ok := raw["Next"]; ok {
		p.str(v, loc+"/Next", "Next", &r.Next)
	} else {
		p.schema(loc, "These fields are required: [Next]")
	}
	var cond string
	if v, ok := raw["Condition"]; !ok {
		p.schema(loc, "These fields are required: [Condition]")
	} else if !p.str(v, loc+"/Condition", "Condition", &cond) {
	} else if !isJSONataString(cond) {
		p.schema(loc+"/Condition", "The value for the field 'Condition' must be a JSONata expression: {%% ... %%}")
	} else {
		r.Condition = p.jexpr(cond, loc+"/Condition", "Condition")
	}
	if v, ok := raw["Assign"]; ok {
		r.Assign = p.assign(v, loc+"/Assign", true)
	}
	if v, ok := raw["Output"]; ok {
		r.Output = p.jsonataTmpl(v, loc+"/Output", "Output")
	}
	return r
}

func (p *parser) rule(raw map[string]json.RawMessage, loc string, top bool, depth int) *ChoiceRule {
	if depth > 32 {
		p.schema(loc, "Choice rules may nest at most 32 levels deep")
		return nil
	}
	r := &ChoiceRule{}
	if top {
		if v, ok := raw["Next"]; ok {
			p.str(v, loc+"/Next", "Next", &r.Next)
		} else {
			p.schema(loc, "These fields are required: [Next]")
		}
	} else if _, ok := raw["Next"]; ok {
		p.schema(loc, "Field 'Next' is not supported in a nested Choice rule")
	}
	var ops []string
	for _, k := range sortedKeys(raw) {
		switch k {
		case "Next", "Comment", "Variable":
		case "Assign":
			if !top {
				p.schema(loc, "Field 'Assign' is not supported in a nested Choice rule")
				continue
			}
			r.Assign = p.assign(raw[k], loc+"/Assign", false)
		case "And", "Or":
			ops = append(ops, k)
			var subs []map[string]json.RawMessage
			if err := json.Unmarshal(raw[k], &subs); err != nil || len(subs) == 0 {
				p.schema(loc+"/"+k, "The field '%s' must be a non-empty array of Choice rules", k)
				continue
			}
			for i, sr := range subs {
				c := p.rule(sr, fmt.Sprintf("%s/%s[%d]", loc, k, i), false, depth+1)
				if k == "And" {
					r.And = append(r.And, c)
				} else {
					r.Or = append(r.Or, c)
				}
			}
		case "Not":
			ops = append(ops, k)
			var sr map[string]json.RawMessage
			if err := json.Unmarshal(raw[k], &sr); err != nil {
				p.schema(loc+"/Not", "The field 'Not' must be a Choice rule")
				continue
			}
			r.Not = p.rule(sr, loc+"/Not", false, depth+1)
		default:
			base, byPath := strings.CutSuffix(k, "Path")
			typ, known := comparisons[k]
			if !known {
				typ, known = comparisons[base]
				if !known || base == "StringMatches" || strings.HasPrefix(base, "Is") {
					p.schema(loc, "Field '%s' is not supported", k)
					continue
				}
			} else {
				byPath = false
				base = k
			}
			ops = append(ops, k)
			r.Op, r.ByPath = base, byPath
			if byPath {
				r.Path = p.pathField(raw[k], loc+"/"+k, k)
				continue
			}
			val, err := decodeJSON(raw[k])
			if err != nil || !valueIs(val, typ) {
				p.schema(loc+"/"+k, "The value for the field '%s' must be a %s", k, strings.ToUpper(typ))
				continue
			}
			if typ == "timestamp" {
				if _, err := parseTimestamp(val.(string)); err != nil {
					p.schema(loc+"/"+k, "The value for the field '%s' must be a valid ISO-8601 timestamp", k)
				}
			}
			r.Value = val
		}
	}
	if len(ops) != 1 {
		p.schema(loc, "A Choice rule must have exactly one comparison operator or one of And, Or, Not")
		return r
	}
	if r.Op != "" {
		v, ok := raw["Variable"]
		if !ok {
			p.schema(loc, "These fields are required: [Variable]")
		} else {
			r.Variable = p.pathField(v, loc+"/Variable", "Variable")
		}
	} else if _, ok := raw["Variable"]; ok {
		p.schema(loc, "Field 'Variable' is not supported with And, Or or Not")
	}
	return r
}

func valueIs(v any, typ string) bool {
	switch typ {
	case "string", "timestamp":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	}
	return false
}

// eval decides the rule against input.
func (r *ChoiceRule) eval(input, ctxObj any, vars *scope) (bool, error) {
	switch {
	case r.And != nil:
		for _, c := range r.And {
			ok, err := c.eval(input, ctxObj, vars)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case r.Or != nil:
		for _, c := range r.Or {
			ok, err := c.eval(input, ctxObj, vars)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case r.Not != nil:
		ok, err := r.Not.eval(input, ctxObj, vars)
		return !ok && err == nil, err
	}
	if r.Variable == nil {
		return false, nil
	}
	v, err := r.Variable.eval(input, ctxObj, vars)
	if err != nil {
		if r.Op == "IsPresent" {
			return r.Value == false, nil
		}
		return false, &Failure{Name: ErrRuntime, Cause: fmt.Sprintf(
			"Invalid path '%s': The choice state's condition path references an invalid value.", r.Variable.src)}
	}
	want := r.Value
	if r.ByPath {
		want, err = r.Path.eval(input, ctxObj, vars)
		if err != nil {
			return false, &Failure{Name: ErrRuntime, Cause: fmt.Sprintf(
				"Invalid path '%s': The choice state's condition path references an invalid value.", r.Path.src)}
		}
	}
	return compare(r.Op, v, want), nil
}

func compare(op string, v, want any) bool {
	switch op {
	case "IsPresent":
		return want == true
	case "IsNull":
		return (v == nil) == (want == true)
	case "IsNumeric":
		_, ok := v.(json.Number)
		return ok == (want == true)
	case "IsString":
		_, ok := v.(string)
		return ok == (want == true)
	case "IsBoolean":
		_, ok := v.(bool)
		return ok == (want == true)
	case "IsTimestamp":
		s, ok := v.(string)
		if ok {
			_, err := parseTimestamp(s)
			ok = err == nil
		}
		return ok == (want == true)
	case "BooleanEquals":
		b, ok := v.(bool)
		w, ok2 := want.(bool)
		return ok && ok2 && b == w
	case "StringMatches":
		s, ok := v.(string)
		w, ok2 := want.(string)
		return ok && ok2 && stringMatches(s, w)
	}
	switch {
	case strings.HasPrefix(op, "String"):
		s, ok := v.(string)
		w, ok2 := want.(string)
		if !ok || !ok2 {
			return false
		}
		return ordered(op[len("String"):], strings.Compare(s, w))
	case strings.HasPrefix(op, "Numeric"):
		n, ok := v.(json.Number)
		w, ok2 := want.(json.Number)
		if !ok || !ok2 {
			return false
		}
		a, e1 := n.Float64()
		b, e2 := w.Float64()
		if e1 != nil || e2 != nil {
			return false
		}
		c := 0
		if a < b {
			c = -1
		} else if a > b {
			c = 1
		}
		return ordered(op[len("Numeric"):], c)
	case strings.HasPrefix(op, "Timestamp"):
		s, ok := v.(string)
		w, ok2 := want.(string)
		if !ok || !ok2 {
			return false
		}
		a, e1 := parseTimestamp(s)
		b, e2 := parseTimestamp(w)
		if e1 != nil || e2 != nil {
			return false
		}
		return ordered(op[len("Timestamp"):], a.Compare(b))
	}
	return false
}

func ordered(rel string, c int) bool {
	switch rel {
	case "Equals":
		return c == 0
	case "LessThan":
		return c < 0
	case "GreaterThan":
		return c > 0
	case "LessThanEquals":
		return c <= 0
	case "GreaterThanEquals":
		return c >= 0
	}
	return false
}

// stringMatches is StringMatches: * matches any run of characters, \*
// and \\ are literal.
func stringMatches(s, pattern string) bool {
	// Translate to path.Match's syntax, escaping what it treats specially.
	var sb strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '\\' && i+1 < len(pattern):
			sb.WriteByte('\\')
			sb.WriteByte(pattern[i+1])
			i++
		case c == '*':
			sb.WriteByte('*')
		case c == '?' || c == '[' || c == ']' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		default:
			sb.WriteByte(c)
		}
	}
	// path.Match's * does not cross '/': match segment-free by mapping '/'.
	const slash = "\x00"
	ok, err := gopath.Match(strings.ReplaceAll(sb.String(), "/", slash), strings.ReplaceAll(s, "/", slash))
	return err == nil && ok
}
