package daemon

import (
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/async"
	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/logstore"
)

func TestStreamLimits(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name            string
		logSet, asySet  int64
		budget          int64
		wantLog, wantAs int64
		wantErr         string
	}{
		{name: "large disk: the fixed maxima", budget: 100 << 30, wantLog: logstore.DefaultMaxBytes, wantAs: async.DefaultMaxBytes},
		{name: "64 MB disk: shares", budget: 48 * mib, wantLog: 6 * mib, wantAs: 12 * mib},
		{name: "external NATS: package defaults", budget: -1, wantLog: 0, wantAs: 0},
		{name: "flags win", budget: 48 * mib, logSet: 1 * mib, asySet: 30 * mib, wantLog: 1 * mib, wantAs: 30 * mib},
		{name: "too small for the logs", budget: 8 * mib, wantErr: "function log store (stream nimbus_logs) needs at least 2 MiB"},
		{name: "too small for the queue", budget: 16*mib + 1, logSet: mib, wantErr: "async invocation queue (stream NIMBUS_ASYNC) needs at least 8 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Config{LogMaxBytes: tc.logSet, AsyncMaxBytes: tc.asySet}
			l, a, err := streamLimits(cfg, tc.budget)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "too small") {
					t.Fatalf("err = %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || l != tc.wantLog || a != tc.wantAs {
				t.Errorf("streamLimits = %d, %d, %v; want %d, %d", l, a, err, tc.wantLog, tc.wantAs)
			}
		})
	}
}
