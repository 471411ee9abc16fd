package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestReadyz(t *testing.T) {
	ok := Check{Name: "store", Check: func(context.Context) error { return nil }}
	bad := Check{Name: "pool", Check: func(context.Context) error { return errors.New("pool is shutting down") }}
	for _, c := range []struct {
		checks []Check
		code   int
		status string
	}{
		{[]Check{ok}, 200, "ready"},
		{[]Check{ok, bad}, 503, "not ready"},
	} {
		rec := httptest.NewRecorder()
		Readyz(c.checks...).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var body struct {
			Status string
			Checks map[string]string
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if rec.Code != c.code || body.Status != c.status || body.Checks["store"] != "ok" {
			t.Errorf("got %d %+v, want %d %s", rec.Code, body, c.code, c.status)
		}
		if c.code == 503 && body.Checks["pool"] != "pool is shutting down" {
			t.Errorf("failing check not named: %+v", body)
		}
	}
}
