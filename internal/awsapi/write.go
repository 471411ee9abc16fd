package awsapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/google/uuid"
)

// HeaderRequestID is the response header AWS SDKs read the request id from.
const HeaderRequestID = "X-Amzn-RequestId"

// NewRequestID returns a fresh request id in AWS's format (a UUID).
func NewRequestID() string { return uuid.NewString() }

// WriteJSON writes v as a JSON body with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// errorBody is the rest-json error body: Type is the fault category and
// message the text; the exception name travels in X-Amzn-ErrorType.
type errorBody struct {
	Type    string `json:"Type,omitempty"`
	Message string `json:"message"`
	Reason  string `json:"Reason,omitempty"`
}

// WriteError writes err the way AWS rest-json services do. An err that is not
// an *Error is logged and answered as a bare ServiceException so internal
// text never reaches the client.
func WriteError(w http.ResponseWriter, log *slog.Logger, err error) {
	e := As(err)
	if e == nil {
		if log != nil {
			log.Error("internal error", "err", err)
		}
		e = Service("An internal error occurred. Try again.")
	}
	h := w.Header()
	h.Set("X-Amzn-ErrorType", e.Code)
	if e.RetryAfterSeconds > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfterSeconds))
	}
	WriteJSON(w, e.Status, errorBody{Type: e.Type, Message: e.Message, Reason: e.Reason})
}
