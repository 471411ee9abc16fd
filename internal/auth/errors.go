package auth

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/sigv4"
)

// Protocol is an AWS wire protocol, as far as error responses go.
type Protocol int

// The protocols the front door serves.
const (
	// RESTJSON: Lambda, API Gateway. X-Amzn-ErrorType and {"message": ...}.
	RESTJSON Protocol = iota
	// JSON: X-Amz-Target services (CloudWatch Logs). {"__type", "message"}.
	JSON
	// Query: Action=... services (SQS, STS, ...). An XML ErrorResponse, and
	// SignatureDoesNotMatch where the JSON protocols say
	// InvalidSignatureException.
	Query
	// RESTXML: S3. An XML <Error> with the query protocols' codes (S3's
	// own route answers its refusals itself, with S3's codes).
	RESTXML
)

// ProtocolOf guesses r's protocol from its headers.
func ProtocolOf(r *http.Request) Protocol {
	if r.Header.Get("X-Amz-Target") != "" {
		return JSON
	}
	if r.URL.Query().Has("Action") || strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return Query
	}
	return RESTJSON
}

// names of each failure kind: JSON protocols, query protocols.
var names = map[sigv4.Kind][2]string{
	sigv4.KindMissing:      {"MissingAuthenticationTokenException", "MissingAuthenticationToken"},
	sigv4.KindIncomplete:   {"IncompleteSignatureException", "IncompleteSignature"},
	sigv4.KindUnknownKey:   {"UnrecognizedClientException", "InvalidClientTokenId"},
	sigv4.KindExpiredToken: {"ExpiredTokenException", "ExpiredToken"},
	sigv4.KindMismatch:     {"InvalidSignatureException", "SignatureDoesNotMatch"},
	sigv4.KindExpired:      {"InvalidSignatureException", "SignatureDoesNotMatch"},
	sigv4.KindScope:        {"InvalidSignatureException", "SignatureDoesNotMatch"},
	sigv4.KindPayload:      {"InvalidSignatureException", "SignatureDoesNotMatch"},
}

// ErrorFor is the client error for a failed verification in protocol p:
// 403 with AWS's exception name, 413 for a body too large to check, 503
// when too many large bodies are being checked at once (clients retry it),
// 408 for a body that arrived too slowly, 400 for one that could not be
// read; nil (the caller answers 500) for anything else.
func ErrorFor(p Protocol, err error) *awsapi.Error {
	var se *sigv4.Error
	var ne net.Error
	pick := func(json, query string) string {
		if p == Query || p == RESTXML {
			return query
		}
		return json
	}
	switch {
	case errors.As(err, &se):
		n, ok := names[se.Kind]
		if !ok {
			n = [2]string{"InvalidSignatureException", "SignatureDoesNotMatch"}
		}
		code := n[0]
		if p == Query || p == RESTXML {
			code = n[1]
		}
		return &awsapi.Error{Status: http.StatusForbidden, Code: code, Type: "User", Message: se.Message}
	case errors.Is(err, sigv4.ErrBodyTooLarge):
		return awsapi.TooLarge("Request must be smaller than %d bytes.", sigv4.DefaultMaxBody)
	case errors.Is(err, sigv4.ErrBusy):
		return &awsapi.Error{Status: http.StatusServiceUnavailable, Code: pick("ServiceUnavailableException", "ServiceUnavailable"),
			Type: "Service", Message: "Too many large requests are being received at once. Retry the request.", RetryAfterSeconds: 1}
	case errors.Is(err, sigv4.ErrBodyRead) && errors.As(err, &ne) && ne.Timeout():
		return &awsapi.Error{Status: http.StatusRequestTimeout, Code: pick("RequestTimeoutException", "RequestTimeout"), Type: "User",
			Message: "Your socket connection to the server was not read from or written to within the timeout period."}
	case errors.Is(err, sigv4.ErrBodyRead):
		return &awsapi.Error{Status: http.StatusBadRequest, Code: "IncompleteBody", Type: "User",
			Message: "The request body ended before its declared length, or could not be read."}
	}
	return nil
}

// WriteError answers a failed verification in r's protocol. An error that
// is not a verification failure is logged and answered as a
// ServiceException.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	WriteErrorIn(w, ProtocolOf(r), log, err)
}

// WriteErrorIn answers a failed verification in protocol p (the front
// door knows the protocol of the route it verified for).
func WriteErrorIn(w http.ResponseWriter, p Protocol, log *slog.Logger, err error) {
	e := ErrorFor(p, err)
	if e == nil {
		if log != nil {
			log.Error("verify request", "err", err)
		}
		e = awsapi.Service("An internal error occurred. Try again.")
	}
	reqID := awsapi.NewRequestID()
	h := w.Header()
	h.Set(awsapi.HeaderRequestID, reqID)
	switch p {
	case JSON:
		h.Set("X-Amzn-ErrorType", e.Code)
		h.Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(e.Status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.Code, "message": e.Message})
	case Query:
		type xmlErr struct {
			Type    string `xml:"Type"`
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		}
		body := struct {
			XMLName   xml.Name `xml:"ErrorResponse"`
			Error     xmlErr   `xml:"Error"`
			RequestID string   `xml:"RequestId"`
		}{Error: xmlErr{Type: "Sender", Code: e.Code, Message: e.Message}, RequestID: reqID}
		if e.Status >= 500 {
			body.Error.Type = "Receiver"
		}
		h.Set("Content-Type", "text/xml")
		w.WriteHeader(e.Status)
		_, _ = w.Write([]byte(xml.Header))
		_ = xml.NewEncoder(w).Encode(body)
	case RESTXML:
		awsapi.WriteProtocolError(w, awsapi.ProtocolRESTXML, awsapi.ProtocolError{Error: e})
	default:
		awsapi.WriteError(w, log, e)
	}
}
