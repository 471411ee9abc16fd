package runtimeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
)

// step is where one invocation is in its life.
type step int

const (
	stepQueued     step = iota // waiting for a GET /next
	stepDelivered              // sent to the runtime, unanswered (Busy)
	stepResponding             // a /response or /error is reading its body
)

// call is one Invoke in flight. All fields but the immutable ones are
// guarded by Server.mu; resp and err are written before done is closed and
// read after.
type call struct {
	inv           *Invocation
	deadlineMs    int64
	clientContext []byte         // compacted JSON or nil
	cognito       []byte         // compacted JSON or nil
	stream        *guardedStream // nil unless the invocation streams

	step        step // guarded by mu
	abandoned   bool // guarded by mu; Invoke returned before the runtime answered
	extNotified bool // guarded by mu; extensions got its INVOKE event

	done chan struct{}
	resp *Response
	err  error
}

// waiter is one parked GET /next; it receives the call assigned to it.
type waiter struct {
	ch chan *call // buffered 1
}

func newCall(ctx context.Context, inv *Invocation) (*call, error) {
	if inv == nil {
		return nil, fmt.Errorf("%w: nil invocation", ErrInvalidInvocation)
	}
	if !validRequestID(inv.RequestID) {
		return nil, fmt.Errorf("%w: request id %q is not 1-128 URL-safe characters", ErrInvalidInvocation, inv.RequestID)
	}
	for name, v := range map[string]string{
		"invoked function arn": inv.InvokedFunctionArn,
		"trace id":             inv.TraceID,
		"tenant id":            inv.TenantID,
	} {
		if !validHeaderValue(v) {
			return nil, fmt.Errorf("%w: %s has control characters", ErrInvalidInvocation, name)
		}
	}
	cp := *inv // the caller may reuse inv once Invoke returns
	c := &call{inv: &cp, done: make(chan struct{})}
	if inv.Stream != nil {
		c.stream = &guardedStream{s: inv.Stream}
	}
	deadline := inv.Deadline
	if deadline.IsZero() {
		d, ok := ctx.Deadline()
		if !ok {
			return nil, fmt.Errorf("%w: no deadline on the invocation or its context", ErrInvalidInvocation)
		}
		deadline = d
	}
	c.deadlineMs = deadline.UnixMilli()
	var err error
	if c.clientContext, err = compactJSON(inv.ClientContext); err != nil {
		return nil, fmt.Errorf("%w: client context: %w", ErrInvalidInvocation, err)
	}
	if c.cognito, err = compactJSON(inv.CognitoIdentity); err != nil {
		return nil, fmt.Errorf("%w: cognito identity: %w", ErrInvalidInvocation, err)
	}
	return c, nil
}

// compactJSON returns b without insignificant whitespace (so it fits in a
// header line), nil for empty, or an error if b is not JSON.
func compactJSON(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, fmt.Errorf("compact json: %w", err)
	}
	return out.Bytes(), nil
}

func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == ':':
		default:
			return false
		}
	}
	return true
}

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// WaitInit waits for the runtime to finish initialising: (nil, nil) once
// its first GET /next arrives, (errResp, nil) if it posted /init/error
// instead. It returns ctx.Err() when ctx ends (init timeout, or the caller
// saw the process die), ErrReset if Reset is called meanwhile, ErrClosed
// after Close. After init it returns at once with the same answer.
func (s *Server) WaitInit(ctx context.Context) (*ErrorResponse, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	g := s.gen
	s.mu.Unlock()
	if s.hookWaitInit != nil {
		s.hookWaitInit()
	}

	select {
	case <-g.initDone:
		return g.initErr, nil
	default:
	}
	select {
	case <-g.initDone:
		return g.initErr, nil
	case <-g.done:
		return nil, s.endedErr()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// endedErr says why a generation ended.
func (s *Server) endedErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return ErrReset
}

// Invoke hands inv to the runtime (the parked GET /next, or the next one to
// arrive) and waits for its /response or /error. Function errors are a
// Response with Error set, not a Go error. Errors: ctx.Err() when ctx ends
// (the invocation is withdrawn if not yet delivered, else abandoned: its
// answer is dropped and the environment stays Busy until it comes);
// ErrResponseTooLarge; *InitError if the runtime reported an init error;
// ErrBusy if an invocation is already in flight; ErrReset, ErrClosed;
// ErrInvalidInvocation for a malformed inv.
//
// Invoke may be called before init is done; the invocation then waits for
// the runtime's first /next (Lambda's "init inside the first invoke").
// The byte slices of inv are read until the runtime has received them,
// which may be after an abandoned Invoke returned: do not modify them.
func (s *Server) Invoke(ctx context.Context, inv *Invocation) (*Response, error) {
	c, err := newCall(ctx, inv)
	if err != nil {
		return nil, err
	}
	defer c.stream.close() // no writes to the caller's Stream once we return
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return nil, ErrClosed
	case s.phase == phaseInitFailed:
		er := s.gen.initErr
		s.mu.Unlock()
		return nil, &InitError{Response: er}
	case s.cur != nil:
		s.mu.Unlock()
		return nil, ErrBusy
	}
	s.cur = c
	s.dispatchLocked()
	s.mu.Unlock()
	if s.hookQueued != nil {
		s.hookQueued()
	}

	select {
	case <-c.done:
		return c.resp, c.err
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-c.done: // answered while we were giving up: take the answer
		return c.resp, c.err
	default:
	}
	if s.cur == c {
		if c.step == stepQueued {
			s.cur = nil
		} else {
			c.abandoned = true
			s.log.Info("invocation abandoned before the runtime answered", "request_id", c.inv.RequestID)
		}
	}
	return nil, ctx.Err()
}

// Reset forgets the current runtime process: a waiting Invoke and WaitInit
// return ErrReset, parked GET /next handlers answer 500, connections
// accepted so far are closed (and any request still arriving on them is
// refused), and the state returns to Initializing so that WaitInit waits
// for the next process's first /next. Call it after the old process has
// been killed and before starting the new one.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	old := s.gen
	if s.cur != nil {
		s.completeLocked(s.cur, nil, ErrReset)
	}
	s.waiters = nil
	s.phase = phaseInitializing
	s.gen = newGeneration(old.n + 1)
	s.exts, s.runtimeNext, s.extErr = nil, false, nil
	s.expected = s.expectedExtensions()
	s.stopTelemetryLocked()
	s.early = nil
	s.keepEarly.Store(true)
	s.extChangedLocked()
	close(old.done)
	for c, n := range s.conns {
		if n < s.gen.n {
			_ = c.Close()
		}
	}
	s.log.Debug("environment reset", "generation", s.gen.n)
}

// dispatchLocked hands a queued invocation to the oldest parked /next.
func (s *Server) dispatchLocked() {
	c := s.cur
	if s.phase != phaseReady || c == nil || c.step != stepQueued || len(s.waiters) == 0 {
		return
	}
	w := s.waiters[0]
	s.waiters[0] = nil
	s.waiters = s.waiters[1:]
	c.step = stepDelivered
	s.notifyInvokeLocked(c)
	w.ch <- c
}

// completeLocked records the outcome of c and, if c is current, returns the
// environment to Idle.
func (s *Server) completeLocked(c *call, resp *Response, err error) {
	select {
	case <-c.done:
		return
	default:
	}
	c.resp, c.err = resp, err
	close(c.done)
	if s.cur == c {
		s.cur = nil
	}
}

// requeueLocked puts back an invocation whose delivery failed (the /next
// client went away), unless the world moved on meanwhile.
func (s *Server) requeueLocked(g *generation, c *call) {
	if s.gen != g || s.cur != c || c.step != stepDelivered {
		return
	}
	if c.abandoned {
		s.completeLocked(c, nil, context.Canceled)
		return
	}
	c.step = stepQueued
	s.dispatchLocked()
}

func (s *Server) removeWaiterLocked(w *waiter) {
	for i, x := range s.waiters {
		if x == w {
			s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
			return
		}
	}
}
