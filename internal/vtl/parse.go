package vtl

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxTemplate is the largest template Parse accepts: API Gateway's limit
// on a mapping template's size.
const MaxTemplate = 300 << 10

// maxNesting bounds directive nesting, expression depth and interpolated
// strings within strings.
const maxNesting = 100

// Error is a template that cannot be parsed or evaluated.
type Error struct {
	Line, Column int // where parsing failed; 0 at evaluation
	Msg          string
	Err          error // ErrLimit when a bound stopped evaluation
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s at line %d, column %d", e.Msg, e.Line, e.Column)
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// The syntax tree.
type (
	node any // textNode | *refNode | *setNode | *ifNode | *foreachNode | breakNode | stopNode

	textNode string
	refNode  struct{ ref *reference }
	setNode  struct {
		target *reference
		value  expr
	}
	ifNode struct {
		conds  []expr
		bodies [][]node // len(conds) bodies, plus the #else body when there is one
	}
	foreachNode struct {
		name string
		over expr
		body []node
	}
	breakNode struct{}
	stopNode  struct{}

	expr any // *reference | literal | *interp | *listExpr | *rangeExpr | *mapExpr | *binary | *unary

	literal   struct{ v any }
	interp    struct{ nodes []node }
	listExpr  struct{ items []expr }
	rangeExpr struct{ from, to expr }
	mapExpr   struct{ keys, vals []expr }
	binary    struct {
		op   string
		l, r expr
	}
	unary struct {
		op string
		x  expr
	}

	reference struct {
		name  string
		chain []accessor
	}
	accessor struct {
		name string
		call bool
		args []expr
	}
)

// Template is a parsed mapping template, safe for concurrent Execute.
type Template struct {
	nodes []node
}

// Parse parses a template.
func Parse(src string) (*Template, error) {
	if len(src) > MaxTemplate {
		return nil, &Error{Msg: fmt.Sprintf("template is %d bytes, more than the %d allowed", len(src), MaxTemplate)}
	}
	p := &parser{src: src}
	nodes, stop, err := p.block(0)
	if err != nil {
		return nil, err
	}
	if stop != "" {
		return nil, p.errAt(p.pos, "#%s without a matching #if or #foreach", stop)
	}
	return &Template{nodes: nodes}, nil
}

type parser struct {
	src   string
	pos   int
	depth int
	cond  expr // the condition of the #elseif that ended a block
}

func (p *parser) errAt(pos int, format string, args ...any) error {
	line, col := 1, 1
	for i := 0; i < pos && i < len(p.src); i++ {
		if p.src[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &Error{Line: line, Column: col, Msg: "Encountered an error parsing the template: " + fmt.Sprintf(format, args...)}
}

var directives = map[string]bool{
	"set": true, "if": true, "elseif": true, "else": true, "end": true, "foreach": true, "break": true, "stop": true,
	"macro": true, "include": true, "parse": true, "evaluate": true, "define": true,
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isIdent(c byte) bool  { return isLetter(c) || isDigit(c) || c == '_' }
func isSpace(c byte) bool  { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// ident reads an identifier at i: a letter or _, then letters, digits, _
// and - (a hyphen only when an identifier character follows it).
func (p *parser) ident(i int) (string, int) {
	if i >= len(p.src) || !isLetter(p.src[i]) && p.src[i] != '_' {
		return "", i
	}
	j := i + 1
	for j < len(p.src) {
		c := p.src[j]
		if isIdent(c) || c == '-' && j+1 < len(p.src) && isIdent(p.src[j+1]) {
			j++
			continue
		}
		break
	}
	return p.src[i:j], j
}

// refStarts reports whether a reference begins at i ('$').
func (p *parser) refStarts(i int) bool {
	i++
	if i < len(p.src) && p.src[i] == '!' {
		i++
	}
	if i < len(p.src) && p.src[i] == '{' {
		i++
	}
	return i < len(p.src) && (isLetter(p.src[i]) || p.src[i] == '_')
}

// directiveAt returns the directive named at i ('#'), its name and where
// the name ends; "" when the # is text.
func (p *parser) directiveAt(i int) (string, int) {
	j := i + 1
	braced := j < len(p.src) && p.src[j] == '{'
	if braced {
		j++
	}
	name, k := p.ident(j)
	// Directive names do not take hyphens.
	if h := strings.IndexByte(name, '-'); h >= 0 {
		name, k = name[:h], j+h
	}
	if !directives[name] {
		return "", i
	}
	if braced {
		if k >= len(p.src) || p.src[k] != '}' {
			return "", i
		}
		k++
	}
	return name, k
}

// block parses until the end of input or a #else, #elseif or #end, which
// it returns (with the #elseif's condition in p.cond).
func (p *parser) block(depth int) ([]node, string, error) {
	if depth > maxNesting {
		return nil, "", p.errAt(p.pos, "directives nested more than %d deep", maxNesting)
	}
	var nodes []node
	var text strings.Builder
	lineStart := true // only whitespace since the last newline
	flush := func() {
		if text.Len() > 0 {
			nodes = append(nodes, textNode(text.String()))
			text.Reset()
		}
	}
	// gobble drops what surrounds a directive alone on its line: the
	// indentation before it and the newline after it; a newline right
	// after a directive goes in any case (Velocity 1.7).
	gobble := func() {
		j := p.pos
		for j < len(p.src) && (p.src[j] == ' ' || p.src[j] == '\t') {
			j++
		}
		nl := 0
		if strings.HasPrefix(p.src[j:], "\r\n") {
			nl = 2
		} else if j < len(p.src) && p.src[j] == '\n' {
			nl = 1
		}
		if lineStart && (nl > 0 || j == len(p.src)) {
			s := text.String()
			t := strings.TrimRight(s, " \t")
			if len(t) != len(s) {
				text.Reset()
				text.WriteString(t)
			}
			p.pos = j + nl
			return
		}
		if nl > 0 && j == p.pos {
			p.pos += nl
			lineStart = true
		}
	}
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '\\':
			n := 0
			for p.pos+n < len(p.src) && p.src[p.pos+n] == '\\' {
				n++
			}
			at := p.pos + n
			escapable := false
			if at < len(p.src) && p.src[at] == '$' && p.refStarts(at) {
				escapable = true
			} else if at < len(p.src) && p.src[at] == '#' {
				if name, _ := p.directiveAt(at); name != "" {
					escapable = true
				}
			}
			if !escapable {
				text.WriteString(p.src[p.pos:at])
				p.pos = at
				lineStart = false
				continue
			}
			text.WriteString(strings.Repeat(`\`, n/2))
			p.pos = at
			lineStart = false
			if n%2 == 1 {
				// The escaped reference or directive name is text.
				if p.src[at] == '$' {
					end, err := p.skipReference(at)
					if err != nil {
						return nil, "", err
					}
					text.WriteString(p.src[at:end])
					p.pos = end
				} else {
					_, end := p.directiveAt(at)
					text.WriteString(p.src[at:end])
					p.pos = end
				}
			}
		case c == '$' && p.refStarts(p.pos):
			flush()
			lineStart = false
			r, err := p.reference()
			if err != nil {
				return nil, "", err
			}
			nodes = append(nodes, &refNode{ref: r})
		case c == '#' && strings.HasPrefix(p.src[p.pos:], "##"):
			end := strings.IndexByte(p.src[p.pos:], '\n')
			if end < 0 {
				p.pos = len(p.src)
			} else {
				p.pos += end + 1
			}
			if lineStart {
				s := text.String()
				if t := strings.TrimRight(s, " \t"); len(t) != len(s) {
					text.Reset()
					text.WriteString(t)
				}
			} else {
				text.WriteByte('\n')
				lineStart = true
			}
		case c == '#' && strings.HasPrefix(p.src[p.pos:], "#*"):
			end := strings.Index(p.src[p.pos+2:], "*#")
			if end < 0 {
				return nil, "", p.errAt(p.pos, "unterminated comment #*")
			}
			p.pos += 2 + end + 2
		case c == '#' && strings.HasPrefix(p.src[p.pos:], "#[["):
			end := strings.Index(p.src[p.pos+3:], "]]#")
			if end < 0 {
				return nil, "", p.errAt(p.pos, "unterminated #[[ block")
			}
			text.WriteString(p.src[p.pos+3 : p.pos+3+end])
			p.pos += 3 + end + 3
			lineStart = false
		case c == '#':
			name, end := p.directiveAt(p.pos)
			if name == "" {
				text.WriteByte('#')
				p.pos++
				lineStart = false
				continue
			}
			start := p.pos
			p.pos = end
			switch name {
			case "else", "end":
				gobble()
				flush()
				return nodes, name, nil
			case "elseif":
				cond, err := p.parenExpr(name)
				if err != nil {
					return nil, "", err
				}
				p.cond = cond
				gobble()
				flush()
				return nodes, name, nil
			case "break", "stop":
				gobble()
				flush()
				if name == "break" {
					nodes = append(nodes, breakNode{})
				} else {
					nodes = append(nodes, stopNode{})
				}
			case "set":
				n, err := p.set()
				if err != nil {
					return nil, "", err
				}
				gobble()
				flush()
				nodes = append(nodes, n)
			case "if":
				cond, err := p.parenExpr(name)
				if err != nil {
					return nil, "", err
				}
				gobble()
				flush()
				n := &ifNode{}
				for {
					body, stop, err := p.block(depth + 1)
					if err != nil {
						return nil, "", err
					}
					n.conds = append(n.conds, cond)
					n.bodies = append(n.bodies, body)
					if stop == "elseif" {
						cond = p.cond
						continue
					}
					if stop == "else" {
						body, stop, err = p.block(depth + 1)
						if err != nil {
							return nil, "", err
						}
						if stop != "end" {
							return nil, "", p.errAt(start, "#if without a matching #end")
						}
						n.bodies = append(n.bodies, body)
					} else if stop != "end" {
						return nil, "", p.errAt(start, "#if without a matching #end")
					}
					break
				}
				nodes = append(nodes, n)
			case "foreach":
				n, err := p.foreachHead()
				if err != nil {
					return nil, "", err
				}
				gobble()
				flush()
				body, stop, err := p.block(depth + 1)
				if err != nil {
					return nil, "", err
				}
				if stop != "end" {
					return nil, "", p.errAt(start, "#foreach without a matching #end")
				}
				n.body = body
				nodes = append(nodes, n)
			default:
				return nil, "", p.errAt(start, "the #%s directive is not supported in API Gateway mapping templates", name)
			}
		default:
			text.WriteByte(c)
			p.pos++
			if c == '\n' {
				lineStart = true
			} else if c != ' ' && c != '\t' && c != '\r' {
				lineStart = false
			}
		}
	}
	flush()
	return nodes, "", nil
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) && isSpace(p.src[p.pos]) {
		p.pos++
	}
}

func (p *parser) expect(c byte, what string) error {
	p.skipSpace()
	if p.pos >= len(p.src) || p.src[p.pos] != c {
		return p.errAt(p.pos, "expected %q %s", c, what)
	}
	p.pos++
	return nil
}

func (p *parser) parenExpr(dir string) (expr, error) {
	if err := p.expect('(', "after #"+dir); err != nil {
		return nil, err
	}
	e, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if err := p.expect(')', "to close #"+dir); err != nil {
		return nil, err
	}
	return e, nil
}

func (p *parser) set() (node, error) {
	if err := p.expect('(', "after #set"); err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos >= len(p.src) || p.src[p.pos] != '$' || !p.refStarts(p.pos) {
		return nil, p.errAt(p.pos, "#set needs a reference to assign to")
	}
	target, err := p.reference()
	if err != nil {
		return nil, err
	}
	if n := len(target.chain); n > 0 && target.chain[n-1].call {
		return nil, p.errAt(p.pos, "#set cannot assign to a method call")
	}
	if err := p.expect('=', "in #set"); err != nil {
		return nil, err
	}
	v, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if err := p.expect(')', "to close #set"); err != nil {
		return nil, err
	}
	return &setNode{target: target, value: v}, nil
}

func (p *parser) foreachHead() (*foreachNode, error) {
	if err := p.expect('(', "after #foreach"); err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos >= len(p.src) || p.src[p.pos] != '$' || !p.refStarts(p.pos) {
		return nil, p.errAt(p.pos, "#foreach needs a loop variable")
	}
	v, err := p.reference()
	if err != nil {
		return nil, err
	}
	if len(v.chain) > 0 {
		return nil, p.errAt(p.pos, "the #foreach loop variable must be a plain reference")
	}
	p.skipSpace()
	if !strings.HasPrefix(p.src[p.pos:], "in") || p.pos+2 < len(p.src) && isIdent(p.src[p.pos+2]) {
		return nil, p.errAt(p.pos, "expected 'in' in #foreach")
	}
	p.pos += 2
	over, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if err := p.expect(')', "to close #foreach"); err != nil {
		return nil, err
	}
	return &foreachNode{name: v.name, over: over}, nil
}

// skipReference returns where the reference at i ends, without keeping it.
func (p *parser) skipReference(i int) (int, error) {
	save := p.pos
	p.pos = i
	_, err := p.reference()
	end := p.pos
	p.pos = save
	return end, err
}

// reference parses $name, $!name, ${name}, $!{name} and the property and
// method chain after the name.
func (p *parser) reference() (*reference, error) {
	start := p.pos
	p.pos++ // $
	if p.src[p.pos] == '!' {
		p.pos++
	}
	braced := p.src[p.pos] == '{'
	if braced {
		p.pos++
	}
	name, end := p.ident(p.pos)
	p.pos = end
	r := &reference{name: name}
	for p.pos+1 < len(p.src) && p.src[p.pos] == '.' && (isLetter(p.src[p.pos+1]) || p.src[p.pos+1] == '_') {
		id, end := p.ident(p.pos + 1)
		p.pos = end
		a := accessor{name: id}
		if p.pos < len(p.src) && p.src[p.pos] == '(' {
			p.pos++
			a.call = true
			p.skipSpace()
			if p.pos < len(p.src) && p.src[p.pos] == ')' {
				p.pos++
			} else {
				for {
					arg, err := p.expr(0)
					if err != nil {
						return nil, err
					}
					a.args = append(a.args, arg)
					p.skipSpace()
					if p.pos < len(p.src) && p.src[p.pos] == ',' {
						p.pos++
						continue
					}
					if err := p.expect(')', "to close the arguments of "+id); err != nil {
						return nil, err
					}
					break
				}
			}
		}
		r.chain = append(r.chain, a)
		if len(r.chain) > 64 {
			return nil, p.errAt(start, "reference chain too long")
		}
	}
	if braced {
		if p.pos >= len(p.src) || p.src[p.pos] != '}' {
			return nil, p.errAt(start, "expected '}' to close ${")
		}
		p.pos++
	}
	return r, nil
}

// Expressions, by precedence: || , &&, == !=, < > <= >=, + -, * / %,
// unary ! and -.
var levels = [][]string{
	{"||", "or"},
	{"&&", "and"},
	{"==", "!=", "eq", "ne"},
	{"<=", ">=", "<", ">", "le", "ge", "lt", "gt"},
	{"+", "-"},
	{"*", "/", "%"},
}

var wordOps = map[string]string{"or": "||", "and": "&&", "eq": "==", "ne": "!=", "le": "<=", "ge": ">=", "lt": "<", "gt": ">", "not": "!"}

func (p *parser) expr(level int) (expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxNesting*4 {
		return nil, p.errAt(p.pos, "expression nested too deeply")
	}
	if level == len(levels) {
		return p.unaryExpr()
	}
	l, err := p.expr(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		op := p.peekOp(levels[level])
		if op == "" {
			return l, nil
		}
		r, err := p.expr(level + 1)
		if err != nil {
			return nil, err
		}
		l = &binary{op: op, l: l, r: r}
	}
}

// peekOp consumes one of ops at the cursor and returns its symbol form.
func (p *parser) peekOp(ops []string) string {
	p.skipSpace()
	rest := p.src[p.pos:]
	for _, op := range ops {
		if !strings.HasPrefix(rest, op) {
			continue
		}
		if isLetter(op[0]) {
			if len(rest) > len(op) && isIdent(rest[len(op)]) {
				continue
			}
			p.pos += len(op)
			return wordOps[op]
		}
		// "<" is not "<=", "!" not "!=", "=" alone is not an operator.
		if (op == "<" || op == ">") && strings.HasPrefix(rest, op+"=") {
			continue
		}
		p.pos += len(op)
		return op
	}
	return ""
}

func (p *parser) unaryExpr() (expr, error) {
	p.skipSpace()
	rest := p.src[p.pos:]
	switch {
	case strings.HasPrefix(rest, "!") && !strings.HasPrefix(rest, "!="):
		p.pos++
		x, err := p.expr(len(levels))
		if err != nil {
			return nil, err
		}
		return &unary{op: "!", x: x}, nil
	case strings.HasPrefix(rest, "not") && (len(rest) == 3 || !isIdent(rest[3])):
		p.pos += 3
		x, err := p.expr(len(levels))
		if err != nil {
			return nil, err
		}
		return &unary{op: "!", x: x}, nil
	case strings.HasPrefix(rest, "-") && len(rest) > 1 && !isDigit(rest[1]):
		p.pos++
		x, err := p.expr(len(levels))
		if err != nil {
			return nil, err
		}
		return &unary{op: "-", x: x}, nil
	}
	return p.primary()
}

func (p *parser) primary() (expr, error) {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return nil, p.errAt(p.pos, "expected an expression, found the end of the template")
	}
	c := p.src[p.pos]
	switch {
	case c == '$':
		if !p.refStarts(p.pos) {
			return nil, p.errAt(p.pos, "expected a reference after '$'")
		}
		return p.reference()
	case c == '"':
		return p.dquoted()
	case c == '\'':
		start := p.pos
		var b strings.Builder
		p.pos++
		for {
			if p.pos >= len(p.src) {
				return nil, p.errAt(start, "unterminated string")
			}
			if p.src[p.pos] == '\'' {
				if p.pos+1 < len(p.src) && p.src[p.pos+1] == '\'' {
					b.WriteByte('\'')
					p.pos += 2
					continue
				}
				p.pos++
				return literal{v: b.String()}, nil
			}
			b.WriteByte(p.src[p.pos])
			p.pos++
		}
	case isDigit(c) || c == '-':
		return p.number()
	case c == '[':
		return p.list()
	case c == '{':
		return p.mapLit()
	case c == '(':
		p.pos++
		e, err := p.expr(0)
		if err != nil {
			return nil, err
		}
		if err := p.expect(')', "to close '('"); err != nil {
			return nil, err
		}
		return e, nil
	}
	word, end := p.ident(p.pos)
	switch word {
	case "true", "false":
		p.pos = end
		return literal{v: word == "true"}, nil
	case "null":
		p.pos = end
		return literal{v: nil}, nil
	}
	return nil, p.errAt(p.pos, "unexpected %q in an expression", c)
}

func (p *parser) number() (expr, error) {
	start := p.pos
	if p.src[p.pos] == '-' {
		p.pos++
	}
	for p.pos < len(p.src) && isDigit(p.src[p.pos]) {
		p.pos++
	}
	isFloat := false
	if p.pos+1 < len(p.src) && p.src[p.pos] == '.' && isDigit(p.src[p.pos+1]) {
		isFloat = true
		p.pos++
		for p.pos < len(p.src) && isDigit(p.src[p.pos]) {
			p.pos++
		}
	}
	s := p.src[start:p.pos]
	if s == "-" {
		return nil, p.errAt(start, "expected a number")
	}
	if isFloat {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, p.errAt(start, "bad number %s", s)
		}
		return literal{v: f}, nil
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, p.errAt(start, "bad number %s", s)
	}
	return literal{v: i}, nil
}

func (p *parser) dquoted() (expr, error) {
	start := p.pos
	p.pos++
	var b strings.Builder
	for {
		if p.pos >= len(p.src) {
			return nil, p.errAt(start, "unterminated string")
		}
		c := p.src[p.pos]
		if c == '\\' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '"' {
			b.WriteByte('"')
			p.pos += 2
			continue
		}
		if c == '"' {
			if p.pos+1 < len(p.src) && p.src[p.pos+1] == '"' {
				b.WriteByte('"')
				p.pos += 2
				continue
			}
			p.pos++
			break
		}
		b.WriteByte(c)
		p.pos++
	}
	s := b.String()
	if !strings.ContainsAny(s, "$#") {
		return literal{v: s}, nil
	}
	if p.depth > maxNesting {
		return nil, p.errAt(start, "strings nested too deeply")
	}
	sub := &parser{src: s, depth: p.depth + 10}
	nodes, stop, err := sub.block(0)
	if err != nil {
		return nil, p.errAt(start, "in string: %v", err)
	}
	if stop != "" {
		return nil, p.errAt(start, "#%s without a matching #if or #foreach in a string", stop)
	}
	return &interp{nodes: nodes}, nil
}

func (p *parser) list() (expr, error) {
	p.pos++ // [
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		p.pos++
		return &listExpr{}, nil
	}
	first, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if strings.HasPrefix(p.src[p.pos:], "..") {
		p.pos += 2
		to, err := p.expr(0)
		if err != nil {
			return nil, err
		}
		if err := p.expect(']', "to close a range"); err != nil {
			return nil, err
		}
		return &rangeExpr{from: first, to: to}, nil
	}
	l := &listExpr{items: []expr{first}}
	for {
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			it, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			l.items = append(l.items, it)
			continue
		}
		if err := p.expect(']', "to close a list"); err != nil {
			return nil, err
		}
		return l, nil
	}
}

func (p *parser) mapLit() (expr, error) {
	p.pos++ // {
	m := &mapExpr{}
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
		return m, nil
	}
	for {
		k, err := p.expr(0)
		if err != nil {
			return nil, err
		}
		if err := p.expect(':', "in a map"); err != nil {
			return nil, err
		}
		v, err := p.expr(0)
		if err != nil {
			return nil, err
		}
		m.keys, m.vals = append(m.keys, k), append(m.vals, v)
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if err := p.expect('}', "to close a map"); err != nil {
			return nil, err
		}
		return m, nil
	}
}
