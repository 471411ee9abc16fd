package eventpattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Pattern is a compiled, validated pattern of one dialect. It is immutable
// and safe for concurrent use.
type Pattern struct {
	dialect Dialect
	root    *objPat
	// keys names every object key the pattern mentions, by id; an event
	// keeps only members whose key is here.
	keys []string
	dict map[string]int32
}

// Dialect reports the dialect the pattern was compiled in.
func (p *Pattern) Dialect() Dialect { return p.dialect }

// objPat is an object level of a pattern: every field must match and, for
// each $or group, at least one alternative.
type objPat struct {
	fields []fieldPat
	ors    [][]*objPat
}

type fieldPat struct {
	id   int32
	obj  *objPat  // a nested object, or
	leaf *leafPat // a list of values and match expressions
}

// leafPat is the array of a leaf field: it matches when any of its members
// matches.
type leafPat struct {
	existsTrue, existsFalse bool
	null, isTrue, isFalse   bool
	strs                    []string
	nums                    []float64
	ms                      []matcher
}

type mkind uint8

const (
	mPrefix mkind = iota + 1
	mPrefixFold
	mSuffix
	mSuffixFold
	mEqualsFold
	mWildcard
	mNumeric
	mCIDR
	mNotStr    // anything-but strings
	mNotNum    // anything-but numbers
	mNotPrefix // anything-but prefix (any of strs)
	mNotSuffix
	mNotFold
	mNotWildcard
)

type matcher struct {
	kind   mkind
	strs   []string
	nums   []float64
	wilds  []wildcard
	lo, hi float64
	loIncl bool
	hiIncl bool
	prefix netip.Prefix
}

// reserved are the match-expression names; an object under "$or" that uses
// one of them as a key makes "$or" an ordinary field (event-ruler's rule).
var reserved = map[string]bool{
	"exactly": true, "equals-ignore-case": true, "prefix": true, "suffix": true, "anything-but": true,
	"exists": true, "wildcard": true, "numeric": true, "cidr": true,
	"=": true, "<": true, "<=": true, ">": true, ">=": true,
}

// Compile validates pattern as dialect d and compiles it. A pattern AWS
// would refuse returns an *Error carrying AWS's error code and message.
func Compile(d Dialect, pattern []byte) (*Pattern, error) {
	s := d.spec()
	if len(pattern) > s.maxLen {
		return nil, d.tooLong(len(pattern))
	}
	v, err := decodePattern(pattern)
	if err != nil {
		return nil, d.invalid("Filter is not valid JSON")
	}
	if v.kind != jObj {
		return nil, d.invalid("Filter is not an object")
	}
	c := compiler{d: d, s: s, p: &Pattern{dialect: d, dict: map[string]int32{}}}
	if len(v.obj) == 0 {
		if d == EventBridge {
			return nil, d.invalid("Empty objects are not allowed")
		}
		c.p.root = &objPat{}
		return c.p, nil
	}
	if s.maxKeys > 0 && len(v.obj) > s.maxKeys {
		return nil, d.invalid("Filter policy can not have more than %d keys", s.maxKeys)
	}
	root, combos, err := c.object(v, 1)
	if err != nil {
		return nil, err
	}
	if s.wildcard && !wildcardsWithin(root, MaxWildcardComplexity) {
		return nil, d.invalid("Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character")
	}
	if s.maxCombos > 0 && combos > s.maxCombos {
		return nil, d.invalid("Filter policy is too complex")
	}
	c.p.root = root
	return c.p, nil
}

// MustCompile is Compile for patterns known to be valid (tests, built-in
// rules); it panics on an invalid pattern.
func MustCompile(d Dialect, pattern string) *Pattern {
	p, err := Compile(d, []byte(pattern))
	if err != nil {
		panic(err)
	}
	return p
}

type compiler struct {
	d Dialect
	s *spec
	p *Pattern
}

func (c *compiler) id(key string) int32 {
	if id, ok := c.p.dict[key]; ok {
		return id
	}
	id := int32(len(c.p.keys)) //nolint:gosec // G115: a pattern is at most 256 KB, so it has far fewer keys
	c.p.keys = append(c.p.keys, key)
	c.p.dict[key] = id
	return id
}

// object compiles an object level; combos counts value combinations the
// way SNS does (the product over leaf arrays of values times depth, $or
// branches summed).
func (c *compiler) object(v jval, depth int) (*objPat, int, error) {
	o := &objPat{}
	combos := 1
	for _, m := range v.obj {
		if m.key == "$or" && isOr(m.val) {
			if len(m.val.arr) < 2 {
				return nil, 0, c.d.invalid("There must have at least 2 Objects in $or relationship.")
			}
			alts := make([]*objPat, 0, len(m.val.arr))
			sum := 0
			for _, a := range m.val.arr {
				if len(a.obj) == 0 {
					return nil, 0, c.d.invalid("Empty objects are not allowed")
				}
				alt, n, err := c.object(a, depth)
				if err != nil {
					return nil, 0, err
				}
				alts = append(alts, alt)
				sum += n
			}
			o.ors = append(o.ors, alts)
			combos = mulCap(combos, sum)
			continue
		}
		switch m.val.kind {
		case jObj:
			if !c.s.nested {
				return nil, 0, &Error{Code: CodeInvalidParameter,
					Reason:  "Filter policy scope MessageAttributes does not support nested filter policy",
					Message: "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy"}
			}
			if len(m.val.obj) == 0 {
				return nil, 0, c.d.invalid("Empty objects are not allowed")
			}
			sub, n, err := c.object(m.val, depth+1)
			if err != nil {
				return nil, 0, err
			}
			o.fields = append(o.fields, fieldPat{id: c.id(m.key), obj: sub})
			combos = mulCap(combos, n)
		case jArr:
			if len(m.val.arr) == 0 {
				return nil, 0, c.d.invalid("Empty arrays are not allowed")
			}
			l, err := c.leaf(m.val.arr)
			if err != nil {
				return nil, 0, err
			}
			o.fields = append(o.fields, fieldPat{id: c.id(m.key), leaf: l})
			combos = mulCap(combos, len(m.val.arr)*depth)
		default:
			return nil, 0, c.d.invalid("%q must be an object or an array", m.key)
		}
	}
	return o, combos, nil
}

func mulCap(a, b int) int {
	const limit = 1 << 30
	if a > limit || b > limit || a*b > limit {
		return limit
	}
	return a * b
}

// isOr tells whether a "$or" member is the or-relationship: an array of
// objects none of which uses a match-expression name as a key.
func isOr(v jval) bool {
	if v.kind != jArr || len(v.arr) == 0 {
		return false
	}
	for _, e := range v.arr {
		if e.kind != jObj {
			return false
		}
		for _, m := range e.obj {
			if reserved[m.key] {
				return false
			}
		}
	}
	return true
}

func (c *compiler) leaf(vals []jval) (*leafPat, error) {
	l := &leafPat{}
	for _, v := range vals {
		switch v.kind {
		case jStr:
			l.strs = append(l.strs, v.str)
		case jNum:
			l.nums = append(l.nums, v.num)
		case jNull:
			l.null = true
		case jBool:
			if v.b {
				l.isTrue = true
			} else {
				l.isFalse = true
			}
		case jObj:
			if err := c.expression(l, v); err != nil {
				return nil, err
			}
		default:
			return nil, c.d.invalid("Match value must be String, number, true, false, or null")
		}
	}
	return l, nil
}

func (c *compiler) unrecognized(op string) error {
	return c.d.invalid("Unrecognized match type %s", op)
}

// expression compiles one match expression, {"operator": operand}.
func (c *compiler) expression(l *leafPat, v jval) error {
	if len(v.obj) != 1 {
		if len(v.obj) == 0 {
			return c.d.invalid("Empty objects are not allowed")
		}
		return c.d.invalid("Only one key allowed in match expression")
	}
	op, arg := v.obj[0].key, v.obj[0].val
	switch op {
	case "prefix", "suffix":
		if op == "suffix" && !c.s.suffix {
			return c.unrecognized(op)
		}
		plain, fold := mPrefix, mPrefixFold
		if op == "suffix" {
			plain, fold = mSuffix, mSuffixFold
		}
		switch {
		case arg.kind == jStr:
			l.ms = append(l.ms, matcher{kind: plain, strs: []string{arg.str}})
		case arg.kind == jObj && c.s.ignoreCaseIn:
			if len(arg.obj) != 1 {
				return c.d.invalid("Only one key allowed in match expression")
			}
			if arg.obj[0].key != "equals-ignore-case" {
				return c.d.invalid("Unsupported %s pattern: %s", op, arg.obj[0].key)
			}
			if arg.obj[0].val.kind != jStr {
				return c.d.invalid("equals-ignore-case match pattern must be a string")
			}
			l.ms = append(l.ms, matcher{kind: fold, strs: []string{arg.obj[0].val.str}})
		default:
			return c.d.invalid("%s match pattern must be a string", op)
		}
	case "equals-ignore-case":
		if !c.s.equalsIgnore {
			return c.unrecognized(op)
		}
		if arg.kind != jStr {
			return c.d.invalid("equals-ignore-case match pattern must be a string")
		}
		l.ms = append(l.ms, matcher{kind: mEqualsFold, strs: []string{arg.str}})
	case "wildcard":
		if !c.s.wildcard {
			return c.unrecognized(op)
		}
		if arg.kind != jStr {
			return c.d.invalid("wildcard match pattern must be a string")
		}
		w, err := c.wildcard(arg.str)
		if err != nil {
			return err
		}
		l.ms = append(l.ms, matcher{kind: mWildcard, wilds: []wildcard{w}})
	case "anything-but":
		m, err := c.anythingBut(arg)
		if err != nil {
			return err
		}
		l.ms = append(l.ms, m)
	case "numeric":
		m, err := c.numeric(arg)
		if err != nil {
			return err
		}
		l.ms = append(l.ms, m)
	case "exists":
		if arg.kind != jBool {
			return c.d.invalid("exists match pattern must be either true or false.")
		}
		if arg.b {
			l.existsTrue = true
		} else {
			l.existsFalse = true
		}
	case "cidr":
		if !c.s.cidr {
			return c.unrecognized(op)
		}
		if arg.kind != jStr {
			return c.d.invalid("prefix match pattern must be a string")
		}
		pfx, err := c.cidr(arg.str)
		if err != nil {
			return err
		}
		l.ms = append(l.ms, matcher{kind: mCIDR, prefix: pfx})
	default:
		return c.unrecognized(op)
	}
	return nil
}

func (c *compiler) anythingBut(arg jval) (matcher, error) {
	switch arg.kind {
	case jStr:
		return matcher{kind: mNotStr, strs: []string{arg.str}}, nil
	case jNum:
		return matcher{kind: mNotNum, nums: []float64{arg.num}}, nil
	case jArr:
		if len(arg.arr) == 0 {
			return matcher{}, c.d.invalid("Empty arrays are not allowed")
		}
		var strs []string
		var nums []float64
		for _, e := range arg.arr {
			switch e.kind {
			case jStr:
				strs = append(strs, e.str)
			case jNum:
				nums = append(nums, e.num)
			default:
				return matcher{}, c.d.invalid("Inside anything-but list, start|null|boolean is not supported.")
			}
		}
		if strs != nil && nums != nil {
			return matcher{}, c.d.invalid("Inside anything but list, either all values are number or string, mixed type is not supported")
		}
		if nums != nil {
			return matcher{kind: mNotNum, nums: nums}, nil
		}
		return matcher{kind: mNotStr, strs: strs}, nil
	case jObj:
		if len(arg.obj) != 1 {
			if len(arg.obj) == 0 {
				return matcher{}, c.d.invalid("Anything-But expression name not found")
			}
			return matcher{}, c.d.invalid("Only one key allowed in match expression")
		}
		op, v := arg.obj[0].key, arg.obj[0].val
		if !c.s.anythingBut[op] {
			return matcher{}, c.d.invalid("Unsupported anything-but pattern: %s", op)
		}
		var strs []string
		switch v.kind {
		case jStr:
			strs = []string{v.str}
		case jArr:
			for _, e := range v.arr {
				if e.kind != jStr {
					strs = nil
					break
				}
				strs = append(strs, e.str)
			}
			if len(strs) != len(v.arr) || len(strs) == 0 {
				strs = nil
			}
		}
		if strs == nil {
			switch op {
			case "equals-ignore-case":
				return matcher{}, c.d.invalid("Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.")
			case "wildcard":
				return matcher{}, c.d.invalid("wildcard match pattern must be a string")
			}
			if v.kind == jObj {
				return matcher{}, c.d.invalid("Value of anything-but must be an array or single string/number value.")
			}
			return matcher{}, c.d.invalid("prefix/suffix match pattern must be a string")
		}
		switch op {
		case "prefix", "suffix":
			for _, s := range strs {
				if s == "" {
					return matcher{}, c.d.invalid("Null prefix/suffix not allowed")
				}
			}
			if op == "prefix" {
				return matcher{kind: mNotPrefix, strs: strs}, nil
			}
			return matcher{kind: mNotSuffix, strs: strs}, nil
		case "equals-ignore-case":
			return matcher{kind: mNotFold, strs: strs}, nil
		default: // wildcard
			m := matcher{kind: mNotWildcard}
			for _, s := range strs {
				w, err := c.wildcard(s)
				if err != nil {
					return matcher{}, err
				}
				m.wilds = append(m.wilds, w)
			}
			return m, nil
		}
	default:
		return matcher{}, c.d.invalid("Value of anything-but must be an array or single string/number value.")
	}
}

func opName(op string) string {
	if op == "=" {
		return "equals"
	}
	return op
}

// numeric compiles ["op", n] or [">"|">=", lo, "<"|"<=", hi].
func (c *compiler) numeric(arg jval) (matcher, error) {
	if arg.kind != jArr {
		return matcher{}, c.d.invalid("Value of numeric must be an array.")
	}
	a := arg.arr
	if len(a) == 0 {
		return matcher{}, c.d.invalid("Invalid member in numeric match: ]")
	}
	if a[0].kind != jStr {
		return matcher{}, c.d.invalid("Invalid member in numeric match: %s", a[0].text())
	}
	op := a[0].str
	switch op {
	case "<", "<=", "=", ">", ">=":
	default:
		return matcher{}, c.d.invalid("Unrecognized numeric range operator: %s", op)
	}
	if len(a) < 2 || a[1].kind != jNum {
		return matcher{}, c.d.invalid("Value of %s must be numeric", opName(op))
	}
	n := a[1].num
	m := matcher{kind: mNumeric, lo: negInf, hi: posInf, loIncl: true, hiIncl: true}
	switch op {
	case "=":
		m.lo, m.hi = n, n
	case "<":
		m.hi, m.hiIncl = n, false
	case "<=":
		m.hi = n
	case ">":
		m.lo, m.loIncl = n, false
	case ">=":
		m.lo = n
	}
	if len(a) == 2 {
		return m, nil
	}
	if op != ">" && op != ">=" {
		return matcher{}, c.d.invalid("Too many elements in numeric expression")
	}
	if a[2].kind != jStr {
		return matcher{}, c.d.invalid("Bad value in numeric range: %s", a[2].text())
	}
	op2 := a[2].str
	if op2 != "<" && op2 != "<=" {
		return matcher{}, c.d.invalid("Bad numeric range operator: %s", op2)
	}
	if len(a) < 4 || a[3].kind != jNum {
		return matcher{}, c.d.invalid("Value of %s must be numeric", opName(op2))
	}
	if a[3].num <= n {
		return matcher{}, c.d.invalid("Bottom must be less than top")
	}
	if len(a) > 4 {
		return matcher{}, c.d.invalid("Too many terms in numeric range expression")
	}
	m.hi, m.hiIncl = a[3].num, op2 == "<="
	return m, nil
}

func (c *compiler) cidr(s string) (netip.Prefix, error) {
	ip, bits, ok := strings.Cut(s, "/")
	if !ok || strings.Contains(bits, "/") {
		return netip.Prefix{}, c.d.invalid("Malformed CIDR, one '/' required")
	}
	n, err := strconv.Atoi(bits)
	if err != nil {
		return netip.Prefix{}, c.d.invalid("Malformed CIDR, mask bits must be an integer")
	}
	if n < 0 {
		return netip.Prefix{}, c.d.invalid("Malformed CIDR, mask bits must not be negative")
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil || addr.Zone() != "" {
		return netip.Prefix{}, c.d.invalid("Nonstandard IP address: %s", ip)
	}
	if addr.Is4() && n > 32 {
		return netip.Prefix{}, c.d.invalid("IPv4 mask bits must be < 32")
	}
	if addr.Is6() && n > 128 {
		return netip.Prefix{}, c.d.invalid("IPv6 mask bits must be < 128")
	}
	return netip.PrefixFrom(addr, n).Masked(), nil
}

// wildcard is a compiled wildcard value: the literal parts between '*'.
// With one part there is no '*' and the value matches exactly.
type wildcard struct {
	parts []string
}

func (c *compiler) wildcard(s string) (wildcard, error) {
	var parts []string
	var cur strings.Builder
	prevStar := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*':
			if prevStar {
				return wildcard{}, c.d.invalid("Consecutive wildcard characters at pos %d", i)
			}
			parts = append(parts, cur.String())
			cur.Reset()
			prevStar = true
			continue
		case '\\':
			if i+1 >= len(s) || (s[i+1] != '*' && s[i+1] != '\\') {
				return wildcard{}, c.d.invalid("Invalid escape character at pos %d", i)
			}
			i++
			cur.WriteByte(s[i])
		default:
			cur.WriteByte(s[i])
		}
		prevStar = false
	}
	parts = append(parts, cur.String())
	return wildcard{parts: parts}, nil
}

// jval is a decoded pattern value that keeps member order and the number
// text.
type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNum
	jStr
	jArr
	jObj
)

type jval struct {
	kind jkind
	b    bool
	num  float64
	str  string // string value, or the number's text
	arr  []jval
	obj  []jmember
}

type jmember struct {
	key string
	val jval
}

func (v jval) text() string {
	switch v.kind {
	case jNull:
		return "null"
	case jBool:
		return strconv.FormatBool(v.b)
	case jNum, jStr:
		return v.str
	case jArr:
		return "["
	default:
		return "{"
	}
}

var errTrailing = errors.New("trailing data after pattern")

func decodePattern(b []byte) (jval, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return jval{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return jval{}, errTrailing
	}
	return v, nil
}

const maxPatternDepth = 1000

var errDepth = errors.New("pattern nested too deeply")

func decodeValue(dec *json.Decoder, depth int) (jval, error) {
	if depth > maxPatternDepth {
		return jval{}, errDepth
	}
	t, err := dec.Token()
	if err != nil {
		return jval{}, err
	}
	switch t := t.(type) {
	case nil:
		return jval{kind: jNull}, nil
	case bool:
		return jval{kind: jBool, b: t}, nil
	case string:
		return jval{kind: jStr, str: t}, nil
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return jval{}, err
		}
		return jval{kind: jNum, num: f, str: string(t)}, nil
	case json.Delim:
		switch t {
		case '[':
			v := jval{kind: jArr, arr: []jval{}}
			for dec.More() {
				e, err := decodeValue(dec, depth+1)
				if err != nil {
					return jval{}, err
				}
				v.arr = append(v.arr, e)
			}
			_, err := dec.Token()
			return v, err
		case '{':
			v := jval{kind: jObj, obj: []jmember{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return jval{}, err
				}
				key, _ := kt.(string)
				e, err := decodeValue(dec, depth+1)
				if err != nil {
					return jval{}, err
				}
				v.obj = setMember(v.obj, key, e)
			}
			_, err := dec.Token()
			return v, err
		}
	}
	return jval{}, errors.New("unexpected token")
}

// setMember keeps the last of duplicate keys, as JSON decoders do.
func setMember(obj []jmember, key string, v jval) []jmember {
	for i := range obj {
		if obj[i].key == key {
			obj[i].val = v
			return obj
		}
	}
	return append(obj, jmember{key: key, val: v})
}
