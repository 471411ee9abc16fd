package dynamodb

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is an attribute value's data type, named as the wire names it.
type Kind uint8

// The data types.
const (
	KindS Kind = iota + 1
	KindN
	KindB
	KindBOOL
	KindNULL
	KindM
	KindL
	KindSS
	KindNS
	KindBS
)

var kindNames = [...]string{"", "S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "?"
}

func kindByName(s string) (Kind, bool) {
	for i, n := range kindNames {
		if i > 0 && n == s {
			return Kind(i), true
		}
	}
	return 0, false
}

// Value is one attribute value. N holds its canonical decimal text in S;
// NS holds canonical texts in SS.
type Value struct {
	K    Kind
	S    string
	B    []byte
	Bool bool
	M    map[string]*Value
	L    []*Value
	SS   []string
	BS   [][]byte
}

// Item is an item: attribute names to values.
type Item = map[string]*Value

// maxDepth is DynamoDB's limit on nested attribute values.
const maxDepth = 32

// wireValue is the JSON shape of an AttributeValue.
type wireValue struct {
	S    *string           `json:"S,omitempty"`
	N    *string           `json:"N,omitempty"`
	B    []byte            `json:"B,omitempty"`
	BOOL *bool             `json:"BOOL,omitempty"`
	NULL *bool             `json:"NULL,omitempty"`
	M    map[string]*Value `json:"M,omitempty"`
	L    []*Value          `json:"L,omitempty"`
	SS   []string          `json:"SS,omitempty"`
	NS   []string          `json:"NS,omitempty"`
	BS   [][]byte          `json:"BS,omitempty"`
}

// UnmarshalJSON decodes a wire AttributeValue and checks it as DynamoDB
// does (exactly one type, numbers, sets without duplicates): the fast
// decoder (value_fast.go) for what it reads, the general one for the rest.
func (v *Value) UnmarshalJSON(b []byte) error {
	if f, ok := fastValue(b); ok {
		*v = f
		return nil
	}
	return v.unmarshalGeneral(b)
}

// unmarshalGeneral is UnmarshalJSON through encoding/json: every shape,
// and every error's text.
func (v *Value) unmarshalGeneral(b []byte) error {
	var w wireValue
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	n := 0
	if w.S != nil {
		n++
		v.K, v.S = KindS, *w.S
	}
	if w.N != nil {
		n++
		c, err := canonicalNumber(*w.N)
		if err != nil {
			return err
		}
		v.K, v.S = KindN, c
	}
	if w.B != nil {
		n++
		v.K, v.B = KindB, w.B
	}
	if w.BOOL != nil {
		n++
		v.K, v.Bool = KindBOOL, *w.BOOL
	}
	if w.NULL != nil {
		n++
		if !*w.NULL {
			return validationf("One or more parameter values were invalid: Null attribute value types must have the value of true")
		}
		v.K = KindNULL
	}
	if w.M != nil {
		n++
		v.K, v.M = KindM, w.M
		for k, e := range w.M {
			if e == nil {
				return validationf("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
			}
			_ = k
		}
	}
	if w.L != nil {
		n++
		v.K, v.L = KindL, w.L
		for _, e := range w.L {
			if e == nil {
				return validationf("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
			}
		}
	}
	if w.SS != nil {
		n++
		if len(w.SS) == 0 {
			return validationf("One or more parameter values were invalid: An string set  may not be empty")
		}
		v.K, v.SS = KindSS, w.SS
		if err := noDuplicates(w.SS); err != nil {
			return err
		}
	}
	if w.NS != nil {
		n++
		if len(w.NS) == 0 {
			return validationf("One or more parameter values were invalid: An number set  may not be empty")
		}
		ns := make([]string, len(w.NS))
		for i, s := range w.NS {
			c, err := canonicalNumber(s)
			if err != nil {
				return err
			}
			ns[i] = c
		}
		if err := noDuplicates(ns); err != nil {
			return err
		}
		v.K, v.SS = KindNS, ns
	}
	if w.BS != nil {
		n++
		if len(w.BS) == 0 {
			return validationf("One or more parameter values were invalid: Binary sets should not be empty")
		}
		ss := make([]string, len(w.BS))
		for i, b := range w.BS {
			ss[i] = string(b)
		}
		if err := noDuplicates(ss); err != nil {
			return err
		}
		v.K, v.BS = KindBS, w.BS
	}
	switch {
	case n == 0:
		return validationf("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
	case n > 1:
		return validationf("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
	}
	return nil
}

func noDuplicates(ss []string) error {
	seen := make(map[string]struct{}, len(ss))
	for _, s := range ss {
		if _, ok := seen[s]; ok {
			return validationf("One or more parameter values were invalid: Input collection [%s] contains duplicates.", strings.Join(ss, ", "))
		}
		seen[s] = struct{}{}
	}
	return nil
}

// MarshalJSON writes the wire AttributeValue.
func (v *Value) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	v.appendJSON(&buf)
	return buf.Bytes(), nil
}

func (v *Value) appendJSON(buf *bytes.Buffer) {
	switch v.K {
	case KindS:
		buf.WriteString(`{"S":`)
		writeJSONString(buf, v.S)
	case KindN:
		buf.WriteString(`{"N":"`)
		buf.WriteString(v.S)
		buf.WriteByte('"')
	case KindB:
		buf.WriteString(`{"B":"`)
		buf.WriteString(base64.StdEncoding.EncodeToString(v.B))
		buf.WriteByte('"')
	case KindBOOL:
		buf.WriteString(`{"BOOL":` + strconv.FormatBool(v.Bool))
	case KindNULL:
		buf.WriteString(`{"NULL":true`)
	case KindM:
		buf.WriteString(`{"M":`)
		appendItemJSON(buf, v.M)
	case KindL:
		buf.WriteString(`{"L":[`)
		for i, e := range v.L {
			if i > 0 {
				buf.WriteByte(',')
			}
			e.appendJSON(buf)
		}
		buf.WriteByte(']')
	case KindSS, KindNS:
		buf.WriteString(`{"` + v.K.String() + `":[`)
		for i, s := range v.SS {
			if i > 0 {
				buf.WriteByte(',')
			}
			if v.K == KindNS {
				buf.WriteString(`"` + s + `"`)
			} else {
				writeJSONString(buf, s)
			}
		}
		buf.WriteByte(']')
	case KindBS:
		buf.WriteString(`{"BS":[`)
		for i, b := range v.BS {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(`"` + base64.StdEncoding.EncodeToString(b) + `"`)
		}
		buf.WriteByte(']')
	default:
		buf.WriteString(`{"NULL":true`)
	}
	buf.WriteByte('}')
}

func appendItemJSON(buf *bytes.Buffer, m Item) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeJSONString(buf, k)
		buf.WriteByte(':')
		m[k].appendJSON(buf)
	}
	buf.WriteByte('}')
}

// writeJSONString writes s as encoding/json does (HTML characters
// escaped, invalid UTF-8 replaced): printable ASCII needing no escape as
// it is, anything else through json.Marshal.
func writeJSONString(buf *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			buf.Write(b)
			return
		}
	}
	buf.Grow(len(s) + 2)
	buf.WriteByte('"')
	buf.WriteString(s)
	buf.WriteByte('"')
}

// encodeItem is the stored form of an item.
func encodeItem(it Item) []byte {
	var buf bytes.Buffer
	appendItemJSON(&buf, it)
	return buf.Bytes()
}

// decodeItem reads a stored item.
func decodeItem(b []byte) (Item, error) {
	var it Item
	if err := json.Unmarshal(b, &it); err != nil {
		return nil, fmt.Errorf("decode stored item: %w", err)
	}
	return it, nil
}

// checkValue enforces the limits DynamoDB checks on values of a request:
// nesting depth and valid UTF-8 strings.
func checkValue(v *Value, depth int) error {
	if depth > maxDepth {
		return validationf("Nesting Levels have exceeded supported limits: Nesting levels of an attribute value is greater than the maximum level of %d", maxDepth)
	}
	switch v.K {
	case KindS:
		if !utf8.ValidString(v.S) {
			return validationf("One or more parameter values were invalid: A string contains invalid UTF-8")
		}
	case KindM:
		for k, e := range v.M {
			if k == "" {
				return validationf("One or more parameter values were invalid: An attribute name may not be empty")
			}
			if err := checkValue(e, depth+1); err != nil {
				return err
			}
		}
	case KindL:
		for _, e := range v.L {
			if err := checkValue(e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkItem(it Item) error {
	for k, v := range it {
		if k == "" {
			return validationf("One or more parameter values were invalid: An attribute name may not be empty")
		}
		if err := checkValue(v, 1); err != nil {
			return err
		}
	}
	return nil
}

// valueSize is the size DynamoDB counts for a value (the developer
// guide's "Item sizes and formats").
func valueSize(v *Value) int {
	switch v.K {
	case KindS:
		return len(v.S)
	case KindN:
		return numberSize(v.S)
	case KindB:
		return len(v.B)
	case KindBOOL, KindNULL:
		return 1
	case KindM:
		n := 3
		for k, e := range v.M {
			n += len(k) + valueSize(e) + 1
		}
		return n
	case KindL:
		n := 3
		for _, e := range v.L {
			n += valueSize(e) + 1
		}
		return n
	case KindSS:
		n := 0
		for _, s := range v.SS {
			n += len(s)
		}
		return n
	case KindNS:
		n := 0
		for _, s := range v.SS {
			n += numberSize(s)
		}
		return n
	case KindBS:
		n := 0
		for _, b := range v.BS {
			n += len(b)
		}
		return n
	}
	return 0
}

// itemSize is an item's size as DynamoDB computes it: names plus values.
func itemSize(it Item) int {
	n := 0
	for k, v := range it {
		n += len(k) + valueSize(v)
	}
	return n
}

// maxItemSize is DynamoDB's item size limit, 400 KB.
const maxItemSize = 400 * 1024

// equal reports whether two values are equal as DynamoDB compares them
// (sets regardless of order, numbers numerically).
func equal(a, b *Value) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.K != b.K {
		return false
	}
	switch a.K {
	case KindS:
		return a.S == b.S
	case KindN:
		return compareNumbers(a.S, b.S) == 0
	case KindB:
		return bytes.Equal(a.B, b.B)
	case KindBOOL:
		return a.Bool == b.Bool
	case KindNULL:
		return true
	case KindM:
		if len(a.M) != len(b.M) {
			return false
		}
		for k, av := range a.M {
			bv, ok := b.M[k]
			if !ok || !equal(av, bv) {
				return false
			}
		}
		return true
	case KindL:
		return slices.EqualFunc(a.L, b.L, equal)
	case KindSS, KindNS:
		if len(a.SS) != len(b.SS) {
			return false
		}
		for _, s := range a.SS {
			if !setHas(a.K, b.SS, s) {
				return false
			}
		}
		return true
	case KindBS:
		if len(a.BS) != len(b.BS) {
			return false
		}
		for _, x := range a.BS {
			if !slices.ContainsFunc(b.BS, func(y []byte) bool { return bytes.Equal(x, y) }) {
				return false
			}
		}
		return true
	}
	return false
}

func setHas(k Kind, ss []string, s string) bool {
	if k == KindNS {
		return slices.ContainsFunc(ss, func(x string) bool { return compareNumbers(x, s) == 0 })
	}
	return slices.Contains(ss, s)
}

// clone deep-copies a value.
func (v *Value) clone() *Value {
	c := *v
	if v.M != nil {
		c.M = make(map[string]*Value, len(v.M))
		for k, e := range v.M {
			c.M[k] = e.clone()
		}
	}
	if v.L != nil {
		c.L = make([]*Value, len(v.L))
		for i, e := range v.L {
			c.L[i] = e.clone()
		}
	}
	c.SS = slices.Clone(v.SS)
	c.BS = slices.Clone(v.BS)
	return &c
}

func cloneItem(it Item) Item {
	if it == nil {
		return nil
	}
	c := make(Item, len(it))
	for k, v := range it {
		c[k] = v.clone()
	}
	return c
}
