package cloudwatch

import (
	"fmt"
	"net/http"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// The errors of the model; Code is the shape's name (what the JSON and
// CBOR protocols send as __type), queryCode gives the query protocol's.
func errInvalid(msg string) *awsapi.Error {
	return &awsapi.Error{Status: http.StatusBadRequest, Code: "InvalidParameterValueException", Type: "User", Message: msg}
}

func errInvalidf(format string, args ...any) *awsapi.Error {
	return errInvalid(fmt.Sprintf(format, args...))
}

func errMissing(param string) *awsapi.Error {
	return &awsapi.Error{Status: http.StatusBadRequest, Code: "MissingRequiredParameterException", Type: "User",
		Message: fmt.Sprintf("The parameter %s is required.", param)}
}

func errCombination(msg string) *awsapi.Error {
	return &awsapi.Error{Status: http.StatusBadRequest, Code: "InvalidParameterCombinationException", Type: "User", Message: msg}
}

func errNextToken() *awsapi.Error {
	return &awsapi.Error{Status: http.StatusBadRequest, Code: "InvalidNextToken", Type: "User", Message: "The next token is invalid."}
}

func errLimit(msg string) *awsapi.Error {
	return &awsapi.Error{Status: http.StatusBadRequest, Code: "LimitExceededFault", Type: "User", Message: msg}
}
