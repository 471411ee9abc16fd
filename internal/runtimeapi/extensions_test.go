package runtimeapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// extServer is a Server whose parked /next and /event/next calls are
// announced on channels.
func extServer(t *testing.T, opts Options) (s *Server, nextParked, extParked chan struct{}) {
	t.Helper()
	s = New(testLogger(), opts)
	nextParked, extParked = make(chan struct{}, 16), make(chan struct{}, 16)
	s.hookNextParked = func() { nextParked <- struct{}{} }
	s.hookExtParked = func() { extParked <- struct{}{} }
	l, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Start(l)
	t.Cleanup(func() { _ = s.Close() })
	return s, nextParked, extParked
}

// extCall is one Extensions/Telemetry API request.
func extCall(t *testing.T, s *Server, method, path string, hdr map[string]string, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), method, "http://"+s.Addr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // test
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func register(t *testing.T, s *Server, name, events string) (int, string, []byte) {
	t.Helper()
	code, h, b := extCall(t, s, http.MethodPost, "/2020-01-01/extension/register", map[string]string{hdrExtName: name, hdrExtFeature: "accountId"}, events)
	return code, h.Get(hdrExtID), b
}

func errorType(t *testing.T, b []byte) string {
	t.Helper()
	var e struct {
		ErrorType string `json:"errorType"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %q: %v", b, err)
	}
	return e.ErrorType
}

// extNextAsync starts a GET /event/next.
func extNextAsync(t *testing.T, s *Server, id string) <-chan []byte {
	ch := make(chan []byte, 1)
	go func() {
		req, _ := http.NewRequestWithContext(testCtx(t), http.MethodGet, "http://"+s.Addr()+"/2020-01-01/extension/event/next", nil)
		req.Header.Set(hdrExtID, id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			ch <- nil
			return
		}
		defer resp.Body.Close() //nolint:errcheck // test
		b, _ := io.ReadAll(resp.Body)
		ch <- b
	}()
	return ch
}

func initDone(s *Server) bool {
	_, err := s.WaitInit(canceledCtx())
	return err == nil
}

func canceledCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestExtensionLifecycle: init waits for the external extension to
// register and call /event/next; it gets INVOKE with Lambda's shape, the
// environment is reusable only once it calls /event/next again, and
// SHUTDOWN carries the reason and deadline. Late, duplicate and malformed
// registrations get the Extensions API's errors.
func TestExtensionLifecycle(t *testing.T) {
	s, nextParked, extParked := extServer(t, Options{FunctionName: "fn", FunctionVersion: "$LATEST", Handler: "app.handler",
		AccountID: "123456789012", ExternalExtensions: []string{"probe"}})
	rt := newRawRuntime(t, s)

	// An internal extension (registered by the runtime process) may not
	// ask for SHUTDOWN, nor for an event Lambda does not have.
	if code, _, b := register(t, s, "inner", `{"events":["SHUTDOWN"]}`); code != 403 || errorType(t, b) != errExtInvalidEvent {
		t.Fatalf("internal SHUTDOWN registration = %d %s", code, b)
	}
	if code, _, b := register(t, s, "inner", `{"events":["INVOKE","BOGUS"]}`); code != 403 || errorType(t, b) != errExtInvalidEvent {
		t.Fatalf("unknown event registration = %d %s", code, b)
	}
	if code, _, b := register(t, s, "inner", `{"events":`); code != 403 || errorType(t, b) != errInvalidFormat {
		t.Fatalf("malformed registration = %d %s", code, b)
	}
	if code, _, b := extCall(t, s, http.MethodPost, "/2020-01-01/extension/register", nil, `{}`); code != 403 || errorType(t, b) != errExtMissingHdr {
		t.Fatalf("registration without a name = %d %s", code, b)
	}

	runtimeNext := rt.nextAsync(testCtx(t))
	<-nextParked
	if initDone(s) {
		t.Fatal("init done before the external extension registered")
	}
	// Registration is closed to internal extensions once the runtime
	// called /next, but the external one launched before it may still come.
	if code, _, b := register(t, s, "late", `{"events":["INVOKE"]}`); code != 403 || errorType(t, b) != errExtRegClosed {
		t.Fatalf("late registration = %d %s", code, b)
	}
	code, id, b := register(t, s, "probe", `{"events":["INVOKE","SHUTDOWN"]}`)
	if code != 200 || id == "" {
		t.Fatalf("register = %d %q %s", code, id, b)
	}
	var reg map[string]string
	if err := json.Unmarshal(b, &reg); err != nil || reg["functionName"] != "fn" || reg["functionVersion"] != "$LATEST" ||
		reg["handler"] != "app.handler" || reg["accountId"] != "123456789012" {
		t.Fatalf("register body %s", b)
	}
	if code, _, b := register(t, s, "probe", `{"events":["INVOKE"]}`); code != 403 || errorType(t, b) != errExtRegClosed && errorType(t, b) != errExtNameInvalid {
		t.Fatalf("duplicate registration = %d %s", code, b)
	}
	if initDone(s) {
		t.Fatal("init done before the extension called /event/next")
	}
	if code, _, b := extCall(t, s, http.MethodGet, "/2020-01-01/extension/event/next", map[string]string{hdrExtID: "nope"}, ""); code != 403 || errorType(t, b) != errExtUnknownID {
		t.Fatalf("next with an unknown identifier = %d %s", code, b)
	}
	evc := extNextAsync(t, s, id)
	<-extParked
	mustWaitInit(t, s)

	inv := newInvocation(`{"x":1}`)
	type result struct {
		resp *Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		r, err := s.Invoke(testCtx(t), inv)
		done <- result{r, err}
	}()
	got := <-runtimeNext
	if got.err != nil || got.resp.StatusCode != 200 {
		t.Fatalf("runtime next: %+v", got)
	}
	var ev invokeEvent
	if err := json.Unmarshal(<-evc, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.EventType != "INVOKE" || ev.RequestID != inv.RequestID || ev.DeadlineMs != inv.Deadline.UnixMilli() ||
		ev.InvokedFunctionArn != inv.InvokedFunctionArn || ev.Tracing == nil || ev.Tracing.Type != "X-Amzn-Trace-Id" || ev.Tracing.Value != inv.TraceID {
		t.Fatalf("INVOKE event %+v", ev)
	}
	rt.expect(rt.post("invocation/"+inv.RequestID+"/response", nil, `"ok"`), 202, "")
	if r := <-done; r.err != nil || string(r.resp.Payload) != `"ok"` {
		t.Fatalf("invoke = %+v", r)
	}
	// The caller has its answer; the environment waits for the extension.
	if err := s.WaitExtensions(canceledCtx()); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitExtensions before the extension's next = %v", err)
	}
	evc = extNextAsync(t, s, id)
	<-extParked
	if err := s.WaitExtensions(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if ext, internal := s.ExtensionCounts(); ext != 1 || internal != 0 {
		t.Fatalf("counts %d %d", ext, internal)
	}

	deadline := time.Now().Add(2 * time.Second)
	s.Shutdown(ShutdownSpindown, deadline)
	var sev shutdownEvent
	if err := json.Unmarshal(<-evc, &sev); err != nil {
		t.Fatal(err)
	}
	if sev.EventType != "SHUTDOWN" || sev.ShutdownReason != "spindown" || sev.DeadlineMs != deadline.UnixMilli() {
		t.Fatalf("SHUTDOWN event %+v", sev)
	}
	if err := s.WaitExtensions(canceledCtx()); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitExtensions before the extension finished shutting down = %v", err)
	}
}

// TestExtensionInitError: an extension's /init/error fails init with its
// error type; the first invoke gets it.
func TestExtensionInitError(t *testing.T) {
	s, _, _ := extServer(t, Options{ExternalExtensions: []string{"probe"}})
	_, id, _ := register(t, s, "probe", `{"events":["INVOKE"]}`)
	code, _, b := extCall(t, s, http.MethodPost, "/2020-01-01/extension/init/error",
		map[string]string{hdrExtID: id, hdrExtErrorType: "Extension.ConfigInvalid"}, `{"errorMessage":"bad config","errorType":"Extension.ConfigInvalid"}`)
	if code != 202 {
		t.Fatalf("init/error = %d %s", code, b)
	}
	er, err := s.WaitInit(testCtx(t))
	if err != nil || er == nil || er.ErrorType != "Extension.ConfigInvalid" || !strings.Contains(string(er.Body), "bad config") {
		t.Fatalf("WaitInit = %+v, %v", er, err)
	}
	if code, _, b := extCall(t, s, http.MethodPost, "/2020-01-01/extension/init/error",
		map[string]string{hdrExtID: id}, `{}`); code != 403 || errorType(t, b) != errExtMissingHdr {
		t.Fatalf("init/error without a type = %d %s", code, b)
	}
}

// TestTelemetrySubscription: destinations outside the environment and
// out-of-range buffering are refused; a subscriber gets the records of its
// types, batched as JSON arrays, through Options.Dial.
func TestTelemetrySubscription(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	arrived := make(chan struct{}, 64)
	sub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var recs []map[string]any
		if err := json.NewDecoder(r.Body).Decode(&recs); err != nil {
			t.Errorf("telemetry body: %v", err)
		}
		mu.Lock()
		got = append(got, recs...)
		mu.Unlock()
		arrived <- struct{}{}
	}))
	defer sub.Close()
	dialed := make(chan int, 4)
	s, _, _ := extServer(t, Options{ExternalExtensions: []string{"tel"}, ReservedPorts: []int{9001},
		Dial: func(ctx context.Context, port int) (net.Conn, error) {
			dialed <- port
			var d net.Dialer
			return d.DialContext(ctx, "tcp", sub.Listener.Addr().String())
		}})
	s.Publish("platform.initStart", map[string]any{"phase": "init"}) // before the subscription: kept for it
	_, id, _ := register(t, s, "tel", `{"events":["INVOKE"]}`)
	put := func(body string) (int, []byte) {
		code, _, b := extCall(t, s, http.MethodPut, "/2022-07-01/telemetry", map[string]string{hdrExtID: id}, body)
		return code, b
	}
	for _, bad := range []string{
		`{"schemaVersion":"2022-12-13","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://example.com:8080/"}}`,
		`{"schemaVersion":"2022-12-13","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://169.254.169.254:80/"}}`,
		`{"schemaVersion":"2022-12-13","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:9001/"}}`,
		`{"schemaVersion":"2022-12-13","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain/"}}`,
		`{"schemaVersion":"2022-12-13","types":["platform"],"destination":{"protocol":"HTTP","URI":"https://sandbox.localdomain:8080/"}}`,
		`{"schemaVersion":"2022-12-13","types":["logs"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:8080/"}}`,
		`{"schemaVersion":"2022-12-13","types":["platform"],"buffering":{"timeoutMs":10},"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:8080/"}}`,
		`{"schemaVersion":"2022-12-13","types":["platform"],"buffering":{"maxItems":10},"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:8080/"}}`,
		`{"schemaVersion":"1999-01-01","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:8080/"}}`,
		`{"types":["platform"]`,
	} {
		if code, b := put(bad); code != 400 {
			t.Errorf("subscription %s = %d %s, want 400", bad, code, b)
		}
	}
	if code, b := put(`{"schemaVersion":"2022-12-13","types":["platform","function"],"buffering":{"timeoutMs":25},"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:8080/t"}}`); code != 200 || string(b) != "OK" {
		t.Fatalf("subscription = %d %s", code, b)
	}
	if p := <-dialed; p != 8080 {
		t.Fatalf("dialed port %d", p)
	}
	s.Publish("platform.start", map[string]any{"requestId": "r1"})
	s.Publish("function", "hello from the handler")
	s.Publish("extension", "not subscribed")
	want := map[string]bool{"platform.initStart": false, "platform.telemetrySubscription": false, "platform.start": false, "function": false}
	for {
		mu.Lock()
		for _, r := range got {
			typ, _ := r["type"].(string)
			if typ == "extension" {
				t.Fatalf("record of a type not subscribed: %v", r)
			}
			if _, ok := want[typ]; ok {
				want[typ] = true
			}
			if _, err := time.Parse(time.RFC3339, r["time"].(string)); err != nil {
				t.Fatalf("record time %v", r["time"])
			}
		}
		mu.Unlock()
		all := true
		for _, ok := range want {
			all = all && ok
		}
		if all {
			break
		}
		<-arrived
	}
	// A subscription for an unknown extension is refused.
	code, _, b := extCall(t, s, http.MethodPut, "/2022-07-01/telemetry", map[string]string{hdrExtID: "x"}, `{}`)
	if code != 403 || errorType(t, b) != errExtUnknownID {
		t.Fatalf("subscription of an unknown extension = %d %s", code, b)
	}
}

// TestDuplicateExtensionName: two extensions may not share a name.
func TestDuplicateExtensionName(t *testing.T) {
	s, _, _ := extServer(t, Options{})
	if code, _, b := register(t, s, "inner", `{"events":["INVOKE"]}`); code != 200 {
		t.Fatalf("register = %d %s", code, b)
	}
	if code, _, b := register(t, s, "inner", `{"events":["INVOKE"]}`); code != 403 || errorType(t, b) != errExtNameInvalid {
		t.Fatalf("duplicate = %d %s", code, b)
	}
	for i := 1; i < MaxExtensions; i++ {
		register(t, s, "x"+strconv.Itoa(i), `{}`)
	}
	if code, _, b := register(t, s, "eleventh", `{}`); code != 403 || errorType(t, b) != errExtTooMany {
		t.Fatalf("eleventh = %d %s", code, b)
	}
}
