package eventpattern

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// event is one parsed event. Only the members whose key a pattern names are
// kept (an array keeps all its elements, so array-consistent matching sees
// every element); the rest of the input is checked for JSON syntax and
// skipped. String values point into the input or, when they had escapes,
// into buf; an event is reused across parses so matching allocates nothing
// once its slices have grown.
type event struct {
	nodes   []node
	buf     []byte   // unescaped strings and keys
	scratch []byte   // synthetic documents (SNS attributes, decoded envelopes)
	marks   []uint64 // candidate patterns of a Set
	root    int32
}

type kind uint8

const (
	kNull kind = iota + 1
	kFalse
	kTrue
	kNum
	kStr
	kObj
	kArr
)

type node struct {
	kind  kind
	id    int32 // key id of an object member; -1 for array elements and the root
	next  int32 // next sibling; -1 at the end
	child int32 // first child of an object or array; -1 when empty
	num   float64
	str   []byte
}

// ErrEventTooDeep is returned for events nested deeper than MaxEventDepth.
var ErrEventTooDeep = errors.New("eventpattern: event nested too deeply")

// MaxEventDepth bounds the nesting of an event, as encoding/json does.
const MaxEventDepth = 10000

// SyntaxError reports an event that is not valid JSON.
type SyntaxError struct {
	Offset int
	msg    string
}

func (e *SyntaxError) Error() string {
	return "eventpattern: invalid event JSON at offset " + strconv.Itoa(e.Offset) + ": " + e.msg
}

// MaxEventSize bounds the JSON an event may have (1 GiB), far above any AWS
// payload limit; it keeps node indexes in int32.
const MaxEventSize = 1 << 30

// parse replaces the event's content with data, keeping the members dict
// names.
func (e *event) parse(data []byte, dict map[string]int32) error {
	if len(data) > MaxEventSize {
		return &SyntaxError{msg: "event larger than MaxEventSize"}
	}
	e.nodes = e.nodes[:0]
	e.buf = e.buf[:0]
	p := parser{s: data, ev: e, dict: dict}
	p.ws()
	root, err := p.value(0, false)
	if err != nil {
		return err
	}
	p.ws()
	if p.i != len(p.s) {
		return p.fail("data after the top-level value")
	}
	e.root = root
	return nil
}

type parser struct {
	s    []byte
	i    int
	ev   *event
	dict map[string]int32
}

func (p *parser) fail(msg string) error { return &SyntaxError{Offset: p.i, msg: msg} }

func (p *parser) ws() {
	s, i := p.s, p.i
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	p.i = i
}

func (p *parser) add(n node) int32 {
	p.ev.nodes = append(p.ev.nodes, n)
	return int32(len(p.ev.nodes) - 1) //nolint:gosec // G115: parse refuses input over MaxEventSize, so nodes fit in int32
}

// value parses one value; with skip it only checks the syntax and returns -1.
func (p *parser) value(depth int, skip bool) (int32, error) {
	if depth > MaxEventDepth {
		return -1, ErrEventTooDeep
	}
	if p.i >= len(p.s) {
		return -1, p.fail("unexpected end of input")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object(depth, skip)
	case c == '[':
		return p.array(depth, skip)
	case c == '"':
		s, err := p.str(skip)
		if err != nil || skip {
			return -1, err
		}
		return p.add(node{kind: kStr, id: -1, next: -1, child: -1, str: s}), nil
	case c == 't':
		return p.literal("true", kTrue, skip)
	case c == 'f':
		return p.literal("false", kFalse, skip)
	case c == 'n':
		return p.literal("null", kNull, skip)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(skip)
	default:
		return -1, p.fail("unexpected character")
	}
}

func (p *parser) literal(lit string, k kind, skip bool) (int32, error) {
	if len(p.s)-p.i < len(lit) || string(p.s[p.i:p.i+len(lit)]) != lit {
		return -1, p.fail("invalid literal")
	}
	p.i += len(lit)
	if skip {
		return -1, nil
	}
	return p.add(node{kind: k, id: -1, next: -1, child: -1}), nil
}

func (p *parser) number(skip bool) (int32, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.s) && p.s[p.i] == '0' {
		p.i++
	} else if p.digits() == 0 {
		return -1, p.fail("invalid number")
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return -1, p.fail("invalid number")
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return -1, p.fail("invalid number")
		}
	}
	if skip {
		return -1, nil
	}
	text := p.s[start:p.i]
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return -1, p.fail("invalid number")
	}
	return p.add(node{kind: kNum, id: -1, next: -1, child: -1, num: f, str: text}), nil
}

func (p *parser) digits() int {
	s, i := p.s, p.i
	start := i
	for i < len(s) && s[i]-'0' <= 9 {
		i++
	}
	p.i = i
	return i - start
}

// str parses a string at p.i (the opening quote) and returns its value.
func (p *parser) str(skip bool) ([]byte, error) {
	s := p.s
	start := p.i + 1
	for i := start; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			p.i = i + 1
			return s[start:i], nil
		case c == '\\':
			p.i = i
			return p.strEscaped(start, skip)
		case c < 0x20:
			p.i = i
			return nil, p.fail("control character in string")
		}
	}
	p.i = len(s)
	return nil, p.fail("unterminated string")
}

// strEscaped finishes a string that has escapes, unescaping into buf the way
// encoding/json does (a lone surrogate becomes U+FFFD).
func (p *parser) strEscaped(start int, skip bool) ([]byte, error) {
	b := p.ev.buf
	off := len(b)
	if !skip {
		b = append(b, p.s[start:p.i]...)
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			p.ev.buf = b
			if skip {
				return nil, nil
			}
			return b[off:len(b):len(b)], nil
		case c < 0x20:
			return nil, p.fail("control character in string")
		case c != '\\':
			if !skip {
				b = append(b, c)
			}
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.s) {
			break
		}
		e := p.s[p.i]
		p.i++
		var r rune
		switch e {
		case '"', '\\', '/':
			r = rune(e)
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case 'u':
			r = p.hex4()
			if r < 0 {
				return nil, p.fail("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				if p.i+1 < len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					r2 := p.hex4()
					if r2 < 0 {
						return nil, p.fail("invalid \\u escape")
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						break
					}
					p.i = save
				}
				r = utf8.RuneError
			}
		default:
			return nil, p.fail("invalid escape")
		}
		if !skip {
			b = utf8.AppendRune(b, r)
		}
	}
	return nil, p.fail("unterminated string")
}

func (p *parser) hex4() rune {
	if len(p.s)-p.i < 4 {
		return -1
	}
	var r rune
	for _, c := range p.s[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return -1
		}
	}
	p.i += 4
	return r
}

func (p *parser) object(depth int, skip bool) (int32, error) {
	p.i++ // {
	self := int32(-1)
	if !skip {
		self = p.add(node{kind: kObj, id: -1, next: -1, child: -1})
	}
	last := int32(-1)
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return self, nil
	}
	for {
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return -1, p.fail("expected a member name")
		}
		mark := len(p.ev.buf)
		key, err := p.str(skip)
		if err != nil {
			return -1, err
		}
		id, keep := int32(-1), false
		if !skip {
			id, keep = p.dict[string(key)]
		}
		p.ev.buf = p.ev.buf[:mark] // the key is not needed after the lookup
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return -1, p.fail("expected ':'")
		}
		p.i++
		p.ws()
		child, err := p.value(depth+1, !keep)
		if err != nil {
			return -1, err
		}
		if keep {
			p.ev.nodes[child].id = id
			if last < 0 {
				p.ev.nodes[self].child = child
			} else {
				p.ev.nodes[last].next = child
			}
			last = child
		}
		p.ws()
		if p.i >= len(p.s) {
			return -1, p.fail("unexpected end of input")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return self, nil
		default:
			return -1, p.fail("expected ',' or '}'")
		}
	}
}

func (p *parser) array(depth int, skip bool) (int32, error) {
	p.i++ // [
	self := int32(-1)
	if !skip {
		self = p.add(node{kind: kArr, id: -1, next: -1, child: -1})
	}
	last := int32(-1)
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return self, nil
	}
	for {
		p.ws()
		child, err := p.value(depth+1, skip)
		if err != nil {
			return -1, err
		}
		if !skip {
			if last < 0 {
				p.ev.nodes[self].child = child
			} else {
				p.ev.nodes[last].next = child
			}
			last = child
		}
		p.ws()
		if p.i >= len(p.s) {
			return -1, p.fail("unexpected end of input")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return self, nil
		default:
			return -1, p.fail("expected ',' or ']'")
		}
	}
}
