// Package invoke defines one synchronous invocation as it travels from the
// API edge to an execution environment and back: the Request the edge builds
// and the Result an environment produces. The pool implements Invoker; the
// lambdaapi handlers (and later the async dispatcher, event sources and HTTP
// front doors) call it. It imports only function and awsapi.
package invoke

import (
	"context"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/function"
)

// Request is one invocation of a resolved function version.
type Request struct {
	// RequestID is the invocation's id: Lambda-Runtime-Aws-Request-Id and
	// the X-Amzn-RequestId of the Invoke response.
	RequestID string
	// InvokedFunctionArn is the ARN as the caller named it (with the alias
	// or version qualifier if one was used).
	InvokedFunctionArn string
	// Payload is the event, already checked to be JSON and within limits.
	Payload []byte
	// ClientContext is the decoded JSON of X-Amz-Client-Context, or nil.
	ClientContext []byte
	// CognitoIdentity is JSON for Lambda-Runtime-Cognito-Identity, or nil.
	CognitoIdentity []byte
	// TraceID is the X-Ray trace header value (Root=...;Parent=...;Sampled=...).
	TraceID string
	// TenantID is X-Amz-Tenant-Id when given.
	TenantID string
	// LogTail asks for the last 4 KB of the invocation's log in the Result.
	LogTail bool
	// Enqueued is when an asynchronous event was accepted (zero for a
	// synchronous invocation): the start of its queueing phase.
	Enqueued time.Time
	// Stream, when set, receives the response body as the function posts
	// it (function URLs in RESPONSE_STREAM mode, up to
	// function.MaxStreamedResponse) instead of Result.Payload.
	Stream ResponseStream
}

// ResponseStream receives a streamed response. The Invoker calls Begin
// once, then Write for each chunk as it arrives, and never after Invoke
// returns. A Write error means the client went away: the rest of the body
// is dropped and the function runs on.
type ResponseStream interface {
	// Begin is called before the first Write with the Content-Type the
	// runtime posted.
	Begin(contentType string) error
	// Write passes one chunk on to the client (flushed).
	Write(p []byte) (int, error)
}

// Result is the outcome of an invocation that reached a function. Function
// failures (handled errors, timeouts, crashes, out-of-memory) are a Result
// with FunctionError set and Payload holding Lambda's error JSON
// {"errorMessage","errorType"[,"stackTrace"]}; they are not Go errors.
type Result struct {
	Payload []byte
	// ContentType of the payload as the runtime posted it.
	ContentType string
	// FunctionError is "Unhandled" (or "Handled") when the function failed.
	FunctionError string
	// Streamed is set when the body went to Request.Stream; Payload is
	// then empty, or the error payload when FunctionError is set (a
	// function that failed after it began streaming).
	Streamed bool
	// ExecutedVersion is the version that ran ($LATEST or a number).
	ExecutedVersion string
	// LogTail is the raw (not base64) last 4 KB of the invocation's log,
	// including the START/END/REPORT lines; set only if Request.LogTail.
	LogTail []byte
	// Duration is the invoke phase; InitDuration is set on a cold start.
	Duration     time.Duration
	InitDuration time.Duration
	// BilledDuration and MaxMemoryUsedMB are the REPORT line's numbers;
	// ErrorType is the failure's type when FunctionError is set.
	BilledDuration  time.Duration
	MaxMemoryUsedMB int
	ErrorType       string
	// Provisioned: a provisioned-concurrency environment ran it.
	// Spillover: the version has provisioned concurrency, all of it was
	// busy, and an on-demand environment ran it.
	Provisioned, Spillover bool
}

// Invoker runs one invocation of the function version fn. Errors are
// platform failures (throttling, environments that cannot start) as
// errdefs categories, which each edge maps to its wire answer; ctx carries
// the caller's cancellation, and the function's own timeout is applied by
// the Invoker.
type Invoker interface {
	Invoke(ctx context.Context, fn *function.Config, req *Request) (*Result, error)
}

// ErrorPayload is the body Lambda returns for a function error.
type ErrorPayload struct {
	ErrorMessage string   `json:"errorMessage"`
	ErrorType    string   `json:"errorType"`
	StackTrace   []string `json:"stackTrace,omitempty"`
}

// ErrorType names a failure the platform reports on a function's behalf,
// in Result.ErrorType and the errorType of the payload: a closed set, as
// the AWS emulator's fatalerror package has it. A function's own errors
// carry whatever type its runtime reported.
type ErrorType string

// The platform's function error types, as Lambda names them.
const (
	// ErrorRuntimeExit: the runtime process exited during init or an
	// invocation.
	ErrorRuntimeExit ErrorType = "Runtime.ExitError"
	// ErrorOutOfMemory: the runtime was killed for exceeding MemorySize.
	ErrorOutOfMemory ErrorType = "Runtime.OutOfMemory"
	// ErrorInvalidEntrypoint: the bootstrap is missing or cannot be run.
	ErrorInvalidEntrypoint ErrorType = "Runtime.InvalidEntrypoint"
	// ErrorTimedOut: the init or the invocation ran past its timeout.
	ErrorTimedOut ErrorType = "Sandbox.Timedout"
	// ErrorResponseTooLarge: the response exceeded the synchronous
	// payload limit.
	ErrorResponseTooLarge ErrorType = "Function.ResponseSizeTooLarge"
)
