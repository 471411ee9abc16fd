package policy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// set is a condition's set operator.
type set int

const (
	single set = iota
	forAnyValue
	forAllValues
)

// opKind is a condition operator's family.
type opKind int

const (
	opStringEquals opKind = iota
	opStringEqualsIgnoreCase
	opStringLike
	opNumericEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opDateEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opBool
	opBinaryEquals
	opIPAddress
	opArnLike
	opNull
)

// operators maps each operator name (without set prefix or IfExists) to
// its family and whether it is the negated form.
var operators = map[string]struct {
	kind    opKind
	negated bool
}{
	"StringEquals":              {opStringEquals, false},
	"StringNotEquals":           {opStringEquals, true},
	"StringEqualsIgnoreCase":    {opStringEqualsIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {opStringEqualsIgnoreCase, true},
	"StringLike":                {opStringLike, false},
	"StringNotLike":             {opStringLike, true},
	"NumericEquals":             {opNumericEquals, false},
	"NumericNotEquals":          {opNumericEquals, true},
	"NumericLessThan":           {opNumericLessThan, false},
	"NumericLessThanEquals":     {opNumericLessThanEquals, false},
	"NumericGreaterThan":        {opNumericGreaterThan, false},
	"NumericGreaterThanEquals":  {opNumericGreaterThanEquals, false},
	"DateEquals":                {opDateEquals, false},
	"DateNotEquals":             {opDateEquals, true},
	"DateLessThan":              {opDateLessThan, false},
	"DateLessThanEquals":        {opDateLessThanEquals, false},
	"DateGreaterThan":           {opDateGreaterThan, false},
	"DateGreaterThanEquals":     {opDateGreaterThanEquals, false},
	"Bool":                      {opBool, false},
	"BinaryEquals":              {opBinaryEquals, false},
	"IpAddress":                 {opIPAddress, false},
	"NotIpAddress":              {opIPAddress, true},
	"ArnEquals":                 {opArnLike, false},
	"ArnLike":                   {opArnLike, false},
	"ArnNotEquals":              {opArnLike, true},
	"ArnNotLike":                {opArnLike, true},
	"Null":                      {opNull, false},
}

// condition is one (operator, key) pair of a Condition block with its
// values (ORed); the conditions of a statement are ANDed.
type condition struct {
	op       string // as written, for errors and tests
	kind     opKind
	negated  bool
	ifExists bool
	set      set
	key      string // lower-cased
	values   []string
	vars     bool // values hold policy variables
	// compiled forms of the values
	nums     []float64
	dates    []time.Time
	prefixes []netip.Prefix
	binaries [][]byte
	arns     []matcher
}

func parseConditions(raw json.RawMessage, vars bool) ([]*condition, error) {
	var block map[string]json.RawMessage
	if err := json.Unmarshal(raw, &block); err != nil {
		return nil, malformed("Syntax errors in policy.")
	}
	var out []*condition
	for op, body := range block {
		c, err := parseOperator(op)
		if err != nil {
			return nil, err
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(body, &keys); err != nil {
			return nil, malformed("Syntax errors in policy.")
		}
		for k, v := range keys {
			vals, err := valueList(v)
			if err != nil {
				return nil, err
			}
			if k == "" {
				return nil, malformed("Syntax errors in policy.")
			}
			cc := *c
			cc.key = strings.ToLower(k)
			cc.values = vals
			if err := cc.compile(vars); err != nil {
				return nil, err
			}
			out = append(out, &cc)
		}
	}
	// A stable order, so evaluation (and its cost) does not depend on Go's
	// map iteration.
	sort.Slice(out, func(i, j int) bool {
		if out[i].op != out[j].op {
			return out[i].op < out[j].op
		}
		return out[i].key < out[j].key
	})
	return out, nil
}

func parseOperator(op string) (*condition, error) {
	c := &condition{op: op}
	name := op
	switch {
	case strings.HasPrefix(name, "ForAnyValue:"):
		c.set, name = forAnyValue, strings.TrimPrefix(name, "ForAnyValue:")
	case strings.HasPrefix(name, "ForAllValues:"):
		c.set, name = forAllValues, strings.TrimPrefix(name, "ForAllValues:")
	}
	if n, ok := strings.CutSuffix(name, "IfExists"); ok && n != "Null" {
		c.ifExists, name = true, n
	}
	o, ok := operators[name]
	if !ok {
		return nil, malformed("Invalid Condition type : %s", op)
	}
	c.kind, c.negated = o.kind, o.negated
	return c, nil
}

func (c *condition) compile(vars bool) error {
	bad := func() error {
		return malformed("Invalid Condition value for %s: %s", c.op, strings.Join(c.values, ", "))
	}
	switch c.kind {
	case opStringEquals, opStringEqualsIgnoreCase, opStringLike:
		c.vars = vars && anyVar(c.values)
	case opArnLike:
		c.vars = vars && anyVar(c.values)
		for _, v := range c.values {
			c.arns = append(c.arns, compileMatcher(v, vars))
		}
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		for _, v := range c.values {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return bad()
			}
			c.nums = append(c.nums, f)
		}
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		for _, v := range c.values {
			t, ok := parseDate(v)
			if !ok {
				return bad()
			}
			c.dates = append(c.dates, t)
		}
	case opBool, opNull:
		for _, v := range c.values {
			if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
				return bad()
			}
		}
	case opBinaryEquals:
		for _, v := range c.values {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return bad()
			}
			c.binaries = append(c.binaries, b)
		}
	case opIPAddress:
		for _, v := range c.values {
			p, err := parsePrefix(v)
			if err != nil {
				return bad()
			}
			c.prefixes = append(c.prefixes, p)
		}
	}
	return nil
}

func anyVar(vs []string) bool {
	for _, v := range vs {
		if strings.Contains(v, "${") {
			return true
		}
	}
	return false
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseDate reads the date forms IAM accepts: ISO 8601 (with or without
// time, seconds fraction or zone) and epoch seconds.
func parseDate(s string) (time.Time, bool) {
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", "2006-01-02T15:04Z07:00",
		"2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	return time.Time{}, false
}

// eval is the condition's result for request r.
func (c *condition) eval(r *Request) bool {
	vals, present := r.lookup(c.key)
	if c.kind == opNull {
		absent := !present
		for _, v := range c.values {
			if strings.EqualFold(v, "true") == absent {
				return true
			}
		}
		return false
	}
	if !present {
		switch {
		case c.set == forAllValues:
			return true
		case c.ifExists:
			return true
		case c.set == forAnyValue:
			return false
		}
		// A negated operator is true when the key is absent (AWS: "the
		// condition can return true" for StringNotLike and the like).
		return c.negated
	}
	values := c.values
	if c.vars {
		values = make([]string, 0, len(c.values))
		for _, v := range c.values {
			if x, ok := expand(v, r, c.kind == opStringLike || c.kind == opArnLike); ok {
				values = append(values, x)
			}
		}
	}
	switch c.set {
	case forAllValues:
		for _, v := range vals {
			if c.matchAny(values, v) == c.negated {
				return false
			}
		}
		return true
	case forAnyValue:
		for _, v := range vals {
			if c.matchAny(values, v) != c.negated {
				return true
			}
		}
		return false
	}
	// A single-valued operator over the request's values: true when some
	// value matches; the negated form is true when none does.
	for _, v := range vals {
		if c.matchAny(values, v) {
			return !c.negated
		}
	}
	return c.negated
}

// matchAny reports whether the request value v matches one of the
// condition's values (the positive operator).
func (c *condition) matchAny(values []string, v string) bool {
	switch c.kind {
	case opStringEquals:
		for _, pv := range values {
			if pv == v {
				return true
			}
		}
	case opStringEqualsIgnoreCase:
		for _, pv := range values {
			if strings.EqualFold(pv, v) {
				return true
			}
		}
	case opStringLike:
		for _, pv := range values {
			if glob(pv, v) {
				return true
			}
		}
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return false
		}
		for _, n := range c.nums {
			if cmpOK(c.kind-opNumericEquals, compare(f, n)) {
				return true
			}
		}
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		t, ok := parseDate(v)
		if !ok {
			return false
		}
		for _, d := range c.dates {
			if cmpOK(c.kind-opDateEquals, t.Compare(d)) {
				return true
			}
		}
	case opBool:
		for _, pv := range values {
			if strings.EqualFold(pv, v) {
				return true
			}
		}
	case opBinaryEquals:
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return false
		}
		for _, pb := range c.binaries {
			if bytes.Equal(pb, b) {
				return true
			}
		}
	case opIPAddress:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, p := range c.prefixes {
			if p.Contains(a) {
				return true
			}
		}
	case opArnLike:
		if c.vars {
			for _, pv := range values {
				if matchResource(compileMatcher(pv, false), v) {
					return true
				}
			}
			return false
		}
		for _, m := range c.arns {
			if matchResource(m, v) {
				return true
			}
		}
	}
	return false
}

func compare(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpOK: rel is 0 equals, 1 less than, 2 less or equal, 3 greater than,
// 4 greater or equal; c is the comparison of the request's value with the
// policy's.
func cmpOK(rel opKind, c int) bool {
	switch rel {
	case 0:
		return c == 0
	case 1:
		return c < 0
	case 2:
		return c <= 0
	case 3:
		return c > 0
	case 4:
		return c >= 0
	}
	return false
}
