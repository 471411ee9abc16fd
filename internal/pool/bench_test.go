package pool

import (
	"context"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// BenchmarkWarmInvoke is one invocation on a warm environment through
// Manager.Invoke (Runtime API round trip, log capture, REPORT line).
func BenchmarkWarmInvoke(b *testing.B) {
	b.Run("echo", func(b *testing.B) { benchWarm(b, `{"action":"echo"}`) })
	b.Run("noop", func(b *testing.B) { benchWarm(b, `{"action":"noop"}`) })
}

func benchWarm(b *testing.B, event string) {
	h := newHarness(b)
	fn := h.fn("warm", nil)
	res, _ := h.call(b, fn, map[string]any{"action": "echo"})
	wantOK(b, res)
	payload := []byte(event)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res, err := h.m.Invoke(ctx, fn, &invoke.Request{RequestID: newRequestID(), Payload: payload})
		if err != nil || res.FunctionError != "" {
			b.Fatalf("%v %s", err, res.Payload)
		}
	}
}

// BenchmarkColdStart is an invocation that starts a new environment
// (sandbox, Go bootstrap init, first invoke); the code is already
// extracted. Each iteration is a new configuration revision, so the
// previous environment is retired in the background.
func BenchmarkColdStart(b *testing.B) {
	h := newHarness(b)
	fn := h.fn("cold", nil)
	res, _ := h.call(b, fn, map[string]any{"action": "echo"})
	wantOK(b, res)
	payload := []byte(`{"action":"echo"}`)
	ctx := context.Background()
	var initTotal float64
	n := 0
	for b.Loop() {
		f := *fn
		f.RevisionId = randHex(8)
		res, err := h.m.Invoke(ctx, &f, &invoke.Request{RequestID: newRequestID(), Payload: payload})
		if err != nil || res.FunctionError != "" || res.InitDuration == 0 {
			b.Fatalf("%v %s", err, res.Payload)
		}
		initTotal += float64(res.InitDuration.Microseconds())
		n++
	}
	b.ReportMetric(initTotal/float64(n)/1000, "init-ms/op")
}
