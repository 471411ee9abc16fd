package dynamodb

// Keys are stored as the concatenation of their components' encodings,
// each order-preserving and prefix-free: strings and binaries by their
// bytes (DynamoDB orders both bytewise, strings by UTF-8 bytes) with 0x00
// escaped as 00 FF and a 00 01 terminator; numbers numerically
// (appendNumberKey). A table's key is hash || range; an index's is
// index hash || index range || the table's key, so Query reads one
// contiguous, ordered range of a bucket.

const (
	maxHashKeySize  = 2048
	maxRangeKeySize = 1024
)

func appendComponent(dst []byte, v *Value) []byte {
	var b []byte
	switch v.K {
	case KindN:
		return appendNumberKey(dst, v.S)
	case KindS:
		b = []byte(v.S)
	case KindB:
		b = v.B
	}
	for _, c := range b {
		if c == 0 {
			dst = append(dst, 0, 0xFF)
		} else {
			dst = append(dst, c)
		}
	}
	return append(dst, 0, 1)
}

// checkKeyValue checks one key attribute of an item being written.
func checkKeyValue(name string, want Kind, v *Value, isHash bool) error {
	if v == nil {
		return validationf("One or more parameter values were invalid: Missing the key %s in the item", name)
	}
	if v.K != want {
		return validationf("One or more parameter values were invalid: Type mismatch for key %s expected: %s actual: %s", name, want, v.K)
	}
	if (v.K == KindS && v.S == "") || (v.K == KindB && len(v.B) == 0) {
		return validationf("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty %s value. Key: %s", emptyKind(v.K), name)
	}
	n := valueSize(v)
	if isHash && n > maxHashKeySize {
		return validationf("One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes")
	}
	if !isHash && n > maxRangeKeySize {
		return validationf("One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes")
	}
	return nil
}

func emptyKind(k Kind) string {
	if k == KindB {
		return "binary"
	}
	return "string"
}

// itemKey is the stored key of an item, checked against the schema.
func itemKey(s schema, it Item) ([]byte, error) {
	if err := checkKeyValue(s.hash, s.hashType, it[s.hash], true); err != nil {
		return nil, err
	}
	k := appendComponent(nil, it[s.hash])
	if s.rng != "" {
		if err := checkKeyValue(s.rng, s.rngType, it[s.rng], false); err != nil {
			return nil, err
		}
		k = appendComponent(k, it[s.rng])
	}
	return k, nil
}

// keyParam reads a request's Key: exactly the schema's attributes.
func keyParam(s schema, key Item) ([]byte, error) {
	want := 1
	if s.rng != "" {
		want = 2
	}
	if len(key) != want {
		return nil, errKeySchema()
	}
	for n, v := range key {
		if !s.has(n) {
			return nil, errKeySchema()
		}
		want := s.hashType
		if n == s.rng {
			want = s.rngType
		}
		if v.K != want {
			return nil, errKeySchema()
		}
	}
	return itemKey(s, key)
}

// keyItem is the key attributes of an item.
func keyItem(s schema, it Item) Item {
	out := Item{s.hash: it[s.hash]}
	if s.rng != "" {
		out[s.rng] = it[s.rng]
	}
	return out
}

// indexKey is an item's key in an index, or nil when the item lacks the
// index's key attributes (indexes are sparse). A key attribute of the
// wrong type or empty is an error, as DynamoDB reports it.
func indexKey(t *tableDesc, ix *indexDesc, it Item, tableKey []byte) ([]byte, error) {
	s := t.schemaOf(ix.KeySchema)
	hv := it[s.hash]
	var rv *Value
	if s.rng != "" {
		rv = it[s.rng]
	}
	for _, kv := range []struct {
		name string
		want Kind
		v    *Value
	}{{s.hash, s.hashType, hv}, {s.rng, s.rngType, rv}} {
		if kv.v == nil {
			continue
		}
		if kv.v.K != kv.want {
			return nil, validationf("One or more parameter values were invalid: Type mismatch for Index Key %s Expected: %s Actual: %s IndexName: %s", kv.name, kv.want, kv.v.K, ix.IndexName)
		}
		if (kv.v.K == KindS && kv.v.S == "") || (kv.v.K == KindB && len(kv.v.B) == 0) {
			return nil, validationf("One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty %s value. IndexName: %s, IndexKey: %s", emptyKind(kv.v.K), ix.IndexName, kv.name)
		}
	}
	if hv == nil || (s.rng != "" && rv == nil) {
		return nil, nil // sparse: not in the index
	}
	k := appendComponent(nil, hv)
	if rv != nil {
		k = appendComponent(k, rv)
	}
	return append(k, tableKey...), nil
}

// projectIndex is what an index holds of an item: the table's and the
// index's keys, plus the projected attributes.
func projectIndex(t *tableDesc, ix *indexDesc, it Item) Item {
	if ix.Projection.ProjectionType == "ALL" {
		return it
	}
	out := Item{}
	for _, k := range t.KeySchema {
		out[k.AttributeName] = it[k.AttributeName]
	}
	for _, k := range ix.KeySchema {
		out[k.AttributeName] = it[k.AttributeName]
	}
	for _, n := range ix.Projection.NonKeyAttributes {
		if v, ok := it[n]; ok {
			out[n] = v
		}
	}
	return out
}
