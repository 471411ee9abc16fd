package sfn

import (
	"encoding/json"
	"fmt"
)

// Workflow variables (Assign, in JSONPath and JSONata states alike).
//
// A state's Assign is evaluated with the variables as they were when the
// state was entered, and its values are visible from the next state on.
// A Parallel branch or a Map iteration reads the variables of the scope
// around it and assigns in its own scope, which ends with it: what a
// branch assigns is not visible after the Parallel (its Output carries
// data out, as on AWS). Variables are not stored: a replay after a crash
// recomputes them from the journal's recorded results, as it recomputes
// every state's output.

// maxAssignBytes is AWS's limit on the values one Assign sets (256 KiB),
// and maxVariablesBytes its limit on all the variables an execution
// holds (10 MiB). The total is taken over the variables a state sees
// (its own scope and those around it).
const (
	maxAssignBytes    = 256 * 1024
	maxVariablesBytes = 10 << 20
)

// scope holds the variables of one level (the execution, a branch, an
// iteration). A scope is written only by the goroutine running its
// level, and read by its children while that goroutine waits for them.
type scope struct {
	parent *scope
	vals   map[string]any
	sizes  map[string]int // each value's JSON length with its name's
}

func (s *scope) child() *scope { return &scope{parent: s} }

func (s *scope) get(name string) (any, bool) {
	for c := s; c != nil; c = c.parent {
		if v, ok := c.vals[name]; ok {
			return v, true
		}
	}
	return nil, false
}

// all is every visible variable, inner scopes winning.
func (s *scope) all() map[string]any {
	m := map[string]any{}
	var walk func(*scope)
	walk = func(c *scope) {
		if c == nil {
			return
		}
		walk(c.parent)
		for k, v := range c.vals {
			m[k] = v
		}
	}
	walk(s)
	return m
}

func (s *scope) set(vals map[string]any) {
	if len(vals) == 0 {
		return
	}
	if s.vals == nil {
		s.vals = make(map[string]any, len(vals))
		s.sizes = make(map[string]int, len(vals))
	}
	for k, v := range vals {
		s.vals[k] = v
		s.sizes[k] = len(k) + len(encodeJSON(v))
	}
}

// checkTotal fails with States.DataLimitExceeded when the variables
// visible in s, with assigned set, would exceed maxVariablesBytes.
func (s *scope) checkTotal(assigned map[string]any) error {
	if len(assigned) == 0 {
		return nil
	}
	n := 0
	seen := map[string]bool{}
	for k, v := range assigned {
		n += len(k) + len(encodeJSON(v))
		seen[k] = true
	}
	for c := s; c != nil; c = c.parent {
		for k, size := range c.sizes {
			if !seen[k] {
				n += size
				seen[k] = true
			}
		}
	}
	if n > maxVariablesBytes {
		return &Failure{Name: ErrDataLimitExceeded, Cause: fmt.Sprintf("The variables of the execution would exceed the limit of %d bytes", maxVariablesBytes)}
	}
	return nil
}

// assign is a state's (or a Choice rule's, or a Catcher's) Assign: a
// JSONPath payload template or a JSONata template, an object whose keys
// are variable names.
type assign struct {
	p *tmpl
	j *jtmpl
}

// validVarName is AWS's rule for a variable's name: a letter or '_'
// first, then letters, digits and '_' (at most 80 characters); "states"
// is reserved.
func validVarName(n string) bool {
	if n == "" || len(n) > 80 || n == "states" {
		return false
	}
	for i, c := range n {
		letter := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func (p *parser) assign(b json.RawMessage, loc string, jsonataState bool) *assign {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		p.schema(loc, "The field 'Assign' must be an object")
		return nil
	}
	for _, k := range sortedKeys(raw) {
		name := k
		if !jsonataState {
			if n, ok := cutSuffixDollar(k); ok {
				name = n
			}
		}
		if !validVarName(name) {
			p.schema(loc+"/"+k, "The variable name '%s' is not valid: a letter or '_' first, then letters, digits or '_', at most 80 characters, and not 'states'", name)
		}
	}
	if jsonataState {
		return &assign{j: p.jsonataTmpl(b, loc, "Assign")}
	}
	return &assign{p: p.template(b, loc, "Assign")}
}

func cutSuffixDollar(k string) (string, bool) {
	if len(k) > 2 && k[len(k)-2:] == ".$" {
		return k[:len(k)-2], true
	}
	return k, false
}

// evalAssign computes an Assign's values: a JSONPath one with $ as
// input (the state's result), a JSONata one in env.
func (a *assign) eval(input any, ienv *intrinsicEnv, jenv *jenv) (map[string]any, error) {
	if a == nil {
		return nil, nil
	}
	var v any
	var err error
	if a.j != nil {
		v, err = a.j.eval(jenv, "Assign")
	} else {
		e := *ienv
		e.input = input
		v, err = a.p.eval(&e)
	}
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	if len(encodeJSON(m)) > maxAssignBytes {
		return nil, &Failure{Name: ErrDataLimitExceeded, Cause: fmt.Sprintf("The variables assigned by the state exceed the limit of %d bytes", maxAssignBytes)}
	}
	return m, nil
}
