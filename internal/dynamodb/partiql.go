package dynamodb

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// PartiQL statements run as the item operations they mean: a SELECT with
// an equality on the partition key is a Query (its sort key condition
// joins the key condition, the rest is the filter), any other SELECT a
// Scan; INSERT a PutItem that must not replace an item; UPDATE an
// UpdateItem of an item that must exist; DELETE a DeleteItem; EXISTS a
// transaction's ConditionCheck. A statement's values and names become
// ExpressionAttributeValues and Names, so the expression grammar and its
// evaluation are the item operations' own.

const (
	maxBatchStatements = 25
	maxNextToken       = 32768
)

type executeStatementInput struct {
	Statement                           string   `json:"Statement"`
	Parameters                          []*Value `json:"Parameters"`
	ConsistentRead                      bool     `json:"ConsistentRead"`
	NextToken                           string   `json:"NextToken"`
	ReturnConsumedCapacity              string   `json:"ReturnConsumedCapacity"`
	Limit                               *int64   `json:"Limit"`
	ReturnValuesOnConditionCheckFailure string   `json:"ReturnValuesOnConditionCheckFailure"`
}

// statementRequest is one statement of a batch (BatchStatementRequest)
// or a transaction (ParameterizedStatement, which has no ConsistentRead).
type statementRequest struct {
	Statement                           string   `json:"Statement"`
	Parameters                          []*Value `json:"Parameters"`
	ConsistentRead                      bool     `json:"ConsistentRead"`
	ReturnValuesOnConditionCheckFailure string   `json:"ReturnValuesOnConditionCheckFailure"`
}

type batchStatementInput struct {
	Statements             []statementRequest `json:"Statements"`
	ReturnConsumedCapacity string             `json:"ReturnConsumedCapacity"`
}

type executeTransactionInput struct {
	TransactStatements     []statementRequest `json:"TransactStatements"`
	ClientRequestToken     string             `json:"ClientRequestToken"`
	ReturnConsumedCapacity string             `json:"ReturnConsumedCapacity"`
}

// parseStatements parses a batch's or a transaction's statements (the
// member field, "statements" or "transactStatements"; what, "Batch" or
// "Transaction"), which must be all reads or all writes; EXISTS only in
// a transaction. reads: they are all reads.
func parseStatements(field, what string, limit int, reqs []statementRequest) (parsed []*pqStatement, reads bool, err error) {
	n := len(reqs)
	if n == 0 || n > limit {
		return nil, false, validationf("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", field, limit)
	}
	parsed = make([]*pqStatement, n)
	nreads := 0
	for i, r := range reqs {
		st, err := checkStatement(field+"."+strconv.Itoa(i+1)+".member.statement", r.Statement, r.Parameters)
		if err != nil {
			return nil, false, err
		}
		if st.exists && what != "Transaction" {
			return nil, false, validationf("EXISTS is a condition of ExecuteTransaction only")
		}
		if st.kind == "SELECT" && !st.exists {
			nreads++
		}
		parsed[i] = st
	}
	if nreads != 0 && nreads != n {
		return nil, false, validationf("%s may only contain read or write statements, not both", what)
	}
	return parsed, nreads > 0, nil
}

func errDuplicateItem() *Error {
	return newErr(http.StatusBadRequest, "DuplicateItemException", "Duplicate primary key exists in table")
}

// checkStatement checks a statement's length and its parameters' count.
func checkStatement(field, stmt string, params []*Value) (*pqStatement, error) {
	if stmt == "" {
		return nil, validationf("1 validation error detected: Value '' at '%s' failed to satisfy constraint: Member must have length greater than or equal to 1", field)
	}
	if len(stmt) > maxStatementLen {
		return nil, validationf("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", field, maxStatementLen)
	}
	if params != nil && len(params) == 0 {
		return nil, validationf("1 validation error detected: Value '[]' at 'parameters' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	for _, p := range params {
		if p == nil {
			return nil, validationf("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
		}
	}
	st, err := parsePartiQL(stmt)
	if err != nil {
		return nil, err
	}
	if st.params != len(params) {
		return nil, validationf("Number of parameters in request and statement don't match.")
	}
	return st, nil
}

// pqEnv turns a statement's parts into expressions: names into
// #placeholders, values (literals and parameters) into :placeholders.
type pqEnv struct {
	params []*Value
	names  map[string]string // placeholder -> name
	byName map[string]string // name -> placeholder
	values map[string]*Value
}

func newPQEnv(params []*Value) *pqEnv {
	return &pqEnv{params: params, names: map[string]string{}, byName: map[string]string{}, values: map[string]*Value{}}
}

func (e *pqEnv) name(n string) string {
	if ph, ok := e.byName[n]; ok {
		return ph
	}
	ph := "#n" + strconv.Itoa(len(e.names))
	e.names[ph], e.byName[n] = n, ph
	return ph
}

func (e *pqEnv) value(v *Value) string {
	ph := ":v" + strconv.Itoa(len(e.values))
	e.values[ph] = v
	return ph
}

func (e *pqEnv) path(p docPath) string {
	var b strings.Builder
	for i, el := range p {
		switch {
		case el.isIdx:
			b.WriteString("[" + strconv.Itoa(el.index) + "]")
		case i > 0:
			b.WriteString("." + e.name(el.name))
		default:
			b.WriteString(e.name(el.name))
		}
	}
	return b.String()
}

// eval is the value of a literal, a parameter or a collection of them.
func (e *pqEnv) eval(n pqNode) (*Value, error) {
	switch n := n.(type) {
	case pqLit:
		return n.v, nil
	case pqParam:
		return e.params[n.i], nil
	case pqMap:
		m := make(map[string]*Value, len(n.keys))
		for i, k := range n.keys {
			v, err := e.eval(n.vals[i])
			if err != nil {
				return nil, err
			}
			if _, dup := m[k]; dup {
				return nil, pqError("duplicate key '%s' in a tuple", k)
			}
			m[k] = v
		}
		return &Value{K: KindM, M: m}, nil
	case pqList:
		l := make([]*Value, len(n.elems))
		for i, x := range n.elems {
			v, err := e.eval(x)
			if err != nil {
				return nil, err
			}
			l[i] = v
		}
		return &Value{K: KindL, L: l}, nil
	case pqSet:
		return e.set(n)
	}
	return nil, pqError("expected a value")
}

// set is a << >> literal: a string, number or binary set.
func (e *pqEnv) set(n pqSet) (*Value, error) {
	if len(n.elems) == 0 {
		return nil, validationf("One or more parameter values were invalid: An string set  may not be empty")
	}
	out := &Value{}
	for _, x := range n.elems {
		v, err := e.eval(x)
		if err != nil {
			return nil, err
		}
		var k Kind
		switch v.K {
		case KindS:
			k = KindSS
		case KindN:
			k = KindNS
		case KindB:
			k = KindBS
		default:
			return nil, validationf("Unsupported type passed: a set holds strings, numbers or binaries, not %s", v.K)
		}
		if out.K != 0 && out.K != k {
			return nil, validationf("Unsupported type passed: a set's elements must all be of one type")
		}
		out.K = k
		if k == KindBS {
			out.BS = append(out.BS, v.B)
		} else {
			out.SS = append(out.SS, v.S)
		}
	}
	return out, nil
}

// operand renders a value-producing node.
func (e *pqEnv) operand(n pqNode) (string, error) {
	switch n := n.(type) {
	case pqPath:
		return e.path(n.p), nil
	case pqArith:
		l, err := e.operand(n.l)
		if err != nil {
			return "", err
		}
		r, err := e.operand(n.r)
		if err != nil {
			return "", err
		}
		return l + " " + n.op + " " + r, nil
	case pqFunc:
		switch n.name {
		case "size":
			if len(n.args) != 1 {
				return "", pqError("size takes one argument")
			}
			p, ok := n.args[0].(pqPath)
			if !ok {
				return "", pqError("size takes a path")
			}
			return "size(" + e.path(p.p) + ")", nil
		case "list_append", "if_not_exists":
			if len(n.args) != 2 {
				return "", pqError("%s takes two arguments", n.name)
			}
			a, err := e.operand(n.args[0])
			if err != nil {
				return "", err
			}
			b, err := e.operand(n.args[1])
			if err != nil {
				return "", err
			}
			return n.name + "(" + a + ", " + b + ")", nil
		}
		return "", pqError("function %s is not a value here", n.name)
	}
	v, err := e.eval(n)
	if err != nil {
		return "", err
	}
	return e.value(v), nil
}

// cond renders a condition.
func (e *pqEnv) cond(n pqNode) (string, error) {
	switch n := n.(type) {
	case pqAnd, pqOr:
		var l, r pqNode
		op := " AND "
		if o, ok := n.(pqOr); ok {
			l, r, op = o.l, o.r, " OR "
		} else {
			a := n.(pqAnd)
			l, r = a.l, a.r
		}
		a, err := e.cond(l)
		if err != nil {
			return "", err
		}
		b, err := e.cond(r)
		if err != nil {
			return "", err
		}
		return "(" + a + ")" + op + "(" + b + ")", nil
	case pqNot:
		c, err := e.cond(n.c)
		if err != nil {
			return "", err
		}
		return "NOT (" + c + ")", nil
	case pqCmp:
		l, err := e.operand(n.l)
		if err != nil {
			return "", err
		}
		r, err := e.operand(n.r)
		if err != nil {
			return "", err
		}
		return l + " " + n.op + " " + r, nil
	case pqBetween:
		parts := make([]string, 3)
		for i, x := range []pqNode{n.v, n.lo, n.hi} {
			s, err := e.operand(x)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return parts[0] + " BETWEEN " + parts[1] + " AND " + parts[2], nil
	case pqIn:
		v, err := e.operand(n.v)
		if err != nil {
			return "", err
		}
		list := make([]string, len(n.list))
		for i, x := range n.list {
			if list[i], err = e.operand(x); err != nil {
				return "", err
			}
		}
		return v + " IN (" + strings.Join(list, ", ") + ")", nil
	case pqIs:
		p, ok := n.v.(pqPath)
		if !ok {
			return "", pqError("IS %s takes a path", n.what)
		}
		path := e.path(p.p)
		var c string
		if n.what == "MISSING" {
			c = "attribute_not_exists(" + path + ")"
		} else {
			c = "attribute_type(" + path + ", " + e.value(&Value{K: KindS, S: "NULL"}) + ")"
		}
		if n.not {
			c = "NOT " + c
		}
		return c, nil
	case pqFunc:
		switch n.name {
		case "begins_with", "contains", "attribute_type":
			if len(n.args) != 2 {
				return "", pqError("%s takes two arguments", n.name)
			}
			a, err := e.operand(n.args[0])
			if err != nil {
				return "", err
			}
			b, err := e.operand(n.args[1])
			if err != nil {
				return "", err
			}
			return n.name + "(" + a + ", " + b + ")", nil
		case "exists", "missing":
			if len(n.args) != 1 {
				return "", pqError("%s takes one argument", n.name)
			}
			p, ok := n.args[0].(pqPath)
			if !ok {
				return "", pqError("%s takes a path", n.name)
			}
			if n.name == "exists" {
				return "attribute_exists(" + e.path(p.p) + ")", nil
			}
			return "attribute_not_exists(" + e.path(p.p) + ")", nil
		}
	}
	return "", pqError("expected a condition")
}

// conjuncts flattens a condition's top-level ANDs.
func conjuncts(n pqNode) []pqNode {
	if a, ok := n.(pqAnd); ok {
		return append(conjuncts(a.l), conjuncts(a.r)...)
	}
	if n == nil {
		return nil
	}
	return []pqNode{n}
}

// isValue reports whether n is a literal, a parameter or a collection.
func isValue(n pqNode) bool {
	switch n.(type) {
	case pqLit, pqParam, pqMap, pqList, pqSet:
		return true
	}
	return false
}

// keyEquality reports whether c is "name = value" (either way round) on
// a top-level attribute, and its parts.
func keyEquality(c pqNode) (string, pqNode, bool) {
	cmp, ok := c.(pqCmp)
	if !ok || cmp.op != "=" {
		return "", nil, false
	}
	l, r := cmp.l, cmp.r
	if _, ok := r.(pqPath); ok && isValue(l) {
		l, r = r, l
	}
	p, ok := l.(pqPath)
	if !ok || len(p.p) != 1 || p.p[0].isIdx || !isValue(r) {
		return "", nil, false
	}
	return p.p[0].name, r, true
}

// keyOf takes the equalities on the key attributes out of a WHERE
// clause: the key, and the other conditions.
func (e *pqEnv) keyOf(where pqNode, keys []keyElem) (Item, []pqNode, error) {
	key := Item{}
	var rest []pqNode
	for _, c := range conjuncts(where) {
		if n, v, ok := keyEquality(c); ok && isKeyName(keys, n) && key[n] == nil {
			val, err := e.eval(v)
			if err != nil {
				return nil, nil, err
			}
			key[n] = val
			continue
		}
		rest = append(rest, c)
	}
	if len(key) != len(keys) {
		return nil, nil, validationf("Where clause does not contain a mandatory equality on all key attributes")
	}
	return key, rest, nil
}

func isKeyName(keys []keyElem, n string) bool {
	for _, k := range keys {
		if k.AttributeName == n {
			return true
		}
	}
	return false
}

// andAll renders conditions joined by AND ("" for none).
func (e *pqEnv) andAll(cs []pqNode) (string, error) {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		s, err := e.cond(c)
		if err != nil {
			return "", err
		}
		parts = append(parts, "("+s+")")
	}
	return strings.Join(parts, " AND "), nil
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// table finds a statement's table.
func (s *Service) pqTable(st *pqStatement) (*tableDesc, error) {
	t, ok := s.e.table(st.table)
	if !ok {
		return nil, errTableNotFound(st.table)
	}
	return t, nil
}

// writeInput is a write statement as the item operation it means: op is
// Put, Update, Delete or ConditionCheck.
func (s *Service) writeInput(st *pqStatement, params []*Value, onFail string) (string, *itemInput, error) {
	t, err := s.pqTable(st)
	if err != nil {
		return "", nil, err
	}
	e := newPQEnv(params)
	in := &itemInput{TableName: st.table, ReturnValuesOnConditionCheckFailure: onFail}
	hash := t.KeySchema[0].AttributeName
	var op string
	var conds []string
	switch {
	case st.kind == "INSERT":
		v, err := e.eval(st.value)
		if err != nil {
			return "", nil, err
		}
		if v.K != KindM {
			return "", nil, validationf("Unsupported type passed: INSERT takes a tuple ({...}) of the item's attributes")
		}
		op, in.Item = "Put", v.M
		conds = append(conds, "attribute_not_exists("+e.name(hash)+")")
	case st.kind == "SELECT" && st.exists:
		if st.index != "" || st.proj != nil || st.order != nil {
			return "", nil, validationf("EXISTS takes SELECT * FROM a table WHERE its key and conditions")
		}
		key, rest, err := e.keyOf(st.where, t.KeySchema)
		if err != nil {
			return "", nil, err
		}
		c, err := e.andAll(rest)
		if err != nil {
			return "", nil, err
		}
		op, in.Key = "ConditionCheck", key
		conds = append(conds, "attribute_exists("+e.name(hash)+")")
		if c != "" {
			conds = append(conds, c)
		}
	case st.kind == "UPDATE":
		key, rest, err := e.keyOf(st.where, t.KeySchema)
		if err != nil {
			return "", nil, err
		}
		upd, err := e.updateExpr(st)
		if err != nil {
			return "", nil, err
		}
		c, err := e.andAll(rest)
		if err != nil {
			return "", nil, err
		}
		op, in.Key, in.UpdateExpression = "Update", key, &upd
		conds = append(conds, "attribute_exists("+e.name(hash)+")")
		if c != "" {
			conds = append(conds, c)
		}
		in.ReturnValues = map[string]string{"ALL OLD": "ALL_OLD", "MODIFIED OLD": "UPDATED_OLD",
			"ALL NEW": "ALL_NEW", "MODIFIED NEW": "UPDATED_NEW"}[st.returning]
	case st.kind == "DELETE":
		key, rest, err := e.keyOf(st.where, t.KeySchema)
		if err != nil {
			return "", nil, err
		}
		c, err := e.andAll(rest)
		if err != nil {
			return "", nil, err
		}
		op, in.Key = "Delete", key
		if c != "" {
			conds = append(conds, c)
		}
		if st.returning == "ALL OLD" {
			in.ReturnValues = "ALL_OLD"
		}
	default:
		return "", nil, validationf("A %s statement is not a write", st.kind)
	}
	in.ConditionExpression = strPtr(strings.Join(conds, " AND "))
	if len(e.names) > 0 {
		in.ExpressionAttributeNames = e.names
	}
	if len(e.values) > 0 {
		in.ExpressionAttributeValues = e.values
	}
	return op, in, nil
}

// updateExpr renders UPDATE's SET and REMOVE clauses as an
// UpdateExpression (set_add and set_delete become ADD and DELETE).
func (e *pqEnv) updateExpr(st *pqStatement) (string, error) {
	var set, add, del, remove []string
	for _, a := range st.sets {
		path := e.path(a.path)
		if f, ok := a.val.(pqFunc); ok && (f.name == "set_add" || f.name == "set_delete") {
			if len(f.args) != 2 {
				return "", pqError("%s takes two arguments", f.name)
			}
			if p, ok := f.args[0].(pqPath); !ok || e.path(p.p) != path {
				return "", pqError("%s's first argument must be the path it sets", f.name)
			}
			v, err := e.eval(f.args[1])
			if err != nil {
				return "", err
			}
			if f.name == "set_add" {
				add = append(add, path+" "+e.value(v))
			} else {
				del = append(del, path+" "+e.value(v))
			}
			continue
		}
		v, err := e.operand(a.val)
		if err != nil {
			return "", err
		}
		set = append(set, path+" = "+v)
	}
	for _, p := range st.removes {
		remove = append(remove, e.path(p))
	}
	var parts []string
	for _, c := range []struct {
		kw   string
		list []string
	}{{"SET", set}, {"REMOVE", remove}, {"ADD", add}, {"DELETE", del}} {
		if len(c.list) > 0 {
			parts = append(parts, c.kw+" "+strings.Join(c.list, ", "))
		}
	}
	return strings.Join(parts, " "), nil
}

// nextToken is ExecuteStatement's NextToken: where the next page starts.
type nextToken struct {
	Statement string `json:"s"`
	Key       Item   `json:"k"`
}

// selectInput is a SELECT as the Query or Scan it means.
func (s *Service) selectInput(st *pqStatement, params []*Value) (*readInput, bool, error) {
	t, err := s.pqTable(st)
	if err != nil {
		return nil, false, err
	}
	keys := t.KeySchema
	if st.index != "" {
		found := false
		for _, ix := range append(append([]indexDesc{}, t.GlobalSecondaryIndexes...), t.LocalSecondaryIndexes...) {
			if ix.IndexName == st.index {
				keys, found = ix.KeySchema, true
			}
		}
		if !found {
			return nil, false, validationf("The table does not have the specified index: %s", st.index)
		}
	}
	e := newPQEnv(params)
	in := &readInput{TableName: st.table, IndexName: st.index, ProjectionExpression: e.projection(st)}
	cs := conjuncts(st.where)
	var keyConds []string
	hashAt := -1
	for i, c := range cs {
		if n, v, ok := keyEquality(c); ok && n == keys[0].AttributeName {
			val, err := e.eval(v)
			if err != nil {
				return nil, false, err
			}
			keyConds = append(keyConds, e.name(n)+" = "+e.value(val))
			hashAt = i
			break
		}
	}
	query := hashAt >= 0
	var filter []pqNode
	if query {
		cs = append(cs[:hashAt:hashAt], cs[hashAt+1:]...)
		rangeDone := len(keys) < 2
		for _, c := range cs {
			if !rangeDone && isRangeCond(c, keys[1].AttributeName) {
				r, err := e.cond(c)
				if err != nil {
					return nil, false, err
				}
				keyConds = append(keyConds, r)
				rangeDone = true
				continue
			}
			filter = append(filter, c)
		}
		in.KeyConditionExpression = strPtr(strings.Join(keyConds, " AND "))
	} else {
		filter = cs
	}
	f, err := e.andAll(filter)
	if err != nil {
		return nil, false, err
	}
	in.FilterExpression = strPtr(f)
	for i, o := range st.order {
		if !query {
			return nil, false, validationf("Must have WHERE clause in the statement when using ORDER BY clause.")
		}
		if len(o.path) != 1 || o.path[0].isIdx || !isKeyName(keys, o.path[0].name) || i > 0 && o.desc != st.order[0].desc {
			return nil, false, validationf("Variable reference %s must refer to a key attribute and be in the same order", o.path.String())
		}
		if o.desc {
			in.ScanIndexForward = new(bool)
		}
	}
	if len(e.names) > 0 {
		in.ExpressionAttributeNames = e.names
	}
	if len(e.values) > 0 {
		in.ExpressionAttributeValues = e.values
	}
	return in, query, nil
}

// isRangeCond reports whether c is a key condition on the sort key: a
// comparison (not <>) or BETWEEN with values, or begins_with.
func isRangeCond(c pqNode, name string) bool {
	onKey := func(n pqNode) bool {
		p, ok := n.(pqPath)
		return ok && len(p.p) == 1 && !p.p[0].isIdx && p.p[0].name == name
	}
	switch c := c.(type) {
	case pqCmp:
		return c.op != "<>" && onKey(c.l) && isValue(c.r)
	case pqBetween:
		return onKey(c.v) && isValue(c.lo) && isValue(c.hi)
	case pqFunc:
		return c.name == "begins_with" && len(c.args) == 2 && onKey(c.args[0]) && isValue(c.args[1])
	}
	return false
}

// runSelect runs a SELECT from start and returns its page.
func (s *Service) runSelect(st *pqStatement, in *executeStatementInput) (map[string]any, error) {
	rin, query, err := s.selectInput(st, in.Parameters)
	if err != nil {
		return nil, err
	}
	rin.ConsistentRead, rin.Limit, rin.ReturnConsumedCapacity = in.ConsistentRead, in.Limit, in.ReturnConsumedCapacity
	if in.NextToken != "" {
		var tok nextToken
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil || json.Unmarshal(b, &tok) != nil || tok.Statement != in.Statement || tok.Key == nil {
			return nil, validationf("Invalid NextToken")
		}
		rin.ExclusiveStartKey = tok.Key
	}
	res, err := s.read(rin, query)
	if err != nil {
		return nil, err
	}
	out, _ := res.(map[string]any)
	r := map[string]any{"Items": out["Items"]}
	if last, ok := out["LastEvaluatedKey"].(Item); ok && last != nil {
		b, err := json.Marshal(nextToken{Statement: in.Statement, Key: last})
		if err != nil {
			return nil, err
		}
		r["NextToken"] = base64.RawURLEncoding.EncodeToString(b)
		r["LastEvaluatedKey"] = last
	}
	if cc, ok := out["ConsumedCapacity"]; ok {
		r["ConsumedCapacity"] = cc
	}
	return r, nil
}

func (s *Service) executeStatement(ctx context.Context, in *executeStatementInput) (any, error) {
	if in.Limit != nil && *in.Limit < 1 {
		return nil, validationf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", *in.Limit)
	}
	if len(in.NextToken) > maxNextToken {
		return nil, validationf("1 validation error detected: Value at 'nextToken' failed to satisfy constraint: Member must have length less than or equal to %d", maxNextToken)
	}
	st, err := checkStatement("statement", in.Statement, in.Parameters)
	if err != nil {
		return nil, err
	}
	if st.kind == "SELECT" && !st.exists {
		return s.runSelect(st, in)
	}
	if st.exists {
		return nil, validationf("EXISTS is a condition of ExecuteTransaction only")
	}
	return s.runWrite(ctx, st, in.Parameters, in.ReturnValuesOnConditionCheckFailure, in.ReturnConsumedCapacity)
}

// runWrite runs one write statement.
func (s *Service) runWrite(ctx context.Context, st *pqStatement, params []*Value, onFail, capacity string) (map[string]any, error) {
	op, it, err := s.writeInput(st, params, onFail)
	if err != nil {
		return nil, err
	}
	it.ReturnConsumedCapacity = capacity
	out, err := s.writeOne(ctx, op, it)
	if err != nil {
		var e *Error
		if st.kind == "INSERT" && errors.As(err, &e) && e.Code == "ConditionalCheckFailedException" {
			return nil, errDuplicateItem()
		}
		return nil, err
	}
	m, _ := out.(map[string]any)
	r := map[string]any{"Items": []Item{}}
	if a, ok := m["Attributes"].(Item); ok && a != nil {
		r["Items"] = []Item{a}
	}
	if cc, ok := m["ConsumedCapacity"]; ok {
		r["ConsumedCapacity"] = cc
	}
	return r, nil
}

// getByKey runs a SELECT that names an item by its whole key (a batch's
// or a transaction's read) as the GetItem it means.
func (s *Service) getInput(st *pqStatement, params []*Value) (*itemInput, error) {
	if st.kind != "SELECT" || st.exists {
		return nil, validationf("A read must be a SELECT")
	}
	if st.index != "" {
		return nil, validationf("A batch or transaction SELECT reads a table by its key, not an index")
	}
	t, err := s.pqTable(st)
	if err != nil {
		return nil, err
	}
	e := newPQEnv(params)
	key, rest, err := e.keyOf(st.where, t.KeySchema)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, validationf("A batch or transaction SELECT takes only equalities on the key attributes")
	}
	in := &itemInput{TableName: st.table, Key: key, ProjectionExpression: e.projection(st)}
	if st.proj != nil {
		in.ExpressionAttributeNames = e.names
	}
	return in, nil
}

// projection renders a SELECT's projection (nil for *).
func (e *pqEnv) projection(st *pqStatement) *string {
	if st.proj == nil {
		return nil
	}
	ps := make([]string, len(st.proj))
	for i, p := range st.proj {
		ps[i] = e.path(p)
	}
	return strPtr(strings.Join(ps, ", "))
}

// batchErrorCode is a BatchStatementError's Code for an exception.
func batchErrorCode(code string) string {
	switch code {
	case "ConditionalCheckFailedException":
		return "ConditionalCheckFailed"
	case "DuplicateItemException":
		return "DuplicateItem"
	case "ResourceNotFoundException":
		return "ResourceNotFound"
	case "ValidationException":
		return "ValidationError"
	case "TransactionConflictException":
		return "TransactionConflict"
	case "ItemCollectionSizeLimitExceededException":
		return "ItemCollectionSizeLimitExceeded"
	}
	return "InternalServerError"
}

func (s *Service) batchExecuteStatement(ctx context.Context, in *batchStatementInput) (any, error) {
	parsed, _, err := parseStatements("statements", "Batch", maxBatchStatements, in.Statements)
	if err != nil {
		return nil, err
	}
	responses := make([]map[string]any, len(parsed))
	for i, st := range parsed {
		b := in.Statements[i]
		r := map[string]any{"TableName": st.table}
		var err error
		if st.kind == "SELECT" {
			var it *itemInput
			if it, err = s.getInput(st, b.Parameters); err == nil {
				it.ConsistentRead = b.ConsistentRead
				var out any
				if out, err = s.getItem(it, false); err == nil {
					if m, ok := out.(map[string]any); ok && m["Item"] != nil {
						r["Item"] = m["Item"]
					}
				}
			}
		} else {
			_, err = s.runWrite(ctx, st, b.Parameters, b.ReturnValuesOnConditionCheckFailure, "")
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				return nil, err
			}
			be := map[string]any{"Code": batchErrorCode(e.Code), "Message": e.Msg}
			if e.Item != nil {
				be["Item"] = e.Item
			}
			r["Error"] = be
		}
		responses[i] = r
	}
	return map[string]any{"Responses": responses}, nil
}

func (s *Service) executeTransaction(ctx context.Context, in *executeTransactionInput) (any, error) {
	parsed, reads, err := parseStatements("transactStatements", "Transaction", maxTransactItems, in.TransactStatements)
	if err != nil {
		return nil, err
	}
	n := len(parsed)
	if reads {
		var tin transactGetInput
		tin.ReturnConsumedCapacity = in.ReturnConsumedCapacity
		tin.TransactItems = make([]struct {
			Get *itemInput `json:"Get"`
		}, n)
		for i, st := range parsed {
			it, err := s.getInput(st, in.TransactStatements[i].Parameters)
			if err != nil {
				return nil, err
			}
			tin.TransactItems[i].Get = it
		}
		return s.transactGet(&tin)
	}
	tin := transactWriteInput{ClientRequestToken: in.ClientRequestToken, ReturnConsumedCapacity: in.ReturnConsumedCapacity,
		TransactItems: make([]transactItem, n)}
	for i, st := range parsed {
		op, it, err := s.writeInput(st, in.TransactStatements[i].Parameters, in.TransactStatements[i].ReturnValuesOnConditionCheckFailure)
		if err != nil {
			return nil, err
		}
		if it.ReturnValues != "" {
			return nil, validationf("RETURNING is not supported in a transaction")
		}
		switch op {
		case "Put":
			tin.TransactItems[i].Put = it
		case "Update":
			tin.TransactItems[i].Update = it
		case "Delete":
			tin.TransactItems[i].Delete = it
		default:
			tin.TransactItems[i].ConditionCheck = it
		}
	}
	out, err := s.transactWrite(ctx, &tin)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Reasons != nil {
			for i := range e.Reasons {
				if parsed[i].kind == "INSERT" && e.Reasons[i].Code == "ConditionalCheckFailed" {
					e.Reasons[i] = CancellationReason{Code: "DuplicateItem", Message: "Duplicate primary key exists in table"}
				}
			}
		}
		return nil, err
	}
	m, _ := out.(map[string]any)
	r := map[string]any{}
	if cc, ok := m["ConsumedCapacity"]; ok {
		r["ConsumedCapacity"] = cc
	}
	return r, nil
}

// Access is one action a request needs on one table (or index): the
// table named by TableName, and the tables of PartiQL statements and of
// multi-item requests, which name theirs deeper in the body.
type Access struct {
	Action string // dynamodb:PartiQLSelect, dynamodb:PutItem, ...
	Table  string
	Index  string
	// ARN, when set, is the resource instead of the table's (a stream's:
	// Streams' GetRecords is judged on the stream its iterator names).
	ARN string
}

// Accesses are the accesses a request of operation op with body needs;
// ok is false for an operation that names no table in its body (its
// resource is an ARN parameter: tags, streams). A statement
// that does not parse needs nothing (the operation refuses it); a body
// that does not decode (or was too large to read) needs dynamodb:<op> on
// every table, so a caller without it is refused.
func Accesses(op string, body []byte) (out []Access, ok bool) {
	stmtAccess := func(stmt string) {
		st, err := parsePartiQL(stmt)
		if err != nil {
			return
		}
		a := Access{Table: st.table, Index: st.index}
		switch st.kind {
		case "SELECT":
			a.Action = "dynamodb:PartiQLSelect"
		case "INSERT":
			a.Action = "dynamodb:PartiQLInsert"
		case "UPDATE":
			a.Action = "dynamodb:PartiQLUpdate"
		case "DELETE":
			a.Action = "dynamodb:PartiQLDelete"
		}
		out = append(out, a)
	}
	undecodable := []Access{{Action: "dynamodb:" + op, Table: "*"}}
	var err error
	switch op {
	case "ExecuteStatement":
		var in struct{ Statement string }
		if err = json.Unmarshal(body, &in); err == nil {
			stmtAccess(in.Statement)
		}
	case "BatchExecuteStatement", "ExecuteTransaction":
		var in struct {
			Statements         []struct{ Statement string }
			TransactStatements []struct{ Statement string }
		}
		if err = json.Unmarshal(body, &in); err == nil {
			for _, s := range append(in.Statements, in.TransactStatements...) {
				stmtAccess(s.Statement)
			}
		}
	case "TransactWriteItems", "TransactGetItems":
		// Members match case-insensitively, as the operation's decoding
		// does ("put" is Put).
		var in struct {
			TransactItems []map[string]struct{ TableName string }
		}
		if err = json.Unmarshal(body, &in); err == nil {
			for _, ti := range in.TransactItems {
				for kind, it := range ti {
					action := map[string]string{"put": "PutItem", "update": "UpdateItem", "delete": "DeleteItem",
						"conditioncheck": "ConditionCheckItem", "get": "GetItem"}[strings.ToLower(kind)]
					if action != "" {
						out = append(out, Access{Action: "dynamodb:" + action, Table: it.TableName})
					}
				}
			}
		}
	case "BatchWriteItem", "BatchGetItem":
		var in struct{ RequestItems map[string]json.RawMessage }
		if err = json.Unmarshal(body, &in); err == nil {
			for t := range in.RequestItems {
				out = append(out, Access{Action: "dynamodb:" + op, Table: t})
			}
		}
	case "PutItem", "GetItem", "UpdateItem", "DeleteItem", "Query", "Scan", "CreateTable", "DescribeTable", "DeleteTable",
		"UpdateTable", "UpdateTimeToLive", "DescribeTimeToLive", "DescribeContinuousBackups":
		// The table the operation will use: TableName decoded as the
		// operation decodes it (members match case-insensitively, the
		// last one winning), whatever other members the body has.
		var in struct{ TableName string }
		if err = json.Unmarshal(body, &in); err == nil {
			t := in.TableName
			if t == "" {
				t = "*" // refused by the operation itself
			}
			out = append(out, Access{Action: "dynamodb:" + op, Table: t})
		}
	case "GetRecords":
		// DynamoDB Streams' (DynamoDB has no GetRecords): the stream its
		// ShardIterator was issued for, which GetRecords checks is so.
		var in struct{ ShardIterator string }
		if err = json.Unmarshal(body, &in); err == nil {
			a := Access{Action: "dynamodb:GetRecords", Table: "*"}
			if it, ok := parseIterator(in.ShardIterator); ok {
				a.ARN = it.Arn
			}
			out = append(out, a)
		}
	default:
		return nil, false
	}
	if err != nil || body == nil {
		return undecodable, true
	}
	return out, true
}
