package pool

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"sync"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/runtimes"
)

// Debug ports (Options.DebugPorts, the server's --debug-port): a
// function's environments start their runtime with its debugger listening
// on the environment's own loopback — Node.js with --inspect on port 9229,
// Python under debugpy on port 5678 when the host's interpreter has
// debugpy — and the node listens on a host loopback address for it: each
// connection there is forwarded into the function's newest live
// environment through the environment's dialer sockets (Process.Dial), so
// a debugger on the host attaches as to a local process. Those
// environments are never frozen while idle (a frozen runtime would not
// answer its debugger). Other runtimes (provided, Java) get no debugger
// port: the environment starts as usual and the node logs the refusal.
// It is a server setting for development, never a function's: a debugger
// can run any code in the function's environment.

// In-environment ports of the debuggers.
const (
	nodeInspectPort = 9229
	debugpyPort     = 5678
)

// debugArgv returns argv with rt's debugger switched on and the port it
// listens on inside the environment, or an error naming why rt has none.
func debugArgv(rt *runtimes.Runtime, argv []string) ([]string, int, error) {
	switch rt.Family {
	case runtimes.FamilyNode:
		out := append([]string{argv[0], fmt.Sprintf("--inspect=127.0.0.1:%d", nodeInspectPort)}, argv[1:]...)
		return out, nodeInspectPort, nil
	case runtimes.FamilyPython:
		if err := hasDebugpy(argv[0]); err != nil {
			return nil, 0, err
		}
		out := append([]string{argv[0], "-m", "debugpy", "--listen", fmt.Sprintf("127.0.0.1:%d", debugpyPort)}, argv[1:]...)
		return out, debugpyPort, nil
	}
	return nil, 0, fmt.Errorf("runtime %s has no debugger port Nimbus publishes (Node.js --inspect and Python debugpy only)", rt.Name)
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
