package dynamodb

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// TestTransientIsServiceUnavailable: a backbone electing a leader
// (store.Unavailable) is answered 503 ServiceUnavailable, which clients
// retry; any other internal error stays the 500 InternalServerError with
// its text withheld.
func TestTransientIsServiceUnavailable(t *testing.T) {
	h := &Handler{s: &Service{log: slog.New(slog.DiscardHandler)}}
	for _, tc := range storetest.UnavailableCases("InternalServerError") {
		a := h.errAnswer(tc.Err)
		var body map[string]string
		_ = json.Unmarshal(a.body, &body)
		if a.status != tc.Status || a.errType != tc.Code || body["__type"] != "com.amazonaws.dynamodb.v20120810#"+tc.Code ||
			strings.Contains(string(a.body), "secret") {
			t.Errorf("%v answered %d %s %s, want %d %s", tc.Err, a.status, a.errType, a.body, tc.Status, tc.Code)
		}
	}
}
