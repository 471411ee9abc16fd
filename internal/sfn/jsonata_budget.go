package sfn

import (
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	jsonata "github.com/blues/jsonata-go"
	"github.com/blues/jsonata-go/jlib"
	"github.com/blues/jsonata-go/jtypes"
)

// The memory budget of one JSONata evaluation. The library allocates
// without limit: $pad("", 1e9) asks for a gigabyte, $join or $string of
// an array holding one value a million times builds a million copies,
// and a path step over such an array flattens them all. guard therefore
// replaces the built-ins whose output can be larger than what they are
// given with budgeted versions (renamed $__<name>), wraps every string
// concatenation and every path step after the first in a check, and
// eval measures the final value before turning it into JSON. A value
// may be shared many times inside a JSONata value (arrays of the same
// array), so sizes are measured as JSON would spell them, stopping as
// soon as the limit is passed (the walk costs at most the limit).
//
// Each built string is at most maxJSONataString bytes and each built
// array at most maxJSONataItems items; what an evaluation builds in all
// (string bytes, 16 bytes an array item) is at most maxJSONataBytes.
// Past a limit the evaluation fails with States.QueryEvaluationError.
const (
	maxJSONataString  = 8 << 20
	maxJSONataItems   = 1 << 20
	maxJSONataBytes   = 32 << 20
	maxJSONataMatches = 100000
	itemBytes         = 16

	guardItems  = "__items"
	guardConcat = "__cat"
)

// budgetedBuiltins are the built-ins guard renames to their budgeted
// versions ("pad" -> "__pad").
var budgetedBuiltins = map[string]bool{"string": true, "pad": true, "join": true, "replace": true, "split": true,
	"match": true, "contains": true, "append": true, "zip": true, "spread": true, "lookup": true}

// jbudget is what one evaluation has built so far.
type jbudget struct {
	bytes   int64
	matches int
}

func (e *jenv) fail(field, src, format string, args ...any) error {
	return queryError(field, src, format, args...)
}

// charge counts n bytes built.
func (e *jenv) charge(field, src string, n int) error {
	e.budget.bytes += int64(n)
	if e.budget.bytes > maxJSONataBytes {
		return e.fail(field, src, "the expression builds more than %d bytes of strings and arrays", maxJSONataBytes)
	}
	return nil
}

func (e *jenv) chargeString(field, src string, n int) error {
	if n > maxJSONataString {
		return e.fail(field, src, "the expression builds a string longer than %d bytes", maxJSONataString)
	}
	return e.charge(field, src, n)
}

func (e *jenv) chargeItems(field, src string, n int) error {
	if n > maxJSONataItems {
		return e.fail(field, src, "the expression builds an array of more than %d items", maxJSONataItems)
	}
	return e.charge(field, src, n*itemBytes)
}

// jsonSize is the length of v spelled as JSON, or limit+1 once it is
// known to be longer than limit (or nested deeper than maxJSONDepth).
func jsonSize(v reflect.Value, limit int) int {
	n := 0
	var walk func(v reflect.Value, depth int)
	walk = func(v reflect.Value, depth int) {
		if n > limit {
			return
		}
		if depth > maxJSONDepth {
			n = limit + 1
			return
		}
		for v.IsValid() && (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) {
			if v.IsNil() {
				n += 4
				return
			}
			if v.Kind() == reflect.Pointer && v.Elem().Kind() != reflect.Struct {
				v = v.Elem()
				continue
			}
			if v.Kind() == reflect.Interface {
				v = v.Elem()
				continue
			}
			break
		}
		if !v.IsValid() {
			n += 4
			return
		}
		switch v.Kind() {
		case reflect.String:
			n += v.Len() + 2
		case reflect.Slice, reflect.Array:
			n += 2
			for i := 0; i < v.Len() && n <= limit; i++ {
				n++
				walk(v.Index(i), depth+1)
			}
		case reflect.Map:
			n += 2
			it := v.MapRange()
			for it.Next() && n <= limit {
				n += 4
				walk(it.Key(), depth+1)
				walk(it.Value(), depth+1)
			}
		case reflect.Pointer, reflect.Struct:
			// The library's sequences are pointers to structs holding a
			// slice of values.
			s := v
			if s.Kind() == reflect.Pointer {
				s = s.Elem()
			}
			for i := range s.NumField() {
				if f := s.Field(i); f.Kind() == reflect.Slice {
					walk(f, depth)
				}
			}
		default:
			n += 24
		}
	}
	walk(v, 0)
	return n
}

// maxJSONDepth bounds how deep a JSONata value may nest when it is
// measured or turned into JSON.
const maxJSONDepth = 2000

// itemCount is the number of items a step's value adds to a path.
func itemCount(v reflect.Value) int {
	v = jtypes.Resolve(v)
	if !v.IsValid() {
		return 0
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		return v.Len()
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.Kind() == reflect.Slice {
				return f.Len()
			}
		}
	}
	return 1
}

// stringOr is sc's string, or false when it is a regex.
func stringOr(sc jlib.StringCallable) (string, bool) {
	v := reflect.Value(sc)
	if v.IsValid() && v.CanInterface() {
		s, ok := v.Interface().(string)
		return s, ok
	}
	return "", false
}

// countedRegex wraps a regex (a Callable that returns a match object
// whose "next" field finds the next match) so each match found counts
// towards the evaluation's maxJSONataMatches.
type countedRegex struct {
	jtypes.Callable
	env        *jenv
	field, src string
}

func (c *countedRegex) Call(argv []reflect.Value) (reflect.Value, error) {
	res, err := c.Callable.Call(argv)
	if err != nil || !res.IsValid() {
		return res, err
	}
	c.env.budget.matches++
	if c.env.budget.matches > maxJSONataMatches {
		return reflect.Value{}, c.env.fail(c.field, c.src, "the expression's regular expressions match more than %d times", maxJSONataMatches)
	}
	m := jtypes.Resolve(res)
	if m.Kind() != reflect.Map {
		return res, nil
	}
	out := make(map[string]any, m.Len())
	it := m.MapRange()
	for it.Next() {
		out[it.Key().String()] = it.Value().Interface()
	}
	if next, ok := jtypes.AsCallable(m.MapIndex(reflect.ValueOf("next"))); ok {
		out["next"] = &countedRegex{Callable: next, env: c.env, field: c.field, src: c.src}
	}
	return reflect.ValueOf(out), nil
}

// counted returns sc with a regex wrapped in countedRegex.
func (e *jenv) counted(sc jlib.StringCallable, field, src string) jlib.StringCallable {
	v := reflect.Value(sc)
	if !v.IsValid() || !v.CanInterface() {
		return sc
	}
	if c, ok := v.Interface().(jtypes.Callable); ok {
		return jlib.StringCallable(reflect.ValueOf(jtypes.Callable(&countedRegex{Callable: c, env: e, field: field, src: src})))
	}
	return sc
}

// budgetFunctions are the budgeted built-ins and the checks guard
// inserts, bound to one evaluation.
func budgetFunctions(env *jenv, field, src string) map[string]jsonata.Extension {
	str := func(s string, err error) (string, error) {
		if err != nil {
			return "", err
		}
		if err := env.chargeString(field, src, len(s)); err != nil {
			return "", err
		}
		return s, nil
	}
	undefined0 := jtypes.ArgUndefined(0)
	noArgs := jtypes.ArgCountEquals(0)
	return map[string]jsonata.Extension{
		"__string": {Func: func(v any) (string, error) {
			if n := jsonSize(reflect.ValueOf(v), maxJSONataString); n > maxJSONataString {
				return "", env.fail(field, src, "$string's result would be longer than %d bytes", maxJSONataString)
			}
			return str(jlib.String(v))
		}, UndefinedHandler: undefined0, EvalContextHandler: noArgs},
		"__pad": {Func: func(s string, width int, chars jtypes.OptionalString) (string, error) {
			w := width
			if w < 0 {
				w = -w
			}
			rl := 1
			for _, r := range chars.String {
				rl = max(rl, utf8.RuneLen(r))
			}
			if w > maxJSONataString || w*rl > maxJSONataString {
				return "", env.fail(field, src, "$pad's width %d would build a string longer than %d bytes", width, maxJSONataString)
			}
			return str(jlib.Pad(s, width, chars), nil)
		}, UndefinedHandler: undefined0, EvalContextHandler: func(argv []reflect.Value) bool {
			switch len(argv) {
			case 1:
				return jtypes.IsNumber(argv[0])
			case 2:
				return jtypes.IsNumber(argv[0]) && jtypes.IsString(argv[1])
			}
			return false
		}},
		"__join": {Func: func(values reflect.Value, sep jtypes.OptionalString) (string, error) {
			if a := jtypes.Resolve(values); a.Kind() == reflect.Slice || a.Kind() == reflect.Array {
				n := 0
				for i := 0; i < a.Len() && n <= maxJSONataString; i++ {
					if s, ok := jtypes.AsString(a.Index(i)); ok {
						n += len(s)
					}
					if i > 0 {
						n += len(sep.String)
					}
				}
				if n > maxJSONataString {
					return "", env.fail(field, src, "$join's result would be longer than %d bytes", maxJSONataString)
				}
			}
			return str(jlib.Join(values, sep))
		}, UndefinedHandler: undefined0},
		"__replace": {Func: func(s string, pattern, repl jlib.StringCallable, limit jtypes.OptionalInt) (string, error) {
			return str(env.replace(field, src, s, pattern, repl, limit))
		}, UndefinedHandler: undefined0, EvalContextHandler: func(argv []reflect.Value) bool {
			switch len(argv) {
			case 2:
				return stringOrCallable(argv[0]) && stringOrCallable(argv[1])
			case 3:
				return stringOrCallable(argv[0]) && stringOrCallable(argv[1]) && jtypes.IsNumber(argv[2])
			}
			return false
		}},
		"__split": {Func: func(s string, sep jlib.StringCallable, limit jtypes.OptionalInt) ([]string, error) {
			if sepStr, ok := stringOr(sep); ok {
				n := strings.Count(s, sepStr) + 1
				if limit.IsSet() && limit.Int >= 0 {
					n = min(n, limit.Int)
				}
				if err := env.chargeItems(field, src, n); err != nil {
					return nil, err
				}
			}
			parts, err := jlib.Split(s, env.counted(sep, field, src), limit)
			if err != nil {
				return nil, err
			}
			return parts, env.chargeItems(field, src, len(parts))
		}, UndefinedHandler: undefined0, EvalContextHandler: func(argv []reflect.Value) bool {
			switch len(argv) {
			case 1:
				return stringOrCallable(argv[0])
			case 2:
				return stringOrCallable(argv[0]) && jtypes.IsNumber(argv[1])
			}
			return false
		}},
		"__match": {Func: func(s string, pattern jtypes.Callable, limit jtypes.OptionalInt) ([]map[string]any, error) {
			return jlib.Match(s, &countedRegex{Callable: pattern, env: env, field: field, src: src}, limit)
		}, UndefinedHandler: undefined0, EvalContextHandler: func(argv []reflect.Value) bool {
			switch len(argv) {
			case 1:
				return jtypes.IsCallable(argv[0])
			case 2:
				return jtypes.IsCallable(argv[0]) && jtypes.IsNumber(argv[1])
			}
			return false
		}},
		"__contains": {Func: func(s string, pattern jlib.StringCallable) (bool, error) {
			return jlib.Contains(s, env.counted(pattern, field, src))
		}, UndefinedHandler: undefined0, EvalContextHandler: jtypes.ArgCountEquals(1)},
		"__append": {Func: func(a, b reflect.Value) (any, error) {
			if err := env.chargeItems(field, src, itemCount(a)+itemCount(b)); err != nil {
				return nil, err
			}
			return jlib.Append(a, b)
		}, UndefinedHandler: func(argv []reflect.Value) bool {
			return len(argv) == 2 && !argv[0].IsValid() && !argv[1].IsValid()
		}},
		"__zip": {Func: func(vs ...reflect.Value) (any, error) {
			n := -1
			for _, v := range vs {
				if c := itemCount(v); n < 0 || c < n {
					n = c
				}
			}
			if err := env.chargeItems(field, src, max(n, 0)*(len(vs)+1)); err != nil {
				return nil, err
			}
			return jlib.Zip(vs...)
		}},
		"__spread": {Func: func(v reflect.Value) (any, error) {
			n := 0
			if a := jtypes.Resolve(v); a.Kind() == reflect.Slice || a.Kind() == reflect.Array {
				for i := 0; i < a.Len() && n <= maxJSONataItems; i++ {
					n += fanout(a.Index(i))
				}
			} else {
				n = fanout(v)
			}
			if err := env.chargeItems(field, src, 2*n); err != nil {
				return nil, err
			}
			return jlib.Spread(v)
		}, UndefinedHandler: undefined0, EvalContextHandler: noArgs},
		"__lookup": {Func: func(v reflect.Value, key string) (any, error) {
			return env.lookup(field, src, v, key)
		}, UndefinedHandler: undefined0, EvalContextHandler: noArgs},
		guardConcat: {Func: func(s string) (string, error) {
			return str(s, nil)
		}},
		guardItems: {Func: func(v reflect.Value) (any, error) {
			if !v.IsValid() {
				return nil, jtypes.ErrUndefined
			}
			if err := env.chargeItems(field, src, itemCount(v)); err != nil {
				return nil, err
			}
			return v.Interface(), nil
		}},
	}
}

// fanout is how many values an object (its keys) or other value adds.
func fanout(v reflect.Value) int {
	v = jtypes.Resolve(v)
	if v.Kind() == reflect.Map {
		return v.Len()
	}
	return 1
}

func stringOrCallable(v reflect.Value) bool { return jtypes.IsString(v) || jtypes.IsCallable(v) }

// replace is $replace with its output bounded: a string pattern's
// replacements are counted before they are made, and a regex's are
// made into one builder (the library rebuilds the whole string once a
// match).
func (e *jenv) replace(field, src, s string, pattern, repl jlib.StringCallable, limit jtypes.OptionalInt) (string, error) {
	if limit.Int < 0 {
		return "", fmt.Errorf("fourth argument of function replace must evaluate to a positive number")
	}
	if p, ok := stringOr(pattern); ok {
		r, rok := stringOr(repl)
		if p == "" || !rok {
			return jlib.Replace(s, pattern, repl, limit)
		}
		n := strings.Count(s, p)
		if limit.IsSet() {
			n = min(n, limit.Int)
		}
		if len(s)+n*(len(r)-len(p)) > maxJSONataString {
			return "", e.fail(field, src, "$replace's result would be longer than %d bytes", maxJSONataString)
		}
		return jlib.Replace(s, pattern, repl, limit)
	}
	re, ok := reflect.Value(pattern).Interface().(jtypes.Callable)
	if !ok {
		return jlib.Replace(s, pattern, repl, limit)
	}
	ms, err := jlib.Match(s, &countedRegex{Callable: re, env: e, field: field, src: src}, limit)
	if err != nil {
		return "", err
	}
	rs, isStr := stringOr(repl)
	var fn jtypes.Callable
	if !isStr {
		if fn, ok = reflect.Value(repl).Interface().(jtypes.Callable); !ok {
			return "", fmt.Errorf("third argument of function replace must be a string or a function")
		}
	}
	var b strings.Builder
	pos := 0
	for _, m := range ms {
		match, _ := m["match"].(string)
		at, _ := m["index"].(int)
		if at < pos || at+len(match) > len(s) {
			continue
		}
		var r string
		if fn != nil {
			v, err := fn.Call([]reflect.Value{reflect.ValueOf(m)})
			if err != nil {
				return "", err
			}
			if r, ok = jtypes.AsString(v); !ok {
				return "", fmt.Errorf("third argument of function replace must be a function that returns a string")
			}
		} else {
			groups, _ := m["groups"].([]string)
			r = expandReplacement(rs, match, groups)
		}
		if b.Len()+at-pos+len(r) > maxJSONataString {
			return "", e.fail(field, src, "$replace's result would be longer than %d bytes", maxJSONataString)
		}
		b.WriteString(s[pos:at])
		b.WriteString(r)
		pos = at + len(match)
	}
	if b.Len()+len(s)-pos > maxJSONataString {
		return "", e.fail(field, src, "$replace's result would be longer than %d bytes", maxJSONataString)
	}
	b.WriteString(s[pos:])
	return b.String(), nil
}

// expandReplacement spells a replacement string: $0 is the match, $N
// the Nth group (the longest number naming a group; a group past the
// last is empty), $$ a dollar sign.
func expandReplacement(r, match string, groups []string) string {
	if !strings.Contains(r, "$") {
		return r
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(r, '$')
		if i < 0 {
			b.WriteString(r)
			return b.String()
		}
		b.WriteString(r[:i])
		r = r[i+1:]
		switch {
		case r == "":
			b.WriteByte('$')
			return b.String()
		case r[0] == '$':
			b.WriteByte('$')
			r = r[1:]
		case r[0] == '0':
			b.WriteString(match)
			r = r[1:]
		case r[0] >= '1' && r[0] <= '9':
			j := 0
			for j < len(r) && r[j] >= '0' && r[j] <= '9' {
				j++
			}
			// The longest prefix of the digits that names a group.
			k, g := j, -1
			for ; k > 0; k-- {
				n := 0
				for _, c := range r[:k] {
					n = n*10 + int(c-'0')
				}
				if n >= 1 && n <= len(groups) {
					g = n
					break
				}
			}
			if g < 0 {
				r = r[1:]
				continue
			}
			b.WriteString(groups[g-1])
			r = r[k:]
		default:
			b.WriteByte('$')
		}
	}
}

// lookup is $lookup: the key's value in an object, or the values in
// an array's objects (arrays among them flattened), bounded.
func (e *jenv) lookup(field, src string, v reflect.Value, key string) (any, error) {
	v = jtypes.Resolve(v)
	k := reflect.ValueOf(key)
	if v.Kind() == reflect.Map {
		f := v.MapIndex(k)
		if !f.IsValid() || !f.CanInterface() {
			return nil, jtypes.ErrUndefined
		}
		return f.Interface(), nil
	}
	if v.Kind() != reflect.Slice && v.Kind() != reflect.Array {
		return nil, jtypes.ErrUndefined
	}
	n := 0
	for i := 0; i < v.Len() && n <= maxJSONataItems; i++ {
		if x := jtypes.Resolve(v.Index(i)); x.Kind() == reflect.Map {
			n += itemCount(x.MapIndex(k))
		}
	}
	if err := e.chargeItems(field, src, n); err != nil {
		return nil, err
	}
	var out []any
	for i := range v.Len() {
		x := jtypes.Resolve(v.Index(i))
		if x.Kind() != reflect.Map {
			continue
		}
		f := jtypes.Resolve(x.MapIndex(k))
		switch {
		case !f.IsValid():
		case f.Kind() == reflect.Slice || f.Kind() == reflect.Array:
			for j := range f.Len() {
				if it := f.Index(j); it.IsValid() && it.CanInterface() {
					out = append(out, it.Interface())
				}
			}
		case f.CanInterface():
			out = append(out, f.Interface())
		}
	}
	switch len(out) {
	case 0:
		return nil, jtypes.ErrUndefined
	case 1:
		return out[0], nil
	}
	return out, nil
}
