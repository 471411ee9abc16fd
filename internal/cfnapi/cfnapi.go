// Package cfnapi is the CloudFormation API of a node: the query protocol
// (POST / with a form body Action=CreateStack&Version=2010-05-15&..., or
// GET with the same query string) answered in the XML of botocore's
// cloudformation 2010-05-15 model, in front of the stack engine; and the
// artifact endpoint `nimbus deploy` uploads function code to
// (PUT/HEAD /_nimbus/artifacts/<sha256>).
//
// It does not verify signatures: the daemon puts it behind SigV4 (service
// "cloudformation") and routes requests here with IsRequest. Only the
// daemon and tests import it; it imports awsapi, stack (the engine's
// types) and cfn (to summarise templates).
package cfnapi

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/cfn"
	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// Version is the CloudFormation API version, the Version of every request.
const Version = "2010-05-15"

// Namespace is the XML namespace of every response.
const Namespace = "http://cloudformation.amazonaws.com/doc/2010-05-15/"

// ArtifactPrefix is the path under which artifacts are uploaded.
const ArtifactPrefix = "/_nimbus/artifacts/"

// Stacks is what the API needs of the stack engine; *stack.Service
// implements it.
type Stacks interface {
	CreateStack(ctx context.Context, in stack.CreateInput) (string, error)
	UpdateStack(ctx context.Context, in stack.UpdateInput) (string, error)
	DeleteStack(ctx context.Context, nameOrID, roleARN string) error
	DescribeStacks(ctx context.Context, nameOrID string) ([]stack.Stack, error)
	ListStacks(ctx context.Context, filter []string) ([]stack.Summary, error)
	Events(ctx context.Context, nameOrID string) ([]stack.Event, error)
	Resources(ctx context.Context, nameOrID string) ([]stack.StackResource, error)
	Template(ctx context.Context, nameOrID, stage string) (string, error)
	Exports(ctx context.Context) ([]stack.Export, error)
	Validate(ctx context.Context, body string) (*stack.Validation, error)
	ChangeSets
}

// Artifacts is what the artifact endpoint needs of the artifact store;
// *stack.Artifacts implements it.
type Artifacts interface {
	Put(ctx context.Context, sha256hex string, data []byte) error
	Has(ctx context.Context, sha256hex string) (bool, error)
}

// Options configures a Handler.
type Options struct {
	Stacks    Stacks
	Artifacts Artifacts
	Logger    *slog.Logger
	// NewRequestID makes request ids (awsapi.NewRequestID when nil; tests
	// fix it for golden files).
	NewRequestID func() string
	// PageSize is the most entries a paginated list returns (100 when
	// zero).
	PageSize int
	// ParseTemplate parses templates for ValidateTemplate's and
	// GetTemplateSummary's details (cfn.Parse when nil).
	ParseTemplate func([]byte) (*cfn.Template, error)
	// ReadObject reads the object a TemplateURL names, as the caller on
	// ctx (nil: TemplateURL is refused).
	ReadObject func(ctx context.Context, bucket, key string) ([]byte, error)
}

// Handler serves the CloudFormation API and the artifact endpoint.
type Handler struct {
	opts Options
	log  *slog.Logger
}

// New returns a Handler.
func New(opts Options) *Handler {
	if opts.NewRequestID == nil {
		opts.NewRequestID = awsapi.NewRequestID
	}
	if opts.PageSize <= 0 {
		opts.PageSize = defaultPageSize
	}
	h := &Handler{opts: opts, log: opts.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

const defaultPageSize = 100

// IsArtifactRequest reports whether r is for the artifact endpoint.
func IsArtifactRequest(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, ArtifactPrefix)
}

// ServeHTTP answers one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := h.opts.NewRequestID()
	w.Header().Set(awsapi.HeaderRequestID, reqID)
	if IsArtifactRequest(r) {
		h.serveArtifact(w, r, reqID)
		return
	}
	start := time.Now()
	action, err := h.serveQuery(w, r, reqID)
	if err != nil {
		h.writeError(w, reqID, action, err)
	}
	h.log.Debug("cloudformation request", "action", action, "request_id", reqID,
		"duration_ms", time.Since(start).Milliseconds(), "failed", err != nil)
}

// serveQuery parses the form and runs its action; it writes the response
// on success and returns the error otherwise.
func (h *Handler) serveQuery(w http.ResponseWriter, r *http.Request, reqID string) (string, error) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return "", &awsapi.Error{Status: http.StatusMethodNotAllowed, Code: "InvalidAction", Type: "User",
			Message: "The CloudFormation API takes POST or GET requests."}
	}
	form, err := ParseRequest(r)
	if err != nil {
		return "", err
	}
	action := form.Get("Action")
	if action == "" {
		return "", &awsapi.Error{Status: http.StatusBadRequest, Code: "MissingAction", Type: "User", Message: "Missing Action"}
	}
	op, ok := operations[action]
	v := form.Get("Version")
	switch {
	case v != "" && v != Version, !ok && !IsAction(action):
		if v == "" {
			v = Version
		}
		return action, &awsapi.Error{Status: http.StatusBadRequest, Code: "InvalidAction", Type: "User",
			Message: "Could not find operation " + action + " for version " + v}
	case !ok:
		return action, &awsapi.Error{Status: http.StatusBadRequest, Code: "InvalidAction", Type: "User",
			Message: "Nimbus does not support the CloudFormation operation " + action + " yet. It serves " + served + "."}
	}
	result, err := op(h, r.Context(), form)
	if err != nil {
		return action, err
	}
	writeResult(w, action, result, reqID)
	return action, nil
}

// served lists the operations served, for the message of the others.
var served = func() string {
	names := slices.Sorted(maps.Keys(operations))
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}()

// IsAction reports whether action is an operation of the CloudFormation
// API (any of its operations, implemented here or not), for routing
// unsigned query requests.
func IsAction(action string) bool { return actionNames[action] }

// ErrorFor maps err to the client-visible error: *awsapi.Error as it is,
// a Transient one (the backbone electing a leader) AWS's common 503
// ServiceUnavailable, which clients retry, anything else 500
// InternalFailure (its text never reaches the client).
func ErrorFor(err error) *awsapi.Error {
	if e := awsapi.As(err); e != nil {
		return e
	}
	if msg, ok := awsapi.TransientMessage(err); ok {
		return &awsapi.Error{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Type: "Service", Message: msg}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &awsapi.Error{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Type: "Service",
			Message: "The request was cancelled before it completed."}
	}
	return &awsapi.Error{Status: http.StatusInternalServerError, Code: "InternalFailure", Type: "Service",
		Message: "The request processing has failed because of an unknown error, exception or failure."}
}

func (h *Handler) writeError(w http.ResponseWriter, reqID, action string, err error) {
	if awsapi.As(err) == nil {
		h.log.Error("cloudformation request failed", "action", action, "request_id", reqID, "err", err)
	}
	WriteError(w, reqID, ErrorFor(err))
}
