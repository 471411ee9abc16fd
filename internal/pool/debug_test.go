package pool

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/rpc/jsonrpc"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/runtimes"
)

// TestDebugPort: a Node.js function named in DebugPorts starts with its
// inspector on, published on the host address: the inspector's own HTTP
// endpoint answers there with the function's target, while the
// environment sits idle (never frozen, unlike another function's). A Go
// function named there whose bootstrap has no debug info runs as usual
// and its debug port has nothing behind it.
func TestDebugPort(t *testing.T) {
	t.Parallel()
	if _, err := runtimes.Lookup("nodejs20.x"); err != nil {
		t.Skipf("host cannot run nodejs20.x: %v", err)
	}
	h := newHarness(t, func(o *Options) {
		o.DebugPorts = map[string]string{"dbg-node": "127.0.0.1:0", "dbg-go": "127.0.0.1:0"}
	})
	z, err := makeZip(map[string][]byte{"app.js": []byte(`exports.handler = async () => ({ok: true});`)}, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	node := h.fn("dbg-node", nil)
	node.Runtime, node.Handler, node.CodeSha256 = "nodejs20.x", "app.handler", h.code.put(z)
	res, _ := h.call(t, node, map[string]any{})
	wantOK(t, res)
	other := h.fn("plain", nil)
	res, _ = h.call(t, other, map[string]any{"action": "echo"})
	wantOK(t, res)

	// Once the other function's idle environment is frozen, the debugged
	// one's is still running.
	deadline := time.Now().Add(2 * time.Minute)
	for !h.frozen("plain") {
		if time.Now().After(deadline) {
			t.Fatal("the idle environment of a function without a debug port was never frozen")
		}
		<-time.After(10 * time.Millisecond)
	}
	if h.frozen("dbg-node") {
		t.Fatal("the debugged function's environment was frozen")
	}

	addr := h.m.DebugAddr("dbg-node")
	resp, err := http.Get("http://" + addr + "/json/list") //nolint:noctx // a test's loopback request
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // test
	var targets []struct {
		Type string `json:"type"`
		URL  string `json:"url"`
		WS   string `json:"webSocketDebuggerUrl"`
	}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &targets); err != nil || len(targets) != 1 || targets[0].Type != "node" ||
		!strings.Contains(targets[0].URL, "bootstrap.js") || !strings.HasPrefix(targets[0].WS, "ws://"+addr+"/") {
		t.Fatalf("inspector /json/list through the debug port: %v %s", err, body)
	}

	// A bootstrap Delve cannot debug: it runs, its port has nothing behind it.
	stripped := buildGoFunction(t, "-ldflags=-s -w")
	gofn := h.fn("dbg-go", nil)
	gofn.CodeSha256 = h.code.put(stripped)
	res, _ = h.call(t, gofn, map[string]any{"action": "echo"})
	wantOK(t, res)
	c, err := net.Dial("tcp", h.m.DebugAddr("dbg-go"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close() //nolint:errcheck // test
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("read %d bytes from the debug port of a Go function", n)
	}
}

// frozen reports whether an environment of the function is frozen.
func (h *harness) frozen(function string) bool {
	h.m.mu.Lock()
	var envs []*environment
	for e := range h.m.envs {
		if e.fnName == function {
			envs = append(envs, e)
		}
	}
	h.m.mu.Unlock()
	for _, e := range envs {
		e.fmu.Lock()
		f := e.frozen
		e.fmu.Unlock()
		if f {
			return true
		}
	}
	return false
}

func TestDebugArgv(t *testing.T) {
	if node, _ := runtimes.Lookup("nodejs20.x"); node != nil {
		d, err := debugArgv(node, []string{"/usr/bin/node", "--expose-gc", "/var/runtime/nodejs/bootstrap.js"}, "")
		if err != nil || d.port != 9229 || d.ptrace || strings.Join(d.argv, " ") != "/usr/bin/node --inspect=127.0.0.1:9229 --expose-gc /var/runtime/nodejs/bootstrap.js" {
			t.Errorf("node: %+v %v", d, err)
		}
	}
	java := &runtimes.Runtime{Name: "java21", Family: runtimes.FamilyJava}
	if _, err := debugArgv(java, []string{"java"}, ""); err == nil || !strings.Contains(err.Error(), "java21 has no debugger port") {
		t.Errorf("java: %v", err)
	}
	py := &runtimes.Runtime{Name: "python3.12", Family: runtimes.FamilyPython}
	if err := hasDebugpy("/nonexistent/python3"); err == nil {
		t.Error("a missing interpreter has debugpy")
	} else if _, err2 := debugArgv(py, []string{"/nonexistent/python3", "/var/runtime/python/bootstrap.py"}, ""); err2 == nil || !strings.Contains(err2.Error(), "debugpy is not installed") {
		t.Errorf("python without debugpy: %v", err2)
	}
	// Delve debugs Go executables with DWARF only: not a shell, not a
	// stripped build.
	if err := goDebugInfo("/bin/sh"); err == nil || !strings.Contains(err.Error(), "not a Go executable") {
		t.Errorf("/bin/sh: %v", err)
	}
	if err := goDebugInfo(buildGoBinary(t, "-ldflags=-s -w")); err == nil || !strings.Contains(err.Error(), "no debug info") {
		t.Errorf("a stripped build: %v", err)
	}
	self := buildGoBinary(t)
	if err := goDebugInfo(self); err != nil {
		t.Errorf("a go build: %v", err)
	}
	dlv, err := findDlv()
	if err != nil {
		return
	}
	provided := &runtimes.Runtime{Name: "provided.al2023", Family: runtimes.FamilyProvided}
	d, err := debugArgv(provided, []string{"/var/task/bootstrap"}, self)
	want := dlv + " exec --headless --listen=127.0.0.1:2345 --api-version=2 --accept-multiclient --continue --only-same-user=false /var/task/bootstrap"
	if err != nil || strings.Join(d.argv, " ") != want || !d.ptrace || d.port != 2345 || len(d.hostPaths) != 1 || d.hostPaths[0] != dlv {
		t.Errorf("provided: %+v %v", d, err)
	}
}

// requireDlv skips a test without Delve on this host, or fails it in CI
// (.ci/run installs dlv).
func requireDlv(t *testing.T) {
	t.Helper()
	if _, err := findDlv(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must have Delve: %v", err)
		}
		t.Skipf("no Delve: %v", err)
	}
}

// goFunctionSource is a Go function on the Runtime API with the standard
// library alone: it answers {"echo": <event>} from handle.
const goFunctionSource = `package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
)

func handle(event []byte) []byte {
	out := append([]byte(` + "`" + `{"echo":` + "`" + `), event...)
	return append(out, '}')
}

func main() {
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
	for {
		resp, err := http.Get(api + "next")
		if err != nil {
			os.Exit(1)
		}
		event, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		r, err := http.Post(api+id+"/response", "application/json", bytes.NewReader(handle(event)))
		if err == nil {
			r.Body.Close()
		}
	}
}
`

// buildGoFunction builds goFunctionSource with flags and returns its zip.
func buildGoFunction(t *testing.T, flags ...string) []byte {
	t.Helper()
	boot, err := os.ReadFile(buildGoBinary(t, flags...))
	if err != nil {
		t.Fatal(err)
	}
	z, err := makeZip(map[string][]byte{"bootstrap": boot}, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// buildGoBinary builds goFunctionSource with flags and returns its path.
func buildGoBinary(t *testing.T, flags ...string) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go toolchain")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module fn\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(goFunctionSource), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append(append([]string{"build"}, flags...), "-o", "bootstrap", ".")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", flags, err, out)
	}
	return filepath.Join(dir, "bootstrap")
}

// TestDebugPortDelve: a Go function named in DebugPorts, built with
// debug info (-gcflags=all=-N -l), runs under Delve's headless server,
// and Delve's JSON-RPC API answers through the node's debug port: it
// halts the function, lists its goroutines, sets a breakpoint on the
// handler, stops there when the function is invoked, and lets the
// invocation finish once the breakpoint is cleared.
func TestDebugPortDelve(t *testing.T) {
	requireDlv(t)
	t.Parallel()
	z := buildGoFunction(t, "-gcflags=all=-N -l")
	h := newHarness(t, func(o *Options) {
		o.DebugPorts = map[string]string{"dbg-delve": "127.0.0.1:0"}
	})
	fn := h.fn("dbg-delve", nil)
	fn.CodeSha256 = h.code.put(z)
	fn.Timeout = 120 // it waits at a breakpoint
	fn.MemorySize = 512
	res, payload := h.call(t, fn, map[string]any{"n": 1})
	wantOK(t, res)
	if payload["echo"] == nil {
		t.Fatalf("payload %v", payload)
	}

	conn, err := net.Dial("tcp", h.m.DebugAddr("dbg-delve"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close() //nolint:errcheck // test
	_ = conn.SetDeadline(time.Now().Add(3 * time.Minute))
	dlv := jsonrpc.NewClient(conn)
	type location struct {
		Function *struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	type state struct {
		CurrentThread *struct {
			location
			Breakpoint *struct {
				ID int `json:"id"`
			} `json:"breakPoint"`
		} `json:"currentThread"`
		Exited bool `json:"exited"`
	}
	type command struct {
		Name string `json:"name"`
	}
	var halted struct{ State state }
	if err := dlv.Call("RPCServer.Command", command{Name: "halt"}, &halted); err != nil {
		t.Fatalf("halt: %v", err)
	}
	var gs struct {
		Goroutines []struct {
			ID         int64    `json:"id"`
			CurrentLoc location `json:"currentLoc"`
		}
	}
	if err := dlv.Call("RPCServer.ListGoroutines", map[string]any{"Start": 0, "Count": 0}, &gs); err != nil {
		t.Fatalf("ListGoroutines: %v", err)
	}
	main := false
	for _, g := range gs.Goroutines {
		main = main || g.ID == 1
	}
	if !main {
		t.Fatalf("goroutines %+v, want the main goroutine", gs.Goroutines)
	}
	var bp struct {
		Breakpoint struct {
			ID int `json:"id"`
		}
	}
	if err := dlv.Call("RPCServer.CreateBreakpoint", map[string]any{"Breakpoint": map[string]any{"functionName": "main.handle"}}, &bp); err != nil {
		t.Fatalf("CreateBreakpoint: %v", err)
	}
	stopped := make(chan error, 1)
	var at struct{ State state }
	go func() { stopped <- dlv.Call("RPCServer.Command", command{Name: "continue"}, &at) }()
	type result struct {
		ok      bool
		payload map[string]any
	}
	done := make(chan result, 1)
	go func() {
		res, payload := h.call(t, fn, map[string]any{"n": 2})
		done <- result{res.FunctionError == "", payload}
	}()
	if err := <-stopped; err != nil {
		t.Fatalf("continue: %v", err)
	}
	th := at.State.CurrentThread
	if th == nil || th.Breakpoint == nil || th.Breakpoint.ID != bp.Breakpoint.ID || th.Function == nil || th.Function.Name != "main.handle" {
		t.Fatalf("stopped at %+v, want breakpoint %d in main.handle", th, bp.Breakpoint.ID)
	}
	select {
	case r := <-done:
		t.Fatalf("the invocation finished while its handler sat at a breakpoint: %+v", r)
	default:
	}
	if err := dlv.Call("RPCServer.ClearBreakpoint", map[string]any{"Id": bp.Breakpoint.ID}, &bp); err != nil {
		t.Fatalf("ClearBreakpoint: %v", err)
	}
	go func() { _ = dlv.Call("RPCServer.Command", command{Name: "continue"}, &at) }()
	r := <-done
	if !r.ok || r.payload["echo"] == nil {
		t.Fatalf("after continue: %+v", r)
	}
}
