package funcurl

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/httpevent"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/registry"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// recorder is an invoke.Invoker that records what it is asked and answers
// with next (a result or an error).
type recorder struct {
	mu    sync.Mutex
	reqs  []*invoke.Request // guarded by mu
	fns   []*function.Config
	res   *invoke.Result
	err   error
	chunk [][]byte // written to req.Stream when set
}

func (r *recorder) Invoke(_ context.Context, fn *function.Config, req *invoke.Request) (*invoke.Result, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.fns = append(r.fns, fn)
	res, err, chunks := r.res, r.err, r.chunk
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if req.Stream != nil && chunks != nil {
		if err := req.Stream.Begin(res.ContentType); err != nil {
			return nil, err
		}
		for _, c := range chunks {
			if _, err := req.Stream.Write(c); err != nil {
				break
			}
		}
		out := *res
		out.Streamed = true
		return &out, nil
	}
	return res, nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

func (r *recorder) last(t *testing.T) *invoke.Request {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatal("the function was not invoked")
	}
	return r.reqs[len(r.reqs)-1]
}

// keyAuth accepts requests whose Authorization is "good".
type keyAuth struct{}

func (keyAuth) Authenticate(r *http.Request, resource string) (*httpevent.IAMIdentity, error) {
	if r.Header.Get("Authorization") != "good" {
		return nil, errors.New("signature does not match")
	}
	if allow := r.Header.Get("X-Test-Allow"); allow != "" && allow != resource {
		return nil, errors.New("not authorized to perform: lambda:InvokeFunctionUrl on resource: " + resource)
	}
	return &httpevent.IAMIdentity{AccessKey: "AKIDCALLER", AccountID: "111122223333", CallerID: "AIDACALLER",
		UserARN: "arn:aws:iam::111122223333:user/caller", UserID: "AIDACALLER"}, nil
}

type env struct {
	h   *Handler
	inv *recorder
	reg *registry.Registry
	ids map[string]string // function -> URL id
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := storetest.Open(t)
	reg, err := registry.New(registry.Options{Store: st, Region: "us-east-1", AccountID: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-reg.Ready()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("bootstrap")
	_, _ = w.Write([]byte("#!/bin/sh\n"))
	_ = zw.Close()
	yes := true
	e := &env{inv: &recorder{}, reg: reg, ids: map[string]string{}}
	for name, u := range map[string]function.URLConfig{
		"pub": {AuthType: function.URLAuthNone, Cors: &function.Cors{AllowOrigins: []string{"https://app.example"},
			AllowMethods: []string{"GET", "PUT"}, AllowHeaders: []string{"x-a", "x-b"}, ExposeHeaders: []string{"x-out"},
			AllowCredentials: &yes, MaxAge: new(int)}},
		"iam":    {AuthType: function.URLAuthIAM},
		"stream": {AuthType: function.URLAuthNone, InvokeMode: function.InvokeStream},
	} {
		if _, err := reg.CreateFunction(ctx, registry.CreateInput{Config: function.Config{
			FunctionName: name, Runtime: "provided.al2023", Handler: "bootstrap", Role: "arn:aws:iam::000000000000:role/r",
		}, Zip: buf.Bytes()}); err != nil {
			t.Fatal(err)
		}
		out, err := reg.CreateURLConfig(ctx, name, u)
		if err != nil {
			t.Fatal(err)
		}
		e.ids[name] = out.URLID
	}
	e.h = New(Options{Registry: reg, Invoker: e.inv, Region: "us-east-1", AccountID: "000000000000", Auth: keyAuth{},
		Now: func() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 890e6, time.UTC) }})
	return e
}

// serve sends a request to function fn's URL.
func (e *env) serve(fn, method, target string, hdr map[string]string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, bytes.NewReader(body))
	r.Host = e.ids[fn] + ".lambda-url.us-east-1.localhost:4566"
	r.RemoteAddr = "203.0.113.9:51234"
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func okResult(payload string) *invoke.Result {
	return &invoke.Result{Payload: []byte(payload), ContentType: "application/json", ExecutedVersion: "$LATEST"}
}

// TestEventGolden: the event a function URL request becomes, byte for
// byte (ids and the trace header normalised), and that it decodes into
// aws-lambda-go's LambdaFunctionURLRequest with every field in place.
func TestEventGolden(t *testing.T) {
	e := newEnv(t)
	e.inv.res = okResult(`{"statusCode":204}`)
	e.serve("pub", "POST", "/caf%C3%A9/items?tag=a&tag=b&q=hello%20world", map[string]string{
		"Content-Type": "application/json", "Cookie": "session=abc; theme=dark", "User-Agent": "curl/8.0",
		"X-Multi": "one", "X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
	}, []byte(`{"name":"ada"}`))
	req := e.inv.last(t)
	got := regexp.MustCompile(`"requestId":"[^"]+"`).ReplaceAll(req.Payload, []byte(`"requestId":"REQUEST-ID"`))
	got = regexp.MustCompile(`Parent=[0-9a-f]{16}`).ReplaceAll(got, []byte(`Parent=PARENT`))
	got = bytes.ReplaceAll(got, []byte(e.ids["pub"]), []byte("URL-ID"))
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "event.golden.json")
	if *update {
		if err := os.WriteFile(golden, pretty.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("event differs from %s (go test -update to rewrite):\n%s", golden, pretty.Bytes())
	}

	var ev events.LambdaFunctionURLRequest
	if err := json.Unmarshal(req.Payload, &ev); err != nil {
		t.Fatal(err)
	}
	id := e.ids["pub"]
	rc := ev.RequestContext
	if ev.RawPath != "/caf%C3%A9/items" || ev.QueryStringParameters["tag"] != "a,b" || ev.QueryStringParameters["q"] != "hello world" ||
		len(ev.Cookies) != 2 || ev.Body != `{"name":"ada"}` || ev.IsBase64Encoded || ev.Headers["x-multi"] != "one" ||
		rc.AccountID != "anonymous" || rc.APIID != id || rc.DomainPrefix != id || rc.DomainName != id+".lambda-url.us-east-1.localhost" ||
		rc.HTTP.SourceIP != "203.0.113.9" || rc.HTTP.Method != "POST" || rc.Time != "04/Mar/2026:05:06:07 +0000" ||
		rc.TimeEpoch != 1772600767890 || rc.Authorizer != nil || rc.RequestID != req.RequestID {
		t.Errorf("decoded event: %+v", ev)
	}
	if req.InvokedFunctionArn != "arn:aws:lambda:us-east-1:000000000000:function:pub" ||
		!strings.HasPrefix(req.TraceID, "Root=1-5759e988-bd862e3fe1be46a994272793;") || !strings.Contains(string(req.Payload), req.TraceID) {
		t.Errorf("invocation: arn %q trace %q", req.InvokedFunctionArn, req.TraceID)
	}
}

// TestResponses maps function answers and failures to what function URLs
// answer.
func TestResponses(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name       string
		res        *invoke.Result
		err        error
		status     int
		header     map[string]string
		body       string
		setCookies []string
	}{
		{"plain object", okResult(`{"a":1}`), nil, 200, map[string]string{"Content-Type": "application/json"}, `{"a":1}`, nil},
		{"string", okResult(`"hi"`), nil, 200, map[string]string{"Content-Type": "application/json"}, `hi`, nil},
		{"structured", okResult(`{"statusCode":201,"headers":{"content-type":"text/html","x-a":"1"},"cookies":["a=1","b=2"],"body":"<p>x</p>"}`), nil,
			201, map[string]string{"Content-Type": "text/html", "X-A": "1"}, `<p>x</p>`, []string{"a=1", "b=2"}},
		{"base64", okResult(`{"statusCode":200,"headers":{"content-type":"image/png"},"body":"AAEC/w==","isBase64Encoded":true}`), nil,
			200, map[string]string{"Content-Type": "image/png"}, "\x00\x01\x02\xff", nil},
		{"function error", &invoke.Result{Payload: []byte(`{"errorMessage":"x","errorType":"E"}`), FunctionError: "Unhandled"}, nil,
			502, nil, "Internal Server Error", nil},
		{"malformed", okResult(`{"statusCode":"abc"}`), nil, 502, nil, "Internal Server Error", nil},
		{"throttled", nil, errdefs.Throttled("ReservedFunctionConcurrentInvocationLimitExceeded", 0, "Rate Exceeded."), 429,
			map[string]string{"X-Amzn-ErrorType": "TooManyRequestsException"}, `{"Message":"Rate Exceeded."}`, nil},
		{"platform failure", nil, errdefs.EnvironmentFailed("environment failed"), 502, nil, "Internal Server Error", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.inv.mu.Lock()
			e.inv.res, e.inv.err = tc.res, tc.err
			e.inv.mu.Unlock()
			w := e.serve("pub", "GET", "/", nil, nil)
			if w.Code != tc.status || w.Body.String() != tc.body {
				t.Errorf("got %d %q, want %d %q", w.Code, w.Body.String(), tc.status, tc.body)
			}
			for k, v := range tc.header {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tc.setCookies != nil && strings.Join(w.Header().Values("Set-Cookie"), "|") != strings.Join(tc.setCookies, "|") {
				t.Errorf("Set-Cookie %v", w.Header().Values("Set-Cookie"))
			}
			if w.Header().Get("X-Amzn-RequestId") == "" || w.Header().Get("X-Amzn-Trace-Id") == "" && tc.status != 429 {
				t.Errorf("missing request id or trace header: %v", w.Header())
			}
		})
	}

	t.Run("too large", func(t *testing.T) {
		n := e.inv.count()
		w := e.serve("pub", "POST", "/", nil, bytes.Repeat([]byte("x"), function.MaxSyncPayload+1))
		if w.Code != http.StatusRequestEntityTooLarge || e.inv.count() != n ||
			w.Body.String() != `{"Message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"}` {
			t.Errorf("got %d %s", w.Code, w.Body)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = strings.Repeat("0", 32) + ".lambda-url.us-east-1.localhost"
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden || w.Body.String() != `{"Message":null}` {
			t.Errorf("got %d %s", w.Code, w.Body)
		}
	})
}

// TestIAM: an AWS_IAM URL refuses requests its Authenticator refuses,
// without invoking, and names the caller in the event.
func TestIAM(t *testing.T) {
	e := newEnv(t)
	e.inv.res = okResult(`{}`)
	w := e.serve("iam", "GET", "/", nil, nil)
	if w.Code != http.StatusForbidden || w.Body.String() != `{"Message":"Forbidden"}` || e.inv.count() != 0 ||
		w.Header().Get("X-Amzn-ErrorType") != "AccessDeniedException" {
		t.Errorf("unsigned: %d %s %v (invocations %d)", w.Code, w.Body, w.Header(), e.inv.count())
	}
	w = e.serve("iam", "GET", "/", map[string]string{"Authorization": "good"}, nil)
	if w.Code != 200 {
		t.Fatalf("signed: %d %s", w.Code, w.Body)
	}
	var ev events.LambdaFunctionURLRequest
	if err := json.Unmarshal(e.inv.last(t).Payload, &ev); err != nil {
		t.Fatal(err)
	}
	rc := ev.RequestContext
	if rc.AccountID != "111122223333" || rc.Authorizer == nil || rc.Authorizer.IAM == nil ||
		rc.Authorizer.IAM.UserARN != "arn:aws:iam::111122223333:user/caller" || rc.Authorizer.IAM.AccessKey != "AKIDCALLER" {
		t.Errorf("caller in the event: %+v %+v", rc, rc.Authorizer)
	}

	noAuth := New(Options{Registry: e.reg, Invoker: e.inv})
	r := httptest.NewRequest("GET", "/", nil)
	r.Host = e.ids["iam"] + ".lambda-url.us-east-1.localhost"
	r.Header.Set("Authorization", "good")
	rw := httptest.NewRecorder()
	noAuth.ServeHTTP(rw, r)
	if rw.Code != http.StatusForbidden {
		t.Errorf("without an authenticator an AWS_IAM URL must refuse: %d", rw.Code)
	}
}

// TestCORS: preflights are answered from the configuration without
// invoking; responses get the configuration's headers instead of the
// function's.
func TestCORS(t *testing.T) {
	e := newEnv(t)
	e.inv.res = okResult(`{"statusCode":200,"headers":{"Access-Control-Allow-Origin":"*","Access-Control-Allow-Methods":"DELETE"},"body":"x"}`)
	w := e.serve("pub", "OPTIONS", "/any", map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "PUT"}, nil)
	h := w.Header()
	if w.Code != 200 || e.inv.count() != 0 || h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		h.Get("Access-Control-Allow-Methods") != "GET,PUT" || h.Get("Access-Control-Allow-Headers") != "x-a,x-b" ||
		h.Get("Access-Control-Allow-Credentials") != "true" || h.Get("Access-Control-Max-Age") != "" {
		t.Errorf("preflight: %d %v (invocations %d)", w.Code, h, e.inv.count())
	}
	w = e.serve("pub", "OPTIONS", "/any", map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "DELETE"}, nil)
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a method the configuration does not allow got %v", w.Header())
	}
	w = e.serve("pub", "GET", "/", map[string]string{"Origin": "https://app.example"}, nil)
	h = w.Header()
	if h.Get("Access-Control-Allow-Origin") != "https://app.example" || h.Get("Access-Control-Allow-Methods") != "" ||
		h.Get("Access-Control-Expose-Headers") != "x-out" || h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("response: %v", h)
	}
	// Without a configuration OPTIONS goes to the function and its headers stand.
	n := e.inv.count()
	w = e.serve("stream", "OPTIONS", "/", map[string]string{"Origin": "https://x.example", "Access-Control-Request-Method": "GET"}, nil)
	if e.inv.count() != n+1 {
		t.Errorf("OPTIONS without CORS configuration was not passed to the function (%d)", w.Code)
	}
}

// TestStreamResponse: a RESPONSE_STREAM URL writes the prelude's head and
// the body as the chunks arrive, the delimiter split across chunks.
func TestStreamResponse(t *testing.T) {
	e := newEnv(t)
	e.inv.res = &invoke.Result{ContentType: IntegrationContentType}
	e.inv.chunk = [][]byte{[]byte(`{"statusCode":201,"headers":{"X-S":"1"},"cookies":["c=1"]}` + "\x00\x00\x00"), []byte("\x00\x00\x00\x00\x00he"), []byte("llo")}
	w := e.serve("stream", "GET", "/", nil, nil)
	if w.Code != 201 || w.Body.String() != "hello" || w.Header().Get("X-S") != "1" || w.Header().Get("Set-Cookie") != "c=1" || !w.Flushed {
		t.Errorf("integration stream: %d %q %v flushed=%v", w.Code, w.Body, w.Header(), w.Flushed)
	}

	e.inv.res = &invoke.Result{ContentType: "text/event-stream"}
	e.inv.chunk = [][]byte{[]byte("data: 1\n\n"), []byte("data: 2\n\n")}
	w = e.serve("stream", "GET", "/", nil, nil)
	if w.Code != 200 || w.Body.String() != "data: 1\n\ndata: 2\n\n" || w.Header().Get("Content-Type") != "text/event-stream" {
		t.Errorf("plain stream: %d %q %v", w.Code, w.Body, w.Header())
	}

	e.inv.res = &invoke.Result{ContentType: IntegrationContentType}
	e.inv.chunk = [][]byte{[]byte(`{"statusCode":"x"}` + "\x00\x00\x00\x00\x00\x00\x00\x00body")}
	w = e.serve("stream", "GET", "/", nil, nil)
	if w.Code != http.StatusBadGateway {
		t.Errorf("bad prelude: %d %q", w.Code, w.Body)
	}

	// A function that answered without streaming is mapped as buffered.
	e.inv.chunk = nil
	e.inv.res = okResult(`{"statusCode":202,"body":"late"}`)
	w = e.serve("stream", "GET", "/", nil, nil)
	if w.Code != 202 || w.Body.String() != "late" {
		t.Errorf("unstreamed answer: %d %q", w.Code, w.Body)
	}
}

// TestStreamFailureAfterHeadCutsTheResponse: a function that fails once
// its head is out leaves the client with a truncated response (an error
// reading the body), not one that looks complete.
func TestStreamFailureAfterHeadCutsTheResponse(t *testing.T) {
	e := newEnv(t)
	e.inv.res = &invoke.Result{ContentType: "text/plain", FunctionError: "Unhandled", Payload: []byte(`{"errorType":"Sandbox.Timedout"}`)}
	e.inv.chunk = [][]byte{[]byte("partial")}
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL+"/", nil)
	req.Host = e.ids["stream"] + ".lambda-url.us-east-1.localhost"
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "partial" || err == nil {
		t.Errorf("got %d %q, read error %v; want the partial body and a read error", resp.StatusCode, b, err)
	}
}
