package dynamodb

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func fuzzEnv() *exprEnv {
	return newEnv(map[string]string{"#a": "a", "#b": "b.c", "#s": "status"},
		map[string]*Value{":n": {K: KindN, S: "1"}, ":s": {K: KindS, S: "x"}, ":l": {K: KindL, L: []*Value{{K: KindS, S: "y"}}},
			":ss": {K: KindSS, SS: []string{"p"}}, ":t": {K: KindS, S: "S"}})
}

func fuzzItem() Item {
	return Item{"a": {K: KindN, S: "5"}, "b.c": {K: KindS, S: "xyz"},
		"m":  {K: KindM, M: map[string]*Value{"l": {K: KindL, L: []*Value{{K: KindN, S: "1"}}}}},
		"ss": {K: KindSS, SS: []string{"p", "q"}}}
}

// FuzzCondition: any condition text parses or is refused with a
// ValidationException, and a parsed one evaluates without panicking.
func FuzzCondition(f *testing.F) {
	for _, s := range []string{"a = :n", "#a < :n AND NOT (b.c > :s OR m.l[0] IN (:n, :s))", "attribute_exists(#s)",
		"size(m.l) BETWEEN :n AND :n", "begins_with(#b, :s) OR contains(ss, :s)", "attribute_type(a, :t)",
		"((((a = :n))))", "NOT NOT a <> :n", "a[1] = :n", "foo(a)", "a = = :n", ":n = a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCondition("ConditionExpression", s, fuzzEnv())
		if err != nil {
			if e := (*Error)(nil); !errors.As(err, &e) || e.Code != "ValidationException" {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		evalCond(fuzzItem(), c)
		evalCond(nil, c)
	})
}

// FuzzUpdate: any update text parses or is refused, and a parsed one
// applies or fails with a ValidationException.
func FuzzUpdate(f *testing.F) {
	for _, s := range []string{"SET a = a + :n, m.l[5] = :s REMOVE #b ADD ss :ss", "SET x = list_append(if_not_exists(x, :l), :l)",
		"DELETE ss :ss", "REMOVE m.l[0], m.l[1]", "SET a = :n - a", "set #a = :n", "SET m.z.y = :n", "ADD a :n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		acts, err := parseUpdate(s, fuzzEnv())
		if err != nil {
			if e := (*Error)(nil); !errors.As(err, &e) || e.Code != "ValidationException" {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if err := applyUpdate(fuzzItem(), acts); err != nil {
			if e := (*Error)(nil); !errors.As(err, &e) || e.Code != "ValidationException" {
				t.Fatalf("%q: %v", s, err)
			}
		}
	})
}

// FuzzProjection and key conditions.
func FuzzProjection(f *testing.F) {
	for _, s := range []string{"a, #b, m.l[0]", "m", "a, a", "m.l[0].x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseProjection(s, fuzzEnv())
		if err != nil {
			return
		}
		project(fuzzItem(), p)
		if c, err := parseCondition("KeyConditionExpression", s, fuzzEnv()); err == nil {
			_, _ = keyCondition(c, schema{hash: "a", hashType: KindN, rng: "b.c", rngType: KindS})
		}
	})
}

// FuzzAttributeValue: the decoder accepts or refuses any JSON, and what
// it accepts encodes and decodes to an equal value.
func FuzzAttributeValue(f *testing.F) {
	for _, s := range []string{`{"S":"x"}`, `{"N":"-1.5e10"}`, `{"M":{"a":{"L":[{"NULL":true},{"BOOL":false}]}}}`,
		`{"SS":["a","a"]}`, `{"NS":["1","01"]}`, `{"B":"AAE="}`, `{"BS":["AA=="]}`, `{"N":"1e126"}`, `{"S":"x","N":"1"}`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v Value
		if err := json.Unmarshal(b, &v); err != nil {
			return
		}
		enc, err := json.Marshal(&v)
		if err != nil {
			t.Fatal(err)
		}
		var w Value
		if err := json.Unmarshal(enc, &w); err != nil {
			t.Fatalf("re-decode %s: %v", enc, err)
		}
		if !equal(&v, &w) {
			t.Fatalf("%s != %s", b, enc)
		}
		_ = valueSize(&v)
		if v.K == KindN || v.K == KindS || v.K == KindB {
			_ = appendComponent(nil, &v)
		}
	})
}

// FuzzPartiQL: any statement parses or is refused with a
// ValidationException; a parsed one renders to expressions that the
// expression grammar parses or refuses the same way, never panicking.
func FuzzPartiQL(f *testing.F) {
	for _, s := range []string{
		`SELECT OrderID, Total FROM "Orders" WHERE OrderID IN [1, 2, 3] ORDER BY OrderID DESC`,
		`SELECT a.b[0]."c" FROM t WHERE pk = ? AND (x BETWEEN 1 AND 2 OR begins_with(y, 'z')) AND z IS NOT MISSING`,
		`INSERT INTO t VALUE {'k': ?, 'm': {'l': [1, 'two', <<'a', 'b'>>, TRUE, NULL]}}`,
		`UPDATE t SET a = a + 1, b = list_append(b, [2]) SET s = set_add(s, <<1>>) REMOVE c[3] WHERE k = 'x' RETURNING ALL NEW *`,
		`DELETE FROM t WHERE k = 1 AND NOT size(x) > 3 RETURNING ALL OLD *`,
		`EXISTS(SELECT * FROM t WHERE k = 'a' AND v IS MISSING)`,
		`select * from t where a != -1.5e3 -- comment`, `SELECT`, `'`, `"`, `<<>>`, `SELECT * FROM t WHERE ((((a = 1))))`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		isValidation := func(err error) bool {
			e := (*Error)(nil)
			return errors.As(err, &e) && e.Code == "ValidationException"
		}
		st, err := parsePartiQL(s)
		if err != nil {
			if !isValidation(err) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		params := make([]*Value, st.params)
		for i := range params {
			params[i] = &Value{K: KindS, S: "p"}
		}
		e := newPQEnv(params)
		var exprs []string
		if st.where != nil {
			c, err := e.cond(st.where)
			if err != nil && !isValidation(err) {
				t.Fatalf("%q: render: %v", s, err)
			}
			exprs = append(exprs, c)
		}
		if st.kind == "UPDATE" {
			if _, err := e.updateExpr(st); err != nil && !isValidation(err) {
				t.Fatalf("%q: render update: %v", s, err)
			}
		}
		if st.value != nil {
			if _, err := e.eval(st.value); err != nil && !isValidation(err) {
				t.Fatalf("%q: value: %v", s, err)
			}
		}
		for _, x := range exprs {
			if x == "" {
				continue
			}
			c, err := parseCondition("ConditionExpression", x, newEnv(e.names, e.values))
			if err != nil {
				if !isValidation(err) {
					t.Fatalf("%q renders %q: %v", s, x, err)
				}
				continue
			}
			evalCond(fuzzItem(), c)
		}
	})
}

// FuzzFastValue: what the fast AttributeValue decoder accepts, the
// general one accepts as the same value (the fast one declines the rest,
// so the errors are always the general decoder's).
func FuzzFastValue(f *testing.F) {
	for _, s := range []string{`{"S":"x"}`, ` { "N" : "-001.50" } `, `{"M":{"a":{"L":[{"NULL":true},{"BOOL":false}]},"a":{"S":"dup"}}}`,
		`{"SS":["a","b"]}`, `{"SS":["a","a"]}`, `{"NS":["1","1.0"]}`, `{"NS":["1","2"]}`, `{"B":"AAE="}`, `{"B":""}`, `{"BS":["AA==","AQ=="]}`,
		`{"BS":["AA==","AA=="]}`, `{"S":"é\u00e9"}`, "{\"S\":\"\xff\"}", `{"S":"x","N":"1"}`, `{}`, `{"M":{}}`, `{"L":[]}`, `{"SS":[]}`,
		`{"NULL":false}`, `{"s":"x"}`, `{"S":null}`, `{"M":{"a":null}}`, `{"BOOL":true}`, `{"N":"1e126"}`, `{"S":"a"} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := fastValue(b)
		if !ok {
			return
		}
		var general Value
		if err := general.unmarshalGeneral(b); err != nil {
			t.Fatalf("%q: fast decoded %+v, general refused: %v", b, fast, err)
		}
		if !reflect.DeepEqual(fast, general) {
			t.Fatalf("%q: fast %+v, general %+v", b, fast, general)
		}
	})
}

// TestFastValueTakesCommonShapes: the shapes SDKs send take the fast
// decoder (a regression here costs PutItem's CPU, not correctness).
func TestFastValueTakesCommonShapes(t *testing.T) {
	for _, s := range []string{`{"S":"order-1"}`, `{"N":"12.5"}`, `{"B":"AAE="}`, `{"BOOL":true}`, `{"NULL":true}`,
		`{"M":{"a":{"L":[{"S":"x"},{"N":"1"}]}}}`, `{"SS":["a","b"]}`, `{"NS":["1","2"]}`, `{"BS":["AA=="]}`, `{"S":"ünïcode"}`} {
		if _, ok := fastValue([]byte(s)); !ok {
			t.Errorf("%s declined", s)
		}
	}
}

// FuzzLogEntry: any bytes are refused or decoded as a change log entry
// without a panic, and a decoded entry encodes back to the same bytes.
func FuzzLogEntry(f *testing.F) {
	f.Add(encodeEntry(entryOps, "node-a", 7, []logOp{{kind: opPut, bucket: []byte("items\x00t"), key: []byte("k"), val: []byte(`{"id":{"S":"x"}}`)},
		{kind: opDeleteBucket, bucket: []byte("index\x00t\x00i")}}))
	f.Add(encodeEntry(entryBarrier, "b", 1, nil))
	f.Add([]byte{1, 0, 200, 200, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, node, token, ops, err := decodeEntry(b)
		if err != nil {
			return
		}
		if again := encodeEntry(kind, node, token, ops); !bytes.Equal(again, b) {
			// Varints have one shortest form; a longer one decodes too.
			if _, _, _, ops2, err := decodeEntry(again); err != nil || len(ops2) != len(ops) {
				t.Fatalf("entry %x re-encodes as %x", b, again)
			}
		}
	})
}

// FuzzFastItemInput: what the fast item-request decoder accepts,
// encoding/json decodes to the same request (the fast one declines the
// rest, so the errors are always encoding/json's).
func FuzzFastItemInput(f *testing.F) {
	for _, s := range []string{`{"TableName":"t","Key":{"pk":{"S":"a"}}}`,
		`{"TableName":"t","Item":{"pk":{"S":"a"},"n":{"N":"1.50"},"m":{"M":{"x":{"L":[{"BOOL":true}]}}}},"ConditionExpression":"attribute_not_exists(pk)"}`,
		`{"TableName":"t","Key":{"pk":{"S":"a"}},"UpdateExpression":"SET #a = :v","ExpressionAttributeNames":{"#a":"a"},"ExpressionAttributeValues":{":v":{"N":"1"}},"ReturnValues":"ALL_NEW"}`,
		`{"TableName":"t","Key":{"pk":{"S":"a"}},"ProjectionExpression":"a, b","ConsistentRead":true,"ReturnConsumedCapacity":"TOTAL"}`,
		`{"TableName":"a","tablename":"b"}`, `{"TableName":"a","TableName":"b"}`, `{"Key":null}`, `{"Key":{"a":null}}`, `{}`, ` {} `,
		`{"Item":{}}`, `{"Item":{"a":{"S":"x"},"a":{"N":"1"}}}`, `{"TableName":"t\u0041"}`, `{"ConsistentRead":null}`, `{"TableName":"t"} x`,
		`{"ExpressionAttributeNames":{}}`, `{"ReturnValuesOnConditionCheckFailure":"ALL_OLD","ReturnItemCollectionMetrics":"SIZE"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast itemInput
		if !fastItemInput(b, &fast) {
			if !reflect.DeepEqual(fast, itemInput{}) {
				t.Fatalf("%q: declined but left %+v", b, fast)
			}
			return
		}
		var general itemInput
		if err := decode(b, &general); err != nil {
			t.Fatalf("%q: fast decoded %+v, encoding/json refused: %v", b, fast, err)
		}
		if !reflect.DeepEqual(fast, general) {
			t.Fatalf("%q: fast %+v, encoding/json %+v", b, fast, general)
		}
	})
}
