package dynamodb

import (
	"bytes"
	"encoding/json"
	"hash/fnv"

	bolt "go.etcd.io/bbolt"
)

// maxPage is DynamoDB's limit on the data one Query or Scan reads (1 MB).
const maxPage = 1 << 20

type readInput struct {
	TableName                 string            `json:"TableName"`
	IndexName                 string            `json:"IndexName"`
	KeyConditionExpression    *string           `json:"KeyConditionExpression"`
	FilterExpression          *string           `json:"FilterExpression"`
	ProjectionExpression      *string           `json:"ProjectionExpression"`
	ExpressionAttributeNames  map[string]string `json:"ExpressionAttributeNames"`
	ExpressionAttributeValues map[string]*Value `json:"ExpressionAttributeValues"`
	ScanIndexForward          *bool             `json:"ScanIndexForward"`
	Limit                     *int64            `json:"Limit"`
	ExclusiveStartKey         Item              `json:"ExclusiveStartKey"`
	Select                    string            `json:"Select"`
	ConsistentRead            bool              `json:"ConsistentRead"`
	Segment                   *int64            `json:"Segment"`
	TotalSegments             *int64            `json:"TotalSegments"`
	ReturnConsumedCapacity    string            `json:"ReturnConsumedCapacity"`
	AttributesToGet           []string          `json:"AttributesToGet"`

	KeyConditions       json.RawMessage `json:"KeyConditions"`
	QueryFilter         json.RawMessage `json:"QueryFilter"`
	ScanFilter          json.RawMessage `json:"ScanFilter"`
	ConditionalOperator json.RawMessage `json:"ConditionalOperator"`
}

// keyRange is a Query's key condition resolved: the partition prefix and
// the sort key condition on the component after it.
type keyRange struct {
	prefix []byte
	op     string // "" (none), =, <, <=, >, >=, BETWEEN, begins_with
	lo, hi []byte // encoded bounds (begins_with: the escaped prefix, no terminator)
}

// where places rest (the key after the partition prefix) relative to the
// range: -1 before, 0 in, 1 after (in ascending key order).
func (r *keyRange) where(rest []byte) int {
	cmp := func(b []byte) int {
		if bytes.HasPrefix(rest, b) {
			return 0
		}
		return bytes.Compare(rest, b)
	}
	switch r.op {
	case "":
		return 0
	case "=":
		return cmp(r.lo)
	case "<":
		if cmp(r.lo) >= 0 {
			return 1
		}
	case "<=":
		if cmp(r.lo) > 0 {
			return 1
		}
	case ">":
		if cmp(r.lo) <= 0 {
			return -1
		}
	case ">=":
		if cmp(r.lo) < 0 {
			return -1
		}
	case "BETWEEN":
		if cmp(r.lo) < 0 {
			return -1
		}
		if cmp(r.hi) > 0 {
			return 1
		}
	case "begins_with":
		if bytes.HasPrefix(rest, r.lo) {
			return 0
		}
		return bytes.Compare(rest, r.lo)
	}
	return 0
}

// start is where an ascending read of the range begins.
func (r *keyRange) start() []byte {
	switch r.op {
	case "=", ">", ">=", "BETWEEN", "begins_with":
		return append(append([]byte{}, r.prefix...), r.lo...)
	}
	return r.prefix
}

// successor is the smallest key greater than every key with prefix p.
func successor(p []byte) []byte {
	s := append([]byte{}, p...)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != 0xFF {
			s[i]++
			return s[:i+1]
		}
	}
	return nil
}

func escapedPrefix(v *Value) []byte {
	k := appendComponent(nil, v)
	if v.K == KindS || v.K == KindB {
		return k[:len(k)-2]
	}
	return k
}

// keyCondition resolves a KeyConditionExpression against a key schema.
func keyCondition(c cond, s schema) (*keyRange, error) {
	var parts []cond
	var flatten func(c cond) error
	flatten = func(c cond) error {
		switch c := c.(type) {
		case andCond:
			if err := flatten(c.l); err != nil {
				return err
			}
			return flatten(c.r)
		case orCond:
			return validationf("Invalid operator used in KeyConditionExpression: OR")
		case notCond:
			return validationf("Invalid operator used in KeyConditionExpression: NOT")
		case inCond:
			return validationf("Invalid operator used in KeyConditionExpression: IN")
		}
		parts = append(parts, c)
		return nil
	}
	if err := flatten(c); err != nil {
		return nil, err
	}
	if len(parts) > 2 {
		return nil, validationf("Conditions can be of length 1 or 2 only")
	}
	attr := func(o operand) (string, bool) {
		p, ok := o.(pathOp)
		if !ok || len(p.p) != 1 || p.p[0].isIdx {
			return "", false
		}
		return p.p[0].name, true
	}
	val := func(o operand, want Kind) (*Value, error) {
		v, ok := o.(valueOp)
		if !ok {
			return nil, validationf("Query key condition not supported")
		}
		if v.v.K != want {
			return nil, validationf("One or more parameter values were invalid: Condition parameter type does not match schema type")
		}
		return v.v, nil
	}
	r := &keyRange{}
	var hashV *Value
	seen := map[string]bool{}
	for _, p := range parts {
		var name, op string
		var args []operand
		switch p := p.(type) {
		case cmpCond:
			n, ok := attr(p.l)
			other := p.r
			op = p.op
			if !ok {
				n, ok = attr(p.r)
				other = p.l
				op = map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "<>": "<>"}[p.op]
				if !ok {
					return nil, validationf("Query key condition not supported")
				}
			}
			if op == "<>" {
				return nil, validationf("Unsupported operator on KeyCondition: <>")
			}
			name, args = n, []operand{other}
		case betweenCond:
			n, ok := attr(p.v)
			if !ok {
				return nil, validationf("Query key condition not supported")
			}
			name, op, args = n, "BETWEEN", []operand{p.lo, p.hi}
		case funcCond:
			if p.name != "begins_with" {
				return nil, validationf("Invalid operator used in KeyConditionExpression: %s", p.name)
			}
			n, _ := attr(p.args[0])
			name, op, args = n, "begins_with", p.args[1:]
		default:
			return nil, validationf("Query key condition not supported")
		}
		if seen[name] {
			return nil, validationf("KeyConditionExpressions must only contain one condition per key")
		}
		seen[name] = true
		switch name {
		case s.hash:
			if op != "=" {
				return nil, validationf("Query key condition not supported")
			}
			v, err := val(args[0], s.hashType)
			if err != nil {
				return nil, err
			}
			hashV = v
		case s.rng:
			if s.rng == "" {
				return nil, validationf("Query key condition not supported")
			}
			r.op = op
			lo, err := val(args[0], s.rngType)
			if err != nil {
				return nil, err
			}
			if op == "begins_with" {
				if s.rngType == KindN {
					return nil, validationf("Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N")
				}
				r.lo = escapedPrefix(lo)
				break
			}
			r.lo = appendComponent(nil, lo)
			if op == "BETWEEN" {
				hi, err := val(args[1], s.rngType)
				if err != nil {
					return nil, err
				}
				if n, _ := compare(lo, hi); n > 0 {
					return nil, validationf("Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower operand: AttributeValue: {%s:%s}, upper operand: AttributeValue: {%s:%s}",
						lo.K, scalarText(lo), hi.K, scalarText(hi))
				}
				r.hi = appendComponent(nil, hi)
			}
		default:
			return nil, validationf("Query condition missed key schema element: %s", s.hash)
		}
	}
	if hashV == nil {
		return nil, validationf("Query condition missed key schema element: %s", s.hash)
	}
	r.prefix = appendComponent(nil, hashV)
	return r, nil
}

func scalarText(v *Value) string {
	if v.K == KindB {
		return string(v.B)
	}
	return v.S
}

// readPlan is a checked Query or Scan.
type readPlan struct {
	t       *tableDesc
	ix      *indexDesc // nil: the table
	gsi     bool
	kr      *keyRange // nil: Scan
	filter  cond
	proj    []docPath
	count   bool
	forward bool
	limit   int
	esk     []byte
	// segment, for a parallel Scan, keeps the items of its segment.
	segment func(Item) bool
}

func (s *Service) planRead(in *readInput, query bool) (*readPlan, error) {
	if err := refuseLegacy("KeyConditions", in.KeyConditions, "QueryFilter", in.QueryFilter, "ScanFilter", in.ScanFilter, "ConditionalOperator", in.ConditionalOperator); err != nil {
		return nil, err
	}
	t, ok := s.e.table(in.TableName)
	if !ok {
		return nil, errNotFound()
	}
	p := &readPlan{t: t, forward: in.ScanIndexForward == nil || *in.ScanIndexForward}
	if in.Limit != nil {
		if *in.Limit < 1 {
			return nil, validationf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", *in.Limit)
		}
		p.limit = int(min(*in.Limit, 1<<30))
	}
	ks := t.KeySchema
	if in.IndexName != "" {
		ix, gsi := t.index(in.IndexName)
		if ix == nil {
			return nil, validationf("The table does not have the specified index: %s", in.IndexName)
		}
		if gsi && in.ConsistentRead {
			return nil, validationf("Consistent reads are not supported on global secondary indexes")
		}
		p.ix, p.gsi, ks = ix, gsi, ix.KeySchema
	}
	switch in.Select {
	case "", "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES":
		if in.Select == "ALL_PROJECTED_ATTRIBUTES" && p.ix == nil {
			return nil, validationf("One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES is not supported for a table")
		}
		if in.Select == "ALL_ATTRIBUTES" && p.gsi && p.ix.Projection.ProjectionType != "ALL" {
			return nil, validationf("One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index %s because its projection type is not ALL", p.ix.IndexName)
		}
	case "COUNT":
		p.count = true
	case "SPECIFIC_ATTRIBUTES":
		if in.ProjectionExpression == nil && len(in.AttributesToGet) == 0 {
			return nil, validationf("One or more parameter values were invalid: Select type SPECIFIC_ATTRIBUTES requires ProjectionExpression or AttributesToGet")
		}
	default:
		return nil, validationf("1 validation error detected: Value '%s' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]", in.Select)
	}
	if p.count && (in.ProjectionExpression != nil || len(in.AttributesToGet) > 0) {
		return nil, validationf("Cannot specify the AttributesToGet or ProjectionExpression when choosing to get only the COUNT")
	}
	hasExpr := in.KeyConditionExpression != nil || in.FilterExpression != nil || in.ProjectionExpression != nil
	env, err := checkEnv(in.ExpressionAttributeNames, in.ExpressionAttributeValues, hasExpr)
	if err != nil {
		return nil, err
	}
	if env == nil {
		env = newEnv(nil, nil)
	}
	sc := t.schemaOf(ks)
	if query {
		if in.KeyConditionExpression == nil {
			return nil, validationf("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
		}
		kc, err := parseCondition("KeyConditionExpression", *in.KeyConditionExpression, env)
		if err != nil {
			return nil, err
		}
		if p.kr, err = keyCondition(kc, sc); err != nil {
			return nil, err
		}
	} else if in.KeyConditionExpression != nil {
		return nil, validationf("Nimbus does not take KeyConditionExpression on Scan")
	}
	if in.FilterExpression != nil {
		if p.filter, err = parseCondition("FilterExpression", *in.FilterExpression, env); err != nil {
			return nil, err
		}
	}
	if in.ProjectionExpression != nil {
		if len(in.AttributesToGet) > 0 {
			return nil, validationf("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}")
		}
		if p.proj, err = parseProjection(*in.ProjectionExpression, env); err != nil {
			return nil, err
		}
	}
	for _, n := range in.AttributesToGet {
		p.proj = append(p.proj, docPath{{name: n}})
	}
	if err := env.checkUnused(); err != nil {
		return nil, err
	}
	if in.ExclusiveStartKey != nil {
		if p.esk, err = p.startKey(in.ExclusiveStartKey); err != nil {
			return nil, err
		}
	}
	if !query {
		if in.TotalSegments != nil || in.Segment != nil {
			if in.TotalSegments == nil {
				return nil, validationf("The TotalSegments parameter is required but was not present in the request when Segment parameter is present")
			}
			if in.Segment == nil {
				return nil, validationf("The Segment parameter is required but was not present in the request when parameter TotalSegments is present")
			}
			total, seg := *in.TotalSegments, *in.Segment
			if total < 1 || total > 1000000 {
				return nil, validationf("1 validation error detected: Value '%d' at 'totalSegments' failed to satisfy constraint: Member must have value less than or equal to 1000000", total)
			}
			if seg < 0 || seg >= total {
				return nil, validationf("The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: %d is not less than TotalSegments: %d", seg, total)
			}
			hashAttr := sc.hash
			p.segment = func(it Item) bool {
				v := it[hashAttr]
				if v == nil {
					return false
				}
				h := fnv.New32a()
				_, _ = h.Write(appendComponent(nil, v))
				return int64(h.Sum32())%total == seg
			}
		}
	}
	return p, nil
}

// startKey encodes an ExclusiveStartKey in the read's bucket.
func (p *readPlan) startKey(k Item) ([]byte, error) {
	ts := p.t.schema()
	for n := range k {
		if !ts.has(n) && (p.ix == nil || !p.t.schemaOf(p.ix.KeySchema).has(n)) {
			return nil, validationf("The provided starting key is invalid: The provided key element does not match the schema")
		}
	}
	tk, err := itemKey(ts, k)
	if err != nil {
		return nil, validationf("The provided starting key is invalid: The provided key element does not match the schema")
	}
	if p.ix == nil {
		return tk, nil
	}
	ik, err := indexKey(p.t, p.ix, k, tk)
	if err != nil || ik == nil {
		return nil, validationf("The provided starting key is invalid: The provided key element does not match the schema")
	}
	return ik, nil
}

// readResult is a page of a Query or Scan.
type readResult struct {
	items   []Item
	count   int
	scanned int
	last    Item
	size    int
}

// run reads one page.
func (p *readPlan) run(tx *bolt.Tx) (*readResult, error) {
	items := tx.Bucket(itemsBucket(p.t.TableName))
	if items == nil {
		return nil, errNotFound()
	}
	b := items
	if p.ix != nil {
		b = tx.Bucket(indexBucket(p.t.TableName, p.ix.IndexName))
		if b == nil {
			return nil, errNotFound()
		}
	}
	c := b.Cursor()
	var prefix []byte
	if p.kr != nil {
		prefix = p.kr.prefix
	}
	var k, v []byte
	switch {
	case p.forward && p.esk != nil:
		k, v = c.Seek(p.esk)
		if bytes.Equal(k, p.esk) {
			k, v = c.Next()
		}
	case p.forward && p.kr != nil:
		k, v = c.Seek(p.kr.start())
	case p.forward:
		k, v = c.First()
	default:
		var from []byte
		if p.esk != nil {
			from = p.esk
		} else if p.kr != nil {
			from = successor(prefix)
		}
		if from == nil {
			k, v = c.Last()
		} else if k, _ = c.Seek(from); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	}
	step := c.Next
	if !p.forward {
		step = c.Prev
	}
	res := &readResult{}
	ts := p.t.schema()
	for ; k != nil; k, v = step() {
		if !bytes.HasPrefix(k, prefix) {
			break
		}
		if p.kr != nil {
			w := p.kr.where(k[len(prefix):])
			if w != 0 {
				if (w > 0) == p.forward {
					break
				}
				continue
			}
		}
		raw := v
		if p.ix != nil {
			raw = items.Get(v)
			if raw == nil {
				continue
			}
		}
		it, err := decodeItem(raw)
		if err != nil {
			return nil, err
		}
		if p.segment != nil && !p.segment(it) {
			continue
		}
		if p.ix != nil {
			it = projectIndex(p.t, p.ix, it)
		}
		res.scanned++
		res.size += len(raw)
		if p.filter == nil || evalCond(it, p.filter) {
			res.count++
			if !p.count {
				if p.proj != nil {
					res.items = append(res.items, project(it, p.proj))
				} else {
					res.items = append(res.items, it)
				}
			}
		}
		if (p.limit > 0 && res.scanned >= p.limit) || res.size >= maxPage {
			res.last = keyItem(ts, it)
			if p.ix != nil {
				for _, ke := range p.ix.KeySchema {
					res.last[ke.AttributeName] = it[ke.AttributeName]
				}
			}
			break
		}
	}
	return res, nil
}

func (s *Service) read(in *readInput, query bool) (any, error) {
	p, err := s.planRead(in, query)
	if err != nil {
		return nil, err
	}
	var res *readResult
	if err := s.e.view(func(tx *bolt.Tx) error {
		var err error
		res, err = p.run(tx)
		return err
	}); err != nil {
		return nil, err
	}
	out := map[string]any{"Count": res.count, "ScannedCount": res.scanned}
	if !p.count {
		if res.items == nil {
			res.items = []Item{}
		}
		out["Items"] = res.items
	}
	if res.last != nil {
		out["LastEvaluatedKey"] = res.last
	}
	return withCapacity(out, consumed(in.ReturnConsumedCapacity, in.TableName, readUnits(res.size, in.ConsistentRead))), nil
}
