// Package errdefs is the closed set of error categories the core packages
// (pool, registry, async) return, after containerd's errdefs: a core
// package says what kind of failure happened and phrases a message a
// client may read; each API edge (lambdaapi, funcurl, apigw, async) maps
// the category to its wire answer once, in one table. No core package
// builds a wire error, and no edge compares exception names.
//
// Any package may import errdefs; it imports nothing of Nimbus.
package errdefs

import (
	"errors"
	"fmt"
)

// The categories. Match them with errors.Is; an *Error unwraps to one.
var (
	// ErrNotFound: the function, version, alias or other resource named
	// does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the resource exists already, or is in a state the
	// operation cannot act on.
	ErrConflict = errors.New("conflict")
	// ErrThrottled: a concurrency or memory limit refused the work; the
	// *Error carries Lambda's Reason.
	ErrThrottled = errors.New("throttled")
	// ErrShuttingDown: the node is stopping and takes no more work.
	ErrShuttingDown = errors.New("shutting down")
	// ErrEnvironmentFailed: an execution environment could not be started
	// or failed under an invocation for a reason that is not the
	// function's (the platform's fault).
	ErrEnvironmentFailed = errors.New("environment failed")
	// ErrBadCode: the function's code or layers cannot be unpacked.
	ErrBadCode = errors.New("bad code")
	// ErrBadRuntime: the function's runtime is not served by this node.
	ErrBadRuntime = errors.New("bad runtime")
	// ErrTooLarge: a payload or package is over its limit.
	ErrTooLarge = errors.New("too large")
)

// Categories is the closed set, for edges to check their tables cover it.
var Categories = []error{ErrNotFound, ErrConflict, ErrThrottled, ErrShuttingDown,
	ErrEnvironmentFailed, ErrBadCode, ErrBadRuntime, ErrTooLarge}

// Error is a categorised failure with a message phrased for the client.
type Error struct {
	Category error  // one of the Err* categories
	Message  string // client-visible, phrased as AWS phrases it; no internal detail
	// Reason and RetryAfterSeconds are set on ErrThrottled: Lambda's
	// Reason (ReservedFunctionConcurrentInvocationLimitExceeded, ...) and
	// the Retry-After to answer.
	Reason            string
	RetryAfterSeconds int
}

func (e *Error) Error() string { return e.Category.Error() + ": " + e.Message }

// Unwrap makes errors.Is(err, ErrNotFound) and friends work.
func (e *Error) Unwrap() error { return e.Category }

// As returns err's *Error, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

func newErr(cat error, format string, args []any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Category: cat, Message: msg}
}

// NotFound is an ErrNotFound with a client message.
func NotFound(format string, args ...any) *Error { return newErr(ErrNotFound, format, args) }

// Conflict is an ErrConflict with a client message.
func Conflict(format string, args ...any) *Error { return newErr(ErrConflict, format, args) }

// Throttled is an ErrThrottled with Lambda's reason and Retry-After.
func Throttled(reason string, retryAfter int, format string, args ...any) *Error {
	e := newErr(ErrThrottled, format, args)
	e.Reason, e.RetryAfterSeconds = reason, retryAfter
	return e
}

// ShuttingDown is an ErrShuttingDown with a client message.
func ShuttingDown(format string, args ...any) *Error { return newErr(ErrShuttingDown, format, args) }

// EnvironmentFailed is an ErrEnvironmentFailed with a client message.
func EnvironmentFailed(format string, args ...any) *Error {
	return newErr(ErrEnvironmentFailed, format, args)
}

// BadCode is an ErrBadCode with a client message.
func BadCode(format string, args ...any) *Error { return newErr(ErrBadCode, format, args) }

// BadRuntime is an ErrBadRuntime with a client message.
func BadRuntime(format string, args ...any) *Error { return newErr(ErrBadRuntime, format, args) }

// TooLarge is an ErrTooLarge with a client message.
func TooLarge(format string, args ...any) *Error { return newErr(ErrTooLarge, format, args) }
