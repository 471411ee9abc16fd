package daemon

import (
	"context"
	"errors"
	"net/http"

	"github.com/nimbus-serverless/nimbus/internal/telemetry"
)

// frontDoor routes the telemetry paths (/metrics, /healthz, /readyz) to
// telemetry and everything else to api. The telemetry paths need no
// signature: they carry no customer data, and scrapers and probes do not
// sign requests.
func (d *Daemon) frontDoor(api http.Handler) http.Handler {
	healthz := telemetry.Healthz()
	readyz := telemetry.Readyz(d.readiness()...)
	var metrics http.Handler
	if d.metrics != nil {
		metrics = d.metrics.Handler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			healthz.ServeHTTP(w, r)
			return
		case "/readyz":
			readyz.ServeHTTP(w, r)
			return
		case "/metrics":
			if metrics != nil {
				metrics.ServeHTTP(w, r)
				return
			}
		}
		api.ServeHTTP(w, r)
	})
}

// readiness: the store's connection is up, the registry has loaded every
// function, the pool takes invocations.
func (d *Daemon) readiness() []telemetry.Check {
	return []telemetry.Check{
		{Name: "store", Check: func(context.Context) error {
			if nc := d.st.Conn(); nc == nil || !nc.IsConnected() {
				return errors.New("not connected to NATS")
			}
			return nil
		}},
		{Name: "registry", Check: func(context.Context) error {
			select {
			case <-d.reg.Ready():
				return nil
			default:
				return errors.New("function registry not synced yet")
			}
		}},
		{Name: "pool", Check: func(context.Context) error {
			if !d.pool.Accepting() {
				return errors.New("pool is shutting down")
			}
			return nil
		}},
	}
}
