package sqs

import (
	"fmt"
	"net/http"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// Error is an error an SQS client is meant to see: the exception's shape
// name (the JSON protocol's __type), the legacy query-protocol code (sent
// in x-amzn-query-error and in the query protocol's XML) and the status.
type Error struct {
	Status int
	Code   string // shape name: QueueDoesNotExist
	Query  string // legacy code: AWS.SimpleQueueService.NonExistentQueue
	Msg    string
}

func (e *Error) Error() string { return e.Code + ": " + e.Msg }

// ErrorCode is the exception's shape name (awsapi.HasCode reads it).
func (e *Error) ErrorCode() string { return e.Code }

// Sender reports whether the fault is the caller's.
func (e *Error) Sender() bool { return e.Status < 500 }

// queryCodes are the legacy codes of the exceptions whose query-protocol
// code differs from their shape name (AWS's SQS developer guide, "Common
// errors" and each action's Errors list).
var queryCodes = map[string]string{
	"QueueDoesNotExist":            "AWS.SimpleQueueService.NonExistentQueue",
	"QueueNameExists":              "QueueAlreadyExists",
	"QueueDeletedRecently":         "AWS.SimpleQueueService.QueueDeletedRecently",
	"PurgeQueueInProgress":         "AWS.SimpleQueueService.PurgeQueueInProgress",
	"MessageNotInflight":           "AWS.SimpleQueueService.MessageNotInflight",
	"EmptyBatchRequest":            "AWS.SimpleQueueService.EmptyBatchRequest",
	"BatchEntryIdsNotDistinct":     "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
	"InvalidBatchEntryId":          "AWS.SimpleQueueService.InvalidBatchEntryId",
	"TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
	"BatchRequestTooLong":          "AWS.SimpleQueueService.BatchRequestTooLong",
	"UnsupportedOperation":         "AWS.SimpleQueueService.UnsupportedOperation",
}

func newErr(status int, code, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	q := queryCodes[code]
	if q == "" {
		q = code
	}
	return &Error{Status: status, Code: code, Query: q, Msg: msg}
}

func errQueueDoesNotExist() *Error {
	return newErr(http.StatusBadRequest, "QueueDoesNotExist", "The specified queue does not exist.")
}

func errInvalidParameter(format string, args ...any) *Error {
	return newErr(http.StatusBadRequest, "InvalidParameterValue", format, args...)
}

func errMissingParameter(format string, args ...any) *Error {
	return newErr(http.StatusBadRequest, "MissingParameter", format, args...)
}

func errInvalidAttributeName(format string, args ...any) *Error {
	return newErr(http.StatusBadRequest, "InvalidAttributeName", format, args...)
}

func errInvalidAttributeValue(format string, args ...any) *Error {
	return newErr(http.StatusBadRequest, "InvalidAttributeValue", format, args...)
}

func errReceiptHandle(h string) *Error {
	return newErr(http.StatusBadRequest, "ReceiptHandleIsInvalid", "The input receipt handle \"%s\" is not a valid receipt handle.", h)
}

func errUnsupported(format string, args ...any) *Error {
	return newErr(http.StatusBadRequest, "UnsupportedOperation", format, args...)
}

func errInternal() *Error {
	return newErr(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
}

// errFor is the answer to err, which is not an *Error: 503
// ServiceUnavailable (SQS's common error, which clients retry) when it
// passes on its own (awsapi.Transient: the backbone electing a leader),
// else InternalError.
func errFor(err error) *Error {
	if msg, ok := awsapi.TransientMessage(err); ok {
		return newErr(http.StatusServiceUnavailable, "ServiceUnavailable", "%s", msg)
	}
	return errInternal()
}
