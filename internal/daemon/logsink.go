package daemon

import (
	"fmt"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nimbus-serverless/nimbus/internal/logstore"
	"github.com/nimbus-serverless/nimbus/internal/pool"
	"github.com/nimbus-serverless/nimbus/internal/telemetry"
)

// logFanout hands every log line of the pool to each consumer added. A
// consumer's Log must not block (see pool.LogSink).
type logFanout struct {
	mu    sync.RWMutex
	sinks []pool.LogSink // guarded by mu
}

// Add attaches a consumer; wire consumers before the first invoke.
func (f *logFanout) Add(s pool.LogSink) {
	f.mu.Lock()
	f.sinks = append(f.sinks, s)
	f.mu.Unlock()
}

// Log implements pool.LogSink.
func (f *logFanout) Log(rec pool.LogRecord) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, s := range f.sinks {
		s.Log(rec)
	}
}

// logStoreSink stores lines in the log store (asynchronously, dropping
// and counting when it falls behind).
type logStoreSink struct{ w *logstore.Writer }

func (s logStoreSink) Log(rec pool.LogRecord) {
	s.w.Log(logstore.Line{Group: rec.LogGroup, Stream: rec.LogStream, Time: rec.Time, Message: rec.Message})
}

// emfSink hands the function's own lines that may be Embedded Metric
// Format to the metrics (platform lines never are).
type emfSink struct{ m *telemetry.Metrics }

func (s emfSink) Log(rec pool.LogRecord) {
	if rec.Platform || !strings.Contains(rec.Message, `"_aws"`) {
		return
	}
	s.m.EMFLine(rec.Function, rec.Version, []byte(rec.Message))
}

// registerLogMetrics exposes the log writer's counters on /metrics: lines
// stored, and lines dropped because the backbone fell behind.
func registerLogMetrics(reg *prometheus.Registry, w *logstore.Writer) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "nimbus_function_log_lines_stored_total",
			Help: "Function log lines stored in the log store.",
		}, func() float64 { return float64(w.Stored()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "nimbus_function_log_lines_dropped_total",
			Help: "Function log lines dropped because the log store fell behind (full buffer or failed write).",
		}, func() float64 { return float64(w.Dropped()) }),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register log metrics: %w", err)
		}
	}
	return nil
}
