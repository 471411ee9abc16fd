package dynamodb

import (
	"fmt"
	"net/http"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// Error is an error a DynamoDB client is meant to see: the exception's
// shape name (the JSON protocol's __type), its status and message, and
// the extra members some exceptions carry.
type Error struct {
	Status int
	Code   string
	Msg    string
	// Item is ConditionalCheckFailedException's item
	// (ReturnValuesOnConditionCheckFailure ALL_OLD).
	Item Item
	// Reasons are TransactionCanceledException's CancellationReasons.
	Reasons []CancellationReason
}

// CancellationReason is one entry of TransactionCanceledException's
// CancellationReasons, in the order of the request's items.
type CancellationReason struct {
	Code    string `json:"Code"`
	Message string `json:"Message,omitempty"`
	Item    Item   `json:"Item,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Msg }

func newErr(status int, code, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Status: status, Code: code, Msg: msg}
}

func validationf(format string, args ...any) *Error {
	return newErr(http.StatusBadRequest, "ValidationException", format, args...)
}

func errNotFound() *Error {
	return newErr(http.StatusBadRequest, "ResourceNotFoundException", "Requested resource not found")
}

func errTableNotFound(name string) *Error {
	return newErr(http.StatusBadRequest, "ResourceNotFoundException", "Requested resource not found: Table: %s not found", name)
}

func errInUse(format string, args ...any) *Error {
	return newErr(http.StatusBadRequest, "ResourceInUseException", format, args...)
}

func errConditionFailed(item Item) *Error {
	e := newErr(http.StatusBadRequest, "ConditionalCheckFailedException", "The conditional request failed")
	e.Item = item
	return e
}

func errInternal() *Error {
	return newErr(http.StatusInternalServerError, "InternalServerError", "Internal server error")
}

// errFor is the answer to err, which is neither an *Error nor an
// *awsapi.Error: 503 ServiceUnavailable (a documented DynamoDB error,
// which clients retry, as errNotTableNode) when it passes on its own
// (awsapi.Transient: the backbone electing a leader), else
// InternalServerError.
func errFor(err error) *Error {
	if msg, ok := awsapi.TransientMessage(err); ok {
		return newErr(http.StatusServiceUnavailable, "ServiceUnavailable", "%s", msg)
	}
	return errInternal()
}

func errUnknownOperation(op string) *Error {
	return newErr(http.StatusBadRequest, "UnknownOperationException", "Unknown operation: %s", op)
}

func errIdempotentParameterMismatch() *Error {
	return newErr(http.StatusBadRequest, "IdempotentParameterMismatchException",
		"The request uses the same client token as a previous, but non-identical request.")
}

func errKeySchema() *Error {
	return validationf("The provided key element does not match the schema")
}
