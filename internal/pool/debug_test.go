package pool

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/runtimes"
)

// TestDebugPort: a Node.js function named in DebugPorts starts with its
// inspector on, published on the host address: the inspector's own HTTP
// endpoint answers there with the function's target, while the
// environment sits idle (never frozen, unlike another function's). A Go
// function named there runs as usual and its debug port has nothing
// behind it.
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

	// A runtime without a debugger: it runs, its port has nothing behind it.
	gofn := h.fn("dbg-go", nil)
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
	node, _ := runtimes.Lookup("nodejs20.x")
	if node == nil {
		t.Skip("no Node.js runtime here")
	}
	argv, port, err := debugArgv(node, []string{"/usr/bin/node", "--expose-gc", "/var/runtime/nodejs/bootstrap.js"})
	if err != nil || port != 9229 || strings.Join(argv, " ") != "/usr/bin/node --inspect=127.0.0.1:9229 --expose-gc /var/runtime/nodejs/bootstrap.js" {
		t.Errorf("node: %v %d %v", argv, port, err)
	}
	java := &runtimes.Runtime{Name: "java21", Family: runtimes.FamilyJava}
	if _, _, err := debugArgv(java, []string{"java"}); err == nil || !strings.Contains(err.Error(), "java21 has no debugger port") {
		t.Errorf("java: %v", err)
	}
	py := &runtimes.Runtime{Name: "python3.12", Family: runtimes.FamilyPython}
	if err := hasDebugpy("/nonexistent/python3"); err == nil {
		t.Error("a missing interpreter has debugpy")
	} else if _, _, err2 := debugArgv(py, []string{"/nonexistent/python3", "/var/runtime/python/bootstrap.py"}); err2 == nil || !strings.Contains(err2.Error(), "debugpy is not installed") {
		t.Errorf("python without debugpy: %v", err2)
	}
}
