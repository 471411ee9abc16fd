package sns

import (
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
// retry; any other internal error stays the 500 InternalError with its
// text withheld.
func TestTransientIsServiceUnavailable(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("publish: %w", store.Unavailable(nats.ErrNoResponders)), http.StatusServiceUnavailable, "ServiceUnavailable"},
		{errors.New("decode: secret detail"), http.StatusInternalServerError, "InternalError"},
	} {
		rec := httptest.NewRecorder()
		writeError(rec, slog.New(slog.DiscardHandler), "req", tc.err)
		body := rec.Body.String()
		if rec.Code != tc.status || !strings.Contains(body, "<Type>Receiver</Type><Code>"+tc.code+"</Code>") || strings.Contains(body, "secret") {
			t.Errorf("%v answered %d %s, want %d %s", tc.err, rec.Code, body, tc.status, tc.code)
		}
	}
}
