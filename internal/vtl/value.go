package vtl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Values a template handles: nil, bool, int64, float64, string, *List,
// *Map, *entry (a map entry from entrySet()) and objects (the $input,
// $util and $foreach variables).

// List is a Java ArrayList: templates may add to it.
type List struct{ Items []any }

// Map is a Java LinkedHashMap with string keys: iteration follows
// insertion order.
type Map struct {
	keys []string
	m    map[string]any
}

// NewMap returns an empty map.
func NewMap() *Map { return &Map{m: map[string]any{}} }

// Set puts k = v, keeping k's place if it is there.
func (m *Map) Set(k string, v any) {
	if _, ok := m.m[k]; !ok {
		m.keys = append(m.keys, k)
	}
	m.m[k] = v
}

// Get returns k's value and whether k is there.
func (m *Map) Get(k string) (any, bool) {
	v, ok := m.m[k]
	return v, ok
}

// Keys returns the keys in order.
func (m *Map) Keys() []string { return m.keys }

// Len is the number of entries.
func (m *Map) Len() int { return len(m.keys) }

func (m *Map) remove(k string) any {
	v, ok := m.m[k]
	if !ok {
		return nil
	}
	delete(m.m, k)
	for i, x := range m.keys {
		if x == k {
			m.keys = append(m.keys[:i:i], m.keys[i+1:]...)
			break
		}
	}
	return v
}

// entry is a Map.Entry from entrySet().
type entry struct {
	key string
	val any
}

// object is a variable with its own properties and methods.
type object interface {
	prop(name string) (any, bool)
	call(s *state, name string, args []any) (any, error)
}

// String renders v as Velocity writes it into a template's output.
func String(v any) string {
	if v == nil {
		return ""
	}
	var b strings.Builder
	writeValue(&b, v)
	return b.String()
}

func writeValue(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		b.WriteString(x)
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(javaDouble(x))
	case *List:
		b.WriteByte('[')
		for i, it := range x.Items {
			if i > 0 {
				b.WriteString(", ")
			}
			writeValue(b, it)
		}
		b.WriteByte(']')
	case *Map:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k)
			b.WriteByte('=')
			writeValue(b, x.m[k])
		}
		b.WriteByte('}')
	case *entry:
		b.WriteString(x.key)
		b.WriteByte('=')
		writeValue(b, x.val)
	case fmt.Stringer:
		b.WriteString(x.String())
	}
}

// javaDouble formats f as Java's Double.toString does.
func javaDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	a := math.Abs(f)
	if a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

// ParseJSON decodes JSON text into template values: objects become maps
// in document order, arrays lists, integers int64 and other numbers
// float64.
func ParseJSON(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	v, err := decodeJSON(d, 0)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

const maxJSONDepth = 1000

func decodeJSON(d *json.Decoder, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, errors.New("JSON nested too deeply")
	}
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch x := t.(type) {
	case json.Delim:
		switch x {
		case '{':
			m := NewMap()
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeJSON(d, depth+1)
				if err != nil {
					return nil, err
				}
				m.Set(k, v)
			}
			if _, err := d.Token(); err != nil {
				return nil, err
			}
			return m, nil
		case '[':
			l := &List{Items: []any{}}
			for d.More() {
				v, err := decodeJSON(d, depth+1)
				if err != nil {
					return nil, err
				}
				l.Items = append(l.Items, v)
			}
			if _, err := d.Token(); err != nil {
				return nil, err
			}
			return l, nil
		}
		return nil, fmt.Errorf("unexpected %v", x)
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, err
		}
		return f, nil
	default:
		return x, nil // string, bool, nil
	}
}

// JSON encodes v as compact JSON, as $input.json does; values that are
// not JSON (objects) are written as their string form.
func JSON(v any) string {
	var b strings.Builder
	writeJSON(&b, v)
	return b.String()
}

func writeJSON(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			b.WriteString("null")
			return
		}
		b.WriteString(javaDouble(x))
	case string:
		writeJSONString(b, x)
	case *List:
		b.WriteByte('[')
		for i, it := range x.Items {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, it)
		}
		b.WriteByte(']')
	case *Map:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k)
			b.WriteByte(':')
			writeJSON(b, x.m[k])
		}
		b.WriteByte('}')
	default:
		writeJSONString(b, String(v))
	}
}

func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// truthy is Velocity 1.7's #if: null and false are false, anything else
// true.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	}
	return true
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func isNumber(v any) bool {
	_, ok := toFloat(v)
	return ok
}

// equal is Velocity's ==: numbers by value, same kinds by value, other
// pairs by their string forms.
func equal(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if fa, ok := toFloat(a); ok {
		if fb, ok := toFloat(b); ok {
			return fa == fb
		}
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return x == y
		}
	case bool:
		if y, ok := b.(bool); ok {
			return x == y
		}
	case *List:
		if y, ok := b.(*List); ok {
			if len(x.Items) != len(y.Items) {
				return false
			}
			for i := range x.Items {
				if !equal(x.Items[i], y.Items[i]) {
					return false
				}
			}
			return true
		}
	case *Map:
		if y, ok := b.(*Map); ok {
			if x.Len() != y.Len() {
				return false
			}
			for _, k := range x.keys {
				yv, ok := y.m[k]
				if !ok || !equal(x.m[k], yv) {
					return false
				}
			}
			return true
		}
	}
	return String(a) == String(b)
}
