package pool

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// Observer is told about every invocation the pool takes: InvokeStart
// when it begins (before an environment is found), InvokeDone with the
// measured record when it ends, throttled or failed ones included. Both run
// on the invoke path and must not block; ctx is the invocation's.
// Telemetry (metrics, traces) and cost metering implement it.
type Observer interface {
	InvokeStart(ctx context.Context, fn *function.Config, req *invoke.Request)
	InvokeDone(ctx context.Context, rec *invoke.Record)
}

// Observers fans out to several observers, in order.
type Observers []Observer

// InvokeStart implements Observer.
func (os Observers) InvokeStart(ctx context.Context, fn *function.Config, req *invoke.Request) {
	for _, o := range os {
		o.InvokeStart(ctx, fn, req)
	}
}

// InvokeDone implements Observer.
func (os Observers) InvokeDone(ctx context.Context, rec *invoke.Record) {
	for _, o := range os {
		o.InvokeDone(ctx, rec)
	}
}

// observeStart reports the start of an invocation and returns its start
// time.
func (m *Manager) observeStart(ctx context.Context, fn *function.Config, req *invoke.Request) time.Time {
	t0 := time.Now()
	m.opts.Observer.InvokeStart(ctx, fn, req)
	return t0
}

// observeDone builds the invocation's record from its outcome and reports
// it.
func (m *Manager) observeDone(ctx context.Context, fn *function.Config, req *invoke.Request, t0 time.Time, res *invoke.Result, err error) {
	rec := &invoke.Record{
		Start:        t0,
		Enqueued:     req.Enqueued,
		RequestID:    req.RequestID,
		FunctionName: fn.FunctionName,
		FunctionArn:  fn.FunctionArn,
		Version:      fn.Version,
		Qualifier:    qualifierOf(req.InvokedFunctionArn),
		Architecture: architecture(fn),
		MemorySizeMB: fn.MemoryMB(),
		TraceID:      req.TraceID,
	}
	switch {
	case res != nil:
		rec.Duration, rec.InitDuration = res.Duration, res.InitDuration
		rec.BilledDuration, rec.MaxMemoryUsedMB = res.BilledDuration, res.MaxMemoryUsedMB
		if rec.BilledDuration == 0 {
			rec.BilledDuration = invoke.Billed(res.Duration, res.InitDuration)
		}
		rec.ColdStart = res.InitDuration > 0
		rec.FunctionError, rec.ErrorType = res.FunctionError, res.ErrorType
		rec.Provisioned, rec.Spillover = res.Provisioned, res.Spillover
	case isThrottle(err):
		rec.Throttled = true
	default:
		rec.PlatformError = err != nil
	}
	m.opts.Observer.InvokeDone(ctx, rec)
}

// isThrottle reports a concurrency limit's refusal.
func isThrottle(err error) bool { return errors.Is(err, errdefs.ErrThrottled) }

// qualifierOf is the alias or version an invoked ARN names, "" for none.
func qualifierOf(arn string) string {
	// arn:aws:lambda:region:account:function:name[:qualifier]
	if strings.Count(arn, ":") < 7 {
		return ""
	}
	return arn[strings.LastIndexByte(arn, ':')+1:]
}

func architecture(fn *function.Config) string {
	if len(fn.Architectures) > 0 && fn.Architectures[0] != "" {
		return fn.Architectures[0]
	}
	return "x86_64"
}

// Accepting reports whether the pool takes invocations (it has not begun
// to close).
func (m *Manager) Accepting() bool { return !m.closing() }
