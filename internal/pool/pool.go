// Package pool runs invocations in execution environments: per function
// version (and configuration revision) a pool of environments, each one a
// sandboxed runtime process with its own Runtime API server, used by one
// invocation at a time and reused while it stays healthy. It implements
// invoke.Invoker for the API edge. It owns Lambda's environment lifecycle
// (init, reuse, timeout, crash, out-of-memory, idle reclaim), the Lambda
// environment variables and the per-invocation log with its START/END/REPORT
// lines. Only daemon (wiring) imports it.
//
// Environment lifecycle (states are guarded by Manager.mu):
//
//	        Invoke finds no idle environment
//	                     |
//	                     v
//	+-------------- starting: code extracted (cached per CodeSha256),
//	|                 Runtime API listening, sandbox started, WaitInit
//	|                 (10 s, then the function timeout: suppressed init)
//	| init error,        |
//	| exit, timeout      | first GET /next (the cold invoke runs at once)
//	|                    v
//	|        +------->  busy  -------------------------------+
//	|        |           |  response, /error, response too    | timeout, crash, OOM,
//	|        | Invoke    |  large (runtime still alive)       | caller gone, Close,
//	|        | takes it  v                                    | retired while busy
//	|        +-------- idle (LIFO list of its pool)            |
//	|                    | idle > IdleTimeout, process died,   |
//	|                    | config revision retired, Close      |
//	|                    v                                     |
//	+-------------->   dead  <---------------------------------+
//	           (SIGKILL to the cgroup, Runtime API closed, /tmp removed;
//	            in the background, owned by Manager.wg)
//
// A dead environment is never reused: the next invoke starts a new one, which
// is how Lambda re-initialises after a timeout or a crash.
//
// Pool policy is deliberately small (no concurrency limit, LIFO reuse, one
// idle timeout); the scaling work replaces acquire/release.
package pool

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/runtimes"
	"github.com/nimbus-serverless/nimbus/internal/sandbox"
)

// CodeSource fetches a stored code package by key (function.CodeKey of its
// CodeSha256). The store implements it.
type CodeSource interface {
	GetCode(ctx context.Context, key string) ([]byte, error)
}

// RuntimeCatalog is the part of package runtimes the pool uses; nil means
// package runtimes itself.
type RuntimeCatalog interface {
	Lookup(name string) (*runtimes.Runtime, error)
	WriteFiles(dir string) error
}

type defaultCatalog struct{}

func (defaultCatalog) Lookup(name string) (*runtimes.Runtime, error) { return runtimes.Lookup(name) }
func (defaultCatalog) WriteFiles(dir string) error                   { return runtimes.WriteFiles(dir) }

// Defaults.
const (
	DefaultIdleTimeout = 10 * time.Minute
	// InitTimeout is Lambda's budget for the init phase of an on-demand
	// environment.
	InitTimeout = 10 * time.Second
	// spareInits is how many sandbox inits are kept started ahead of cold
	// starts (see sandbox.Launcher).
	spareInits = 1
)

// Options configures a Manager.
type Options struct {
	// DataDir holds the code cache (DataDir/code/<key>), the runtime files
	// (DataDir/runtime) and each environment's /tmp (DataDir/envs/<id>).
	DataDir string
	Code    CodeSource
	// Region and AccountID fill AWS_REGION and friends.
	Region, AccountID string
	Runtimes          RuntimeCatalog
	// IdleTimeout reclaims environments unused this long
	// (DefaultIdleTimeout when zero).
	IdleTimeout time.Duration
	// FunctionLog, when set, receives every line of function output and the
	// platform lines, prefixed with "[function-name] " (development aid).
	FunctionLog io.Writer
	// LogSink, when set, receives every line of every environment (the
	// function's output and the platform lines) as a LogRecord. It must not
	// block: it is called on the invoke path.
	LogSink LogSink
	// APIHandler, when set, is the node's API (the daemon's front door,
	// with its authentication). Each environment gets it on its own
	// loopback (127.0.0.1:APIPort inside its network namespace) as
	// AWS_ENDPOINT_URL, so the AWS SDKs inside functions call Nimbus, not
	// AWS, and reach the node only through the API (a function's own
	// AWS_ENDPOINT_URL variable wins).
	APIHandler http.Handler
	// Endpoint, without APIHandler, is given to functions as
	// AWS_ENDPOINT_URL as is (reachable only without a network namespace).
	Endpoint string
	// Observer, when set, is told about every invocation (telemetry and
	// cost metering; see observe.go).
	Observer Observer
	Logger   *slog.Logger
	// CPUQuota caps each environment's CPU in proportion to its memory
	// once its init is done (Lambda's model, init at full speed); without
	// it environments have a proportional CPU weight only.
	CPUQuota bool
	// Unhardened starts environments without the isolation layers
	// (sandbox.Spec.Unhardened): for measuring their cost only.
	Unhardened bool
}

// Manager is the set of environment pools of one node. It is safe for
// concurrent use.
//
// Lock order: Manager.mu, then a logCapture's mu (never the other way).
type Manager struct {
	opts        Options
	log         *slog.Logger // component=pool
	baseLog     *slog.Logger // as given; each Runtime API server names its own component
	runtimes    RuntimeCatalog
	runtimeDir  string
	envsDir     string
	code        *codeCache
	initTimeout time.Duration // InitTimeout; tests shorten it
	fnLog       *lockedWriter // nil without Options.FunctionLog
	launcher    *sandbox.Launcher

	stop chan struct{} // closed by Close
	wg   sync.WaitGroup

	mu         sync.Mutex
	hookReaped func(n int)               // guarded by mu; tests: called after the reaper retired environments
	closed     bool                      // guarded by mu
	pools      map[poolKey]*fnPool       // guarded by mu
	revision   map[versionKey]string     // guarded by mu: newest RevisionId seen
	envs       map[*environment]struct{} // guarded by mu: every environment not yet destroyed
}

// versionKey names a function version; poolKey a configuration revision
// of it.
type versionKey struct{ arn, version string }

type poolKey struct {
	versionKey
	revision string
}

// fnPool holds the environments of one configuration revision.
type fnPool struct {
	key     poolKey
	idle    []*environment // guarded by Manager.mu; most recently used last
	retired bool           // guarded by Manager.mu
}

// New prepares the data directory (runtime files written, environments of
// an earlier run removed) and starts the idle reaper.
func New(opts Options) (*Manager, error) {
	if opts.DataDir == "" {
		return nil, errors.New("pool: DataDir is required")
	}
	if opts.Code == nil {
		return nil, errors.New("pool: Code is required")
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.Runtimes == nil {
		opts.Runtimes = defaultCatalog{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{
		opts:        opts,
		log:         log.With("component", "pool"),
		baseLog:     log,
		runtimes:    opts.Runtimes,
		runtimeDir:  filepath.Join(opts.DataDir, "runtime"),
		envsDir:     filepath.Join(opts.DataDir, "envs"),
		initTimeout: InitTimeout,
		stop:        make(chan struct{}),
		pools:       map[poolKey]*fnPool{},
		revision:    map[versionKey]string{},
		envs:        map[*environment]struct{}{},
	}
	if opts.FunctionLog != nil {
		m.fnLog = &lockedWriter{w: opts.FunctionLog}
	}
	codeDir := filepath.Join(opts.DataDir, "code")
	for _, d := range []string{opts.DataDir, codeDir, m.runtimeDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create pool directory: %w", err)
		}
	}
	// Environments do not survive a restart; their /tmp dirs are litter.
	if err := os.RemoveAll(m.envsDir); err != nil {
		return nil, fmt.Errorf("remove old environments: %w", err)
	}
	if err := os.Mkdir(m.envsDir, 0o755); err != nil {
		return nil, fmt.Errorf("create environments directory: %w", err)
	}
	if err := m.runtimes.WriteFiles(m.runtimeDir); err != nil {
		return nil, fmt.Errorf("write runtime files: %w", err)
	}
	m.code = newCodeCache(codeDir, opts.Code)
	if opts.Unhardened {
		m.launcher = sandbox.NewUnhardenedLauncher(spareInits)
	} else {
		m.launcher = sandbox.NewLauncher(spareInits)
	}
	m.wg.Add(1)
	go m.reap()
	return m, nil
}

// Close kills every environment and waits for every goroutine the Manager
// started. Invocations in flight fail with ServiceException.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.stop)
	all := make([]*environment, 0, len(m.envs))
	for e := range m.envs {
		all = append(all, e)
		e.state = stateDead
	}
	m.pools = map[poolKey]*fnPool{}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.destroy(e)
		}()
	}
	wg.Wait()
	m.wg.Wait()
	return m.launcher.Close()
}

var errClosed = awsapi.Service("The Nimbus server is shutting down.")

// closing reports whether Close has begun.
func (m *Manager) closing() bool {
	select {
	case <-m.stop:
		return true
	default:
		return false
	}
}

// Invoke runs req on an environment of fn: an idle one, or a new one. A
// function failure (error, timeout, crash, out of memory, init failure) is
// a Result with FunctionError set; errors are platform failures
// (*awsapi.Error) or ctx's.
func (m *Manager) Invoke(ctx context.Context, fn *function.Config, req *invoke.Request) (res *invoke.Result, err error) {
	if fn == nil || req == nil {
		return nil, awsapi.Service("invalid invocation")
	}
	if req.RequestID == "" {
		req.RequestID = newRequestID()
	}
	if m.opts.Observer != nil {
		t0 := m.observeStart(ctx, fn, req)
		defer func() { m.observeDone(ctx, fn, req, t0, res, err) }()
	}
	e, p, err := m.acquire(fn)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return m.coldInvoke(ctx, fn, req, p)
	}
	res, err = e.invoke(ctx, fn, req, 0)
	m.release(e)
	return res, err
}

// acquire takes an idle environment of fn's pool (nil if there is none,
// with the pool to start one for), retiring the pools of older revisions
// of the same version.
func (m *Manager) acquire(fn *function.Config) (*environment, *fnPool, error) {
	vk := versionKey{fn.FunctionArn, fn.Version}
	k := poolKey{vk, fn.RevisionId}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, nil, errClosed
	}
	if rev, ok := m.revision[vk]; ok && rev != fn.RevisionId {
		if old := m.pools[poolKey{vk, rev}]; old != nil {
			m.retireLocked(old)
		}
	}
	m.revision[vk] = fn.RevisionId
	p := m.pools[k]
	if p == nil {
		p = &fnPool{key: k}
		m.pools[k] = p
	}
	for len(p.idle) > 0 {
		e := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if e.exited() {
			e.state = stateDead
			m.goDestroy(e)
			continue
		}
		e.state = stateBusy
		return e, p, nil
	}
	return nil, p, nil
}

// retireLocked removes p: its idle environments die now, busy ones when
// they are released.
func (m *Manager) retireLocked(p *fnPool) {
	p.retired = true
	delete(m.pools, p.key)
	for _, e := range p.idle {
		e.state = stateDead
		m.goDestroy(e)
	}
	p.idle = nil
}

// release returns a busy environment to its pool, or destroys it.
func (m *Manager) release(e *environment) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.state != stateBusy {
		return // already dead (killed during the invoke, or by Close)
	}
	if e.broken || e.exited() || e.pool.retired || m.closed {
		e.state = stateDead
		m.goDestroy(e)
		return
	}
	e.state = stateIdle
	e.lastUsed = time.Now()
	e.pool.idle = append(e.pool.idle, e)
}

// exitedWhileIdle is called by an environment's watcher when its process
// ends: an idle environment is taken out of its pool and destroyed; a busy
// or starting one is left to its invoke.
func (m *Manager) exitedWhileIdle(e *environment) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.state != stateIdle {
		return
	}
	e.pool.removeIdle(e)
	e.state = stateDead
	m.goDestroy(e)
}

func (p *fnPool) removeIdle(e *environment) {
	for i, x := range p.idle {
		if x == e {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			return
		}
	}
}

// goDestroy tears e down in the background (off the invoke path).
func (m *Manager) goDestroy(e *environment) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.destroy(e)
	}()
}

// destroy kills e's process tree and releases everything it holds. It is
// idempotent.
func (m *Manager) destroy(e *environment) {
	e.destroyOnce.Do(func() {
		e.close()
		m.mu.Lock()
		delete(m.envs, e)
		m.mu.Unlock()
	})
}

// reap retires environments idle for longer than IdleTimeout.
func (m *Manager) reap() {
	defer m.wg.Done()
	period := min(max(m.opts.IdleTimeout/4, 5*time.Millisecond), time.Minute)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		n := 0
		cutoff := time.Now().Add(-m.opts.IdleTimeout)
		m.mu.Lock()
		for _, p := range m.pools {
			keep := p.idle[:0]
			for _, e := range p.idle {
				if e.lastUsed.Before(cutoff) {
					e.state = stateDead
					m.goDestroy(e)
					n++
					continue
				}
				keep = append(keep, e)
			}
			clear(p.idle[len(keep):])
			p.idle = keep
		}
		hook := m.hookReaped
		m.mu.Unlock()
		if n > 0 {
			m.log.Debug("idle environments reclaimed", "count", n)
			if hook != nil {
				hook(n)
			}
		}
	}
}

// Stats is a snapshot of the environments.
type Stats struct {
	Environments int // alive (starting, idle or busy), not yet destroyed
	Idle         int
}

// Stats counts the environments.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Stats{Environments: len(m.envs)}
	for _, p := range m.pools {
		s.Idle += len(p.idle)
	}
	return s
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func newEnvID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
