package sfn

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestJSONataBindingOperatorsRefused runs every expression of jsonata-js's
// own test groups for the '@' and '#' binding operators (joins) and the
// parent operator (parent-operator): none may evaluate silently with
// another meaning. One that uses an operator is refused naming it; the
// few that use none compile.
func TestJSONataBindingOperatorsRefused(t *testing.T) {
	b, err := os.ReadFile("testdata/jsonata-binding-operators.json")
	if err != nil {
		t.Fatal(err)
	}
	var suite struct {
		Cases []struct {
			Case, Expr string
			Error      bool
		}
	}
	if err := json.Unmarshal(b, &suite); err != nil {
		t.Fatal(err)
	}
	refused := map[rune]int{}
	for _, c := range suite.Cases {
		_, err := compileJSONata("{% " + c.Expr + " %}")
		op := rune(0)
		if err != nil {
			for r := range bindingOperators {
				if strings.Contains(err.Error(), "operator '"+string(r)+"' is not supported") {
					op = r
				}
			}
		}
		switch {
		case op != 0:
			if !strings.ContainsRune(c.Expr, op) {
				t.Errorf("%s: %q refused for '%c', which it does not hold", c.Case, c.Expr, op)
			}
			refused[op]++
		case err == nil && usesBinding(c.Expr):
			t.Errorf("%s: %q compiled, yet it uses a binding or parent operator", c.Case, c.Expr)
		case err != nil && !c.Error && usesBinding(c.Expr):
			t.Errorf("%s: %q refused without naming its operator: %v", c.Case, c.Expr, err)
		}
	}
	for _, r := range "@#%" {
		if refused[r] == 0 {
			t.Errorf("no case refused for '%c'", r)
		}
	}
	t.Logf("refused: @ %d, # %d, %% %d of %d cases", refused['@'], refused['#'], refused['%'], len(suite.Cases))
}

// usesBinding reports whether an expression holds '@', '#' or a '%' that
// is not the remainder, outside strings and backtick names (a rough
// reading, for the test's cases).
func usesBinding(expr string) bool {
	var quote byte
	prev := byte('(')
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case quote != 0:
			switch c {
			case '\\':
				i++
			case quote:
				quote = 0
			}
			continue
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '@' || c == '#':
			return true
		case c == '%' && strings.IndexByte("(.[{,:;=&|+-*/<>!?", prev) >= 0:
			return true
		}
		if c != ' ' && c != '\n' && c != '\t' {
			prev = c
		}
	}
	return false
}

func TestJSONataBindingOperatorMessages(t *testing.T) {
	for expr, op := range map[string]string{
		"Account.Order@$o.Product":                   "'@'",
		"$states.input.items#$i.name":                "'#'",
		"Order.Product.{'o': %.OrderID}":             "'%'",
		"$states.input.a @ $x":                       "'@'",
		"`Order@x`.Product":                          "",
		"$states.input.n % 2":                        "",
		"'a#b@c' & \"%\"":                            "",
		"$map([1, 2], function($v, $i) { $v * $i })": "",
	} {
		_, err := compileJSONata("{% " + expr + " %}")
		switch {
		case op == "" && err != nil:
			t.Errorf("%s: %v", expr, err)
		case op != "" && (err == nil || !strings.Contains(err.Error(), "operator "+op+" is not supported")):
			t.Errorf("%s: got %v, want the operator %s named", expr, err, op)
		}
	}
}
