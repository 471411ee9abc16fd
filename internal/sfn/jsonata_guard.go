package sfn

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/blues/jsonata-go/jparse"
)

// A JSONata expression is code from whoever may create a state machine,
// and the library evaluates it with neither a recursion limit nor a
// budget: a recursive function would overflow the Go stack (which kills
// the process) and [1..10000000] ranges nested in a path would exhaust
// memory. guard rewrites the expression before it is compiled so each
// user function's body counts its depth and the calls of the whole
// evaluation, and each range counts its items:
//
//	function($x){ body }  ->  function($x){ $__enter() ? $__exit(true, body) : null }
//	[a..b]                ->  [a..$__range(a, b)]
//
// ($__enter fails the evaluation with States.QueryEvaluationError past
// the limits, so its "null" branch is never taken.) Names starting with
// "__" are reserved for this.
const (
	maxJSONataDepth      = 1000
	maxJSONataCalls      = 100000
	maxJSONataRangeItems = 1000000

	guardEnter = "__enter"
	guardExit  = "__exit"
	guardRange = "__range"
)

var nodeType = reflect.TypeFor[jparse.Node]()

// guard returns body rewritten with its budget checks (body itself when
// it defines no function and holds no range), and the names of the
// Step Functions functions (and guards) it uses, which are the only ones
// an evaluation then registers.
func guard(body string) (string, []string, error) {
	root, err := jparse.Parse(body)
	var perr *jparse.Error
	if errors.As(err, &perr) {
		tok := perr.Token
		switch {
		case perr.Type == jparse.ErrPrefix && tok == "%":
			return "", nil, unsupportedOperator('%')
		case tok != "" && !strings.ContainsAny(tok[:1], "\"'`") && strings.ContainsAny(tok, "@#"):
			// A name token holding the operator where the parser
			// expected none (`$^($)#$pos`, `a @ $x`).
			return "", nil, unsupportedOperator(rune(tok[strings.IndexAny(tok, "@#")]))
		}
	}
	if err != nil {
		return "", nil, err
	}
	g := &guarder{names: map[string]bool{}, exts: map[string]bool{}}
	root = g.node(root)
	if g.binding != 0 {
		return "", nil, unsupportedOperator(g.binding)
	}
	if g.reserved {
		return "", nil, errors.New("names starting with '$__' are reserved")
	}
	var uses []string
	for n := range g.names {
		if awsFunctionNames[n] || jsonata2Names[n] {
			uses = append(uses, n)
		}
	}
	if g.changed {
		uses = append(uses, guardEnter, guardExit, guardRange)
	}
	for n := range g.exts {
		uses = append(uses, n)
	}
	if g.changed || len(g.exts) > 0 {
		body = root.String()
	}
	return body, uses, nil
}

// awsFunctionNames are the functions awsFunctions defines (the guards
// apart).
var awsFunctionNames = map[string]bool{"partition": true, "range": true, "hash": true, "uuid": true, "parse": true,
	"random": true, "assert": true, "millis": true, "now": true}

type guarder struct {
	changed, reserved bool
	binding           rune            // '@' or '#' when a name holds one (unsupportedOperator)
	names             map[string]bool // every variable named
	exts              map[string]bool // the budget's functions and checks inserted
}

// rename gives a budgeted built-in's name its budgeted version's.
func (g *guarder) rename(name string) string {
	if !budgetedBuiltins[name] {
		return name
	}
	g.exts["__"+name] = true
	return "__" + name
}

func call(name string, args ...jparse.Node) jparse.Node {
	return &jparse.FunctionCallNode{Func: &jparse.VariableNode{Name: name}, Args: args}
}

func (g *guarder) lambda(l *jparse.LambdaNode) {
	for i, p := range l.ParamNames {
		l.ParamNames[i] = g.rename(p)
	}
	l.Body = &jparse.ConditionalNode{If: call(guardEnter), Then: call(guardExit, &jparse.BooleanNode{Value: true}, g.node(l.Body)), Else: &jparse.NullNode{}}
	g.changed = true
}

func (g *guarder) node(n jparse.Node) jparse.Node {
	switch x := n.(type) {
	case nil:
		return nil
	case *jparse.VariableNode:
		g.bindingIn(x.Name)
		if strings.HasPrefix(x.Name, "__") {
			g.reserved = true
		}
		g.names[x.Name] = true
		x.Name = g.rename(x.Name)
		return n
	case *jparse.NameNode:
		// A name in backticks may hold any character.
		if !reflect.ValueOf(x).Elem().FieldByName("escaped").Bool() {
			g.bindingIn(x.Value)
		}
		return n
	case *jparse.AssignmentNode:
		if strings.HasPrefix(x.Name, "__") {
			g.reserved = true
		}
		x.Name = g.rename(x.Name)
	case *jparse.StringConcatenationNode:
		x.LHS, x.RHS = g.node(x.LHS), g.node(x.RHS)
		g.exts[guardConcat] = true
		return call(guardConcat, x)
	case *jparse.PathNode:
		for i, s := range x.Steps {
			x.Steps[i] = g.node(s)
			if i > 0 && countsItems(x.Steps[i]) {
				x.Steps[i] = call(guardItems, x.Steps[i])
				g.exts[guardItems] = true
			}
		}
		return n
	case *jparse.LambdaNode:
		g.lambda(x)
		return n
	case *jparse.TypedLambdaNode:
		g.lambda(x.LambdaNode)
		return n
	case *jparse.RangeNode:
		x.LHS, x.RHS = g.node(x.LHS), g.node(x.RHS)
		x.RHS = call(guardRange, x.LHS, x.RHS)
		g.changed = true
		return n
	}
	v := reflect.ValueOf(n)
	if v.Kind() == reflect.Pointer && !v.IsNil() && v.Elem().Kind() == reflect.Struct {
		g.fields(v.Elem())
	}
	return n
}

// JSONata 2.0's binding operators and its parent operator are syntax
// the library (JSONata 1.5) lacks, and its lexer reads '@' and '#' as
// characters of a name: `Order@$o.Product` would silently be the field
// "Order@$o". They need the tuple streams of jsonata-js's evaluator, so
// rather than evaluate them wrongly, Parse refuses them by name
// (InvalidDefinition at CreateStateMachine): an unquoted name or a
// variable holding '@' or '#' (neither may hold them in JSONata), and
// '%' where an operand is expected (as an infix operator it is the
// remainder, which the library has).
var bindingOperators = map[rune]string{
	'@': "context variable binding ('@$v'); bind the value with $v := ... in a block, or iterate with $map",
	'#': "positional variable binding ('#$i'); use $map(array, function($v, $i) {...}), whose second parameter is the index",
	'%': "parent ('%'); keep the parent in a variable before descending, e.g. Order.($o := $; Product.{'Order': $o.OrderID})",
}

func unsupportedOperator(op rune) error {
	return fmt.Errorf("the JSONata 2.0 operator '%c' is not supported by Nimbus: %s", op, bindingOperators[op])
}

// bindingIn notes the first binding operator a name holds.
func (g *guarder) bindingIn(name string) {
	if g.binding == 0 {
		if i := strings.IndexAny(name, "@#"); i >= 0 {
			g.binding = rune(name[i])
		}
	}
}

// countsItems reports whether a path step's values are counted: any
// step that may fan out (a constructed array or object is one value).
func countsItems(n jparse.Node) bool {
	switch n.(type) {
	case *jparse.ArrayNode, *jparse.ObjectNode, *jparse.GroupNode, *jparse.SortNode,
		*jparse.StringNode, *jparse.NumberNode, *jparse.BooleanNode, *jparse.NullNode:
		return false
	}
	return true
}

// fields rewrites the child nodes among a node's exported fields.
func (g *guarder) fields(s reflect.Value) {
	for i := range s.NumField() {
		f := s.Field(i)
		if !f.CanSet() {
			continue
		}
		switch {
		case f.Type() == nodeType:
			if !f.IsNil() {
				f.Set(reflect.ValueOf(g.node(f.Interface().(jparse.Node))))
			}
		case f.Kind() == reflect.Slice || f.Kind() == reflect.Array:
			for j := range f.Len() {
				e := f.Index(j)
				switch {
				case e.Type() == nodeType:
					if !e.IsNil() {
						e.Set(reflect.ValueOf(g.node(e.Interface().(jparse.Node))))
					}
				case e.Kind() == reflect.Array || e.Kind() == reflect.Struct:
					g.elems(e)
				}
			}
		case f.Kind() == reflect.Pointer && !f.IsNil() && f.Elem().Kind() == reflect.Struct:
			if l, ok := f.Interface().(*jparse.LambdaNode); ok {
				g.lambda(l)
				continue
			}
			g.fields(f.Elem())
		}
	}
}

// elems rewrites the nodes of a [2]Node pair or a SortTerm.
func (g *guarder) elems(e reflect.Value) {
	if e.Kind() == reflect.Struct {
		g.fields(e)
		return
	}
	for k := range e.Len() {
		x := e.Index(k)
		if x.Type() == nodeType && !x.IsNil() {
			x.Set(reflect.ValueOf(g.node(x.Interface().(jparse.Node))))
		}
	}
}
