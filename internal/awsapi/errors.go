// Package awsapi owns the AWS wire conventions shared by every API Nimbus
// serves: the error type with its HTTP status and X-Amzn-ErrorType name, JSON
// response writing, request ids, and ARNs. Any package may import it; it
// imports nothing of Nimbus.
package awsapi

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an error a client is meant to see: an AWS exception name, the
// HTTP status it travels with and a message phrased like AWS's. Internal
// errors are wrapped into ServiceException at the API edge, never shown.
type Error struct {
	Status  int    // HTTP status
	Code    string // AWS exception name, sent as X-Amzn-ErrorType
	Message string
	// Type is AWS's fault category, "User" or "Service".
	Type string
	// Reason and RetryAfterSeconds are set on TooManyRequestsException.
	Reason            string
	RetryAfterSeconds int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is lets errors.Is match on the exception name: errors.Is(err,
// &Error{Code: "ResourceNotFoundException"}).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

func newErr(status int, code, typ, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Status: status, Code: code, Type: typ, Message: msg}
}

// The exception names Nimbus returns. Constructors below build them with the
// status AWS uses.
const (
	CodeResourceNotFound       = "ResourceNotFoundException"
	CodeResourceConflict       = "ResourceConflictException"
	CodeInvalidParameterValue  = "InvalidParameterValueException"
	CodeInvalidRequestContent  = "InvalidRequestContentException"
	CodeRequestTooLarge        = "RequestTooLargeException"
	CodeUnsupportedMediaType   = "UnsupportedMediaTypeException"
	CodePreconditionFailed     = "PreconditionFailedException"
	CodeTooManyRequests        = "TooManyRequestsException"
	CodeService                = "ServiceException"
	CodeResourceNotReady       = "ResourceNotReadyException"
	CodeInvalidZipFile         = "InvalidZipFileException"
	CodeCodeStorageExceeded    = "CodeStorageExceededException"
	CodeInvalidRuntime         = "InvalidRuntimeException"
	CodeUnrecognizedClient     = "UnrecognizedClientException"
	CodeAccessDenied           = "AccessDeniedException"
	CodeUnknownOperation       = "UnknownOperationException"
	CodeValidation             = "ValidationException"
	CodeSerializedRequestLarge = "SerializedRequestEntityTooLargeException"
	CodeSerialization          = "SerializationException"
)

// NotFound is 404 ResourceNotFoundException.
func NotFound(format string, args ...any) *Error {
	return newErr(http.StatusNotFound, CodeResourceNotFound, "User", format, args...)
}

// Conflict is 409 ResourceConflictException.
func Conflict(format string, args ...any) *Error {
	return newErr(http.StatusConflict, CodeResourceConflict, "User", format, args...)
}

// InvalidParameter is 400 InvalidParameterValueException.
func InvalidParameter(format string, args ...any) *Error {
	return newErr(http.StatusBadRequest, CodeInvalidParameterValue, "User", format, args...)
}

// InvalidRequestContent is 400 InvalidRequestContentException.
func InvalidRequestContent(format string, args ...any) *Error {
	return newErr(http.StatusBadRequest, CodeInvalidRequestContent, "User", format, args...)
}

// Validation is 400 ValidationException, what AWS answers when a request
// breaks a constraint of the service model (length, pattern, range).
func Validation(format string, args ...any) *Error {
	return newErr(http.StatusBadRequest, CodeValidation, "User", format, args...)
}

// TooLarge is 413 RequestTooLargeException.
func TooLarge(format string, args ...any) *Error {
	return newErr(http.StatusRequestEntityTooLarge, CodeRequestTooLarge, "User", format, args...)
}

// UnsupportedMediaType is 415 UnsupportedMediaTypeException.
func UnsupportedMediaType(format string, args ...any) *Error {
	return newErr(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "User", format, args...)
}

// PreconditionFailed is 412 PreconditionFailedException (RevisionId mismatch).
func PreconditionFailed(format string, args ...any) *Error {
	return newErr(http.StatusPreconditionFailed, CodePreconditionFailed, "User", format, args...)
}

// TooManyRequests is 429 TooManyRequestsException with a Reason and a
// Retry-After in seconds.
func TooManyRequests(reason string, retryAfter int, format string, args ...any) *Error {
	e := newErr(http.StatusTooManyRequests, CodeTooManyRequests, "User", format, args...)
	e.Reason, e.RetryAfterSeconds = reason, retryAfter
	return e
}

// Service is 500 ServiceException. Its message must not carry internal
// error text.
func Service(format string, args ...any) *Error {
	return newErr(http.StatusInternalServerError, CodeService, "Service", format, args...)
}

// NotReady is 502 ResourceNotReadyException.
func NotReady(format string, args ...any) *Error {
	return newErr(http.StatusBadGateway, CodeResourceNotReady, "Service", format, args...)
}

// InvalidZipFile is 502 InvalidZipFileException as Invoke reports it; at
// CreateFunction AWS reports bad zips as InvalidParameterValueException.
func InvalidZipFile(format string, args ...any) *Error {
	return newErr(http.StatusBadGateway, CodeInvalidZipFile, "User", format, args...)
}

// CodeStorageExceeded is 400 CodeStorageExceededException.
func CodeStorageExceeded(format string, args ...any) *Error {
	return newErr(http.StatusBadRequest, CodeCodeStorageExceeded, "User", format, args...)
}

// UnknownOperation is what AWS answers for a path no operation has.
func UnknownOperation() *Error {
	return newErr(http.StatusNotFound, CodeUnknownOperation, "User", "Unknown operation")
}

// ErrorCode is the exception name, as smithy's APIError names it, so that
// HasCode reads Nimbus's errors and the SDK's alike.
func (e *Error) ErrorCode() string { return e.Code }

// HasCode reports whether err (or an error it wraps) is an AWS exception
// named code: a Nimbus error (*Error, or any service's error type with an
// ErrorCode method) or an error an AWS SDK client returned. It is the one
// place exception names are compared; services and clients call it
// rather than reading a Code field.
func HasCode(err error, code string) bool {
	var c interface{ ErrorCode() string }
	return errors.As(err, &c) && c.ErrorCode() == code
}

// As returns err as a client-visible *Error, or nil if it is not one.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
