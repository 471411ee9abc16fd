// Package lambdaapi serves the AWS Lambda REST-JSON API (the control plane:
// functions, versions, aliases, layers, tags, account settings) and the Invoke
// endpoint, so the AWS CLI, boto3 and aws-sdk-go-v2 work against Nimbus
// with only the endpoint changed. It parses and validates requests the way
// Lambda does (ValidationException for violations of the service model,
// InvalidParameterValueException for semantic problems, AWS's messages),
// keeps the state in the registry and hands invocations to an
// invoke.Invoker.
//
// Who may import it: the daemon (wiring). It imports registry, errdefs, invoke,
// function, awsapi, code and, for the Runtimes interface's types, runtimes;
// InvokeWithResponseStream frames its events with aws-sdk-go-v2's
// eventstream encoder.
//
// Every response carries X-Amzn-RequestId; every error goes through
// awsapi.WriteError (X-Amzn-ErrorType and a JSON body). Handlers return
// errors rather than writing error responses themselves.
package lambdaapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nimbus-serverless/nimbus/internal/async"
	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/registry"
	"github.com/nimbus-serverless/nimbus/internal/runtimes"
)

// Runtimes checks a function's Runtime. Lookup returns a client error
// (*awsapi.Error, InvalidParameterValueException) for a runtime this node
// cannot run; package runtimes' Lookup has this shape.
type Runtimes interface {
	Lookup(name string) (*runtimes.Runtime, error)
}

// AsyncQueue accepts asynchronous invocations; *async.Service implements
// it. Enqueue returns once the event is durable, or an *awsapi.Error.
type AsyncQueue interface {
	Enqueue(ctx context.Context, ev *async.Event) error
}

// Options configures New.
type Options struct {
	Registry *registry.Registry
	Invoker  invoke.Invoker
	// Async queues InvocationType Event and InvokeAsync; without it they
	// are refused with ServiceException.
	Async AsyncQueue
	// Runtimes validates Runtime; when nil any value of the service
	// model's Runtime enum is accepted.
	Runtimes  Runtimes
	Region    string // defaults to the registry's
	AccountID string // defaults to the registry's
	Logger    *slog.Logger
	// CodeURLKey signs the Code.Location links GetFunction returns. Nodes
	// behind one endpoint must share it; a random key is used when nil.
	CodeURLKey []byte
	// ConcurrentExecutions is the account concurrency limit
	// (GetAccountSettings, the bound of reservations; default 1000).
	ConcurrentExecutions int
	// MinUnreserved is the concurrency reservations must leave
	// unreserved (default: a tenth of ConcurrentExecutions, at most 100).
	MinUnreserved int
	// Concurrency reports provisioned concurrency allocations; without
	// it every configuration shows IN_PROGRESS.
	Concurrency Concurrency
	// Now is the clock for code link expiry; time.Now when nil.
	Now func() time.Time
	// URLPort is the port function URLs are served on, named in each
	// FunctionUrl; when empty, the port the client reached the API on.
	URLPort string
	// URLHTTPS: the node serves HTTPS, so function URLs are https://.
	URLHTTPS bool
	// Cost answers GET /_nimbus/cost (`nimbus cost`); nil: metering off.
	Cost CostReporter
	// Keys encrypt environment variables under a function's KMSKeyArn;
	// without them KMSKeyArn is refused.
	Keys EnvironmentKeys
	// Objects reads code from S3 code locations; without it they are
	// refused.
	Objects CodeObjects
	// Roles, when set, must let Lambda assume a function's Role on
	// CreateFunction and UpdateFunctionConfiguration (the role exists and
	// its trust policy names lambda.amazonaws.com), as AWS checks; the
	// node sets it under --iam enforce.
	Roles Roles
}

// Roles answers whether Lambda may assume a role.
type Roles interface {
	// LambdaCanAssume reports whether the role arn exists and trusts
	// lambda.amazonaws.com.
	LambdaCanAssume(ctx context.Context, arn string) bool
}

// Handler is the Lambda API as an http.Handler.
type Handler struct {
	reg         *registry.Registry
	inv         invoke.Invoker
	async       AsyncQueue
	rts         Runtimes
	region      string
	account     string
	log         *slog.Logger
	codeKey     []byte
	concurrency int
	minUnres    int
	conc        Concurrency
	now         func() time.Time
	urlPortCfg  string
	urlHTTPS    bool
	cost        CostReporter
	keys        EnvironmentKeys
	objects     CodeObjects
	roles       Roles
}

// New returns the API handler. Registry is required.
func New(opts Options) *Handler {
	h := &Handler{
		reg:         opts.Registry,
		inv:         opts.Invoker,
		async:       opts.Async,
		rts:         opts.Runtimes,
		region:      opts.Region,
		account:     opts.AccountID,
		log:         opts.Logger,
		codeKey:     opts.CodeURLKey,
		concurrency: opts.ConcurrentExecutions,
		minUnres:    opts.MinUnreserved,
		conc:        opts.Concurrency,
		now:         opts.Now,
		urlPortCfg:  opts.URLPort,
		urlHTTPS:    opts.URLHTTPS,
		cost:        opts.Cost,
		keys:        opts.Keys,
		objects:     opts.Objects,
		roles:       opts.Roles,
	}
	if h.region == "" && h.reg != nil {
		h.region = h.reg.Region()
	}
	if h.account == "" && h.reg != nil {
		h.account = h.reg.AccountID()
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if len(h.codeKey) == 0 {
		h.codeKey = make([]byte, 32)
		_, _ = rand.Read(h.codeKey)
	}
	if h.concurrency <= 0 {
		h.concurrency = 1000
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h
}

// call is one request being served.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	op     string
	reqID  string
	params map[string]string
}

// ServeHTTP routes the request to its operation.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, params := match(r.Method, r.URL.EscapedPath())
	h.serve(w, r, rt, params)
}

// CodeDownloads serves the code download links of GetFunction and
// GetLayerVersion (GET /_nimbus/code/{key}, checked by their own HMAC) and
// nothing else: the front door sends unsigned requests under
// CodeRoutePrefix here, so no other operation may be reachable through it,
// whatever the request's headers say.
func (h *Handler) CodeDownloads() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt, params := match(r.Method, r.URL.EscapedPath())
		if rt != nil && rt.op != opGetCode {
			rt = nil
		}
		h.serve(w, r, rt, params)
	})
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, rt *route, params map[string]string) {
	reqID := awsapi.NewRequestID()
	w.Header().Set(awsapi.HeaderRequestID, reqID)
	if rt == nil {
		awsapi.WriteError(w, h.log, awsapi.UnknownOperation())
		return
	}
	c := &call{w: w, r: r, op: rt.op, reqID: reqID, params: params}
	if err := rt.handle(h, c); err != nil {
		err = wireError(err)
		if e := awsapi.As(err); e != nil {
			h.log.Debug("request refused", "op", c.op, "code", e.Code, "request_id", reqID)
		}
		awsapi.WriteError(w, h.log.With("op", c.op, "request_id", reqID), err)
	}
}

// Request body limits.
const (
	// maxCodeRequest is what AWS accepts for CreateFunction and
	// UpdateFunctionCode (a 50 MB zip, base64-encoded, and the rest).
	maxCodeRequest = 70167211
	// maxRequest bounds the other control-plane requests.
	maxRequest = 1 << 20
)

func tooLarge(limit int64, op string) error {
	return &awsapi.Error{Status: http.StatusRequestEntityTooLarge, Code: "RequestEntityTooLargeException", Type: "User",
		Message: fmt.Sprintf("Request must be smaller than %d bytes for the %s operation", limit, op)}
}

// readBody reads the request body, refusing more than limit bytes before
// reading them when the length is declared.
func (c *call) readBody(limit int64) ([]byte, error) {
	if c.r.ContentLength > limit {
		return nil, tooLarge(limit, c.op)
	}
	b, err := io.ReadAll(io.LimitReader(c.r.Body, limit+1))
	if err != nil {
		return nil, awsapi.InvalidRequestContent("Could not read the request body.")
	}
	if int64(len(b)) > limit {
		return nil, tooLarge(limit, c.op)
	}
	return b, nil
}

// decodeValidated decodes a request body of at most maxRequest bytes into
// req, then runs validate, which reports violations of the service model.
func (c *call) decodeValidated(req any, validate func(*verrs)) error {
	return c.decodeValidatedUpTo(maxRequest, req, validate)
}

// decodeValidatedUpTo is decodeValidated for a body of up to limit bytes.
func (c *call) decodeValidatedUpTo(limit int64, req any, validate func(*verrs)) error {
	if err := c.decode(limit, req); err != nil {
		return err
	}
	var v verrs
	validate(&v)
	return v.err()
}

// decode reads a JSON request body of at most limit bytes into v. An empty
// body is an empty object.
func (c *call) decode(limit int64, v any) error {
	b, err := c.readBody(limit)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return awsapi.InvalidRequestContent("Could not parse request body into json: %s", jsonErrorDetail(b, err))
	}
	return nil
}

// writeJSON answers status with v as JSON.
func (c *call) writeJSON(status int, v any) error {
	awsapi.WriteJSON(c.w, status, v)
	return nil
}

// noContent answers 204.
func (c *call) noContent() error {
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

const jsonValueList = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"

// jsonErrorDetail describes why data is not acceptable JSON, in the words
// of the Jackson parser Lambda uses, with its location suffix.
func jsonErrorDetail(data []byte, err error) string {
	if !utf8.Valid(data) {
		i := 0
		for i < len(data) {
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			i += size
		}
		return fmt.Sprintf("Invalid UTF-8 start byte 0x%02x%s", data[i], location(data, i))
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		off := int(syn.Offset) - 1
		if off < 0 {
			off = 0
		}
		if off >= len(data)-1 && syn.Error() == "unexpected end of JSON input" || off >= len(data) {
			return "Unexpected end-of-input" + location(data, len(data))
		}
		ch := data[off]
		switch {
		case isWordByte(ch):
			// Go stops inside the token; Jackson names all of it.
			start, end := off, off
			for start > 0 && off-start < 256 && isWordByte(data[start-1]) {
				start--
			}
			for end < len(data) && end-start < 256 && isWordByte(data[end]) {
				end++
			}
			return fmt.Sprintf("Unrecognized token '%s': was expecting %s%s", data[start:end], jsonValueList, location(data, end))
		case ch < 0x20:
			return fmt.Sprintf("Illegal character ((CTRL-CHAR, code %d)): only regular white space (\\r, \\n, \\t) is allowed between tokens%s", ch, location(data, off))
		default:
			r, _ := utf8.DecodeRune(data[off:])
			return fmt.Sprintf("Unexpected character ('%c' (code %d)): expected a valid value %s%s", r, r, jsonValueList, location(data, off))
		}
	case errors.As(err, &typ):
		// Members of embedded request parts are named without the part.
		field := strings.TrimPrefix(strings.TrimPrefix(typ.Field, "settings."), "functionCode.")
		if field == "" {
			field = "(root)"
		}
		return fmt.Sprintf("Cannot deserialize value of type %s at '%s' from %s", goTypeName(typ), field, typ.Value)
	}
	var b64 base64.CorruptInputError
	if errors.As(err, &b64) {
		return "Invalid base64 data in a Blob member"
	}
	return "Malformed JSON"
}

func goTypeName(e *json.UnmarshalTypeError) string {
	switch e.Type.Kind().String() {
	case "int", "int32", "int64", "float64":
		return "number"
	case "bool":
		return "boolean"
	case "string":
		return "string"
	case "map", "struct":
		return "object"
	case "slice":
		return "array"
	}
	return "value"
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c >= 0x80
}

// location is Jackson's "at [Source: ...; line: L, column: C]" suffix for
// byte offset off.
func location(data []byte, off int) string {
	line, col := 1, 1
	for i := 0; i < off && i < len(data); i++ {
		if data[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return "\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: " +
		strconv.Itoa(line) + ", column: " + strconv.Itoa(col) + "]"
}
