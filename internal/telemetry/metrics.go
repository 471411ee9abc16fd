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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// AsyncStat is one function version's asynchronous-invocation state, as the
// async queue reports it.
type AsyncStat struct {
	Function, Version string
	// Depth is the number of events queued; OldestAge the age of the
	// oldest.
	Depth     int
	OldestAge time.Duration
	// Counters since the node started.
	Dropped, DestinationFailures, DeadLetterFailures uint64
}

// MetricsOptions configures Metrics.
type MetricsOptions struct {
	// Async, when set, reads the async queue's state at each scrape.
	Async func() []AsyncStat
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
	billed       *prometheus.CounterVec
	gbSeconds    *prometheus.CounterVec
	initDuration *prometheus.HistogramVec
	concurrent   *prometheus.GaugeVec
	provisioned  *prometheus.CounterVec
	spillover    *prometheus.CounterVec

	emf *emfCollector
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
	m.initDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "nimbus_lambda_init_duration_seconds", Help: "Init phase of cold starts (REPORT's Init Duration); the count is the number of cold starts.",
		Buckets: durationBuckets,
	}, []string{"function", "version"})
	m.concurrent = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "nimbus_lambda_concurrent_executions", Help: "Invocations in flight, like Lambda's ConcurrentExecutions.",
	}, []string{"function", "version"})
	m.reg.MustRegister(m.duration, m.initDuration, m.concurrent)
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
	m.concurrent.WithLabelValues(fn.FunctionName, fn.Version).Inc()
}

// InvokeDone implements the pool's observer: counts and timings of one
// invocation.
func (m *Metrics) InvokeDone(_ context.Context, r *invoke.Record) {
	m.concurrent.WithLabelValues(r.FunctionName, r.Version).Dec()
	alias := aliasOf(r)
	switch {
	case r.Throttled:
		m.throttles.WithLabelValues(r.FunctionName, r.Version, alias).Inc()
		return
	case r.PlatformError:
		m.platformErrs.WithLabelValues(r.FunctionName, r.Version, alias).Inc()
		return
	}
	m.invocations.WithLabelValues(r.FunctionName, r.Version, alias).Inc()
	if r.FunctionError != "" {
		m.errors.WithLabelValues(r.FunctionName, r.Version, alias).Inc()
	}
	m.duration.WithLabelValues(r.FunctionName, r.Version, alias).Observe(r.Duration.Seconds())
	if r.ColdStart {
		m.initDuration.WithLabelValues(r.FunctionName, r.Version).Observe(r.InitDuration.Seconds())
	}
	m.billed.WithLabelValues(r.FunctionName, r.Version, alias).Add(r.BilledDuration.Seconds())
	m.gbSeconds.WithLabelValues(r.FunctionName, r.Version, alias, r.Architecture).Add(GBSeconds(r.BilledDuration, r.MemorySizeMB))
	if r.Provisioned {
		m.provisioned.WithLabelValues(r.FunctionName, r.Version, alias).Inc()
	}
	if r.Spillover {
		m.spillover.WithLabelValues(r.FunctionName, r.Version, alias).Inc()
	}
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
	read func() []AsyncStat
}

var (
	descAsyncDepth = prometheus.NewDesc("nimbus_lambda_async_events_queued",
		"Asynchronous events waiting to be run.", []string{"function", "version"}, nil)
	descAsyncAge = prometheus.NewDesc("nimbus_lambda_async_event_age_seconds",
		"Age of the oldest queued asynchronous event, like Lambda's AsyncEventAge.", []string{"function", "version"}, nil)
	descAsyncDropped = prometheus.NewDesc("nimbus_lambda_async_events_dropped_total",
		"Asynchronous events dropped without running, like Lambda's AsyncEventsDropped.", []string{"function", "version"}, nil)
	descDestFail = prometheus.NewDesc("nimbus_lambda_destination_delivery_failures_total",
		"Failed deliveries to an on-success or on-failure destination.", []string{"function", "version"}, nil)
	descDLQFail = prometheus.NewDesc("nimbus_lambda_dead_letter_errors_total",
		"Failed deliveries to the dead-letter queue, like Lambda's DeadLetterErrors.", []string{"function", "version"}, nil)
)

func (c *asyncCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAsyncDepth, descAsyncAge, descAsyncDropped, descDestFail, descDLQFail} {
		ch <- d
	}
}

func (c *asyncCollector) Collect(ch chan<- prometheus.Metric) {
	if c.read == nil {
		return
	}
	for _, s := range c.read() {
		ch <- prometheus.MustNewConstMetric(descAsyncDepth, prometheus.GaugeValue, float64(s.Depth), s.Function, s.Version)
		ch <- prometheus.MustNewConstMetric(descAsyncAge, prometheus.GaugeValue, s.OldestAge.Seconds(), s.Function, s.Version)
		ch <- prometheus.MustNewConstMetric(descAsyncDropped, prometheus.CounterValue, float64(s.Dropped), s.Function, s.Version)
		ch <- prometheus.MustNewConstMetric(descDestFail, prometheus.CounterValue, float64(s.DestinationFailures), s.Function, s.Version)
		ch <- prometheus.MustNewConstMetric(descDLQFail, prometheus.CounterValue, float64(s.DeadLetterFailures), s.Function, s.Version)
	}
}
