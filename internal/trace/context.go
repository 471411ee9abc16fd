package trace

import (
	"context"
	"sync"
)

// Recorder carries, through a request's context, the trace context its
// front door decided, so the telemetry around the front door (its span) can
// read what the handler inside chose.
type Recorder struct {
	mu  sync.Mutex
	inv Invocation // guarded by mu
	set bool       // guarded by mu
}

type recorderKey struct{}

// NewContext returns ctx with a fresh Recorder.
func NewContext(ctx context.Context) (context.Context, *Recorder) {
	r := &Recorder{}
	return context.WithValue(ctx, recorderKey{}, r), r
}

// Record notes inv on ctx's Recorder; without one it does nothing.
func Record(ctx context.Context, inv Invocation) {
	if r, ok := ctx.Value(recorderKey{}).(*Recorder); ok {
		r.mu.Lock()
		r.inv, r.set = inv, true
		r.mu.Unlock()
	}
}

// Invocation returns what was recorded, if anything.
func (r *Recorder) Invocation() (Invocation, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inv, r.set
}
