package lambdaapi

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/registry"
	"github.com/nimbus-serverless/nimbus/internal/runtimes"
	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

const (
	testRegion  = "us-east-1"
	testAccount = "000000000000"
	testRole    = "arn:aws:iam::000000000000:role/lambda"
	arnPrefix   = "arn:aws:lambda:us-east-1:000000000000:function:"
)

// fakeRuntimes accepts a few runtimes, like a host with Python, Node and
// provided.
type fakeRuntimes struct{}

func (fakeRuntimes) Lookup(name string) (*runtimes.Runtime, error) {
	switch name {
	case "python3.12", "nodejs20.x", "provided.al2023":
		return &runtimes.Runtime{Name: name}, nil
	}
	return nil, awsapi.InvalidParameter("Value '%s' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [nodejs20.x, provided.al2023, python3.12]", name)
}

// fakeInvoker answers like a function that echoes its event: payload
// {"version": <executed>, "event": <event>}; an event containing "fail"
// is a function error.
type fakeInvoker struct {
	mu    sync.Mutex
	calls []invocation // guarded by mu
	err   error        // returned instead of a result when set
}

type invocation struct {
	cfg *function.Config
	req *invoke.Request
}

func (f *fakeInvoker) Invoke(_ context.Context, cfg *function.Config, req *invoke.Request) (*invoke.Result, error) {
	f.mu.Lock()
	f.calls = append(f.calls, invocation{cfg, req})
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	tail := []byte("START RequestId: " + req.RequestID + " Version: " + cfg.Version + "\n" +
		strings.Repeat("x", 5000) + "\nEND RequestId: " + req.RequestID + "\n")
	res := &invoke.Result{ExecutedVersion: cfg.Version, ContentType: "application/json"}
	if bytes.Contains(req.Payload, []byte("fail")) {
		res.FunctionError = "Unhandled"
		res.Payload, _ = json.Marshal(invoke.ErrorPayload{ErrorMessage: "failed on purpose", ErrorType: "Error"})
	} else {
		res.Payload, _ = json.Marshal(map[string]any{"version": cfg.Version, "event": json.RawMessage(req.Payload)})
	}
	if req.LogTail {
		res.LogTail = tail
	}
	if req.Stream != nil && res.FunctionError == "" { // stream the answer in two pieces
		if err := req.Stream.Begin("application/json"); err != nil {
			return nil, err
		}
		half := len(res.Payload) / 2
		_, _ = req.Stream.Write(res.Payload[:half])
		_, _ = req.Stream.Write(res.Payload[half:])
		res.Payload, res.Streamed = nil, true
	}
	return res, nil
}

func (f *fakeInvoker) last(t *testing.T) invocation {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("the invoker was not called")
	}
	return f.calls[len(f.calls)-1]
}

func (f *fakeInvoker) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// env is a Lambda API on a real store (storetest.Open), served by
// httptest.
type env struct {
	srv *httptest.Server
	h   *Handler
	inv *fakeInvoker
	reg *registry.Registry
	st  *store.Store
}

type envOption func(*registry.Options, *Options)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	st := storetest.Open(t)
	ropts := registry.Options{Store: st, Region: testRegion, AccountID: testAccount}
	inv := &fakeInvoker{}
	aopts := Options{Invoker: inv, Runtimes: fakeRuntimes{}, Region: testRegion, AccountID: testAccount}
	for _, o := range opts {
		o(&ropts, &aopts)
	}
	reg, err := registry.New(ropts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.Run(ctx) }()
	select {
	case <-reg.Ready():
	case err := <-done:
		t.Fatalf("registry: %v", err)
	}
	aopts.Registry = reg
	h := New(aopts)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("registry Run: %v", err)
		}
	})
	return &env{srv: srv, h: h, inv: inv, reg: reg, st: st}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a raw request and checks the invariants of every answer.
func (e *env) do(t testing.TB, method, path string, body []byte, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("X-Amzn-RequestId") == "" {
		t.Errorf("%s %s: no X-Amzn-RequestId", method, path)
	}
	if resp.StatusCode >= 300 && resp.Header.Get("X-Amzn-ErrorType") == "" {
		t.Errorf("%s %s: status %d without X-Amzn-ErrorType", method, path, resp.StatusCode)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (e *env) doJSON(t testing.TB, method, path string, v any) response {
	t.Helper()
	var b []byte
	if v != nil {
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	return e.do(t, method, path, b, nil)
}

// message decodes an error response's message.
func (r response) message(t testing.TB) string {
	t.Helper()
	var body struct {
		Type    string `json:"Type"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	return body.Message
}

// wantError checks an error answer's status, X-Amzn-ErrorType and
// message (one ending in "..." is a prefix).
func (r response) wantError(t testing.TB, status int, code, message string) {
	t.Helper()
	if r.status != status || r.header.Get("X-Amzn-ErrorType") != code {
		t.Fatalf("got %d %s %s, want %d %s", r.status, r.header.Get("X-Amzn-ErrorType"), r.body, status, code)
	}
	msg := r.message(t)
	if p, ok := strings.CutSuffix(message, "..."); ok {
		if !strings.HasPrefix(msg, p) {
			t.Errorf("message %q, want prefix %q", msg, p)
		}
	} else if msg != message {
		t.Errorf("message %q, want %q", msg, message)
	}
}

func zipOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range sortedKeys(files) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(files[name])); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// createBody is a valid CreateFunction request for name, changed by
// mutate.
func createBody(t testing.TB, name string, mutate func(map[string]any)) map[string]any {
	t.Helper()
	m := map[string]any{
		"FunctionName": name,
		"Runtime":      "python3.12",
		"Handler":      "app.handler",
		"Role":         testRole,
		"Code":         map[string]any{"ZipFile": zipOf(t, map[string]string{"app.py": "def handler(e, c): return e\n"})},
	}
	if mutate != nil {
		mutate(m)
	}
	return m
}

func (e *env) create(t testing.TB, name string, mutate func(map[string]any)) map[string]any {
	t.Helper()
	r := e.doJSON(t, "POST", "/2015-03-31/functions", createBody(t, name, mutate))
	if r.status != http.StatusCreated {
		t.Fatalf("create %s: %d %s", name, r.status, r.body)
	}
	var out map[string]any
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}
