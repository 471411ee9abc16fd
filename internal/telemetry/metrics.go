// Package telemetry owns what a node tells about itself: the Prometheus
// endpoint (GET /metrics) with Lambda's per-function metrics, metrics
// extracted from functions' Embedded Metric Format log lines, the health
// endpoints (/healthz, /readyz), and the platform's OpenTelemetry spans
// (front door, queueing, init, invoke, response) exported over OTLP.
//
// Metrics implements the pool's invocation observer; the daemon wires it
// and serves Handler on the API listener. Only daemon imports it.
package telemetry

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// AsyncStat is the node's asynchronous-invocation state, as the async
// queue reports it: the queue now, and counters since the node started.
type AsyncStat struct {
	// Depth is the number of events queued or running; OldestAge the age
	// of the oldest.
	Depth     uint64
	OldestAge time.Duration
	Received  uint64
	// Retries after function errors; ThrottleRetries after throttles and
	// platform errors.
	Retries, ThrottleRetries uint64
	// Dropped events: their function was deleted, they outlived
	// MaximumEventAgeInSeconds, they failed every attempt.
	DroppedDeleted, DroppedForAge, RetriesExhausted uint64
	// Records sent to destinations (OnSuccess, OnFailure, dead-letter
	// queue) and the ones that could not be delivered.
	DestinationDeliveries, DestinationFailures uint64
}

// MetricsOptions configures Metrics.
type MetricsOptions struct {
	// Async, when set, reads the async queue's state at each scrape.
	Async func(ctx context.Context) (AsyncStat, error)
	// MaxEMFSeries caps the label sets EMF metrics may create
	// (DefaultMaxEMFSeries when zero).
	MaxEMFSeries int
	Logger       *slog.Logger
}

// Metrics is the node's Prometheus registry (its own, not the global one)
// with the Lambda metric families. It is safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger

	invocations  *prometheus.CounterVec
	errors       *prometheus.CounterVec
	throttles    *prometheus.CounterVec
	platformErrs *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	durationMin  *prometheus.GaugeVec
	durationMax  *prometheus.GaugeVec
	billed       *prometheus.CounterVec
	gbSeconds    *prometheus.CounterVec
	initDuration *prometheus.HistogramVec
	concurrent   *prometheus.GaugeVec
	provisioned  *prometheus.CounterVec
	spillover    *prometheus.CounterVec

	emf *emfCollector

	// Resolved series per label set, so the invoke path does one map
	// lookup instead of a hash per family.
	byFunction sync.Map // fnSeriesKey -> *series
	byVersion  sync.Map // versionKey -> *versionSeries
}

type fnSeriesKey struct{ fn, ver, alias, arch string }

type series struct {
	invocations, errors, throttles, platformErrs, billed, gbSeconds, provisioned, spillover prometheus.Counter
	duration                                                                                prometheus.Observer

	// The smallest and largest Duration observed, the bounds a quantile
	// estimated from the histogram's buckets is clamped to.
	mu                       sync.Mutex
	observed                 bool
	minSeconds, maxSeconds   float64
	durationMin, durationMax prometheus.Gauge
}

// observe records one invocation's duration in the histogram and the
// min/max gauges.
func (s *series) observe(seconds float64) {
	s.duration.Observe(seconds)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.observed || seconds < s.minSeconds {
		s.minSeconds = seconds
		s.durationMin.Set(seconds)
	}
	if !s.observed || seconds > s.maxSeconds {
		s.maxSeconds = seconds
		s.durationMax.Set(seconds)
	}
	s.observed = true
}

type versionKey struct{ fn, ver string }

type versionSeries struct {
	concurrent   prometheus.Gauge
	initDuration prometheus.Observer
}

func (m *Metrics) series(fn, ver, alias, arch string) *series {
	k := fnSeriesKey{fn, ver, alias, arch}
	if s, ok := m.byFunction.Load(k); ok {
		return s.(*series)
	}
	s := &series{
		invocations:  m.invocations.WithLabelValues(fn, ver, alias),
		errors:       m.errors.WithLabelValues(fn, ver, alias),
		throttles:    m.throttles.WithLabelValues(fn, ver, alias),
		platformErrs: m.platformErrs.WithLabelValues(fn, ver, alias),
		billed:       m.billed.WithLabelValues(fn, ver, alias),
		gbSeconds:    m.gbSeconds.WithLabelValues(fn, ver, alias, arch),
		provisioned:  m.provisioned.WithLabelValues(fn, ver, alias),
		spillover:    m.spillover.WithLabelValues(fn, ver, alias),
		duration:     m.duration.WithLabelValues(fn, ver, alias),
		durationMin:  m.durationMin.WithLabelValues(fn, ver, alias),
		durationMax:  m.durationMax.WithLabelValues(fn, ver, alias),
	}
	v, _ := m.byFunction.LoadOrStore(k, s)
	return v.(*series)
}

func (m *Metrics) version(fn, ver string) *versionSeries {
	k := versionKey{fn, ver}
	if s, ok := m.byVersion.Load(k); ok {
		return s.(*versionSeries)
	}
	s := &versionSeries{
		concurrent:   m.concurrent.WithLabelValues(fn, ver),
		initDuration: m.initDuration.WithLabelValues(fn, ver),
	}
	v, _ := m.byVersion.LoadOrStore(k, s)
	return v.(*versionSeries)
}

// Labels of the per-function families.
var fnLabels = []string{"function", "version", "alias"}

// Duration buckets: 1 ms to 15 minutes (Lambda's longest timeout).
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900}

// NewMetrics builds the registry with every family, the process and Go
// runtime collectors included.
func NewMetrics(opts MetricsOptions) *Metrics {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{reg: prometheus.NewRegistry(), log: log}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	m.invocations = counter("nimbus_lambda_invocations_total", "Invocations that ran function code (successful or failed), like Lambda's Invocations.", fnLabels...)
	m.errors = counter("nimbus_lambda_errors_total", "Invocations that ended in a function error (handled, timeout, crash, out of memory), like Lambda's Errors.", fnLabels...)
	m.throttles = counter("nimbus_lambda_throttles_total", "Invocations refused by a concurrency limit, like Lambda's Throttles.", fnLabels...)
	m.platformErrs = counter("nimbus_lambda_platform_errors_total", "Invocations the platform failed before or around the function (no environment, shutdown).", fnLabels...)
	m.billed = counter("nimbus_lambda_billed_duration_seconds_total", "Billed duration (invoke plus init, rounded up to the millisecond).", fnLabels...)
	m.gbSeconds = counter("nimbus_lambda_gb_seconds_total", "Billed duration times memory size in GB: Lambda's unit of compute charge.", "function", "version", "alias", "architecture")
	m.provisioned = counter("nimbus_lambda_provisioned_concurrency_invocations_total", "Invocations run on provisioned-concurrency environments.", fnLabels...)
	m.spillover = counter("nimbus_lambda_provisioned_concurrency_spillover_invocations_total", "Invocations run on demand while provisioned concurrency was exhausted.", fnLabels...)
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "nimbus_lambda_duration_seconds", Help: "Time the function code spent on an invocation (REPORT's Duration).",
		Buckets: durationBuckets,
	}, fnLabels)
	// The histogram's buckets only bound a quantile to a bucket; the
	// observed min and max are the real bounds (nimbus metrics clamps its
	// estimate to them). A series appears with its first invocation.
	m.durationMin = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "nimbus_lambda_duration_min_seconds", Help: "Shortest Duration observed since the node started.",
	}, fnLabels)
	m.durationMax = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "nimbus_lambda_duration_max_seconds", Help: "Longest Duration observed since the node started.",
	}, fnLabels)
	m.initDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "nimbus_lambda_init_duration_seconds", Help: "Init phase of cold starts (REPORT's Init Duration); the count is the number of cold starts.",
		Buckets: durationBuckets,
	}, []string{"function", "version"})
	m.concurrent = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "nimbus_lambda_concurrent_executions", Help: "Invocations in flight, like Lambda's ConcurrentExecutions.",
	}, []string{"function", "version"})
	m.reg.MustRegister(m.duration, m.durationMin, m.durationMax, m.initDuration, m.concurrent)
	m.reg.MustRegister(&asyncCollector{read: opts.Async})
	m.emf = newEMFCollector(opts.MaxEMFSeries)
	m.reg.MustRegister(m.emf, m.emf.invalid, m.emf.dropped)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the node's registry (for tests and for other components'
// collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text (or OpenMetrics)
// format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		EnableOpenMetrics: true,
	})
}

// InvokeStart implements the pool's observer: one more invocation in
// flight.
func (m *Metrics) InvokeStart(_ context.Context, fn *function.Config, _ *invoke.Request) {
	m.version(fn.FunctionName, fn.Version).concurrent.Inc()
}

// InvokeDone implements the pool's observer: counts and timings of one
// invocation.
func (m *Metrics) InvokeDone(_ context.Context, r *invoke.Record) {
	v := m.version(r.FunctionName, r.Version)
	v.concurrent.Dec()
	s := m.series(r.FunctionName, r.Version, aliasOf(r), r.Architecture)
	switch {
	case r.Throttled:
		s.throttles.Inc()
		return
	case r.PlatformError:
		s.platformErrs.Inc()
		return
	}
	s.invocations.Inc()
	if r.FunctionError != "" {
		s.errors.Inc()
	}
	s.observe(r.Duration.Seconds())
	if r.ColdStart {
		v.initDuration.Observe(r.InitDuration.Seconds())
	}
	s.billed.Add(r.BilledDuration.Seconds())
	s.gbSeconds.Add(GBSeconds(r.BilledDuration, r.MemorySizeMB))
	if r.Provisioned {
		s.provisioned.Inc()
	}
	if r.Spillover {
		s.spillover.Inc()
	}
}

// CounterFunc exposes a counter another component keeps (read at each
// scrape). Names must be unique; a duplicate panics at wiring time.
func (m *Metrics) CounterFunc(name, help string, read func() uint64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
		func() float64 { return float64(read()) }))
}

// GaugeFunc exposes a value another component keeps (read at each
// scrape).
func (m *Metrics) GaugeFunc(name, help string, read func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, read))
}

// GBSeconds is Lambda's compute unit: billed seconds times memory in GB
// (1024 MB).
func GBSeconds(billed time.Duration, memoryMB int) float64 {
	return billed.Seconds() * float64(memoryMB) / 1024
}

// aliasOf is the alias the caller named: a qualifier that is not a version
// number or $LATEST.
func aliasOf(r *invoke.Record) string {
	q := r.Qualifier
	if q == "" || q == "$LATEST" || q == r.Version {
		return ""
	}
	for _, c := range q {
		if c < '0' || c > '9' {
			return q
		}
	}
	return ""
}

// asyncCollector reads the async queue's state at scrape time.
type asyncCollector struct {
	read func(ctx context.Context) (AsyncStat, error)
}

func asyncDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descAsyncDepth    = asyncDesc("nimbus_lambda_async_events_queued", "Asynchronous events queued or running (node-wide).")
	descAsyncAge      = asyncDesc("nimbus_lambda_async_event_age_seconds", "Age of the oldest queued asynchronous event, like Lambda's AsyncEventAge.")
	descAsyncReceived = asyncDesc("nimbus_lambda_async_events_received_total", "Asynchronous events accepted, like Lambda's AsyncEventsReceived.")
	descAsyncRetries  = asyncDesc("nimbus_lambda_async_retries_total", "Asynchronous invocations retried, by cause (function_error, throttle).", "cause")
	descAsyncDropped  = asyncDesc("nimbus_lambda_async_events_dropped_total",
		"Asynchronous events dropped without success, like Lambda's AsyncEventsDropped, by reason (function_deleted, event_age, retries_exhausted).", "reason")
	descDestOK   = asyncDesc("nimbus_lambda_destination_deliveries_total", "Records delivered to destinations (OnSuccess, OnFailure, dead-letter queue).")
	descDestFail = asyncDesc("nimbus_lambda_destination_delivery_failures_total",
		"Records that could not be delivered to a destination or dead-letter queue, like Lambda's DestinationDeliveryFailures and DeadLetterErrors.")
)

func (c *asyncCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAsyncDepth, descAsyncAge, descAsyncReceived, descAsyncRetries, descAsyncDropped, descDestOK, descDestFail} {
		ch <- d
	}
}

func (c *asyncCollector) Collect(ch chan<- prometheus.Metric) {
	if c.read == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := c.read(ctx)
	if err != nil {
		return // the families are absent from this scrape
	}
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	ch <- prometheus.MustNewConstMetric(descAsyncDepth, gauge, float64(s.Depth))
	ch <- prometheus.MustNewConstMetric(descAsyncAge, gauge, s.OldestAge.Seconds())
	ch <- prometheus.MustNewConstMetric(descAsyncReceived, counter, float64(s.Received))
	ch <- prometheus.MustNewConstMetric(descAsyncRetries, counter, float64(s.Retries), "function_error")
	ch <- prometheus.MustNewConstMetric(descAsyncRetries, counter, float64(s.ThrottleRetries), "throttle")
	ch <- prometheus.MustNewConstMetric(descAsyncDropped, counter, float64(s.DroppedDeleted), "function_deleted")
	ch <- prometheus.MustNewConstMetric(descAsyncDropped, counter, float64(s.DroppedForAge), "event_age")
	ch <- prometheus.MustNewConstMetric(descAsyncDropped, counter, float64(s.RetriesExhausted), "retries_exhausted")
	ch <- prometheus.MustNewConstMetric(descDestOK, counter, float64(s.DestinationDeliveries))
	ch <- prometheus.MustNewConstMetric(descDestFail, counter, float64(s.DestinationFailures))
}
