package logsapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode"
)

// Pattern is a compiled CloudWatch Logs filter pattern. Three forms, as
// CloudWatch has them:
//
//	terms        ERROR "two words" -DEBUG      all terms, none of the -terms
//	             ?ERROR ?WARN                  any of the ?terms
//	JSON         { $.level = "ERROR" && ($.ms > 100 || $.user.id != 7) }
//	             operators = != < > <= >=, IS TRUE|FALSE|NULL, NOT EXISTS,
//	             "*" wildcards in string values, $.a[0] array indexes
//	space-delim  [ip, user, ..., status = 4*, size > 1000]
//
// Terms match as case-sensitive substrings of the message. An empty
// pattern matches everything.
type Pattern struct {
	match func(msg string) bool
}

// Match reports whether msg matches.
func (p *Pattern) Match(msg string) bool { return p.match(msg) }

var errPattern = errors.New("invalid filter pattern")

// maxPatternLen is CloudWatch's limit on filterPattern.
const maxPatternLen = 1024

// ParsePattern compiles a filter pattern.
func ParsePattern(s string) (*Pattern, error) {
	if len(s) > maxPatternLen {
		return nil, fmt.Errorf("%w: longer than %d characters", errPattern, maxPatternLen)
	}
	t := strings.TrimSpace(s)
	switch {
	case t == "":
		return &Pattern{match: func(string) bool { return true }}, nil
	case t[0] == '{':
		return parseJSONPattern(t)
	case t[0] == '[':
		return parseSpacePattern(t)
	}
	return parseTerms(t)
}

// --- terms ---

func parseTerms(s string) (*Pattern, error) {
	var all, none, any []string
	for i := 0; i < len(s); {
		if s[i] == ' ' || s[i] == '\t' {
			i++
			continue
		}
		kind := byte(0)
		if s[i] == '-' || s[i] == '?' {
			kind = s[i]
			i++
		}
		var term string
		if i < len(s) && s[i] == '"' {
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("%w: unterminated quote", errPattern)
			}
			term = s[i+1 : i+1+end]
			i += end + 2
		} else {
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\t' {
				j++
			}
			term = s[i:j]
			i = j
		}
		if term == "" {
			return nil, fmt.Errorf("%w: empty term", errPattern)
		}
		switch kind {
		case '-':
			none = append(none, term)
		case '?':
			any = append(any, term)
		default:
			all = append(all, term)
		}
	}
	return &Pattern{match: func(msg string) bool {
		for _, t := range all {
			if !strings.Contains(msg, t) {
				return false
			}
		}
		for _, t := range none {
			if strings.Contains(msg, t) {
				return false
			}
		}
		if len(any) > 0 {
			for _, t := range any {
				if strings.Contains(msg, t) {
					return true
				}
			}
			return false
		}
		return true
	}}, nil
}

// --- a small lexer shared by the JSON and space-delimited forms ---

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString // quoted
	tOp     // = != < > <= >= && || ( ) , [ ] { } !
	tEllipsis
)

type token struct {
	kind tokKind
	s    string
}

func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("%w: unterminated quote", errPattern)
			}
			out = append(out, token{tString, b.String()})
			i = j + 1
		case strings.HasPrefix(s[i:], "..."):
			out = append(out, token{tEllipsis, "..."})
			i += 3
		case strings.HasPrefix(s[i:], "&&"), strings.HasPrefix(s[i:], "||"), strings.HasPrefix(s[i:], "!="),
			strings.HasPrefix(s[i:], "<="), strings.HasPrefix(s[i:], ">="):
			out = append(out, token{tOp, s[i : i+2]})
			i += 2
		case strings.ContainsRune("=<>(),[]{}!", rune(c)):
			out = append(out, token{tOp, string(c)})
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n\"=<>(),[]{}!&|", rune(s[j])) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("%w: unexpected %q", errPattern, s[i])
			}
			out = append(out, token{tIdent, s[i:j]})
			i = j
		}
	}
	return append(out, token{tEOF, ""}), nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) expect(op string) error {
	if t := p.next(); t.kind != tOp || t.s != op {
		return fmt.Errorf("%w: expected %q, found %q", errPattern, op, t.s)
	}
	return nil
}

// value is the right-hand side of a comparison.
type value struct {
	s      string
	num    float64
	isNum  bool
	quoted bool
}

func (p *parser) value() (value, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return value{s: t.s, quoted: true}, nil
	case tIdent:
		v := value{s: t.s}
		if f, err := strconv.ParseFloat(t.s, 64); err == nil {
			v.num, v.isNum = f, true
		}
		return v, nil
	}
	return value{}, fmt.Errorf("%w: expected a value, found %q", errPattern, t.s)
}

// compare applies op to a field's value (text, and number when it is one).
func compare(op string, field string, fieldNum float64, fieldIsNum bool, v value) bool {
	switch op {
	case "=", "!=":
		var eq bool
		if v.isNum && fieldIsNum {
			eq = fieldNum == v.num
		} else {
			eq = wildcard(v.s, field)
		}
		return eq == (op == "=")
	}
	if !v.isNum || !fieldIsNum {
		return false
	}
	switch op {
	case "<":
		return fieldNum < v.num
	case ">":
		return fieldNum > v.num
	case "<=":
		return fieldNum <= v.num
	case ">=":
		return fieldNum >= v.num
	}
	return false
}

// wildcard matches s against pattern with "*" for any run of characters.
func wildcard(pattern, s string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == s
	}
	// path.Match treats only * ? [ specially; escape the others.
	esc := strings.NewReplacer(`\`, `\\`, `?`, `\?`, `[`, `\[`).Replace(pattern)
	esc = strings.ReplaceAll(esc, "/", "\x00")
	ok, err := path.Match(esc, strings.ReplaceAll(s, "/", "\x00"))
	return err == nil && ok
}

func isCompareOp(s string) bool {
	switch s {
	case "=", "!=", "<", ">", "<=", ">=":
		return true
	}
	return false
}

// --- JSON patterns ---

type jsonExpr func(doc any) bool

func parseJSONPattern(s string) (*Pattern, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	e, err := p.jsonOr()
	if err != nil {
		return nil, err
	}
	if err := p.expect("}"); err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, fmt.Errorf("%w: unexpected %q after }", errPattern, t.s)
	}
	return &Pattern{match: func(msg string) bool {
		m := strings.TrimSpace(msg)
		if !strings.HasPrefix(m, "{") {
			return false // JSON patterns match JSON events only
		}
		var doc any
		if json.Unmarshal([]byte(m), &doc) != nil {
			return false
		}
		return e(doc)
	}}, nil
}

func (p *parser) jsonOr() (jsonExpr, error) {
	l, err := p.jsonAnd()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tOp && p.peek().s == "||" {
		p.next()
		r, err := p.jsonAnd()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(d any) bool { return a(d) || b(d) }
	}
	return l, nil
}

func (p *parser) jsonAnd() (jsonExpr, error) {
	l, err := p.jsonTerm()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tOp && p.peek().s == "&&" {
		p.next()
		r, err := p.jsonTerm()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(d any) bool { return a(d) && b(d) }
	}
	return l, nil
}

func (p *parser) jsonTerm() (jsonExpr, error) {
	t := p.next()
	if t.kind == tOp && t.s == "(" {
		e, err := p.jsonOr()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return e, nil
	}
	if t.kind != tIdent || !strings.HasPrefix(t.s, "$") {
		return nil, fmt.Errorf("%w: expected a $. selector, found %q", errPattern, t.s)
	}
	sel, err := parseSelector(t.s)
	if err != nil {
		return nil, err
	}
	// Selectors may carry [n] indexes, lexed as separate tokens.
	for p.peek().kind == tOp && p.peek().s == "[" {
		p.next()
		n := p.next()
		idx, err := strconv.Atoi(n.s)
		if n.kind != tIdent || err != nil || idx < 0 {
			return nil, fmt.Errorf("%w: bad array index %q", errPattern, n.s)
		}
		if err := p.expect("]"); err != nil {
			return nil, err
		}
		sel = append(sel, selStep{idx: idx, isIdx: true})
		if nt := p.peek(); nt.kind == tIdent && strings.HasPrefix(nt.s, ".") {
			p.next()
			more, err := parseSelector("$" + nt.s)
			if err != nil {
				return nil, err
			}
			sel = append(sel, more...)
		}
	}
	op := p.next()
	if op.kind == tIdent && strings.EqualFold(op.s, "IS") {
		w := p.next()
		switch strings.ToUpper(w.s) {
		case "TRUE", "FALSE":
			want := strings.EqualFold(w.s, "TRUE")
			return func(d any) bool {
				v, ok := sel.get(d)
				b, isB := v.(bool)
				return ok && isB && b == want
			}, nil
		case "NULL":
			return func(d any) bool {
				v, ok := sel.get(d)
				return ok && v == nil
			}, nil
		}
		return nil, fmt.Errorf("%w: IS must be followed by TRUE, FALSE or NULL", errPattern)
	}
	if op.kind == tIdent && strings.EqualFold(op.s, "NOT") {
		if w := p.next(); !strings.EqualFold(w.s, "EXISTS") {
			return nil, fmt.Errorf("%w: NOT must be followed by EXISTS", errPattern)
		}
		return func(d any) bool {
			_, ok := sel.get(d)
			return !ok
		}, nil
	}
	if op.kind != tOp || !isCompareOp(op.s) {
		return nil, fmt.Errorf("%w: expected a comparison after %s, found %q", errPattern, t.s, op.s)
	}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	return func(d any) bool {
		fv, ok := sel.get(d)
		if !ok {
			return false
		}
		switch x := fv.(type) {
		case string:
			f, err := strconv.ParseFloat(x, 64)
			return compare(op.s, x, f, err == nil && !v.quoted, v)
		case float64:
			return compare(op.s, strconv.FormatFloat(x, 'f', -1, 64), x, true, v)
		case bool:
			return compare(op.s, strconv.FormatBool(x), 0, false, v)
		}
		return false
	}, nil
}

type selStep struct {
	key   string
	idx   int
	isIdx bool
}

type selector []selStep

func parseSelector(s string) (selector, error) {
	if s == "$" {
		return selector{}, nil
	}
	if !strings.HasPrefix(s, "$.") {
		return nil, fmt.Errorf("%w: selector %q must start with $. (dollar, dot)", errPattern, s)
	}
	var out selector
	for _, part := range strings.Split(s[2:], ".") {
		if part == "" {
			return nil, fmt.Errorf("%w: empty step in selector %q", errPattern, s)
		}
		out = append(out, selStep{key: part})
	}
	return out, nil
}

func (s selector) get(doc any) (any, bool) {
	cur := doc
	for _, st := range s {
		if st.isIdx {
			a, ok := cur.([]any)
			if !ok || st.idx >= len(a) {
				return nil, false
			}
			cur = a[st.idx]
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[st.key]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// --- space-delimited patterns ---

type fieldSpec struct {
	ellipsis bool
	name     string
	cond     func(field string) bool // nil: any value
}

func parseSpacePattern(s string) (*Pattern, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if err := p.expect("["); err != nil {
		return nil, err
	}
	var specs []fieldSpec
	for {
		t := p.peek()
		if t.kind == tOp && t.s == "]" && len(specs) == 0 {
			p.next()
			break
		}
		spec, err := p.fieldSpec()
		if err != nil {
			return nil, err
		}
		specs = append(specs, spec)
		sep := p.next()
		if sep.kind == tOp && sep.s == "]" {
			break
		}
		if sep.kind != tOp || sep.s != "," {
			return nil, fmt.Errorf("%w: expected , or ], found %q", errPattern, sep.s)
		}
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, fmt.Errorf("%w: unexpected %q after ]", errPattern, t.s)
	}
	return &Pattern{match: func(msg string) bool {
		return matchFields(specs, splitFields(msg))
	}}, nil
}

func (p *parser) fieldSpec() (fieldSpec, error) {
	t := p.next()
	if t.kind == tEllipsis {
		return fieldSpec{ellipsis: true}, nil
	}
	if t.kind != tIdent {
		return fieldSpec{}, fmt.Errorf("%w: expected a field name, found %q", errPattern, t.s)
	}
	spec := fieldSpec{name: t.s}
	var conds []func(string) bool
	joins := []string{}
	for {
		op := p.peek()
		if op.kind != tOp || !isCompareOp(op.s) {
			break
		}
		p.next()
		v, err := p.value()
		if err != nil {
			return fieldSpec{}, err
		}
		opS := op.s
		conds = append(conds, func(field string) bool {
			f, err := strconv.ParseFloat(field, 64)
			return compare(opS, field, f, err == nil, v)
		})
		j := p.peek()
		if j.kind == tOp && (j.s == "&&" || j.s == "||") {
			p.next()
			joins = append(joins, j.s)
			n := p.next()
			if n.kind != tIdent || n.s != t.s {
				return fieldSpec{}, fmt.Errorf("%w: a condition on %s must name it again", errPattern, t.s)
			}
			continue
		}
		break
	}
	if len(joins) > 0 && len(joins) >= len(conds) {
		return fieldSpec{}, fmt.Errorf("%w: dangling %s", errPattern, joins[len(joins)-1])
	}
	if len(conds) > 0 {
		spec.cond = func(field string) bool {
			r := conds[0](field)
			for i, j := range joins {
				if j == "&&" {
					r = r && conds[i+1](field)
				} else {
					r = r || conds[i+1](field)
				}
			}
			return r
		}
	}
	return spec, nil
}

// splitFields splits a message on spaces, keeping "quoted" and [bracketed]
// runs as one field (without the quotes or brackets).
func splitFields(msg string) []string {
	var out []string
	for i := 0; i < len(msg); {
		if unicode.IsSpace(rune(msg[i])) {
			i++
			continue
		}
		if msg[i] == '"' || msg[i] == '[' {
			closer := byte('"')
			if msg[i] == '[' {
				closer = ']'
			}
			if end := strings.IndexByte(msg[i+1:], closer); end >= 0 {
				out = append(out, msg[i+1:i+1+end])
				i += end + 2
				continue
			}
		}
		j := i
		for j < len(msg) && !unicode.IsSpace(rune(msg[j])) {
			j++
		}
		out = append(out, msg[i:j])
		i = j
	}
	return out
}

// matchFields matches specs against fields; an ellipsis takes any number
// of fields (dynamic programming, so many ellipses stay linear).
func matchFields(specs []fieldSpec, fields []string) bool {
	// ok[j] is whether specs[i:] matches fields[j:], for i from the end.
	ok := make([]bool, len(fields)+1)
	ok[len(fields)] = true
	next := make([]bool, len(fields)+1)
	for i := len(specs) - 1; i >= 0; i-- {
		s := specs[i]
		for j := len(fields); j >= 0; j-- {
			switch {
			case s.ellipsis:
				next[j] = ok[j] || j < len(fields) && next[j+1]
			case j == len(fields):
				next[j] = false
			default:
				next[j] = ok[j+1] && (s.cond == nil || s.cond(fields[j]))
			}
		}
		ok, next = next, ok
	}
	return ok[0]
}
