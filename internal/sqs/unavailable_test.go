package sqs

import (
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// TestTransientIsServiceUnavailable: a backbone electing a leader
// (store.Unavailable) is answered 503 ServiceUnavailable, which clients
// retry, in both protocols and in a batch entry; any other internal
// error stays the 500 InternalError with its text withheld.
func TestTransientIsServiceUnavailable(t *testing.T) {
	h := &Handler{s: &Service{log: slog.New(slog.DiscardHandler)}}
	for _, tc := range storetest.UnavailableCases("InternalError") {
		rec := httptest.NewRecorder()
		h.writeErr(rec, tc.Err)
		var body map[string]string
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != tc.Status || body["__type"] != "com.amazonaws.sqs#"+tc.Code ||
			rec.Header().Get("x-amzn-query-error") != tc.Code+";Receiver" || strings.Contains(rec.Body.String(), "secret") {
			t.Errorf("JSON: %v answered %d %v %s, want %d %s", tc.Err, rec.Code, rec.Header(), rec.Body, tc.Status, tc.Code)
		}
		rec = httptest.NewRecorder()
		h.writeQueryErr(rec, "req", tc.Err)
		if rec.Code != tc.Status || !strings.Contains(rec.Body.String(), "<Code>"+tc.Code+"</Code>") {
			t.Errorf("query: %v answered %d %s, want %d %s", tc.Err, rec.Code, rec.Body, tc.Status, tc.Code)
		}
		if f := failure("1", tc.Err); f.Code != tc.Code || f.SenderFault {
			t.Errorf("batch entry: %v failed as %+v, want %s", tc.Err, f, tc.Code)
		}
	}
}
