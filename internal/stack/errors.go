package stack

import (
	"fmt"
	"net/http"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// CloudFormation's error codes, carried in awsapi.Error.Code; every one is
// a 400 client error.
const (
	CodeValidationError          = "ValidationError"
	CodeAlreadyExists            = "AlreadyExistsException"
	CodeInsufficientCapabilities = "InsufficientCapabilitiesException"
	CodeLimitExceeded            = "LimitExceededException"
	CodeTokenAlreadyExists       = "TokenAlreadyExistsException"
	CodeOperationInProgress      = "OperationInProgressException"
)

func cfnErr(code, format string, args ...any) *awsapi.Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &awsapi.Error{Status: http.StatusBadRequest, Code: code, Type: "User", Message: msg}
}

// validationError is CloudFormation's ValidationError.
func validationError(format string, args ...any) *awsapi.Error {
	return cfnErr(CodeValidationError, format, args...)
}
