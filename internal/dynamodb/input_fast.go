package dynamodb

// The fast decoder of item requests (PutItem, GetItem, UpdateItem,
// DeleteItem). encoding/json reads such a body in two passes (a validity
// scan, then a reflective decode that hands each AttributeValue's bytes
// to Value.UnmarshalJSON); fastItemInput reads the members clients send
// in one pass, with fastValue for the AttributeValues. It takes member
// names only as the API spells them, each at most once, and strings
// without escapes; anything else (another member, a name in other case,
// a repeated member, null, every value fastValue declines) it declines,
// and decode reads the body, so answers and errors are encoding/json's.
// FuzzFastItemInput holds the two to the same results.

// fastItemInput decodes b into in; false: declined (in is then zero).
func fastItemInput(b []byte, in *itemInput) bool {
	if !fastItemMembers(b, in) {
		*in = itemInput{}
		return false
	}
	return true
}

func fastItemMembers(b []byte, in *itemInput) bool {
	p := fastParser{b: b}
	if !p.byte('{') {
		return false
	}
	if !p.byte('}') {
		var seen uint32
		for {
			name, ok := p.str()
			if !ok || !p.byte(':') {
				return false
			}
			var bit uint32
			switch name {
			case "TableName":
				bit = 1 << 0
				in.TableName, ok = p.str()
			case "Item":
				bit = 1 << 1
				in.Item, ok = p.attrMap()
			case "Key":
				bit = 1 << 2
				in.Key, ok = p.attrMap()
			case "ConditionExpression":
				bit = 1 << 3
				in.ConditionExpression, ok = p.strPtr()
			case "UpdateExpression":
				bit = 1 << 4
				in.UpdateExpression, ok = p.strPtr()
			case "ProjectionExpression":
				bit = 1 << 5
				in.ProjectionExpression, ok = p.strPtr()
			case "ExpressionAttributeNames":
				bit = 1 << 6
				in.ExpressionAttributeNames, ok = p.strMap()
			case "ExpressionAttributeValues":
				bit = 1 << 7
				in.ExpressionAttributeValues, ok = p.attrMap()
			case "ReturnValues":
				bit = 1 << 8
				in.ReturnValues, ok = p.str()
			case "ReturnValuesOnConditionCheckFailure":
				bit = 1 << 9
				in.ReturnValuesOnConditionCheckFailure, ok = p.str()
			case "ReturnConsumedCapacity":
				bit = 1 << 10
				in.ReturnConsumedCapacity, ok = p.str()
			case "ReturnItemCollectionMetrics":
				bit = 1 << 11
				in.ReturnItemCollectionMetrics, ok = p.str()
			case "ConsistentRead":
				bit = 1 << 12
				in.ConsistentRead, ok = p.literal()
			default:
				return false
			}
			if !ok || seen&bit != 0 {
				return false
			}
			seen |= bit
			if p.byte('}') {
				break
			}
			if !p.byte(',') {
				return false
			}
		}
	}
	p.ws()
	return p.i == len(p.b)
}

func (p *fastParser) strPtr() (*string, bool) {
	s, ok := p.str()
	if !ok {
		return nil, false
	}
	return &s, true
}

// attrMap reads an object of AttributeValues (an item, a key, the
// expression values); a repeated name keeps the last, as encoding/json.
func (p *fastParser) attrMap() (map[string]*Value, bool) {
	if !p.byte('{') {
		return nil, false
	}
	out := map[string]*Value{}
	if p.byte('}') {
		return out, true
	}
	for {
		k, ok := p.str()
		if !ok || !p.byte(':') {
			return nil, false
		}
		v := new(Value)
		if !p.value(v, 0) {
			return nil, false
		}
		out[k] = v
		if p.byte('}') {
			return out, true
		}
		if !p.byte(',') {
			return nil, false
		}
	}
}

// strMap reads an object of strings (ExpressionAttributeNames).
func (p *fastParser) strMap() (map[string]string, bool) {
	if !p.byte('{') {
		return nil, false
	}
	out := map[string]string{}
	if p.byte('}') {
		return out, true
	}
	for {
		k, ok := p.str()
		if !ok || !p.byte(':') {
			return nil, false
		}
		v, ok := p.str()
		if !ok {
			return nil, false
		}
		out[k] = v
		if p.byte('}') {
			return out, true
		}
		if !p.byte(',') {
			return nil, false
		}
	}
}
