package runtimeapi

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Runtime API wire names [lambda.md §1].
const (
	pathPrefix = "/2018-06-01/runtime/"

	hdrRequestID       = "Lambda-Runtime-Aws-Request-Id"
	hdrDeadlineMs      = "Lambda-Runtime-Deadline-Ms"
	hdrFunctionArn     = "Lambda-Runtime-Invoked-Function-Arn"
	hdrTraceID         = "Lambda-Runtime-Trace-Id"
	hdrClientContext   = "Lambda-Runtime-Client-Context"
	hdrCognitoIdentity = "Lambda-Runtime-Cognito-Identity"
	hdrTenantID        = "Lambda-Runtime-Aws-Tenant-Id"
	hdrErrorType       = "Lambda-Runtime-Function-Error-Type" // header on /error, trailer on /response
	hdrErrorBody       = "Lambda-Runtime-Function-Error-Body" // trailer on /response, base64 JSON
	hdrResponseMode    = "Lambda-Runtime-Function-Response-Mode"

	responseModeStreaming = "streaming"
)

// apiError is a Runtime API error answer: status plus the OAS ErrorResponse
// body {"errorMessage","errorType"}. Handlers return it; serveHTTP writes it.
type apiError struct {
	status    int
	errorType string
	message   string
	allow     string // Allow header for 405
	closeConn bool
}

func (e *apiError) Error() string { return e.errorType + ": " + e.message }

// errClientGone means the client went away; nothing is written.
var errClientGone = errors.New("runtimeapi: client gone")

// errEnded answers requests from a runtime whose generation ended (Reset or
// Close) [OAS 500].
var errEnded = &apiError{
	status:    http.StatusInternalServerError,
	errorType: "InternalServerError",
	message:   "Container error. Non-recoverable state. Runtime should exit promptly.",
	closeConn: true,
}

func errInvalidState(format string, args ...any) *apiError {
	return &apiError{status: http.StatusForbidden, errorType: "InvalidStateTransition", message: fmt.Sprintf(format, args...)}
}

var errInvalidRequestID = &apiError{status: http.StatusBadRequest, errorType: "InvalidRequestID", message: "Invalid request ID"}

var errTruncated = &apiError{
	status:    http.StatusBadRequest,
	errorType: "TruncatedHTTPRequest",
	message:   "HTTP request detected as truncated",
	closeConn: true,
}

func errTooLarge(limit int64) *apiError {
	return &apiError{
		status:    http.StatusRequestEntityTooLarge,
		errorType: "RequestEntityTooLarge",
		message:   fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", limit),
		closeConn: true,
	}
}

var errInvalidResponseMode = &apiError{
	status:    http.StatusBadRequest,
	errorType: errTypeInvalidResponseMode,
	message:   "Invalid function response mode: " + hdrResponseMode + " must be \"streaming\" or absent",
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeAPIError(w, errEnded)
		return
	}
	s.handlers.Add(1) // under mu, so never after Close's Wait began
	s.mu.Unlock()
	defer s.handlers.Done()

	route, err := s.route(w, r)
	if err == nil || errors.Is(err, errClientGone) {
		return
	}
	var ae *apiError
	if !errors.As(err, &ae) {
		s.log.Error("runtime api handler failed", "route", route, "err", err)
		ae = &apiError{status: http.StatusInternalServerError, errorType: "InternalServerError", message: "Internal Server Error"}
	}
	if ae.status != http.StatusNotFound && ae.status != http.StatusMethodNotAllowed {
		s.log.Warn("runtime api request refused", "route", route, "status", ae.status, "error_type", ae.errorType)
	}
	writeAPIError(w, ae)
}

// route dispatches on the path; it returns a short route name for logs.
func (s *Server) route(w http.ResponseWriter, r *http.Request) (string, error) {
	rest, ok := strings.CutPrefix(r.URL.Path, pathPrefix)
	if !ok {
		if rest, ok := strings.CutPrefix(r.URL.Path, extPrefix); ok {
			return s.routeExtension(w, r, rest)
		}
		if r.URL.Path == telemetryPath || r.URL.Path == logsPath {
			if r.Method != http.MethodPut {
				return "telemetry", errMethod(http.MethodPut)
			}
			return "telemetry", s.handleSubscribe(w, r, r.URL.Path == logsPath)
		}
		return "unknown", errNotFound
	}
	switch rest {
	case "invocation/next":
		if r.Method != http.MethodGet {
			return "next", errMethod(http.MethodGet)
		}
		return "next", s.handleNext(w, r)
	case "init/error":
		if r.Method != http.MethodPost {
			return "init_error", errMethod(http.MethodPost)
		}
		return "init_error", s.handleInitError(w, r)
	}
	id, action, ok := parseInvocationPath(rest)
	if !ok {
		return "unknown", errNotFound
	}
	if r.Method != http.MethodPost {
		return action, errMethod(http.MethodPost)
	}
	if action == "response" {
		return action, s.handleResponse(w, r, id)
	}
	return action, s.handleError(w, r, id)
}

var errNotFound = &apiError{status: http.StatusNotFound, errorType: "NotFound", message: "Unknown Runtime API path"}

func errMethod(allow string) *apiError {
	return &apiError{status: http.StatusMethodNotAllowed, errorType: "MethodNotAllowed", message: "Method not allowed; use " + allow, allow: allow}
}

// parseInvocationPath splits "invocation/{id}/response|error".
func parseInvocationPath(rest string) (id, action string, ok bool) {
	tail, ok := strings.CutPrefix(rest, "invocation/")
	if !ok {
		return "", "", false
	}
	id, action, ok = strings.Cut(tail, "/")
	if !ok || id == "" || (action != "response" && action != "error") {
		return "", "", false
	}
	return id, action, true
}

// staleLocked reports whether r arrived on a connection accepted before the
// last Reset, or after Close.
func (s *Server) staleLocked(r *http.Request) bool {
	if s.closed {
		return true
	}
	n, ok := r.Context().Value(connGenKey{}).(uint64)
	return ok && n != s.gen.n
}

// handleNext is GET /runtime/invocation/next: it completes init if needed,
// parks until an invocation is queued, and sends it.
func (s *Server) handleNext(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	if s.staleLocked(r) {
		s.mu.Unlock()
		return errEnded
	}
	switch s.phase {
	case phaseInitializing:
		// Init ends once every extension is ready too (checkInitLocked).
		s.runtimeNext = true
	case phaseReady:
		if c := s.cur; c != nil && c.step != stepQueued {
			s.mu.Unlock()
			return errInvalidState("Invocation %s has not been answered: post its response or error before calling next", c.inv.RequestID)
		}
	default:
		p := s.phase
		s.mu.Unlock()
		return errInvalidState("The runtime reported an init error (state %s); it should exit", p)
	}
	wt := &waiter{ch: make(chan *call, 1)}
	s.waiters = append(s.waiters, wt)
	s.checkInitLocked()
	s.dispatchLocked()
	g := s.gen
	s.mu.Unlock()
	if s.hookNextParked != nil {
		s.hookNextParked()
	}

	select {
	case c := <-wt.ch:
		return s.deliver(w, g, c)
	case <-g.done:
		return errEnded
	case <-r.Context().Done():
	}
	// The client went away while parked; an event assigned meanwhile goes
	// back to the queue for the next /next.
	s.mu.Lock()
	select {
	case c := <-wt.ch:
		s.requeueLocked(g, c)
	default:
		s.removeWaiterLocked(wt)
	}
	s.mu.Unlock()
	if s.hookWaiterGone != nil {
		s.hookWaiterGone()
	}
	return errClientGone
}

// deliver writes invocation c as the /next response. If the write fails the
// invocation is queued again.
func (s *Server) deliver(w http.ResponseWriter, g *generation, c *call) error {
	s.mu.Lock()
	live := !s.closed && s.gen == g && s.cur == c && c.step == stepDelivered
	s.mu.Unlock()
	if !live {
		return errEnded
	}
	inv := c.inv
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set(hdrRequestID, inv.RequestID)
	h.Set(hdrDeadlineMs, strconv.FormatInt(c.deadlineMs, 10))
	h.Set(hdrFunctionArn, inv.InvokedFunctionArn)
	if inv.TraceID != "" {
		h.Set(hdrTraceID, inv.TraceID)
	}
	if c.clientContext != nil {
		h.Set(hdrClientContext, string(c.clientContext))
	}
	if c.cognito != nil {
		h.Set(hdrCognitoIdentity, string(c.cognito))
	}
	if inv.TenantID != "" {
		h.Set(hdrTenantID, inv.TenantID)
	}
	h.Set("Content-Length", strconv.Itoa(len(inv.Payload)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(inv.Payload)
	if err == nil {
		err = http.NewResponseController(w).Flush()
	}
	if err != nil {
		s.mu.Lock()
		s.requeueLocked(g, c)
		s.mu.Unlock()
		s.log.Info("invocation delivery failed, queued again", "request_id", inv.RequestID, "err", err)
		return errClientGone
	}
	s.log.Debug("invocation delivered", "request_id", inv.RequestID)
	return nil
}

// claimLocked moves the in-flight invocation id from Busy to Responding so
// that exactly one /response or /error reads a body for it.
func (s *Server) claimLocked(r *http.Request, id string) (*call, *generation, error) {
	if s.staleLocked(r) {
		return nil, nil, errEnded
	}
	if s.phase != phaseReady {
		return nil, nil, errInvalidState("No invocation in flight: the runtime is in state %s", s.phase)
	}
	c := s.cur
	if c == nil || c.step == stepQueued {
		return nil, nil, errInvalidState("No invocation in flight: call next first")
	}
	if c.inv.RequestID != id {
		return nil, nil, errInvalidRequestID
	}
	if c.step == stepResponding {
		return nil, nil, errInvalidState("Invocation %s is already being answered", id)
	}
	c.step = stepResponding
	return c, s.gen, nil
}

// finish completes c unless Reset or Close got there first.
func (s *Server) finish(g *generation, c *call, resp *Response, err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.gen != g || s.cur != c {
		return false
	}
	s.completeLocked(c, resp, err)
	return true
}

// handleResponse is POST /runtime/invocation/{id}/response.
func (s *Server) handleResponse(w http.ResponseWriter, r *http.Request, id string) error {
	mode := r.Header.Get(hdrResponseMode)
	s.mu.Lock()
	c, g, err := s.claimLocked(r, id)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	if mode != "" && mode != responseModeStreaming {
		s.completeLocked(c, &Response{Error: synthError(errTypeInvalidResponseMode, "The runtime posted an invalid "+hdrResponseMode+" header")}, nil)
		s.mu.Unlock()
		return errInvalidResponseMode
	}
	s.mu.Unlock()
	if s.hookClaimed != nil {
		s.hookClaimed()
	}

	var (
		resp  *Response
		ierr  error
		reply error
	)
	if c.stream != nil {
		var ae *apiError
		resp, ae, ierr = streamBody(r, c, mode, s.opts.MaxStreamResponse)
		if ae != nil {
			reply = ae
		}
		if !s.finish(g, c, resp, ierr) {
			return errEnded
		}
		if reply != nil {
			return reply
		}
		writeAccepted(w)
		return nil
	}
	body, rerr := readBody(w, r, s.opts.MaxResponse)
	switch {
	case errors.Is(rerr, errBodyTooLarge):
		ierr, reply = ErrResponseTooLarge, errTooLarge(s.opts.MaxResponse)
	case rerr != nil:
		// Includes error trailers too large for net/http (over ~4 KB).
		resp = &Response{Payload: body, ContentType: r.Header.Get("Content-Type"), Streaming: mode != "",
			Error: synthError(errTypeTruncatedResponse, "The runtime's response was truncated or malformed")}
		reply = errTruncated
	default:
		resp = &Response{Payload: body, ContentType: r.Header.Get("Content-Type"), Streaming: mode != "",
			Error: trailerError(r.Trailer)}
	}
	if !s.finish(g, c, resp, ierr) {
		return errEnded
	}
	if reply != nil {
		return reply
	}
	writeAccepted(w)
	return nil
}

// handleError is POST /runtime/invocation/{id}/error.
func (s *Server) handleError(w http.ResponseWriter, r *http.Request, id string) error {
	s.mu.Lock()
	c, g, err := s.claimLocked(r, id)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if s.hookClaimed != nil {
		s.hookClaimed()
	}
	body, rerr := readBody(w, r, s.opts.MaxResponse)
	if errors.Is(rerr, errBodyTooLarge) {
		if !s.finish(g, c, nil, ErrResponseTooLarge) {
			return errEnded
		}
		return errTooLarge(s.opts.MaxResponse)
	}
	// An unreadable body is replaced by one built from the header [OAS].
	er := newErrorResponse(r.Header.Get(hdrErrorType), body, rerr != nil)
	if !s.finish(g, c, &Response{Error: er}, nil) {
		return errEnded
	}
	if rerr != nil {
		return errTruncated
	}
	writeAccepted(w)
	return nil
}

// handleInitError is POST /runtime/init/error.
func (s *Server) handleInitError(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	if s.staleLocked(r) {
		s.mu.Unlock()
		return errEnded
	}
	if s.phase != phaseInitializing || s.runtimeNext {
		p := s.phase
		s.mu.Unlock()
		return errInvalidState("Init errors can only be reported during init; the runtime is in state %s", p)
	}
	s.phase = phaseInitReporting
	g := s.gen
	s.mu.Unlock()

	hdrType := r.Header.Get(hdrErrorType)
	body, rerr := readBody(w, r, s.opts.MaxResponse)
	var (
		er    *ErrorResponse
		reply error
	)
	switch {
	case errors.Is(rerr, errBodyTooLarge):
		er = synthError(orUnknown(hdrType), fmt.Sprintf("The runtime's init error report exceeded the maximum size (%d bytes)", s.opts.MaxResponse))
		reply = errTooLarge(s.opts.MaxResponse)
	case rerr != nil:
		er = newErrorResponse(hdrType, nil, true)
		reply = errTruncated
	default:
		er = newErrorResponse(hdrType, body, false)
	}

	s.mu.Lock()
	if s.closed || s.gen != g {
		s.mu.Unlock()
		return errEnded
	}
	if s.phase != phaseInitReporting {
		// An extension's init error got there first.
		s.mu.Unlock()
		writeAccepted(w)
		return nil
	}
	s.failInitLocked(er)
	s.mu.Unlock()
	s.log.Info("runtime reported init error", "error_type", er.ErrorType, "generation", g.n)
	if reply != nil {
		return reply
	}
	writeAccepted(w)
	return nil
}

var errBodyTooLarge = errors.New("runtimeapi: body too large")

// readBody reads r's body to EOF (which also fills r.Trailer), at most
// limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, errBodyTooLarge
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead) // no regrow at EOF
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errBodyTooLarge
		}
		return buf.Bytes(), fmt.Errorf("read runtime api body: %w", err)
	}
	return buf.Bytes(), nil
}

func writeAccepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"OK"}` + "\n"))
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	if e.allow != "" {
		h.Set("Allow", e.allow)
	}
	if e.closeConn {
		h.Set("Connection", "close")
	}
	b := marshalError(e.message, e.errorType)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}
