package cloudwatch

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Metric math: a small expression language over time series, as
// CloudWatch's GetMetricData and metric-math alarms take it.
//
//	expr    := or
//	or      := and { ("OR" | "||") and }
//	and     := cmp { ("AND" | "&&") cmp }
//	cmp     := add [ (">" | "<" | ">=" | "<=" | "==" | "!=") add ]
//	add     := mul { ("+" | "-") mul }
//	mul     := unary { ("*" | "/") unary }
//	unary   := ("-" | "NOT" | "!") unary | pow
//	pow     := primary [ "^" unary ]
//	primary := number | string | id | FUNC "(" [ expr { "," expr } ] ")" | "(" expr ")"
//
// Bounds (an expression bomb fails, it does not run): 2,048 characters
// (AWS's), 32 levels of nesting, 512 nodes, and a budget of datapoints
// touched during evaluation.
const (
	maxExprLen   = 2048
	maxExprDepth = 32
	maxExprNodes = 512
	// maxEvalCost bounds the datapoints an evaluation touches.
	maxEvalCost = 5_000_000
)

// node is a parsed expression.
type node struct {
	kind  byte // 'n' number, 's' string, 'i' id, 'c' call, 'b' binary, 'u' unary
	num   float64
	str   string // id, string, function or operator
	args  []*node
	depth int
}

// exprError is an error in an expression, shown to the client.
type exprError struct{ msg string }

func (e *exprError) Error() string { return e.msg }

func exprErrf(format string, args ...any) error { return &exprError{fmt.Sprintf(format, args...)} }

type token struct {
	kind byte // 'n' number, 's' string, 'i' identifier, 'o' operator, 'e' end
	text string
	num  float64
	pos  int
}

func lex(src string) ([]token, error) {
	var toks []token
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c >= '0' && c <= '9' || c == '.':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.') {
				j++
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
				k := j + 1
				if k < len(src) && (src[k] == '+' || src[k] == '-') {
					k++
				}
				if k < len(src) && src[k] >= '0' && src[k] <= '9' {
					for k < len(src) && src[k] >= '0' && src[k] <= '9' {
						k++
					}
					j = k
				}
			}
			f, err := strconv.ParseFloat(src[i:j], 64)
			if err != nil {
				return nil, exprErrf("invalid number %q at position %d", truncate(src[i:j], 32), i)
			}
			toks = append(toks, token{kind: 'n', num: f, pos: i})
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(src) && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			toks = append(toks, token{kind: 'i', text: src[i:j], pos: i})
			i = j
		case c == '"' || c == '\'':
			j := strings.IndexByte(src[i+1:], c)
			if j < 0 {
				return nil, exprErrf("unterminated string at position %d", i)
			}
			toks = append(toks, token{kind: 's', text: src[i+1 : i+1+j], pos: i})
			i += j + 2
		default:
			two := ""
			if i+1 < len(src) {
				two = src[i : i+2]
			}
			switch two {
			case ">=", "<=", "==", "!=", "&&", "||":
				toks = append(toks, token{kind: 'o', text: two, pos: i})
				i += 2
				continue
			}
			if strings.IndexByte("+-*/^()<>,!", c) < 0 {
				return nil, exprErrf("unexpected character %q at position %d", c, i)
			}
			toks = append(toks, token{kind: 'o', text: string(c), pos: i})
			i++
		}
	}
	return append(toks, token{kind: 'e', pos: len(src)}), nil
}

type parser struct {
	toks  []token
	i     int
	nodes int
}

// parseExpr parses a metric math expression.
func parseExpr(src string) (*node, error) {
	if strings.TrimSpace(src) == "" {
		return nil, exprErrf("the expression is empty")
	}
	if len(src) > maxExprLen {
		return nil, exprErrf("the expression is longer than %d characters", maxExprLen)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != 'e' {
		return nil, exprErrf("unexpected %q at position %d", tokText(t), t.pos)
	}
	return n, nil
}

func tokText(t token) string {
	switch t.kind {
	case 'n':
		return strconv.FormatFloat(t.num, 'g', -1, 64)
	case 'e':
		return "end of expression"
	}
	return t.text
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) mk(n *node, depth int) (*node, error) {
	p.nodes++
	if p.nodes > maxExprNodes {
		return nil, exprErrf("the expression has more than %d terms", maxExprNodes)
	}
	n.depth = depth
	return n, nil
}

func (p *parser) isOp(ops ...string) (string, bool) {
	t := p.peek()
	for _, o := range ops {
		if t.kind == 'o' && t.text == o || t.kind == 'i' && strings.EqualFold(t.text, o) && (o == "AND" || o == "OR" || o == "NOT") {
			return o, true
		}
	}
	return "", false
}

func (p *parser) binary(depth int, ops []string, sub func(int) (*node, error), norm func(string) string) (*node, error) {
	if depth > maxExprDepth {
		return nil, exprErrf("the expression nests deeper than %d levels", maxExprDepth)
	}
	l, err := sub(depth + 1)
	if err != nil {
		return nil, err
	}
	for {
		o, ok := p.isOp(ops...)
		if !ok {
			return l, nil
		}
		p.next()
		r, err := sub(depth + 1)
		if err != nil {
			return nil, err
		}
		if norm != nil {
			o = norm(o)
		}
		if l, err = p.mk(&node{kind: 'b', str: o, args: []*node{l, r}}, depth); err != nil {
			return nil, err
		}
	}
}

func normLogic(o string) string {
	switch o {
	case "AND":
		return "&&"
	case "OR":
		return "||"
	}
	return o
}

func (p *parser) or(d int) (*node, error) {
	return p.binary(d, []string{"||", "OR"}, p.and, normLogic)
}
func (p *parser) and(d int) (*node, error) {
	return p.binary(d, []string{"&&", "AND"}, p.cmp, normLogic)
}
func (p *parser) cmp(d int) (*node, error) {
	return p.binary(d, []string{">=", "<=", "==", "!=", ">", "<"}, p.add, nil)
}
func (p *parser) add(d int) (*node, error) { return p.binary(d, []string{"+", "-"}, p.mul, nil) }
func (p *parser) mul(d int) (*node, error) { return p.binary(d, []string{"*", "/"}, p.unary, nil) }

func (p *parser) unary(d int) (*node, error) {
	if d > maxExprDepth {
		return nil, exprErrf("the expression nests deeper than %d levels", maxExprDepth)
	}
	if o, ok := p.isOp("-", "!", "NOT"); ok {
		p.next()
		x, err := p.unary(d + 1)
		if err != nil {
			return nil, err
		}
		if o == "NOT" {
			o = "!"
		}
		return p.mk(&node{kind: 'u', str: o, args: []*node{x}}, d)
	}
	base, err := p.primary(d + 1)
	if err != nil {
		return nil, err
	}
	if _, ok := p.isOp("^"); ok {
		p.next()
		exp, err := p.unary(d + 1)
		if err != nil {
			return nil, err
		}
		return p.mk(&node{kind: 'b', str: "^", args: []*node{base, exp}}, d)
	}
	return base, nil
}

func (p *parser) primary(d int) (*node, error) {
	if d > maxExprDepth {
		return nil, exprErrf("the expression nests deeper than %d levels", maxExprDepth)
	}
	t := p.next()
	switch t.kind {
	case 'n':
		return p.mk(&node{kind: 'n', num: t.num}, d)
	case 's':
		return p.mk(&node{kind: 's', str: t.text}, d)
	case 'i':
		if p.peek().kind == 'o' && p.peek().text == "(" {
			p.next()
			call := &node{kind: 'c', str: strings.ToUpper(t.text)}
			if p.peek().kind != 'o' || p.peek().text != ")" {
				for {
					a, err := p.or(d + 1)
					if err != nil {
						return nil, err
					}
					call.args = append(call.args, a)
					if p.peek().kind == 'o' && p.peek().text == "," {
						p.next()
						continue
					}
					break
				}
			}
			if c := p.next(); c.kind != 'o' || c.text != ")" {
				return nil, exprErrf("expected ')' at position %d", c.pos)
			}
			return p.mk(call, d)
		}
		return p.mk(&node{kind: 'i', str: t.text}, d)
	case 'o':
		if t.text == "(" {
			x, err := p.or(d + 1)
			if err != nil {
				return nil, err
			}
			if c := p.next(); c.kind != 'o' || c.text != ")" {
				return nil, exprErrf("expected ')' at position %d", c.pos)
			}
			return x, nil
		}
	}
	return nil, exprErrf("unexpected %q at position %d", tokText(t), t.pos)
}

// tseries is one time series: ascending timestamps (unix seconds).
type tseries struct {
	label  string
	period int64
	t      []int64
	v      []float64
}

// mval is an expression's value: a scalar, a series, or an array of
// series (METRICS()).
type mval struct {
	kind   byte // 'n' scalar, 's' series, 'a' array, 'q' string
	num    float64
	str    string
	series []*tseries
}

// evalEnv resolves ids and METRICS() and keeps the cost budget.
type evalEnv struct {
	resolve func(id string) (mval, error)
	metrics func(filter string) []*tseries
	start   int64
	end     int64
	cost    int
}

func (e *evalEnv) spend(n int) error {
	e.cost += n + 1
	if e.cost > maxEvalCost {
		return exprErrf("the expression touches more than %d datapoints", maxEvalCost)
	}
	return nil
}

var errArrayOp = errors.New("an operation between two arrays of time series")

func (e *evalEnv) eval(n *node) (mval, error) {
	switch n.kind {
	case 'n':
		return mval{kind: 'n', num: n.num}, nil
	case 's':
		return mval{kind: 'q', str: n.str}, nil
	case 'i':
		return e.resolve(n.str)
	case 'u':
		x, err := e.eval(n.args[0])
		if err != nil {
			return x, err
		}
		f := func(v float64) float64 { return -v }
		if n.str == "!" {
			f = func(v float64) float64 { return b2f(v == 0) }
		}
		return e.mapValues(x, f)
	case 'b':
		l, err := e.eval(n.args[0])
		if err != nil {
			return l, err
		}
		r, err := e.eval(n.args[1])
		if err != nil {
			return r, err
		}
		return e.combine(l, r, binop(n.str))
	case 'c':
		return e.call(n)
	}
	return mval{}, exprErrf("invalid expression")
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func binop(op string) func(a, b float64) float64 {
	switch op {
	case "+":
		return func(a, b float64) float64 { return a + b }
	case "-":
		return func(a, b float64) float64 { return a - b }
	case "*":
		return func(a, b float64) float64 { return a * b }
	case "/":
		return func(a, b float64) float64 { return a / b }
	case "^":
		return math.Pow
	case ">":
		return func(a, b float64) float64 { return b2f(a > b) }
	case "<":
		return func(a, b float64) float64 { return b2f(a < b) }
	case ">=":
		return func(a, b float64) float64 { return b2f(a >= b) }
	case "<=":
		return func(a, b float64) float64 { return b2f(a <= b) }
	case "==":
		return func(a, b float64) float64 { return b2f(a == b) }
	case "!=":
		return func(a, b float64) float64 { return b2f(a != b) }
	case "&&":
		return func(a, b float64) float64 { return b2f(a != 0 && b != 0) }
	default: // "||"
		return func(a, b float64) float64 { return b2f(a != 0 || b != 0) }
	}
}

func (e *evalEnv) mapValues(x mval, f func(float64) float64) (mval, error) {
	switch x.kind {
	case 'n':
		return mval{kind: 'n', num: f(x.num)}, nil
	case 's', 'a':
		out := mval{kind: x.kind}
		for _, s := range x.series {
			if err := e.spend(len(s.v)); err != nil {
				return out, err
			}
			ns := &tseries{label: s.label, period: s.period, t: s.t, v: make([]float64, len(s.v))}
			for i, v := range s.v {
				ns.v[i] = f(v)
			}
			out.series = append(out.series, ns)
		}
		return out, nil
	}
	return mval{}, exprErrf("a string is not a number or a time series")
}

// align applies f to the points of a and b at the same timestamps.
func (e *evalEnv) align(a, b *tseries, f func(x, y float64) float64) (*tseries, error) {
	if err := e.spend(len(a.v) + len(b.v)); err != nil {
		return nil, err
	}
	out := &tseries{label: a.label, period: max(a.period, b.period)}
	i, j := 0, 0
	for i < len(a.t) && j < len(b.t) {
		switch {
		case a.t[i] < b.t[j]:
			i++
		case a.t[i] > b.t[j]:
			j++
		default:
			out.t = append(out.t, a.t[i])
			out.v = append(out.v, f(a.v[i], b.v[j]))
			i++
			j++
		}
	}
	return out, nil
}

func (e *evalEnv) combine(l, r mval, f func(a, b float64) float64) (mval, error) {
	if l.kind == 'q' || r.kind == 'q' {
		return mval{}, exprErrf("a string is not a number or a time series")
	}
	switch {
	case l.kind == 'n' && r.kind == 'n':
		return mval{kind: 'n', num: f(l.num, r.num)}, nil
	case l.kind == 'n':
		return e.mapValues(r, func(v float64) float64 { return f(l.num, v) })
	case r.kind == 'n':
		return e.mapValues(l, func(v float64) float64 { return f(v, r.num) })
	case l.kind == 'a' && r.kind == 'a':
		return mval{}, exprErrf("%v is not supported", errArrayOp)
	}
	out := mval{kind: 's'}
	if l.kind == 'a' || r.kind == 'a' {
		out.kind = 'a'
	}
	if l.kind == 'a' {
		for _, s := range l.series {
			x, err := e.align(s, r.series[0], f)
			if err != nil {
				return out, err
			}
			out.series = append(out.series, x)
		}
		return out, nil
	}
	for _, s := range r.series {
		x, err := e.align(l.series[0], s, f)
		if err != nil {
			return out, err
		}
		x.label = s.label
		out.series = append(out.series, x)
	}
	if l.kind == 's' && r.kind == 's' {
		out.series[0].label = l.series[0].label
	}
	return out, nil
}

func (e *evalEnv) call(n *node) (mval, error) {
	args := make([]mval, 0, len(n.args))
	for _, a := range n.args {
		if n.str == "FILL" && len(args) == 1 && a.kind == 'i' && (strings.EqualFold(a.str, "REPEAT") || strings.EqualFold(a.str, "LINEAR")) {
			args = append(args, mval{kind: 'q', str: strings.ToUpper(a.str)})
			continue
		}
		v, err := e.eval(a)
		if err != nil {
			return v, err
		}
		args = append(args, v)
	}
	want := func(lo, hi int) error {
		if len(args) < lo || len(args) > hi {
			return exprErrf("%s takes %d to %d arguments, not %d", n.str, lo, hi, len(args))
		}
		return nil
	}
	switch n.str {
	case "METRICS":
		if err := want(0, 1); err != nil {
			return mval{}, err
		}
		filter := ""
		if len(args) == 1 {
			if args[0].kind != 'q' {
				return mval{}, exprErrf("METRICS takes a string")
			}
			filter = args[0].str
		}
		ss := e.metrics(filter)
		if err := e.spend(len(ss)); err != nil {
			return mval{}, err
		}
		return mval{kind: 'a', series: ss}, nil
	case "SUM", "AVG", "MIN", "MAX":
		if err := want(1, 1); err != nil {
			return mval{}, err
		}
		return e.reduce(n.str, args[0])
	case "ABS", "CEIL", "FLOOR":
		if err := want(1, 1); err != nil {
			return mval{}, err
		}
		f := map[string]func(float64) float64{"ABS": math.Abs, "CEIL": math.Ceil, "FLOOR": math.Floor}[n.str]
		return e.mapValues(args[0], f)
	case "RATE":
		if err := want(1, 1); err != nil {
			return mval{}, err
		}
		return e.perSeries(args[0], func(s *tseries) *tseries {
			out := &tseries{label: s.label, period: s.period}
			for i := 1; i < len(s.t); i++ {
				out.t = append(out.t, s.t[i])
				out.v = append(out.v, (s.v[i]-s.v[i-1])/float64(s.t[i]-s.t[i-1]))
			}
			return out
		})
	case "PERIOD":
		if err := want(1, 1); err != nil {
			return mval{}, err
		}
		if args[0].kind != 's' && args[0].kind != 'a' || len(args[0].series) == 0 {
			return mval{}, exprErrf("PERIOD takes a time series")
		}
		return mval{kind: 'n', num: float64(args[0].series[0].period)}, nil
	case "FILL":
		if err := want(2, 2); err != nil {
			return mval{}, err
		}
		return e.fill(args[0], args[1])
	case "IF":
		if err := want(2, 3); err != nil {
			return mval{}, err
		}
		return e.ifThen(args)
	}
	return mval{}, exprErrf("unknown function %s", truncate(n.str, 32))
}

func (e *evalEnv) perSeries(x mval, f func(*tseries) *tseries) (mval, error) {
	if x.kind != 's' && x.kind != 'a' {
		return mval{}, exprErrf("the function takes a time series")
	}
	out := mval{kind: x.kind}
	for _, s := range x.series {
		if err := e.spend(len(s.v)); err != nil {
			return out, err
		}
		out.series = append(out.series, f(s))
	}
	return out, nil
}

func reduceValues(fn string, vs []float64) float64 {
	acc := vs[0]
	for _, v := range vs[1:] {
		switch fn {
		case "SUM", "AVG":
			acc += v
		case "MIN":
			acc = math.Min(acc, v)
		case "MAX":
			acc = math.Max(acc, v)
		}
	}
	if fn == "AVG" {
		acc /= float64(len(vs))
	}
	return acc
}

// reduce: over an array, a series of the points' aggregate at each
// timestamp; over one series, a scalar of its values.
func (e *evalEnv) reduce(fn string, x mval) (mval, error) {
	switch x.kind {
	case 'n':
		return x, nil
	case 's':
		s := x.series[0]
		if err := e.spend(len(s.v)); err != nil {
			return mval{}, err
		}
		if len(s.v) == 0 {
			return mval{kind: 'n', num: math.NaN()}, nil
		}
		return mval{kind: 'n', num: reduceValues(fn, s.v)}, nil
	case 'a':
		at := map[int64][]float64{}
		var period int64
		for _, s := range x.series {
			if err := e.spend(len(s.v)); err != nil {
				return mval{}, err
			}
			period = max(period, s.period)
			for i, t := range s.t {
				at[t] = append(at[t], s.v[i])
			}
		}
		out := &tseries{label: fn, period: period}
		for t := range at {
			out.t = append(out.t, t)
		}
		sort.Slice(out.t, func(i, j int) bool { return out.t[i] < out.t[j] })
		for _, t := range out.t {
			out.v = append(out.v, reduceValues(fn, at[t]))
		}
		return mval{kind: 's', series: []*tseries{out}}, nil
	}
	return mval{}, exprErrf("%s takes a time series or an array of them", fn)
}

// fill fills the missing periods of each series between the query's
// start and end with a value, the last value (REPEAT) or a line between
// neighbours (LINEAR).
func (e *evalEnv) fill(x, with mval) (mval, error) {
	if with.kind != 'n' && with.kind != 'q' {
		return mval{}, exprErrf("FILL's second argument is a number, REPEAT or LINEAR")
	}
	if x.kind != 's' && x.kind != 'a' {
		return mval{}, exprErrf("FILL takes a time series")
	}
	for _, s := range x.series {
		p := max(s.period, 1)
		n := (e.end - e.start + p) / p
		if n > maxEvalCost {
			return mval{}, exprErrf("the expression touches more than %d datapoints", maxEvalCost)
		}
		if err := e.spend(int(n)); err != nil {
			return mval{}, err
		}
	}
	return e.perSeries(x, func(s *tseries) *tseries {
		p := max(s.period, 1)
		from := e.start - mod(e.start, p)
		known := make(map[int64]float64, len(s.t))
		for i, t := range s.t {
			known[t] = s.v[i]
		}
		out := &tseries{label: s.label, period: s.period}
		for t := from; t < e.end; t += p {
			out.t = append(out.t, t)
			if v, ok := known[t]; ok {
				out.v = append(out.v, v)
				continue
			}
			out.v = append(out.v, e.fillAt(s, t, with))
		}
		return out
	})
}

func (e *evalEnv) fillAt(s *tseries, t int64, with mval) float64 {
	if with.kind == 'n' {
		return with.num
	}
	i := sort.Search(len(s.t), func(i int) bool { return s.t[i] > t })
	switch {
	case len(s.t) == 0:
		return math.NaN()
	case i == 0:
		return s.v[0]
	case i == len(s.t) || with.str == "REPEAT":
		return s.v[i-1]
	}
	t0, t1, v0, v1 := s.t[i-1], s.t[i], s.v[i-1], s.v[i]
	return v0 + (v1-v0)*float64(t-t0)/float64(t1-t0)
}

// ifThen: IF(cond, a[, b]) at each timestamp of cond: a where cond is
// non-zero, else b (or no point without b).
func (e *evalEnv) ifThen(args []mval) (mval, error) {
	cond := args[0]
	if cond.kind == 'n' {
		if cond.num != 0 {
			return args[1], nil
		}
		if len(args) == 3 {
			return args[2], nil
		}
		return mval{kind: 's', series: []*tseries{{}}}, nil
	}
	if cond.kind != 's' {
		return mval{}, exprErrf("IF's condition is a number or a time series")
	}
	pick := func(v mval, t int64) (float64, bool) {
		switch v.kind {
		case 'n':
			return v.num, true
		case 's':
			s := v.series[0]
			i := sort.Search(len(s.t), func(i int) bool { return s.t[i] >= t })
			if i < len(s.t) && s.t[i] == t {
				return s.v[i], true
			}
		}
		return 0, false
	}
	for _, a := range args[1:] {
		if a.kind != 'n' && a.kind != 's' {
			return mval{}, exprErrf("IF's values are numbers or time series")
		}
	}
	c := cond.series[0]
	if err := e.spend(len(c.v) * len(args)); err != nil {
		return mval{}, err
	}
	out := &tseries{label: c.label, period: c.period}
	for i, t := range c.t {
		var src mval
		switch {
		case c.v[i] != 0:
			src = args[1]
		case len(args) == 3:
			src = args[2]
		default:
			continue
		}
		if v, ok := pick(src, t); ok {
			out.t = append(out.t, t)
			out.v = append(out.v, v)
		}
	}
	return mval{kind: 's', series: []*tseries{out}}, nil
}
