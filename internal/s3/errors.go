package s3

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/sigv4"
)

// Error is an S3 error answer: the HTTP status, S3's code and message, and
// the extra elements S3 puts beside them (BucketName, Key, ...).
type Error struct {
	Status  int
	Code    string
	Message string
	// Extra elements of the <Error> document, in order.
	Extra [][2]string
	// Allow is the Allow header of a 405 (the methods the resource takes).
	Allow string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Status: status, Code: code, Message: msg}
}

func (e *Error) allowing(methods string) *Error {
	c := *e
	c.Allow = methods
	return &c
}

func (e *Error) with(name, value string) *Error {
	c := *e
	c.Extra = append(append([][2]string(nil), e.Extra...), [2]string{name, value})
	return &c
}

// AccessDenied is S3's refusal of the caller (403 AccessDenied) with msg,
// for what the node's other services refuse in a request's name (the
// KMS key of an SSE-KMS object).
func AccessDenied(msg string) *Error {
	return errorf(http.StatusForbidden, "AccessDenied", "%s", msg)
}

// The errors S3 answers most, with its status codes and messages.
func noSuchBucket(b string) *Error {
	return errorf(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist").with("BucketName", b)
}

func noSuchKey(k string) *Error {
	return errorf(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.").with("Key", k)
}

func noSuchUpload(id string) *Error {
	return errorf(http.StatusNotFound, "NoSuchUpload",
		"The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.").with("UploadId", id)
}

func invalidArgument(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, "InvalidArgument", format, args...)
}

func invalidRequest(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, "InvalidRequest", format, args...)
}

func malformedXML() *Error {
	return errorf(http.StatusBadRequest, "MalformedXML",
		"The XML you provided was not well-formed or did not validate against our published schema")
}

func preconditionFailed(cond string) *Error {
	return errorf(http.StatusPreconditionFailed, "PreconditionFailed",
		"At least one of the pre-conditions you specified did not hold").with("Condition", cond)
}

func notImplemented(what string) *Error {
	return errorf(http.StatusNotImplemented, "NotImplemented",
		"Nimbus does not implement %s yet.", what)
}

var errInternal = errorf(http.StatusInternalServerError, "InternalError",
	"We encountered an internal error. Please try again.")

// errFor is the answer to err, which is not an *Error: 503
// ServiceUnavailable (S3's documented code, which clients retry) when it
// passes on its own (awsapi.Transient: the backbone electing a leader),
// else InternalError.
func errFor(err error) *Error {
	if msg, ok := awsapi.TransientMessage(err); ok {
		return errorf(http.StatusServiceUnavailable, "ServiceUnavailable", "%s", msg)
	}
	return errInternal
}

// writeError answers err (an *Error, or any other error as errFor(err))
// as S3 does: an XML <Error> document, no body for HEAD.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		if s.log != nil {
			s.log.Error("s3 request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		e = errFor(err)
	}
	WriteError(w, r, e)
}

// WriteError writes e as S3's XML error document (headers only for HEAD).
func WriteError(w http.ResponseWriter, r *http.Request, e *Error) {
	reqID := awsapi.NewRequestID()
	h := w.Header()
	h.Set("x-amz-request-id", reqID)
	h.Set(awsapi.HeaderRequestID, reqID)
	if e.Allow != "" {
		h.Set("Allow", e.Allow)
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	type elem struct {
		XMLName xml.Name
		Value   string `xml:",chardata"`
	}
	doc := struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string   `xml:"Code"`
		Message   string   `xml:"Message"`
		Extra     []elem
		RequestID string `xml:"RequestId"`
		HostID    string `xml:"HostId"`
	}{Code: e.Code, Message: e.Message, RequestID: reqID, HostID: reqID}
	for _, x := range e.Extra {
		doc.Extra = append(doc.Extra, elem{XMLName: xml.Name{Local: x[0]}, Value: x[1]})
	}
	b, _ := xml.Marshal(doc)
	body := append([]byte(xml.Header), b...)
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

// AuthError is S3's answer to a request whose signature failed (the error
// of auth.Authenticator.VerifyS3).
func AuthError(err error) *Error {
	var se *sigv4.Error
	switch {
	case errors.As(err, &se):
		switch se.Kind {
		case sigv4.KindMissing:
			return errorf(http.StatusForbidden, "AccessDenied",
				"Access Denied: the request is not signed, and Nimbus serves no anonymous S3 requests "+
					"(no public buckets or objects, whatever their policy or ACL); sign it, or share an object with a presigned URL")
		case sigv4.KindIncomplete:
			return errorf(http.StatusBadRequest, "AuthorizationHeaderMalformed", "%s", se.Message)
		case sigv4.KindUnknownKey:
			return errorf(http.StatusForbidden, "InvalidAccessKeyId",
				"The AWS Access Key Id you provided does not exist in our records.")
		case sigv4.KindExpiredToken:
			return errorf(http.StatusBadRequest, "ExpiredToken", "The provided token has expired.")
		case sigv4.KindExpired:
			if se.Message == "Request has expired" {
				return errorf(http.StatusForbidden, "AccessDenied", "Request has expired")
			}
			return errorf(http.StatusForbidden, "RequestTimeTooSkewed",
				"The difference between the request time and the current time is too large.")
		case sigv4.KindScope:
			return errorf(http.StatusBadRequest, "AuthorizationHeaderMalformed", "%s", se.Message)
		case sigv4.KindPayloadMode:
			return errorf(http.StatusBadRequest, "InvalidArgument", "%s", se.Message)
		case sigv4.KindPayload:
			return errorf(http.StatusBadRequest, "XAmzContentSHA256Mismatch",
				"The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
		return errorf(http.StatusForbidden, "SignatureDoesNotMatch", "%s", se.Message)
	case errors.Is(err, sigv4.ErrBusy):
		return errorf(http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	case errors.Is(err, sigv4.ErrBodyRead):
		return errorf(http.StatusBadRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	}
	return errInternal
}
