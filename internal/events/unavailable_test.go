package events

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
// retry; any other internal error stays the service's 500 with its text
// withheld.
func TestTransientIsServiceUnavailable(t *testing.T) {
	s := &Service{log: slog.New(slog.DiscardHandler)}
	for _, tc := range storetest.UnavailableCases("InternalException") {
		rec := httptest.NewRecorder()
		s.writeError(rec, tc.Err)
		var body map[string]string
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != tc.Status || body["__type"] != tc.Code || rec.Header().Get("X-Amzn-ErrorType") != tc.Code ||
			strings.Contains(rec.Body.String(), "secret") {
			t.Errorf("%v answered %d %v %s, want %d %s", tc.Err, rec.Code, rec.Header(), rec.Body, tc.Status, tc.Code)
		}
	}
}
