package runtimeapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Tests in this file drive the Server with real aws-lambda-go v1.55.1
// functions running in a re-executed test binary.

func mustWaitInit(t *testing.T, s *Server) {
	t.Helper()
	er, err := s.WaitInit(testCtx(t))
	if err != nil || er != nil {
		t.Fatalf("WaitInit = %+v, %v; want nil, nil", er, err)
	}
}

func mustInvoke(t *testing.T, s *Server, inv *Invocation) *Response {
	t.Helper()
	resp, err := s.Invoke(testCtx(t), inv)
	if err != nil {
		t.Fatalf("Invoke %s: %v", inv.RequestID, err)
	}
	return resp
}

// lambdaErrorJSON is the error body aws-lambda-go posts.
type lambdaErrorJSON struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
	StackTrace   []struct {
		Path  string `json:"path"`
		Line  int    `json:"line"`
		Label string `json:"label"`
	} `json:"stackTrace"`
}

func decodeLambdaError(t *testing.T, b []byte) lambdaErrorJSON {
	t.Helper()
	var e lambdaErrorJSON
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", b, err)
	}
	return e
}

func TestLambdaGoEchoReusesEnvironment(t *testing.T) {
	s := newTestServer(t, Options{})
	startRuntime(t, s, "echo")
	mustWaitInit(t, s)
	for _, v := range []string{"one", "two", "three"} {
		inv := newInvocation(`{"v":"` + v + `"}`)
		resp := mustInvoke(t, s, inv)
		if resp.Error != nil {
			t.Fatalf("invoke %s: function error %s %s", v, resp.Error.ErrorType, resp.Error.Body)
		}
		if resp.ContentType != "application/json" {
			t.Errorf("ContentType = %q, want application/json", resp.ContentType)
		}
		var out echoOut
		if err := json.Unmarshal(resp.Payload, &out); err != nil {
			t.Fatalf("payload %q: %v", resp.Payload, err)
		}
		if out.Payload["v"] != v || out.RequestID != inv.RequestID || out.FunctionArn != inv.InvokedFunctionArn {
			t.Errorf("echo = %+v, want payload v=%s request id %s", out, v, inv.RequestID)
		}
	}
}

func TestLambdaGoInvocationHeaders(t *testing.T) {
	s := newTestServer(t, Options{})
	startRuntime(t, s, "echo")
	mustWaitInit(t, s)

	inv := newInvocation(`{}`)
	inv.Deadline = time.UnixMilli(time.Now().Add(90 * time.Second).UnixMilli()).Add(123 * time.Microsecond)
	inv.InvokedFunctionArn = "arn:aws:lambda:us-east-1:123456789012:function:test:live"
	inv.TenantID = "tenant-a"
	// Pretty-printed on purpose: it must arrive compacted on one header line.
	inv.ClientContext = []byte(`{
		"Client": {"installation_id": "inst-1", "app_title": "app", "app_version_code": "7", "app_package_name": "com.example"},
		"env": {"platform": "android"},
		"custom": {"k": "v"}
	}`)
	inv.CognitoIdentity = []byte(`{"cognitoIdentityId":"us-east-1:abc","cognitoIdentityPoolId":"us-east-1:pool"}`)
	resp := mustInvoke(t, s, inv)
	if resp.Error != nil {
		t.Fatalf("function error %s", resp.Error.Body)
	}
	var out echoOut
	if err := json.Unmarshal(resp.Payload, &out); err != nil {
		t.Fatal(err)
	}
	if want := inv.Deadline.UnixMilli(); out.DeadlineMs != want {
		t.Errorf("handler deadline = %d ms, want %d ms", out.DeadlineMs, want)
	}
	if out.FunctionArn != inv.InvokedFunctionArn || out.TenantID != "tenant-a" || out.TraceEnv != inv.TraceID {
		t.Errorf("echo = arn %q tenant %q trace %q", out.FunctionArn, out.TenantID, out.TraceEnv)
	}
	cc := out.ClientContext
	if cc.Client.InstallationID != "inst-1" || cc.Client.AppTitle != "app" || cc.Client.AppVersionCode != "7" ||
		cc.Client.AppPackageName != "com.example" || cc.Env["platform"] != "android" || cc.Custom["k"] != "v" {
		t.Errorf("client context = %+v", cc)
	}
	if out.CognitoIdentity.CognitoIdentityID != "us-east-1:abc" || out.CognitoIdentity.CognitoIdentityPoolID != "us-east-1:pool" {
		t.Errorf("cognito identity = %+v", out.CognitoIdentity)
	}

	// Without the optional fields nothing is sent; the deadline comes from ctx.
	inv = newInvocation(`{}`)
	inv.Deadline = time.Time{}
	ctx, cancel := context.WithDeadline(testCtx(t), time.Now().Add(time.Hour))
	defer cancel()
	dl, _ := ctx.Deadline()
	resp, err := s.Invoke(ctx, inv)
	if err != nil || resp.Error != nil {
		t.Fatalf("Invoke = %+v, %v", resp, err)
	}
	out = echoOut{}
	if err := json.Unmarshal(resp.Payload, &out); err != nil {
		t.Fatal(err)
	}
	if out.DeadlineMs != dl.UnixMilli() || out.TenantID != "" || out.ClientContext.Client.InstallationID != "" ||
		out.CognitoIdentity.CognitoIdentityID != "" {
		t.Errorf("echo without optional headers = %+v, want deadline %d and empty fields", out, dl.UnixMilli())
	}
}

func TestLambdaGoHandlerError(t *testing.T) {
	s := newTestServer(t, Options{})
	p := startRuntime(t, s, "error")
	mustWaitInit(t, s)
	for range 2 { // a handled error does not end the runtime
		resp := mustInvoke(t, s, newInvocation(`{}`))
		if resp.Error == nil {
			t.Fatalf("Invoke = success %q, want a function error", resp.Payload)
		}
		// aws-lambda-go sends no error-type header: the type comes from the body.
		if resp.Error.ErrorType != "errorString" {
			t.Errorf("ErrorType = %q, want errorString", resp.Error.ErrorType)
		}
		e := decodeLambdaError(t, resp.Error.Body)
		if e.ErrorType != "errorString" || e.ErrorMessage != "boom" {
			t.Errorf("error body = %s", resp.Error.Body)
		}
	}
	select {
	case <-p.exited:
		t.Fatalf("runtime exited after a handled error: %v", p.err)
	default:
	}
}

func TestLambdaGoPanicThenReset(t *testing.T) {
	s := newTestServer(t, Options{})
	p := startRuntime(t, s, "panic")
	mustWaitInit(t, s)
	resp := mustInvoke(t, s, newInvocation(`{}`))
	if resp.Error == nil {
		t.Fatal("Invoke succeeded, want the panic as a function error")
	}
	e := decodeLambdaError(t, resp.Error.Body)
	if resp.Error.ErrorType != "string" || e.ErrorType != "string" || e.ErrorMessage != "kaboom" || len(e.StackTrace) == 0 {
		t.Errorf("panic error = type %q body %s", resp.Error.ErrorType, resp.Error.Body)
	}
	if code := p.waitExit(t); code == 0 {
		t.Error("runtime exited 0 after a panic, want non-zero")
	}

	// The environment owner resets and starts a fresh runtime.
	s.Reset()
	startRuntime(t, s, "echo")
	mustWaitInit(t, s)
	if resp := mustInvoke(t, s, newInvocation(`{"after":"reset"}`)); resp.Error != nil {
		t.Fatalf("after reset: function error %s", resp.Error.Body)
	}
}

func TestInitErrorServedToFirstInvoke(t *testing.T) {
	s := newTestServer(t, Options{})
	p := startRuntime(t, s, "initerror")
	er, err := s.WaitInit(testCtx(t))
	if err != nil || er == nil {
		t.Fatalf("WaitInit = %v, %v; want an init error", er, err)
	}
	if er.ErrorType != "Runtime.NoSuchHandler" {
		t.Errorf("ErrorType = %q", er.ErrorType)
	}
	if e := decodeLambdaError(t, er.Body); e.ErrorMessage != "Cannot find handler main.nope" {
		t.Errorf("init error body = %s", er.Body)
	}
	if code := p.waitExit(t); code != 1 {
		t.Errorf("init-error runtime exit code = %d, want 1 (it got a non-202 answer)", code)
	}
	_, err = s.Invoke(testCtx(t), newInvocation(`{}`))
	var ie *InitError
	if !errors.As(err, &ie) || ie.Response.ErrorType != "Runtime.NoSuchHandler" {
		t.Fatalf("Invoke after init error = %v, want *InitError", err)
	}

	s.Reset()
	startRuntime(t, s, "echo")
	mustWaitInit(t, s)
	mustInvoke(t, s, newInvocation(`{}`))
}

func TestRuntimeExitDuringInitIsTheCallersToDetect(t *testing.T) {
	s := newTestServer(t, Options{})
	p := startRuntime(t, s, "exit")
	ctx, cancel := context.WithCancel(testCtx(t))
	res := make(chan error, 1)
	go func() {
		_, err := s.WaitInit(ctx)
		res <- err
	}()
	if code := p.waitExit(t); code != 3 {
		t.Fatalf("exit code = %d", code)
	}
	cancel() // what the pool does when it sees the process die
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitInit = %v, want context.Canceled", err)
	}
}

func TestLambdaGoOversizeResponse(t *testing.T) {
	s := newTestServer(t, Options{})
	p := startRuntime(t, s, "big")
	mustWaitInit(t, s)
	_, err := s.Invoke(testCtx(t), newInvocation(`{}`))
	if !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("Invoke = %v, want ErrResponseTooLarge", err)
	}
	// aws-lambda-go treats the 413 (or the reset connection) as fatal.
	if code := p.waitExit(t); code == 0 {
		t.Error("runtime exited 0 after a 413")
	}
}

func TestLambdaGoStreamErrorTrailers(t *testing.T) {
	s := newTestServer(t, Options{})
	p := startRuntime(t, s, "stream-error")
	mustWaitInit(t, s)
	for range 2 { // the runtime got 202 and carries on
		resp := mustInvoke(t, s, newInvocation(`{}`))
		if resp.Error == nil {
			t.Fatalf("Invoke = success %q, want the trailer error", resp.Payload)
		}
		e := decodeLambdaError(t, resp.Error.Body)
		if resp.Error.ErrorType != "errorString" || e.ErrorMessage != "stream broke" {
			t.Errorf("trailer error = type %q body %s", resp.Error.ErrorType, resp.Error.Body)
		}
		if string(resp.Payload) != "partial" {
			t.Errorf("Payload = %q, want the bytes before the failure", resp.Payload)
		}
	}
	select {
	case <-p.exited:
		t.Fatalf("runtime exited: %v", p.err)
	default:
	}
}

// net/http cannot read a trailer section over its 4 KB buffer; such a
// report arrives as a truncated response rather than being lost.
func TestLambdaGoLongStreamErrorIsTruncated(t *testing.T) {
	s := newTestServer(t, Options{})
	startRuntime(t, s, "stream-long-error")
	mustWaitInit(t, s)
	resp := mustInvoke(t, s, newInvocation(`{}`))
	if resp.Error == nil || resp.Error.ErrorType != errTypeTruncatedResponse {
		t.Fatalf("Response = %+v, want %s", resp, errTypeTruncatedResponse)
	}
}

func TestLambdaGoOutOfOrderCalls(t *testing.T) {
	s := newTestServer(t, Options{})
	p := startRuntime(t, s, "block")
	mustWaitInit(t, s)
	rt := newRawRuntime(t, s)

	inv := newInvocation(`{}`)
	res := make(chan *Response, 1)
	go func() {
		resp, err := s.Invoke(context.Background(), inv)
		if err != nil {
			t.Errorf("Invoke: %v", err)
		}
		res <- resp
	}()
	if got := p.readLine(t); got != "invoked "+inv.RequestID {
		t.Fatalf("runtime said %q", got)
	}
	// Busy: the function is running.
	rt.expect(rt.next(testCtx(t)), http.StatusForbidden, "InvalidStateTransition")
	rt.expect(rt.post("invocation/not-"+inv.RequestID+"/response", nil, "x"), http.StatusBadRequest, "InvalidRequestID")
	rt.expect(rt.post("init/error", nil, "{}"), http.StatusForbidden, "InvalidStateTransition")
	if _, err := s.Invoke(testCtx(t), newInvocation(`{}`)); !errors.Is(err, ErrBusy) {
		t.Errorf("second Invoke = %v, want ErrBusy", err)
	}

	_, _ = p.stdin.Write([]byte("go\n"))
	if resp := <-res; resp == nil || string(resp.Payload) != `"released"` {
		t.Fatalf("Invoke = %+v", resp)
	}
	// Answered: a late duplicate for the same id is an invalid transition.
	rt.expect(rt.post("invocation/"+inv.RequestID+"/response", nil, "again"), http.StatusForbidden, "InvalidStateTransition")
	rt.expect(rt.post("invocation/"+inv.RequestID+"/error", nil, "{}"), http.StatusForbidden, "InvalidStateTransition")

	// The real runtime is unharmed and parked in /next.
	inv2 := newInvocation(`{}`)
	go func() {
		resp, err := s.Invoke(context.Background(), inv2)
		if err != nil {
			t.Errorf("Invoke 2: %v", err)
		}
		res <- resp
	}()
	if got := p.readLine(t); got != "invoked "+inv2.RequestID {
		t.Fatalf("runtime said %q", got)
	}
	_, _ = p.stdin.Write([]byte("go\n"))
	if resp := <-res; resp == nil || string(resp.Payload) != `"released"` {
		t.Fatalf("Invoke 2 = %+v", resp)
	}
}

func TestLambdaGoTimeoutThenReset(t *testing.T) {
	s := newTestServer(t, Options{})
	p := startRuntime(t, s, "block")
	mustWaitInit(t, s)

	ctx, cancel := context.WithCancel(testCtx(t))
	inv := newInvocation(`{}`)
	res := make(chan error, 1)
	go func() {
		_, err := s.Invoke(ctx, inv)
		res <- err
	}()
	if got := p.readLine(t); !strings.HasSuffix(got, inv.RequestID) {
		t.Fatalf("runtime said %q", got)
	}
	cancel() // the function timeout
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("Invoke = %v, want context.Canceled", err)
	}
	// Abandoned, not forgotten: the runtime still owes an answer.
	if _, err := s.Invoke(testCtx(t), newInvocation(`{}`)); !errors.Is(err, ErrBusy) {
		t.Fatalf("Invoke while abandoned = %v, want ErrBusy", err)
	}
	p.kill(t)
	s.Reset()

	startRuntime(t, s, "echo")
	mustWaitInit(t, s)
	if resp := mustInvoke(t, s, newInvocation(`{"fresh":true}`)); resp.Error != nil {
		t.Fatalf("after reset: %s", resp.Error.Body)
	}
}
