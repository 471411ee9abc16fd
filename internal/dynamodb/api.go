package dynamodb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// The X-Amz-Target prefixes of the two APIs.
const (
	TargetPrefix        = "DynamoDB_20120810."
	StreamsTargetPrefix = "DynamoDBStreams_20120810."
)

// maxRequestBody bounds a request body: a TransactWriteItems or a
// BatchWriteItem of 16 MB plus its JSON.
const maxRequestBody = 20 << 20

// IsRequest recognises DynamoDB's and DynamoDB Streams' requests.
func IsRequest(r *http.Request) bool {
	t := r.Header.Get("X-Amz-Target")
	return strings.HasPrefix(t, TargetPrefix) || strings.HasPrefix(t, StreamsTargetPrefix)
}

// Handler serves the two APIs for a node.
type Handler struct {
	s       *Service
	observe atomic.Pointer[Observer]
}

// Observer hears each DynamoDB request once answered: its operation, the
// table it named (TableName; "" for none), how long it took, and the
// status and error code of a failure (0 and "" on success). CloudWatch's
// AWS/DynamoDB metrics come from it.
type Observer func(op, table string, elapsed time.Duration, status int, code string)

// NewHandler returns the HTTP handler of s.
func NewHandler(s *Service) *Handler { return s.h }

// SetObserver sets the Observer.
func (h *Handler) SetObserver(o Observer) { h.observe.Store(&o) }

// ServeHTTP serves one request: here, or on the cluster's table node
// (cluster.go) when this node is not it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(awsapi.HeaderRequestID, awsapi.NewRequestID())
	target := r.Header.Get("X-Amz-Target")
	if r.Method != http.MethodPost {
		h.writeErr(w, newErr(http.StatusBadRequest, "UnknownOperationException", "DynamoDB's JSON protocol takes POST requests."))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		h.writeErr(w, newErr(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "Request must be smaller than %d bytes for the DynamoDB API.", maxRequestBody))
		return
	}
	var a answer
	if h.s.peer != nil && !h.s.peer.isHome() {
		a = h.s.peer.forward(r.Context(), target, r.Host, body)
	} else {
		a = h.serve(r.Context(), target, r.Host, body)
	}
	if a.errType != "" {
		w.Header().Set("X-Amzn-ErrorType", a.errType)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// rawAnswer is an operation's whole JSON answer, already encoded (a
// GetItem's stored item).
type rawAnswer []byte

// answer is a request's answer: its status, error type ("" on success)
// and JSON body.
type answer struct {
	status  int
	errType string
	body    []byte
}

// serve runs one request on this node's tables.
func (h *Handler) serve(ctx context.Context, target, host string, body []byte) answer {
	var out any
	var err error
	if op, ok := strings.CutPrefix(target, StreamsTargetPrefix); ok {
		out, err = h.s.dispatchStreams(ctx, op, body)
	} else {
		op = strings.TrimPrefix(target, TargetPrefix)
		t0 := time.Now()
		var named tableNamed
		out, err = h.s.dispatch(ctx, host, op, body, &named)
		h.observed(op, body, &named, time.Since(t0), err)
	}
	if err != nil {
		return h.errAnswer(err)
	}
	if raw, ok := out.(rawAnswer); ok {
		return answer{status: http.StatusOK, body: raw}
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(out); err != nil {
		h.s.log.Error("encode dynamodb answer", "err", err)
		return h.errAnswer(errInternal())
	}
	return answer{status: http.StatusOK, body: buf.Bytes()}
}

// tableNamed is the TableName of a request, once dispatch has decoded
// it (known false: the operation's input has none of its own, or it was
// not decoded).
type tableNamed struct {
	name  string
	known bool
}

func (n *tableNamed) set(name string) { n.name, n.known = name, true }

// observed tells the Observer of a request.
func (h *Handler) observed(op string, body []byte, named *tableNamed, elapsed time.Duration, err error) {
	observe := h.observe.Load()
	if observe == nil || *observe == nil {
		return
	}
	if !named.known {
		// Read it from the body (an operation that names no table, or
		// one that failed before its input was decoded).
		var in struct{ TableName string }
		_ = json.Unmarshal(body, &in)
		named.name = in.TableName
	}
	status, code := 0, ""
	if err != nil {
		var e *Error
		switch {
		case errors.As(err, &e):
			status, code = e.Status, e.Code
		case awsapi.As(err) != nil:
			status, code = awsapi.As(err).Status, awsapi.As(err).Code
		default:
			e = errFor(err)
			status, code = e.Status, e.Code
		}
	}
	(*observe)(op, named.name, elapsed, status, code)
}

func (h *Handler) writeErr(w http.ResponseWriter, err error) {
	a := h.errAnswer(err)
	w.Header().Set("X-Amzn-ErrorType", a.errType)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// errAnswer is err as the client sees it.
func (h *Handler) errAnswer(err error) answer {
	var e *Error
	if !errors.As(err, &e) {
		if ae := awsapi.As(err); ae != nil {
			e = &Error{Status: ae.Status, Code: ae.Code, Msg: ae.Message}
		} else {
			h.s.log.Error("dynamodb request failed", "err", err)
			e = errFor(err)
		}
	}
	body := map[string]any{"__type": "com.amazonaws.dynamodb.v20120810#" + e.Code, "message": e.Msg}
	if e.Item != nil {
		body["Item"] = e.Item
	}
	if e.Reasons != nil {
		body["CancellationReasons"] = e.Reasons
		body["Message"] = e.Msg
		delete(body, "message")
	}
	b, _ := json.Marshal(body)
	return answer{status: e.Status, errType: e.Code, body: append(b, '\n')}
}

// decode reads a request body into v, mapping JSON and AttributeValue
// problems to ValidationException / SerializationException.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return e
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return newErr(http.StatusBadRequest, "SerializationException", "Unexpected value type in payload: field %s", te.Field)
		}
		return newErr(http.StatusBadRequest, "SerializationException", "Start of structure or map found where not expected.")
	}
	return nil
}

func (s *Service) dispatch(ctx context.Context, host, op string, body []byte, named *tableNamed) (any, error) {
	switch op {
	case "CreateTable":
		var in createTableInput
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		named.set(in.TableName)
		return s.createTable(ctx, &in)
	case "DescribeTable", "DeleteTable", "DescribeTimeToLive", "DescribeContinuousBackups":
		var in tableNameInput
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		named.set(in.TableName)
		if err := checkTableName("tableName", in.TableName); err != nil {
			return nil, err
		}
		switch op {
		case "DescribeTable":
			return s.describeTable(&in)
		case "DeleteTable":
			return s.deleteTable(ctx, &in)
		case "DescribeContinuousBackups":
			if _, ok := s.e.table(in.TableName); !ok {
				return nil, newErr(http.StatusBadRequest, "TableNotFoundException", "Table not found: %s", in.TableName)
			}
			return map[string]any{"ContinuousBackupsDescription": map[string]any{"ContinuousBackupsStatus": "DISABLED",
				"PointInTimeRecoveryDescription": map[string]any{"PointInTimeRecoveryStatus": "DISABLED"}}}, nil
		}
		return s.describeTTL(&in)
	case "ListTables":
		var in listTablesInput
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		return s.listTables(&in)
	case "UpdateTable":
		var in updateTableInput
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		named.set(in.TableName)
		return s.updateTable(ctx, &in)
	case "UpdateTimeToLive":
		var in ttlInput
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		named.set(in.TableName)
		return s.updateTTL(ctx, &in)
	case "TagResource", "UntagResource", "ListTagsOfResource":
		var in tagInput
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		if op == "ListTagsOfResource" {
			return s.listTags(&in)
		}
		return s.tagResource(ctx, &in, op == "UntagResource")
	case "DescribeLimits":
		return s.describeLimits()
	case "DescribeEndpoints":
		return map[string]any{"Endpoints": []map[string]any{{"Address": host, "CachePeriodInMinutes": 1440}}}, nil
	case "PutItem", "UpdateItem", "DeleteItem", "GetItem":
		var in itemInput
		if !fastItemInput(body, &in) {
			if err := decode(body, &in); err != nil {
				return nil, err
			}
		}
		named.set(in.TableName)
		if err := checkTableName("tableName", in.TableName); err != nil {
			return nil, err
		}
		if op == "GetItem" {
			return s.getItem(&in, true)
		}
		return s.writeOne(ctx, strings.TrimSuffix(op, "Item"), &in)
	case "Query", "Scan":
		var in readInput
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		named.set(in.TableName)
		if err := checkTableName("tableName", in.TableName); err != nil {
			return nil, err
		}
		return s.read(&in, op == "Query")
	case "BatchGetItem":
		var in batchGetInput
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		return s.batchGet(&in)
	case "BatchWriteItem":
		var in batchWriteInput
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		return s.batchWrite(ctx, &in)
	case "TransactWriteItems":
		var in transactWriteInput
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		return s.transactWrite(ctx, &in)
	case "TransactGetItems":
		var in transactGetInput
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		return s.transactGet(&in)
	case "ExecuteStatement":
		var in executeStatementInput
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		return s.executeStatement(ctx, &in)
	case "BatchExecuteStatement":
		var in batchStatementInput
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		return s.batchExecuteStatement(ctx, &in)
	case "ExecuteTransaction":
		var in executeTransactionInput
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		return s.executeTransaction(ctx, &in)
	}
	return nil, errUnknownOperation(op)
}
