package sqs

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/nimbus-serverless/nimbus/internal/store"
)

// TestTransientIsServiceUnavailable: a backbone electing a leader
// (store.Unavailable) is answered 503 ServiceUnavailable, which clients
// retry, in both protocols and in a batch entry; any other internal
// error stays the 500 InternalError with its text withheld.
func TestTransientIsServiceUnavailable(t *testing.T) {
	h := &Handler{s: &Service{log: slog.New(slog.DiscardHandler)}}
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("send: %w", store.Unavailable(nats.ErrNoResponders)), http.StatusServiceUnavailable, "ServiceUnavailable"},
		{errors.New("decode: secret detail"), http.StatusInternalServerError, "InternalError"},
	} {
		rec := httptest.NewRecorder()
		h.writeErr(rec, tc.err)
		var body map[string]string
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != tc.status || body["__type"] != "com.amazonaws.sqs#"+tc.code ||
			rec.Header().Get("x-amzn-query-error") != tc.code+";Receiver" || strings.Contains(rec.Body.String(), "secret") {
			t.Errorf("JSON: %v answered %d %v %s, want %d %s", tc.err, rec.Code, rec.Header(), rec.Body, tc.status, tc.code)
		}
		rec = httptest.NewRecorder()
		h.writeQueryErr(rec, "req", tc.err)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), "<Code>"+tc.code+"</Code>") {
			t.Errorf("query: %v answered %d %s, want %d %s", tc.err, rec.Code, rec.Body, tc.status, tc.code)
		}
		if f := failure("1", tc.err); f.Code != tc.code || f.SenderFault {
			t.Errorf("batch entry: %v failed as %+v, want %s", tc.err, f, tc.code)
		}
	}
}
