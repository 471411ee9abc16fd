package cfnapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// TestTransientIsServiceUnavailable: a backbone electing a leader
// (store.Unavailable) is answered 503 ServiceUnavailable, which clients
// retry; any other internal error stays the 500 InternalFailure with its
// text withheld.
func TestTransientIsServiceUnavailable(t *testing.T) {
	for _, tc := range storetest.UnavailableCases("InternalFailure") {
		rec := httptest.NewRecorder()
		WriteError(rec, "req", ErrorFor(tc.Err))
		body := rec.Body.String()
		if rec.Code != tc.Status || !strings.Contains(body, "<Type>Receiver</Type>") || !strings.Contains(body, "<Code>"+tc.Code+"</Code>") ||
			strings.Contains(body, "secret") {
			t.Errorf("%v answered %d %s, want %d %s", tc.Err, rec.Code, body, tc.Status, tc.Code)
		}
	}
}
