package dynamodb

import (
	"bytes"
	"slices"
	"sort"
)

func errBadOperandType() *Error {
	return validationf("An operand in the update expression has an incorrect data type")
}

func errMissingOperand() *Error {
	return validationf("The provided expression refers to an attribute that does not exist in the item")
}

func errBadPath() *Error {
	return validationf("The document path provided in the update expression is invalid for update")
}

// evalSet evaluates SET's right-hand side against the item as it was
// before the update.
func evalSet(item Item, o operand) (*Value, error) {
	switch o := o.(type) {
	case valueOp:
		return o.v, nil
	case pathOp:
		v := resolve(item, o.p)
		if v == nil {
			return nil, errMissingOperand()
		}
		return v, nil
	case ifNotExistsOp:
		if v := resolve(item, o.p); v != nil {
			return v, nil
		}
		return evalSet(item, o.def)
	case listAppendOp:
		a, err := evalSet(item, o.a)
		if err != nil {
			return nil, err
		}
		b, err := evalSet(item, o.b)
		if err != nil {
			return nil, err
		}
		if a.K != KindL || b.K != KindL {
			return nil, errBadOperandType()
		}
		l := make([]*Value, 0, len(a.L)+len(b.L))
		l = append(l, a.L...)
		l = append(l, b.L...)
		return &Value{K: KindL, L: l}, nil
	case arithOp:
		a, err := evalSet(item, o.a)
		if err != nil {
			return nil, err
		}
		b, err := evalSet(item, o.b)
		if err != nil {
			return nil, err
		}
		if a.K != KindN || b.K != KindN {
			return nil, errBadOperandType()
		}
		s, err := addNumbers(a.S, b.S, o.sub)
		if err != nil {
			return nil, err
		}
		return &Value{K: KindN, S: s}, nil
	}
	return nil, errBadOperandType()
}

// applyUpdate applies an UpdateExpression's actions to item (changed in
// place; the caller passes a copy).
func applyUpdate(item Item, actions []updateAction) error {
	// Every SET value is computed from the item before any change.
	vals := make([]*Value, len(actions))
	for i, a := range actions {
		if a.kind == "SET" {
			v, err := evalSet(item, a.val)
			if err != nil {
				return err
			}
			vals[i] = v.clone()
		}
	}
	for i, a := range actions {
		if a.kind == "SET" {
			if err := setPath(item, a.path, vals[i]); err != nil {
				return err
			}
		}
	}
	// REMOVE list elements from the highest index down, so earlier
	// removals do not shift later ones.
	var removes []docPath
	for _, a := range actions {
		if a.kind == "REMOVE" {
			removes = append(removes, a.path)
		}
	}
	sort.SliceStable(removes, func(i, j int) bool {
		a, b := removes[i], removes[j]
		if len(a) == len(b) && a[len(a)-1].isIdx && b[len(b)-1].isIdx {
			return a[len(a)-1].index > b[len(b)-1].index
		}
		return false
	})
	for _, p := range removes {
		removePath(item, p)
	}
	for _, a := range actions {
		switch a.kind {
		case "ADD":
			if err := addPath(item, a.path, a.val.(valueOp).v); err != nil {
				return err
			}
		case "DELETE":
			if err := deletePath(item, a.path, a.val.(valueOp).v); err != nil {
				return err
			}
		}
	}
	return nil
}

// parent finds the container holding the last element of p.
func parent(item Item, p docPath) (*Value, bool) {
	if len(p) == 1 {
		return nil, true
	}
	v := resolve(item, p[:len(p)-1])
	if v == nil {
		return nil, false
	}
	last := p[len(p)-1]
	if last.isIdx && v.K != KindL || !last.isIdx && v.K != KindM {
		return nil, false
	}
	return v, true
}

func setPath(item Item, p docPath, v *Value) error {
	if p[0].isIdx {
		return errBadPath()
	}
	if len(p) == 1 {
		item[p[0].name] = v
		return nil
	}
	c, ok := parent(item, p)
	if !ok {
		return errBadPath()
	}
	last := p[len(p)-1]
	if last.isIdx {
		if last.index >= len(c.L) {
			c.L = append(c.L, v)
		} else {
			c.L[last.index] = v
		}
		return nil
	}
	c.M[last.name] = v
	return nil
}

func removePath(item Item, p docPath) {
	if len(p) == 1 {
		delete(item, p[0].name)
		return
	}
	c, ok := parent(item, p)
	if !ok {
		return
	}
	last := p[len(p)-1]
	if last.isIdx {
		if last.index < len(c.L) {
			c.L = slices.Delete(c.L, last.index, last.index+1)
		}
		return
	}
	delete(c.M, last.name)
}

func addPath(item Item, p docPath, v *Value) error {
	switch v.K {
	case KindN, KindSS, KindNS, KindBS:
	default:
		return validationf("Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: %s", v.K)
	}
	cur := resolve(item, p)
	if cur == nil {
		return setPath(item, p, v.clone())
	}
	if cur.K != v.K {
		return errBadOperandType()
	}
	switch v.K {
	case KindN:
		s, err := addNumbers(cur.S, v.S, false)
		if err != nil {
			return err
		}
		return setPath(item, p, &Value{K: KindN, S: s})
	case KindSS, KindNS:
		n := cur.clone()
		for _, s := range v.SS {
			if !setHas(v.K, n.SS, s) {
				n.SS = append(n.SS, s)
			}
		}
		return setPath(item, p, n)
	case KindBS:
		n := cur.clone()
		for _, b := range v.BS {
			if !slices.ContainsFunc(n.BS, func(x []byte) bool { return bytes.Equal(x, b) }) {
				n.BS = append(n.BS, b)
			}
		}
		return setPath(item, p, n)
	}
	return nil
}

func deletePath(item Item, p docPath, v *Value) error {
	switch v.K {
	case KindSS, KindNS, KindBS:
	default:
		return validationf("Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: %s", v.K)
	}
	cur := resolve(item, p)
	if cur == nil {
		return nil
	}
	if cur.K != v.K {
		return errBadOperandType()
	}
	n := cur.clone()
	if v.K == KindBS {
		n.BS = slices.DeleteFunc(n.BS, func(x []byte) bool {
			return slices.ContainsFunc(v.BS, func(y []byte) bool { return bytes.Equal(x, y) })
		})
		if len(n.BS) == 0 {
			removePath(item, p)
			return nil
		}
	} else {
		n.SS = slices.DeleteFunc(n.SS, func(x string) bool { return setHas(v.K, v.SS, x) })
		if len(n.SS) == 0 {
			removePath(item, p)
			return nil
		}
	}
	return setPath(item, p, n)
}
