package invoke

import (
	"math"
	"time"
)

// Record is what the platform measured of one invocation: the numbers of
// its REPORT line and what metrics, traces and metering need. The pool
// hands one to its observer when an invocation ends, whether it ran, failed
// or was throttled.
type Record struct {
	// Start is when the worker took the invocation (before any init);
	// Enqueued when its asynchronous event was accepted (zero if sync).
	Start, Enqueued time.Time
	RequestID       string
	FunctionName    string
	// FunctionArn is the unqualified ARN; Version the version that ran;
	// Qualifier the alias or version the caller named ("" for none).
	FunctionArn, Version, Qualifier string
	// Architecture is x86_64 or arm64.
	Architecture string
	MemorySizeMB int
	// MaxMemoryUsedMB is as REPORT prints it (0 when unknown).
	MaxMemoryUsedMB int
	// Duration is the invoke phase, InitDuration the init phase of a cold
	// start (0 when warm), BilledDuration what Lambda bills: both phases,
	// rounded up to the millisecond.
	Duration, InitDuration, BilledDuration time.Duration
	ColdStart                              bool
	// Provisioned is set when a provisioned-concurrency environment ran it;
	// Spillover when provisioned concurrency was configured but exhausted.
	Provisioned, Spillover bool
	// FunctionError is "Unhandled" when the function failed; ErrorType is
	// its type (Sandbox.Timedout for a timeout, Runtime.* for exits).
	FunctionError, ErrorType string
	// Throttled: a concurrency limit refused the invocation (no run).
	Throttled bool
	// PlatformError: the platform failed it (no environment, shutdown).
	PlatformError bool
	// TraceID is the X-Ray header the function got.
	TraceID string
}

// Billed is Lambda's billed duration for an invoke phase of dur after an
// init phase of init: the sum rounded up to the next millisecond (Lambda
// bills the init phase of on-demand invocations since August 2025).
func Billed(dur, init time.Duration) time.Duration {
	ms := math.Ceil(float64(dur+init) / float64(time.Millisecond))
	return time.Duration(ms) * time.Millisecond
}
