package daemon

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/function"
	nimbusinvoke "github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/pool"
)

// BenchmarkTelemetryObserver is what metrics and metering add to one
// invocation on the invoke path (the observer calls; the meter's batches
// are stored by its own goroutine meanwhile). Read it against
// BenchmarkWarmInvoke's ns/op in the same run.
func BenchmarkTelemetryObserver(b *testing.B) {
	n := startNode(b, b.TempDir())
	obs := pool.Observers{n.d.metrics, n.d.meter}
	fn := &function.Config{FunctionName: "bench", Version: "$LATEST", MemorySize: 128}
	req := &nimbusinvoke.Request{}
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		obs.InvokeStart(ctx, fn, req)
		obs.InvokeDone(ctx, &nimbusinvoke.Record{Start: time.Now(), RequestID: strconv.Itoa(i), FunctionName: "bench", Version: "$LATEST",
			Architecture: "x86_64", MemorySizeMB: 128, Duration: time.Millisecond, BilledDuration: time.Millisecond})
	}
	b.StopTimer()
	if err := n.d.meter.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}
