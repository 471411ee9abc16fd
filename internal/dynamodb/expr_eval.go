package dynamodb

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// resolve finds the value at path p in item (nil if absent).
func resolve(item Item, p docPath) *Value {
	if len(p) == 0 || p[0].isIdx {
		return nil
	}
	v := item[p[0].name]
	for _, e := range p[1:] {
		if v == nil {
			return nil
		}
		switch {
		case e.isIdx && v.K == KindL:
			if e.index >= len(v.L) {
				return nil
			}
			v = v.L[e.index]
		case !e.isIdx && v.K == KindM:
			v = v.M[e.name]
		default:
			return nil
		}
	}
	return v
}

// evalOperand evaluates a condition operand (nil: the path is absent, or
// size of a value that has none).
func evalOperand(item Item, o operand) *Value {
	switch o := o.(type) {
	case valueOp:
		return o.v
	case pathOp:
		return resolve(item, o.p)
	case sizeOp:
		v := resolve(item, o.p)
		if v == nil {
			return nil
		}
		n := -1
		switch v.K {
		case KindS:
			n = utf8.RuneCountInString(v.S)
		case KindB:
			n = len(v.B)
		case KindSS, KindNS:
			n = len(v.SS)
		case KindBS:
			n = len(v.BS)
		case KindL:
			n = len(v.L)
		case KindM:
			n = len(v.M)
		}
		if n < 0 {
			return nil
		}
		return &Value{K: KindN, S: strconv.Itoa(n)}
	}
	return nil
}

// compare orders two scalars of one type (N, S or B); ok is false when
// they cannot be ordered.
func compare(a, b *Value) (int, bool) {
	if a == nil || b == nil || a.K != b.K {
		return 0, false
	}
	switch a.K {
	case KindN:
		return compareNumbers(a.S, b.S), true
	case KindS:
		return strings.Compare(a.S, b.S), true
	case KindB:
		return bytes.Compare(a.B, b.B), true
	}
	return 0, false
}

// evalCond evaluates a condition against an item (nil item: absent).
func evalCond(item Item, c cond) bool {
	switch c := c.(type) {
	case andCond:
		return evalCond(item, c.l) && evalCond(item, c.r)
	case orCond:
		return evalCond(item, c.l) || evalCond(item, c.r)
	case notCond:
		return !evalCond(item, c.c)
	case cmpCond:
		l, r := evalOperand(item, c.l), evalOperand(item, c.r)
		if l == nil || r == nil {
			return false
		}
		switch c.op {
		case "=":
			return equal(l, r)
		case "<>":
			return !equal(l, r)
		}
		n, ok := compare(l, r)
		if !ok {
			return false
		}
		switch c.op {
		case "<":
			return n < 0
		case "<=":
			return n <= 0
		case ">":
			return n > 0
		case ">=":
			return n >= 0
		}
	case betweenCond:
		v, lo, hi := evalOperand(item, c.v), evalOperand(item, c.lo), evalOperand(item, c.hi)
		a, ok1 := compare(v, lo)
		b, ok2 := compare(v, hi)
		return ok1 && ok2 && a >= 0 && b <= 0
	case inCond:
		v := evalOperand(item, c.v)
		if v == nil {
			return false
		}
		for _, o := range c.list {
			if equal(v, evalOperand(item, o)) {
				return true
			}
		}
		return false
	case funcCond:
		return evalFunc(item, c)
	}
	return false
}

func evalFunc(item Item, c funcCond) bool {
	p := c.args[0].(pathOp).p
	v := resolve(item, p)
	switch c.name {
	case "attribute_exists":
		return v != nil
	case "attribute_not_exists":
		return v == nil
	case "attribute_type":
		t := evalOperand(item, c.args[1])
		return v != nil && t != nil && t.K == KindS && v.K.String() == t.S
	case "begins_with":
		s := evalOperand(item, c.args[1])
		if v == nil || s == nil || v.K != s.K {
			return false
		}
		switch v.K {
		case KindS:
			return strings.HasPrefix(v.S, s.S)
		case KindB:
			return bytes.HasPrefix(v.B, s.B)
		}
		return false
	case "contains":
		x := evalOperand(item, c.args[1])
		if v == nil || x == nil {
			return false
		}
		switch v.K {
		case KindS:
			return x.K == KindS && strings.Contains(v.S, x.S)
		case KindB:
			return x.K == KindB && bytes.Contains(v.B, x.B)
		case KindSS:
			return x.K == KindS && setHas(KindSS, v.SS, x.S)
		case KindNS:
			return x.K == KindN && setHas(KindNS, v.SS, x.S)
		case KindBS:
			if x.K != KindB {
				return false
			}
			for _, b := range v.BS {
				if bytes.Equal(b, x.B) {
					return true
				}
			}
		case KindL:
			for _, e := range v.L {
				if equal(e, x) {
					return true
				}
			}
		}
		return false
	}
	return false
}

// project returns the parts of item the paths name, keeping their
// structure (list elements picked by index are packed in order).
func project(item Item, paths []docPath) Item {
	if item == nil {
		return nil
	}
	out := Item{}
	for _, p := range paths {
		v := resolve(item, p)
		if v == nil {
			continue
		}
		projectInto(out, item, p)
	}
	return out
}

// projectInto copies the value at p from src into dst, creating the
// containers on the way.
func projectInto(dst, src Item, p docPath) {
	top := src[p[0].name]
	if len(p) == 1 {
		dst[p[0].name] = top.clone()
		return
	}
	d, ok := dst[p[0].name]
	if !ok {
		d = emptyLike(top)
		dst[p[0].name] = d
	}
	cur, srcCur := d, top
	for i, e := range p[1:] {
		last := i == len(p)-2
		var next *Value
		if e.isIdx {
			next = srcCur.L[e.index]
		} else {
			next = srcCur.M[e.name]
		}
		if last {
			if e.isIdx {
				cur.L = append(cur.L, next.clone())
			} else {
				cur.M[e.name] = next.clone()
			}
			return
		}
		var child *Value
		if e.isIdx {
			child = emptyLike(next)
			cur.L = append(cur.L, child)
		} else {
			c, ok := cur.M[e.name]
			if !ok {
				c = emptyLike(next)
				cur.M[e.name] = c
			}
			child = c
		}
		cur, srcCur = child, next
	}
}

func emptyLike(v *Value) *Value {
	if v.K == KindL {
		return &Value{K: KindL, L: []*Value{}}
	}
	return &Value{K: KindM, M: map[string]*Value{}}
}
