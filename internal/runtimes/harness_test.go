package runtimes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/runtimeapi"
)

// The tests run the clients against the real Runtime API server of package
// runtimeapi, one Server per runtime process, as the pool does.

func newRuntimeAPI(t *testing.T) *runtimeapi.Server {
	t.Helper()
	var lc net.ListenConfig
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := runtimeapi.New(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})), runtimeapi.Options{})
	s.Start(l)
	return s
}

// output is a file a process writes directly (no pipe), so whatever the
// process wrote before it answered an invocation is there to read.
type output struct{ f *os.File }

func newOutput(t *testing.T, name string) output {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), name)) //nolint:gosec // test temp dir
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() }) //nolint:errcheck,gosec // test file
	return output{f}
}

func (o output) String() string {
	data, err := os.ReadFile(o.f.Name())
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(data)
}

// env is one runtime process running against a fakeAPI.
type env struct {
	t        *testing.T
	api      *runtimeapi.Server
	rt       *Runtime
	taskRoot string
	stdout   output
	stderr   output
	ctx      context.Context // cancelled when the process exits or the test ends
	exited   chan struct{}
	exitCode int // valid once exited is closed
	seq      int
}

// startEnv lays out a runtime directory and a task root holding files, and
// starts rt's client against a fresh fake Runtime API with handler. Only the
// variables Lambda sets are in the environment (plus extra).
func startEnv(t *testing.T, runtime string, files map[string]string, handler string, extra map[string]string) *env {
	t.Helper()
	rt, err := Lookup(runtime)
	if err != nil {
		if ip := interpreterFor(familyOf(runtime)); ip != nil && ip.Err != nil {
			t.Skipf("host cannot run %s: %v", runtime, ip.Err)
		}
		t.Fatalf("Lookup(%q): %v", runtime, err)
	}
	dir := t.TempDir()
	runtimeDir := filepath.Join(dir, "runtime")
	if err := WriteFiles(runtimeDir); err != nil {
		t.Fatal(err)
	}
	taskRoot := filepath.Join(dir, "task")
	for name, content := range files {
		p := filepath.Join(taskRoot, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil { //nolint:gosec // like a task root
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil { //nolint:gosec // like a task root
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(taskRoot, 0o755); err != nil { //nolint:gosec // like a task root
		t.Fatal(err)
	}

	api := newRuntimeAPI(t)
	vars := map[string]string{
		"PATH":                            "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LANG":                            "en_US.UTF-8",
		"TZ":                              ":UTC",
		"LAMBDA_TASK_ROOT":                taskRoot,
		"LAMBDA_RUNTIME_DIR":              runtimeDir,
		"_HANDLER":                        handler,
		"AWS_LAMBDA_RUNTIME_API":          api.Addr(),
		"AWS_REGION":                      "us-east-1",
		"AWS_DEFAULT_REGION":              "us-east-1",
		"AWS_LAMBDA_FUNCTION_NAME":        "fn",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/fn",
		"AWS_LAMBDA_LOG_STREAM_NAME":      "2026/01/01/[$LATEST]0123456789abcdef",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
	}
	for k, v := range rt.Env() {
		vars[k] = v
	}
	for k, v := range extra {
		vars[k] = v
	}
	// A guard against hanging forever, not a timing assertion.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	argv := rt.Command(runtimeDir, taskRoot, handler, 128)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...) //nolint:gosec // test runs the runtime under test
	cmd.Dir = taskRoot
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	e := &env{t: t, api: api, rt: rt, taskRoot: taskRoot, exited: make(chan struct{})}
	e.stdout, e.stderr = newOutput(t, "stdout"), newOutput(t, "stderr")
	cmd.Stdout, cmd.Stderr = e.stdout.f, e.stderr.f
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	e.ctx = ctx
	go func() {
		err := cmd.Wait()
		var exitErr *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &exitErr):
			e.exitCode = exitErr.ExitCode()
		default:
			e.exitCode = -1
		}
		close(e.exited)
		cancel()
	}()
	t.Cleanup(func() {
		select {
		case <-e.exited:
		default:
			cmd.Process.Kill() //nolint:errcheck,gosec // best effort in cleanup
			<-e.exited
		}
		cancel()
		api.Close() //nolint:errcheck,gosec // test server
		if t.Failed() {
			t.Logf("runtime stdout:\n%s\nruntime stderr:\n%s", e.stdout.String(), e.stderr.String())
		}
	})
	return e
}

func familyOf(name string) string {
	for _, f := range []string{FamilyPython, FamilyNode, FamilyJava} {
		if strings.HasPrefix(name, f) {
			return f
		}
	}
	return FamilyProvided
}

// newInvocation is an invocation with a fresh id, a deadline a minute away
// and payload.
func (e *env) newInvocation(payload string) *runtimeapi.Invocation {
	e.seq++
	return &runtimeapi.Invocation{
		RequestID:          fmt.Sprintf("8f5c6e4a-0000-4000-8000-%012d", e.seq),
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:fn",
		Deadline:           time.Now().Add(time.Minute),
		Payload:            []byte(payload),
	}
}

// invoke runs inv and returns the runtime's answer; it fails the test if
// the runtime exits or never answers.
func (e *env) invoke(inv *runtimeapi.Invocation) *runtimeapi.Response {
	e.t.Helper()
	if ie, err := e.waitInit(); err != nil || ie != nil {
		if ie != nil {
			e.t.Fatalf("runtime init failed: %s %s", ie.ErrorType, ie.Body)
		}
		e.t.Fatalf("runtime did not start (exit code %d): %v", e.code(), err)
	}
	r, err := e.api.Invoke(e.ctx, inv)
	if err != nil {
		e.t.Fatalf("invoke %s: %v (runtime exit code %d)", inv.RequestID, err, e.code())
	}
	return r
}

// ok invokes with payload and returns the successful response payload.
func (e *env) ok(payload string) string {
	e.t.Helper()
	r := e.invoke(e.newInvocation(payload))
	if r.Error != nil {
		e.t.Fatalf("invoke failed: %s %s", r.Error.ErrorType, r.Error.Body)
	}
	return string(r.Payload)
}

// fail invokes with payload and returns the error the runtime reported.
func (e *env) fail(payload string) *runtimeapi.ErrorResponse {
	e.t.Helper()
	r := e.invoke(e.newInvocation(payload))
	if r.Error == nil {
		e.t.Fatalf("invoke succeeded with %s, want an error", r.Payload)
	}
	return r.Error
}

// initError waits for the runtime to report an init error and exit.
func (e *env) initError() (*runtimeapi.ErrorResponse, int) {
	e.t.Helper()
	ie, err := e.waitInit()
	if err != nil || ie == nil {
		e.t.Fatalf("no init error reported (err %v, exit code %d)", err, e.code())
	}
	return ie, e.waitExit()
}

// waitInit is WaitInit until the process exits; an answer that raced with
// the exit (a runtime reports, then exits) is still returned.
func (e *env) waitInit() (*runtimeapi.ErrorResponse, error) {
	ie, err := e.api.WaitInit(e.ctx)
	if err != nil && e.code() != -2 {
		done, cancel := context.WithCancel(context.Background())
		cancel()
		if ie2, err2 := e.api.WaitInit(done); err2 == nil {
			return ie2, nil
		}
	}
	return ie, err
}

// waitExit waits for the runtime to exit and returns its exit code.
func (e *env) waitExit() int {
	e.t.Helper()
	select {
	case <-e.exited:
		return e.exitCode
	case <-e.ctx.Done():
		select {
		case <-e.exited:
			return e.exitCode
		default:
		}
		e.t.Fatal("runtime did not exit")
	}
	return 0
}

// code is the exit code if the process has exited, else -2.
func (e *env) code() int {
	select {
	case <-e.exited:
		return e.exitCode
	default:
		return -2
	}
}
