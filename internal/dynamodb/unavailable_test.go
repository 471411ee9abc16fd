package dynamodb

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/nimbus-serverless/nimbus/internal/store"
)

// TestTransientIsServiceUnavailable: a backbone electing a leader
// (store.Unavailable) is answered 503 ServiceUnavailable, which clients
// retry; any other internal error stays the 500 InternalServerError with
// its text withheld.
func TestTransientIsServiceUnavailable(t *testing.T) {
	h := &Handler{s: &Service{log: slog.New(slog.DiscardHandler)}}
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("put item: %w", store.Unavailable(nats.ErrNoResponders)), http.StatusServiceUnavailable, "ServiceUnavailable"},
		{errors.New("decode: secret detail"), http.StatusInternalServerError, "InternalServerError"},
	} {
		a := h.errAnswer(tc.err)
		var body map[string]string
		_ = json.Unmarshal(a.body, &body)
		if a.status != tc.status || a.errType != tc.code || body["__type"] != "com.amazonaws.dynamodb.v20120810#"+tc.code ||
			strings.Contains(string(a.body), "secret") {
			t.Errorf("%v answered %d %s %s, want %d %s", tc.err, a.status, a.errType, a.body, tc.status, tc.code)
		}
	}
}
