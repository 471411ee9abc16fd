package pool

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/logstore"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// BenchmarkWarmInvoke is one invocation on a warm environment through
// Manager.Invoke (Runtime API round trip, log capture, REPORT line).
func BenchmarkWarmInvoke(b *testing.B) {
	b.Run("echo", func(b *testing.B) { benchWarm(b, `{"action":"echo"}`, false) })
	b.Run("noop", func(b *testing.B) { benchWarm(b, `{"action":"noop"}`, false) })
	// The same without the isolation layers (network namespace, minimal
	// root, uid, capabilities, seccomp): their cost, in the same run.
	b.Run("noop-unhardened", func(b *testing.B) { benchWarm(b, `{"action":"noop"}`, true) })
	// The same with idle environments never frozen: what the freezer
	// costs a client invoking back to back.
	b.Run("noop-unfrozen", func(b *testing.B) {
		benchWarm(b, `{"action":"noop"}`, false, func(o *Options) { o.FreezeAfter = -1 })
	})
}

func unhardened(on bool) func(*Options) {
	return func(o *Options) { o.Unhardened = on }
}

func benchWarm(b *testing.B, event string, bare bool, tweak ...func(*Options)) {
	h := newHarness(b, append(tweak, unhardened(bare))...)
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
	b.Run("hardened", func(b *testing.B) { benchCold(b, false) })
	b.Run("unhardened", func(b *testing.B) { benchCold(b, true) })
}

func benchCold(b *testing.B, bare bool) {
	h := newHarness(b, unhardened(bare))
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
	reportPhases(b, h.m.StartPhases())
}

// reportPhases reports the median of each cold-start phase (ms).
func reportPhases(b *testing.B, all []StartPhases) {
	if len(all) == 0 {
		return
	}
	med := func(f func(StartPhases) time.Duration) float64 {
		d := make([]time.Duration, len(all))
		for i, p := range all {
			d[i] = f(p)
		}
		slices.Sort(d)
		return float64(d[len(d)/2].Microseconds()) / 1000
	}
	b.ReportMetric(med(func(p StartPhases) time.Duration { return p.Admit }), "admit-ms")
	b.ReportMetric(med(func(p StartPhases) time.Duration { return p.Prepare }), "prepare-ms")
	b.ReportMetric(med(func(p StartPhases) time.Duration { return p.Sandbox.Claim }), "claim-ms")
	b.ReportMetric(med(func(p StartPhases) time.Duration { return p.Sandbox.Limits }), "limits-ms")
	b.ReportMetric(med(func(p StartPhases) time.Duration { return p.Sandbox.Egress }), "egress-ms")
	b.ReportMetric(med(func(p StartPhases) time.Duration { return p.Sandbox.Handshake }), "handshake-ms")
	b.ReportMetric(med(func(p StartPhases) time.Duration { return p.Sandbox.Root }), "root-ms")
	b.ReportMetric(med(func(p StartPhases) time.Duration { return p.Sandbox.Setup }), "setup-ms")
	b.ReportMetric(med(func(p StartPhases) time.Duration { return p.RuntimeInit }), "runtime-init-ms")
	b.ReportMetric(med(func(p StartPhases) time.Duration { return p.Invoke }), "invoke-ms")
	spare := 0
	for _, p := range all {
		if p.Sandbox.Spare {
			spare++
		}
	}
	b.ReportMetric(float64(spare)/float64(len(all)), "spare-share")
}

// BenchmarkWarmInvokeLogging measures what storing function logs costs the
// hot path: warm invocations with no log sink ("off") and with the log
// store's asynchronous writer on a real embedded JetStream ("store"). The
// two run in alternating blocks of 100 invocations within one benchmark,
// so the machine's noise hits both alike; after each "store" block the
// writer is flushed (untimed), so its background work does not spill into
// the next "off" block. Reported: p50 and mean latency of each and their
// ratios. "echo" writes 4 lines per invocation (START, one function line,
// END, REPORT); "print20" 24.
//
//	go test -run '^$' -bench WarmInvokeLogging -benchtime 4000x ./internal/pool/
func BenchmarkWarmInvokeLogging(b *testing.B) {
	for _, ev := range []struct{ name, event string }{
		{"echo", `{"action":"echo"}`},
		{"print20", `{"action":"print","lines":20}`},
	} {
		b.Run(ev.name, func(b *testing.B) {
			off := newHarness(b, func(o *Options) { o.FunctionLog = nil })
			ls, err := logstore.Open(b.Context(), storetest.Open(b).JetStream(), logstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			w := logstore.NewWriter(ls, logstore.WriterOptions{})
			b.Cleanup(w.Close)
			on := newHarness(b, func(o *Options) { o.FunctionLog = nil; o.LogSink = storeSink{w} })
			fnOff, fnOn := off.fn("warm", nil), on.fn("warm", nil)
			for _, x := range []struct {
				h  *harness
				fn *function.Config
			}{{off, fnOff}, {on, fnOn}} {
				res, _ := x.h.call(b, x.fn, map[string]any{"action": "echo"})
				wantOK(b, res)
			}
			payload := []byte(ev.event)
			ctx := context.Background()
			var latOff, latOn []time.Duration
			one := func(h *harness, fn *function.Config) time.Duration {
				t0 := time.Now()
				res, err := h.m.Invoke(ctx, fn, &invoke.Request{RequestID: newRequestID(), Payload: payload})
				d := time.Since(t0)
				if err != nil || res.FunctionError != "" {
					b.Fatalf("%v %s", err, res.Payload)
				}
				return d
			}
			const block = 100
			i := 0
			for b.Loop() {
				if (i/block)%2 == 0 {
					latOff = append(latOff, one(off, fnOff))
				} else {
					latOn = append(latOn, one(on, fnOn))
					if i%block == block-1 {
						b.StopTimer()
						if err := w.Flush(ctx); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
				}
				i++
			}
			if len(latOff) == 0 || len(latOn) == 0 {
				return
			}
			pOff, pOn := p50(latOff), p50(latOn)
			mOff, mOn := mean(latOff), mean(latOn)
			b.ReportMetric(float64(pOff.Nanoseconds()), "off-p50-ns")
			b.ReportMetric(float64(pOn.Nanoseconds()), "store-p50-ns")
			b.ReportMetric(float64(pOn)/float64(pOff), "p50-ratio")
			b.ReportMetric(float64(mOn)/float64(mOff), "mean-ratio")
			b.ReportMetric(float64(w.Dropped()), "dropped-lines")
		})
	}
}

func p50(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func mean(d []time.Duration) time.Duration {
	var t time.Duration
	for _, x := range d {
		t += x
	}
	return t / time.Duration(len(d))
}

type storeSink struct{ w *logstore.Writer }

func (s storeSink) Log(r LogRecord) {
	s.w.Log(logstore.Line{Group: r.LogGroup, Stream: r.LogStream, Time: r.Time, Message: r.Message})
}
