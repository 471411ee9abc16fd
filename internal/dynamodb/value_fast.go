package dynamodb

import (
	"encoding/base64"
	"unicode/utf8"
)

// The fast AttributeValue decoder. encoding/json decodes an AttributeValue
// by handing its bytes to Value.UnmarshalJSON, which decoded them again
// with encoding/json (a validity scan and a reflective decode per value,
// per level of nesting): most of PutItem's CPU. fastValue reads the
// shapes clients send in one pass and without reflection: one type
// member named exactly, strings without escapes, valid UTF-8. Anything
// else — and every value DynamoDB refuses — it declines (ok false), and
// the general decoder reads it, so the answers and their errors are the
// general decoder's. FuzzFastValue holds the two to the same results.

// fastMaxDepth is the nesting the fast decoder follows before declining.
const fastMaxDepth = 64

type fastParser struct {
	b []byte
	i int
}

// fastValue decodes b, a whole AttributeValue; ok false: declined.
func fastValue(b []byte) (v Value, ok bool) {
	p := fastParser{b: b}
	if !p.value(&v, 0) {
		return Value{}, false
	}
	p.ws()
	return v, p.i == len(p.b)
}

func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte consumes c after white space.
func (p *fastParser) byte(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// peek reports whether the next byte after white space is c.
func (p *fastParser) peek(c byte) bool {
	p.ws()
	return p.i < len(p.b) && p.b[p.i] == c
}

// str reads a string without escapes or control characters, valid UTF-8.
func (p *fastParser) str() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start, ascii := p.i, true
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if !ascii && !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= 0x80:
			ascii = false
		}
	}
	return "", false
}

// binary reads a base64 string as encoding/json decodes one into []byte.
func (p *fastParser) binary() ([]byte, bool) {
	s, ok := p.str()
	if !ok {
		return nil, false
	}
	b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(b, []byte(s))
	if err != nil {
		return nil, false
	}
	return b[:n], true
}

// literal consumes true or false.
func (p *fastParser) literal() (bool, bool) {
	p.ws()
	rest := p.b[p.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		p.i += 4
		return true, true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		p.i += 5
		return false, true
	}
	return false, false
}

// strings reads a non-empty array of strings.
func (p *fastParser) strings() ([]string, bool) {
	if !p.byte('[') || p.peek(']') {
		return nil, false
	}
	var out []string
	for {
		s, ok := p.str()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		if p.byte(']') {
			return out, true
		}
		if !p.byte(',') {
			return nil, false
		}
	}
}

func hasDuplicates(ss []string) bool {
	if len(ss) < 8 {
		for i := range ss {
			for j := i + 1; j < len(ss); j++ {
				if ss[i] == ss[j] {
					return true
				}
			}
		}
		return false
	}
	return noDuplicates(ss) != nil
}

// value reads one AttributeValue into v.
func (p *fastParser) value(v *Value, depth int) bool {
	if depth > fastMaxDepth || !p.byte('{') {
		return false
	}
	name, ok := p.str()
	if !ok || !p.byte(':') {
		return false
	}
	switch name {
	case "S":
		if v.S, ok = p.str(); !ok {
			return false
		}
		v.K = KindS
	case "N":
		s, ok := p.str()
		if !ok {
			return false
		}
		c, err := canonicalNumber(s)
		if err != nil {
			return false
		}
		v.K, v.S = KindN, c
	case "B":
		if v.B, ok = p.binary(); !ok {
			return false
		}
		v.K = KindB
	case "BOOL":
		if v.Bool, ok = p.literal(); !ok {
			return false
		}
		v.K = KindBOOL
	case "NULL":
		if b, ok := p.literal(); !ok || !b {
			return false
		}
		v.K = KindNULL
	case "M":
		if !p.byte('{') {
			return false
		}
		v.K, v.M = KindM, map[string]*Value{}
		if !p.byte('}') {
			for {
				k, ok := p.str()
				if !ok || !p.byte(':') {
					return false
				}
				e := new(Value)
				if !p.value(e, depth+1) {
					return false
				}
				v.M[k] = e
				if p.byte('}') {
					break
				}
				if !p.byte(',') {
					return false
				}
			}
		}
	case "L":
		if !p.byte('[') {
			return false
		}
		v.K, v.L = KindL, []*Value{}
		if !p.byte(']') {
			for {
				e := new(Value)
				if !p.value(e, depth+1) {
					return false
				}
				v.L = append(v.L, e)
				if p.byte(']') {
					break
				}
				if !p.byte(',') {
					return false
				}
			}
		}
	case "SS":
		ss, ok := p.strings()
		if !ok || hasDuplicates(ss) {
			return false
		}
		v.K, v.SS = KindSS, ss
	case "NS":
		ss, ok := p.strings()
		if !ok {
			return false
		}
		for i, s := range ss {
			c, err := canonicalNumber(s)
			if err != nil {
				return false
			}
			ss[i] = c
		}
		if hasDuplicates(ss) {
			return false
		}
		v.K, v.SS = KindNS, ss
	case "BS":
		if !p.byte('[') || p.peek(']') {
			return false
		}
		var bs [][]byte
		for {
			b, ok := p.binary()
			if !ok {
				return false
			}
			bs = append(bs, b)
			if p.byte(']') {
				break
			}
			if !p.byte(',') {
				return false
			}
		}
		ss := make([]string, len(bs))
		for i, b := range bs {
			ss[i] = string(b)
		}
		if hasDuplicates(ss) {
			return false
		}
		v.K, v.BS = KindBS, bs
	default:
		return false
	}
	return p.byte('}')
}
