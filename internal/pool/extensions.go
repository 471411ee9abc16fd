package pool

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/runtimeapi"
)

// Lambda extensions (docs/design/environments.md, "Extensions and
// shutdown"): executables in /opt/extensions are started by the sandbox
// init before the runtime; the Runtime API server runs the Extensions and
// Telemetry APIs; this file wires them to the environment's lifecycle.

// Shutdown budgets [DG:runtimes-extensions-api]: with external extensions
// 2,000 ms in all, of which the runtime gets 300 ms (500 ms when an
// internal extension is registered); with internal extensions only,
// 500 ms; with none, SIGKILL at once.
const (
	shutdownExternal        = 2000 * time.Millisecond
	shutdownRuntime         = 300 * time.Millisecond
	shutdownRuntimeInternal = 500 * time.Millisecond
	shutdownInternal        = 500 * time.Millisecond
)

// hiddenFromExtensions are the variables Lambda does not give external
// extensions [DG:runtimes-extensions-api].
var hiddenFromExtensions = map[string]bool{
	"AWS_EXECUTION_ENV": true, "AWS_LAMBDA_LOG_GROUP_NAME": true, "AWS_LAMBDA_LOG_STREAM_NAME": true,
	"AWS_XRAY_CONTEXT_MISSING": true, "AWS_XRAY_DAEMON_ADDRESS": true, "LAMBDA_RUNTIME_DIR": true,
	"LAMBDA_TASK_ROOT": true, "_AWS_XRAY_DAEMON_ADDRESS": true, "_AWS_XRAY_DAEMON_PORT": true, "_HANDLER": true,
}

// externalExtensions lists the executables in optDir/extensions (the
// merged layers), sorted by name, at most runtimeapi.MaxExtensions.
func externalExtensions(optDir string) []string {
	if optDir == "" {
		return nil
	}
	ents, err := os.ReadDir(filepath.Join(optDir, "extensions"))
	if err != nil {
		return nil
	}
	var names []string
	for _, d := range ents {
		if strings.HasPrefix(d.Name(), ".") {
			continue
		}
		fi, err := os.Stat(filepath.Join(optDir, "extensions", d.Name()))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			continue
		}
		names = append(names, d.Name())
	}
	sort.Strings(names)
	if len(names) > runtimeapi.MaxExtensions {
		names = names[:runtimeapi.MaxExtensions]
	}
	return names
}

// extensionEnv is env without the variables hidden from extensions.
func extensionEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !hiddenFromExtensions[k] {
			out = append(out, kv)
		}
	}
	return out
}

var errExtensionExited = errors.New("an extension exited")

// errExtensionCrash is Lambda's error type for an extension that failed.
const errExtensionCrash invoke.ErrorType = "Extension.Crash"

// onClose calls f once ch is closed (never for a nil ch); the returned
// function stops waiting.
func onClose(ch <-chan struct{}, f func()) (stop func()) {
	if ch == nil {
		return func() {}
	}
	quit := make(chan struct{})
	go func() {
		select {
		case <-ch:
			f()
		case <-quit:
		}
	}()
	return func() { close(quit) }
}

// dial reaches a port on the environment's own loopback (Telemetry API
// deliveries).
func (e *environment) dial(ctx context.Context, port int) (net.Conn, error) {
	p := e.proc
	if p == nil {
		return nil, errors.New("environment not started")
	}
	return p.Dial(ctx, port)
}

// releaseInvoked returns e to its pool after an invocation. The caller
// already has its answer; with extensions registered, e is reused only
// once each has called /event/next again (within the invocation's
// deadline; past it e is shut down as timed out), so this waits in the
// background.
func (m *Manager) releaseInvoked(e *environment) {
	if e.api == nil || e.broken {
		m.release(e)
		return
	}
	if ext, internal := e.api.ExtensionCounts(); ext+internal == 0 {
		m.release(e)
		return
	}
	deadline := e.deadline
	if !m.goroutine(func() {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		stop := context.AfterFunc(e.exitCtx, cancel)
		defer stop()
		defer onClose(e.proc.ExtensionExited(), cancel)()
		if err := e.api.WaitExtensions(ctx); err != nil {
			e.broken = true
			e.shutdownReason = runtimeapi.ShutdownFailure
			if errors.Is(err, context.DeadlineExceeded) {
				e.shutdownReason = runtimeapi.ShutdownTimeout
				m.log.Info("extensions did not finish within the invocation's deadline", "env_id", e.id)
			}
		}
		if e.api.ExtensionError() != nil {
			e.broken = true
			e.shutdownReason = runtimeapi.ShutdownFailure
		}
		m.release(e)
	}) {
		m.release(e)
	}
}

// shutdown ends e's process tree as Lambda does before the SIGKILL that
// follows: nothing without extensions; with internal extensions only,
// SIGTERM to the runtime and 500 ms; with external ones, the SHUTDOWN
// event to them (after the buffered telemetry is flushed), until each has
// called /event/next again or 2,000 ms minus the runtime's share have
// passed, then SIGTERM to the runtime and the rest of the 2,000 ms.
//
// Lambda signals the runtime first; Nimbus tells the extensions first,
// because the runtime is the environment's main process: once it exits,
// the sandbox ends and the extensions with it.
func (e *environment) shutdown() {
	if e.proc == nil || e.api == nil || e.exitCtx == nil || e.exited() {
		return
	}
	ext, internal := e.api.ExtensionCounts()
	if ext+internal == 0 {
		return
	}
	done := e.proc.Done()
	if ext == 0 {
		_ = e.proc.Terminate()
		waitFor(done, shutdownInternal)
		return
	}
	share := shutdownRuntime
	if internal > 0 {
		share = shutdownRuntimeInternal
	}
	deadline := time.Now().Add(shutdownExternal)
	reason := e.shutdownReason
	if reason == "" {
		reason = runtimeapi.ShutdownSpindown
	}
	e.api.FlushTelemetry()
	e.api.Shutdown(reason, deadline)
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(-share))
	stop := context.AfterFunc(e.exitCtx, cancel)
	stopDone := onClose(e.proc.ExtensionsDone(), cancel)
	_ = e.api.WaitExtensions(ctx)
	stop()
	stopDone()
	cancel()
	_ = e.proc.Terminate()
	waitFor(done, time.Until(deadline))
}

func waitFor(done <-chan struct{}, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}
