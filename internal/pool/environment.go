package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/runtimeapi"
	"github.com/nimbus-serverless/nimbus/internal/sandbox"
)

type envState int

const (
	stateStarting envState = iota
	stateIdle
	stateBusy
	stateDead
)

// environment is one execution environment: a sandboxed runtime process,
// its Runtime API server and its log capture.
type environment struct {
	m        *Manager
	id       string
	pool     *fnPool
	api      *runtimeapi.Server
	proc     *sandbox.Process // nil until started
	logs     *logCapture
	dir      string          // DataDir/envs/<id>, holds tmp/
	exitCtx  context.Context // canceled when the process has exited
	exitStop context.CancelFunc

	apiSrv *http.Server // the node's API on the environment's loopback; nil without Options.APIHandler
	// secretsSrv serves the Parameters and Secrets extension's protocol
	// (paramsecrets.go); nil unless the function has its layer.
	secretsSrv *http.Server
	secrets    http.Handler // set by start before serve
	apiPort    int          // the node API listener's port as Process.Dial reaches it
	proxies    []*relay     // Options.AllowHosts, in order
	// debugPort is where the runtime's debugger listens inside (0: none;
	// Options.DebugPorts); fnName and started pick the environment a
	// debugger attaches to. Set before the environment is registered.
	debugPort int
	fnName    string
	started   time.Time

	destroyOnce sync.Once
	logsWG      sync.WaitGroup // the log reader
	serveWG     sync.WaitGroup // apiSrv's Serve

	// Used only by the goroutine holding the environment (starting or
	// busy); release reads broken under Manager.mu after that goroutine
	// is done with it.
	invocations  int
	broken       bool          // must not be reused
	initDuration time.Duration // sandbox start to the runtime's first /next
	phases       StartPhases   // where the start's time went (set by start)
	// firstDeadline, when set, is the first invocation's deadline after a
	// suppressed init (see start).
	firstDeadline time.Time
	// credsExpire is when the environment's AWS credentials expire (zero:
	// none); set before the environment is first released.
	credsExpire time.Time
	// deadline is the last invocation's; extensions must be ready by it.
	deadline time.Time
	// shutdownReason is the SHUTDOWN event's reason when e goes
	// (runtimeapi.ShutdownSpindown when empty).
	shutdownReason string

	memMB int // MemorySize, counted against the memory budget
	// fmu serialises freezing and thawing; frozen is guarded by it.
	fmu    sync.Mutex
	frozen bool

	state       envState  // guarded by Manager.mu
	lastUsed    time.Time // guarded by Manager.mu; on the injectable clock (keep-alive)
	idleSince   time.Time // guarded by Manager.mu; on the real clock (freezer)
	frozenHint  bool      // guarded by Manager.mu: the freezer has taken it in hand since it went idle
	memCounted  bool      // guarded by Manager.mu: memMB is in Manager.liveMB
	provisioned bool      // guarded by Manager.mu: holds one of its pool's provisioned slots
}

// exited reports whether the process has ended.
func (e *environment) exited() bool {
	return e.exitCtx.Err() != nil
}

// close kills the process tree and frees the environment's resources.
func (e *environment) close() {
	if e.proc != nil {
		_ = e.proc.Kill()
	}
	if e.exitStop != nil {
		e.exitStop()
	}
	if e.api != nil {
		_ = e.api.Close()
	}
	if e.apiSrv != nil {
		_ = e.apiSrv.Close()
	}
	if e.secretsSrv != nil {
		_ = e.secretsSrv.Close()
	}
	for _, p := range e.proxies {
		p.close()
	}
	e.serveWG.Wait()
	e.logsWG.Wait()
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
}

// Ports on the environment's own loopback (its network namespace).
const (
	// RuntimeAPIPort is where the Runtime API listens, as in Lambda
	// (AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001).
	RuntimeAPIPort = 9001
	// APIPort is where the node's API (Options.APIHandler) listens for the
	// function's own AWS SDK calls (AWS_ENDPOINT_URL).
	APIPort = 4566
)

// listeners are what the sandbox opens on the environment's loopback: the
// Runtime API, and the node's API when there is an APIHandler (its URL
// becomes AWS_ENDPOINT_URL unless the function sets its own).
func (m *Manager) listeners(fn *function.Config) []sandbox.Listener {
	ls := []sandbox.Listener{{Port: RuntimeAPIPort, Env: "AWS_LAMBDA_RUNTIME_API"}}
	if m.opts.APIHandler != nil {
		l := sandbox.Listener{Port: APIPort}
		if _, own := fn.Variables()["AWS_ENDPOINT_URL"]; !own {
			l.Env, l.URL = "AWS_ENDPOINT_URL", true
		}
		ls = append(ls, l)
	}
	return ls
}

// network is fn's outbound network policy: its tag, else the server's.
// Environments keep the policy they started with; a changed tag applies to
// the environments started after it.
func (m *Manager) network(fn *function.Config) string {
	n := fn.Network
	if n == "" {
		n = m.opts.Network
	}
	if n == function.NetworkEgress {
		return sandbox.NetworkEgress
	}
	return sandbox.NetworkNone
}

// hostPaths are the host directories an interpreter outside /usr needs in
// the environment's minimal root (pyenv's, nvm's, a /opt install): its bin
// directory and the lib directories beside it, never a directory holding
// the data directory.
func (m *Manager) hostPaths(argv0 string) []string {
	if !filepath.IsAbs(argv0) || strings.HasPrefix(argv0, "/var/") {
		return nil
	}
	real, err := filepath.EvalSymlinks(argv0)
	if err != nil {
		return nil
	}
	bin := filepath.Dir(real)
	prefix := filepath.Dir(bin)
	if prefix == "/" {
		return []string{bin}
	}
	paths := []string{bin}
	for _, d := range []string{"lib", "lib64"} {
		if fi, err := os.Stat(filepath.Join(prefix, d)); err == nil && fi.IsDir() {
			paths = append(paths, filepath.Join(prefix, d))
		}
	}
	data, _ := filepath.Abs(m.opts.DataDir)
	out := paths[:0]
	for _, p := range paths {
		if data != p && !strings.HasPrefix(data, p+"/") {
			out = append(out, p)
		}
	}
	return out
}

// serve serves the listeners the sandbox opened, in the order start asked
// for them: the Runtime API, the node's API (with an APIHandler), the
// Parameters and Secrets extension's (with its layer), then the allowed
// host ports.
func (e *environment) serve(lns []net.Listener) {
	if len(lns) == 0 {
		return // cannot happen: the sandbox opens all or fails
	}
	e.api.Start(lns[0])
	rest := lns[1:]
	if e.m.opts.APIHandler != nil && len(rest) > 0 {
		e.apiSrv = &http.Server{
			Handler:           e.m.opts.APIHandler,
			ReadHeaderTimeout: 30 * time.Second,
			// A function's idle keep-alive connections to the node's API
			// would otherwise hold the node's descriptors for ever.
			IdleTimeout: 2 * time.Minute,
			ErrorLog:    slog.NewLogLogger(e.m.log.Handler(), slog.LevelWarn),
		}
		ln := rest[0]
		e.serveWG.Add(1)
		go func() {
			defer e.serveWG.Done()
			_ = e.apiSrv.Serve(ln)
		}()
		if a, ok := ln.Addr().(*net.TCPAddr); ok {
			e.apiPort = a.Port
		}
		rest = rest[1:]
	}
	if e.secrets != nil && len(rest) > 0 {
		e.serveParamsSecrets(e.secrets, rest[0])
		rest = rest[1:]
	}
	e.startProxies(rest)
}

// startProxies forwards the allowed host ports' listeners (see
// allowhost.go).
func (e *environment) startProxies(lns []net.Listener) {
	for i, ln := range lns {
		if i < len(e.m.opts.AllowHosts) {
			e.proxies = append(e.proxies, startHostProxy(ln, e.m.opts.AllowHosts[i].String(), e.m.log))
		}
	}
}

// Errors that end an invocation's context.
var (
	errTimedOut = errors.New("function timed out")
	errExited   = errors.New("runtime exited")
)

// start creates an environment and waits for its init. A function failure
// during init is returned as a Result (the environment is then gone).
func (m *Manager) start(ctx context.Context, fn *function.Config, req *invoke.Request, p *fnPool, initType string) (*environment, *invoke.Result, error) {
	rt, err := m.runtimes.Lookup(fn.Runtime)
	if err != nil {
		return nil, nil, errdefs.BadRuntime("The runtime parameter of %s is not supported on this Nimbus server.", fn.Runtime)
	}
	key := function.CodeKey(fn.CodeSha256)
	if key == "" {
		return nil, nil, errdefs.BadCode("The function's code package is invalid.")
	}
	tCode := time.Now()
	codeDir, err := m.code.get(ctx, key)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		m.log.Error("code package unavailable", "function", fn.FunctionName, "code_key", key, "err", err)
		if errors.Is(err, errdefs.ErrBadCode) {
			return nil, nil, errdefs.BadCode("Lambda was unable to unzip the function's code package.")
		}
		return nil, nil, errdefs.EnvironmentFailed("The function's code package could not be loaded.")
	}
	optDir, err := m.optDir(ctx, fn.Layers)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		m.log.Error("layer package unavailable", "function", fn.FunctionName, "err", err)
		if errors.Is(err, errdefs.ErrBadCode) {
			return nil, nil, errdefs.BadCode("Lambda was unable to unzip the function's layers.")
		}
		return nil, nil, errdefs.EnvironmentFailed("The function's layers could not be loaded.")
	}

	// Variables encrypted under the function's KMS key are opened now,
	// as Lambda decrypts them when an environment starts; a key that is
	// disabled, pending deletion or gone fails the invoke with KMS's error.
	if fn.Environment != nil && fn.Environment.Sealed != nil {
		if m.opts.OpenEnvironment == nil {
			return nil, nil, errdefs.EnvironmentFailed("This node cannot decrypt the function's environment variables.")
		}
		vars, err := m.opts.OpenEnvironment(ctx, fn)
		if err != nil {
			return nil, nil, err
		}
		opened := *fn
		opened.Environment = &function.Environment{Variables: vars}
		fn = &opened
	}

	codeDur := time.Since(tCode)
	tPrep := time.Now()

	// From here until it is busy (or destroyed) e belongs to this
	// goroutine alone: Close skips starting environments, cancels sctx and
	// waits for this start on m.wg.
	e := &environment{m: m, id: newEnvID(), pool: p, state: stateStarting, memMB: fn.MemoryMB(),
		fnName: fn.FunctionName, started: time.Now()}
	argv := rt.Command(sandbox.RuntimeDir, sandbox.TaskRoot, fn.Handler, fn.MemoryMB())
	bootstrap := filepath.Join(codeDir, "bootstrap")
	if argv[0] == sandbox.TaskRoot+"/bootstrap" && !hasFile(codeDir, "bootstrap") && optDir != "" && hasFile(optDir, "bootstrap") {
		// A custom runtime may come as a layer: Lambda runs
		// /opt/bootstrap when the function has no bootstrap of its own.
		argv[0], bootstrap = "/opt/bootstrap", filepath.Join(optDir, "bootstrap")
	}
	var debug *debugLaunch
	if _, on := m.opts.DebugPorts[fn.FunctionName]; on {
		d, err := debugArgv(rt, argv, bootstrap)
		if err != nil {
			m.log.Warn("debug port refused", "function", fn.FunctionName, "err", err)
		} else {
			debug, argv, e.debugPort = d, d.argv, d.port
		}
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, nil, errClosed
	}
	m.envs[e] = struct{}{}
	m.countLocked(e)
	m.wg.Add(1)
	hook := m.hookLaunch
	m.mu.Unlock()
	defer m.wg.Done()
	if hook != nil {
		hook()
	}
	fail := func(err error) (*environment, *invoke.Result, error) {
		m.markDead(e)
		m.destroy(e)
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if errors.Is(err, errClosed) || m.closing() {
			return nil, nil, errClosed
		}
		m.log.Error("environment start failed", "function", fn.FunctionName, "env_id", e.id, "err", err)
		return nil, nil, errdefs.EnvironmentFailed("The function's execution environment could not be started.")
	}

	e.dir = filepath.Join(m.envsDir, e.id)
	tmp := filepath.Join(e.dir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fail(err)
	}
	if err := os.Chmod(tmp, 0o1777); err != nil {
		return fail(err)
	}
	exts := externalExtensions(optDir)
	e.api = runtimeapi.New(m.baseLog.With("env_id", e.id), runtimeapi.Options{
		FunctionName: fn.FunctionName, FunctionVersion: fn.Version, Handler: fn.Handler, AccountID: m.opts.AccountID,
		ExternalExtensions: exts,
		Dial:               e.dial,
		ReservedPorts:      []int{RuntimeAPIPort, APIPort},
	})
	stream := logStreamName(time.Now(), fn.Version, e.id)
	logs, w, err := newLogCapture(newLogMeta(fn, e.id, stream), m.fnLog, m.opts.LogSink)
	if err != nil {
		return fail(err)
	}
	e.logs = logs
	logs.publish = e.api.Publish
	logs.netHint = m.netHint(m.network(fn))
	var interpreterVersion string
	if ip := rt.Interpreter(); ip != nil {
		interpreterVersion = ip.Version
	}
	logs.platform(initStartEvent(fn, interpreterVersion))
	e.logsWG.Add(1)
	go func() {
		defer e.logsWG.Done()
		logs.run()
	}()

	creds, err := m.credentials(fn)
	if err != nil {
		return fail(err)
	}
	e.credsExpire = creds.Expiration
	spec := sandbox.Spec{
		ID:         e.id,
		Argv:       argv,
		Env:        m.environ(fn, rt, stream, initType, creds),
		Listeners:  m.listeners(fn),
		HostPaths:  append(m.hostPaths(rt.Command(sandbox.RuntimeDir, sandbox.TaskRoot, fn.Handler, 0)[0]), rt.HostPaths()...),
		Network:    m.network(fn),
		CodeDir:    codeDir,
		OptDir:     optDir,
		RuntimeDir: m.runtimeDir,
		TmpDir:     tmp,
		TmpMB:      fn.EphemeralMB(),
		MemoryMB:   fn.MemoryMB(),
		Stdout:     w,
		Stderr:     w,
	}
	if wantsParamsSecrets(fn) {
		if e.secrets = e.paramsSecretsHandler(fn, creds); e.secrets != nil {
			spec.Listeners = append(spec.Listeners, sandbox.Listener{Port: paramsSecretsPort(fn)})
			spec.Dialers = 1
		}
	}
	for _, ap := range m.opts.AllowHosts {
		spec.Listeners = append(spec.Listeners, sandbox.Listener{Port: int(ap.Port())})
	}
	if debug != nil {
		spec.Dialers = max(spec.Dialers, 1)
		spec.HostPaths = append(spec.HostPaths, debug.hostPaths...)
		spec.Debugger = debug.ptrace
	}
	if len(exts) > 0 {
		spec.Extensions = make([]string, len(exts))
		for i, n := range exts {
			spec.Extensions[i] = "/opt/extensions/" + n
		}
		spec.ExtensionEnv = extensionEnv(spec.Env)
		spec.Dialers = 1
	}
	// Lambda gives init 10 s; an init that takes longer is run again as
	// part of the first invocation, under the function timeout ("suppressed
	// init"). Nimbus does not kill and restart it: the init keeps running,
	// and from the 10 s mark on the function timeout counts, for the rest
	// of the init and the handler together. The whole budget is therefore
	// initTimeout + the function timeout.
	fnTimeout := time.Duration(fn.TimeoutSeconds()) * time.Second
	sctx, cancel := context.WithTimeout(ctx, m.initTimeout+fnTimeout)
	defer cancel()
	defer context.AfterFunc(m.stopCtx, cancel)()
	// Init Duration runs from here (Lambda's: not the code download).
	t0 := time.Now()
	prepDur := t0.Sub(tPrep)
	proc, err := m.launcher.Start(sctx, spec)
	sandboxDur := time.Since(t0)
	_ = w.Close() // the process holds its own copy
	if err != nil {
		if errors.Is(err, sandbox.ErrExec) {
			// Lambda answers a missing or unusable bootstrap as a function
			// error (Runtime.InvalidEntrypoint), not as an API error.
			msg := fmt.Sprintf("RequestId: %s Error: %v", req.RequestID, execMessage(spec.Argv[0], err))
			res := e.failResult(fn, req, 0, time.Since(t0), invoke.ErrorInvalidEntrypoint, msg, true)
			m.markDead(e)
			m.destroy(e)
			return nil, res, nil
		}
		return fail(err)
	}
	e.proc = proc
	e.serve(proc.Listeners())
	e.exitCtx, e.exitStop = context.WithCancel(context.Background())
	watching := m.goroutine(func() {
		select {
		case <-proc.Done():
			e.exitStop()
			m.exitedWhileIdle(e)
		case <-e.exitCtx.Done(): // destroyed
		}
	})
	if !watching {
		return fail(errClosed)
	}

	// Init: the runtime's first GET /next, within the init budget.
	ictx, icancel := context.WithCancelCause(sctx)
	defer icancel(nil)
	stop := context.AfterFunc(e.exitCtx, func() { icancel(errExited) })
	defer stop()
	defer onClose(proc.ExtensionExited(), func() { icancel(errExtensionExited) })()
	initErr, err := e.api.WaitInit(ictx)
	if err != nil && (errors.Is(context.Cause(ictx), errExited) || errors.Is(context.Cause(ictx), errExtensionExited)) {
		// A runtime reports /init/error and then exits; prefer the report.
		if ie, err2 := e.api.WaitInit(canceledCtx); err2 == nil {
			initErr, err = ie, nil
		}
	}
	initDur := time.Since(t0)
	var res *invoke.Result
	switch {
	case err == nil && initErr == nil:
		if !m.markBusy(e) {
			return fail(errClosed)
		}
		e.initDuration = initDur
		e.phases = StartPhases{Code: codeDur, Prepare: prepDur, Sandbox: proc.StartPhases(),
			SandboxTotal: sandboxDur, RuntimeInit: initDur - sandboxDur}
		e.api.Publish("platform.initRuntimeDone", map[string]any{"initializationType": initType, "phase": "init", "status": "success"})
		e.api.Publish("platform.initReport", map[string]any{"initializationType": initType, "phase": "init", "status": "success",
			"metrics": map[string]any{"durationMs": roundMs(initDur)}})
		if err := proc.WeighCPU(fn.MemoryMB()); err != nil {
			m.log.Warn("cpu weight not applied", "function", fn.FunctionName, "env_id", e.id, "err", err)
		}
		if m.opts.CPUQuota {
			if err := proc.LimitCPU(fn.MemoryMB()); err != nil {
				m.log.Warn("cpu quota not applied", "function", fn.FunctionName, "env_id", e.id, "err", err)
			}
		}
		if initDur > m.initTimeout {
			e.firstDeadline = t0.Add(m.initTimeout + fnTimeout)
		}
		m.log.Debug("environment started", "function", fn.FunctionName, "env_id", e.id,
			"sandbox_ms", float64(sandboxDur.Microseconds())/1000, "init_ms", float64(initDur.Microseconds())/1000)
		return e, nil, nil
	case err == nil:
		res = e.failResultBody(fn, req, initDur, initErr.ErrorType, initErr.Body)
	case errors.Is(context.Cause(ictx), errExited) && !m.closing():
		errType, msg := e.exitError(req.RequestID)
		res = e.failResult(fn, req, 0, initDur, errType, msg, true)
	case errors.Is(context.Cause(ictx), errExtensionExited) && !m.closing():
		msg := fmt.Sprintf("RequestId: %s Error: an extension exited during init", req.RequestID)
		res = e.failResult(fn, req, 0, initDur, errExtensionCrash, msg, true)
	case ctx.Err() != nil:
		return fail(ctx.Err())
	case m.closing():
		return fail(errClosed)
	case errors.Is(sctx.Err(), context.DeadlineExceeded):
		msg := fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", req.RequestID, fnTimeout.Seconds())
		res = e.failResult(fn, req, 0, initDur, invoke.ErrorTimedOut, msg, false)
	case errors.Is(err, runtimeapi.ErrClosed):
		return fail(errClosed)
	default:
		return fail(err)
	}
	// Init failed: the invocation gets the error and the environment goes;
	// the next invoke initialises a new one.
	m.markDead(e)
	m.destroy(e)
	return nil, res, nil
}

// markDead takes e out of service.
func (m *Manager) markDead(e *environment) {
	m.mu.Lock()
	e.state = stateDead
	m.mu.Unlock()
}

// markBusy moves a started environment to busy; false if Close killed it
// meanwhile.
func (m *Manager) markBusy(e *environment) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.state != stateStarting {
		return false
	}
	e.state = stateBusy
	return true
}

var canceledCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// execMessage phrases a failed exec of the runtime the way Lambda does.
func execMessage(argv0 string, err error) string {
	if errors.Is(err, fs.ErrNotExist) && argv0 == sandbox.TaskRoot+"/bootstrap" {
		return "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return "fork/exec " + argv0 + ": " + errno.Error()
	}
	return "fork/exec " + argv0 + ": " + err.Error()
}

// exitError is the error type and message for a runtime that exited (the
// process must be done).
func (e *environment) exitError(requestID string) (invoke.ErrorType, string) {
	errType := invoke.ErrorRuntimeExit
	if e.proc.OOMKilled() {
		errType = invoke.ErrorOutOfMemory
	}
	if err := e.proc.ExitErr(); err != nil {
		return errType, fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %v", requestID, err)
	}
	return errType, fmt.Sprintf("RequestId: %s Error: Runtime exited without providing a reason", requestID)
}

// invoke runs req on e, which the caller holds (busy). initDur is set on a
// cold start.
func (e *environment) invoke(ctx context.Context, fn *function.Config, req *invoke.Request, initDur time.Duration) (*invoke.Result, error) {
	first := e.invocations == 0
	e.invocations++
	timeout := time.Duration(fn.TimeoutSeconds()) * time.Second
	e.logs.begin(first, req.RequestID, startEvent(req.RequestID, fn.Version))

	ictx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(e.exitCtx, func() { cancel(errExited) })
	defer stop()
	t0 := time.Now()
	deadline := t0.Add(timeout)
	if !e.firstDeadline.IsZero() { // after a suppressed init
		deadline, e.firstDeadline = e.firstDeadline, time.Time{}
	}
	e.deadline = deadline
	tctx, tcancel := context.WithDeadlineCause(ictx, deadline, errTimedOut)
	defer tcancel()
	arn := req.InvokedFunctionArn
	if arn == "" {
		arn = fn.FunctionArn
	}
	resp, err := e.api.Invoke(tctx, &runtimeapi.Invocation{
		RequestID:          req.RequestID,
		InvokedFunctionArn: arn,
		TraceID:            req.TraceID,
		TenantID:           req.TenantID,
		Deadline:           deadline,
		Payload:            req.Payload,
		ClientContext:      req.ClientContext,
		CognitoIdentity:    req.CognitoIdentity,
		Stream:             req.Stream,
	})
	dur := time.Since(t0)

	switch {
	case err == nil && resp.Error == nil:
		res := &invoke.Result{Payload: resp.Payload, ContentType: resp.ContentType, ExecutedVersion: fn.Version,
			Streamed: resp.Sent, Duration: dur, InitDuration: initDur}
		e.finishLog(res, fn, req, dur, initDur, nil)
		return res, nil
	case err == nil:
		// A handled function error; the environment stays.
		res := &invoke.Result{Payload: resp.Error.Body, ContentType: "application/json", FunctionError: "Unhandled",
			Streamed: resp.Sent, ExecutedVersion: fn.Version, Duration: dur, InitDuration: initDur, ErrorType: resp.Error.ErrorType}
		e.finishLog(res, fn, req, dur, initDur, nil)
		return res, nil
	case errors.Is(err, runtimeapi.ErrResponseTooLarge):
		// The runtime was answered 413; aws-lambda-go exits on that, so
		// the environment is not trusted with the next invocation.
		e.broken = true
		return e.failResult(fn, req, dur, initDur, invoke.ErrorResponseTooLarge,
			fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", function.MaxSyncResponse), false), nil
	}
	e.broken = true
	e.shutdownReason = runtimeapi.ShutdownFailure
	switch cause := context.Cause(tctx); {
	case e.m.closing():
		return nil, errClosed
	case errors.Is(cause, errTimedOut):
		e.shutdownReason = runtimeapi.ShutdownTimeout
		msg := fmt.Sprintf("Task timed out after %.2f seconds", timeout.Seconds())
		res := &invoke.Result{
			Payload:       errorPayload(invoke.ErrorTimedOut, "RequestId: "+req.RequestID+" Error: "+msg),
			ContentType:   "application/json",
			FunctionError: "Unhandled", ExecutedVersion: fn.Version, Duration: dur, InitDuration: initDur,
			ErrorType: string(invoke.ErrorTimedOut),
		}
		line := time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + " " + req.RequestID + " " + msg
		e.finishLog(res, fn, req, dur, initDur, &report{status: "timeout"}, line)
		return res, nil
	case errors.Is(cause, errExited):
		errType, msg := e.exitError(req.RequestID)
		return e.failResult(fn, req, dur, initDur, errType, msg, true), nil
	case errors.Is(err, runtimeapi.ErrClosed):
		return nil, errClosed
	case ctx.Err() != nil:
		return nil, ctx.Err()
	default:
		return nil, errdefs.EnvironmentFailed("The function's execution environment failed.")
	}
}

// failResult is an "Unhandled" function error with Lambda's payload; with
// logLines the message and type are also written to the log, as Lambda
// does for runtime exits.
func (e *environment) failResult(fn *function.Config, req *invoke.Request, dur, initDur time.Duration, errType invoke.ErrorType, msg string, logLines bool) *invoke.Result {
	res := &invoke.Result{
		Payload:       errorPayload(errType, msg),
		ContentType:   "application/json",
		FunctionError: "Unhandled", ExecutedVersion: fn.Version, Duration: dur, InitDuration: initDur,
	}
	var lines []string
	if logLines {
		lines = []string{msg, string(errType)}
	}
	e.finishLog(res, fn, req, dur, initDur, &report{status: "error", errorType: string(errType)}, lines...)
	return res
}

// failResultBody is an init failure the runtime reported with its own body.
func (e *environment) failResultBody(fn *function.Config, req *invoke.Request, initDur time.Duration, errType string, body []byte) *invoke.Result {
	res := &invoke.Result{
		Payload: body, ContentType: "application/json", FunctionError: "Unhandled",
		ExecutedVersion: fn.Version, InitDuration: initDur,
	}
	e.finishLog(res, fn, req, 0, initDur, &report{status: "error", errorType: errType})
	return res
}

// finishLog writes the closing platform lines of an invocation and fills
// res.LogTail when the caller asked for it. A failure before the first
// invocation began also gets its START line.
func (e *environment) finishLog(res *invoke.Result, fn *function.Config, req *invoke.Request, dur, initDur time.Duration, r *report, extra ...string) {
	if e.logs == nil {
		return
	}
	if e.invocations == 0 {
		e.invocations++
		e.logs.begin(true, req.RequestID, startEvent(req.RequestID, fn.Version))
	}
	if r == nil {
		r = &report{}
	}
	r.requestID, r.duration, r.memoryMB, r.initDuration = req.RequestID, dur, fn.MemoryMB(), initDur
	if e.proc != nil {
		r.maxMemory, _ = e.proc.MemoryPeak()
	}
	res.BilledDuration, res.MaxMemoryUsedMB = r.billed(), r.usedMB()
	if res.FunctionError != "" && res.ErrorType == "" {
		res.ErrorType = r.errorType
	}
	r.producedBytes = len(res.Payload)
	evs := make([]*platformEvent, 0, len(extra)+2)
	for _, l := range extra {
		evs = append(evs, textEvent(l))
	}
	evs = append(evs, endEvent(r), reportEvent(r))
	tail := e.logs.finish(evs...)
	if req.LogTail {
		res.LogTail = tail
	}
}

func errorPayload(errType invoke.ErrorType, msg string) []byte {
	b, _ := json.Marshal(invoke.ErrorPayload{ErrorMessage: msg, ErrorType: string(errType)})
	return b
}
