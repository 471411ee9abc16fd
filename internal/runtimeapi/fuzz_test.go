package runtimeapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzRuntimeAPI drives the state machine with a random program of
// runtime-side requests (next, response, error, init/error, raw requests
// with arbitrary methods and paths, trailers, response modes) interleaved
// with owner-side calls (Invoke, cancel, Reset), then closes the Server.
// Handlers must never panic, everything must return after Close (a
// deadlock hangs the test), and the answers must be consistent: every
// successful Invoke returns a body that some accepted /response posted for
// its id, every error answer is Runtime API error JSON, and no invocation
// is delivered twice. (The program may answer an id it guessed before the
// /next carrying it was written; the server then does not deliver it.)
func FuzzRuntimeAPI(f *testing.F) {
	// ops are (op, arg) pairs; see step.
	f.Add([]byte{1, 0, 0, 0, 3, 0}, "Runtime.X", []byte(`{"a":1}`))
	f.Add([]byte{0, 0, 1, 0, 4, 0, 1, 0, 3, 0}, "", []byte("not json"))
	f.Add([]byte{0, 0, 5, 0, 1, 0, 6, 0, 1, 0, 0, 0, 3, 0}, "Runtime.Init", []byte(`{"errorMessage":"m","errorType":"T"}`))
	f.Add([]byte{1, 0, 0, 0, 9, 0, 0, 0, 9, 1, 1, 0, 9, 2}, "streaming", bytes.Repeat([]byte("x"), 300))
	f.Add([]byte{1, 0, 2, 0, 0, 0, 1, 0, 7, 0, 3, 0, 0, 0}, "Runtime.X", []byte(`{}`))
	f.Add([]byte{8, 0, 8, 1, 8, 2, 0, 0, 2, 0, 7, 0}, "invocation/next", []byte{})
	f.Add([]byte{0, 0, 1, 0, 3, 2, 3, 1, 4, 1, 6, 0, 1, 0, 4, 0}, "invocation/id-1/response", []byte("{}"))
	f.Fuzz(func(t *testing.T, ops []byte, text string, body []byte) {
		if len(ops) > 96 {
			ops = ops[:96]
		}
		h := newFuzzHarness(t)
		for i := 0; i+1 < len(ops); i += 2 {
			h.step(ops[i], ops[i+1], text, body)
		}
		h.finish()
	})
}

type fuzzHarness struct {
	t *testing.T
	s *Server
	n int // invocations started

	wg      sync.WaitGroup
	cancels []context.CancelFunc // /next and raw requests still running
	invokes []*fuzzInvoke

	// signal receives the Server's hooks: an Invoke queued, a /next
	// parked. Each step that starts a goroutine waits for its signal (or
	// for the goroutine to end), so programs mostly replay the same way.
	signal chan struct{}

	mu        sync.Mutex
	ids       []string            // guarded by mu; every id handed to Invoke
	payloads  map[string][]byte   // guarded by mu
	delivered map[string]int      // guarded by mu; /next 200s per id
	accepted  map[string][][]byte // guarded by mu; bodies of 202'd /response posts
}

type fuzzInvoke struct {
	id     string
	cancel context.CancelFunc
	resp   *Response
	err    error
}

func newFuzzHarness(t *testing.T) *fuzzHarness {
	h := &fuzzHarness{
		t:         t,
		s:         New(nil, Options{MaxResponse: 256}),
		signal:    make(chan struct{}, 256),
		payloads:  map[string][]byte{},
		delivered: map[string]int{},
		accepted:  map[string][][]byte{},
	}
	notify := func() {
		select {
		case h.signal <- struct{}{}:
		default:
		}
	}
	h.s.hookQueued, h.s.hookNextParked = notify, notify
	return h
}

// spawn runs f in a goroutine and waits until it signals or ends.
func (h *fuzzHarness) spawn(f func()) {
	done := make(chan struct{})
	h.wg.Go(func() {
		defer close(done)
		f()
	})
	select {
	case <-h.signal:
	case <-done:
	}
}

func (h *fuzzHarness) pickID(arg byte, text string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case arg%4 == 0 && len(h.ids) > 0:
		return h.ids[len(h.ids)-1]
	case arg%4 == 1 && len(h.ids) > 0:
		return h.ids[int(arg/4)%len(h.ids)]
	case arg%4 == 2:
		return text
	}
	return "id-unknown"
}

func (h *fuzzHarness) request(ctx context.Context, method, path string, hdr http.Header, body []byte) *httptest.ResponseRecorder {
	req, err := http.NewRequestWithContext(ctx, method, "http://127.0.0.1/", bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.URL.Path = path
	for k, v := range hdr {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.s.serveHTTP(rec, req)
	return rec
}

func (h *fuzzHarness) checkStatus(what string, code int, allowed ...int) {
	if !slices.Contains(allowed, code) {
		h.t.Errorf("%s answered %d, want one of %v", what, code, allowed)
	}
}

// answerCodes are the statuses /response and /error may give for id.
func (h *fuzzHarness) answerCodes(id string) []int {
	if id == "" || strings.Contains(id, "/") {
		return []int{http.StatusNotFound}
	}
	return []int{http.StatusAccepted, http.StatusBadRequest, http.StatusForbidden,
		http.StatusRequestEntityTooLarge, http.StatusInternalServerError}
}

func (h *fuzzHarness) checkErrorBody(what string, rec *httptest.ResponseRecorder) {
	if rec.Code < 400 {
		return
	}
	var e lambdaError
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.ErrorType == "" {
		h.t.Errorf("%s %d body %q is not a Runtime API error", what, rec.Code, rec.Body)
	}
}

func (h *fuzzHarness) step(op, arg byte, text string, body []byte) {
	s := h.s
	switch op % 10 {
	case 0: // Invoke
		h.n++
		inv := &Invocation{
			RequestID: fmt.Sprintf("id-%d", h.n), InvokedFunctionArn: "arn:aws:lambda:us-east-1:1:function:f",
			Deadline: time.UnixMilli(1 << 41), Payload: body,
		}
		ctx, cancel := context.WithCancel(context.Background())
		fi := &fuzzInvoke{id: inv.RequestID, cancel: cancel}
		h.invokes = append(h.invokes, fi)
		h.mu.Lock()
		h.ids = append(h.ids, inv.RequestID)
		h.payloads[inv.RequestID] = body
		h.mu.Unlock()
		h.spawn(func() { fi.resp, fi.err = s.Invoke(ctx, inv) })
	case 1: // GET /next
		ctx, cancel := context.WithCancel(context.Background())
		h.cancels = append(h.cancels, cancel)
		h.spawn(func() {
			rec := h.request(ctx, http.MethodGet, pathPrefix+"invocation/next", nil, nil)
			id := rec.Header().Get(hdrRequestID)
			if id == "" { // client gone: nothing written, or an error answer
				if rec.Body.Len() > 0 {
					h.checkStatus("next", rec.Code, http.StatusForbidden, http.StatusInternalServerError)
					h.checkErrorBody("next", rec)
				}
				return
			}
			h.checkStatus("next", rec.Code, http.StatusOK)
			h.mu.Lock()
			defer h.mu.Unlock()
			h.delivered[id]++
			if !bytes.Equal(rec.Body.Bytes(), h.payloads[id]) {
				h.t.Errorf("next delivered %q for %s, want its payload", rec.Body.Bytes(), id)
			}
		})
	case 2: // the oldest /next client goes away
		if len(h.cancels) > 0 {
			h.cancels[0]()
			h.cancels = h.cancels[1:]
		}
	case 3, 9: // POST /response, plain or with a mode header and trailers
		id := h.pickID(arg, text)
		hdr := http.Header{}
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://127.0.0.1/", bytes.NewReader(body))
		if err != nil {
			h.t.Fatal(err)
		}
		req.URL.Path = pathPrefix + "invocation/" + id + "/response"
		if op%10 == 9 {
			mode, errBody := text, text
			if arg&1 == 0 {
				mode = responseModeStreaming
			}
			if arg&2 == 0 {
				errBody = base64.StdEncoding.EncodeToString(body)
			}
			hdr.Set(hdrResponseMode, mode)
			req.Trailer = http.Header{hdrErrorType: {text}, hdrErrorBody: {errBody}}
		}
		req.Header = hdr
		rec := httptest.NewRecorder()
		s.serveHTTP(rec, req)
		h.checkStatus("response", rec.Code, h.answerCodes(id)...)
		h.checkErrorBody("response", rec)
		if rec.Code == http.StatusAccepted {
			h.mu.Lock()
			h.accepted[id] = append(h.accepted[id], body)
			h.mu.Unlock()
		}
	case 4: // POST /error
		id := h.pickID(arg, text)
		rec := h.request(context.Background(), http.MethodPost, pathPrefix+"invocation/"+id+"/error",
			http.Header{hdrErrorType: {text}}, body)
		h.checkStatus("error", rec.Code, h.answerCodes(id)...)
		h.checkErrorBody("error", rec)
	case 5: // POST /init/error
		rec := h.request(context.Background(), http.MethodPost, pathPrefix+"init/error", http.Header{hdrErrorType: {text}}, body)
		h.checkStatus("init/error", rec.Code, http.StatusAccepted, http.StatusForbidden,
			http.StatusRequestEntityTooLarge, http.StatusInternalServerError)
		h.checkErrorBody("init/error", rec)
	case 6:
		s.Reset()
	case 7: // the oldest Invoke times out
		for _, fi := range h.invokes {
			if fi.cancel != nil {
				fi.cancel()
				fi.cancel = nil
				break
			}
		}
	case 8: // any method, any path
		methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodHead, "PATCH", "X"}
		path := text
		if arg&1 == 0 {
			path = pathPrefix + text
		}
		ctx, cancel := context.WithCancel(context.Background())
		h.cancels = append(h.cancels, cancel)
		h.spawn(func() {
			rec := h.request(ctx, methods[int(arg/2)%len(methods)], path, http.Header{hdrErrorType: {text}, hdrResponseMode: {text}}, body)
			if rec.Header().Get(hdrRequestID) == "" && rec.Body.Len() > 0 {
				h.checkErrorBody("raw", rec)
			}
		})
	}
}

func (h *fuzzHarness) finish() {
	t := h.t
	for _, c := range h.cancels {
		c()
	}
	for _, fi := range h.invokes {
		if fi.cancel != nil {
			fi.cancel()
		}
	}
	if err := h.s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	h.wg.Wait() // a deadlock hangs here

	h.mu.Lock()
	defer h.mu.Unlock()
	for id, n := range h.delivered {
		if n > 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	for _, fi := range h.invokes {
		var ie *InitError
		switch {
		case fi.err == nil:
			if fi.resp == nil {
				t.Fatalf("Invoke %s: nil response and nil error", fi.id)
			}
			if e := fi.resp.Error; e != nil {
				if e.ErrorType == "" || !json.Valid(e.Body) || !utf8.ValidString(e.ErrorType) {
					t.Errorf("Invoke %s: bad ErrorResponse %q %q", fi.id, e.ErrorType, e.Body)
				}
				break
			}
			if !slices.ContainsFunc(h.accepted[fi.id], func(b []byte) bool { return bytes.Equal(b, fi.resp.Payload) }) {
				t.Errorf("Invoke %s returned %q, which no accepted /response posted", fi.id, fi.resp.Payload)
			}
		case errors.As(fi.err, &ie):
			if ie.Response == nil || !json.Valid(ie.Response.Body) {
				t.Errorf("Invoke %s: bad init error %+v", fi.id, ie.Response)
			}
		case errors.Is(fi.err, context.Canceled), errors.Is(fi.err, ErrBusy), errors.Is(fi.err, ErrReset),
			errors.Is(fi.err, ErrClosed), errors.Is(fi.err, ErrResponseTooLarge):
		default:
			t.Errorf("Invoke %s: unexpected error %v", fi.id, fi.err)
		}
	}
}

// FuzzErrorResponse checks the error-report builder: whatever the runtime
// posts, the result has a usable type and a JSON body.
func FuzzErrorResponse(f *testing.F) {
	f.Add("Runtime.X", []byte(`{"errorMessage":"m","errorType":"T"}`), false)
	f.Add("", []byte(`{"errorType":"FromBody"}`), false)
	f.Add("", []byte("plain"), false)
	f.Add("\xff\xfe", []byte("\xff"), false)
	f.Add("T", []byte(nil), true)
	f.Add("", []byte(` [1,2] `), false)
	f.Fuzz(func(t *testing.T, headerType string, body []byte, unreadable bool) {
		er := newErrorResponse(headerType, body, unreadable)
		if er.ErrorType == "" || len(er.ErrorType) > maxErrorTypeLen || !utf8.ValidString(er.ErrorType) {
			t.Fatalf("ErrorType %q", er.ErrorType)
		}
		if !json.Valid(er.Body) {
			t.Fatalf("Body %q is not JSON", er.Body)
		}
		trimmed := bytes.TrimSpace(body)
		if !unreadable && len(trimmed) > 0 && json.Valid(trimmed) {
			if !bytes.Equal(er.Body, trimmed) {
				t.Fatalf("valid JSON body changed: %q -> %q", body, er.Body)
			}
			return
		}
		var e lambdaError
		if err := json.Unmarshal(er.Body, &e); err != nil || e.ErrorType != er.ErrorType || e.ErrorMessage == "" {
			t.Fatalf("synthesised body %q does not match type %q", er.Body, er.ErrorType)
		}
		if headerType != "" && er.ErrorType != clampUTF8(headerType, maxErrorTypeLen) {
			t.Fatalf("ErrorType %q, want the header %q", er.ErrorType, headerType)
		}
	})
}

// FuzzTrailerError checks the /response error-trailer decoder.
func FuzzTrailerError(f *testing.F) {
	f.Add("errorString", base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"x","errorType":"errorString"}`)))
	f.Add("", "")
	f.Add("", "not base64!")
	f.Add("T", " "+base64.StdEncoding.EncodeToString([]byte("text"))+" ")
	f.Fuzz(func(t *testing.T, typ, b64 string) {
		er := trailerError(http.Header{hdrErrorType: {typ}, hdrErrorBody: {b64}})
		if (typ == "" && b64 == "") != (er == nil) {
			t.Fatalf("trailerError(%q, %q) = %+v", typ, b64, er)
		}
		if er != nil && (er.ErrorType == "" || !json.Valid(er.Body)) {
			t.Fatalf("bad ErrorResponse %+v", er)
		}
	})
}

// FuzzParseInvocationPath checks the /{id}/response|error router.
func FuzzParseInvocationPath(f *testing.F) {
	for _, s := range []string{"invocation/abc/response", "invocation/abc/error", "invocation//error", "invocation/a/b/response", "invocation/next", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rest string) {
		id, action, ok := parseInvocationPath(rest)
		if !ok {
			return
		}
		if id == "" || strings.Contains(id, "/") || (action != "response" && action != "error") {
			t.Fatalf("parse(%q) = %q %q", rest, id, action)
		}
		if "invocation/"+id+"/"+action != rest {
			t.Fatalf("parse(%q) does not round-trip: %q %q", rest, id, action)
		}
	})
}

// FuzzNextHeaders sends whatever Invoke accepts over real HTTP and checks
// that a Go HTTP client (what aws-lambda-go uses) reads back the same
// request id, deadline, ARN, trace, tenant, JSON headers and payload.
func FuzzNextHeaders(f *testing.F) {
	f.Add("8476a536-e9f4-11e8-9739-2dfe598c3fcd", "arn:aws:lambda:us-east-1:1:function:f", "Root=1-a;Parent=b;Sampled=1", "",
		[]byte(`{"custom":{"a":"b"}}`), []byte(nil), []byte(`{"k":1}`), int64(1542409706888))
	f.Add("a", "", "", "tenant", []byte(nil), []byte(`{"cognitoIdentityId":"x"}`), []byte{}, int64(0))
	f.Add("a", "é ☃", "\t x \t", "t", []byte(" [1, 2] "), []byte(`"s"`), []byte{0, 1, 2}, int64(-1))
	s := newTestServer(f, Options{})
	rt := newRawRuntime(f, s)
	f.Fuzz(func(t *testing.T, id, arn, trace, tenant string, cc, ci, payload []byte, deadlineMs int64) {
		inv := &Invocation{RequestID: id, InvokedFunctionArn: arn, TraceID: trace, TenantID: tenant,
			ClientContext: cc, CognitoIdentity: ci, Payload: payload}
		if deadlineMs != 0 {
			inv.Deadline = time.UnixMilli(deadlineMs)
		}
		ctx, cancel := context.WithDeadline(context.Background(), time.UnixMilli(1<<41))
		defer cancel()
		c, err := newCall(ctx, inv)
		if err != nil {
			if _, ierr := s.Invoke(ctx, inv); !errors.Is(ierr, ErrInvalidInvocation) {
				t.Fatalf("newCall rejects (%v) but Invoke says %v", err, ierr)
			}
			return
		}
		done := invokeAsync(ctx, s, inv)
		res := rt.next(ctx)
		if res.err != nil || res.resp.StatusCode != http.StatusOK {
			t.Fatalf("next = %+v", res)
		}
		hd := res.resp.Header
		trim := func(v string) string { return strings.Trim(v, " \t") } // HTTP drops surrounding whitespace
		checks := []struct{ name, got, want string }{
			{"request id", hd.Get(hdrRequestID), id},
			{"deadline", hd.Get(hdrDeadlineMs), strconv.FormatInt(c.deadlineMs, 10)},
			{"arn", hd.Get(hdrFunctionArn), trim(arn)},
			{"trace", hd.Get(hdrTraceID), trim(trace)},
			{"tenant", hd.Get(hdrTenantID), trim(tenant)},
			{"client context", hd.Get(hdrClientContext), string(c.clientContext)},
			{"cognito", hd.Get(hdrCognitoIdentity), string(c.cognito)},
			{"payload", string(res.body), string(payload)},
		}
		for _, ch := range checks {
			if ch.got != ch.want {
				t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
			}
		}
		if len(c.clientContext) > 0 && !json.Valid([]byte(hd.Get(hdrClientContext))) {
			t.Errorf("client context header %q is not JSON", hd.Get(hdrClientContext))
		}
		post := rt.post("invocation/"+id+"/response", nil, string(payload))
		if post.err != nil || post.resp.StatusCode != http.StatusAccepted {
			t.Fatalf("response = %+v", post)
		}
		if r := <-done; r.err != nil || !bytes.Equal(r.resp.Payload, payload) {
			t.Fatalf("Invoke = %+v, %v", r.resp, r.err)
		}
	})
}
