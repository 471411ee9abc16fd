package runtimeapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Extensions API wire names [lambda.md §2; RIE rapi/handler/constants.go].
const (
	extPrefix = "/2020-01-01/extension/"

	hdrExtName      = "Lambda-Extension-Name"
	hdrExtID        = "Lambda-Extension-Identifier"
	hdrExtErrorType = "Lambda-Extension-Function-Error-Type"
	hdrExtFeature   = "Lambda-Extension-Accept-Feature"
	hdrExtEventID   = "Lambda-Extension-Event-Identifier"

	errExtNameInvalid  = "Extension.InvalidExtensionName"
	errExtRegClosed    = "Extension.RegistrationClosed"
	errExtUnknownID    = "Extension.UnknownExtensionIdentifier"
	errExtInvalidState = "Extension.InvalidExtensionState"
	errExtMissingHdr   = "Extension.MissingHeader"
	errExtTooMany      = "Extension.TooManyExtensions"
	errExtInvalidEvent = "Extension.InvalidEventType"
	errInvalidFormat   = "InvalidRequestFormat"

	// MaxExtensions is Lambda's limit on extensions per function.
	MaxExtensions = 10
	// maxExtBody bounds register and error bodies of extensions.
	maxExtBody = 64 << 10
)

// Shutdown reasons of the SHUTDOWN event.
const (
	ShutdownSpindown = "spindown"
	ShutdownTimeout  = "timeout"
	ShutdownFailure  = "failure"
)

// extension is one registered extension. Fields are guarded by Server.mu.
type extension struct {
	id, name string
	external bool
	invoke   bool // registered for INVOKE
	shutdown bool // registered for SHUTDOWN
	gen      uint64

	queue  [][]byte    // events not yet fetched
	parked chan []byte // a parked GET /event/next, buffered 1; nil if none
	// ready: it has called /event/next and fetched every event since
	// (Lambda's "extension ready"); an invoke is over for it then.
	ready bool
	gone  bool // it reported /exit/error
}

// registerRequest is the body of POST /extension/register.
type registerRequest struct {
	Events []string `json:"events"`
}

// registerResponse is Lambda's answer to a registration.
type registerResponse struct {
	FunctionName    string `json:"functionName"`
	FunctionVersion string `json:"functionVersion"`
	Handler         string `json:"handler"`
	AccountID       string `json:"accountId,omitempty"`
}

// parseRegister parses and checks a registration body. internal
// extensions may not ask for SHUTDOWN.
func parseRegister(body []byte, internal bool) (invoke, shutdown bool, err *apiError) {
	var req registerRequest
	if len(strings.TrimSpace(string(body))) > 0 {
		if e := json.Unmarshal(body, &req); e != nil {
			return false, false, extErr(http.StatusForbidden, errInvalidFormat, "The register request body is not valid JSON: "+e.Error())
		}
	}
	for _, ev := range req.Events {
		switch ev {
		case "INVOKE":
			invoke = true
		case "SHUTDOWN":
			if internal {
				return false, false, extErr(http.StatusForbidden, errExtInvalidEvent, "Internal extensions cannot register for the SHUTDOWN event")
			}
			shutdown = true
		default:
			return false, false, extErr(http.StatusForbidden, errExtInvalidEvent, fmt.Sprintf("Unknown event type %q: use INVOKE or SHUTDOWN", ev))
		}
	}
	return invoke, shutdown, nil
}

func extErr(status int, typ, msg string) *apiError {
	return &apiError{status: status, errorType: typ, message: msg}
}

// routeExtension serves /2020-01-01/extension/...
func (s *Server) routeExtension(w http.ResponseWriter, r *http.Request, rest string) (string, error) {
	switch rest {
	case "register":
		if r.Method != http.MethodPost {
			return "ext_register", errMethod(http.MethodPost)
		}
		return "ext_register", s.handleRegister(w, r)
	case "event/next":
		if r.Method != http.MethodGet {
			return "ext_next", errMethod(http.MethodGet)
		}
		return "ext_next", s.handleExtNext(w, r)
	case "init/error", "exit/error":
		if r.Method != http.MethodPost {
			return "ext_error", errMethod(http.MethodPost)
		}
		return "ext_error", s.handleExtError(w, r, rest == "init/error")
	}
	return "unknown", errNotFound
}

// handleRegister is POST /extension/register.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) error {
	name := r.Header.Get(hdrExtName)
	if name == "" {
		return extErr(http.StatusForbidden, errExtMissingHdr, "Missing "+hdrExtName+" header")
	}
	if len(name) > 128 || !validHeaderValue(name) || strings.ContainsAny(name, "/") {
		return extErr(http.StatusForbidden, errExtNameInvalid, "Invalid extension name")
	}
	body, rerr := readBody(w, r, maxExtBody)
	if rerr != nil {
		return extErr(http.StatusForbidden, errInvalidFormat, "The register request body could not be read")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.staleLocked(r) {
		return errEnded
	}
	external := s.expected[name]
	if s.phase != phaseInitializing || (s.runtimeNext && !external) {
		return extErr(http.StatusForbidden, errExtRegClosed, "Extension registration is closed: the init phase has ended")
	}
	for _, x := range s.exts {
		if x.name == name {
			return extErr(http.StatusForbidden, errExtNameInvalid, "An extension named "+name+" is already registered")
		}
	}
	if len(s.exts) >= MaxExtensions {
		return extErr(http.StatusForbidden, errExtTooMany, fmt.Sprintf("Too many extensions: at most %d", MaxExtensions))
	}
	inv, shut, aerr := parseRegister(body, !external)
	if aerr != nil {
		return aerr
	}
	x := &extension{id: newExtID(), name: name, external: external, invoke: inv, shutdown: shut, gen: s.gen.n}
	s.exts = append(s.exts, x)
	delete(s.expected, name)
	resp := registerResponse{FunctionName: s.opts.FunctionName, FunctionVersion: s.opts.FunctionVersion, Handler: s.opts.Handler}
	if strings.Contains(r.Header.Get(hdrExtFeature), "accountId") {
		resp.AccountID = s.opts.AccountID
	}
	b, _ := json.Marshal(resp)
	s.log.Debug("extension registered", "extension", name, "external", external)
	h := w.Header()
	h.Set(hdrExtID, x.id)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

// extLocked finds the extension named by r's identifier header.
func (s *Server) extLocked(r *http.Request) (*extension, error) {
	id := r.Header.Get(hdrExtID)
	if id == "" {
		return nil, extErr(http.StatusForbidden, errExtMissingHdr, "Missing "+hdrExtID+" header")
	}
	for _, x := range s.exts {
		if x.id == id {
			return x, nil
		}
	}
	return nil, extErr(http.StatusForbidden, errExtUnknownID, "Unknown extension "+id)
}

// handleExtNext is GET /extension/event/next: the extension is ready; it
// gets its next event, or parks until there is one.
func (s *Server) handleExtNext(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	if s.staleLocked(r) {
		s.mu.Unlock()
		return errEnded
	}
	x, err := s.extLocked(r)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	if x.gone {
		s.mu.Unlock()
		return extErr(http.StatusForbidden, errExtInvalidState, "The extension reported an exit error")
	}
	if x.parked != nil {
		s.mu.Unlock()
		return extErr(http.StatusForbidden, errExtInvalidState, "The extension is already waiting for its next event")
	}
	if len(x.queue) > 0 {
		ev := x.queue[0]
		x.queue = x.queue[1:]
		s.mu.Unlock()
		return writeEvent(w, ev)
	}
	x.ready = true
	ch := make(chan []byte, 1)
	x.parked = ch
	g := s.gen
	s.checkInitLocked()
	s.extChangedLocked()
	s.mu.Unlock()
	if s.hookExtParked != nil {
		s.hookExtParked()
	}

	select {
	case ev := <-ch:
		return writeEvent(w, ev)
	case <-g.done:
		return errEnded
	case <-r.Context().Done():
	}
	s.mu.Lock()
	select {
	case ev := <-ch: // handed over while the client left: keep it
		x.queue = append([][]byte{ev}, x.queue...)
	default:
	}
	if x.parked == ch {
		x.parked = nil
	}
	s.mu.Unlock()
	return errClientGone
}

func writeEvent(w http.ResponseWriter, ev []byte) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set(hdrExtEventID, newExtID())
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(ev)
	if err != nil {
		return errClientGone
	}
	return nil
}

// handleExtError is POST /extension/init/error and /extension/exit/error.
func (s *Server) handleExtError(w http.ResponseWriter, r *http.Request, initErr bool) error {
	typ := r.Header.Get(hdrExtErrorType)
	if typ == "" {
		return extErr(http.StatusForbidden, errExtMissingHdr, "Missing "+hdrExtErrorType+" header")
	}
	body, rerr := readBody(w, r, maxExtBody)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.staleLocked(r) {
		return errEnded
	}
	x, err := s.extLocked(r)
	if err != nil {
		return err
	}
	er := newErrorResponse(typ, body, rerr != nil)
	if initErr {
		if s.phase != phaseInitializing {
			return extErr(http.StatusForbidden, errExtInvalidState, "Init errors can only be reported during init")
		}
		s.failInitLocked(er)
		s.log.Info("extension reported init error", "extension", x.name, "error_type", er.ErrorType)
	} else {
		x.gone, x.ready = true, true
		if s.extErr == nil {
			s.extErr = er
		}
		if s.phase == phaseInitializing {
			s.failInitLocked(er)
		}
		s.extChangedLocked()
		s.log.Info("extension reported exit error", "extension", x.name, "error_type", er.ErrorType)
	}
	writeAccepted(w)
	return nil
}

// failInitLocked ends init with er (an init error of the runtime or of an
// extension).
func (s *Server) failInitLocked(er *ErrorResponse) {
	s.phase = phaseInitFailed
	s.gen.initErr = er
	close(s.gen.initDone)
	if s.cur != nil {
		s.completeLocked(s.cur, nil, &InitError{Response: er})
	}
}

// checkInitLocked ends init once the runtime has called /next, every
// external extension launched has registered and every registered one has
// called /event/next.
func (s *Server) checkInitLocked() {
	if s.phase != phaseInitializing || !s.runtimeNext || len(s.expected) > 0 {
		return
	}
	for _, x := range s.exts {
		if !x.ready {
			return
		}
	}
	s.phase = phaseReady
	close(s.gen.initDone)
	s.log.Debug("init done", "generation", s.gen.n, "extensions", len(s.exts))
	s.dispatchLocked()
}

// extChangedLocked wakes WaitExtensions callers.
func (s *Server) extChangedLocked() {
	close(s.extWake)
	s.extWake = make(chan struct{})
}

// pushLocked queues ev for x, handing it to its parked /event/next.
func (s *Server) pushLocked(x *extension, ev []byte) {
	x.ready = false
	if x.parked != nil {
		x.parked <- ev
		x.parked = nil
		return
	}
	x.queue = append(x.queue, ev)
}

// invokeEvent is the INVOKE event [DG:runtimes-extensions-api].
type invokeEvent struct {
	EventType          string   `json:"eventType"`
	DeadlineMs         int64    `json:"deadlineMs"`
	RequestID          string   `json:"requestId"`
	InvokedFunctionArn string   `json:"invokedFunctionArn"`
	Tracing            *tracing `json:"tracing"`
}

type tracing struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// shutdownEvent is the SHUTDOWN event.
type shutdownEvent struct {
	EventType      string `json:"eventType"`
	ShutdownReason string `json:"shutdownReason"`
	DeadlineMs     int64  `json:"deadlineMs"`
}

// notifyInvokeLocked sends the INVOKE event of c to the extensions
// registered for it (once per invocation).
func (s *Server) notifyInvokeLocked(c *call) {
	if c.extNotified {
		return
	}
	c.extNotified = true
	var ev []byte
	for _, x := range s.exts {
		if !x.invoke || x.gone {
			continue
		}
		if ev == nil {
			ev, _ = json.Marshal(invokeEvent{
				EventType: "INVOKE", DeadlineMs: c.deadlineMs, RequestID: c.inv.RequestID,
				InvokedFunctionArn: c.inv.InvokedFunctionArn,
				Tracing:            &tracing{Type: "X-Amzn-Trace-Id", Value: c.inv.TraceID},
			})
		}
		s.pushLocked(x, ev)
	}
}

// ExtensionCounts returns how many external and internal extensions are
// registered (they decide the shutdown budget).
func (s *Server) ExtensionCounts() (external, internal int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.exts {
		if x.external {
			external++
		} else {
			internal++
		}
	}
	return external, internal
}

// ExtensionError returns the error an extension reported with
// /extension/exit/error, or nil. The environment should not be reused.
func (s *Server) ExtensionError() *ErrorResponse {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.extErr
}

// WaitExtensions waits until every registered extension is ready again
// (has called /event/next after fetching its last event): after an
// invocation, before the environment is reused, and after Shutdown. It
// returns ctx.Err() when ctx ends first, ErrReset or ErrClosed.
func (s *Server) WaitExtensions(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		busy := false
		for _, x := range s.exts {
			if !x.ready {
				busy = true
				break
			}
		}
		wake, g := s.extWake, s.gen
		s.mu.Unlock()
		if !busy {
			return nil
		}
		select {
		case <-wake:
		case <-g.done:
			return s.endedErr()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Shutdown sends the SHUTDOWN event, with reason (ShutdownSpindown,
// ShutdownTimeout, ShutdownFailure) and deadline, to the extensions
// registered for it. Wait for them with WaitExtensions.
func (s *Server) Shutdown(reason string, deadline time.Time) {
	ev, _ := json.Marshal(shutdownEvent{EventType: "SHUTDOWN", ShutdownReason: reason, DeadlineMs: deadline.UnixMilli()})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	for _, x := range s.exts {
		if x.shutdown && !x.gone {
			s.pushLocked(x, ev)
		}
	}
	s.extChangedLocked()
}

func newExtID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
