package pool

import (
	"context"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/runtimes"
)

// Debug ports (Options.DebugPorts, the server's --debug-port): a
// function's environments start their runtime with its debugger listening
// on the environment's own loopback — Node.js with --inspect on port 9229,
// Python under debugpy on port 5678 when the host's interpreter has
// debugpy, a Go bootstrap (provided.*) under Delve's headless server on
// port 2345 when the node has dlv and the bootstrap has debug info — and
// the node listens on a host loopback address for it: each connection
// there is forwarded into the function's newest live environment through
// the environment's dialer sockets (Process.Dial), so a debugger on the
// host attaches as to a local process. Those environments are never
// frozen while idle (a frozen runtime would not answer its debugger).
// Delve's environments alone may trace (sandbox.Spec.Debugger: the seccomp
// filter allows ptrace and process_vm_* for them); dlv is bound read-only
// into the environment at its host path. Other runtimes (Java) get no
// debugger port: the environment starts as usual and the node logs the
// refusal. It is a server setting for development, never a function's: a
// debugger can run any code in the function's environment.

// In-environment ports of the debuggers.
const (
	nodeInspectPort = 9229
	debugpyPort     = 5678
	delvePort       = 2345
)

// debugLaunch is how an environment starts with its runtime's debugger.
type debugLaunch struct {
	argv      []string
	port      int      // where the debugger listens inside
	hostPaths []string // host files the debugger needs in the environment
	ptrace    bool     // the debugger traces the runtime (sandbox.Spec.Debugger)
}

// debugArgv returns how rt starts with its debugger switched on, or an
// error naming why rt has none. bootstrap is the host path of a provided
// runtime's executable (argv[0] as the environment sees it).
func debugArgv(rt *runtimes.Runtime, argv []string, bootstrap string) (*debugLaunch, error) {
	switch rt.Family {
	case runtimes.FamilyNode:
		out := append([]string{argv[0], fmt.Sprintf("--inspect=127.0.0.1:%d", nodeInspectPort)}, argv[1:]...)
		return &debugLaunch{argv: out, port: nodeInspectPort}, nil
	case runtimes.FamilyPython:
		if err := hasDebugpy(argv[0]); err != nil {
			return nil, err
		}
		out := append([]string{argv[0], "-m", "debugpy", "--listen", fmt.Sprintf("127.0.0.1:%d", debugpyPort)}, argv[1:]...)
		return &debugLaunch{argv: out, port: debugpyPort}, nil
	case runtimes.FamilyProvided:
		dlv, err := findDlv()
		if err != nil {
			return nil, err
		}
		if err := goDebugInfo(bootstrap); err != nil {
			return nil, err
		}
		// --only-same-user=false: the forwarded connections come from the
		// node's dialer sockets, which are not the runtime's uid; nothing
		// else can reach the environment's loopback.
		out := []string{dlv, "exec", "--headless", fmt.Sprintf("--listen=127.0.0.1:%d", delvePort), "--api-version=2",
			"--accept-multiclient", "--continue", "--only-same-user=false", argv[0]}
		if len(argv) > 1 {
			out = append(append(out, "--"), argv[1:]...)
		}
		return &debugLaunch{argv: out, port: delvePort, hostPaths: []string{dlv}, ptrace: true}, nil
	}
	return nil, fmt.Errorf("runtime %s has no debugger port Nimbus publishes (Node.js --inspect, Python debugpy and Delve for Go only)", rt.Name)
}

var debugpyChecked sync.Map // interpreter path → error (nil: has debugpy)

// hasDebugpy reports whether the interpreter can import debugpy.
func hasDebugpy(python string) error {
	if v, ok := debugpyChecked.Load(python); ok {
		err, _ := v.(error)
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	if exec.CommandContext(ctx, python, "-c", "import debugpy").Run() != nil { //nolint:gosec // the runtime's own interpreter
		err = fmt.Errorf("debugpy is not installed for %s on this node (pip install debugpy)", python)
	}
	debugpyChecked.Store(python, err)
	return err
}

// findDlv is the host's Delve: dlv on PATH, else in GOBIN, GOPATH's bin
// or ~/go/bin (where go install puts it), as its real path.
func findDlv() (string, error) {
	candidates := []string{}
	if p, err := exec.LookPath("dlv"); err == nil {
		candidates = append(candidates, p)
	}
	if d := os.Getenv("GOBIN"); d != "" {
		candidates = append(candidates, filepath.Join(d, "dlv"))
	}
	if d, _, _ := strings.Cut(os.Getenv("GOPATH"), string(os.PathListSeparator)); d != "" {
		candidates = append(candidates, filepath.Join(d, "bin", "dlv"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, "go", "bin", "dlv"))
	}
	for _, c := range candidates {
		real, err := filepath.EvalSymlinks(c)
		if err != nil || !filepath.IsAbs(real) {
			continue
		}
		if fi, err := os.Stat(real); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o001 != 0 { //nolint:gosec // the node operator's own PATH and GOPATH
			return real, nil
		}
	}
	return "", errors.New("dlv is not installed on this node (go install github.com/go-delve/delve/cmd/dlv@latest; it must be executable by all users)")
}

// goDebugInfo reports why Delve cannot debug the executable at path: not
// a Go program, or built without DWARF (-ldflags=-s -w).
func goDebugInfo(path string) error {
	if _, err := buildinfo.ReadFile(path); err != nil {
		return fmt.Errorf("the bootstrap is not a Go executable Delve can debug: %w", err)
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("the bootstrap is not a Linux executable: %w", err)
	}
	defer f.Close() //nolint:errcheck // read only
	if f.Section(".debug_info") == nil && f.Section(".zdebug_info") == nil {
		return errors.New("the bootstrap has no debug info (built with -ldflags=-s or -w): build it with -gcflags='all=-N -l' and without -s -w (nimbus dev --debug FUNCTION does)")
	}
	return nil
}

// debugServer is one function's debug port on the host.
type debugServer struct {
	function string
	*relay
}

// startDebugServers listens on each of Options.DebugPorts' addresses.
func (m *Manager) startDebugServers() error {
	for fn, addr := range m.opts.DebugPorts {
		var lc net.ListenConfig
		ln, err := lc.Listen(m.stopCtx, "tcp", addr)
		if err != nil {
			m.closeDebugServers()
			return fmt.Errorf("debug port of %s: %w", fn, err)
		}
		m.debug = append(m.debug, &debugServer{function: fn, relay: startRelay(ln, func(ctx context.Context) (net.Conn, <-chan struct{}, error) {
			return m.dialDebugger(ctx, fn)
		})})
		m.log.Info("debug port", "function", fn, "addr", ln.Addr().String())
	}
	return nil
}

func (m *Manager) closeDebugServers() {
	for _, s := range m.debug {
		s.close()
	}
}

// DebugAddr returns the host address of function's debug port, or "".
func (m *Manager) DebugAddr(function string) string {
	for _, s := range m.debug {
		if s.function == function {
			return s.ln.Addr().String()
		}
	}
	return ""
}

// debugTarget is the function's newest live environment with a debugger.
func (m *Manager) debugTarget(function string) *environment {
	m.mu.Lock()
	defer m.mu.Unlock()
	var best *environment
	for e := range m.envs {
		if e.debugPort == 0 || e.fnName != function || e.proc == nil || (e.state != stateIdle && e.state != stateBusy) {
			continue
		}
		if best == nil || e.started.After(best.started) {
			best = e
		}
	}
	return best
}

// dialDebugger connects to the debugger of function's newest
// environment; the pair ends when that environment goes.
func (m *Manager) dialDebugger(ctx context.Context, function string) (net.Conn, <-chan struct{}, error) {
	e := m.debugTarget(function)
	if e == nil {
		m.log.Info("debug port: no environment of the function is running (invoke it first)", "function", function)
		return nil, nil, errors.New("no environment")
	}
	up, err := e.proc.Dial(ctx, e.debugPort)
	if err != nil {
		m.log.Info("debug port: the debugger is not listening", "function", function, "env_id", e.id, "err", err)
		return nil, nil, err
	}
	return up, e.exitCtx.Done(), nil
}
