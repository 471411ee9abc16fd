package awsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
)

// JSONOp is one operation of a JSON-protocol service. body is the
// request's JSON (an empty body reads as {}); the result is marshalled as
// the answer.
type JSONOp func(ctx context.Context, r *http.Request, body []byte) (any, error)

// Op adapts an operation that takes its typed input: the body is decoded
// into a fresh In, and a body that does not fit answers
// SerializationException naming the field, as AWS's JSON services do.
func Op[In any](f func(ctx context.Context, in *In) (any, error)) JSONOp {
	return func(ctx context.Context, _ *http.Request, body []byte) (any, error) {
		in := new(In)
		if err := DecodeJSON(body, in); err != nil {
			return nil, err
		}
		return f(ctx, in)
	}
}

// DecodeJSON decodes a JSON-protocol request body into v. What is not a
// JSON object of the operation's shape is SerializationException, the
// exception every JSON 1.0/1.1 service answers for it, with the field
// whose value has the wrong type named.
func DecodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				field = "the request"
			}
			return newErr(http.StatusBadRequest, CodeSerialization, "User",
				"Unexpected value type for field %s: expected %s, got a JSON %s.", field, te.Type, te.Value)
		}
		return newErr(http.StatusBadRequest, CodeSerialization, "User", "The request body is not valid JSON.")
	}
	return nil
}

// JSONService serves an AWS JSON 1.0/1.1 protocol service: POST / with
// X-Amz-Target: <Prefix><Operation> and a JSON body. The service writes
// only its operations; the request's reading, its limits, the answer for
// an operation that does not exist or that Nimbus refuses, and the
// rendering of errors are here, the same for every such service.
type JSONService struct {
	// Prefix is the X-Amz-Target prefix, with its dot: "Logs_20140328.".
	Prefix string
	// Protocol is ProtocolJSON10 or ProtocolJSON11 (the content type).
	Protocol Protocol
	// Ops are the served operations by name.
	Ops map[string]JSONOp
	// Refused names, for operations AWS has and Nimbus does not serve,
	// the feature that is missing; they answer UnknownOperationException
	// saying so, rather than as if the operation did not exist.
	Refused map[string]string
	// Name is the service's name in messages ("CloudWatch Logs").
	Name string
	// MaxBody bounds the request body; a longer one is refused with
	// TooLarge (default 1 MiB).
	MaxBody int64
	// TooLarge is the error for a body over MaxBody (default
	// SerializedRequestEntityTooLargeException, status 413).
	TooLarge *Error
	// MapError, when set, turns a service's error into the client's; it
	// returns nil for an error it does not know, which is then answered
	// as an internal error without its text.
	MapError func(error) *Error
	// Internal is the exception of an internal error (default
	// InternalServerError; each service's model names its own).
	Internal string
	// QueryCode, when set, gives the legacy query code of an exception,
	// sent in x-amzn-query-error (query-compatible services: SQS).
	QueryCode func(code string) string
	Log       *slog.Logger
}

// IsRequest reports whether r is for this service (its X-Amz-Target).
func (s *JSONService) IsRequest(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), s.Prefix)
}

// ServeHTTP answers one request.
func (s *JSONService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out, err := s.serve(r)
	if err != nil {
		s.WriteError(w, err)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		s.WriteError(w, fmt.Errorf("marshal answer: %w", err))
		return
	}
	h := w.Header()
	h.Set(HeaderRequestID, NewRequestID())
	h.Set("Content-Type", s.contentType())
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (s *JSONService) contentType() string {
	if s.Protocol == ProtocolJSON10 {
		return "application/x-amz-json-1.0"
	}
	return "application/x-amz-json-1.1"
}

func (s *JSONService) serve(r *http.Request) (any, error) {
	if r.Method != http.MethodPost {
		return nil, newErr(http.StatusBadRequest, CodeUnknownOperation, "User",
			"%s operations are POST requests to / with an X-Amz-Target header.", s.name())
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), s.Prefix)
	f := s.Ops[op]
	if !ok || f == nil {
		return nil, s.unknown(op)
	}
	limit := s.MaxBody
	if limit <= 0 {
		limit = 1 << 20
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, newErr(http.StatusBadRequest, CodeSerialization, "User", "The request body could not be read.")
	}
	if int64(len(body)) > limit {
		if s.TooLarge != nil {
			return nil, s.TooLarge
		}
		return nil, newErr(http.StatusRequestEntityTooLarge, CodeSerializedRequestLarge, "User",
			"Request body is larger than %d bytes.", limit)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	return f(r.Context(), r, body)
}

// unknown is the answer for an operation the service does not serve.
func (s *JSONService) unknown(op string) *Error {
	if what, ok := s.Refused[op]; ok {
		return newErr(http.StatusBadRequest, CodeUnknownOperation, "User",
			"%s is not supported by Nimbus's %s: %s are not implemented.", op, s.name(), what)
	}
	if op == "" {
		return newErr(http.StatusBadRequest, CodeUnknownOperation, "User", "The X-Amz-Target header names no %s operation.", s.name())
	}
	return newErr(http.StatusBadRequest, CodeUnknownOperation, "User", "%s is not an operation of %s.", op, s.name())
}

func (s *JSONService) name() string {
	if s.Name != "" {
		return s.Name
	}
	return strings.TrimSuffix(s.Prefix, ".")
}

// WriteError renders err in the service's protocol. A client error
// (*Error, or one MapError knows) is sent as it is; anything else is
// logged and answered as the service's internal error, its text withheld.
// An error of the Unavailable category (a full disk) is answered
// ServiceUnavailableException with that category's message.
func (s *JSONService) WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if s.MapError != nil {
		e = s.MapError(err)
	}
	if e == nil {
		e = As(err)
	}
	if e == nil {
		var u Unavailable
		if errors.As(err, &u) {
			s.log().Warn("request refused: service unavailable", "err", err)
			e = newErr(http.StatusServiceUnavailable, "ServiceUnavailableException", "Service", "%s", u.Unavailable())
		} else {
			s.log().Error("internal error", "err", err)
			code := s.Internal
			if code == "" {
				code = "InternalServerError"
			}
			e = newErr(http.StatusInternalServerError, code, "Service", "The request could not be completed; retry it.")
		}
	}
	pe := ProtocolError{Error: e}
	if s.QueryCode != nil {
		pe.QueryCode = s.QueryCode(e.Code)
	}
	p := s.Protocol
	if p != ProtocolJSON10 {
		p = ProtocolJSON11
	}
	WriteProtocolError(w, p, pe)
}

func (s *JSONService) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}
