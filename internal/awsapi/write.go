package awsapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
)

// WriteJSON writes v as a JSON body with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// errorBody is the rest-json error body: Type is the fault category and
// message the text; the exception name travels in X-Amzn-ErrorType. The
// text travels under the member name the exception's shape has in the
// service model, "message" or "Message" (see capitalMessage); exactly one
// of the two is set.
type errorBody struct {
	Type         string `json:"Type,omitempty"`
	Message      string `json:"Message,omitempty"`
	LowerMessage string `json:"message,omitempty"`
	Reason       string `json:"Reason,omitempty"`
}

// capitalMessage are the exceptions whose shape in the Lambda service
// model (botocore lambda/2015-03-31) names the text "Message"; the others
// name it "message". AWS serialises each by its shape, so boto3 shows
// e.response["Message"] for ResourceNotFoundException but
// e.response["message"] for InvalidParameterValueException.
var capitalMessage = map[string]bool{
	CodeResourceNotFound: true, CodeService: true, CodeInvalidZipFile: true, CodeInvalidRuntime: true,
	"CodeSigningConfigNotFoundException": true, "CodeVerificationFailedException": true,
	"InvalidCodeSignatureException": true, "NoPublishedVersionException": true,
	"RecursiveInvocationException": true, "ResourceInUseException": true,
	"EC2AccessDeniedException": true, "EC2ThrottledException": true, "EC2UnexpectedException": true,
	"ENILimitReachedException": true, "InvalidSecurityGroupIDException": true, "InvalidSubnetIDException": true,
	"SubnetIPAddressLimitReachedException": true, "KMSAccessDeniedException": true, "KMSDisabledException": true,
	"KMSInvalidStateException": true, "KMSNotFoundException": true, "EFSIOException": true,
	"EFSMountConnectivityException": true, "EFSMountFailureException": true, "EFSMountTimeoutException": true,
	"SnapStartException": true, "SnapStartNotReadyException": true, "SnapStartTimeoutException": true,
}

// Unavailable is implemented by errors of the category "the node cannot
// take this request now, for a reason the client may be told" (a full
// disk: store.ErrStorageFull). Its message is written for clients.
type Unavailable interface {
	error
	Unavailable() string
}

// Transient is an Unavailable error that passes on its own (the
// cluster's backbone electing a stream leader after a node died:
// store.Unavailable). Every edge answers it 503, which AWS clients
// retry, under the service's own name for the fault; a full disk stays
// the 500 it was where it was one.
type Transient interface {
	Unavailable
	Transient()
}

// TransientMessage reports whether err is Transient, and what a client
// is told of it: for the services that map errors through their own
// tables, which answer it 503 under their own name for the fault
// (ServiceUnavailable, AWS's common code) instead of their 500.
func TransientMessage(err error) (string, bool) {
	var tr Transient
	if errors.As(err, &tr) {
		return tr.Unavailable(), true
	}
	return "", false
}

// WriteError writes err the way AWS rest-json services do. An err that is not
// an *Error is logged and answered as a bare ServiceException so internal
// text never reaches the client; one of the Unavailable category gets that
// category's message, and a Transient one status 503 (Lambda's model has
// no 503 of its own: ServiceException is its name for every service
// fault, which clients and Step Functions retry by).
func WriteError(w http.ResponseWriter, log *slog.Logger, err error) {
	e := As(err)
	if e == nil {
		var u Unavailable
		if errors.As(err, &u) {
			if log != nil {
				log.Warn("request refused: service unavailable", "err", err)
			}
			e = Service("%s", u.Unavailable())
			var tr Transient
			if errors.As(err, &tr) {
				e.Status = http.StatusServiceUnavailable
			}
		} else {
			if log != nil {
				log.Error("internal error", "err", err)
			}
			e = Service("An internal error occurred. Try again.")
		}
	}
	h := w.Header()
	h.Set("X-Amzn-ErrorType", e.Code)
	if e.RetryAfterSeconds > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfterSeconds))
	}
	body := errorBody{Type: e.Type, Reason: e.Reason}
	if capitalMessage[e.Code] {
		body.Message = e.Message
	} else {
		body.LowerMessage = e.Message
	}
	WriteJSON(w, e.Status, body)
}
