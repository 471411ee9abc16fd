package sfn

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	jsonata "github.com/blues/jsonata-go"
	"github.com/blues/jsonata-go/jlib"
	"github.com/blues/jsonata-go/jtypes"
)

// JSONata (QueryLanguage "JSONata"): a string value "{% expr %}" is an
// expression, evaluated with github.com/blues/jsonata-go (JSONata 1.5's
// language and function library, which covers what Step Functions'
// examples use) plus the functions Step Functions adds ($partition,
// $range, $hash, $random with a seed, $uuid, $parse) and $assert, and the
// JSONata 2.0 functions the library lacks (jsonata_fn2.go). Every
// expression sees:
//
//	$states.input        the state's raw input
//	$states.result       the task's, branches' or iterations' result (Output, Assign)
//	$states.errorOutput  {Error, Cause} (a Catcher's Output and Assign)
//	$states.context      the context object
//	$name                a workflow variable
//
// Numbers cross into JSONata as float64 (JSONata's numbers are IEEE
// doubles, as in JavaScript) and come back as exact JSON numbers.
// $now() and $millis() are the state's entered time, and $uuid() and
// $random() draw from the execution's deterministic source, so a replay
// after a crash computes the same values.

// maxJSONataNesting bounds the bracket nesting of one expression: the
// library's parser recurses once per level.
const maxJSONataNesting = 100

// jexpr is one compiled "{% ... %}" expression.
type jexpr struct {
	src  string
	e    *jsonata.Expr
	uses []string // the Step Functions functions and guards it calls
}

// isJSONataString reports whether s is an expression: "{%" first and
// "%}" last, with no space around them.
func isJSONataString(s string) bool {
	return len(s) >= 4 && strings.HasPrefix(s, "{%") && strings.HasSuffix(s, "%}")
}

// compileJSONata compiles the body of a "{% ... %}" string.
func compileJSONata(s string) (*jexpr, error) {
	body := strings.TrimSpace(s[2 : len(s)-2])
	if body == "" {
		return nil, errors.New("the expression is empty")
	}
	depth, most := 0, 0
	for _, c := range body {
		switch c {
		case '(', '[', '{':
			depth++
			most = max(most, depth)
		case ')', ']', '}':
			depth--
		}
	}
	if most > maxJSONataNesting {
		return nil, fmt.Errorf("the expression nests more than %d levels deep", maxJSONataNesting)
	}
	e, uses, err := compileGuarded(body)
	if err != nil {
		return nil, err
	}
	return &jexpr{src: s, e: e, uses: uses}, nil
}

// compileGuarded guards and compiles an expression, turning a panic in
// the library's parser (the fuzz test finds some) into an error.
func compileGuarded(body string) (e *jsonata.Expr, uses []string, err error) {
	defer func() {
		if p := recover(); p != nil {
			e, err = nil, fmt.Errorf("the expression cannot be parsed: %v", p)
		}
	}()
	guarded, uses, err := guard(body)
	if err != nil {
		return nil, nil, err
	}
	e, err = jsonata.Compile(guarded)
	return e, uses, err
}

// jtmpl is a JSONata template (Arguments, Output, Assign, ItemSelector,
// Items): JSON in which any string "{% ... %}", at any depth, is an
// expression.
type jtmpl struct {
	lit    any
	isLit  bool
	expr   *jexpr
	fields []jfield
	items  []*jtmpl
	isArr  bool
}

type jfield struct {
	key string
	val *jtmpl
}

func (p *parser) jsonataTmpl(b json.RawMessage, loc, field string) *jtmpl {
	v, err := decodeJSON(b)
	if err != nil {
		p.schema(loc, "The field '%s' must be JSON", field)
		return nil
	}
	return p.compileJT(v, loc, field, 0)
}

func (p *parser) compileJT(v any, loc, field string, depth int) *jtmpl {
	if depth > 64 {
		p.schema(loc, "The field '%s' nests too deeply", field)
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		t := &jtmpl{}
		for _, k := range sortedKeys(x) {
			t.fields = append(t.fields, jfield{k, p.compileJT(x[k], loc+"/"+k, field, depth+1)})
		}
		return t
	case []any:
		t := &jtmpl{isArr: true}
		for i, e := range x {
			t.items = append(t.items, p.compileJT(e, fmt.Sprintf("%s[%d]", loc, i), field, depth+1))
		}
		return t
	case string:
		if isJSONataString(x) {
			return &jtmpl{expr: p.jexpr(x, loc, field)}
		}
	}
	return &jtmpl{lit: v, isLit: true}
}

// jexpr compiles one expression field, reporting a bad one.
func (p *parser) jexpr(s, loc, field string) *jexpr {
	e, err := compileJSONata(s)
	if err != nil {
		p.schema(loc, "The field '%s' holds an invalid JSONata expression: %v", field, err)
		return nil
	}
	return e
}

// jenv is what a JSONata state's expressions see.
type jenv struct {
	input                  any
	result, errorOutput    any
	hasResult, hasErrorOut bool
	ctx                    map[string]any
	vars                   *scope
	rand                   func() uint64
	now                    time.Time
	bound                  map[string]any // the variables as JSONata sees them; built on first use

	// The evaluation's budget (see guard and jsonata_budget.go).
	depth, calls int
	rangeItems   float64
	budget       jbudget
}

func (e *jenv) setResult(v any) { e.result, e.hasResult, e.bound = v, true, nil }

func (e *jenv) setError(f *Failure) {
	e.errorOutput, e.hasErrorOut, e.bound = map[string]any{"Error": f.Name, "Cause": f.Cause}, true, nil
	e.hasResult, e.result = false, nil
}

func (e *jenv) binding() map[string]any {
	if e.bound != nil {
		return e.bound
	}
	states := map[string]any{"input": toJSONata(e.input), "context": toJSONata(e.ctx)}
	if e.hasResult {
		states["result"] = toJSONata(e.result)
	}
	if e.hasErrorOut {
		states["errorOutput"] = toJSONata(e.errorOutput)
	}
	m := map[string]any{}
	for k, v := range e.vars.all() {
		m[k] = toJSONata(v)
	}
	m["states"] = states
	e.bound = m
	return m
}

// queryError is States.QueryEvaluationError.
func queryError(field, src string, format string, args ...any) *Failure {
	return &Failure{Name: ErrQueryEvaluationError, Cause: fmt.Sprintf("An error occurred while evaluating the JSONata expression '%s' in the field '%s': %s",
		src, field, fmt.Sprintf(format, args...))}
}

// jsonataEvalMu makes JSONata evaluations one at a time. The library's
// built-in functions are shared callables that every call writes to
// (evalFunctionCall sets their name and context), so two evaluations at
// once race, whatever Expr they belong to (a Map's iterations evaluate
// concurrently). Each evaluation is bounded by the guard and the budget,
// so none holds the lock for long.
var jsonataEvalMu sync.Mutex

// eval evaluates one expression; field names it in errors.
func (x *jexpr) eval(env *jenv, field string) (out any, err error) {
	cp := *x.e // the compiled Expr's registry stays nil: a copy is private to this evaluation
	if err := cp.RegisterVars(env.binding()); err != nil {
		return nil, queryError(field, x.src, "%v", err)
	}
	if len(x.uses) > 0 {
		var aws, v2, bud map[string]jsonata.Extension
		exts := make(map[string]jsonata.Extension, len(x.uses))
		for _, n := range x.uses {
			switch {
			case jsonata2Names[n]:
				if v2 == nil {
					v2 = jsonata2Functions(env, field, x.src)
				}
				exts[n] = v2[n]
			case awsFunctionNames[n] || n == guardEnter || n == guardExit || n == guardRange:
				if aws == nil {
					aws = awsFunctions(env, field, x.src)
				}
				exts[n] = aws[n]
			default:
				if bud == nil {
					bud = budgetFunctions(env, field, x.src)
				}
				exts[n] = bud[n]
			}
		}
		if err := cp.RegisterExts(exts); err != nil {
			return nil, queryError(field, x.src, "%v", err)
		}
	}
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, queryError(field, x.src, "%v", p)
		}
	}()
	v, err := func() (any, error) {
		jsonataEvalMu.Lock()
		defer jsonataEvalMu.Unlock() // also when the library panics
		return cp.Eval(nil)
	}()
	var f *Failure
	switch {
	case errors.As(err, &f):
		return nil, f
	case errors.Is(err, jsonata.ErrUndefined):
		return nil, queryError(field, x.src, "the expression returned nothing (undefined)")
	case err != nil:
		return nil, queryError(field, x.src, "%v", err)
	}
	if n := jsonSize(reflect.ValueOf(v), maxJSONataString); n > maxJSONataString {
		return nil, &Failure{Name: ErrDataLimitExceeded, Cause: fmt.Sprintf("The JSONata expression '%s' in the field '%s' returned a value larger than %d bytes.", truncate(x.src, 256), field, maxJSONataString)}
	}
	res, cerr := fromJSONata(v)
	if cerr != nil {
		return nil, queryError(field, x.src, "the result is not JSON: %v", cerr)
	}
	return res, nil
}

// eval builds the template's value.
func (t *jtmpl) eval(env *jenv, field string) (any, error) {
	switch {
	case t == nil:
		return nil, nil
	case t.isLit:
		return t.lit, nil
	case t.expr != nil:
		return t.expr.eval(env, field)
	case t.isArr:
		out := make([]any, len(t.items))
		for i, it := range t.items {
			v, err := it.eval(env, field)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	out := make(map[string]any, len(t.fields))
	for _, f := range t.fields {
		v, err := f.val.eval(env, field)
		if err != nil {
			return nil, err
		}
		out[f.key] = v
	}
	return out, nil
}

// toJSONata converts a decoded JSON value (json.Number numbers) to the
// library's float64 numbers.
func toJSONata(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = toJSONata(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = toJSONata(e)
		}
		return a
	}
	return v
}

// fromJSONata converts a result back to a decoded JSON value. Functions
// and other values JSON cannot hold are refused.
func fromJSONata(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return decodeJSON(b)
}

// awsFunctions are the functions Step Functions adds to JSONata, bound
// to one evaluation's environment. Each reuses its intrinsic's
// implementation on exact JSON values.
func awsFunctions(env *jenv, field, src string) map[string]jsonata.Extension {
	intr := func(name string, args ...any) (any, error) {
		conv := make([]any, len(args))
		for i, a := range args {
			c, err := fromJSONata(a)
			if err != nil {
				return nil, queryError(field, src, "%s: %v", name, err)
			}
			conv[i] = c
		}
		v, err := callIntrinsic(name, conv, &intrinsicEnv{rand: env.rand})
		var f *Failure
		if errors.As(err, &f) {
			return nil, queryError(field, src, "%s", f.Cause)
		}
		if err != nil {
			return nil, err
		}
		return toJSONata(v), nil
	}
	ms := env.now.UnixMilli()
	return map[string]jsonata.Extension{
		"partition": {Func: func(arr, size any) (any, error) {
			if _, ok := arr.([]any); !ok {
				arr = []any{arr}
			}
			return intr("States.ArrayPartition", arr, size)
		}},
		"range": {Func: func(start, end, step any) (any, error) {
			return intr("States.ArrayRange", start, end, step)
		}},
		"hash": {Func: func(data, alg any) (any, error) {
			return intr("States.Hash", data, alg)
		}},
		"uuid":  {Func: func() (any, error) { return intr("States.UUID") }},
		"parse": {Func: func(s string) (any, error) { return intr("States.StringToJson", s) }},
		"random": {Func: func(seed jtypes.OptionalInterface) (float64, error) {
			next := env.rand
			if seed.IsSet() {
				h := uint64(0x9e3779b97f4a7c15)
				for _, c := range []byte(fmt.Sprint(seed.Interface)) {
					h = splitmix(h ^ uint64(c))
				}
				next = func() uint64 { h = splitmix(h); return h }
			}
			return float64(next()>>11) / float64(1<<53), nil
		}},
		"assert": {Func: func(cond bool, msg jtypes.OptionalString) (any, error) {
			if !cond {
				m := "$assert() statement failed"
				if msg.IsSet() {
					m = msg.String
				}
				return nil, queryError(field, src, "%s", m)
			}
			return nil, nil
		}},
		"millis": {Func: func() float64 { return float64(ms) }},
		guardEnter: {Func: func() (bool, error) {
			env.calls++
			env.depth++
			if env.depth > maxJSONataDepth || env.calls > maxJSONataCalls {
				return false, queryError(field, src, "the expression's functions recurse deeper than %d or are called more than %d times", maxJSONataDepth, maxJSONataCalls)
			}
			return true, nil
		}},
		guardExit: {Func: func(_ bool, v reflect.Value) (any, error) {
			env.depth--
			if !v.IsValid() {
				return nil, jtypes.ErrUndefined
			}
			return v.Interface(), nil
		}},
		guardRange: {Func: func(lo, hi float64) (float64, error) {
			if hi >= lo {
				env.rangeItems += hi - lo + 1
			}
			if env.rangeItems > maxJSONataRangeItems {
				return 0, queryError(field, src, "the expression's ranges hold more than %d items", maxJSONataRangeItems)
			}
			return hi, nil
		}},
		"now": {Func: func(picture, tz jtypes.OptionalString) (string, error) {
			if !picture.IsSet() && !tz.IsSet() {
				return env.now.UTC().Format("2006-01-02T15:04:05.000Z"), nil
			}
			return jlib.FromMillis(ms, picture, tz)
		}},
	}
}
