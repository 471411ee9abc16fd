package runtimeapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Error types this package puts into ErrorResponse (names as Lambda and
// the AWS Runtime Interface Emulator use them).
const (
	errTypeRuntimeUnknown      = "Runtime.Unknown"
	errTypeInvalidResponseMode = "Runtime.InvalidResponseModeHeader"
	errTypeTruncatedResponse   = "Runtime.TruncatedResponse"

	unknownErrorMessage = "Unknown application error occurred"

	maxErrorTypeLen    = 256
	maxErrorMessageLen = 64 << 10
)

// lambdaError is Lambda's error JSON as this package synthesises it.
type lambdaError struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

func marshalError(message, errorType string) []byte {
	b, err := json.Marshal(lambdaError{ErrorMessage: message, ErrorType: errorType})
	if err != nil { // two strings always marshal
		panic(err)
	}
	return b
}

// synthError builds an ErrorResponse from a type and a message.
func synthError(errorType, message string) *ErrorResponse {
	t := clampUTF8(errorType, maxErrorTypeLen)
	return &ErrorResponse{ErrorType: t, Body: marshalError(clampUTF8(message, maxErrorMessageLen), t)}
}

func orUnknown(errorType string) string {
	if errorType == "" {
		return errTypeRuntimeUnknown
	}
	return errorType
}

// newErrorResponse builds the ErrorResponse for a runtime's error report:
// headerType is Lambda-Runtime-Function-Error-Type (may be empty), body the
// report, unreadable true if the body could not be read. A body that is
// valid JSON is kept verbatim; otherwise one is synthesised from the type
// and the body text, as Lambda does when "error payload is not provided or
// can not be read" [OAS].
func newErrorResponse(headerType string, body []byte, unreadable bool) *ErrorResponse {
	trimmed := bytes.TrimSpace(body)
	if !unreadable && len(trimmed) > 0 && json.Valid(trimmed) {
		t := headerType
		if t == "" {
			t = bodyErrorType(trimmed)
		}
		return &ErrorResponse{ErrorType: clampUTF8(orUnknown(t), maxErrorTypeLen), Body: trimmed}
	}
	msg := unknownErrorMessage
	if !unreadable && len(trimmed) > 0 {
		msg = string(trimmed)
	}
	return synthError(orUnknown(headerType), msg)
}

// bodyErrorType is the errorType string of a JSON error object, or "".
func bodyErrorType(body []byte) string {
	var e struct {
		ErrorType string `json:"errorType"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.ErrorType
}

// trailerError reads the error trailers aws-lambda-go (and streaming
// runtimes) send when the response failed after the headers were out:
// Lambda-Runtime-Function-Error-Type and Lambda-Runtime-Function-Error-Body
// (base64 of the error JSON). It returns nil when neither is set.
func trailerError(tr http.Header) *ErrorResponse {
	t, b64 := tr.Get(hdrErrorType), tr.Get(hdrErrorBody)
	if t == "" && b64 == "" {
		return nil
	}
	body, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	return newErrorResponse(t, body, err != nil)
}

// clampUTF8 makes s valid UTF-8 and cuts it to at most n bytes on a rune
// boundary.
func clampUTF8(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
