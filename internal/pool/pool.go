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
//	+-------------- starting: code and layers extracted (cached per
//	|                 CodeSha256; layers merged into /opt), Runtime API
//	|                 listening, sandbox started, WaitInit
//	|                 (10 s, then the function timeout: suppressed init)
//	| init error,        |
//	| exit, timeout      | first GET /next (the cold invoke runs at once)
//	|                    v
//	|        +------->  busy  -------------------------------+
//	|        |           |  response, /error, response too    | timeout, crash, OOM,
//	|        | Invoke    |  large (runtime still alive)       | caller gone, Close,
//	|        | takes it  v                                    | retired while busy
//	|        +-------- idle (its pool's LIFO list; frozen   |
//	|                    |  after FreezeAfter, thawed on take) |
//	|                    | KeepAlive expired, evicted for      |
//	|                    | memory, process died, config        |
//	|                    | revision retired, Close             |
//	|                    v                                     |
//	+-------------->   dead  <---------------------------------+
//	           (SIGKILL to the cgroup, Runtime API closed, /tmp removed;
//	            in the background, owned by Manager.wg)
//
// A dead environment is never reused: the next invoke starts a new one, which
// is how Lambda re-initialises after a timeout or a crash.
//
// Scaling (see docs/design/scaling.md): an invoke takes an idle
// environment of its pool (provisioned ones first, then the most recently
// used) or starts one, within the limits: the function's reserved
// concurrency, the account-wide limit minus every reservation for
// functions without one, and a memory budget that the sum of MemorySize of
// live environments never exceeds (idle on-demand environments are evicted
// least-recently-used before an invoke is throttled). Over a limit Invoke
// returns TooManyRequestsException with Lambda's Reason. Idle environments
// are frozen (sandbox freezer) once idle for FreezeAfter and thawed on
// reuse; the KeepAlive policy
// decides when they are reclaimed, so an unused pool scales to zero.
// Provisioned environments (SetProvisioned) are started ahead of traffic
// and never reclaimed while they are wanted.
//
// Manager.mu guards bookkeeping only: no process is started, frozen or
// killed while it is held, so cold starts of many environments proceed in
// parallel.
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
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
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
	// starts (see sandbox.Launcher): enough that back-to-back cold starts
	// each find one while the last claimed is replaced (with one, a third
	// of them launched their own under load), at about 1 MB each.
	spareInits = 4
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
	// AllowHosts are host loopback ports every environment reaches at the
	// same address on its own loopback (the server's
	// --function-allow-host; see allowhost.go).
	AllowHosts []netip.AddrPort
	// DebugPorts maps function names to host loopback addresses
	// (127.0.0.1:9229) where their runtimes' debuggers are published
	// (see debug.go; the server's --debug-port).
	DebugPorts map[string]string
	// Observer, when set, is told about every invocation (telemetry and
	// cost metering; see observe.go).
	Observer Observer
	Logger   *slog.Logger
	// Network is the outbound network of functions without a
	// function.NetworkTag tag: function.NetworkNone (the default) or
	// function.NetworkEgress.
	Network string
	// CPUQuota caps each environment's CPU in proportion to its memory
	// once its init is done (Lambda's model, init at full speed); without
	// it environments have a proportional CPU weight only.
	CPUQuota bool
	// Unhardened starts environments without the isolation layers
	// (sandbox.Spec.Unhardened): for measuring their cost only.
	Unhardened bool

	// ConcurrencyLimit is the account-wide limit on concurrent executions
	// on this node; DefaultLimits when zero.
	ConcurrencyLimit int
	// SpareInits is how many sandbox inits are kept started ahead of
	// cold starts (0: 4; see sandbox.Launcher).
	SpareInits int
	// MemoryBudgetMB bounds the sum of MemorySize of live environments
	// (idle ones included); DefaultLimits when zero.
	MemoryBudgetMB int
	// Reservations reports reserved concurrency; nil means no function
	// has any.
	Reservations Reservations
	// Cluster, on a node of a cluster, shares the account's and the
	// functions' reserved concurrency with the other nodes (nil: this
	// node's limits are the only ones).
	Cluster ClusterLimits
	// KeepAlive decides when idle environments are reclaimed;
	// FixedKeepAlive{IdleTimeout} when nil.
	KeepAlive KeepAlive
	// Now is the clock of idle bookkeeping (tests inject one); time.Now
	// when nil.
	Now func() time.Time
	// FreezeAfter is how long an idle environment keeps running before
	// it is frozen (DefaultFreezeAfter when zero; negative: never).
	FreezeAfter time.Duration
	// Credentials, when set, gives each new environment its AWS
	// credentials (the function's role); without it none are set.
	Credentials func(fn *function.Config) (Credentials, error)
	// ParamsSecrets, when set, serves the AWS Parameters and Secrets
	// Lambda Extension's protocol in environments of functions with its
	// layer (paramsecrets.go).
	ParamsSecrets ParamsSecretsFactory
	// OpenEnvironment decrypts the variables of a function whose
	// Environment is sealed under its KMSKeyArn, when an environment
	// starts; its error (Lambda's KMS errors) is the invoke's. Without it
	// such a function cannot start.
	OpenEnvironment func(ctx context.Context, fn *function.Config) (map[string]string, error)
}

// Manager is the set of environment pools of one node. It is safe for
// concurrent use.
//
// Lock order: an environment's fmu, then Manager.mu, then a logCapture's
// mu (never the other way).
type Manager struct {
	opts        Options
	log         *slog.Logger // component=pool
	baseLog     *slog.Logger // as given; each Runtime API server names its own component
	runtimes    RuntimeCatalog
	runtimeDir  string
	envsDir     string
	code        *codeCache
	optRoot     string        // merged layer trees (layers.go)
	optMu       sync.Mutex    // serialises building merged layer trees
	initTimeout time.Duration // InitTimeout; tests shorten it
	fnLog       *lockedWriter // nil without Options.FunctionLog
	launcher    *sandbox.Launcher

	stop      chan struct{}   // closed by Close
	stopCtx   context.Context // canceled by Close
	cancelCtx context.CancelFunc
	wg        sync.WaitGroup

	limits    Limits
	keepAlive KeepAlive
	provSem   chan struct{} // bounds provisioned starts in flight
	// freezeAfter is how long an environment stays idle before the
	// freezer freezes it (negative: never); freezeKick wakes the freezer.
	freezeAfter time.Duration
	freezeKick  chan struct{}
	now         func() time.Time
	reserved    Reservations // never nil

	mu         sync.Mutex
	hookReaped func(n int) // guarded by mu; tests: called after the reaper retired environments
	// tests: called after an environment is destroyed / a provisioned
	// start ended; guarded by mu (read under it, called outside)
	hookDestroyed, hookProvisioned func()
	// hookLaunch, when set, is called by start between registering an
	// environment and launching its sandbox (tests); guarded by mu.
	hookLaunch func()

	phases     phaseLog                  // the last cold starts' breakdowns
	debug      []*debugServer            // Options.DebugPorts; set by New
	closed     bool                      // guarded by mu; once set, no goroutine joins wg (goLocked)
	pools      map[poolKey]*fnPool       // guarded by mu
	revision   map[versionKey]string     // guarded by mu: newest RevisionId seen
	envs       map[*environment]struct{} // guarded by mu: every environment not yet destroyed
	inflight   map[string]int            // guarded by mu: admitted invocations per function name
	unreserved int                       // guarded by mu: admitted invocations of functions without a reservation
	liveMB     int                       // guarded by mu: MemorySize of envs whose memory is counted
	pendingMB  int                       // guarded by mu: MemorySize of cold starts admitted, not yet in envs
	prov       map[provKey]*provState    // guarded by mu: provisioned concurrency wanted (SetProvisioned)
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
	key        poolKey
	fn         *function.Config // guarded by Manager.mu: the configuration the pool was created with
	idle       []*environment   // guarded by Manager.mu; on-demand, most recently used last
	retired    bool             // guarded by Manager.mu
	coldStarts int              // guarded by Manager.mu: on-demand starts admitted, not yet returned

	provIdle     []*environment // guarded by Manager.mu: idle provisioned environments
	provWanted   int            // guarded by Manager.mu: provisioned environments wanted
	provReady    int            // guarded by Manager.mu: initialised environments with provisioned set
	provStarting int            // guarded by Manager.mu: provisioned environments initialising
	provErr      string         // guarded by Manager.mu: why the last provisioned start failed
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
	lim := DefaultLimits()
	if opts.ConcurrencyLimit > 0 {
		lim.Concurrency = opts.ConcurrencyLimit
	}
	if opts.MemoryBudgetMB > 0 {
		lim.MemoryMB = opts.MemoryBudgetMB
	}
	if opts.KeepAlive == nil {
		opts.KeepAlive = FixedKeepAlive{Timeout: opts.IdleTimeout}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Reservations == nil {
		opts.Reservations = noReservations{}
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
		optRoot:     filepath.Join(opts.DataDir, "opt"),
		initTimeout: InitTimeout,
		stop:        make(chan struct{}),
		pools:       map[poolKey]*fnPool{},
		revision:    map[versionKey]string{},
		envs:        map[*environment]struct{}{},
		inflight:    map[string]int{},
		prov:        map[provKey]*provState{},
		limits:      lim,
		keepAlive:   opts.KeepAlive,
		now:         opts.Now,
		reserved:    opts.Reservations,
		provSem:     make(chan struct{}, maxProvisioningStarts),
		freezeAfter: opts.FreezeAfter,
		freezeKick:  make(chan struct{}, 1),
	}
	if m.freezeAfter == 0 {
		m.freezeAfter = DefaultFreezeAfter
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
	// Merged layer trees are rebuilt on demand from the code cache; a
	// restart drops them with any merge a crash left half done.
	if err := os.RemoveAll(m.optRoot); err != nil {
		return nil, fmt.Errorf("remove merged layers: %w", err)
	}
	// Environments do not survive a restart; their /tmp dirs are litter.
	if err := os.RemoveAll(m.envsDir); err != nil {
		return nil, fmt.Errorf("remove old environments: %w", err)
	}
	if err := os.Mkdir(m.envsDir, 0o755); err != nil {
		return nil, fmt.Errorf("create environments directory: %w", err)
	}
	if err := os.Mkdir(m.optRoot, 0o755); err != nil {
		return nil, fmt.Errorf("create merged layers directory: %w", err)
	}
	if err := m.runtimes.WriteFiles(m.runtimeDir); err != nil {
		return nil, fmt.Errorf("write runtime files: %w", err)
	}
	// Without a minimal root (process-group mode) an ES module import
	// looks for node_modules above the code's directory: this link makes
	// it find the runtime's AWS SDK there, as /node_modules does inside a
	// sandbox (see runtimes.NodeSDKLink).
	if link := filepath.Join(codeDir, "node_modules"); !linkExists(link) {
		_ = os.Symlink(filepath.Join("..", "runtime", "node_modules"), link)
	}
	m.stopCtx, m.cancelCtx = context.WithCancel(context.Background())
	if err := m.startDebugServers(); err != nil {
		m.cancelCtx()
		return nil, err
	}
	m.code = newCodeCache(codeDir, opts.Code)
	spares := spareInits
	if opts.SpareInits > 0 {
		spares = opts.SpareInits
	}
	if opts.Unhardened {
		m.launcher = sandbox.NewUnhardenedLauncher(spares)
	} else {
		m.launcher = sandbox.NewLauncher(spares)
		if opts.Network == function.NetworkEgress {
			m.launcher.SpareNetwork(sandbox.NetworkEgress)
		}
	}
	m.wg.Add(2)
	go m.reap()
	go m.freezer()
	m.log.Info("pool limits", "concurrency", lim.Concurrency, "memory_budget_mb", lim.MemoryMB,
		"min_unreserved", lim.MinUnreserved())
	return m, nil
}

// Close kills every environment and waits for every goroutine the Manager
// started. Invocations in flight fail with ServiceException.
//
// Each environment has one owner that destroys it: while it is starting,
// the goroutine in start (Close cancels its context and waits for it, as
// m.wg counts every start); from then on, Close for those alive when it
// begins, else whoever killed it (killLocked). Once Close has begun no
// goroutine joins m.wg (goLocked refuses), so wg.Wait cannot race an Add.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.stop)
	m.cancelCtx()
	m.closeDebugServers()
	all := make([]*environment, 0, len(m.envs))
	for e := range m.envs {
		if e.state != stateStarting {
			all = append(all, e)
		}
		e.state = stateDead
	}
	m.pools = map[poolKey]*fnPool{}
	m.prov = map[provKey]*provState{}
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

var errClosed = errdefs.ShuttingDown("The Nimbus server is shutting down.")

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
// a Result with FunctionError set; errors are platform failures, as
// errdefs categories (ErrThrottled with Lambda's Reason over a concurrency
// or memory limit, ErrShuttingDown, ErrEnvironmentFailed, ErrBadCode,
// ErrBadRuntime), or ctx's.
func (m *Manager) Invoke(ctx context.Context, fn *function.Config, req *invoke.Request) (res *invoke.Result, err error) {
	return m.invoke(ctx, fn, req, false)
}

func (m *Manager) invoke(ctx context.Context, fn *function.Config, req *invoke.Request, warmOnly bool) (res *invoke.Result, err error) {
	if fn == nil || req == nil {
		return nil, errdefs.EnvironmentFailed("invalid invocation")
	}
	if req.RequestID == "" {
		req.RequestID = newRequestID()
	}
	if m.opts.Observer != nil && !warmOnly {
		t0 := m.observeStart(ctx, fn, req)
		defer func() { m.observeDone(ctx, fn, req, t0, res, err) }()
	}
	tAdmit := time.Now()
	a, e, p, err := m.admit(ctx, fn, warmOnly)
	if err != nil {
		return nil, err // warm-only: not run here, the caller runs it elsewhere (and records it there)
	}
	if m.opts.Observer != nil && warmOnly {
		t0 := m.observeStart(ctx, fn, req)
		defer func() { m.observeDone(ctx, fn, req, t0, res, err) }()
	}
	defer m.finish(a)
	defer func() {
		if res != nil {
			res.Provisioned, res.Spillover = a.provisioned, a.spillover
		}
	}()
	if e == nil {
		return m.coldInvoke(ctx, fn, req, p, a.coldMB, time.Since(tAdmit))
	}
	if err := m.thaw(e); err != nil {
		m.log.Warn("thaw environment", "function", fn.FunctionName, "env_id", e.id, "err", err)
		m.markBroken(e)
		m.release(e)
		return nil, errdefs.EnvironmentFailed("The function's execution environment failed.")
	}
	res, err = e.invoke(ctx, fn, req, 0)
	m.releaseInvoked(e)
	return res, err
}

// coldInvoke starts an environment for fn and, once it has initialised,
// runs req on it. coldMB is the memory acquire set aside for it.
func (m *Manager) coldInvoke(ctx context.Context, fn *function.Config, req *invoke.Request, p *fnPool, coldMB int, admit time.Duration) (*invoke.Result, error) {
	e, res, err := m.start(ctx, fn, req, p, initOnDemand)
	m.unpend(p, coldMB)
	if err != nil || res != nil {
		return res, err
	}
	res, err = e.invoke(ctx, fn, req, e.initDuration)
	if err == nil && res.FunctionError == "" {
		ph := e.phases
		ph.Runtime, ph.Admit, ph.Invoke = fn.Runtime, admit, res.Duration
		m.phases.add(ph)
	}
	m.releaseInvoked(e)
	return res, err
}

// admission is what acquire counted for one invocation; finish undoes it.
type admission struct {
	name       string
	unreserved bool
	token      string // the cluster-wide token held ("" on one node, or for a provisioned environment)
	coldMB     int    // memory set aside for a cold start (0 on a warm one)
	// provisioned: it runs on a provisioned environment; spillover: the
	// version has provisioned concurrency, all of it busy.
	provisioned, spillover bool
}

// acquire admits an invocation of fn under the concurrency limits and
// takes an idle environment of fn's pool (provisioned first), or, if
// there is none, sets aside the memory of a new one (evicting idle
// environments if the budget needs it) and returns nil with the pool to
// start it in. The pools of older revisions of the same version are
// retired.
func (m *Manager) acquire(fn *function.Config, held string, warmOnly bool) (admission, *environment, *fnPool, error) {
	a, e, p, err := m.acquireLocked(fn, held, warmOnly)
	if held != "" && (err != nil || a.token != held) {
		m.opts.Cluster.Put(held) // taken for another kind of admission than this one
	}
	return a, e, p, err
}

func (m *Manager) acquireLocked(fn *function.Config, held string, warmOnly bool) (a admission, _ *environment, _ *fnPool, err error) {
	vk := versionKey{fn.FunctionArn, fn.Version}
	k := poolKey{vk, fn.RevisionId}
	reserved, hasReserved := m.reserved.ReservedConcurrency(fn.FunctionName)
	totalReserved := 0
	if !hasReserved {
		totalReserved = m.reserved.TotalReserved()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	a = admission{name: fn.FunctionName}
	if m.closed {
		return a, nil, nil, errClosed
	}
	if hasReserved && m.inflight[a.name] >= reserved {
		return a, nil, nil, errReservedLimit
	}
	if warmOnly && (m.revision[vk] != fn.RevisionId || m.pools[k] == nil) {
		return a, nil, nil, errNoWarm // never retire this node's pool for another node's view
	}
	if rev, ok := m.revision[vk]; ok && rev != fn.RevisionId {
		if old := m.pools[poolKey{vk, rev}]; old != nil {
			m.retireLocked(old)
		}
	}
	m.revision[vk] = fn.RevisionId
	p := m.poolLocked(k, fn)
	e := p.takeIdleLocked(m)
	if e == nil && warmOnly {
		return a, nil, nil, errNoWarm
	}
	if e != nil {
		a.provisioned = e.provisioned
	}
	// A provisioned environment is concurrency set aside already (in the
	// reservation, or in totalReserved for a function without one); the
	// rest of a function without a reservation shares the unreserved pool.
	a.unreserved = !hasReserved && !a.provisioned
	if a.unreserved && m.unreserved >= m.limits.Concurrency-totalReserved {
		if e != nil { // back where it was
			e.state = stateIdle
			p.idle = append(p.idle, e)
		}
		return a, nil, nil, errAccountLimit
	}
	if m.opts.Cluster != nil {
		if err := m.clusterTokenLocked(fn, &a, hasReserved, reserved, totalReserved, held); err != nil {
			if e != nil { // back where it was
				e.state = stateIdle
				if e.provisioned {
					p.provIdle = append(p.provIdle, e)
				} else {
					p.idle = append(p.idle, e)
				}
			}
			return a, nil, nil, err
		}
	}
	a.spillover = !a.provisioned && p.provWanted > 0
	if e == nil {
		mb := fn.MemoryMB()
		if !m.makeRoomLocked(mb) {
			if a.token != "" && a.token != held {
				m.opts.Cluster.Put(a.token)
			}
			a.token = ""
			return a, nil, nil, errMemoryLimit
		}
		m.pendingMB += mb
		p.coldStarts++
		a.coldMB = mb
	}
	m.inflight[a.name]++
	if a.unreserved {
		m.unreserved++
	}
	return a, e, p, nil
}

// poolLocked returns the pool of k, creating it.
func (m *Manager) poolLocked(k poolKey, fn *function.Config) *fnPool {
	p := m.pools[k]
	if p == nil {
		p = &fnPool{key: k, fn: fn}
		m.pools[k] = p
	}
	return p
}

// takeIdleLocked takes an idle environment, provisioned ones first; nil
// if there is none.
func (p *fnPool) takeIdleLocked(m *Manager) *environment {
	for _, list := range []*[]*environment{&p.provIdle, &p.idle} {
		for len(*list) > 0 {
			l := *list
			e := l[len(l)-1]
			*list = l[:len(l)-1]
			// Not reused when its credentials would expire during the
			// invocation: a new environment gets fresh ones.
			if e.exited() || e.credentialsExpireBy(time.Now().Add(time.Duration(p.fn.TimeoutSeconds())*time.Second+time.Minute)) {
				m.killLocked(e)
				continue
			}
			e.state = stateBusy
			return e
		}
	}
	return nil
}

// finish ends the accounting of an admitted invocation.
func (m *Manager) finish(a admission) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.inflight[a.name] <= 1 {
		delete(m.inflight, a.name)
	} else {
		m.inflight[a.name]--
	}
	if a.unreserved {
		m.unreserved--
	}
	if a.token != "" {
		m.opts.Cluster.Put(a.token)
	}
}

// unpend returns memory a cold start set aside (the environment, if it
// started, counts its own).
func (m *Manager) unpend(p *fnPool, mb int) {
	m.mu.Lock()
	m.pendingMB -= mb
	p.coldStarts--
	m.mu.Unlock()
}

// makeRoomLocked reports whether mb more fits in the memory budget,
// evicting idle on-demand environments, least recently used first, until
// it does.
func (m *Manager) makeRoomLocked(mb int) bool {
	for m.liveMB+m.pendingMB+mb > m.limits.MemoryMB {
		var victim *environment
		for _, p := range m.pools {
			if len(p.idle) > 0 && (victim == nil || p.idle[0].lastUsed.Before(victim.lastUsed)) {
				victim = p.idle[0]
			}
		}
		if victim == nil {
			return false
		}
		victim.pool.removeIdle(victim)
		m.killLocked(victim)
		m.log.Debug("idle environment evicted for memory", "env_id", victim.id)
	}
	return true
}

// killLocked takes e out of service (it must be in no idle list), stops
// counting its memory and destroys it in the background.
func (m *Manager) killLocked(e *environment) {
	e.state = stateDead
	m.uncountLocked(e)
	m.goDestroy(e)
}

// uncountLocked stops counting e's memory and provisioned slot; idempotent.
func (m *Manager) uncountLocked(e *environment) {
	if e.memCounted {
		e.memCounted = false
		m.liveMB -= e.memMB
	}
	if e.provisioned {
		e.provisioned = false
		e.pool.provReady--
	}
}

// countLocked starts counting e's memory (called when it joins envs).
func (m *Manager) countLocked(e *environment) {
	e.memCounted = true
	m.liveMB += e.memMB
}

// markBroken marks e as not to be reused.
func (m *Manager) markBroken(e *environment) { e.broken = true }

// retireLocked removes p: its idle environments die now, busy ones when
// they are released.
func (m *Manager) retireLocked(p *fnPool) {
	p.retired = true
	delete(m.pools, p.key)
	for _, e := range p.idle {
		m.killLocked(e)
	}
	for _, e := range p.provIdle {
		m.killLocked(e)
	}
	p.idle, p.provIdle = nil, nil
}

// release returns a busy environment to its pool (the freezer freezes
// it once it has been idle for FreezeAfter), or destroys it.
func (m *Manager) release(e *environment) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.state != stateBusy {
		return // already dead (killed during the invoke, or by Close)
	}
	if e.broken || e.exited() || e.pool.retired || m.closed {
		m.killLocked(e)
		return
	}
	if e.provisioned && e.pool.provReady+e.pool.provStarting > e.pool.provWanted {
		// Fewer are wanted now: it stays as an on-demand environment.
		e.provisioned = false
		e.pool.provReady--
	}
	e.state = stateIdle
	e.lastUsed = m.now()
	e.idleSince = time.Now()
	e.frozenHint = false
	if e.provisioned {
		e.pool.provIdle = append(e.pool.provIdle, e)
	} else {
		e.pool.idle = append(e.pool.idle, e)
	}
	select {
	case m.freezeKick <- struct{}{}:
	default:
	}
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
	wasProvisioned := e.provisioned
	e.pool.removeIdle(e)
	m.killLocked(e)
	if wasProvisioned {
		// Replace it now rather than at the reaper's next tick.
		m.goLocked(m.fillProvisioned)
	}
}

// goLocked runs f in a goroutine that Close waits for, unless Close has
// begun (nats-server's startGoRoutine gate); it reports whether f runs.
// m.mu must be held.
func (m *Manager) goLocked(f func()) bool {
	if m.closed {
		return false
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f()
	}()
	return true
}

// goroutine is goLocked for a caller not holding m.mu.
func (m *Manager) goroutine(f func()) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.goLocked(f)
}

func (p *fnPool) removeIdle(e *environment) {
	for _, list := range []*[]*environment{&p.idle, &p.provIdle} {
		for i, x := range *list {
			if x == e {
				*list = append((*list)[:i], (*list)[i+1:]...)
				return
			}
		}
	}
}

// goDestroy tears e down in the background (off the invoke path); m.mu
// must be held. After Close has begun it does nothing: Close destroys
// every environment that is not starting, and a starting one is destroyed
// by its start.
func (m *Manager) goDestroy(e *environment) {
	m.goLocked(func() { m.destroy(e) })
}

// destroy kills e's process tree and releases everything it holds. It is
// idempotent.
func (m *Manager) destroy(e *environment) {
	e.destroyOnce.Do(func() {
		// A frozen process cannot act on SIGKILL until it is thawed.
		_ = m.thaw(e)
		e.shutdown() // SHUTDOWN to extensions, SIGTERM, within Lambda's budget
		e.close()
		m.mu.Lock()
		delete(m.envs, e)
		m.uncountLocked(e)
		hook := m.hookDestroyed
		m.mu.Unlock()
		if hook != nil {
			hook()
		}
	})
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

func linkExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
