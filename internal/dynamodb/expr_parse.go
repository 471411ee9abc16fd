package dynamodb

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// pathElem is one step of a document path: a map key or a list index.
type pathElem struct {
	name  string
	index int
	isIdx bool
}

// docPath is a document path with its placeholders resolved.
type docPath []pathElem

func (p docPath) String() string {
	parts := make([]string, len(p))
	for i, e := range p {
		if e.isIdx {
			parts[i] = "[" + strconv.Itoa(e.index) + "]"
		} else {
			parts[i] = e.name
		}
	}
	return strings.Join(parts, ", ")
}

// operand is a value-producing node.
type operand interface{ isOperand() }

type pathOp struct{ p docPath }
type valueOp struct{ v *Value }
type sizeOp struct{ p docPath }
type ifNotExistsOp struct {
	p   docPath
	def operand
}
type listAppendOp struct{ a, b operand }
type arithOp struct {
	sub  bool
	a, b operand
}

func (pathOp) isOperand()        {}
func (valueOp) isOperand()       {}
func (sizeOp) isOperand()        {}
func (ifNotExistsOp) isOperand() {}
func (listAppendOp) isOperand()  {}
func (arithOp) isOperand()       {}

// cond is a condition node.
type cond interface{ isCond() }

type cmpCond struct {
	op   string
	l, r operand
}
type betweenCond struct{ v, lo, hi operand }
type inCond struct {
	v    operand
	list []operand
}
type funcCond struct {
	name string
	args []operand
}
type andCond struct{ l, r cond }
type orCond struct{ l, r cond }
type notCond struct{ c cond }

func (cmpCond) isCond()     {}
func (betweenCond) isCond() {}
func (inCond) isCond()      {}
func (funcCond) isCond()    {}
func (andCond) isCond()     {}
func (orCond) isCond()      {}
func (notCond) isCond()     {}

// exprEnv holds a request's ExpressionAttributeNames and Values and which
// of them the request's expressions used (AWS refuses unused ones).
type exprEnv struct {
	names      map[string]string
	values     map[string]*Value
	usedNames  map[string]bool
	usedValues map[string]bool
}

func newEnv(names map[string]string, values map[string]*Value) *exprEnv {
	return &exprEnv{names: names, values: values, usedNames: map[string]bool{}, usedValues: map[string]bool{}}
}

// checkUnused reports the names and values no expression used, as AWS
// does, once every expression of the request is parsed.
func (e *exprEnv) checkUnused() error {
	var un []string
	for k := range e.names {
		if !e.usedNames[k] {
			un = append(un, k)
		}
	}
	if len(un) > 0 {
		sort.Strings(un)
		return validationf("Value provided in ExpressionAttributeNames unused in expressions: keys: {%s}", strings.Join(un, ", "))
	}
	var uv []string
	for k := range e.values {
		if !e.usedValues[k] {
			uv = append(uv, k)
		}
	}
	if len(uv) > 0 {
		sort.Strings(uv)
		return validationf("Value provided in ExpressionAttributeValues unused in expressions: keys: {%s}", strings.Join(uv, ", "))
	}
	return nil
}

type parser struct {
	what string // "ConditionExpression", ...
	src  string
	toks []token
	i    int
	env  *exprEnv
	// depth bounds recursion (nested parentheses and NOTs).
	depth int
	// operators counts operators and functions (AWS allows 300).
	operators int
}

const maxParseDepth = 100

func newParser(what, src string, env *exprEnv) (*parser, error) {
	if len(src) > maxExprLen {
		return nil, validationf("Invalid %s: Expression size has exceeded the maximum allowed size; expression size: %d", what, len(src))
	}
	if strings.TrimSpace(src) == "" {
		return nil, validationf("Invalid %s: The expression can not be empty;", what)
	}
	toks, err := lex(what, src)
	if err != nil {
		return nil, err
	}
	return &parser{what: what, src: src, toks: toks, env: env}, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errAt(t token) *Error { return syntaxError(p.what, p.src, t.text, t.pos) }

func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tPunct && t.text == s
}

func (p *parser) isKeyword(s string) bool {
	t := p.peek()
	return t.kind == tIdent && strings.EqualFold(t.text, s)
}

func (p *parser) expectPunct(s string) error {
	t := p.next()
	if t.kind != tPunct || t.text != s {
		return p.errAt(t)
	}
	return nil
}

func (p *parser) countOp() error {
	p.operators++
	if p.operators > 300 {
		return validationf("Invalid %s: The expression contains too many operators; operator count: %d", p.what, p.operators)
	}
	return nil
}

func (p *parser) name(t token) (string, error) {
	switch t.kind {
	case tIdent:
		if isReserved(t.text) {
			return "", validationf("Invalid %s: Attribute name is a reserved keyword; reserved keyword: %s", p.what, t.text)
		}
		return t.text, nil
	case tName:
		n, ok := p.env.names[t.text]
		if !ok {
			return "", validationf("Invalid %s: An expression attribute name used in the document path is not defined; attribute name: %s", p.what, t.text)
		}
		p.env.usedNames[t.text] = true
		return n, nil
	}
	return "", p.errAt(t)
}

// path parses a document path.
func (p *parser) path() (docPath, error) {
	first, err := p.name(p.next())
	if err != nil {
		return nil, err
	}
	out := docPath{{name: first}}
	for {
		switch {
		case p.isPunct("."):
			p.next()
			n, err := p.name(p.next())
			if err != nil {
				return nil, err
			}
			out = append(out, pathElem{name: n})
		case p.isPunct("["):
			p.next()
			t := p.next()
			if t.kind != tNumber {
				return nil, p.errAt(t)
			}
			n, err := strconv.Atoi(t.text)
			if err != nil || n > 1<<20 {
				return nil, validationf("Invalid %s: List index is out of range; index: %s", p.what, t.text)
			}
			if err := p.expectPunct("]"); err != nil {
				return nil, err
			}
			out = append(out, pathElem{index: n, isIdx: true})
		default:
			if len(out) > maxDepth {
				return nil, validationf("Invalid %s: The document path has too many nesting levels; nesting levels: %d", p.what, len(out))
			}
			return out, nil
		}
	}
}

func (p *parser) value(t token) (*Value, error) {
	v, ok := p.env.values[t.text]
	if !ok {
		return nil, validationf("Invalid %s: An expression attribute value used in expression is not defined; attribute value: %s", p.what, t.text)
	}
	p.env.usedValues[t.text] = true
	return v, nil
}

var condFuncs = map[string]int{"attribute_exists": 1, "attribute_not_exists": 1, "attribute_type": 2, "begins_with": 2, "contains": 2}

// operand parses path | :value | size(path).
func (p *parser) operand() (operand, error) {
	t := p.peek()
	switch t.kind {
	case tValue:
		p.next()
		v, err := p.value(t)
		if err != nil {
			return nil, err
		}
		return valueOp{v}, nil
	case tIdent, tName:
		if t.kind == tIdent && p.toks[p.i+1].kind == tPunct && p.toks[p.i+1].text == "(" {
			return p.funcOperand()
		}
		path, err := p.path()
		if err != nil {
			return nil, err
		}
		return pathOp{path}, nil
	}
	return nil, p.errAt(t)
}

func (p *parser) funcOperand() (operand, error) {
	t := p.next()
	fn := t.text
	if fn != "size" {
		if _, ok := condFuncs[fn]; ok {
			return nil, validationf("Invalid %s: The function is not allowed to be used this way in an expression; function: %s", p.what, fn)
		}
		if fn == "if_not_exists" || fn == "list_append" {
			return nil, validationf("Invalid %s: The function is not allowed in a condition expression; function: %s", p.what, fn)
		}
		return nil, validationf("Invalid %s: Invalid function name; function: %s", p.what, fn)
	}
	if err := p.countOp(); err != nil {
		return nil, err
	}
	p.next() // (
	path, err := p.path()
	if err != nil {
		return nil, err
	}
	if err := p.expectPunct(")"); err != nil {
		return nil, err
	}
	return sizeOp{path}, nil
}

// condition parses a whole condition expression.
func (p *parser) condition() (cond, error) {
	c, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t)
	}
	return c, nil
}

func (p *parser) or() (cond, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("OR") {
		p.next()
		if err := p.countOp(); err != nil {
			return nil, err
		}
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orCond{l, r}
	}
	return l, nil
}

func (p *parser) and() (cond, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("AND") {
		p.next()
		if err := p.countOp(); err != nil {
			return nil, err
		}
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = andCond{l, r}
	}
	return l, nil
}

func (p *parser) not() (cond, error) {
	if p.isKeyword("NOT") {
		p.next()
		if err := p.countOp(); err != nil {
			return nil, err
		}
		p.depth++
		if p.depth > maxParseDepth {
			return nil, validationf("Invalid %s: The expression has too many nesting levels", p.what)
		}
		c, err := p.not()
		p.depth--
		if err != nil {
			return nil, err
		}
		return notCond{c}, nil
	}
	return p.primary()
}

func (p *parser) primary() (cond, error) {
	if p.isPunct("(") {
		p.next()
		p.depth++
		if p.depth > maxParseDepth {
			return nil, validationf("Invalid %s: The expression has too many nesting levels", p.what)
		}
		c, err := p.or()
		p.depth--
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		return c, nil
	}
	t := p.peek()
	if t.kind == tIdent && p.toks[p.i+1].kind == tPunct && p.toks[p.i+1].text == "(" {
		if n, ok := condFuncs[t.text]; ok {
			return p.condFunc(t.text, n)
		}
	}
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	t = p.peek()
	switch {
	case t.kind == tPunct && slices.Contains([]string{"=", "<>", "<", "<=", ">", ">="}, t.text):
		p.next()
		if err := p.countOp(); err != nil {
			return nil, err
		}
		r, err := p.operand()
		if err != nil {
			return nil, err
		}
		return cmpCond{t.text, l, r}, nil
	case p.isKeyword("BETWEEN"):
		p.next()
		if err := p.countOp(); err != nil {
			return nil, err
		}
		lo, err := p.operand()
		if err != nil {
			return nil, err
		}
		if !p.isKeyword("AND") {
			return nil, p.errAt(p.peek())
		}
		p.next()
		hi, err := p.operand()
		if err != nil {
			return nil, err
		}
		return betweenCond{l, lo, hi}, nil
	case p.isKeyword("IN"):
		p.next()
		if err := p.countOp(); err != nil {
			return nil, err
		}
		if err := p.expectPunct("("); err != nil {
			return nil, err
		}
		var list []operand
		for {
			o, err := p.operand()
			if err != nil {
				return nil, err
			}
			list = append(list, o)
			if len(list) > 100 {
				return nil, validationf("Invalid %s: The IN operator is provided with too many operands; number of operands: %d", p.what, len(list))
			}
			if p.isPunct(",") {
				p.next()
				continue
			}
			break
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		return inCond{l, list}, nil
	}
	return nil, p.errAt(t)
}

func (p *parser) condFunc(fn string, nargs int) (cond, error) {
	p.next()
	p.next() // (
	if err := p.countOp(); err != nil {
		return nil, err
	}
	var args []operand
	for !p.isPunct(")") {
		if len(args) > 0 {
			if err := p.expectPunct(","); err != nil {
				return nil, err
			}
		}
		o, err := p.operand()
		if err != nil {
			return nil, err
		}
		args = append(args, o)
		if len(args) > nargs {
			break
		}
	}
	if err := p.expectPunct(")"); err != nil {
		return nil, err
	}
	if len(args) != nargs {
		return nil, validationf("Invalid %s: Incorrect number of operands for operator or function; operator or function: %s, number of operands: %d", p.what, fn, len(args))
	}
	if _, ok := args[0].(pathOp); !ok {
		return nil, validationf("Invalid %s: Operator or function requires a document path; operator or function: %s", p.what, fn)
	}
	if fn == "attribute_type" {
		v, ok := args[1].(valueOp)
		if !ok || v.v.K != KindS {
			return nil, validationf("Invalid %s: Incorrect operand type for operator or function; operator or function: attribute_type, operand type: %s", p.what, operandType(args[1]))
		}
		if _, ok := kindByName(v.v.S); !ok {
			return nil, validationf("Invalid %s: Invalid attribute type name found; type: %s, valid types: { B, NULL, SS, BOOL, L, BS, N, NS, S, M }", p.what, v.v.S)
		}
	}
	if fn == "begins_with" {
		if v, ok := args[1].(valueOp); ok && v.v.K != KindS && v.v.K != KindB {
			return nil, validationf("Invalid %s: Incorrect operand type for operator or function; operator or function: begins_with, operand type: %s", p.what, v.v.K)
		}
	}
	return funcCond{fn, args}, nil
}

func operandType(o operand) string {
	if v, ok := o.(valueOp); ok {
		return v.v.K.String()
	}
	return "PATH"
}

// parseCondition parses a condition or filter expression.
func parseCondition(what, src string, env *exprEnv) (cond, error) {
	p, err := newParser(what, src, env)
	if err != nil {
		return nil, err
	}
	return p.condition()
}

// parseProjection parses a ProjectionExpression.
func parseProjection(src string, env *exprEnv) ([]docPath, error) {
	p, err := newParser("ProjectionExpression", src, env)
	if err != nil {
		return nil, err
	}
	var out []docPath
	for {
		path, err := p.path()
		if err != nil {
			return nil, err
		}
		out = append(out, path)
		if p.isPunct(",") {
			p.next()
			continue
		}
		break
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t)
	}
	if err := checkOverlaps(p.what, out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkOverlaps refuses two paths where one is the other or a prefix of
// it, as AWS does.
func checkOverlaps(what string, paths []docPath) error {
	for i := range paths {
		for j := i + 1; j < len(paths); j++ {
			a, b := paths[i], paths[j]
			n := min(len(a), len(b))
			same := true
			for k := range n {
				if a[k] != b[k] {
					same = false
					break
				}
			}
			if same {
				if len(a) == len(b) {
					return validationf("Invalid %s: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [%s], path two: [%s]", what, a, b)
				}
				return validationf("Invalid %s: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [%s], path two: [%s]", what, a, b)
			}
		}
	}
	return nil
}

// updateAction is one action of an UpdateExpression.
type updateAction struct {
	kind string // SET, REMOVE, ADD, DELETE
	path docPath
	val  operand // SET's value; ADD's and DELETE's value
}

// parseUpdate parses an UpdateExpression.
func parseUpdate(src string, env *exprEnv) ([]updateAction, error) {
	p, err := newParser("UpdateExpression", src, env)
	if err != nil {
		return nil, err
	}
	var out []updateAction
	seen := map[string]bool{}
	for p.peek().kind != tEOF {
		t := p.next()
		kw := strings.ToUpper(t.text)
		if t.kind != tIdent || !slices.Contains([]string{"SET", "REMOVE", "ADD", "DELETE"}, kw) {
			return nil, p.errAt(t)
		}
		if seen[kw] {
			return nil, validationf("Invalid UpdateExpression: The \"%s\" section can only be used once in an update expression;", kw)
		}
		seen[kw] = true
		for {
			path, err := p.path()
			if err != nil {
				return nil, err
			}
			a := updateAction{kind: kw, path: path}
			switch kw {
			case "SET":
				if err := p.expectPunct("="); err != nil {
					return nil, err
				}
				v, err := p.setValue()
				if err != nil {
					return nil, err
				}
				a.val = v
			case "ADD", "DELETE":
				t := p.next()
				if t.kind != tValue {
					return nil, p.errAt(t)
				}
				v, err := p.value(t)
				if err != nil {
					return nil, err
				}
				a.val = valueOp{v}
			}
			out = append(out, a)
			if p.isPunct(",") {
				p.next()
				continue
			}
			break
		}
	}
	if len(out) == 0 {
		return nil, validationf("Invalid UpdateExpression: The expression can not be empty;")
	}
	paths := make([]docPath, len(out))
	for i, a := range out {
		paths[i] = a.path
	}
	if err := checkOverlaps("UpdateExpression", paths); err != nil {
		return nil, err
	}
	return out, nil
}

// setValue parses SET's right-hand side: setop [(+|-) setop].
func (p *parser) setValue() (operand, error) {
	a, err := p.setOperand()
	if err != nil {
		return nil, err
	}
	if p.isPunct("+") || p.isPunct("-") {
		sub := p.next().text == "-"
		if err := p.countOp(); err != nil {
			return nil, err
		}
		b, err := p.setOperand()
		if err != nil {
			return nil, err
		}
		return arithOp{sub, a, b}, nil
	}
	return a, nil
}

func (p *parser) setOperand() (operand, error) {
	t := p.peek()
	if t.kind == tIdent && p.toks[p.i+1].kind == tPunct && p.toks[p.i+1].text == "(" {
		switch t.text {
		case "if_not_exists":
			p.next()
			p.next()
			if err := p.countOp(); err != nil {
				return nil, err
			}
			path, err := p.path()
			if err != nil {
				return nil, err
			}
			if err := p.expectPunct(","); err != nil {
				return nil, err
			}
			def, err := p.setOperand()
			if err != nil {
				return nil, err
			}
			if err := p.expectPunct(")"); err != nil {
				return nil, err
			}
			return ifNotExistsOp{path, def}, nil
		case "list_append":
			p.next()
			p.next()
			if err := p.countOp(); err != nil {
				return nil, err
			}
			a, err := p.setOperand()
			if err != nil {
				return nil, err
			}
			if err := p.expectPunct(","); err != nil {
				return nil, err
			}
			b, err := p.setOperand()
			if err != nil {
				return nil, err
			}
			if err := p.expectPunct(")"); err != nil {
				return nil, err
			}
			return listAppendOp{a, b}, nil
		case "size":
			return nil, validationf("Invalid UpdateExpression: The function is not allowed in an update expression; function: size")
		default:
			if _, ok := condFuncs[t.text]; ok {
				return nil, validationf("Invalid UpdateExpression: The function is not allowed in an update expression; function: %s", t.text)
			}
			return nil, validationf("Invalid UpdateExpression: Invalid function name; function: %s", t.text)
		}
	}
	if t.kind == tValue {
		p.next()
		v, err := p.value(t)
		if err != nil {
			return nil, err
		}
		return valueOp{v}, nil
	}
	path, err := p.path()
	if err != nil {
		return nil, err
	}
	return pathOp{path}, nil
}
