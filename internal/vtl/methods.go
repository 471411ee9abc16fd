package vtl

import (
	"regexp"
	"strings"
	"unicode/utf16"
)

// property is $v.name: a map's entry, an object's property, or a Java
// bean getter templates use (isEmpty as .empty, getKey as .key).
func property(v any, name string) any {
	switch x := v.(type) {
	case *Map:
		r, _ := x.Get(name)
		return r
	case object:
		r, _ := x.prop(name)
		return r
	case *entry:
		switch name {
		case "key":
			return x.key
		case "value":
			return x.val
		}
	case *List:
		if name == "empty" {
			return len(x.Items) == 0
		}
	case string:
		if name == "empty" {
			return x == ""
		}
	}
	return nil
}

// method is $v.name(args): the Java methods of strings, lists, maps and
// numbers that templates call, and the objects' own. An unknown method
// is null, as Velocity makes it; a call Java would throw on fails the
// template.
func (s *state) method(v any, name string, args []any) (any, error) {
	switch x := v.(type) {
	case object:
		return x.call(s, name, args)
	case string:
		return stringMethod(x, name, args)
	case *List:
		return s.listMethod(x, name, args)
	case *Map:
		return s.mapMethod(x, name, args)
	case *entry:
		switch name {
		case "getKey":
			return x.key, nil
		case "getValue":
			return x.val, nil
		case "toString":
			return String(x), nil
		}
	case int64, float64, bool:
		switch name {
		case "toString":
			return String(x), nil
		case "equals":
			if len(args) == 1 {
				return equal(x, args[0]) && isNumber(x) == isNumber(args[0]), nil
			}
		case "intValue", "longValue":
			if f, ok := toFloat(x); ok {
				return int64(f), nil
			}
		case "doubleValue", "floatValue":
			if f, ok := toFloat(x); ok {
				return f, nil
			}
		}
	}
	return nil, nil
}

// javaLen and the index helpers count UTF-16 code units, as Java strings do.
func utf16Of(s string) []uint16   { return utf16.Encode([]rune(s)) }
func fromUTF16(u []uint16) string { return string(utf16.Decode(u)) }

func argString(args []any, i int) (string, bool) {
	if i >= len(args) || args[i] == nil {
		return "", false
	}
	return String(args[i]), true
}

func argInt(args []any, i int) (int, bool) {
	if i >= len(args) {
		return 0, false
	}
	n, ok := toInt(args[i])
	if !ok || n < -1<<31 || n > 1<<31-1 {
		return 0, false
	}
	return int(n), true
}

func bounded(s string) (any, error) {
	if len(s) > MaxOutput {
		return nil, limitErr("string is larger than %d bytes", MaxOutput)
	}
	return s, nil
}

func stringMethod(x string, name string, args []any) (any, error) {
	switch name {
	case "length":
		return int64(len(utf16Of(x))), nil
	case "isEmpty":
		return x == "", nil
	case "toString", "trim", "toUpperCase", "toLowerCase", "strip":
		switch name {
		case "trim", "strip":
			return strings.TrimSpace(x), nil
		case "toUpperCase":
			return strings.ToUpper(x), nil
		case "toLowerCase":
			return strings.ToLower(x), nil
		}
		return x, nil
	case "equals", "equalsIgnoreCase", "contains", "startsWith", "endsWith", "indexOf", "lastIndexOf", "concat", "matches", "split":
		a, ok := argString(args, 0)
		if !ok {
			if name == "equals" || name == "equalsIgnoreCase" {
				return false, nil
			}
			return nil, evalError("%s() needs an argument", name)
		}
		switch name {
		case "equals":
			return isString(args[0]) && x == a, nil
		case "equalsIgnoreCase":
			return strings.EqualFold(x, a), nil
		case "contains":
			return strings.Contains(x, a), nil
		case "startsWith":
			return strings.HasPrefix(x, a), nil
		case "endsWith":
			return strings.HasSuffix(x, a), nil
		case "indexOf", "lastIndexOf":
			u, ua := utf16Of(x), utf16Of(a)
			i := lastIndexU16(u, ua)
			if name == "indexOf" {
				i = indexU16(u, ua)
			}
			return int64(i), nil
		case "concat":
			return bounded(x + a)
		case "matches":
			re, err := javaRegexp("^(?:" + a + ")$")
			if err != nil {
				return nil, err
			}
			return re.MatchString(x), nil
		case "split":
			re, err := javaRegexp(a)
			if err != nil {
				return nil, err
			}
			parts := re.Split(x, -1)
			if len(parts) > 1 && x != "" {
				// Java drops trailing empty strings.
				for len(parts) > 0 && parts[len(parts)-1] == "" {
					parts = parts[:len(parts)-1]
				}
			}
			l := &List{Items: make([]any, len(parts))}
			for i, p := range parts {
				l.Items[i] = p
			}
			return l, nil
		}
	case "charAt":
		i, ok := argInt(args, 0)
		u := utf16Of(x)
		if !ok || i < 0 || i >= len(u) {
			return nil, evalError("String index out of range: %v", args)
		}
		return fromUTF16(u[i : i+1]), nil
	case "substring":
		u := utf16Of(x)
		b, ok := argInt(args, 0)
		e := len(u)
		if len(args) > 1 {
			var ok2 bool
			e, ok2 = argInt(args, 1)
			ok = ok && ok2
		}
		if !ok || b < 0 || e > len(u) || b > e {
			return nil, evalError("String index out of range in substring")
		}
		return fromUTF16(u[b:e]), nil
	case "replace", "replaceAll", "replaceFirst":
		a, ok1 := argString(args, 0)
		b, ok2 := argString(args, 1)
		if !ok1 || !ok2 {
			return nil, evalError("%s() needs two arguments", name)
		}
		if name == "replace" {
			if a == "" && len(x)*(len(b)+1) > MaxOutput {
				return nil, limitErr("string is larger than %d bytes", MaxOutput)
			}
			return bounded(strings.ReplaceAll(x, a, b))
		}
		re, err := javaRegexp(a)
		if err != nil {
			return nil, err
		}
		repl := javaReplacement(b)
		if name == "replaceFirst" {
			done := false
			return bounded(re.ReplaceAllStringFunc(x, func(m string) string {
				if done {
					return m
				}
				done = true
				return re.ReplaceAllString(m, repl)
			}))
		}
		if n := len(re.FindAllStringIndex(x, -1)); n*(len(b)+1)+len(x) > MaxOutput {
			return nil, limitErr("string is larger than %d bytes", MaxOutput)
		}
		return bounded(re.ReplaceAllString(x, repl))
	case "hashCode":
		var h int32
		for _, c := range utf16Of(x) {
			h = 31*h + int32(c)
		}
		return int64(h), nil
	}
	return nil, nil
}

func indexU16(h, n []uint16) int {
	for i := 0; i+len(n) <= len(h); i++ {
		if equalU16(h[i:i+len(n)], n) {
			return i
		}
	}
	return -1
}

func lastIndexU16(h, n []uint16) int {
	for i := len(h) - len(n); i >= 0; i-- {
		if equalU16(h[i:i+len(n)], n) {
			return i
		}
	}
	return -1
}

func equalU16(a, b []uint16) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// javaRegexp compiles a java.util.regex pattern with Go's RE2 (linear
// time, so a template cannot backtrack forever); the few Java constructs
// RE2 lacks (backreferences, lookaround) fail the template.
func javaRegexp(p string) (*regexp.Regexp, error) {
	if len(p) > 4096 {
		return nil, evalError("regular expression too long")
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, evalError("bad regular expression %q", p)
	}
	return re, nil
}

// javaReplacement turns Java's $1 and \$ in a replacement into Go's ${1}
// and $$.
func javaReplacement(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			if s[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(s[i])
			}
		case c == '$':
			j := i + 1
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			b.WriteString("${" + s[i+1:j] + "}")
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

const maxCollection = MaxLoop * 100

func (s *state) listMethod(x *List, name string, args []any) (any, error) {
	switch name {
	case "size":
		return int64(len(x.Items)), nil
	case "isEmpty":
		return len(x.Items) == 0, nil
	case "get":
		i, ok := argInt(args, 0)
		if !ok || i < 0 || i >= len(x.Items) {
			return nil, evalError("Index out of bounds in get(%v)", args)
		}
		return x.Items[i], nil
	case "contains":
		if len(args) == 1 {
			for _, it := range x.Items {
				if equal(it, args[0]) {
					return true, nil
				}
			}
			return false, nil
		}
	case "indexOf":
		if len(args) == 1 {
			for i, it := range x.Items {
				if equal(it, args[0]) {
					return int64(i), nil
				}
			}
			return int64(-1), nil
		}
	case "add":
		if len(x.Items) >= maxCollection {
			return nil, limitErr("list has more than %d items", maxCollection)
		}
		if len(args) == 1 {
			x.Items = append(x.Items, args[0])
			return true, nil
		}
		if i, ok := argInt(args, 0); ok && len(args) == 2 && i >= 0 && i <= len(x.Items) {
			x.Items = append(x.Items[:i:i], append([]any{args[1]}, x.Items[i:]...)...)
			return nil, nil
		}
		return nil, evalError("bad arguments to add")
	case "addAll":
		if len(args) == 1 {
			if o, ok := args[0].(*List); ok {
				if len(x.Items)+len(o.Items) > maxCollection {
					return nil, limitErr("list has more than %d items", maxCollection)
				}
				x.Items = append(x.Items, o.Items...)
				return len(o.Items) > 0, nil
			}
		}
	case "set":
		i, ok := argInt(args, 0)
		if !ok || len(args) != 2 || i < 0 || i >= len(x.Items) {
			return nil, evalError("Index out of bounds in set(%v)", args)
		}
		old := x.Items[i]
		x.Items[i] = args[1]
		return old, nil
	case "remove":
		if len(args) != 1 {
			break
		}
		if i, ok := args[0].(int64); ok {
			if i < 0 || int(i) >= len(x.Items) {
				return nil, evalError("Index out of bounds in remove(%d)", i)
			}
			old := x.Items[i]
			x.Items = append(x.Items[:i:i], x.Items[i+1:]...)
			return old, nil
		}
	case "clear":
		x.Items = nil
		return nil, nil
	case "toString":
		return s.str(x)
	case "subList":
		a, ok1 := argInt(args, 0)
		b, ok2 := argInt(args, 1)
		if !ok1 || !ok2 || a < 0 || b > len(x.Items) || a > b {
			return nil, evalError("Index out of bounds in subList")
		}
		return &List{Items: append([]any(nil), x.Items[a:b]...)}, nil
	}
	return nil, nil
}

func (s *state) mapMethod(x *Map, name string, args []any) (any, error) {
	key := func() (string, bool) { return argString(args, 0) }
	switch name {
	case "size":
		return int64(x.Len()), nil
	case "isEmpty":
		return x.Len() == 0, nil
	case "get":
		k, ok := key()
		if !ok {
			return nil, nil
		}
		v, _ := x.Get(k)
		return v, nil
	case "getOrDefault":
		k, ok := key()
		if v, found := x.Get(k); ok && found {
			return v, nil
		}
		if len(args) == 2 {
			return args[1], nil
		}
	case "containsKey":
		k, ok := key()
		_, found := x.Get(k)
		return ok && found, nil
	case "containsValue":
		if len(args) == 1 {
			for _, k := range x.keys {
				if equal(x.m[k], args[0]) {
					return true, nil
				}
			}
			return false, nil
		}
	case "keySet":
		l := &List{Items: make([]any, len(x.keys))}
		for i, k := range x.keys {
			l.Items[i] = k
		}
		return l, nil
	case "values":
		l := &List{Items: make([]any, len(x.keys))}
		for i, k := range x.keys {
			l.Items[i] = x.m[k]
		}
		return l, nil
	case "entrySet":
		l := &List{Items: make([]any, len(x.keys))}
		for i, k := range x.keys {
			l.Items[i] = &entry{key: k, val: x.m[k]}
		}
		return l, nil
	case "put":
		k, ok := key()
		if !ok || len(args) != 2 {
			return nil, evalError("put needs a key and a value")
		}
		if x.Len() >= maxCollection {
			return nil, limitErr("map has more than %d entries", maxCollection)
		}
		old, _ := x.Get(k)
		x.Set(k, args[1])
		return old, nil
	case "remove":
		k, ok := key()
		if !ok {
			return nil, nil
		}
		return x.remove(k), nil
	case "putAll":
		if len(args) == 1 {
			if o, ok := args[0].(*Map); ok {
				if x.Len()+o.Len() > maxCollection {
					return nil, limitErr("map has more than %d entries", maxCollection)
				}
				for _, k := range o.keys {
					x.Set(k, o.m[k])
				}
				return nil, nil
			}
		}
	case "toString":
		return s.str(x)
	}
	return nil, nil
}
