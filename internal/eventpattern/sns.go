package eventpattern

import (
	"strings"
)

// Attribute is one SNS message attribute as Publish carries it: Type is
// String, String.Array, Number or Binary (optionally with a custom suffix,
// as in "Number.float"), Value its string form.
type Attribute struct {
	Name  string
	Type  string
	Value string
}

// MatchAttributes reports whether SNS message attributes match a filter
// policy (any dialect, normally SNSAttributes). String attributes match as
// strings, Number attributes as numbers (so "15" of type String does not
// match 15), String.Array attributes as a JSON array whose elements match
// individually; Binary attributes are never compared, as in SNS.
func (p *Pattern) MatchAttributes(attrs []Attribute) (bool, error) {
	ev := eventPool.Get().(*event)
	defer eventPool.Put(ev)
	doc := ev.scratch[:0]
	doc = append(doc, '{')
	n := 0
	for _, a := range attrs {
		if _, ok := p.dict[a.Name]; !ok {
			continue
		}
		base := a.Type
		if base != "String.Array" {
			base, _, _ = strings.Cut(a.Type, ".")
		}
		kind := attrSkip
		switch base {
		case "String":
			kind = attrString
		case "Number":
			if validNumber(a.Value) {
				kind = attrRaw
			}
		case "String.Array":
			kind = attrString
			if validArray(a.Value) {
				kind = attrRaw
			}
		}
		if kind == attrSkip {
			continue
		}
		if n > 0 {
			doc = append(doc, ',')
		}
		n++
		doc = appendJSONString(doc, a.Name)
		doc = append(doc, ':')
		if kind == attrRaw {
			doc = append(doc, a.Value...)
		} else {
			doc = appendJSONString(doc, a.Value)
		}
	}
	doc = append(doc, '}')
	ev.scratch = doc
	if err := ev.parse(doc, p.dict); err != nil {
		return false, err
	}
	e := evaluator{ev: ev}
	return e.obj(p.root, ev.root), nil
}

func validNumber(s string) bool {
	if s == "" {
		return false
	}
	p := parser{s: []byte(s)}
	if _, err := p.number(true); err != nil {
		return false
	}
	return p.i == len(p.s)
}

func validArray(s string) bool {
	p := parser{s: []byte(s), ev: &event{}}
	p.ws()
	if p.i >= len(p.s) || p.s[p.i] != '[' {
		return false
	}
	if _, err := p.value(0, true); err != nil {
		return false
	}
	p.ws()
	return p.i == len(p.s)
}

const (
	attrSkip = iota
	attrString
	attrRaw
)

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
