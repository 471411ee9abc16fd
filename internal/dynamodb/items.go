package dynamodb

import (
	"context"
	"encoding/json"
	"math"

	bolt "go.etcd.io/bbolt"
)

// itemInput is the request of PutItem, GetItem, UpdateItem and
// DeleteItem (and of a transaction's and a batch's items).
type itemInput struct {
	TableName                           string            `json:"TableName"`
	Item                                Item              `json:"Item"`
	Key                                 Item              `json:"Key"`
	ConditionExpression                 *string           `json:"ConditionExpression"`
	UpdateExpression                    *string           `json:"UpdateExpression"`
	ProjectionExpression                *string           `json:"ProjectionExpression"`
	ExpressionAttributeNames            map[string]string `json:"ExpressionAttributeNames"`
	ExpressionAttributeValues           map[string]*Value `json:"ExpressionAttributeValues"`
	ReturnValues                        string            `json:"ReturnValues"`
	ReturnValuesOnConditionCheckFailure string            `json:"ReturnValuesOnConditionCheckFailure"`
	ReturnConsumedCapacity              string            `json:"ReturnConsumedCapacity"`
	ReturnItemCollectionMetrics         string            `json:"ReturnItemCollectionMetrics"`
	ConsistentRead                      bool              `json:"ConsistentRead"`
	AttributesToGet                     []string          `json:"AttributesToGet"`

	// The legacy parameters, refused.
	Expected            json.RawMessage `json:"Expected"`
	AttributeUpdates    json.RawMessage `json:"AttributeUpdates"`
	ConditionalOperator json.RawMessage `json:"ConditionalOperator"`
}

func refuseLegacy(pairs ...any) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if raw, ok := pairs[i+1].(json.RawMessage); ok && len(raw) > 0 && string(raw) != "null" {
			return validationf("Nimbus does not support the legacy parameter %s: use the expression parameters (ConditionExpression, UpdateExpression, KeyConditionExpression, FilterExpression) instead", pairs[i])
		}
	}
	return nil
}

// checkEnv validates ExpressionAttributeNames and Values as DynamoDB does
// before any expression is parsed.
func checkEnv(names map[string]string, values map[string]*Value, hasExpr bool) (*exprEnv, error) {
	if names != nil && !hasExpr {
		return nil, validationf("ExpressionAttributeNames can only be specified when using expressions")
	}
	if values != nil && !hasExpr {
		return nil, validationf("ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null")
	}
	if names != nil && len(names) == 0 {
		return nil, validationf("ExpressionAttributeNames must not be empty")
	}
	if values != nil && len(values) == 0 {
		return nil, validationf("ExpressionAttributeValues must not be empty")
	}
	for k := range names {
		if len(k) < 2 || k[0] != '#' || !allIdent(k[1:]) {
			return nil, validationf("ExpressionAttributeNames contains invalid key: Syntax error; key: \"%s\"", k)
		}
	}
	for k, v := range values {
		if len(k) < 2 || k[0] != ':' || !allIdent(k[1:]) {
			return nil, validationf("ExpressionAttributeValues contains invalid key: Syntax error; key: \"%s\"", k)
		}
		if v == nil {
			return nil, validationf("ExpressionAttributeValues contains invalid value: Supplied AttributeValue is empty, must contain exactly one of the supported datatypes for key %s", k)
		}
		if err := checkValue(v, 1); err != nil {
			return nil, err
		}
	}
	return newEnv(names, values), nil
}

func allIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isIdentChar(s[i]) {
			return false
		}
	}
	return true
}

// consumed is a ConsumedCapacity for one table.
func consumed(mode, table string, units float64) any {
	if mode != "TOTAL" && mode != "INDEXES" {
		return nil
	}
	return map[string]any{"TableName": table, "CapacityUnits": units}
}

func writeUnits(size int) float64 { return math.Max(1, math.Ceil(float64(size)/1024)) }

func readUnits(size int, consistent bool) float64 {
	u := math.Max(1, math.Ceil(float64(size)/4096))
	if !consistent {
		u /= 2
	}
	return u
}

func withCapacity(out map[string]any, cc any) map[string]any {
	if cc != nil {
		out["ConsumedCapacity"] = cc
	}
	return out
}

// preparedWrite is a checked PutItem, UpdateItem, DeleteItem or
// ConditionCheck, ready to run against the item it names.
type preparedWrite struct {
	op        string // Put, Update, Delete, ConditionCheck
	table     string
	in        *itemInput
	cond      cond
	update    []updateAction
	key       []byte
	returnOld bool // ReturnValuesOnConditionCheckFailure ALL_OLD
}

// prepare checks a write request and parses its expressions.
func (s *Service) prepare(op string, in *itemInput) (*preparedWrite, error) {
	if err := refuseLegacy("Expected", in.Expected, "AttributeUpdates", in.AttributeUpdates, "ConditionalOperator", in.ConditionalOperator); err != nil {
		return nil, err
	}
	t, ok := s.e.tableRef(in.TableName)
	if !ok {
		return nil, errNotFound()
	}
	p := &preparedWrite{op: op, table: in.TableName, in: in}
	switch in.ReturnValuesOnConditionCheckFailure {
	case "", "NONE":
	case "ALL_OLD":
		p.returnOld = true
	default:
		return nil, validationf("1 validation error detected: Value '%s' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]", in.ReturnValuesOnConditionCheckFailure)
	}
	switch in.ReturnValues {
	case "", "NONE":
	case "ALL_OLD":
		if op == "ConditionCheck" {
			return nil, validationf("Return values set to invalid value")
		}
	case "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW":
		if op != "Update" {
			return nil, validationf("Return values set to invalid value")
		}
	default:
		return nil, validationf("Return values set to invalid value")
	}
	env, err := checkEnv(in.ExpressionAttributeNames, in.ExpressionAttributeValues, in.ConditionExpression != nil || in.UpdateExpression != nil)
	if err != nil {
		return nil, err
	}
	if env == nil {
		env = newEnv(nil, nil)
	}
	sc := t.schema()
	switch op {
	case "Put":
		if in.Item == nil {
			return nil, validationf("1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must not be null")
		}
		if err := checkItem(in.Item); err != nil {
			return nil, err
		}
		if p.key, err = itemKey(sc, in.Item); err != nil {
			return nil, err
		}
		if itemSize(in.Item) > maxItemSize {
			return nil, validationf("Item size has exceeded the maximum allowed size")
		}
		for _, ix := range t.indexes() {
			if _, err := indexKey(t, ix, in.Item, p.key); err != nil {
				return nil, err
			}
		}
	default:
		if in.Key == nil {
			return nil, validationf("1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null")
		}
		if p.key, err = keyParam(sc, in.Key); err != nil {
			return nil, err
		}
	}
	if in.ConditionExpression != nil {
		if p.cond, err = parseCondition("ConditionExpression", *in.ConditionExpression, env); err != nil {
			return nil, err
		}
	} else if op == "ConditionCheck" {
		return nil, validationf("1 validation error detected: Value null at 'conditionExpression' failed to satisfy constraint: Member must not be null")
	}
	if op == "Update" {
		if in.UpdateExpression == nil {
			if in.ReturnValues != "" && in.ReturnValues != "NONE" {
				return nil, validationf("Nimbus does not support UpdateItem without an UpdateExpression")
			}
		} else {
			if p.update, err = parseUpdate(*in.UpdateExpression, env); err != nil {
				return nil, err
			}
			for _, a := range p.update {
				if sc.has(a.path[0].name) {
					return nil, validationf("One or more parameter values were invalid: Cannot update attribute %s. This attribute is part of the key", a.path[0].name)
				}
			}
		}
	}
	if err := env.checkUnused(); err != nil {
		return nil, err
	}
	return p, nil
}

// run applies a prepared write in a transaction: it reads the current
// item, checks the condition, and computes and stores the new item.
// It returns the old and new items.
func (p *preparedWrite) run(w *wtx) (old, updated Item, err error) {
	t, err := w.table(p.table)
	if err != nil {
		return nil, nil, err
	}
	old, err = w.get(t, p.key)
	if err != nil {
		return nil, nil, err
	}
	if p.cond != nil && !evalCond(old, p.cond) {
		var it Item
		if p.returnOld {
			it = old
		}
		return old, nil, errConditionFailed(it)
	}
	switch p.op {
	case "ConditionCheck":
		return old, old, nil
	case "Put":
		updated = p.in.Item
	case "Delete":
		if old == nil {
			return nil, nil, nil
		}
		return old, nil, w.apply(t, change{key: p.key, old: old})
	case "Update":
		updated = cloneItem(old)
		if updated == nil {
			updated = cloneItem(p.in.Key)
		}
		if err := applyUpdate(updated, p.update); err != nil {
			return old, nil, err
		}
		if err := checkItem(updated); err != nil {
			return old, nil, err
		}
		if itemSize(updated) > maxItemSize {
			return old, nil, validationf("Item size to update has exceeded the maximum allowed size")
		}
		for _, ix := range t.indexes() {
			if _, err := indexKey(t, ix, updated, p.key); err != nil {
				return old, nil, err
			}
		}
	}
	if old != nil && itemsEqual(old, updated) {
		return old, updated, nil
	}
	return old, updated, w.apply(t, change{key: p.key, old: old, new: updated})
}

func itemsEqual(a, b Item) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !equal(v, b[k]) {
			return false
		}
	}
	return true
}

// writeOne runs a single-item write and shapes its answer.
func (s *Service) writeOne(ctx context.Context, op string, in *itemInput) (any, error) {
	p, err := s.prepare(op, in)
	if err != nil {
		return nil, err
	}
	var old, updated Item
	err = s.e.write(ctx, func(w *wtx) error {
		var err error
		old, updated, err = p.run(w)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	size := itemSize(updated)
	if op == "Delete" {
		size = itemSize(old)
	}
	switch in.ReturnValues {
	case "ALL_OLD":
		if old != nil {
			out["Attributes"] = old
		}
	case "ALL_NEW":
		out["Attributes"] = updated
	case "UPDATED_OLD", "UPDATED_NEW":
		src := old
		if in.ReturnValues == "UPDATED_NEW" {
			src = updated
		}
		var paths []docPath
		for _, a := range p.update {
			paths = append(paths, a.path)
		}
		if a := project(src, paths); len(a) > 0 {
			out["Attributes"] = a
		}
	}
	return withCapacity(out, consumed(in.ReturnConsumedCapacity, in.TableName, writeUnits(size))), nil
}

// getItem answers a GetItem. raw: the caller takes a rawAnswer, which a
// request for the whole item without capacity gets.
func (s *Service) getItem(in *itemInput, raw bool) (any, error) {
	t, ok := s.e.tableRef(in.TableName)
	if !ok {
		return nil, errNotFound()
	}
	if in.Key == nil {
		return nil, validationf("1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null")
	}
	proj, err := projectionOf(in.ProjectionExpression, in.AttributesToGet, in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	if err != nil {
		return nil, err
	}
	key, err := keyParam(t.schema(), in.Key)
	if err != nil {
		return nil, err
	}
	cc := in.ReturnConsumedCapacity == "TOTAL" || in.ReturnConsumedCapacity == "INDEXES"
	if raw && proj == nil && !cc {
		// The whole item, no capacity: the answer is the stored JSON
		// (the wire's own AttributeValues), never decoded.
		var a rawAnswer
		err = s.e.view(func(tx *bolt.Tx) error {
			b := tx.Bucket(itemsBucket(t.TableName))
			if b == nil {
				return errTableNotFound(t.TableName)
			}
			if v := b.Get(key); v != nil {
				a = make(rawAnswer, 0, len(v)+len(`{"Item":}`)+1)
				a = append(append(append(a, `{"Item":`...), v...), "}\n"...)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if a == nil {
			a = rawAnswer("{}\n")
		}
		return a, nil
	}
	var it Item
	err = s.e.view(func(tx *bolt.Tx) error {
		var err error
		it, err = getItem(tx, t.TableName, key)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if it != nil {
		if proj != nil {
			it = project(it, proj)
		}
		out["Item"] = it
	}
	return withCapacity(out, consumed(in.ReturnConsumedCapacity, in.TableName, readUnits(itemSize(it), in.ConsistentRead))), nil
}

// projectionOf parses a read's ProjectionExpression (or legacy
// AttributesToGet); nil means every attribute.
func projectionOf(expr *string, toGet []string, names map[string]string, values map[string]*Value) ([]docPath, error) {
	if values != nil {
		return nil, validationf("ExpressionAttributeValues can only be specified when using expressions: ProjectionExpression and/or FilterExpression are not specified")
	}
	env, err := checkEnv(names, nil, expr != nil)
	if err != nil {
		if expr == nil && names != nil {
			return nil, validationf("ExpressionAttributeNames can only be specified when using expressions")
		}
		return nil, err
	}
	if expr != nil && len(toGet) > 0 {
		return nil, validationf("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}")
	}
	if len(toGet) > 0 {
		var out []docPath
		for _, n := range toGet {
			out = append(out, docPath{{name: n}})
		}
		return out, nil
	}
	if expr == nil {
		return nil, nil
	}
	paths, err := parseProjection(*expr, env)
	if err != nil {
		return nil, err
	}
	if err := env.checkUnused(); err != nil {
		return nil, err
	}
	return paths, nil
}
