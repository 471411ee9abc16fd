package s3

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/nimbus-serverless/nimbus/internal/store"
)

// TestTransientIsServiceUnavailable: a backbone electing a leader
// (store.Unavailable) is answered 503 ServiceUnavailable, which clients
// retry; any other internal error stays the 500 InternalError with its
// text withheld.
func TestTransientIsServiceUnavailable(t *testing.T) {
	s := &Service{}
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("put object: %w", store.Unavailable(nats.ErrNoResponders)), http.StatusServiceUnavailable, "ServiceUnavailable"},
		{errors.New("decode: secret detail"), http.StatusInternalServerError, "InternalError"},
	} {
		rec := httptest.NewRecorder()
		s.writeError(rec, httptest.NewRequest(http.MethodPut, "/b/k", nil), tc.err)
		body := rec.Body.String()
		if rec.Code != tc.status || !strings.Contains(body, "<Code>"+tc.code+"</Code>") || strings.Contains(body, "secret") {
			t.Errorf("%v answered %d %s, want %d %s", tc.err, rec.Code, body, tc.status, tc.code)
		}
	}
}
