package vtl

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Bounds of one evaluation.
const (
	// MaxLoop is API Gateway's cap on a #foreach: the loop stops after
	// this many iterations.
	MaxLoop = 1000
	// MaxOutput bounds a template's output and every string it builds:
	// API Gateway's 10 MB payload limit.
	MaxOutput = 10 << 20
	// MaxSteps bounds the directives, references and expressions one
	// evaluation may run (nested loops of 1,000 iterations each).
	MaxSteps = 2_000_000
)

// ErrLimit is wrapped by the Error of an evaluation a bound stopped.
var ErrLimit = errors.New("mapping template evaluation limit exceeded")

type state struct {
	vars  map[string]any
	out   strings.Builder
	steps int
	depth int
	stop  bool // #stop
	brk   bool // #break
}

// Execute evaluates the template with the given variables (by name, no
// $: "input", "util", "context", "stageVariables"). Variables #set
// creates live in vars afterwards, and maps in vars are changed in place
// (#set($context.responseOverride.status = 400)).
func (t *Template) Execute(vars map[string]any) (out string, err error) {
	s := &state{vars: vars}
	if s.vars == nil {
		s.vars = map[string]any{}
	}
	if err := s.run(t.nodes); err != nil {
		return "", err
	}
	return s.out.String(), nil
}

func limitErr(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...), Err: ErrLimit}
}

func evalError(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

func (s *state) step() error {
	s.steps++
	if s.steps > MaxSteps {
		return limitErr("mapping template ran more than %d steps", MaxSteps)
	}
	return nil
}

func (s *state) write(str string) error {
	if s.out.Len()+len(str) > MaxOutput {
		return limitErr("mapping template output is larger than %d bytes", MaxOutput)
	}
	s.out.WriteString(str)
	return nil
}

func (s *state) run(nodes []node) error {
	for _, n := range nodes {
		if s.stop || s.brk {
			return nil
		}
		if err := s.step(); err != nil {
			return err
		}
		switch x := n.(type) {
		case textNode:
			if err := s.write(string(x)); err != nil {
				return err
			}
		case *refNode:
			v, err := s.ref(x.ref)
			if err != nil {
				return err
			}
			if v != nil {
				str, err := s.str(v)
				if err != nil {
					return err
				}
				if err := s.write(str); err != nil {
					return err
				}
			}
		case *setNode:
			if err := s.set(x); err != nil {
				return err
			}
		case *ifNode:
			if err := s.runIf(x); err != nil {
				return err
			}
		case *foreachNode:
			if err := s.foreach(x); err != nil {
				return err
			}
		case breakNode:
			s.brk = true
		case stopNode:
			s.stop = true
		}
	}
	return nil
}

// str renders v, bounded.
func (s *state) str(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case *List, *Map:
		// Rendering a collection can be large: bound it by its size first.
		if n := approxSize(x, 0); n > MaxOutput {
			return "", limitErr("value is larger than %d bytes", MaxOutput)
		}
	}
	return String(v), nil
}

// approxSize is a bound on the rendered size of v.
func approxSize(v any, depth int) int {
	if depth > 200 {
		return MaxOutput + 1
	}
	switch x := v.(type) {
	case string:
		return len(x)
	case *List:
		n := 2
		for _, it := range x.Items {
			n += approxSize(it, depth+1) + 2
			if n > MaxOutput {
				return n
			}
		}
		return n
	case *Map:
		n := 2
		for _, k := range x.keys {
			n += len(k) + approxSize(x.m[k], depth+1) + 3
			if n > MaxOutput {
				return n
			}
		}
		return n
	}
	return 32
}

func (s *state) runIf(n *ifNode) error {
	for i, c := range n.conds {
		v, err := s.eval(c)
		if err != nil {
			return err
		}
		if truthy(v) {
			return s.run(n.bodies[i])
		}
	}
	if len(n.bodies) > len(n.conds) {
		return s.run(n.bodies[len(n.conds)])
	}
	return nil
}

// foreachInfo is $foreach.
type foreachInfo struct {
	index, total int
	parent       any
}

func (f *foreachInfo) prop(name string) (any, bool) {
	switch name {
	case "index":
		return int64(f.index), true
	case "count":
		return int64(f.index + 1), true
	case "hasNext":
		return f.index+1 < f.total, true
	case "first":
		return f.index == 0, true
	case "last":
		return f.index+1 == f.total, true
	case "parent":
		return f.parent, true
	}
	return nil, false
}

func (f *foreachInfo) call(_ *state, name string, args []any) (any, error) {
	props := map[string]string{"getIndex": "index", "getCount": "count", "hasNext": "hasNext", "isFirst": "first", "isLast": "last", "getParent": "parent"}
	if p, ok := props[name]; ok && len(args) == 0 {
		v, _ := f.prop(p)
		return v, nil
	}
	return nil, nil
}

func (f *foreachInfo) String() string { return "" }

func (s *state) foreach(n *foreachNode) error {
	over, err := s.eval(n.over)
	if err != nil {
		return err
	}
	var items []any
	switch x := over.(type) {
	case *List:
		items = append([]any(nil), x.Items...)
	case *Map:
		for _, k := range x.keys {
			items = append(items, x.m[k])
		}
	}
	if len(items) == 0 {
		return nil
	}
	total := min(len(items), MaxLoop)
	saved, hadVar := s.vars[n.name]
	savedInfo, hadInfo := s.vars["foreach"]
	savedCount, hadCount := s.vars["velocityCount"]
	savedNext, hadNext := s.vars["velocityHasNext"]
	info := &foreachInfo{total: total, parent: savedInfo}
	s.depth++
	defer func() {
		s.depth--
		restore(s.vars, n.name, saved, hadVar)
		restore(s.vars, "foreach", savedInfo, hadInfo)
		restore(s.vars, "velocityCount", savedCount, hadCount)
		restore(s.vars, "velocityHasNext", savedNext, hadNext)
	}()
	for i := 0; i < total; i++ {
		info.index = i
		s.vars["foreach"] = info
		s.vars["velocityCount"] = int64(i + 1)
		s.vars["velocityHasNext"] = i+1 < total
		if items[i] == nil {
			delete(s.vars, n.name)
		} else {
			s.vars[n.name] = items[i]
		}
		if err := s.run(n.body); err != nil {
			return err
		}
		if s.stop {
			return nil
		}
		if s.brk {
			s.brk = false
			return nil
		}
	}
	return nil
}

func restore(vars map[string]any, k string, v any, had bool) {
	if had {
		vars[k] = v
	} else {
		delete(vars, k)
	}
}

func (s *state) set(n *setNode) error {
	v, err := s.eval(n.value)
	if err != nil {
		return err
	}
	if v == nil {
		// Velocity 1.7 leaves the target as it was when the value is null.
		return nil
	}
	t := n.target
	if len(t.chain) == 0 {
		s.vars[t.name] = v
		return nil
	}
	holder, err := s.resolve(t.name, t.chain[:len(t.chain)-1])
	if err != nil {
		return err
	}
	if m, ok := holder.(*Map); ok {
		if m.Len() >= MaxLoop*100 {
			return limitErr("map has more than %d entries", MaxLoop*100)
		}
		m.Set(t.chain[len(t.chain)-1].name, v)
	}
	return nil
}

func (s *state) ref(r *reference) (any, error) {
	return s.resolve(r.name, r.chain)
}

func (s *state) resolve(name string, chain []accessor) (any, error) {
	v := s.vars[name]
	for _, a := range chain {
		if v == nil {
			return nil, nil
		}
		if err := s.step(); err != nil {
			return nil, err
		}
		if !a.call {
			v = property(v, a.name)
			continue
		}
		args := make([]any, len(a.args))
		for i, e := range a.args {
			x, err := s.eval(e)
			if err != nil {
				return nil, err
			}
			args[i] = x
		}
		var err error
		v, err = s.method(v, a.name, args)
		if err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (s *state) eval(e expr) (any, error) {
	if err := s.step(); err != nil {
		return nil, err
	}
	s.depth++
	defer func() { s.depth-- }()
	if s.depth > maxNesting*8 {
		return nil, limitErr("mapping template nested too deeply")
	}
	switch x := e.(type) {
	case literal:
		return x.v, nil
	case *reference:
		return s.ref(x)
	case *interp:
		sub := &state{vars: s.vars, steps: s.steps, depth: s.depth}
		if err := sub.run(x.nodes); err != nil {
			return nil, err
		}
		s.steps = sub.steps
		return sub.out.String(), nil
	case *listExpr:
		l := &List{Items: make([]any, 0, len(x.items))}
		for _, it := range x.items {
			v, err := s.eval(it)
			if err != nil {
				return nil, err
			}
			l.Items = append(l.Items, v)
		}
		return l, nil
	case *rangeExpr:
		from, err := s.eval(x.from)
		if err != nil {
			return nil, err
		}
		to, err := s.eval(x.to)
		if err != nil {
			return nil, err
		}
		a, ok1 := toInt(from)
		b, ok2 := toInt(to)
		if !ok1 || !ok2 {
			return nil, nil
		}
		// A range larger than a loop may run is cut where #foreach would
		// stop anyway.
		l := &List{}
		step := int64(1)
		if b < a {
			step = -1
		}
		for i := a; len(l.Items) <= MaxLoop; i += step {
			l.Items = append(l.Items, i)
			if i == b {
				break
			}
		}
		return l, nil
	case *mapExpr:
		m := NewMap()
		for i := range x.keys {
			k, err := s.eval(x.keys[i])
			if err != nil {
				return nil, err
			}
			v, err := s.eval(x.vals[i])
			if err != nil {
				return nil, err
			}
			m.Set(String(k), v)
		}
		return m, nil
	case *unary:
		v, err := s.eval(x.x)
		if err != nil {
			return nil, err
		}
		if x.op == "!" {
			return !truthy(v), nil
		}
		switch n := v.(type) {
		case int64:
			return -n, nil
		case float64:
			return -n, nil
		}
		return nil, nil
	case *binary:
		return s.binary(x)
	}
	return nil, evalError("unknown expression")
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
	case string:
		var n int64
		if _, err := fmt.Sscan(x, &n); err == nil && fmt.Sprint(n) == strings.TrimSpace(x) {
			return n, true
		}
	}
	return 0, false
}

func (s *state) binary(x *binary) (any, error) {
	l, err := s.eval(x.l)
	if err != nil {
		return nil, err
	}
	switch x.op {
	case "&&":
		if !truthy(l) {
			return false, nil
		}
		r, err := s.eval(x.r)
		return truthy(r), err
	case "||":
		if truthy(l) {
			return true, nil
		}
		r, err := s.eval(x.r)
		return truthy(r), err
	}
	r, err := s.eval(x.r)
	if err != nil {
		return nil, err
	}
	switch x.op {
	case "==":
		return equal(l, r), nil
	case "!=":
		return !equal(l, r), nil
	case "<", ">", "<=", ">=":
		return compare(x.op, l, r), nil
	case "+":
		if _, ok := l.(string); ok || isString(r) {
			if l == nil || r == nil {
				return nil, nil
			}
			ls, rs := String(l), String(r)
			if len(ls)+len(rs) > MaxOutput {
				return nil, limitErr("string is larger than %d bytes", MaxOutput)
			}
			return ls + rs, nil
		}
	}
	return arith(x.op, l, r), nil
}

func isString(v any) bool {
	_, ok := v.(string)
	return ok
}

func compare(op string, l, r any) bool {
	var c int
	if a, ok := toFloat(l); ok {
		b, ok := toFloat(r)
		if !ok {
			return false
		}
		switch {
		case a < b:
			c = -1
		case a > b:
			c = 1
		}
	} else if a, ok := l.(string); ok {
		b, ok := r.(string)
		if !ok {
			return false
		}
		c = strings.Compare(a, b)
	} else {
		return false
	}
	switch op {
	case "<":
		return c < 0
	case ">":
		return c > 0
	case "<=":
		return c <= 0
	}
	return c >= 0
}

// arith is Velocity's arithmetic: integers stay integers (overflow
// widens to a double), a double operand makes a double, division by zero
// and non-numbers give null.
func arith(op string, l, r any) any {
	a, aInt := l.(int64)
	b, bInt := r.(int64)
	if aInt && bInt {
		switch op {
		case "+":
			if c := a + b; (c > a) == (b > 0) {
				return c
			}
		case "-":
			if c := a - b; (c < a) == (b > 0) {
				return c
			}
		case "*":
			if a == 0 || b == 0 {
				return int64(0)
			}
			if c := a * b; c/b == a && (a != -1 || b != math.MinInt64) && (b != -1 || a != math.MinInt64) {
				return c
			}
		case "/":
			if b == 0 {
				return nil
			}
			if a == math.MinInt64 && b == -1 {
				return float64(a) / float64(b)
			}
			return a / b
		case "%":
			if b == 0 {
				return nil
			}
			if b == -1 {
				return int64(0)
			}
			return a % b
		}
	}
	fa, ok1 := toFloat(l)
	fb, ok2 := toFloat(r)
	if !ok1 || !ok2 {
		return nil
	}
	switch op {
	case "+":
		return fa + fb
	case "-":
		return fa - fb
	case "*":
		return fa * fb
	case "/":
		if fb == 0 {
			return nil
		}
		return fa / fb
	case "%":
		if fb == 0 {
			return nil
		}
		return math.Mod(fa, fb)
	}
	return nil
}
