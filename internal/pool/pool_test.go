package pool

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/sandbox"
)

func TestMain(m *testing.M) {
	if sandbox.MaybeRunInit() {
		return
	}
	if os.Getenv(functionEnv) != "" {
		runFunction()
		return
	}
	os.Exit(m.Run())
}

// codeStore is an in-memory CodeSource that counts fetches.
type codeStore struct {
	mu    sync.Mutex
	zips  map[string][]byte
	gets  atomic.Int64
	delay chan struct{} // when set, GetCode waits for it
	first chan struct{} // when set, closed by the first GetCode
	once  sync.Once
}

func (s *codeStore) put(zip []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.zips == nil {
		s.zips = map[string][]byte{}
	}
	sha := function.CodeSha256(zip)
	s.zips[function.CodeKey(sha)] = zip
	return sha
}

func (s *codeStore) GetCode(ctx context.Context, key string) ([]byte, error) {
	s.gets.Add(1)
	if s.first != nil {
		s.once.Do(func() { close(s.first) })
	}
	if s.delay != nil {
		select {
		case <-s.delay:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z, ok := s.zips[key]
	if !ok {
		return nil, errors.New("no such code")
	}
	return z, nil
}

var (
	selfZipOnce sync.Once
	selfZip     []byte
	selfZipErr  error
)

// bootstrapZip is a code package whose bootstrap is this test binary.
func bootstrapZip(t testing.TB) []byte {
	t.Helper()
	selfZipOnce.Do(func() {
		self, err := os.Executable()
		if err != nil {
			selfZipErr = err
			return
		}
		bin, err := os.ReadFile(self)
		if err != nil {
			selfZipErr = err
			return
		}
		selfZip, selfZipErr = makeZip(map[string][]byte{"bootstrap": bin}, 0o755)
	})
	if selfZipErr != nil {
		t.Fatal(selfZipErr)
	}
	return selfZip
}

func makeZip(files map[string][]byte, mode os.FileMode) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Store}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// lineLog collects the function log and lets a test wait for a line.
type lineLog struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	waitc map[string]chan struct{}
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for s, ch := range l.waitc {
		if bytes.Contains(l.buf.Bytes(), []byte(s)) {
			close(ch)
			delete(l.waitc, s)
		}
	}
	return len(p), nil
}

func (l *lineLog) waitFor(s string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := make(chan struct{})
	if bytes.Contains(l.buf.Bytes(), []byte(s)) {
		close(ch)
		return ch
	}
	if l.waitc == nil {
		l.waitc = map[string]chan struct{}{}
	}
	l.waitc[s] = ch
	return ch
}

type harness struct {
	m     *Manager
	code  *codeStore
	fnLog *lineLog
	sha   string
}

func newHarness(t testing.TB, mutate ...func(*Options)) *harness {
	t.Helper()
	h := &harness{code: &codeStore{}, fnLog: &lineLog{}}
	h.sha = h.code.put(bootstrapZip(t))
	opts := Options{
		DataDir:     t.TempDir(),
		Code:        h.code,
		Region:      "us-east-1",
		AccountID:   "000000000000",
		FunctionLog: h.fnLog,
		Logger:      slog.New(slog.DiscardHandler),
		Credentials: func(fn *function.Config) (Credentials, error) {
			return Credentials{AccessKeyID: "ASIATEST", SecretAccessKey: "secret-of-" + fn.FunctionName,
				SessionToken: "token-of-" + fn.FunctionArn, Expiration: time.Now().Add(12 * time.Hour)}, nil
		},
	}
	for _, f := range mutate {
		f(&opts)
	}
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	return h
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// fn is a $LATEST configuration of the test function; vars are added to
// its environment.
func (h *harness) fn(name string, vars map[string]string) *function.Config {
	env := map[string]string{
		functionEnv: "1",
		// A race-enabled function binary would sleep a second at exit.
		"GORACE": "atexit_sleep_ms=0",
	}
	for k, v := range vars {
		env[k] = v
	}
	return &function.Config{
		FunctionName: name,
		FunctionArn:  "arn:aws:lambda:us-east-1:000000000000:function:" + name,
		Runtime:      "provided.al2023",
		Handler:      "bootstrap",
		CodeSha256:   h.sha,
		Version:      function.LatestVersion,
		RevisionId:   randHex(8),
		Timeout:      10,
		MemorySize:   128,
		Environment:  &function.Environment{Variables: env},
	}
}

func (h *harness) call(t testing.TB, fn *function.Config, ev map[string]any) (*invoke.Result, map[string]any) {
	t.Helper()
	payload, _ := json.Marshal(ev)
	req := &invoke.Request{RequestID: newRequestID(), Payload: payload, LogTail: true}
	res, err := h.m.Invoke(context.Background(), fn, req)
	if err != nil {
		t.Fatalf("Invoke %v: %v", ev, err)
	}
	var m map[string]any
	_ = json.Unmarshal(res.Payload, &m)
	return res, m
}

func wantOK(t testing.TB, res *invoke.Result) {
	t.Helper()
	if res.FunctionError != "" {
		t.Fatalf("function error %s: %s\nlog:\n%s", res.FunctionError, res.Payload, res.LogTail)
	}
}

func wantError(t testing.TB, res *invoke.Result, errType string, msg string) map[string]any {
	t.Helper()
	var m map[string]any
	_ = json.Unmarshal(res.Payload, &m)
	if res.FunctionError != "Unhandled" || m["errorType"] != errType {
		t.Fatalf("got FunctionError %q payload %s, want Unhandled %s\nlog:\n%s", res.FunctionError, res.Payload, errType, res.LogTail)
	}
	if msg != "" && m["errorMessage"] != msg {
		t.Fatalf("errorMessage %q, want %q", m["errorMessage"], msg)
	}
	return m
}

func TestInvokeAndReuse(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	fn := h.fn("reuse", nil)
	for i := 1; i <= 3; i++ {
		res, m := h.call(t, fn, map[string]any{"action": "echo", "value": "x"})
		wantOK(t, res)
		if m["count"] != float64(i) || m["value"] != "x" || m["version"] != "$LATEST" || m["request_id"] == "" {
			t.Fatalf("invoke %d: payload %s", i, res.Payload)
		}
		if res.ExecutedVersion != "$LATEST" {
			t.Errorf("ExecutedVersion %q", res.ExecutedVersion)
		}
		if (i == 1) != (res.InitDuration > 0) {
			t.Errorf("invoke %d: InitDuration %v", i, res.InitDuration)
		}
	}
	if s := h.m.Stats(); s.Environments != 1 || s.Idle != 1 {
		t.Errorf("stats %+v, want one idle environment", s)
	}
}

func TestConcurrentInvokesRunInParallel(t *testing.T) {
	t.Parallel()
	const n = 2
	var arrived atomic.Int32
	release := make(chan struct{})
	// The barrier is the node's API as the functions see it on their own
	// loopback (the host's loopback is not reachable from inside).
	barrier := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) == n {
			close(release)
		}
		select {
		case <-release:
			_, _ = fmt.Fprintln(w, "released")
		case <-time.After(30 * time.Second):
			_, _ = fmt.Fprintln(w, "alone")
		}
	})
	h := newHarness(t, func(o *Options) { o.APIHandler = barrier })
	fn := h.fn("parallel", nil)
	var wg sync.WaitGroup
	results := make([]map[string]any, n)
	for i := range n {
		wg.Go(func() {
			res, m := h.call(t, fn, map[string]any{"action": "barrier"})
			if res.FunctionError != "" {
				t.Errorf("invoke %d: %s", i, res.Payload)
			}
			results[i] = m
		})
	}
	wg.Wait()
	for i, m := range results {
		if m["barrier"] != "released" {
			t.Errorf("invoke %d: %v; the invokes did not run at the same time", i, m)
		}
	}
	if s := h.m.Stats(); s.Environments != n {
		t.Errorf("stats %+v, want %d environments", s, n)
	}
}

func TestTimeoutThenReinit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	fn := h.fn("timeout", nil)
	fn.Timeout = 1
	res, _ := h.call(t, fn, map[string]any{"action": "echo"})
	wantOK(t, res)
	payload, _ := json.Marshal(map[string]any{"action": "sleep", "ms": 60000})
	req := &invoke.Request{RequestID: newRequestID(), Payload: payload, LogTail: true}
	res, err := h.m.Invoke(context.Background(), fn, req)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, res, "Sandbox.Timedout", "RequestId: "+req.RequestID+" Error: Task timed out after 1.00 seconds")
	tail := string(res.LogTail)
	for _, want := range []string{req.RequestID + " Task timed out after 1.00 seconds", "END RequestId: " + req.RequestID, "Status: timeout"} {
		if !strings.Contains(tail, want) {
			t.Errorf("log tail lacks %q:\n%s", want, tail)
		}
	}
	res, m := h.call(t, fn, map[string]any{"action": "echo"})
	wantOK(t, res)
	if m["count"] != 1.0 || res.InitDuration == 0 {
		t.Errorf("after timeout: count %v init %v, want a fresh environment", m["count"], res.InitDuration)
	}
}

func TestCrashThenRecovery(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	fn := h.fn("crash", nil)
	for _, c := range []struct{ action, exit string }{{"crash", "exit status 2"}, {"kill", "signal: killed"}} {
		payload, _ := json.Marshal(map[string]any{"action": c.action})
		req := &invoke.Request{RequestID: newRequestID(), Payload: payload, LogTail: true}
		res, err := h.m.Invoke(context.Background(), fn, req)
		if err != nil {
			t.Fatal(err)
		}
		msg := "RequestId: " + req.RequestID + " Error: Runtime exited with error: " + c.exit
		wantError(t, res, "Runtime.ExitError", msg)
		if !strings.Contains(string(res.LogTail), msg+"\nRuntime.ExitError\nEND RequestId: "+req.RequestID) {
			t.Errorf("log tail:\n%s", res.LogTail)
		}
		res, m := h.call(t, fn, map[string]any{"action": "echo"})
		wantOK(t, res)
		if m["count"] != 1.0 {
			t.Errorf("after %s: count %v, want 1 (re-initialised)", c.action, m["count"])
		}
	}
}

func TestHandledErrorKeepsEnvironment(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	fn := h.fn("handled", nil)
	res, _ := h.call(t, fn, map[string]any{"action": "error"})
	m := wantError(t, res, "errorString", "something broke")
	_ = m
	res, m = h.call(t, fn, map[string]any{"action": "echo"})
	wantOK(t, res)
	if m["count"] != 2.0 {
		t.Errorf("count %v, want 2 (a handled error keeps the environment)", m["count"])
	}
}

func TestInitErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, c := range []struct {
		init, errType, msg string
	}{
		{"error", "Runtime.ImportModuleError", "Unable to import module 'app': No module named 'missing'"},
		{"exit", "Runtime.ExitError", "Error: Runtime exited with error: exit status 3"},
	} {
		fn := h.fn("init-"+c.init, map[string]string{"POOL_TEST_INIT": c.init})
		// Every invoke re-initialises, and every one gets the error.
		for range 2 {
			res, m := h.call(t, fn, map[string]any{"action": "echo"})
			wantError(t, res, c.errType, "")
			if !strings.Contains(m["errorMessage"].(string), c.msg) {
				t.Errorf("%s: errorMessage %q, want it to contain %q", c.init, m["errorMessage"], c.msg)
			}
			if res.InitDuration == 0 || !strings.Contains(string(res.LogTail), "Init Duration: ") {
				t.Errorf("%s: no init duration; log:\n%s", c.init, res.LogTail)
			}
		}
	}
	if c := h.m.Stats(); c.Idle != 0 {
		t.Errorf("stats %+v: failed environments kept", c)
	}
}

// An init that never finishes fails once the init budget and then the
// function timeout (Lambda's suppressed init) have run out.
func TestInitTimeout(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.m.initTimeout = 300 * time.Millisecond
	fn := h.fn("init-hang", map[string]string{"POOL_TEST_INIT": "hang"})
	fn.Timeout = 1
	res, m := h.call(t, fn, map[string]any{"action": "echo"})
	wantError(t, res, "Sandbox.Timedout", "")
	if !strings.HasSuffix(m["errorMessage"].(string), "Task timed out after 1.00 seconds") {
		t.Errorf("errorMessage %q", m["errorMessage"])
	}
}

// An init longer than the init budget goes on under the function timeout,
// as Lambda's suppressed init does, and the invocation succeeds.
func TestSuppressedInit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.m.initTimeout = 200 * time.Millisecond
	fn := h.fn("init-slow", map[string]string{"POOL_TEST_INIT": "slow", "POOL_TEST_INIT_MS": "600"})
	fn.Timeout = 30
	res, m := h.call(t, fn, map[string]any{"action": "echo"})
	wantOK(t, res)
	if m["count"] != 1.0 {
		t.Errorf("payload %v", m)
	}
}

func TestOutOfMemory(t *testing.T) {
	if !strings.Contains(sandbox.Mode(), "cgroup") {
		t.Skipf("sandbox mode %q has no memory limit", sandbox.Mode())
	}
	t.Parallel()
	h := newHarness(t)
	fn := h.fn("hog", nil)
	fn.Timeout = 60
	payload, _ := json.Marshal(map[string]any{"action": "oom"})
	req := &invoke.Request{RequestID: newRequestID(), Payload: payload, LogTail: true}
	res, err := h.m.Invoke(context.Background(), fn, req)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, res, "Runtime.OutOfMemory", "RequestId: "+req.RequestID+" Error: Runtime exited with error: signal: killed")
	if !regexp.MustCompile(`Max Memory Used: 1[0-9][0-9] MB`).Match(res.LogTail) {
		t.Errorf("REPORT does not show the memory near its 128 MB limit:\n%s", res.LogTail)
	}
	res, m := h.call(t, fn, map[string]any{"action": "echo"})
	wantOK(t, res)
	if m["count"] != 1.0 {
		t.Errorf("after OOM count %v, want 1", m["count"])
	}
}

func TestLogTail(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	fn := h.fn("logs", nil)
	payload, _ := json.Marshal(map[string]any{"action": "echo"})
	req := &invoke.Request{RequestID: newRequestID(), Payload: payload, LogTail: true}
	res, err := h.m.Invoke(context.Background(), fn, req)
	if err != nil {
		t.Fatal(err)
	}
	wantOK(t, res)
	tail := string(res.LogTail)
	re := regexp.MustCompile(`(?s)^init done\nSTART RequestId: ` + req.RequestID + ` Version: \$LATEST\naction=echo count=1\nEND RequestId: ` + req.RequestID +
		`\nREPORT RequestId: ` + req.RequestID + `\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t\n$`)
	if !re.MatchString(tail) {
		t.Errorf("cold log tail:\n%q", tail)
	}

	// Warm: no init lines; lots of output is cut to the last 4 KB, and an
	// unterminated last line still makes it before END.
	payload, _ = json.Marshal(map[string]any{"action": "print", "lines": 2000})
	req = &invoke.Request{RequestID: newRequestID(), Payload: payload, LogTail: true}
	res, err = h.m.Invoke(context.Background(), fn, req)
	if err != nil {
		t.Fatal(err)
	}
	wantOK(t, res)
	tail = string(res.LogTail)
	if len(tail) != function.MaxLogTail {
		t.Errorf("tail is %d bytes, want %d", len(tail), function.MaxLogTail)
	}
	if !strings.Contains(tail, "line 2000 of 2000\nunterminated last line\nEND RequestId: "+req.RequestID+"\nREPORT RequestId: "+req.RequestID) ||
		strings.Contains(tail, "Init Duration") || strings.Contains(tail, "init done") {
		t.Errorf("warm log tail:\n%s", tail)
	}

	// Without LogTail no tail comes back; the function log got everything.
	res, _ = h.call(t, fn, map[string]any{"action": "echo"})
	wantOK(t, res)
	<-h.fnLog.waitFor("[logs] action=echo count=3")
	h.fnLog.mu.Lock()
	all := h.fnLog.buf.String()
	h.fnLog.mu.Unlock()
	for _, want := range []string{"[logs] init done\n", "[logs] line 1 of 2000\n", "[logs] START RequestId: ", "[logs] REPORT RequestId: "} {
		if !strings.Contains(all, want) {
			t.Errorf("function log lacks %q", want)
		}
	}
	payload, _ = json.Marshal(map[string]any{"action": "echo"})
	res, err = h.m.Invoke(context.Background(), fn, &invoke.Request{RequestID: newRequestID(), Payload: payload})
	if err != nil || res.LogTail != nil {
		t.Errorf("tail without asking: %q %v", res.LogTail, err)
	}
}

// Functions get the node's endpoint as AWS_ENDPOINT_URL unless they set
// their own.
func TestEndpointVariable(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *Options) { o.Endpoint = "http://127.0.0.1:4566" })
	res, env := h.call(t, h.fn("endpoint-default", nil), map[string]any{"action": "env"})
	wantOK(t, res)
	if env["AWS_ENDPOINT_URL"] != "http://127.0.0.1:4566" {
		t.Errorf("AWS_ENDPOINT_URL = %v, want the node's endpoint", env["AWS_ENDPOINT_URL"])
	}
	res, env = h.call(t, h.fn("endpoint-own", map[string]string{"AWS_ENDPOINT_URL": "http://elsewhere:1"}), map[string]any{"action": "env"})
	wantOK(t, res)
	if env["AWS_ENDPOINT_URL"] != "http://elsewhere:1" {
		t.Errorf("AWS_ENDPOINT_URL = %v, want the function's own value", env["AWS_ENDPOINT_URL"])
	}

	// With an APIHandler the node's API is served on the environment's
	// own loopback, and that is the endpoint.
	h = newHarness(t, func(o *Options) {
		o.Endpoint = "http://127.0.0.1:4566"
		o.APIHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "node api") })
	})
	res, env = h.call(t, h.fn("endpoint-netns", nil), map[string]any{"action": "env"})
	wantOK(t, res)
	if s, _ := env["AWS_ENDPOINT_URL"].(string); !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(s) ||
		strings.HasPrefix(sandbox.Mode(), "namespaces") && s != "http://127.0.0.1:4566" {
		t.Errorf("AWS_ENDPOINT_URL = %q, want the in-environment listener", s)
	}
	res, m := h.call(t, h.fn("endpoint-netns", nil), map[string]any{"action": "barrier"})
	wantOK(t, res)
	if m["barrier"] != "node api" {
		t.Errorf("the function reached %v, want the node's API handler", m)
	}
}

func TestEnvironmentVariables(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	fn := h.fn("envfn", map[string]string{
		"GREETING":                 "hi",
		"LANG":                     "C.UTF-8", // not reserved: the function's value wins
		"AWS_REGION":               "eu-evil-1",
		"AWS_LAMBDA_FUNCTION_NAME": "evil",
		"LAMBDA_TASK_ROOT":         "/evil",
		"AWS_LAMBDA_RUNTIME_API":   "evil:1",
		"_HANDLER":                 "evil",
	})
	fn.MemorySize = 256
	res, env := h.call(t, fn, map[string]any{"action": "env"})
	wantOK(t, res)
	taskRoot := "/var/task"
	if !strings.HasPrefix(sandbox.Mode(), "namespaces") {
		taskRoot = env["LAMBDA_TASK_ROOT"].(string) // the real code dir
	}
	for k, want := range map[string]string{
		"GREETING":                        "hi",
		"LANG":                            "C.UTF-8",
		"AWS_REGION":                      "us-east-1",
		"AWS_DEFAULT_REGION":              "us-east-1",
		"AWS_LAMBDA_FUNCTION_NAME":        "envfn",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/envfn",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"LAMBDA_TASK_ROOT":                taskRoot,
		"_HANDLER":                        "bootstrap",
		"TZ":                              ":UTC",
	} {
		if env[k] != want {
			t.Errorf("%s = %v, want %q", k, env[k], want)
		}
	}
	if s, _ := env["AWS_LAMBDA_LOG_STREAM_NAME"].(string); !regexp.MustCompile(`^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$`).MatchString(s) {
		t.Errorf("AWS_LAMBDA_LOG_STREAM_NAME %q", s)
	}
	if s, _ := env["AWS_LAMBDA_RUNTIME_API"].(string); !regexp.MustCompile(`^127\.0\.0\.1:\d+$`).MatchString(s) {
		t.Errorf("AWS_LAMBDA_RUNTIME_API %q", s)
	} else if strings.HasPrefix(sandbox.Mode(), "namespaces") && s != "127.0.0.1:9001" {
		t.Errorf("AWS_LAMBDA_RUNTIME_API %q, want Lambda's 127.0.0.1:9001 in the environment's network namespace", s)
	}
	for _, k := range []string{"PATH", "LD_LIBRARY_PATH", "LAMBDA_RUNTIME_DIR"} {
		if env[k] == nil || env[k] == "" {
			t.Errorf("%s not set", k)
		}
	}
	// The credentials come from Options.Credentials, per function.
	for k, want := range map[string]string{
		"AWS_ACCESS_KEY_ID": "ASIATEST", "AWS_ACCESS_KEY": "ASIATEST",
		"AWS_SECRET_ACCESS_KEY": "secret-of-envfn", "AWS_SESSION_TOKEN": "token-of-" + fn.FunctionArn,
	} {
		if env[k] != want {
			t.Errorf("%s = %v, want %q", k, env[k], want)
		}
	}
	// Nothing of the server's own environment leaks in; provided runtimes
	// get no AWS_EXECUTION_ENV.
	for _, k := range []string{"HOME", "GOFLAGS", "AWS_EXECUTION_ENV", "_NIMBUS_SANDBOX_INIT"} {
		if v, ok := env[k]; ok {
			t.Errorf("%s=%v leaked into the function", k, v)
		}
	}
}

func TestResponseTooLarge(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	fn := h.fn("big", nil)
	fn.MemorySize = 1024 // a 7 MB JSON response takes room, more so under -race
	res, _ := h.call(t, fn, map[string]any{"action": "big", "bytes": 7 << 20})
	wantError(t, res, "Function.ResponseSizeTooLarge", "Response payload size exceeded maximum allowed payload size (6291556 bytes).")
	res, m := h.call(t, fn, map[string]any{"action": "echo", "value": 1})
	wantOK(t, res)
	if m["value"] != 1.0 {
		t.Errorf("after an oversize response: %s", res.Payload)
	}
}

func TestConfigChangeRetiresEnvironments(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	fn := h.fn("rev", map[string]string{"GREETING": "one"})
	res, _ := h.call(t, fn, map[string]any{"action": "echo"})
	wantOK(t, res)
	res, m := h.call(t, fn, map[string]any{"action": "echo"})
	wantOK(t, res)
	if m["count"] != 2.0 {
		t.Fatalf("count %v", m["count"])
	}
	fn2 := *fn
	fn2.RevisionId = randHex(8)
	fn2.Environment = &function.Environment{Variables: map[string]string{functionEnv: "1", "GREETING": "two", "GORACE": "atexit_sleep_ms=0"}}
	res, env := h.call(t, &fn2, map[string]any{"action": "env"})
	wantOK(t, res)
	if env["GREETING"] != "two" {
		t.Errorf("GREETING %v after the update", env["GREETING"])
	}
	res, m = h.call(t, &fn2, map[string]any{"action": "echo"})
	wantOK(t, res)
	if m["count"] != 2.0 {
		t.Errorf("count %v: want the new revision's environment (count 2)", m["count"])
	}
	h.m.mu.Lock()
	_, oldPool := h.m.pools[poolKey{versionKey{fn.FunctionArn, fn.Version}, fn.RevisionId}]
	h.m.mu.Unlock()
	if oldPool {
		t.Error("the old revision's pool is still there")
	}
}

func TestIdleReaper(t *testing.T) {
	t.Parallel()
	reaped := make(chan int, 10)
	h := newHarness(t, func(o *Options) { o.IdleTimeout = 50 * time.Millisecond })
	h.m.mu.Lock()
	h.m.hookReaped = func(n int) { reaped <- n }
	h.m.mu.Unlock()
	fn := h.fn("idle", nil)
	res, _ := h.call(t, fn, map[string]any{"action": "echo"})
	wantOK(t, res)
	<-reaped
	res, m := h.call(t, fn, map[string]any{"action": "echo"})
	wantOK(t, res)
	if m["count"] != 1.0 {
		t.Errorf("count %v after the idle environment was reclaimed, want 1", m["count"])
	}
}

// processesWith counts host processes whose environment holds kv.
func processesWith(kv string) int {
	n := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && bytes.Contains(b, []byte("\x00"+kv+"\x00")) {
			n++
		}
	}
	return n
}

func TestCloseKillsEverything(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	token := randHex(8)
	fn := h.fn("closing", map[string]string{"TOKEN": token})
	fn.Timeout = 600
	res, _ := h.call(t, fn, map[string]any{"action": "echo"})
	wantOK(t, res)
	started := h.fnLog.waitFor("[closing] action=sleep")
	errc := make(chan error, 1)
	go func() {
		payload, _ := json.Marshal(map[string]any{"action": "sleep", "ms": 600000})
		_, err := h.m.Invoke(context.Background(), fn, &invoke.Request{RequestID: newRequestID(), Payload: payload})
		errc <- err
	}()
	<-started
	if n := processesWith("TOKEN=" + token); n != 1 {
		t.Fatalf("%d function processes before Close, want 1", n)
	}
	if err := h.m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, errdefs.ErrShuttingDown) {
		t.Errorf("in-flight invoke after Close: %v, want errdefs.ErrShuttingDown", err)
	}
	if n := processesWith("TOKEN=" + token); n != 0 {
		t.Errorf("%d function processes survived Close", n)
	}
	if _, err := h.m.Invoke(context.Background(), fn, &invoke.Request{RequestID: newRequestID(), Payload: []byte("{}")}); err == nil {
		t.Error("Invoke after Close succeeded")
	}
	ents, _ := os.ReadDir(h.m.envsDir)
	if len(ents) != 0 {
		t.Errorf("environment directories left: %v", ents)
	}
}

func TestCallerCancel(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	fn := h.fn("cancel", nil)
	started := h.fnLog.waitFor("[cancel] action=sleep")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		payload, _ := json.Marshal(map[string]any{"action": "sleep", "ms": 600000})
		_, err := h.m.Invoke(ctx, fn, &invoke.Request{RequestID: newRequestID(), Payload: payload})
		errc <- err
	}()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	res, m := h.call(t, fn, map[string]any{"action": "echo"})
	wantOK(t, res)
	if m["count"] != 1.0 {
		t.Errorf("count %v: the abandoned environment was reused", m["count"])
	}
}

func TestCodeFetchedOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.code.delay = make(chan struct{})
	h.code.first = make(chan struct{})
	fn := h.fn("once", nil)
	const n = 4
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			res, _ := h.call(t, fn, map[string]any{"action": "echo"})
			wantOK(t, res)
		})
	}
	// Hold the fetch so the other invokes find it in flight.
	<-h.code.first
	close(h.code.delay)
	wg.Wait()
	if g := h.code.gets.Load(); g != 1 {
		t.Errorf("code fetched %d times, want 1", g)
	}
}

func TestMissingBootstrap(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	z, err := makeZip(map[string][]byte{"README": []byte("no bootstrap here")}, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fn := h.fn("nobootstrap", nil)
	fn.CodeSha256 = h.code.put(z)
	payload := []byte(`{}`)
	req := &invoke.Request{RequestID: newRequestID(), Payload: payload, LogTail: true}
	res, err := h.m.Invoke(context.Background(), fn, req)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, res, "Runtime.InvalidEntrypoint",
		"RequestId: "+req.RequestID+" Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]")
}

func TestBadCodePackage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	fn := h.fn("badcode", nil)
	fn.CodeSha256 = function.CodeSha256([]byte("not stored"))
	_, err := h.m.Invoke(context.Background(), fn, &invoke.Request{RequestID: newRequestID(), Payload: []byte("{}")})
	if !errors.Is(err, errdefs.ErrEnvironmentFailed) {
		t.Fatalf("err %v, want errdefs.ErrEnvironmentFailed (the code is not stored)", err)
	}
}

func TestReport(t *testing.T) {
	r := report{requestID: "id", duration: 1234567 * time.Nanosecond, memoryMB: 128, maxMemory: 20<<20 - 5, initDuration: 45670 * time.Microsecond}
	want := "REPORT RequestId: id\tDuration: 1.23 ms\tBilled Duration: 47 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 45.67 ms\t"
	if got := r.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	r = report{requestID: "id", duration: 3 * time.Second, memoryMB: 128, status: "error", errorType: "Runtime.ExitError"}
	if got := r.String(); !strings.HasSuffix(got, "Max Memory Used: 0 MB\tStatus: error\tError Type: Runtime.ExitError\t") {
		t.Errorf("got %q", got)
	}
}

// An environment whose credentials would expire during the next
// invocation is not reused: a new one starts with fresh credentials.
func TestExpiringCredentialsAreNotReused(t *testing.T) {
	t.Parallel()
	issued := 0
	var mu sync.Mutex
	h := newHarness(t, func(o *Options) {
		o.Credentials = func(*function.Config) (Credentials, error) {
			mu.Lock()
			defer mu.Unlock()
			issued++
			// Valid for 30 s: less than the timeout (3 s) plus a minute.
			return Credentials{AccessKeyID: fmt.Sprintf("ASIA%d", issued), SecretAccessKey: "s", SessionToken: "t",
				Expiration: time.Now().Add(30 * time.Second)}, nil
		}
	})
	fn := h.fn("shortcreds", nil)
	_, env1 := h.call(t, fn, map[string]any{"action": "env"})
	_, env2 := h.call(t, fn, map[string]any{"action": "env"})
	if env1["AWS_ACCESS_KEY_ID"] == env2["AWS_ACCESS_KEY_ID"] || env1["AWS_LAMBDA_LOG_STREAM_NAME"] == env2["AWS_LAMBDA_LOG_STREAM_NAME"] {
		t.Errorf("environment with expiring credentials reused: %v then %v", env1["AWS_ACCESS_KEY_ID"], env2["AWS_ACCESS_KEY_ID"])
	}
}

// Close during a cold start whose environment is registered but not yet
// launched, with an init that never finishes: the start owns the
// environment, so Close cancels it, waits for it and leaves no process
// behind. Before starts had one owner, Close destroyed the environment
// before it had a process (a no-op), the launch went on, and Close waited
// for the hanging runtime forever.
func TestCloseDuringColdStart(t *testing.T) {
	const hangLimit = 2 * time.Minute
	t.Parallel()
	h := newHarness(t)
	token := randHex(8)
	fn := h.fn("close-cold", map[string]string{"POOL_TEST_INIT": "hang", "TOKEN": token})
	fn.Timeout = 600
	registered := make(chan struct{})
	h.m.mu.Lock()
	h.m.hookLaunch = func() {
		close(registered)
		<-h.m.stop // launch once Close has begun
	}
	h.m.mu.Unlock()
	errc := make(chan error, 1)
	go func() {
		_, err := h.m.Invoke(context.Background(), fn, &invoke.Request{RequestID: newRequestID(), Payload: []byte("{}")})
		errc <- err
	}()
	<-registered
	closed := make(chan error, 1)
	go func() { closed <- h.m.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(hangLimit): // a hang, not a timing assertion
		t.Fatalf("Close still blocked after %v; %d function processes alive", hangLimit, processesWith("TOKEN="+token))
	}
	if err := <-errc; !errors.Is(err, errdefs.ErrShuttingDown) {
		t.Errorf("cold invoke during Close: %v, want errdefs.ErrShuttingDown", err)
	}
	if n := processesWith("TOKEN=" + token); n != 0 {
		t.Errorf("%d function processes survived Close", n)
	}
	if ents, _ := os.ReadDir(h.m.envsDir); len(ents) != 0 {
		t.Errorf("environment directories left: %v", ents)
	}
}

// Close while a hanging init is waited for: the start sees Close and
// destroys its environment.
func TestCloseDuringHangingInit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	token := randHex(8)
	fn := h.fn("close-init", map[string]string{"POOL_TEST_INIT": "hang", "TOKEN": token})
	fn.Timeout = 600
	errc := make(chan error, 1)
	go func() {
		_, err := h.m.Invoke(context.Background(), fn, &invoke.Request{RequestID: newRequestID(), Payload: []byte("{}")})
		errc <- err
	}()
	for processesWith("TOKEN="+token) == 0 {
		select {
		case err := <-errc:
			t.Fatalf("invoke ended before its init hung: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := h.m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, errdefs.ErrShuttingDown) {
		t.Errorf("cold invoke during Close: %v, want errdefs.ErrShuttingDown", err)
	}
	if n := processesWith("TOKEN=" + token); n != 0 {
		t.Errorf("%d function processes survived Close", n)
	}
}
