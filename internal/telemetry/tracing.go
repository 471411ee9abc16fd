package telemetry

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/trace"
)

// Tracer exports the platform's spans of sampled invocations over
// OTLP/HTTP: per invocation a server span for the front door with the
// phases under it (queue: until a worker took it; init: a cold start's
// init; invoke: the function's run, whose span id is the Parent the
// function got in its X-Ray header, so the function's own spans nest under
// it; response: writing the answer). Spans share the trace id of the
// invocation's X-Amzn-Trace-Id Root, and the sampling decision is the
// header's (see package trace). A nil *Tracer is off: every method is a
// no-op.
type Tracer struct {
	tp     *sdktrace.TracerProvider
	tracer oteltrace.Tracer
	log    *slog.Logger
}

// TracesURL is the OTLP/HTTP traces URL for an endpoint: the URL itself
// if its path already ends in /v1/traces, else the path plus /v1/traces
// (OTEL_EXPORTER_OTLP_ENDPOINT's rule).
func TracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("OTLP endpoint %q is not an http(s) URL", endpoint)
	}
	if !strings.HasSuffix(u.Path, "/v1/traces") {
		u.Path = strings.TrimRight(u.Path, "/") + "/v1/traces"
	}
	return u.String(), nil
}

// NewTracer starts an OTLP/HTTP exporter to endpoint; "" returns nil (off).
func NewTracer(ctx context.Context, endpoint string, log *slog.Logger) (*Tracer, error) {
	if endpoint == "" {
		return nil, nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u, err := TracesURL(endpoint)
	if err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u), otlptracehttp.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("create OTLP exporter for %s: %w", u, err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "nimbus"), attribute.String("cloud.provider", "nimbus"))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		// The decision was made at the front door (package trace); spans
		// follow their parent's flag.
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())),
		sdktrace.WithIDGenerator(presetIDs{}),
	)
	return &Tracer{tp: tp, tracer: tp.Tracer("github.com/nimbus-serverless/nimbus"), log: log}, nil
}

// Shutdown exports what is buffered and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if err := t.tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("shut down tracer: %w", err)
	}
	return nil
}

// spanHolder collects, through a request's context, the invocations its
// front door ran.
type spanHolder struct {
	mu   sync.Mutex
	recs []*invoke.Record // guarded by mu
}

type holderKey struct{}

// Middleware wraps a front door: it gives the request a trace.Recorder
// (the handler records the invocation's trace context there) and, when
// that invocation is sampled, exports the front door's span tree once the
// response is written.
func (t *Tracer) Middleware(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		ctx, rec := trace.NewContext(r.Context())
		h := &spanHolder{}
		ctx = context.WithValue(ctx, holderKey{}, h)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		inv, ok := rec.Invocation()
		if !ok || inv.Header.Sampled != trace.Sampled {
			return
		}
		h.mu.Lock()
		recs := h.recs
		h.mu.Unlock()
		t.frontDoorSpans(r, sw.status, inv, recs, t0, time.Now())
	})
}

// statusWriter remembers the status code.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer (flushes).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// InvokeStart implements the pool's observer (spans are made at the end).
func (t *Tracer) InvokeStart(context.Context, *function.Config, *invoke.Request) {}

// InvokeDone implements the pool's observer: the record goes to the front
// door's span tree, or, for an invocation no traced front door carries
// (asynchronous, event sources), its spans are exported on their own.
func (t *Tracer) InvokeDone(ctx context.Context, r *invoke.Record) {
	if t == nil {
		return
	}
	if h, ok := ctx.Value(holderKey{}).(*spanHolder); ok {
		h.mu.Lock()
		h.recs = append(h.recs, r)
		h.mu.Unlock()
		return
	}
	hd, err := trace.Parse(r.TraceID)
	if err != nil || hd.Sampled != trace.Sampled {
		return
	}
	pctx, ok := remoteParent(context.Background(), hd, "")
	if !ok {
		return
	}
	if r.Enqueued.IsZero() || r.Enqueued.After(r.Start) {
		t.phaseSpans(pctx, hd, r, r.Start, time.Time{})
		return
	}
	// An asynchronous event: its whole life, the wait in the queue first.
	end := r.Start.Add(r.InitDuration + r.Duration)
	actx, span := t.tracer.Start(pctx, "nimbus.async", oteltrace.WithSpanKind(oteltrace.SpanKindConsumer),
		oteltrace.WithTimestamp(r.Enqueued), oteltrace.WithAttributes(attribute.String("faas.invocation_id", r.RequestID),
			attribute.String("faas.trigger", "other")))
	_, q := t.tracer.Start(actx, "nimbus.queue", oteltrace.WithTimestamp(r.Enqueued))
	q.End(oteltrace.WithTimestamp(r.Start))
	t.phaseSpans(actx, hd, r, r.Start, time.Time{})
	span.End(oteltrace.WithTimestamp(end))
}

// remoteParent is ctx with the caller's span (callerParent, or a made-up
// one when the caller sent none) as the remote parent, in hd's trace.
func remoteParent(ctx context.Context, hd trace.Header, callerParent string) (context.Context, bool) {
	tid, ok := hd.TraceID()
	if !ok {
		return ctx, false
	}
	var sid [8]byte
	if p, err := trace.Parse("Root=" + hd.Root + ";Parent=" + callerParent); err == nil && callerParent != "" {
		sid, _ = p.SpanID()
	} else {
		_, _ = rand.Read(sid[:])
	}
	flags := oteltrace.TraceFlags(0)
	if hd.Sampled == trace.Sampled {
		flags = oteltrace.FlagsSampled
	}
	sc := oteltrace.NewSpanContext(oteltrace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags, Remote: true})
	return oteltrace.ContextWithRemoteSpanContext(ctx, sc), sc.IsValid()
}

func (t *Tracer) frontDoorSpans(r *http.Request, status int, inv trace.Invocation, recs []*invoke.Record, t0, end time.Time) {
	ctx, ok := remoteParent(context.Background(), inv.Header, inv.CallerParent)
	if !ok {
		return
	}
	ctx, span := t.tracer.Start(ctx, "nimbus.frontdoor "+r.Method, oteltrace.WithSpanKind(oteltrace.SpanKindServer),
		oteltrace.WithTimestamp(t0), oteltrace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
			attribute.Int("http.response.status_code", status),
			attribute.String("aws.xray.trace_id", inv.Header.Root),
		))
	for _, rec := range recs {
		if !rec.Start.IsZero() && rec.Start.After(t0) {
			_, q := t.tracer.Start(ctx, "nimbus.queue", oteltrace.WithTimestamp(t0))
			q.End(oteltrace.WithTimestamp(rec.Start))
		}
		t.phaseSpans(ctx, inv.Header, rec, rec.Start, end)
	}
	span.End(oteltrace.WithTimestamp(end))
}

// phaseSpans exports init (cold starts), invoke and, when the front door's
// end is known, response, under ctx's span.
func (t *Tracer) phaseSpans(ctx context.Context, hd trace.Header, r *invoke.Record, start, end time.Time) {
	attrs := []attribute.KeyValue{
		attribute.String("faas.name", r.FunctionName),
		attribute.String("faas.version", r.Version),
		attribute.String("faas.invocation_id", r.RequestID),
		attribute.Bool("faas.coldstart", r.ColdStart),
		attribute.Int("faas.max_memory", r.MemorySizeMB),
		attribute.String("cloud.resource_id", r.FunctionArn),
	}
	if r.Throttled {
		attrs = append(attrs, attribute.Bool("nimbus.throttled", true))
	}
	if r.FunctionError != "" {
		attrs = append(attrs, attribute.String("error.type", r.ErrorType))
	}
	at := start
	if r.InitDuration > 0 {
		_, s := t.tracer.Start(ctx, "nimbus.init", oteltrace.WithTimestamp(at), oteltrace.WithAttributes(attrs...))
		at = at.Add(r.InitDuration)
		s.End(oteltrace.WithTimestamp(at))
	}
	// The invoke span takes the id the function got as its Parent.
	ictx := ctx
	if sid, ok := hd.SpanID(); ok {
		ictx = context.WithValue(ctx, presetSpanKey{}, oteltrace.SpanID(sid))
	}
	_, s := t.tracer.Start(ictx, "nimbus.invoke", oteltrace.WithSpanKind(oteltrace.SpanKindInternal),
		oteltrace.WithTimestamp(at), oteltrace.WithAttributes(attrs...))
	at = at.Add(r.Duration)
	s.End(oteltrace.WithTimestamp(at))
	if !end.IsZero() && end.After(at) {
		_, s := t.tracer.Start(ctx, "nimbus.response", oteltrace.WithTimestamp(at))
		s.End(oteltrace.WithTimestamp(end))
	}
}

// presetIDs is the SDK's id generator, except that a span started with a
// presetSpanKey in its context gets that span id.
type presetIDs struct{}

type presetSpanKey struct{}

func (presetIDs) NewIDs(ctx context.Context) (oteltrace.TraceID, oteltrace.SpanID) {
	var tid oteltrace.TraceID
	_, _ = rand.Read(tid[:])
	return tid, presetIDs{}.NewSpanID(ctx, tid)
}

func (presetIDs) NewSpanID(ctx context.Context, _ oteltrace.TraceID) oteltrace.SpanID {
	if sid, ok := ctx.Value(presetSpanKey{}).(oteltrace.SpanID); ok && sid.IsValid() {
		return sid
	}
	var sid oteltrace.SpanID
	for !sid.IsValid() {
		_, _ = rand.Read(sid[:])
	}
	return sid
}
