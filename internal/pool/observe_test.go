package pool

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

type recordingObserver struct {
	starts int
	recs   []*invoke.Record
}

func (o *recordingObserver) InvokeStart(context.Context, *function.Config, *invoke.Request) {
	o.starts++
}
func (o *recordingObserver) InvokeDone(_ context.Context, r *invoke.Record) {
	o.recs = append(o.recs, r)
}

// The observer's record classifies an outcome: a ran invocation with
// REPORT's numbers, a throttle (the scaling contract's
// TooManyRequestsException), a platform failure.
func TestObserveDoneClassifies(t *testing.T) {
	o := &recordingObserver{}
	m := &Manager{opts: Options{Observer: o}}
	fn := &function.Config{FunctionName: "f", FunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:f", Version: "3",
		MemorySize: 256, Architectures: []string{"arm64"}}
	req := &invoke.Request{RequestID: "r", InvokedFunctionArn: fn.FunctionArn + ":live", TraceID: "Root=1-5759e988-bd862e3fe1be46a994272793"}
	t0 := time.Now()
	res := &invoke.Result{Duration: 1500 * time.Microsecond, InitDuration: 4 * time.Millisecond, BilledDuration: 6 * time.Millisecond,
		MaxMemoryUsedMB: 30, FunctionError: "Unhandled", ErrorType: "Runtime.ExitError"}
	m.observeDone(context.Background(), fn, req, t0, res, nil)
	m.observeDone(context.Background(), fn, req, t0, nil, errdefs.Throttled("ReservedFunctionConcurrentInvocationLimitExceeded", 0, "Rate Exceeded."))
	m.observeDone(context.Background(), fn, req, t0, nil, errors.Join(errClosed))
	if len(o.recs) != 3 {
		t.Fatalf("%d records", len(o.recs))
	}
	r := o.recs[0]
	if r.Qualifier != "live" || r.Architecture != "arm64" || r.MemorySizeMB != 256 || !r.ColdStart || r.BilledDuration != 6*time.Millisecond ||
		r.MaxMemoryUsedMB != 30 || r.ErrorType != "Runtime.ExitError" || r.Throttled || r.PlatformError || r.TraceID != req.TraceID {
		t.Errorf("ran: %+v", r)
	}
	if !o.recs[1].Throttled || o.recs[1].PlatformError {
		t.Errorf("throttle: %+v", o.recs[1])
	}
	if o.recs[2].Throttled || !o.recs[2].PlatformError {
		t.Errorf("platform error: %+v", o.recs[2])
	}
	if qualifierOf("arn:aws:lambda:us-east-1:000000000000:function:f") != "" {
		t.Error("unqualified ARN has a qualifier")
	}
}
