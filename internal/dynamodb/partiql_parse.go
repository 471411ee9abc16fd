package dynamodb

import (
	"strconv"
	"strings"
)

// PartiQL for DynamoDB (the developer guide's "PartiQL reference"): the
// statements ExecuteStatement, BatchExecuteStatement and
// ExecuteTransaction take.
//
//	statement ::= select | insert | update | delete | EXISTS ( select )
//	select    ::= SELECT ( * | path (, path)* ) FROM table [. index]
//	              [WHERE cond] [ORDER BY path [ASC|DESC] (, ...)*]
//	insert    ::= INSERT INTO table VALUE value
//	update    ::= UPDATE table ( SET path = operand (, path = operand)*
//	              | REMOVE path (, path)* )+ WHERE cond [RETURNING (ALL|MODIFIED) (OLD|NEW) *]
//	delete    ::= DELETE FROM table WHERE cond [RETURNING ALL OLD *]
//	cond      ::= cond OR cond | cond AND cond | NOT cond | ( cond )
//	            | operand (= | <> | != | < | <= | > | >=) operand
//	            | operand BETWEEN operand AND operand
//	            | operand IN ( [ operand (, operand)* ] | ( operand (, ...)* ) )
//	            | operand IS [NOT] (MISSING | NULL)
//	            | function ( operand (, operand)* )
//	operand   ::= term ((+ | -) term)*
//	term      ::= value | path | function ( operand (, operand)* )
//	value     ::= 'string' | number | TRUE | FALSE | NULL | ?
//	            | { 'key' : value (, ...)* } | [ value (, ...)* ] | << value (, ...)* >>
//	path      ::= name ( . name | [ n ] )*       name: identifier or "quoted"
//	table     ::= name
//
// Keywords are case-insensitive; 'it''s' and "a""b" escape their quotes.
// A statement is at most maxStatementLen characters.

// maxStatementLen is ExecuteStatement's limit on Statement.
const maxStatementLen = 8192

type pqTokKind int

const (
	pqEOF pqTokKind = iota
	pqIdent
	pqQuoted // "identifier"
	pqString // 'string'
	pqNumber
	pqTParam // ?
	pqPunct
)

type pqToken struct {
	kind pqTokKind
	text string
	pos  int
}

func pqError(format string, args ...any) *Error {
	return validationf("Statement wasn't well formed, can't be processed: "+format, args...)
}

// pqLex splits a statement into tokens.
func pqLex(s string) ([]pqToken, error) {
	var out []pqToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-': // a comment to the end of the line
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && (isIdentChar(s[j]) || s[j] == '$') {
				j++
			}
			out = append(out, pqToken{pqIdent, s[i:j], i})
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' && (len(out) == 0 || out[len(out)-1].kind == pqPunct):
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
				j++
			}
			if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
				k := j + 1
				if k < len(s) && (s[k] == '+' || s[k] == '-') {
					k++
				}
				if k < len(s) && s[k] >= '0' && s[k] <= '9' {
					j = k
					for j < len(s) && s[j] >= '0' && s[j] <= '9' {
						j++
					}
				}
			}
			out = append(out, pqToken{pqNumber, s[i:j], i})
			i = j
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, pqError("unterminated %c at %d", c, i)
				}
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			k := pqString
			if c == '"' {
				k = pqQuoted
			}
			out = append(out, pqToken{k, b.String(), i})
			i = j + 1
		case c == '?':
			out = append(out, pqToken{pqTParam, "?", i})
			i++
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "<=", ">=", "<>", "!=", "<<", ">>":
				out = append(out, pqToken{pqPunct, two, i})
				i += 2
				continue
			}
			if !strings.ContainsRune("()[]{},.=<>+-*:", rune(c)) {
				return nil, pqError("unexpected character '%c' at %d", c, i)
			}
			out = append(out, pqToken{pqPunct, string(c), i})
			i++
		}
	}
	return append(out, pqToken{kind: pqEOF, pos: len(s)}), nil
}

// The statement's tree.

type pqNode interface{ isPQ() }

type (
	pqLit   struct{ v *Value }
	pqParam struct{ i int }
	pqPath  struct{ p docPath }
	pqArith struct {
		op   string
		l, r pqNode
	}
	pqFunc struct {
		name string // lower case
		args []pqNode
	}
	pqMap struct {
		keys []string
		vals []pqNode
	}
	pqList struct{ elems []pqNode }
	pqSet  struct{ elems []pqNode }

	pqCmp struct {
		op   string
		l, r pqNode
	}
	pqBetween struct{ v, lo, hi pqNode }
	pqIn      struct {
		v    pqNode
		list []pqNode
	}
	pqIs struct {
		v    pqNode
		what string // MISSING or NULL
		not  bool
	}
	pqAnd struct{ l, r pqNode }
	pqOr  struct{ l, r pqNode }
	pqNot struct{ c pqNode }
)

func (pqLit) isPQ()     {}
func (pqParam) isPQ()   {}
func (pqPath) isPQ()    {}
func (pqArith) isPQ()   {}
func (pqFunc) isPQ()    {}
func (pqMap) isPQ()     {}
func (pqList) isPQ()    {}
func (pqSet) isPQ()     {}
func (pqCmp) isPQ()     {}
func (pqBetween) isPQ() {}
func (pqIn) isPQ()      {}
func (pqIs) isPQ()      {}
func (pqAnd) isPQ()     {}
func (pqOr) isPQ()      {}
func (pqNot) isPQ()     {}

type pqAssign struct {
	path docPath
	val  pqNode
}

type pqOrder struct {
	path docPath
	desc bool
}

// pqStatement is one parsed statement.
type pqStatement struct {
	kind         string // SELECT, INSERT, UPDATE, DELETE
	exists       bool   // EXISTS ( SELECT ... ): a transaction's condition check
	table, index string
	proj         []docPath // SELECT's paths; nil for *
	where        pqNode
	order        []pqOrder
	value        pqNode // INSERT's item
	sets         []pqAssign
	removes      []docPath
	returning    string // "ALL OLD", "MODIFIED OLD", "ALL NEW", "MODIFIED NEW"
	params       int    // the ? it has
}

type pqParser struct {
	toks []pqToken
	i    int
	st   *pqStatement
}

// parsePartiQL parses one statement.
func parsePartiQL(src string) (*pqStatement, error) {
	if len(src) > maxStatementLen {
		return nil, validationf("1 validation error detected: Value at 'statement' failed to satisfy constraint: Member must have length less than or equal to %d", maxStatementLen)
	}
	toks, err := pqLex(src)
	if err != nil {
		return nil, err
	}
	p := &pqParser{toks: toks, st: &pqStatement{}}
	if err := p.statement(); err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != pqEOF {
		return nil, pqError("unexpected token '%s' at %d", t.text, t.pos)
	}
	return p.st, nil
}

func (p *pqParser) peek() pqToken { return p.toks[p.i] }

func (p *pqParser) next() pqToken {
	t := p.toks[p.i]
	if t.kind != pqEOF {
		p.i++
	}
	return t
}

// isKw reports whether the next token is keyword kw.
func (p *pqParser) isKw(kw string) bool {
	t := p.peek()
	return t.kind == pqIdent && strings.EqualFold(t.text, kw)
}

func (p *pqParser) acceptKw(kw string) bool {
	if p.isKw(kw) {
		p.i++
		return true
	}
	return false
}

func (p *pqParser) expectKw(kw string) error {
	if !p.acceptKw(kw) {
		return p.unexpected(kw)
	}
	return nil
}

func (p *pqParser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == pqPunct && t.text == s
}

func (p *pqParser) acceptPunct(s string) bool {
	if p.isPunct(s) {
		p.i++
		return true
	}
	return false
}

func (p *pqParser) expectPunct(s string) error {
	if !p.acceptPunct(s) {
		return p.unexpected("'" + s + "'")
	}
	return nil
}

func (p *pqParser) unexpected(want string) error {
	t := p.peek()
	if t.kind == pqEOF {
		return pqError("expected %s at end of statement", want)
	}
	return pqError("expected %s, found '%s' at %d", want, t.text, t.pos)
}

func (p *pqParser) statement() error {
	switch {
	case p.acceptKw("SELECT"):
		return p.selectStmt()
	case p.acceptKw("INSERT"):
		return p.insertStmt()
	case p.acceptKw("UPDATE"):
		return p.updateStmt()
	case p.acceptKw("DELETE"):
		return p.deleteStmt()
	case p.acceptKw("EXISTS"):
		if err := p.expectPunct("("); err != nil {
			return err
		}
		if err := p.expectKw("SELECT"); err != nil {
			return err
		}
		if err := p.selectStmt(); err != nil {
			return err
		}
		p.st.exists = true
		return p.expectPunct(")")
	}
	return pqError("Expected data manipulation")
}

// name reads an identifier or a quoted name.
func (p *pqParser) name() (string, error) {
	t := p.peek()
	if t.kind == pqIdent || t.kind == pqQuoted {
		p.i++
		if t.text == "" {
			return "", pqError("empty name at %d", t.pos)
		}
		return t.text, nil
	}
	return "", p.unexpected("a name")
}

func (p *pqParser) selectStmt() error {
	p.st.kind = "SELECT"
	if !p.acceptPunct("*") {
		for {
			path, err := p.path()
			if err != nil {
				return err
			}
			p.st.proj = append(p.st.proj, path)
			if !p.acceptPunct(",") {
				break
			}
		}
	}
	if err := p.expectKw("FROM"); err != nil {
		return err
	}
	var err error
	if p.st.table, err = p.name(); err != nil {
		return err
	}
	if p.acceptPunct(".") {
		if p.st.index, err = p.name(); err != nil {
			return err
		}
	}
	if p.acceptKw("WHERE") {
		if p.st.where, err = p.cond(); err != nil {
			return err
		}
	}
	if p.acceptKw("ORDER") {
		if err := p.expectKw("BY"); err != nil {
			return err
		}
		for {
			path, err := p.path()
			if err != nil {
				return err
			}
			o := pqOrder{path: path}
			if p.acceptKw("DESC") {
				o.desc = true
			} else {
				p.acceptKw("ASC")
			}
			p.st.order = append(p.st.order, o)
			if !p.acceptPunct(",") {
				break
			}
		}
	}
	return nil
}

func (p *pqParser) insertStmt() error {
	p.st.kind = "INSERT"
	if err := p.expectKw("INTO"); err != nil {
		return err
	}
	var err error
	if p.st.table, err = p.name(); err != nil {
		return err
	}
	if err := p.expectKw("VALUE"); err != nil {
		return err
	}
	p.st.value, err = p.value()
	return err
}

func (p *pqParser) updateStmt() error {
	p.st.kind = "UPDATE"
	var err error
	if p.st.table, err = p.name(); err != nil {
		return err
	}
	clauses := 0
	for {
		switch {
		case p.acceptKw("SET"):
			for {
				path, err := p.path()
				if err != nil {
					return err
				}
				if err := p.expectPunct("="); err != nil {
					return err
				}
				v, err := p.operand()
				if err != nil {
					return err
				}
				p.st.sets = append(p.st.sets, pqAssign{path, v})
				if !p.acceptPunct(",") {
					break
				}
			}
		case p.acceptKw("REMOVE"):
			for {
				path, err := p.path()
				if err != nil {
					return err
				}
				p.st.removes = append(p.st.removes, path)
				if !p.acceptPunct(",") {
					break
				}
			}
		default:
			if clauses == 0 {
				return p.unexpected("SET or REMOVE")
			}
			if err := p.expectKw("WHERE"); err != nil {
				return err
			}
			if p.st.where, err = p.cond(); err != nil {
				return err
			}
			return p.returning(true)
		}
		clauses++
	}
}

func (p *pqParser) deleteStmt() error {
	p.st.kind = "DELETE"
	if err := p.expectKw("FROM"); err != nil {
		return err
	}
	var err error
	if p.st.table, err = p.name(); err != nil {
		return err
	}
	if err := p.expectKw("WHERE"); err != nil {
		return err
	}
	if p.st.where, err = p.cond(); err != nil {
		return err
	}
	return p.returning(false)
}

// returning reads RETURNING (ALL|MODIFIED) (OLD|NEW) *.
func (p *pqParser) returning(update bool) error {
	if !p.acceptKw("RETURNING") {
		return nil
	}
	var which, when string
	switch {
	case p.acceptKw("ALL"):
		which = "ALL"
	case update && p.acceptKw("MODIFIED"):
		which = "MODIFIED"
	default:
		return p.unexpected("ALL or MODIFIED")
	}
	switch {
	case p.acceptKw("OLD"):
		when = "OLD"
	case update && p.acceptKw("NEW"):
		when = "NEW"
	default:
		return p.unexpected("OLD or NEW")
	}
	if err := p.expectPunct("*"); err != nil {
		return err
	}
	p.st.returning = which + " " + when
	return nil
}

// path reads a document path.
func (p *pqParser) path() (docPath, error) {
	n, err := p.name()
	if err != nil {
		return nil, err
	}
	path := docPath{{name: n}}
	for {
		switch {
		case p.isPunct(".") && p.i+1 < len(p.toks) && (p.toks[p.i+1].kind == pqIdent || p.toks[p.i+1].kind == pqQuoted):
			p.i++
			n, _ := p.name()
			path = append(path, pathElem{name: n})
		case p.acceptPunct("["):
			t := p.next()
			if t.kind != pqNumber {
				return nil, pqError("expected a list index, found '%s' at %d", t.text, t.pos)
			}
			n, err := strconv.Atoi(t.text)
			if err != nil || n < 0 {
				return nil, pqError("invalid list index '%s' at %d", t.text, t.pos)
			}
			path = append(path, pathElem{index: n, isIdx: true})
			if err := p.expectPunct("]"); err != nil {
				return nil, err
			}
		default:
			if len(path) > maxPathDepth {
				return nil, validationf("Statement wasn't well formed, can't be processed: document path is nested more than %d levels", maxPathDepth)
			}
			return path, nil
		}
	}
}

// maxPathDepth is DynamoDB's nesting limit (32 levels).
const maxPathDepth = 32

func (p *pqParser) cond() (pqNode, error) {
	l, err := p.andCond()
	if err != nil {
		return nil, err
	}
	for p.acceptKw("OR") {
		r, err := p.andCond()
		if err != nil {
			return nil, err
		}
		l = pqOr{l, r}
	}
	return l, nil
}

func (p *pqParser) andCond() (pqNode, error) {
	l, err := p.notCond()
	if err != nil {
		return nil, err
	}
	for p.acceptKw("AND") {
		r, err := p.notCond()
		if err != nil {
			return nil, err
		}
		l = pqAnd{l, r}
	}
	return l, nil
}

func (p *pqParser) notCond() (pqNode, error) {
	if p.acceptKw("NOT") {
		c, err := p.notCond()
		if err != nil {
			return nil, err
		}
		return pqNot{c}, nil
	}
	return p.predicate()
}

func (p *pqParser) predicate() (pqNode, error) {
	if p.acceptPunct("(") {
		c, err := p.cond()
		if err != nil {
			return nil, err
		}
		return c, p.expectPunct(")")
	}
	v, err := p.operand()
	if err != nil {
		return nil, err
	}
	if f, ok := v.(pqFunc); ok && !p.peekComparison() {
		return f, nil
	}
	t := p.peek()
	switch {
	case t.kind == pqPunct && (t.text == "=" || t.text == "<>" || t.text == "!=" || t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">="):
		p.i++
		r, err := p.operand()
		if err != nil {
			return nil, err
		}
		op := t.text
		if op == "!=" {
			op = "<>"
		}
		return pqCmp{op, v, r}, nil
	case p.acceptKw("BETWEEN"):
		lo, err := p.operand()
		if err != nil {
			return nil, err
		}
		if err := p.expectKw("AND"); err != nil {
			return nil, err
		}
		hi, err := p.operand()
		if err != nil {
			return nil, err
		}
		return pqBetween{v, lo, hi}, nil
	case p.acceptKw("IN"):
		closing := "]"
		if !p.acceptPunct("[") {
			if err := p.expectPunct("("); err != nil {
				return nil, err
			}
			closing = ")"
		}
		var list []pqNode
		for {
			e, err := p.operand()
			if err != nil {
				return nil, err
			}
			list = append(list, e)
			if !p.acceptPunct(",") {
				break
			}
		}
		return pqIn{v, list}, p.expectPunct(closing)
	case p.acceptKw("IS"):
		not := p.acceptKw("NOT")
		switch {
		case p.acceptKw("MISSING"):
			return pqIs{v, "MISSING", not}, nil
		case p.acceptKw("NULL"):
			return pqIs{v, "NULL", not}, nil
		}
		return nil, p.unexpected("MISSING or NULL")
	}
	return nil, p.unexpected("a comparison")
}

func (p *pqParser) peekComparison() bool {
	t := p.peek()
	if t.kind == pqPunct {
		switch t.text {
		case "=", "<>", "!=", "<", "<=", ">", ">=":
			return true
		}
	}
	return p.isKw("BETWEEN") || p.isKw("IN") || p.isKw("IS")
}

// operand reads term ((+|-) term)*.
func (p *pqParser) operand() (pqNode, error) {
	l, err := p.term()
	if err != nil {
		return nil, err
	}
	for p.isPunct("+") || p.isPunct("-") {
		op := p.next().text
		r, err := p.term()
		if err != nil {
			return nil, err
		}
		l = pqArith{op, l, r}
	}
	return l, nil
}

func (p *pqParser) term() (pqNode, error) {
	t := p.peek()
	if t.kind == pqIdent && p.i+1 < len(p.toks) && p.toks[p.i+1].kind == pqPunct && p.toks[p.i+1].text == "(" {
		switch name := strings.ToLower(t.text); name {
		case "begins_with", "contains", "attribute_type", "size", "exists", "missing",
			"list_append", "set_add", "set_delete", "if_not_exists":
			p.i += 2
			var args []pqNode
			for !p.isPunct(")") {
				a, err := p.operand()
				if err != nil {
					return nil, err
				}
				args = append(args, a)
				if !p.acceptPunct(",") {
					break
				}
			}
			if err := p.expectPunct(")"); err != nil {
				return nil, err
			}
			return pqFunc{name, args}, nil
		default:
			return nil, pqError("function %s is not supported", t.text)
		}
	}
	if t.kind == pqIdent {
		switch strings.ToUpper(t.text) {
		case "TRUE", "FALSE", "NULL":
			return p.value()
		}
	}
	if t.kind == pqIdent || t.kind == pqQuoted {
		path, err := p.path()
		if err != nil {
			return nil, err
		}
		return pqPath{path}, nil
	}
	return p.value()
}

// value reads a literal, a parameter or a collection of them.
func (p *pqParser) value() (pqNode, error) {
	t := p.next()
	switch t.kind {
	case pqString:
		return pqLit{&Value{K: KindS, S: t.text}}, nil
	case pqNumber:
		n, err := canonicalNumber(t.text)
		if err != nil {
			return nil, pqError("invalid number '%s' at %d", t.text, t.pos)
		}
		return pqLit{&Value{K: KindN, S: n}}, nil
	case pqTParam:
		p.st.params++
		return pqParam{p.st.params - 1}, nil
	case pqIdent:
		switch strings.ToUpper(t.text) {
		case "TRUE", "FALSE":
			return pqLit{&Value{K: KindBOOL, Bool: strings.EqualFold(t.text, "TRUE")}}, nil
		case "NULL":
			return pqLit{&Value{K: KindNULL, Bool: true}}, nil
		}
	case pqPunct:
		switch t.text {
		case "-":
			n := p.next()
			if n.kind != pqNumber {
				break
			}
			v, err := canonicalNumber("-" + n.text)
			if err != nil {
				return nil, pqError("invalid number '-%s' at %d", n.text, n.pos)
			}
			return pqLit{&Value{K: KindN, S: v}}, nil
		case "{":
			var m pqMap
			for !p.isPunct("}") {
				k := p.next()
				if k.kind != pqString && k.kind != pqQuoted {
					return nil, pqError("expected a string key, found '%s' at %d", k.text, k.pos)
				}
				if err := p.expectPunct(":"); err != nil {
					return nil, err
				}
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				m.keys, m.vals = append(m.keys, k.text), append(m.vals, v)
				if !p.acceptPunct(",") {
					break
				}
			}
			return m, p.expectPunct("}")
		case "[":
			var l pqList
			for !p.isPunct("]") {
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				l.elems = append(l.elems, v)
				if !p.acceptPunct(",") {
					break
				}
			}
			return l, p.expectPunct("]")
		case "<<":
			var s pqSet
			for !p.isPunct(">>") {
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				s.elems = append(s.elems, v)
				if !p.acceptPunct(",") {
					break
				}
			}
			return s, p.expectPunct(">>")
		}
	}
	if t.kind == pqEOF {
		return nil, pqError("expected a value at end of statement")
	}
	return nil, pqError("expected a value, found '%s' at %d", t.text, t.pos)
}
