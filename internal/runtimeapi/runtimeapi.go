// Package runtimeapi serves the Lambda Runtime API (/2018-06-01/runtime/...)
// of one execution environment and owns the state machine behind it. The
// runtime process inside the environment (aws-lambda-go, the Python and Node
// runtime clients, a provided.al2 bootstrap) talks HTTP to a Server; the
// environment's owner (package pool) drives the same Server through
// WaitInit, Invoke and Reset. It imports only the standard library; only
// pool (and daemon for wiring) may import it.
//
// Environment states (one Server = one environment; Reset starts a new
// generation for the next runtime process):
//
//	         +-------------------- Reset (any state) --------------------+
//	         v                                                           |
//	   Initializing --POST /init/error--> InitReporting --> InitFailed --+
//	         |                             (body read)   WaitInit: errResp
//	         | first GET /next                           Invoke: *InitError
//	         | (WaitInit: nil, nil)                      /next, /init/error: 403
//	         v
//	+----> Idle --- Invoke + a parked GET /next: 200 + event ---> Busy
//	|   (nothing, or one                              /next, /init/error: 403
//	|    invocation queued)                           /{other id}/...: 400
//	|                                                               |
//	|                                     POST /{id}/response|error |
//	|                                                               v
//	+--- body read: Invoke returns, runtime gets 202 --------- Responding
//	     (over MaxResponse: 413, Invoke gets ErrResponseTooLarge)  (other posts: 403)
//
// Invocations: Invoke queues one invocation (ErrBusy if one is queued or
// unanswered). It is handed to the oldest parked GET /next, or to the next
// one to arrive; a /next whose client went away before it got the event
// does not consume it. If Invoke's ctx ends before delivery the invocation
// is withdrawn; after delivery it is abandoned: the environment stays Busy
// until the runtime answers, and the answer is dropped.
//
// Extensions (extensions.go) and telemetry (telemetry.go): the same
// listener serves the Extensions API (/2020-01-01/extension/...) and the
// Telemetry and Logs APIs (/2022-07-01/telemetry, /2020-08-15/logs). Init
// (Initializing above) ends only when the runtime has called /next, every
// external extension named in Options has registered and every registered
// extension has called /event/next; registration closes to others at the
// runtime's first /next. Delivering an invocation also queues its INVOKE
// event for the extensions registered for it; the owner waits for them with
// WaitExtensions before reusing the environment, and sends SHUTDOWN with
// Shutdown. Publish hands platform and function records to the
// subscriptions, each delivered by a goroutine the Server owns.
//
// Generations: every connection is tagged with the generation current when
// it was accepted. Reset and Close end the generation: parked /next
// handlers answer 500 ("Runtime should exit promptly"), connections of the
// old generation are closed, and late requests on them never change the
// new generation's state.
package runtimeapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxResponse is Lambda's buffered response limit: 6 MiB + 100 bytes
// (6,291,556), the same number the AWS Runtime Interface Emulator uses.
const DefaultMaxResponse = 6*1024*1024 + 100

// DefaultMaxConns bounds the connections one runtime may hold open. Real
// runtime clients use one or two.
const DefaultMaxConns = 32

// Invocation is one event for the runtime, rendered as the body and headers
// of a GET /next response.
type Invocation struct {
	// RequestID becomes Lambda-Runtime-Aws-Request-Id and the {id} of the
	// runtime's /response and /error URLs, so it must be 1-128 URL-safe
	// characters (A-Z a-z 0-9 - . _ ~ :); a UUID is.
	RequestID          string
	InvokedFunctionArn string
	// TraceID is sent as Lambda-Runtime-Trace-Id when not empty.
	TraceID string
	// TenantID is sent as Lambda-Runtime-Aws-Tenant-Id when not empty.
	TenantID string
	// Deadline is sent as Lambda-Runtime-Deadline-Ms (Unix epoch ms). When
	// zero, Invoke uses its ctx's deadline; one of the two is required.
	Deadline time.Time
	Payload  []byte
	// ClientContext and CognitoIdentity are JSON or nil; when set they are
	// sent (compacted) as Lambda-Runtime-Client-Context and
	// Lambda-Runtime-Cognito-Identity.
	ClientContext, CognitoIdentity []byte
	// Stream, when set, receives the /response body as it arrives (up to
	// Options.MaxStreamResponse) instead of Response.Payload.
	Stream Stream
}

// ErrorResponse is what the runtime reported via /error, /init/error or the
// error trailers of /response.
type ErrorResponse struct {
	// ErrorType is the Lambda-Runtime-Function-Error-Type header (or
	// trailer), else the errorType of the body, else "Runtime.Unknown".
	// Cut to 256 bytes of valid UTF-8; never empty.
	ErrorType string
	// Body is Lambda's error JSON {"errorMessage","errorType"[,"stackTrace"]}:
	// the runtime's body verbatim (surrounding whitespace trimmed) when it is
	// valid JSON, otherwise synthesised from ErrorType and the body text
	// (message cut to 64 KiB). Always valid JSON.
	Body []byte
}

// Response is the runtime's answer to one invocation.
type Response struct {
	// Payload is the /response body. For an error reported with /error it is
	// nil; for a response whose stream failed (error trailers) it holds the
	// bytes received before the failure.
	Payload []byte
	// ContentType is the Content-Type the runtime posted.
	ContentType string
	// Streaming is true when the runtime posted with
	// Lambda-Runtime-Function-Response-Mode: streaming. The body is still
	// buffered and capped at Options.MaxResponse, unless the Invocation
	// had a Stream.
	Streaming bool
	// Sent is set when the body went to the Invocation's Stream (Payload
	// is then empty).
	Sent bool
	// Error is nil on success. When set, Error.Body is what the caller sees.
	Error *ErrorResponse
}

var (
	// ErrResponseTooLarge is returned by Invoke when the runtime posted more
	// than Options.MaxResponse bytes to /response or /error; the runtime was
	// answered 413. Lambda reports this to the caller as
	// Function.ResponseSizeTooLarge.
	ErrResponseTooLarge = errors.New("runtimeapi: function response exceeds the maximum size")
	// ErrBusy is returned by Invoke while another invocation is queued or
	// unanswered (including one whose Invoke was abandoned).
	ErrBusy = errors.New("runtimeapi: an invocation is already in flight")
	// ErrReset is returned by Invoke and WaitInit calls that were waiting
	// when Reset was called.
	ErrReset = errors.New("runtimeapi: environment was reset")
	// ErrClosed is returned once the Server is closed.
	ErrClosed = errors.New("runtimeapi: server closed")
	// ErrInvalidInvocation wraps the reason an Invocation was rejected.
	ErrInvalidInvocation = errors.New("runtimeapi: invalid invocation")
)

// InitError is returned by Invoke when the runtime reported an init error
// (POST /init/error) before or while the invocation was queued. Lambda
// serves that error as the response to the first invoke; the environment
// must then be Reset and re-initialised.
type InitError struct {
	Response *ErrorResponse
}

func (e *InitError) Error() string {
	return "runtimeapi: runtime init failed: " + e.Response.ErrorType
}

// Options configures a Server. Zero values take the defaults.
type Options struct {
	// MaxResponse is the largest body accepted on /response, /error and
	// /init/error. Default DefaultMaxResponse.
	MaxResponse int64
	// MaxConns is the most connections served at once; further connections
	// are closed as they are accepted. Default DefaultMaxConns.
	MaxConns int
	// MaxStreamResponse is the largest body passed to an Invocation's
	// Stream. Default DefaultMaxStreamResponse.
	MaxStreamResponse int64

	// FunctionName, FunctionVersion, Handler and AccountID answer an
	// extension's registration.
	FunctionName, FunctionVersion, Handler, AccountID string
	// ExternalExtensions names the extensions started from /opt/extensions
	// (their file names). Init waits for each to register, and a
	// registration under one of these names is an external extension;
	// others are internal (registered by the runtime process).
	ExternalExtensions []string
	// Dial connects to a port on the environment's own loopback, for
	// Telemetry API deliveries; nil refuses subscriptions.
	Dial func(ctx context.Context, port int) (net.Conn, error)
	// ReservedPorts may not be a subscription's destination (the Runtime
	// API's own port, the node's API).
	ReservedPorts []int
}

// Server is one execution environment's Runtime API server and state
// machine. All methods are safe for concurrent use.
//
// Lock order: mu is a leaf lock; nothing blocks while holding it.
type Server struct {
	log  *slog.Logger
	opts Options
	srv  *http.Server

	serveDone chan struct{} // closed when the Serve goroutine returns
	handlers  sync.WaitGroup

	// test hooks, set before Start
	hookWaiterGone func() // a parked /next left because its client went away
	hookClaimed    func() // a /response or /error claimed its invocation
	hookQueued     func() // Invoke queued its invocation
	hookWaitInit   func() // WaitInit picked its generation
	hookNextParked func() // a GET /next registered as a waiter
	hookExtParked  func() // a GET /extension/event/next parked

	mu      sync.Mutex
	addr    string              // guarded by mu
	started bool                // guarded by mu
	closed  bool                // guarded by mu
	gen     *generation         // guarded by mu; never nil
	phase   phase               // guarded by mu
	cur     *call               // guarded by mu; the invocation given to Invoke, nil if none
	waiters []*waiter           // guarded by mu; parked GET /next, oldest first
	conns   map[net.Conn]uint64 // guarded by mu; live connections and their generation

	// Extensions and telemetry (extensions.go, telemetry.go), reset with
	// the generation.
	exts        []*extension    // guarded by mu; registration order
	expected    map[string]bool // guarded by mu; external extensions not yet registered
	runtimeNext bool            // guarded by mu; the runtime called /next during init
	extErr      *ErrorResponse  // guarded by mu; the first /extension/exit/error
	extWake     chan struct{}   // guarded by mu; closed when an extension's readiness changes
	tel         *telemetry      // guarded by mu; nil until the first subscription
	stoppedTel  []*telemetry    // guarded by mu; ended by Reset, waited for by Close
	hasTel      atomic.Bool     // tel != nil: Publish's fast path
	keepEarly   atomic.Bool     // init is on: Publish keeps records for later subscribers
	early       []earlyRecord   // guarded by mu; records published during init
}

type phase int

const (
	phaseInitializing  phase = iota // runtime started, no /next yet
	phaseInitReporting              // /init/error body being read
	phaseInitFailed                 // /init/error received
	phaseReady                      // init done: Idle or Busy depending on cur
)

func (p phase) String() string {
	switch p {
	case phaseInitializing:
		return "Initializing"
	case phaseInitReporting:
		return "InitReporting"
	case phaseInitFailed:
		return "InitFailed"
	case phaseReady:
		return "Ready"
	}
	return "Unknown"
}

// generation is one runtime process's lifetime between Resets.
type generation struct {
	n        uint64
	done     chan struct{} // closed by Reset or Close
	initDone chan struct{} // closed when init ends, successfully or not
	initErr  *ErrorResponse
}

func newGeneration(n uint64) *generation {
	return &generation{n: n, done: make(chan struct{}), initDone: make(chan struct{})}
}

// New returns a Server in the Initializing state. Call Start to serve.
func New(log *slog.Logger, opts Options) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxResponse <= 0 {
		opts.MaxResponse = DefaultMaxResponse
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.MaxStreamResponse <= 0 {
		opts.MaxStreamResponse = DefaultMaxStreamResponse
	}
	s := &Server{
		log:       log.With("component", "runtimeapi"),
		opts:      opts,
		serveDone: make(chan struct{}),
		gen:       newGeneration(1),
		conns:     make(map[net.Conn]uint64),
		extWake:   make(chan struct{}),
	}
	s.expected = s.expectedExtensions()
	s.keepEarly.Store(true)
	// No read/write/header timeouts: GET /next long-polls and the runtime
	// may be frozen for seconds at any point. A runtime can only stall its
	// own environment; memory stays bounded by MaxConns, MaxHeaderBytes and
	// MaxResponse.
	s.srv = &http.Server{ //nolint:gosec // G112: see above
		Handler: http.HandlerFunc(s.serveHTTP),
		// aws-lambda-go sends an X-Ray cause header of up to 1 MiB on /error.
		MaxHeaderBytes: 1<<20 + 64<<10,
		ConnContext:    s.connContext,
		ConnState:      s.connState,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	return s
}

// Start serves the Runtime API on l until Close. It returns at once. It
// panics if called twice.
func (s *Server) Start(l net.Listener) {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		panic("runtimeapi: Start called twice")
	}
	s.started = true
	s.addr = l.Addr().String()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		_ = l.Close()
		close(s.serveDone)
		return
	}
	ll := &limitListener{Listener: l, sem: make(chan struct{}, s.opts.MaxConns), log: s.log}
	go func() {
		defer close(s.serveDone)
		if err := s.srv.Serve(ll); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("runtime api server stopped", "err", err)
		}
	}()
}

// Addr is the host:port to put in AWS_LAMBDA_RUNTIME_API; "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Close stops the server: it closes the listener and every connection,
// makes blocked Invoke and WaitInit calls return ErrClosed, and returns once
// every handler (including parked GET /next) has returned.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.cur != nil {
		s.completeLocked(s.cur, nil, ErrClosed)
	}
	s.waiters = nil
	close(s.gen.done)
	started := s.started
	s.stopTelemetryLocked()
	tels := s.stoppedTel
	s.stoppedTel = nil
	s.mu.Unlock()
	for _, t := range tels {
		t.wg.Wait()
	}

	err := s.srv.Close()
	if started {
		<-s.serveDone
	}
	s.handlers.Wait()
	if err != nil {
		return fmt.Errorf("close runtime api server: %w", err)
	}
	return nil
}

type connGenKey struct{}

func (s *Server) connContext(ctx context.Context, c net.Conn) context.Context {
	s.mu.Lock()
	n := s.gen.n
	s.conns[c] = n
	s.mu.Unlock()
	return context.WithValue(ctx, connGenKey{}, n)
}

func (s *Server) connState(c net.Conn, st http.ConnState) {
	if st == http.StateClosed || st == http.StateHijacked {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}
}

// limitListener closes connections beyond its capacity as they are
// accepted, so a runtime cannot make the server hold unbounded buffers.
type limitListener struct {
	net.Listener
	sem    chan struct{}
	log    *slog.Logger
	warned atomic.Bool // logged since the last slot was freed
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.sem; l.warned.Store(false) }}, nil
		default:
			if !l.warned.Swap(true) {
				l.log.Warn("runtime api connection limit reached", "limit", cap(l.sem))
			}
			_ = c.Close()
		}
	}
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// expectedExtensions is the set of external extensions a new generation
// waits for.
func (s *Server) expectedExtensions() map[string]bool {
	m := make(map[string]bool, len(s.opts.ExternalExtensions))
	for _, n := range s.opts.ExternalExtensions {
		m[n] = true
	}
	return m
}
