package sam

import (
	"crypto/sha1" //nolint:gosec // SAM derives logical IDs from SHA-1; the digest must match it, not resist attack
	"encoding/hex"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
)

// Values are cfn's JSON data model: map[string]any, []any, string,
// float64, bool and nil.

// deepCopy returns a copy of v sharing nothing mutable with it.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	case []string:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = e
		}
		return l
	default:
		return v
	}
}

func copyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c, _ := deepCopy(m).(map[string]any)
	return c
}

// pyJSON writes v as Python's json.dumps(v, separators=(",", ":"),
// sort_keys=True) does, so hashes of it match samtranslator's.
func pyJSON(v any) string {
	var b strings.Builder
	writePyJSON(&b, v)
	return b.String()
}

func writePyJSON(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case string:
		writePyString(b, x)
	case float64:
		b.WriteString(pyNumber(x))
	case int:
		b.WriteString(strconv.Itoa(x))
	case map[string]any:
		keys := sortedKeys(x)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writePyString(b, k)
			b.WriteByte(':')
			writePyJSON(b, x[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writePyJSON(b, e)
		}
		b.WriteByte(']')
	case []string:
		writePyJSON(b, deepCopy(x))
	default:
		b.WriteString("null")
	}
}

// pyNumber formats a number as Python prints an int (integral values
// came from YAML or JSON integers) or a float's repr.
func pyNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e16 {
		return strconv.FormatInt(int64(f), 10)
	}
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func writePyString(b *strings.Builder, s string) {
	const hexDigits = "0123456789abcdef"
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r > 0x7e:
			for _, u := range utf16.Encode([]rune{r}) {
				b.WriteString(`\u`)
				b.WriteByte(hexDigits[u>>12&0xf])
				b.WriteByte(hexDigits[u>>8&0xf])
				b.WriteByte(hexDigits[u>>4&0xf])
				b.WriteByte(hexDigits[u&0xf])
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sha1Hex is the hex SHA-1 of s.
func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s)) //nolint:gosec // see the import
	return hex.EncodeToString(sum[:])
}

// logicalID is samtranslator's LogicalIdGenerator(prefix, data).gen():
// the prefix plus the first 10 hex digits of the SHA-1 of data (a string
// as is, anything else as sorted compact JSON); no suffix for empty data.
func logicalID(prefix string, data any) string {
	return prefix + dataHash(data, 10)
}

func dataHash(data any, n int) string {
	var s string
	switch x := data.(type) {
	case nil:
		return ""
	case string:
		s = x
	case map[string]any:
		if len(x) == 0 {
			return ""
		}
		s = pyJSON(x)
	case []any:
		if len(x) == 0 {
			return ""
		}
		s = pyJSON(x)
	default:
		s = pyJSON(x)
	}
	if s == "" {
		return ""
	}
	return sha1Hex(s)[:n]
}

// isAlnum is Python's str.isalnum for the ASCII logical-ID alphabet.
func isAlnum(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !alnum {
			return false
		}
	}
	return true
}

// Intrinsic functions.

func isIntrinsic(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

func isIntrinsicIf(v any) bool {
	if !isIntrinsic(v) {
		return false
	}
	_, ok := v.(map[string]any)["Fn::If"]
	return ok
}

func isNoValue(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 1 && m["Ref"] == "AWS::NoValue"
}

// ifItems returns the three items of an Fn::If, or false if malformed.
func ifItems(v any) (string, any, any, bool) {
	m, _ := v.(map[string]any)
	l, ok := m["Fn::If"].([]any)
	if !ok || len(l) != 3 {
		return "", nil, nil, false
	}
	c, ok := l[0].(string)
	return c, l[1], l[2], ok
}

func ref(id string) map[string]any { return map[string]any{"Ref": id} }

func getAtt(id, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{id, attr}}
}

func fnSub(s string, vars map[string]any) map[string]any {
	if vars == nil {
		return map[string]any{"Fn::Sub": s}
	}
	return map[string]any{"Fn::Sub": []any{s, vars}}
}

func fnIf(cond string, yes, no any) map[string]any {
	return map[string]any{"Fn::If": []any{cond, yes, no}}
}

func makeConditional(cond string, data any) map[string]any {
	return fnIf(cond, data, ref("AWS::NoValue"))
}

// shorthand turns {"Ref": x} into "${x}" and {"Fn::GetAtt": [a, b]} into
// "${a.b}", for use inside Fn::Sub.
func shorthand(v any) string {
	m, _ := v.(map[string]any)
	if r, ok := m["Ref"].(string); ok {
		return "${" + r + "}"
	}
	if l, ok := m["Fn::GetAtt"].([]any); ok {
		parts := make([]string, 0, len(l))
		for _, p := range l {
			s, _ := p.(string)
			parts = append(parts, s)
		}
		return "${" + strings.Join(parts, ".") + "}"
	}
	return ""
}

// Parameter resolution, as samtranslator's IntrinsicsResolver does it:
// Ref to a parameter becomes its value and ${param} in Fn::Sub strings is
// substituted; everything else is left alone. Like samtranslator it
// changes maps and lists in place and returns the replacement for v.

var subRefPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{([A-Za-z0-9\.]+|AWS::[A-Z][A-Za-z]*)\}`) })

type resolver struct {
	params map[string]any
}

func (r *resolver) resolve(v any) (any, error) {
	if len(r.params) == 0 {
		return v, nil
	}
	v, err := r.resolveOne(v)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if x[k], err = r.resolve(e); err != nil {
				return nil, err
			}
		}
	case []any:
		for i, e := range x {
			if x[i], err = r.resolve(e); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

func (r *resolver) param(name string) (any, bool) {
	v, ok := r.params[name]
	if s, isStr := v.(string); isStr && strings.HasPrefix(s, "{{IntrinsicFunction:") {
		return nil, false
	}
	return v, ok
}

func (r *resolver) resolveOne(v any) (any, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return v, nil
	}
	if name, ok := m["Ref"].(string); ok {
		if p, ok := r.param(name); ok {
			return deepCopy(p), nil
		}
		return v, nil
	}
	sub, ok := m["Fn::Sub"]
	if !ok {
		return v, nil
	}
	replace := func(s string) (string, error) {
		var err error
		out := subRefPattern().ReplaceAllStringFunc(s, func(full string) string {
			name := full[2 : len(full)-1]
			p, ok := r.param(name)
			if !ok {
				return full
			}
			ps, isStr := p.(string)
			if !isStr {
				err = errString("Invalid Fn::Sub variable value. Fn::Sub expects all variables to be strings.")
				return full
			}
			return ps
		})
		return out, err
	}
	switch x := sub.(type) {
	case string:
		s, err := replace(x)
		if err != nil {
			return nil, err
		}
		m["Fn::Sub"] = s
	case []any:
		if len(x) > 0 {
			if s, ok := x[0].(string); ok {
				rs, err := replace(s)
				if err != nil {
					return nil, err
				}
				x[0] = rs
			}
		}
	}
	return m, nil
}

type errString string

func (e errString) Error() string { return string(e) }
