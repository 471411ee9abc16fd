package telemetry

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Check is one readiness condition: nil when met.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Healthz answers 200 while the process serves HTTP at all (liveness).
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
}

// Readyz answers 200 when every check passes and 503 otherwise, with each
// check's result as JSON: {"status":"ready"|"not ready","checks":{name:
// "ok"|reason}}. Checks run with a short deadline.
func Readyz(checks ...Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		out := struct {
			Status string            `json:"status"`
			Checks map[string]string `json:"checks"`
		}{Status: "ready", Checks: map[string]string{}}
		code := http.StatusOK
		for _, c := range checks {
			if err := c.Check(ctx); err != nil {
				out.Checks[c.Name] = err.Error()
				out.Status, code = "not ready", http.StatusServiceUnavailable
				continue
			}
			out.Checks[c.Name] = "ok"
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(out)
	})
}
