package dynamodb

import (
	"strings"
)

// The expression grammar (AWS's developer guide, "Condition and filter
// expressions, operators, and functions" and "Update expressions"):
//
//	condition  ::= operand comparator operand
//	             | operand BETWEEN operand AND operand
//	             | operand IN ( operand (, operand)* )
//	             | function ( operand (, operand)* )
//	             | condition AND condition | condition OR condition
//	             | NOT condition | ( condition )
//	comparator ::= = | <> | < | <= | > | >=
//	operand    ::= path | :value | size ( path )
//	path       ::= name ( . name | [ n ] )*      name: identifier or #placeholder
//	update     ::= SET action (, action)* | REMOVE path (, path)*
//	             | ADD path :value (, ...)* | DELETE path :value (, ...)*   (each clause once, any order)
//	action     ::= path = value
//	value      ::= setop | setop + setop | setop - setop
//	setop      ::= operand | if_not_exists ( path , setop ) | list_append ( setop , setop )
//	projection ::= path (, path)*
//
// Precedence, lowest first: OR, AND, NOT, then comparisons, IN, BETWEEN
// and functions; parentheses group.

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tName   // #placeholder
	tValue  // :placeholder
	tNumber // a list index
	tPunct  // ( ) [ ] , . = <> < <= > >= + -
)

type token struct {
	kind tokKind
	text string
	pos  int
}

// maxExprLen is DynamoDB's limit on an expression string (4 KB).
const maxExprLen = 4096

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || (c >= '0' && c <= '9')
}

// lex splits an expression into tokens. what names the expression in
// errors ("ConditionExpression").
func lex(what, s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' || c == ':':
			j := i + 1
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			if j == i+1 {
				return nil, syntaxError(what, s, string(c), i)
			}
			k := tName
			if c == ':' {
				k = tValue
			}
			out = append(out, token{k, s[i:j], i})
			i = j
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			out = append(out, token{tIdent, s[i:j], i})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			out = append(out, token{tNumber, s[i:j], i})
			i = j
		case c == '<' || c == '>':
			if i+1 < len(s) && (s[i+1] == '=' || (c == '<' && s[i+1] == '>')) {
				out = append(out, token{tPunct, s[i : i+2], i})
				i += 2
			} else {
				out = append(out, token{tPunct, s[i : i+1], i})
				i++
			}
		case strings.IndexByte("()[],.=+-", c) >= 0:
			out = append(out, token{tPunct, s[i : i+1], i})
			i++
		default:
			r := s[i:]
			if len(r) > 1 {
				r = r[:1]
			}
			return nil, validationf("Invalid %s: Syntax error; token: \"%s\", near: \"%s\"", what, r, near(s, i))
		}
	}
	out = append(out, token{kind: tEOF, pos: len(s)})
	return out, nil
}

func near(s string, i int) string {
	end := i + 12
	if end > len(s) {
		end = len(s)
	}
	start := i
	if start > len(s) {
		start = len(s)
	}
	return s[start:end]
}

func syntaxError(what, s, tok string, pos int) *Error {
	if tok == "" {
		tok = "<EOF>"
	}
	return validationf("Invalid %s: Syntax error; token: \"%s\", near: \"%s\"", what, tok, near(s, pos))
}
