package sns

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// Error is an SNS error as the query protocol answers it: Code is the
// model's error code (NotFound, InvalidParameter, ...).
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func newErr(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// invalidParameter is InvalidParameterException: "Invalid parameter: ...".
func invalidParameter(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "InvalidParameter", Message: "Invalid parameter: " + fmt.Sprintf(format, args...)}
}

// invalidParameterValue is InvalidParameterValueException (code
// ParameterValueInvalid).
func invalidParameterValue(format string, args ...any) *Error {
	return newErr(http.StatusBadRequest, "ParameterValueInvalid", format, args...)
}

func topicNotFound() *Error {
	return newErr(http.StatusNotFound, "NotFound", "Topic does not exist")
}

func subscriptionNotFound() *Error {
	return newErr(http.StatusNotFound, "NotFound", "Subscription does not exist")
}

func resourceNotFound() *Error {
	return newErr(http.StatusNotFound, "ResourceNotFound", "Resource does not exist")
}

func authorizationError(format string, args ...any) *Error {
	return newErr(http.StatusForbidden, "AuthorizationError", format, args...)
}

// unsupported names what Nimbus does not serve.
func unsupported(what string) *Error {
	return invalidParameter("%s: Nimbus does not support this yet", what)
}

const xmlNamespace = "http://sns.amazonaws.com/doc/2010-03-31/"

// errFor is the answer to err, which is not an *Error: 503
// ServiceUnavailable (AWS's common error, which clients retry) when it
// passes on its own (awsapi.Transient: the backbone electing a leader),
// else InternalError, its text withheld.
func errFor(err error) *Error {
	if msg, ok := awsapi.TransientMessage(err); ok {
		return newErr(http.StatusServiceUnavailable, "ServiceUnavailable", "%s", msg)
	}
	return newErr(http.StatusInternalServerError, "InternalError", "Internal error; please try again.")
}

// writeError renders err as the query protocol's ErrorResponse; an error
// that is not an *Error is answered errFor(err), its text in the log.
func writeError(w http.ResponseWriter, log *slog.Logger, reqID string, err error) {
	var e *Error
	if !errors.As(err, &e) {
		log.Error("sns request failed", "request_id", reqID, "err", err)
		e = errFor(err)
	}
	typ := "Sender"
	if e.Status >= 500 {
		typ = "Receiver"
	}
	var b bytes.Buffer
	b.WriteString(`<ErrorResponse xmlns="` + xmlNamespace + `"><Error><Type>` + typ + `</Type><Code>`)
	_ = xml.EscapeText(&b, []byte(e.Code))
	b.WriteString(`</Code><Message>`)
	_ = xml.EscapeText(&b, []byte(e.Message))
	b.WriteString(`</Message></Error><RequestId>` + reqID + `</RequestId></ErrorResponse>`)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", reqID)
	w.WriteHeader(e.Status)
	_, _ = w.Write(b.Bytes())
}
