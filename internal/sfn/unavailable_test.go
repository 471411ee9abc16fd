package sfn

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
// retry; any other internal error stays the service's 500 with its text
// withheld.
func TestTransientIsServiceUnavailable(t *testing.T) {
	s := &Service{log: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("store: %w", store.Unavailable(nats.ErrNoResponders)), http.StatusServiceUnavailable, "ServiceUnavailable"},
		{errors.New("decode: secret detail"), http.StatusInternalServerError, "InternalFailure"},
	} {
		rec := httptest.NewRecorder()
		s.writeError(rec, tc.err)
		var body map[string]string
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != tc.status || body["__type"] != tc.code || rec.Header().Get("X-Amzn-ErrorType") != tc.code ||
			strings.Contains(rec.Body.String(), "secret") {
			t.Errorf("%v answered %d %v %s, want %d %s", tc.err, rec.Code, rec.Header(), rec.Body, tc.status, tc.code)
		}
	}
}
