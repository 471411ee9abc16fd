package dynamodb

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DynamoDB's batch and transaction limits.
const (
	maxBatchGet      = 100
	maxBatchWrite    = 25
	maxTransactItems = 100
	maxTransactBytes = 4 << 20
	maxBatchResponse = 16 << 20
	// tokenWindow is how long a ClientRequestToken is remembered.
	tokenWindow = 10 * time.Minute
)

type keysAndAttrs struct {
	Keys                     []Item            `json:"Keys"`
	ProjectionExpression     *string           `json:"ProjectionExpression"`
	ExpressionAttributeNames map[string]string `json:"ExpressionAttributeNames"`
	AttributesToGet          []string          `json:"AttributesToGet"`
	ConsistentRead           bool              `json:"ConsistentRead"`
}

type batchGetInput struct {
	RequestItems           map[string]*keysAndAttrs `json:"RequestItems"`
	ReturnConsumedCapacity string                   `json:"ReturnConsumedCapacity"`
}

func (s *Service) batchGet(in *batchGetInput) (any, error) {
	if len(in.RequestItems) == 0 {
		return nil, validationf("1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	total := 0
	type plan struct {
		t    *tableDesc
		proj []docPath
		keys [][]byte
		ka   *keysAndAttrs
	}
	var plans []*plan
	names := make([]string, 0, len(in.RequestItems))
	for n := range in.RequestItems {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		ka := in.RequestItems[name]
		if err := checkTableName("requestItems.key", name); err != nil {
			return nil, err
		}
		if ka == nil || len(ka.Keys) == 0 {
			return nil, validationf("1 validation error detected: Value at 'requestItems.%s.member.keys' failed to satisfy constraint: Member must have length greater than or equal to 1", name)
		}
		total += len(ka.Keys)
		if total > maxBatchGet {
			return nil, validationf("Too many items requested for the BatchGetItem call")
		}
		t, ok := s.e.table(name)
		if !ok {
			return nil, errNotFound()
		}
		proj, err := projectionOf(ka.ProjectionExpression, ka.AttributesToGet, ka.ExpressionAttributeNames, nil)
		if err != nil {
			return nil, err
		}
		p := &plan{t: t, proj: proj, ka: ka}
		seen := map[string]bool{}
		for _, k := range ka.Keys {
			kb, err := keyParam(t.schema(), k)
			if err != nil {
				return nil, err
			}
			if seen[string(kb)] {
				return nil, validationf("Provided list of item keys contains duplicates")
			}
			seen[string(kb)] = true
			p.keys = append(p.keys, kb)
		}
		plans = append(plans, p)
	}
	responses := map[string][]Item{}
	unprocessed := map[string]*keysAndAttrs{}
	size := 0
	var caps []any
	err := s.e.view(func(tx *bolt.Tx) error {
		for _, p := range plans {
			got := []Item{}
			read := 0
			for i, k := range p.keys {
				if size >= maxBatchResponse {
					u := *p.ka
					u.Keys = p.ka.Keys[i:]
					unprocessed[p.t.TableName] = &u
					break
				}
				it, err := getItem(tx, p.t.TableName, k)
				if err != nil {
					return err
				}
				if it == nil {
					continue
				}
				n := itemSize(it)
				size += n
				read += n
				if p.proj != nil {
					it = project(it, p.proj)
				}
				got = append(got, it)
			}
			responses[p.t.TableName] = got
			if cc := consumed(in.ReturnConsumedCapacity, p.t.TableName, readUnits(read, p.ka.ConsistentRead)*float64(max(1, len(p.keys)))); cc != nil {
				caps = append(caps, cc)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]any{"Responses": responses, "UnprocessedKeys": unprocessed}
	if caps != nil {
		out["ConsumedCapacity"] = caps
	}
	return out, nil
}

type writeRequest struct {
	PutRequest *struct {
		Item Item `json:"Item"`
	} `json:"PutRequest"`
	DeleteRequest *struct {
		Key Item `json:"Key"`
	} `json:"DeleteRequest"`
}

type batchWriteInput struct {
	RequestItems                map[string][]writeRequest `json:"RequestItems"`
	ReturnConsumedCapacity      string                    `json:"ReturnConsumedCapacity"`
	ReturnItemCollectionMetrics string                    `json:"ReturnItemCollectionMetrics"`
}

func (s *Service) batchWrite(ctx context.Context, in *batchWriteInput) (any, error) {
	if len(in.RequestItems) == 0 {
		return nil, validationf("1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	total := 0
	var writes []*preparedWrite
	units := map[string]float64{}
	for name, reqs := range in.RequestItems {
		if err := checkTableName("requestItems.key", name); err != nil {
			return nil, err
		}
		total += len(reqs)
		if len(reqs) == 0 || total > maxBatchWrite {
			return nil, validationf("1 validation error detected: Value '{%s=[...]}' at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]", name)
		}
		seen := map[string]bool{}
		for _, r := range reqs {
			var p *preparedWrite
			var err error
			switch {
			case r.PutRequest != nil && r.DeleteRequest == nil:
				p, err = s.prepare("Put", &itemInput{TableName: name, Item: r.PutRequest.Item})
				if err == nil {
					units[name] += writeUnits(itemSize(r.PutRequest.Item))
				}
			case r.DeleteRequest != nil && r.PutRequest == nil:
				p, err = s.prepare("Delete", &itemInput{TableName: name, Key: r.DeleteRequest.Key})
				units[name]++
			default:
				return nil, validationf("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
			}
			if err != nil {
				return nil, err
			}
			if seen[string(p.key)] {
				return nil, validationf("Provided list of item keys contains duplicates")
			}
			seen[string(p.key)] = true
			writes = append(writes, p)
		}
	}
	err := s.e.write(ctx, func(w *wtx) error {
		for _, p := range writes {
			if _, _, err := p.run(w); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]any{"UnprocessedItems": map[string]any{}}
	if in.ReturnConsumedCapacity == "TOTAL" || in.ReturnConsumedCapacity == "INDEXES" {
		var caps []any
		for n, u := range units {
			caps = append(caps, consumed(in.ReturnConsumedCapacity, n, u))
		}
		out["ConsumedCapacity"] = caps
	}
	return out, nil
}

type transactItem struct {
	ConditionCheck *itemInput `json:"ConditionCheck"`
	Put            *itemInput `json:"Put"`
	Delete         *itemInput `json:"Delete"`
	Update         *itemInput `json:"Update"`
}

type transactWriteInput struct {
	TransactItems               []transactItem `json:"TransactItems"`
	ClientRequestToken          string         `json:"ClientRequestToken"`
	ReturnConsumedCapacity      string         `json:"ReturnConsumedCapacity"`
	ReturnItemCollectionMetrics string         `json:"ReturnItemCollectionMetrics"`
}

func errTransactionCanceled(reasons []CancellationReason) *Error {
	codes := make([]string, len(reasons))
	for i, r := range reasons {
		codes[i] = r.Code
	}
	e := newErr(http.StatusBadRequest, "TransactionCanceledException",
		"Transaction cancelled, please refer cancellation reasons for specific reasons [%s]", strings.Join(codes, ", "))
	e.Reasons = reasons
	return e
}

func (s *Service) transactWrite(ctx context.Context, in *transactWriteInput) (any, error) {
	n := len(in.TransactItems)
	if n == 0 || n > maxTransactItems {
		return nil, validationf("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to %d", maxTransactItems)
	}
	if len(in.ClientRequestToken) > 36 {
		return nil, validationf("1 validation error detected: Value '%s' at 'clientRequestToken' failed to satisfy constraint: Member must have length less than or equal to 36", in.ClientRequestToken)
	}
	writes := make([]*preparedWrite, n)
	seen := map[string]bool{}
	size := 0
	units := map[string]float64{}
	for i, ti := range in.TransactItems {
		var op string
		var it *itemInput
		count := 0
		for _, c := range []struct {
			op string
			in *itemInput
		}{{"ConditionCheck", ti.ConditionCheck}, {"Put", ti.Put}, {"Delete", ti.Delete}, {"Update", ti.Update}} {
			if c.in != nil {
				op, it = c.op, c.in
				count++
			}
		}
		if count != 1 {
			return nil, validationf("TransactItems can only contain one of Check, Put, Update or Delete")
		}
		if it.ReturnValues != "" {
			return nil, validationf("Nimbus does not take ReturnValues in TransactWriteItems: only ReturnValuesOnConditionCheckFailure")
		}
		p, err := s.prepare(op, it)
		if err != nil {
			return nil, err
		}
		k := it.TableName + "\x00" + string(p.key)
		if seen[k] {
			return nil, validationf("Transaction request cannot include multiple operations on one item")
		}
		seen[k] = true
		if it.Item != nil {
			size += itemSize(it.Item)
		}
		units[it.TableName] += 2 * writeUnits(itemSize(it.Item))
		writes[i] = p
	}
	if size > maxTransactBytes {
		return nil, validationf("Transaction request cannot be larger than 4 MB")
	}
	// The digest of the request as decoded and re-encoded in canonical
	// order (clients serialise maps in any order).
	canon, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode request digest: %w", err)
	}
	digest := sha256.Sum256(canon)
	err = s.e.write(ctx, func(w *wtx) error {
		if in.ClientRequestToken != "" {
			done, err := w.token(in.ClientRequestToken, digest[:], s.opts.Now())
			if err != nil || done {
				return err
			}
		}
		// Every condition first, so the exception names each item's
		// reason; nothing is written unless all pass.
		reasons := make([]CancellationReason, n)
		failed := false
		for i, p := range writes {
			reasons[i].Code = "None"
			t, err := w.table(p.table)
			if err != nil {
				return err
			}
			old, err := w.get(t, p.key)
			if err != nil {
				return err
			}
			if p.cond != nil && !evalCond(old, p.cond) {
				failed = true
				reasons[i] = CancellationReason{Code: "ConditionalCheckFailed", Message: "The conditional request failed"}
				if p.returnOld {
					reasons[i].Item = old
				}
			}
		}
		if failed {
			return errTransactionCanceled(reasons)
		}
		for i, p := range writes {
			if _, _, err := p.run(w); err != nil {
				var e *Error
				if errors.As(err, &e) && e.Code == "ValidationException" {
					reasons[i] = CancellationReason{Code: "ValidationError", Message: e.Msg}
					return errTransactionCanceled(reasons)
				}
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if in.ReturnConsumedCapacity == "TOTAL" || in.ReturnConsumedCapacity == "INDEXES" {
		var caps []any
		for n, u := range units {
			caps = append(caps, consumed(in.ReturnConsumedCapacity, n, u))
		}
		out["ConsumedCapacity"] = caps
	}
	return out, nil
}

// token records a ClientRequestToken: done is true when the same request
// with it already succeeded within the window (so nothing is written
// again); a different request with it is refused.
func (w *wtx) token(tok string, digest []byte, now time.Time) (done bool, err error) {
	b := w.tx.Bucket(bucketTokens)
	if v := b.Get([]byte(tok)); len(v) == 8+len(digest) {
		at := time.Unix(0, int64(binary.BigEndian.Uint64(v))) //nolint:gosec // our own UnixNano, written below
		if now.Sub(at) < tokenWindow {
			if string(v[8:]) != string(digest) {
				return false, errIdempotentParameterMismatch()
			}
			return true, nil
		}
	}
	v := make([]byte, 8, 8+len(digest))
	binary.BigEndian.PutUint64(v, uint64(now.UnixNano())) //nolint:gosec // a time after 1970
	v = append(v, digest...)
	if err := w.putIn(b, bucketTokens, []byte(tok), v); err != nil {
		return false, fmt.Errorf("record client token: %w", err)
	}
	return false, nil
}

type transactGetInput struct {
	TransactItems []struct {
		Get *itemInput `json:"Get"`
	} `json:"TransactItems"`
	ReturnConsumedCapacity string `json:"ReturnConsumedCapacity"`
}

func (s *Service) transactGet(in *transactGetInput) (any, error) {
	n := len(in.TransactItems)
	if n == 0 || n > maxTransactItems {
		return nil, validationf("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to %d", maxTransactItems)
	}
	type plan struct {
		table string
		key   []byte
		proj  []docPath
	}
	plans := make([]plan, n)
	for i, ti := range in.TransactItems {
		g := ti.Get
		if g == nil {
			return nil, validationf("1 validation error detected: Value null at 'transactItems.%d.member.get' failed to satisfy constraint: Member must not be null", i+1)
		}
		t, ok := s.e.table(g.TableName)
		if !ok {
			return nil, errNotFound()
		}
		proj, err := projectionOf(g.ProjectionExpression, nil, g.ExpressionAttributeNames, g.ExpressionAttributeValues)
		if err != nil {
			return nil, err
		}
		k, err := keyParam(t.schema(), g.Key)
		if err != nil {
			return nil, err
		}
		plans[i] = plan{g.TableName, k, proj}
	}
	responses := make([]map[string]any, n)
	err := s.e.view(func(tx *bolt.Tx) error {
		for i, p := range plans {
			it, err := getItem(tx, p.table, p.key)
			if err != nil {
				return err
			}
			responses[i] = map[string]any{}
			if it != nil {
				if p.proj != nil {
					it = project(it, p.proj)
				}
				responses[i]["Item"] = it
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"Responses": responses}, nil
}
