package sfn

import (
	"crypto/md5"  //nolint:gosec // States.Hash offers MD5 because AWS does
	"crypto/sha1" //nolint:gosec // States.Hash offers SHA-1 because AWS does
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Intrinsic functions: "States.Name(arg, ...)" in the value of a "key.$"
// field. An argument is a string literal in single quotes (\' \{ \} \\
// escape), a number, true, false, null, a path ($ or $$) or another
// intrinsic. Parsing happens when the definition is; a failure while
// evaluating is States.IntrinsicFailure.

// maxIntrinsicDepth bounds nested calls (a definition bomb otherwise
// recurses as deep as the text allows).
const maxIntrinsicDepth = 10

// intrinsic is a parsed call.
type intrinsic struct {
	name string
	args []iArg
}

// iArg is one argument: a literal, a path or a call.
type iArg struct {
	lit  any
	path *path
	call *intrinsic
}

// intrinsicArity is every function with its minimum and maximum argument
// counts (-1: unbounded).
var intrinsicArity = map[string][2]int{
	"States.Format":         {1, -1},
	"States.StringToJson":   {1, 1},
	"States.JsonToString":   {1, 1},
	"States.Array":          {0, -1},
	"States.ArrayPartition": {2, 2},
	"States.ArrayContains":  {2, 2},
	"States.ArrayRange":     {3, 3},
	"States.ArrayGetItem":   {2, 2},
	"States.ArrayLength":    {1, 1},
	"States.ArrayUnique":    {1, 1},
	"States.Base64Encode":   {1, 1},
	"States.Base64Decode":   {1, 1},
	"States.Hash":           {2, 2},
	"States.JsonMerge":      {3, 3},
	"States.MathRandom":     {2, 3},
	"States.MathAdd":        {2, 2},
	"States.StringSplit":    {2, 2},
	"States.UUID":           {0, 0},
}

// isIntrinsic reports whether a "key.$" value is a call rather than a path.
func isIntrinsic(s string) bool { return strings.HasPrefix(s, "States.") }

// parseIntrinsic parses a whole call.
func parseIntrinsic(s string) (*intrinsic, error) {
	p := &iparser{s: s}
	c, err := p.call(0)
	if err != nil {
		return nil, fmt.Errorf("the value %q is not a valid intrinsic function: %w", s, err)
	}
	p.ws()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("the value %q is not a valid intrinsic function: unexpected %q", s, p.s[p.i:])
	}
	return c, nil
}

type iparser struct {
	s string
	i int
}

func (p *iparser) ws() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *iparser) call(depth int) (*intrinsic, error) {
	if depth >= maxIntrinsicDepth {
		return nil, fmt.Errorf("calls nested deeper than %d", maxIntrinsicDepth)
	}
	start := p.i
	for p.i < len(p.s) && (isIdentByte(p.s[p.i]) || p.s[p.i] == '.') {
		p.i++
	}
	name := p.s[start:p.i]
	ar, ok := intrinsicArity[name]
	if !ok {
		return nil, fmt.Errorf("unknown function %q", name)
	}
	if p.i >= len(p.s) || p.s[p.i] != '(' {
		return nil, fmt.Errorf("expected '(' after %s", name)
	}
	p.i++
	c := &intrinsic{name: name}
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == ')' {
		p.i++
	} else {
		for {
			p.ws()
			a, err := p.arg(depth)
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			p.ws()
			if p.i >= len(p.s) {
				return nil, fmt.Errorf("missing ')'")
			}
			if p.s[p.i] == ')' {
				p.i++
				break
			}
			if p.s[p.i] != ',' {
				return nil, fmt.Errorf("expected ',' or ')' at %q", p.s[p.i:])
			}
			p.i++
		}
	}
	if len(c.args) < ar[0] || (ar[1] >= 0 && len(c.args) > ar[1]) {
		return nil, fmt.Errorf("%s takes %s, got %d", name, arityText(ar), len(c.args))
	}
	return c, nil
}

func arityText(ar [2]int) string {
	switch {
	case ar[1] < 0:
		return fmt.Sprintf("at least %d arguments", ar[0])
	case ar[0] == ar[1]:
		return fmt.Sprintf("%d arguments", ar[0])
	default:
		return fmt.Sprintf("%d to %d arguments", ar[0], ar[1])
	}
}

func isIdentByte(b byte) bool {
	return b == '_' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
}

func (p *iparser) arg(depth int) (iArg, error) {
	if p.i >= len(p.s) {
		return iArg{}, fmt.Errorf("missing argument")
	}
	switch c := p.s[p.i]; {
	case c == '\'':
		p.i++
		var sb strings.Builder
		for {
			if p.i >= len(p.s) {
				return iArg{}, fmt.Errorf("unterminated string")
			}
			ch := p.s[p.i]
			if ch == '\\' {
				if p.i+1 >= len(p.s) {
					return iArg{}, fmt.Errorf("unterminated escape")
				}
				sb.WriteByte(p.s[p.i+1])
				p.i += 2
				continue
			}
			if ch == '\'' {
				p.i++
				return iArg{lit: sb.String()}, nil
			}
			sb.WriteByte(ch)
			p.i++
		}
	case c == '$':
		start := p.i
		depthB := 0
		inQ := byte(0)
		for p.i < len(p.s) {
			ch := p.s[p.i]
			if inQ != 0 {
				if ch == inQ {
					inQ = 0
				}
				p.i++
				continue
			}
			if ch == '\'' || ch == '"' {
				inQ = ch
			} else if ch == '[' || ch == '(' {
				depthB++
			} else if ch == ']' || (ch == ')' && depthB > 0) {
				depthB--
			} else if depthB == 0 && (ch == ',' || ch == ')' || ch == ' ') {
				break
			}
			p.i++
		}
		pp, err := compilePath(p.s[start:p.i])
		if err != nil {
			return iArg{}, err
		}
		return iArg{path: pp}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.i
		p.i++
		for p.i < len(p.s) && strings.IndexByte("0123456789.eE+-", p.s[p.i]) >= 0 {
			p.i++
		}
		n := json.Number(p.s[start:p.i])
		if _, err := n.Float64(); err != nil {
			return iArg{}, fmt.Errorf("invalid number %q", p.s[start:p.i])
		}
		return iArg{lit: n}, nil
	case strings.HasPrefix(p.s[p.i:], "true"):
		p.i += 4
		return iArg{lit: true}, nil
	case strings.HasPrefix(p.s[p.i:], "false"):
		p.i += 5
		return iArg{lit: false}, nil
	case strings.HasPrefix(p.s[p.i:], "null"):
		p.i += 4
		return iArg{lit: nil}, nil
	case strings.HasPrefix(p.s[p.i:], "States."):
		c, err := p.call(depth + 1)
		if err != nil {
			return iArg{}, err
		}
		return iArg{call: c}, nil
	}
	return iArg{}, fmt.Errorf("unexpected %q", p.s[p.i:])
}

// intrinsicEnv is what evaluation needs beyond the arguments: the input,
// the context object, and a deterministic source of randomness (so a
// replayed execution computes the same UUIDs and random numbers).
type intrinsicEnv struct {
	input, ctx any
	rand       func() uint64
	vars       *scope
	j          *jenv // a JSONata state's environment
}

// intrinsicError is States.IntrinsicFailure.
func intrinsicError(format string, args ...any) error {
	return &Failure{Name: ErrIntrinsicFailure, Cause: fmt.Sprintf(format, args...)}
}

func (c *intrinsic) eval(env *intrinsicEnv) (any, error) {
	args := make([]any, len(c.args))
	for i, a := range c.args {
		switch {
		case a.call != nil:
			v, err := a.call.eval(env)
			if err != nil {
				return nil, err
			}
			args[i] = v
		case a.path != nil:
			v, err := a.path.eval(env.input, env.ctx, env.vars)
			if err != nil {
				return nil, intrinsicError("The JsonPath argument for the field '%s' could not be found in the input", a.path.src)
			}
			args[i] = v
		default:
			args[i] = a.lit
		}
	}
	return callIntrinsic(c.name, args, env)
}

// maxIntrinsicString bounds strings the encoding and hashing functions take
// (AWS: 10,000 characters).
const maxIntrinsicString = 10000

// maxArrayRange bounds States.ArrayRange (AWS: 1,000 items).
const maxArrayRange = 1000

func callIntrinsic(name string, a []any, env *intrinsicEnv) (any, error) {
	switch name {
	case "States.Format":
		tmpl, ok := a[0].(string)
		if !ok {
			return nil, intrinsicError("States.Format's first argument must be a string")
		}
		return format(tmpl, a[1:])
	case "States.StringToJson":
		s, ok := a[0].(string)
		if !ok {
			return nil, intrinsicError("States.StringToJson's argument must be a string")
		}
		v, err := decodeJSON([]byte(s))
		if err != nil {
			return nil, intrinsicError("States.StringToJson's argument is not valid JSON")
		}
		return v, nil
	case "States.JsonToString":
		return encodeJSON(a[0]), nil
	case "States.Array":
		out := make([]any, len(a))
		copy(out, a)
		return out, nil
	case "States.ArrayPartition":
		arr, ok := a[0].([]any)
		n, okN := intArg(a[1])
		if !ok || !okN || n <= 0 {
			return nil, intrinsicError("States.ArrayPartition takes an array and a positive integer chunk size")
		}
		out := []any{}
		for i := 0; i < len(arr); i += int(n) {
			end := min(i+int(n), len(arr))
			out = append(out, append([]any(nil), arr[i:end]...))
		}
		return out, nil
	case "States.ArrayContains":
		arr, ok := a[0].([]any)
		if !ok {
			return nil, intrinsicError("States.ArrayContains's first argument must be an array")
		}
		for _, v := range arr {
			if jsonEqual(v, a[1]) {
				return true, nil
			}
		}
		return false, nil
	case "States.ArrayRange":
		first, ok1 := intArg(a[0])
		last, ok2 := intArg(a[1])
		step, ok3 := intArg(a[2])
		if !ok1 || !ok2 || !ok3 || step == 0 {
			return nil, intrinsicError("States.ArrayRange takes three integers and a step other than 0")
		}
		out := []any{}
		for v := first; (step > 0 && v <= last) || (step < 0 && v >= last); v += step {
			if len(out) >= maxArrayRange {
				return nil, intrinsicError("States.ArrayRange may return at most %d items", maxArrayRange)
			}
			out = append(out, json.Number(strconv.FormatInt(v, 10)))
		}
		return out, nil
	case "States.ArrayGetItem":
		arr, ok := a[0].([]any)
		i, okI := intArg(a[1])
		if !ok || !okI || i < 0 || i >= int64(len(arr)) {
			return nil, intrinsicError("States.ArrayGetItem takes an array and an index inside it")
		}
		return arr[i], nil
	case "States.ArrayLength":
		arr, ok := a[0].([]any)
		if !ok {
			return nil, intrinsicError("States.ArrayLength's argument must be an array")
		}
		return json.Number(strconv.Itoa(len(arr))), nil
	case "States.ArrayUnique":
		arr, ok := a[0].([]any)
		if !ok {
			return nil, intrinsicError("States.ArrayUnique's argument must be an array")
		}
		out := []any{}
	next:
		for _, v := range arr {
			for _, w := range out {
				if jsonEqual(v, w) {
					continue next
				}
			}
			out = append(out, v)
		}
		return out, nil
	case "States.Base64Encode":
		s, ok := a[0].(string)
		if !ok || utf8.RuneCountInString(s) > maxIntrinsicString {
			return nil, intrinsicError("States.Base64Encode takes a string of at most %d characters", maxIntrinsicString)
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "States.Base64Decode":
		s, ok := a[0].(string)
		if !ok || utf8.RuneCountInString(s) > maxIntrinsicString {
			return nil, intrinsicError("States.Base64Decode takes a string of at most %d characters", maxIntrinsicString)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, intrinsicError("States.Base64Decode's argument is not valid base64")
		}
		return string(b), nil
	case "States.Hash":
		alg, ok := a[1].(string)
		if !ok {
			return nil, intrinsicError("States.Hash's algorithm must be a string")
		}
		var h hash.Hash
		switch alg {
		case "MD5":
			h = md5.New() //nolint:gosec // offered because AWS offers it
		case "SHA-1":
			h = sha1.New() //nolint:gosec // offered because AWS offers it
		case "SHA-256":
			h = sha256.New()
		case "SHA-384":
			h = sha512.New384()
		case "SHA-512":
			h = sha512.New()
		default:
			return nil, intrinsicError("States.Hash's algorithm must be one of MD5, SHA-1, SHA-256, SHA-384, SHA-512")
		}
		s, ok := a[0].(string)
		if !ok {
			s = encodeJSON(a[0])
		}
		if utf8.RuneCountInString(s) > maxIntrinsicString {
			return nil, intrinsicError("States.Hash takes data of at most %d characters", maxIntrinsicString)
		}
		h.Write([]byte(s))
		return hex.EncodeToString(h.Sum(nil)), nil
	case "States.JsonMerge":
		o1, ok1 := a[0].(map[string]any)
		o2, ok2 := a[1].(map[string]any)
		deep, ok3 := a[2].(bool)
		if !ok1 || !ok2 || !ok3 {
			return nil, intrinsicError("States.JsonMerge takes two objects and a boolean")
		}
		if deep {
			return nil, intrinsicError("States.JsonMerge supports only a shallow merge: its third argument must be false")
		}
		out := make(map[string]any, len(o1)+len(o2))
		for k, v := range o1 {
			out[k] = v
		}
		for k, v := range o2 {
			out[k] = v
		}
		return out, nil
	case "States.MathRandom":
		lo, ok1 := intArg(a[0])
		hi, ok2 := intArg(a[1])
		if !ok1 || !ok2 || hi <= lo {
			return nil, intrinsicError("States.MathRandom takes two integers, the first smaller than the second")
		}
		var r uint64
		if len(a) == 3 {
			seed, ok := intArg(a[2])
			if !ok {
				return nil, intrinsicError("States.MathRandom's seed must be an integer")
			}
			r = splitmix(uint64(seed)) //nolint:gosec // G115: a seed's bits, sign irrelevant
		} else {
			r = env.rand()
		}
		span := new(big.Int).Sub(big.NewInt(hi), big.NewInt(lo))
		off := new(big.Int).Mod(new(big.Int).SetUint64(r), span)
		return json.Number(new(big.Int).Add(off, big.NewInt(lo)).String()), nil
	case "States.MathAdd":
		x, ok1 := intArg(a[0])
		y, ok2 := intArg(a[1])
		if !ok1 || !ok2 {
			return nil, intrinsicError("States.MathAdd takes two integers")
		}
		return json.Number(strconv.FormatInt(x+y, 10)), nil
	case "States.StringSplit":
		s, ok1 := a[0].(string)
		d, ok2 := a[1].(string)
		if !ok1 || !ok2 {
			return nil, intrinsicError("States.StringSplit takes two strings")
		}
		parts := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(d, r) })
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case "States.UUID":
		hi, lo := env.rand(), env.rand()
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:8], hi)
		binary.LittleEndian.PutUint64(b[8:], lo)
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		x := hex.EncodeToString(b[:])
		return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:], nil
	}
	return nil, intrinsicError("unknown intrinsic function %s", name)
}

// format fills the {} of tmpl with args (strings as they are, other
// values as JSON); \{ and \} in the template were unescaped when parsed.
func format(tmpl string, args []any) (any, error) {
	var sb strings.Builder
	n := 0
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] == '{' && i+1 < len(tmpl) && tmpl[i+1] == '}' {
			if n >= len(args) {
				return nil, intrinsicError("States.Format has more {} than arguments")
			}
			switch v := args[n].(type) {
			case string:
				sb.WriteString(v)
			case map[string]any, []any:
				return nil, intrinsicError("States.Format's arguments must be strings, numbers, booleans or null")
			default:
				sb.WriteString(encodeJSON(v))
			}
			n++
			i++
			continue
		}
		sb.WriteByte(tmpl[i])
	}
	if n != len(args) {
		return nil, intrinsicError("States.Format has %d arguments for %d {}", len(args), n)
	}
	return sb.String(), nil
}

// intArg reads an integer argument (a JSON number without a fraction).
func intArg(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	if i, err := n.Int64(); err == nil {
		return i, true
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// jsonEqual compares two JSON values (numbers by value).
func jsonEqual(a, b any) bool {
	na, okA := a.(json.Number)
	nb, okB := b.(json.Number)
	if okA && okB {
		fa, e1 := na.Float64()
		fb, e2 := nb.Float64()
		return e1 == nil && e2 == nil && fa == fb
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// splitmix is SplitMix64's output function: a well-mixed 64-bit value
// from a seed (a deterministic random source for replays).
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
