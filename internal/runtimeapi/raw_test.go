package runtimeapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rawRuntime is a hand-written Runtime API client for edge cases a real
// runtime never produces.
type rawRuntime struct {
	t    testing.TB
	base string
	c    *http.Client
}

func newRawRuntime(t testing.TB, s *Server) *rawRuntime {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &rawRuntime{t: t, base: "http://" + s.Addr() + pathPrefix, c: &http.Client{Transport: tr}}
}

type httpResult struct {
	resp *http.Response
	body []byte
	err  error
}

func (r *rawRuntime) do(req *http.Request) httpResult {
	resp, err := r.c.Do(req)
	if err != nil {
		return httpResult{err: err}
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return httpResult{resp: resp, body: b, err: err}
}

func (r *rawRuntime) next(ctx context.Context) httpResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+"invocation/next", nil)
	if err != nil {
		return httpResult{err: err}
	}
	return r.do(req)
}

// nextAsync starts a GET /next and returns where its result will arrive.
func (r *rawRuntime) nextAsync(ctx context.Context) <-chan httpResult {
	ch := make(chan httpResult, 1)
	go func() { ch <- r.next(ctx) }()
	return ch
}

func (r *rawRuntime) post(path string, hdr http.Header, body string) httpResult {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, r.base+path, strings.NewReader(body))
	if err != nil {
		return httpResult{err: err}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	return r.do(req)
}

// expect checks status and, for errors, the OAS error body's errorType.
func (r *rawRuntime) expect(res httpResult, status int, errorType string) {
	r.t.Helper()
	if res.err != nil {
		r.t.Fatalf("request failed: %v", res.err)
	}
	if res.resp.StatusCode != status {
		r.t.Fatalf("status = %d (%s), want %d", res.resp.StatusCode, res.body, status)
	}
	if errorType == "" {
		return
	}
	var e lambdaError
	if err := json.Unmarshal(res.body, &e); err != nil || e.ErrorType != errorType || e.ErrorMessage == "" {
		r.t.Fatalf("body = %s, want errorType %s", res.body, errorType)
	}
}

// invokeAsync starts Invoke and returns where its result will arrive.
type invokeResult struct {
	resp *Response
	err  error
}

func invokeAsync(ctx context.Context, s *Server, inv *Invocation) <-chan invokeResult {
	ch := make(chan invokeResult, 1)
	go func() {
		resp, err := s.Invoke(ctx, inv)
		ch <- invokeResult{resp, err}
	}()
	return ch
}

// initRaw makes the raw runtime finish init; its /next stays parked.
func initRaw(t *testing.T, s *Server, rt *rawRuntime) <-chan httpResult {
	t.Helper()
	ch := rt.nextAsync(testCtx(t))
	mustWaitInit(t, s)
	return ch
}

func TestNextHeadersAndBody(t *testing.T) {
	s := newTestServer(t, Options{})
	rt := newRawRuntime(t, s)

	inv := newInvocation(`{"k":"v"}`)
	inv.Deadline = time.UnixMilli(1542409706888)
	inv.TenantID = "t-1"
	inv.ClientContext = []byte(` {"custom": {"a": "b"}} `)
	inv.CognitoIdentity = []byte(`{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}`)
	done := invokeAsync(testCtx(t), s, inv)
	res := rt.next(testCtx(t))
	rt.expect(res, http.StatusOK, "")
	want := map[string]string{
		"Content-Type":                        "application/json",
		"Lambda-Runtime-Aws-Request-Id":       inv.RequestID,
		"Lambda-Runtime-Deadline-Ms":          "1542409706888",
		"Lambda-Runtime-Invoked-Function-Arn": inv.InvokedFunctionArn,
		"Lambda-Runtime-Trace-Id":             inv.TraceID,
		"Lambda-Runtime-Client-Context":       `{"custom":{"a":"b"}}`,
		"Lambda-Runtime-Cognito-Identity":     `{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}`,
		"Lambda-Runtime-Aws-Tenant-Id":        "t-1",
	}
	for k, v := range want {
		if got := res.resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if string(res.body) != `{"k":"v"}` {
		t.Errorf("body = %q", res.body)
	}
	rt.expect(rt.post("invocation/"+inv.RequestID+"/response", http.Header{"Content-Type": {"text/plain"}}, "ok"), http.StatusAccepted, "")
	r := <-done
	if r.err != nil || string(r.resp.Payload) != "ok" || r.resp.ContentType != "text/plain" || r.resp.Error != nil || r.resp.Streaming {
		t.Fatalf("Invoke = %+v, %v", r.resp, r.err)
	}

	// Optional headers are absent when not set.
	inv = newInvocation(`{}`)
	inv.TraceID = ""
	done = invokeAsync(testCtx(t), s, inv)
	res = rt.next(testCtx(t))
	rt.expect(res, http.StatusOK, "")
	for _, k := range []string{"Lambda-Runtime-Trace-Id", "Lambda-Runtime-Client-Context", "Lambda-Runtime-Cognito-Identity", "Lambda-Runtime-Aws-Tenant-Id"} {
		if _, ok := res.resp.Header[k]; ok {
			t.Errorf("%s present, want absent", k)
		}
	}
	rt.expect(rt.post("invocation/"+inv.RequestID+"/response", nil, "{}"), http.StatusAccepted, "")
	<-done
}

func TestInvokeBeforeInitIsQueued(t *testing.T) {
	s := newTestServer(t, Options{})
	rt := newRawRuntime(t, s)
	inv := newInvocation(`{}`)
	done := invokeAsync(testCtx(t), s, inv)
	res := rt.next(testCtx(t)) // the first /next both ends init and takes the event
	rt.expect(res, http.StatusOK, "")
	if got := res.resp.Header.Get(hdrRequestID); got != inv.RequestID {
		t.Fatalf("request id = %q", got)
	}
	mustWaitInit(t, s)
	rt.expect(rt.post("invocation/"+inv.RequestID+"/response", nil, "r"), http.StatusAccepted, "")
	if r := <-done; r.err != nil || string(r.resp.Payload) != "r" {
		t.Fatalf("Invoke = %+v, %v", r.resp, r.err)
	}
}

func TestResponseAndErrorStates(t *testing.T) {
	s := newTestServer(t, Options{})
	rt := newRawRuntime(t, s)
	id := "00000000-0000-4000-8000-000000000000"

	// During init there is nothing to answer.
	rt.expect(rt.post("invocation/"+id+"/response", nil, "x"), http.StatusForbidden, "InvalidStateTransition")
	rt.expect(rt.post("invocation/"+id+"/error", nil, "x"), http.StatusForbidden, "InvalidStateTransition")

	parked := initRaw(t, s, rt)
	// Idle: still nothing in flight.
	rt.expect(rt.post("invocation/"+id+"/response", nil, "x"), http.StatusForbidden, "InvalidStateTransition")

	inv := newInvocation(`{}`)
	done := invokeAsync(testCtx(t), s, inv)
	rt.expect(<-parked, http.StatusOK, "")
	rt.expect(rt.post("invocation/"+id+"/response", nil, "x"), http.StatusBadRequest, "InvalidRequestID")
	rt.expect(rt.post("invocation/"+id+"/error", nil, "x"), http.StatusBadRequest, "InvalidRequestID")
	rt.expect(rt.next(testCtx(t)), http.StatusForbidden, "InvalidStateTransition")

	// A bad response mode fails the invocation, like Lambda.
	rt.expect(rt.post("invocation/"+inv.RequestID+"/response", http.Header{hdrResponseMode: {"buffered"}}, "x"),
		http.StatusBadRequest, errTypeInvalidResponseMode)
	r := <-done
	if r.err != nil || r.resp.Error == nil || r.resp.Error.ErrorType != errTypeInvalidResponseMode {
		t.Fatalf("Invoke = %+v, %v; want %s", r.resp, r.err, errTypeInvalidResponseMode)
	}

	// Streaming mode is accepted (and buffered).
	parked = rt.nextAsync(testCtx(t))
	inv = newInvocation(`{}`)
	done = invokeAsync(testCtx(t), s, inv)
	rt.expect(<-parked, http.StatusOK, "")
	rt.expect(rt.post("invocation/"+inv.RequestID+"/response",
		http.Header{hdrResponseMode: {"streaming"}, "Content-Type": {"application/vnd.awslambda.http-integration-response"}},
		"{\"statusCode\":200}\x00\x00\x00\x00\x00\x00\x00\x00hello"), http.StatusAccepted, "")
	r = <-done
	if r.err != nil || !r.resp.Streaming || !strings.HasSuffix(string(r.resp.Payload), "hello") {
		t.Fatalf("Invoke = %+v, %v", r.resp, r.err)
	}
}

func TestErrorEndpointReports(t *testing.T) {
	cases := []struct {
		name, header, body string
		wantType, wantBody string
	}{
		{"header and JSON body", "Function.Custom", `{"errorMessage":"m","errorType":"Body.Type","stackTrace":["a"]}`,
			"Function.Custom", `{"errorMessage":"m","errorType":"Body.Type","stackTrace":["a"]}`},
		{"type from body", "", `{"errorMessage":"m","errorType":"Body.Type"}`,
			"Body.Type", `{"errorMessage":"m","errorType":"Body.Type"}`},
		{"JSON without a type", "", `{"errorMessage":"m"}`, "Runtime.Unknown", `{"errorMessage":"m"}`},
		{"text body", "", "plain text", "Runtime.Unknown", `{"errorMessage":"plain text","errorType":"Runtime.Unknown"}`},
		{"text body with header", "Runtime.Crash", "not json {", "Runtime.Crash", `{"errorMessage":"not json {","errorType":"Runtime.Crash"}`},
		{"no body", "Runtime.NoBody", "", "Runtime.NoBody", `{"errorMessage":"Unknown application error occurred","errorType":"Runtime.NoBody"}`},
	}
	s := newTestServer(t, Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rt := newRawRuntime(t, s)
			inv := newInvocation(`{}`)
			done := invokeAsync(testCtx(t), s, inv)
			rt.expect(rt.next(testCtx(t)), http.StatusOK, "")
			hdr := http.Header{}
			if tc.header != "" {
				hdr.Set(hdrErrorType, tc.header)
			}
			res := rt.post("invocation/"+inv.RequestID+"/error", hdr, tc.body)
			rt.expect(res, http.StatusAccepted, "")
			if string(res.body) != "{\"status\":\"OK\"}\n" {
				t.Errorf("202 body = %q", res.body)
			}
			r := <-done
			if r.err != nil || r.resp.Error == nil {
				t.Fatalf("Invoke = %+v, %v", r.resp, r.err)
			}
			if r.resp.Error.ErrorType != tc.wantType || string(r.resp.Error.Body) != tc.wantBody {
				t.Errorf("ErrorResponse = %q %s, want %q %s", r.resp.Error.ErrorType, r.resp.Error.Body, tc.wantType, tc.wantBody)
			}
		})
	}
}

func TestInitErrorStates(t *testing.T) {
	s := newTestServer(t, Options{})
	rt := newRawRuntime(t, s)
	queued := invokeAsync(testCtx(t), s, newInvocation(`{}`)) // waits for init
	rt.expect(rt.post("init/error", http.Header{hdrErrorType: {"Runtime.BadConfig"}}, "config missing"), http.StatusAccepted, "")
	er, err := s.WaitInit(testCtx(t))
	if err != nil || er == nil || er.ErrorType != "Runtime.BadConfig" ||
		string(er.Body) != `{"errorMessage":"config missing","errorType":"Runtime.BadConfig"}` {
		t.Fatalf("WaitInit = %+v, %v", er, err)
	}
	var ie *InitError
	if r := <-queued; !errors.As(r.err, &ie) || ie.Response != er {
		t.Fatalf("queued Invoke = %v, want *InitError", r.err)
	}
	rt.expect(rt.post("init/error", nil, "{}"), http.StatusForbidden, "InvalidStateTransition")
	rt.expect(rt.next(testCtx(t)), http.StatusForbidden, "InvalidStateTransition")

	// After init is done, init errors are refused.
	s.Reset()
	rt2 := newRawRuntime(t, s)
	initRaw(t, s, rt2)
	rt2.expect(rt2.post("init/error", nil, "{}"), http.StatusForbidden, "InvalidStateTransition")
}

func TestBodyLimits(t *testing.T) {
	const limit = 1024
	big := strings.Repeat("x", 8*limit)
	s := newTestServer(t, Options{MaxResponse: limit})

	rt := newRawRuntime(t, s)
	rt.expect(rt.post("init/error", http.Header{hdrErrorType: {"Runtime.Huge"}}, big), http.StatusRequestEntityTooLarge, "RequestEntityTooLarge")
	er, err := s.WaitInit(testCtx(t))
	if err != nil || er == nil || er.ErrorType != "Runtime.Huge" || !json.Valid(er.Body) {
		t.Fatalf("WaitInit = %+v, %v", er, err)
	}
	s.Reset()

	cases := []struct {
		name, path string
		body       io.Reader
		status     int
		errorType  string
	}{
		{"response at the limit", "response", strings.NewReader(big[:limit]), http.StatusAccepted, ""},
		{"response over, Content-Length", "response", strings.NewReader(big), http.StatusRequestEntityTooLarge, "RequestEntityTooLarge"},
		{"response over, chunked", "response", io.MultiReader(strings.NewReader(big)), http.StatusRequestEntityTooLarge, "RequestEntityTooLarge"},
		{"error over", "error", io.MultiReader(strings.NewReader(big)), http.StatusRequestEntityTooLarge, "RequestEntityTooLarge"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rt := newRawRuntime(t, s) // fresh connections: the server closes one after a 413
			inv := newInvocation(`{}`)
			done := invokeAsync(testCtx(t), s, inv)
			rt.expect(rt.next(testCtx(t)), http.StatusOK, "")
			req, _ := http.NewRequestWithContext(testCtx(t), http.MethodPost, rt.base+"invocation/"+inv.RequestID+"/"+tc.path, tc.body)
			rt.expect(rt.do(req), tc.status, tc.errorType)
			r := <-done
			if tc.status == http.StatusAccepted {
				if r.err != nil || len(r.resp.Payload) != limit {
					t.Fatalf("Invoke = %+v, %v", r.resp, r.err)
				}
			} else if !errors.Is(r.err, ErrResponseTooLarge) {
				t.Fatalf("Invoke = %+v, %v; want ErrResponseTooLarge", r.resp, r.err)
			}
		})
	}
}

func TestResponseTrailers(t *testing.T) {
	s := newTestServer(t, Options{})
	errJSON := `{"errorMessage":"disk full","errorType":"IOError"}`
	cases := []struct {
		name          string
		trailer       http.Header
		wantType      string
		wantErrorBody string // "" for success
	}{
		{"declared but empty", http.Header{hdrErrorType: nil, hdrErrorBody: nil}, "", ""},
		{"type and body", http.Header{hdrErrorType: {"IOError"}, hdrErrorBody: {base64.StdEncoding.EncodeToString([]byte(errJSON))}}, "IOError", errJSON},
		{"body only", http.Header{hdrErrorType: nil, hdrErrorBody: {base64.StdEncoding.EncodeToString([]byte(errJSON))}}, "IOError", errJSON},
		{"bad base64", http.Header{hdrErrorType: {"Runtime.Stream"}, hdrErrorBody: {"%%%"}}, "Runtime.Stream",
			`{"errorMessage":"Unknown application error occurred","errorType":"Runtime.Stream"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rt := newRawRuntime(t, s)
			inv := newInvocation(`{}`)
			done := invokeAsync(testCtx(t), s, inv)
			rt.expect(rt.next(testCtx(t)), http.StatusOK, "")
			// As aws-lambda-go does: unknown length (chunked), trailers
			// declared up front and filled in at EOF.
			tr := http.Header{}
			for k := range tc.trailer {
				tr[k] = nil
			}
			body := &trailerFiller{r: strings.NewReader("partial"), tr: tr, values: tc.trailer}
			req, _ := http.NewRequestWithContext(testCtx(t), http.MethodPost, rt.base+"invocation/"+inv.RequestID+"/response", body)
			req.Trailer = tr
			rt.expect(rt.do(req), http.StatusAccepted, "")
			r := <-done
			if r.err != nil || string(r.resp.Payload) != "partial" {
				t.Fatalf("Invoke = %+v, %v", r.resp, r.err)
			}
			switch {
			case tc.wantErrorBody == "" && r.resp.Error != nil:
				t.Errorf("Error = %+v, want success", r.resp.Error)
			case tc.wantErrorBody != "" && (r.resp.Error == nil || r.resp.Error.ErrorType != tc.wantType || string(r.resp.Error.Body) != tc.wantErrorBody):
				t.Errorf("Error = %+v, want %s %s", r.resp.Error, tc.wantType, tc.wantErrorBody)
			}
		})
	}
}

// trailerFiller sets trailer values when its reader is exhausted, as
// aws-lambda-go's errorCapturingReader does.
type trailerFiller struct {
	r      io.Reader
	tr     http.Header
	values http.Header
}

func (f *trailerFiller) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if errors.Is(err, io.EOF) {
		for k, v := range f.values {
			if v != nil {
				f.tr[k] = v
			}
		}
	}
	return n, err
}

func TestRouting(t *testing.T) {
	s := newTestServer(t, Options{})
	rt := newRawRuntime(t, s)
	cases := []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodGet, "/", http.StatusNotFound, ""},
		{http.MethodGet, "/2018-06-01/runtime/", http.StatusNotFound, ""},
		{http.MethodGet, "/2018-06-01/runtime/invocation/next/", http.StatusNotFound, ""},
		{http.MethodGet, "/2018-06-01/runtime/invocation//response", http.StatusNotFound, ""},
		{http.MethodPost, "/2018-06-01/runtime/invocation/abc/respond", http.StatusNotFound, ""},
		{http.MethodPost, "/2018-06-01/runtime/invocation/a/b/response", http.StatusNotFound, ""},
		{http.MethodGet, "/2020-01-01/extension/event/next", http.StatusForbidden, ""}, // no identifier
		{http.MethodGet, "/2020-01-01/extension/events/next", http.StatusNotFound, ""},
		{http.MethodGet, "/2020-01-01/extension/register", http.StatusMethodNotAllowed, "POST"},
		{http.MethodPost, "/2022-07-01/telemetry", http.StatusMethodNotAllowed, "PUT"},
		{http.MethodPost, "/2018-06-01/runtime/invocation/next", http.StatusMethodNotAllowed, "GET"},
		{http.MethodHead, "/2018-06-01/runtime/invocation/next", http.StatusMethodNotAllowed, "GET"},
		{http.MethodGet, "/2018-06-01/runtime/init/error", http.StatusMethodNotAllowed, "POST"},
		{http.MethodGet, "/2018-06-01/runtime/invocation/abc/response", http.StatusMethodNotAllowed, "POST"},
		{http.MethodPut, "/2018-06-01/runtime/invocation/abc/error", http.StatusMethodNotAllowed, "POST"},
	}
	for _, tc := range cases {
		req, _ := http.NewRequestWithContext(testCtx(t), tc.method, "http://"+s.Addr()+tc.path, nil)
		res := rt.do(req)
		if res.err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, res.err)
		}
		if res.resp.StatusCode != tc.status || res.resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s = %d allow %q, want %d allow %q", tc.method, tc.path, res.resp.StatusCode,
				res.resp.Header.Get("Allow"), tc.status, tc.allow)
			continue
		}
		if tc.method != http.MethodHead && !json.Valid(res.body) {
			t.Errorf("%s %s body %q is not JSON", tc.method, tc.path, res.body)
		}
	}
}

func TestNextClientGoneKeepsEvent(t *testing.T) {
	s := New(testLogger(), Options{})
	gone := make(chan struct{}, 1)
	s.hookWaiterGone = func() { gone <- struct{}{} }
	l, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Start(l)
	t.Cleanup(func() { _ = s.Close() })
	rt := newRawRuntime(t, s)

	ctx, cancel := context.WithCancel(testCtx(t))
	first := rt.nextAsync(ctx)
	mustWaitInit(t, s) // the /next is parked
	cancel()
	<-gone
	if res := <-first; res.err == nil {
		t.Fatalf("canceled /next got %d", res.resp.StatusCode)
	}

	inv := newInvocation(`{}`)
	done := invokeAsync(testCtx(t), s, inv)
	res := rt.next(testCtx(t))
	rt.expect(res, http.StatusOK, "")
	if got := res.resp.Header.Get(hdrRequestID); got != inv.RequestID {
		t.Fatalf("request id = %q", got)
	}
	rt.expect(rt.post("invocation/"+inv.RequestID+"/response", nil, "ok"), http.StatusAccepted, "")
	<-done
}

// failingWriter is a ResponseWriter whose client vanished.
type failingWriter struct{ h http.Header }

func (f *failingWriter) Header() http.Header       { return f.h }
func (f *failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }
func (f *failingWriter) WriteHeader(int)           {}
func (f *failingWriter) Flush()                    {}
func (f *failingWriter) FlushError() error         { return errors.New("broken pipe") }

func TestFailedDeliveryIsQueuedAgain(t *testing.T) {
	s := New(testLogger(), Options{})
	t.Cleanup(func() { _ = s.Close() })
	handled := make(chan struct{})
	go func() {
		defer close(handled)
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, pathPrefix+"invocation/next", nil)
		s.serveHTTP(&failingWriter{h: http.Header{}}, req)
	}()
	mustWaitInit(t, s)
	inv := newInvocation(`{}`)
	done := invokeAsync(testCtx(t), s, inv)
	<-handled // delivery failed

	rec := serveRecorded(s, http.MethodGet, "invocation/next", nil, nil)
	if rec.Code != http.StatusOK || rec.Header().Get(hdrRequestID) != inv.RequestID {
		t.Fatalf("second /next = %d %q", rec.Code, rec.Header().Get(hdrRequestID))
	}
	rec = serveRecorded(s, http.MethodPost, "invocation/"+inv.RequestID+"/response", nil, []byte("ok"))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("response = %d %s", rec.Code, rec.Body)
	}
	if r := <-done; r.err != nil || string(r.resp.Payload) != "ok" {
		t.Fatalf("Invoke = %+v, %v", r.resp, r.err)
	}
}

func TestInvokeWithdrawnBeforeDelivery(t *testing.T) {
	s := newTestServer(t, Options{})
	rt := newRawRuntime(t, s)
	ctx, cancel := context.WithCancel(testCtx(t))
	withdrawn := newInvocation(`{}`)
	done := invokeAsync(ctx, s, withdrawn)
	cancel()
	if r := <-done; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Invoke = %v, want context.Canceled", r.err)
	}
	inv := newInvocation(`{}`)
	done = invokeAsync(testCtx(t), s, inv)
	res := rt.next(testCtx(t))
	rt.expect(res, http.StatusOK, "")
	if got := res.resp.Header.Get(hdrRequestID); got != inv.RequestID {
		t.Fatalf("runtime got %q, want %q (the withdrawn one must not be delivered)", got, inv.RequestID)
	}
	rt.expect(rt.post("invocation/"+inv.RequestID+"/response", nil, "ok"), http.StatusAccepted, "")
	<-done
}

func TestAbandonedInvocationAnswerIsDropped(t *testing.T) {
	s := newTestServer(t, Options{})
	rt := newRawRuntime(t, s)
	parked := initRaw(t, s, rt)
	ctx, cancel := context.WithCancel(testCtx(t))
	inv := newInvocation(`{}`)
	done := invokeAsync(ctx, s, inv)
	rt.expect(<-parked, http.StatusOK, "")
	cancel()
	if r := <-done; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Invoke = %v", r.err)
	}
	if _, err := s.Invoke(testCtx(t), newInvocation(`{}`)); !errors.Is(err, ErrBusy) {
		t.Fatalf("Invoke while abandoned = %v, want ErrBusy", err)
	}
	rt.expect(rt.post("invocation/"+inv.RequestID+"/response", nil, "late"), http.StatusAccepted, "")

	inv2 := newInvocation(`{}`)
	done = invokeAsync(testCtx(t), s, inv2)
	res := rt.next(testCtx(t))
	rt.expect(res, http.StatusOK, "")
	if got := res.resp.Header.Get(hdrRequestID); got != inv2.RequestID {
		t.Fatalf("request id = %q", got)
	}
	rt.expect(rt.post("invocation/"+inv2.RequestID+"/response", nil, "fresh"), http.StatusAccepted, "")
	if r := <-done; r.err != nil || string(r.resp.Payload) != "fresh" {
		t.Fatalf("Invoke = %+v, %v", r.resp, r.err)
	}
}

func TestResetEndsTheGeneration(t *testing.T) {
	s := newTestServer(t, Options{})
	rt := newRawRuntime(t, s)
	parked := initRaw(t, s, rt)

	s.Reset()
	if res := <-parked; res.err == nil && res.resp.StatusCode == http.StatusOK {
		t.Fatal("parked /next got 200 after Reset")
	}
	// Init must happen again.
	ctx, cancel := context.WithCancel(testCtx(t))
	cancel()
	if _, err := s.WaitInit(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitInit right after Reset = %v, want it to wait", err)
	}

	// Waiting calls end with ErrReset.
	waiting := make(chan struct{}, 1)
	s.hookWaitInit = func() { waiting <- struct{}{} }
	waitInit := make(chan error, 1)
	go func() { _, err := s.WaitInit(testCtx(t)); waitInit <- err }()
	<-waiting
	s.hookQueued = func() { waiting <- struct{}{} }
	queued := invokeAsync(testCtx(t), s, newInvocation(`{}`))
	<-waiting
	s.hookWaitInit, s.hookQueued = nil, nil
	s.Reset()
	if r := <-queued; !errors.Is(r.err, ErrReset) {
		t.Fatalf("queued Invoke = %v, want ErrReset", r.err)
	}
	if err := <-waitInit; !errors.Is(err, ErrReset) {
		t.Fatalf("WaitInit = %v, want ErrReset", err)
	}

	// A new runtime initialises afresh.
	rt2 := newRawRuntime(t, s)
	parked = initRaw(t, s, rt2)
	inv := newInvocation(`{}`)
	done := invokeAsync(testCtx(t), s, inv)
	rt2.expect(<-parked, http.StatusOK, "")
	rt2.expect(rt2.post("invocation/"+inv.RequestID+"/response", nil, "ok"), http.StatusAccepted, "")
	<-done
}

func TestStaleGenerationRequestsRefused(t *testing.T) {
	s := New(testLogger(), Options{})
	t.Cleanup(func() { _ = s.Close() })
	oldConn := context.WithValue(context.Background(), connGenKey{}, uint64(1))
	s.Reset()
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "invocation/next"},
		{http.MethodPost, "init/error"},
		{http.MethodPost, "invocation/x/response"},
		{http.MethodPost, "invocation/x/error"},
	} {
		req, _ := http.NewRequestWithContext(oldConn, tc.method, pathPrefix+tc.path, bytes.NewReader(nil))
		rec := httptest.NewRecorder()
		s.serveHTTP(rec, req)
		if rec.Code != http.StatusInternalServerError || rec.Header().Get("Connection") != "close" {
			t.Errorf("%s %s from an old connection = %d, want 500 + close", tc.method, tc.path, rec.Code)
		}
	}
	// The old runtime's /next must not have completed the new init.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.WaitInit(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitInit = %v, want still initializing", err)
	}
}

func TestCloseUnblocksEverything(t *testing.T) {
	s := newTestServer(t, Options{})
	waitInit := make(chan error, 1)
	go func() { _, err := s.WaitInit(context.Background()); waitInit <- err }()
	queued := invokeAsync(context.Background(), s, newInvocation(`{}`))

	s2 := newTestServer(t, Options{})
	rt := newRawRuntime(t, s2)
	parked := initRaw(t, s2, rt)

	for _, srv := range []*Server{s, s2} {
		if err := srv.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := srv.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
	// Close returned, so every handler (the parked /next too) has returned.
	if res := <-parked; res.err == nil && res.resp.StatusCode == http.StatusOK {
		t.Fatal("parked /next got 200 on Close")
	}
	if r := <-queued; !errors.Is(r.err, ErrClosed) {
		t.Errorf("Invoke = %v, want ErrClosed", r.err)
	}
	if err := <-waitInit; !errors.Is(err, ErrClosed) {
		t.Errorf("WaitInit = %v, want ErrClosed", err)
	}
	if _, err := s.Invoke(context.Background(), newInvocation(`{}`)); !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke after Close = %v", err)
	}
	if _, err := s.WaitInit(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("WaitInit after Close = %v", err)
	}
}

func TestConcurrentAnswersOneWins(t *testing.T) {
	s := New(testLogger(), Options{})
	claimed, release := make(chan struct{}), make(chan struct{})
	s.hookClaimed = func() { claimed <- struct{}{}; <-release }
	t.Cleanup(func() { _ = s.Close() })

	delivered := make(chan *httptest.ResponseRecorder, 1)
	go func() { delivered <- serveRecorded(s, http.MethodGet, "invocation/next", nil, nil) }()
	mustWaitInit(t, s)
	inv := newInvocation(`{}`)
	done := invokeAsync(testCtx(t), s, inv)
	if rec := <-delivered; rec.Code != http.StatusOK {
		t.Fatalf("/next = %d", rec.Code)
	}
	first := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		first <- serveRecorded(s, http.MethodPost, "invocation/"+inv.RequestID+"/response", nil, []byte("first"))
	}()
	<-claimed
	for _, path := range []string{"response", "error"} {
		rec := serveRecorded(s, http.MethodPost, "invocation/"+inv.RequestID+"/"+path, nil, []byte("second"))
		if rec.Code != http.StatusForbidden {
			t.Errorf("concurrent %s = %d %s, want 403", path, rec.Code, rec.Body)
		}
	}
	close(release)
	if rec := <-first; rec.Code != http.StatusAccepted {
		t.Fatalf("first = %d", rec.Code)
	}
	if r := <-done; r.err != nil || string(r.resp.Payload) != "first" {
		t.Fatalf("Invoke = %+v, %v", r.resp, r.err)
	}
}

func TestConnectionLimit(t *testing.T) {
	s := newTestServer(t, Options{MaxConns: 2})
	var conns []net.Conn
	for range 3 {
		c, err := new(net.Dialer).DialContext(testCtx(t), "tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		conns = append(conns, c)
	}
	// The third connection is closed by the server without an answer.
	if _, err := conns[2].Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("third connection read = %v, want EOF", err)
	}
	// The first two are served.
	for _, c := range conns[:2] {
		if _, err := io.WriteString(c, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusNotFound {
			t.Fatalf("served connection: %v %v", resp, err)
		}
		_ = resp.Body.Close()
	}
}

func TestInvokeValidation(t *testing.T) {
	s := New(testLogger(), Options{})
	t.Cleanup(func() { _ = s.Close() })
	mod := func(f func(*Invocation)) *Invocation { inv := newInvocation(`{}`); f(inv); return inv }
	cases := map[string]*Invocation{
		"nil":            nil,
		"empty id":       mod(func(i *Invocation) { i.RequestID = "" }),
		"slash in id":    mod(func(i *Invocation) { i.RequestID = "a/b" }),
		"query in id":    mod(func(i *Invocation) { i.RequestID = "a?b" }),
		"long id":        mod(func(i *Invocation) { i.RequestID = strings.Repeat("a", 129) }),
		"newline in arn": mod(func(i *Invocation) { i.InvokedFunctionArn = "arn\r\nX-Evil: 1" }),
		"nul in trace":   mod(func(i *Invocation) { i.TraceID = "a\x00" }),
		"bad client ctx": mod(func(i *Invocation) { i.ClientContext = []byte("{") }),
		"bad cognito":    mod(func(i *Invocation) { i.CognitoIdentity = []byte("nope") }),
		"no deadline":    mod(func(i *Invocation) { i.Deadline = time.Time{} }),
	}
	for name, inv := range cases {
		if _, err := s.Invoke(context.Background(), inv); !errors.Is(err, ErrInvalidInvocation) {
			t.Errorf("%s: Invoke = %v, want ErrInvalidInvocation", name, err)
		}
	}
	// None of them got queued.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Invoke(ctx, newInvocation(`{}`)); !errors.Is(err, context.Canceled) {
		t.Errorf("valid Invoke = %v, want it queued (then canceled)", err)
	}
}

// serveRecorded runs one request through the handler without a network.
func serveRecorded(s *Server, method, path string, hdr http.Header, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(context.Background(), method, pathPrefix+path, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	s.serveHTTP(rec, req)
	return rec
}
