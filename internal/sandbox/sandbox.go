// Package sandbox starts and stops one execution environment's process tree.
//
// On Linux as root each environment's init is a small program of its own
// (initbin: this package and its main, embedded in nimbus as a gzipped
// image on linux/amd64; elsewhere the nimbus binary re-executes itself, the
// pattern runc uses), run from a sealed in-memory copy (memfd) so that no
// process can rewrite it through /proc/<pid>/exe. Init stays resident as
// pid 1, so its own footprint is each idle environment's overhead. The parent starts init in new mount, pid, ipc, uts and
// network namespaces, moves it into a per-environment cgroup (v1 or v2:
// memory limit without swap, pids.max 1024, a freezer; a CPU weight
// proportional to memory once init is done: WeighCPU) and only then sends it its configuration, with the
// environment's stdout and stderr, over a socket (fd 3, SCM_RIGHTS).
//
// Init builds a minimal root in a tmpfs and pivots into it (see
// buildRoot): the host's /usr, /lib and /bin and a few /etc files
// read-only, the code at /var/task, the runtime files at /var/runtime and
// the layers at /opt (read-only, nosuid, nodev), a private tmpfs /tmp of
// the ephemeral storage size, a minimal /dev, its own /proc (hidepid,
// masked paths), no /sys and nothing else of the host. It brings the
// network namespace's loopback up and opens the listeners the caller asked
// for there (the Runtime API on 127.0.0.1:9001), passing them back to the
// server, which serves them. It sets the hostname and Lambda's rlimits,
// marks every fd but 0, 1 and 2 close-on-exec, empties the capability
// sets, sets no_new_privs, loads a seccomp filter (dropPrivileges) and
// forks the runtime as a uid of its own, in /var/task.
//
// Init stays as pid 1: it reaps orphans (a runtime is not written to be pid
// 1), forwards termination signals, and reports the runtime's exact wait
// status; when the runtime exits, init exits and the kernel kills whatever
// is left in the pid namespace. Kill SIGKILLs the cgroup, the process group
// and init, waits, and removes the cgroup; OOM kills are read from the
// cgroup's counters. Freeze and Thaw stop and resume the whole cgroup.
//
// A Launcher keeps inits started ahead of time (exec'd and already in a
// cgroup), which takes the binary's startup and the cgroup migration off
// the cold start.
//
// Without privileges (a developer laptop) environments fall back to a
// plain process group: init only closes inherited fds and execs the
// runtime, which runs on the host's filesystem with /var/task and
// /var/runtime in Argv and Env rewritten to CodeDir and RuntimeDir and
// TMPDIR set to TmpDir. Mode says which one is in use, Protections lists
// every layer and whether it applies here.
//
// Only the worker side (internal/pool), the daemon, the cli (startup
// report, `nimbus doctor`), bench (to name the isolation measured) and
// cmd/nimbus and initbin (MaybeRunInit) import this package. It imports x/sys,
// go-seccomp-bpf, and nftables and netlink (the egress network) only.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The embedded init image (see initbin) is rebuilt by:
//
//go:generate env NIMBUS_WRITE_INIT_IMAGE=1 go test -run ^TestInitImageIsCurrent$ -count=1 .

// Paths of the code and the runtime files as the environment sees them.
const (
	TaskRoot   = "/var/task"
	RuntimeDir = "/var/runtime"
)

// PidsMax is the per-environment limit on processes and threads (Lambda's
// 1,024).
const PidsMax = 1024

// Spec describes one environment's process tree.
type Spec struct {
	// ID names the environment (its cgroup and logs); letters, digits, '-'
	// and '_' only.
	ID string
	// Argv is the runtime command as seen inside the environment; Argv[0]
	// is looked up in the PATH of Env when it has no slash.
	Argv []string
	// Env is the complete environment; nothing is inherited from the server.
	Env []string
	// CodeDir is mounted read-only at /var/task, RuntimeDir read-only at
	// /var/runtime.
	CodeDir    string
	RuntimeDir string
	// /tmp is a private tmpfs of TmpMB megabytes (512 when 0): writing
	// past it fails with ENOSPC. tmpfs pages are charged to the
	// environment's memory cgroup, so its limit is MemoryMB + TmpMB: a full
	// /tmp does not take the function's memory, as on Lambda, where /tmp is
	// disk (the price: a function that leaves /tmp empty may use up to
	// MemoryMB + TmpMB of memory before the OOM killer acts). Unhardened
	// environments bind TmpDir (a host directory) at /tmp when it is set;
	// process-group mode points TMPDIR at it.
	TmpDir string
	TmpMB  int
	// MemoryMB is the memory limit (no swap); 0 means none.
	MemoryMB int
	// HostPaths are host directories the runtime needs besides /usr, /lib
	// and /bin (an interpreter installed elsewhere), bound read-only at the
	// same path. OptDir, when set, is bound read-only at /opt (layers).
	HostPaths []string
	OptDir    string
	// Network is the environment's outbound access: NetworkNone (or
	// empty: its loopback only) or NetworkEgress (a route out through the
	// host, masqueraded; never to the host itself, other environments or
	// link-local addresses). Without a network namespace of its own the
	// environment shares the host's network whatever this says.
	Network string
	// Unhardened starts the environment as before the isolation work: no
	// network namespace, the host's filesystem read-only instead of a
	// minimal root, no uid change, capability drop or seccomp. For
	// measuring what those layers cost; never for serving functions.
	Unhardened bool
	// Listeners are opened on the environment's own loopback before the
	// runtime starts (see Listener); Process.Listeners returns them.
	Listeners []Listener
	// Stdout and Stderr receive the function's output; nil discards it. An
	// *os.File is handed to the process as is (no copying goroutine).
	Stdout, Stderr io.Writer
	// Extensions are executables (paths as seen inside, /opt/extensions/...)
	// that init starts before the runtime, with ExtensionEnv as their
	// environment, the runtime's uid and limits, and / as their directory:
	// Lambda's external extensions. Init reaps them; they end with the
	// environment.
	Extensions   []string
	ExtensionEnv []string
	// Dialers is how many unconnected TCP sockets init opens in the
	// environment's network namespace for Process.Dial (the server's way
	// to reach a listener inside, such as a Telemetry API subscriber).
	Dialers int
	// Debugger lets the runtime trace its own children: the seccomp filter
	// allows ptrace, process_vm_readv and process_vm_writev, which it
	// otherwise refuses. For a debugger started as the runtime (Delve
	// running a Go bootstrap: the server's --debug-port); never for a
	// function's ordinary environments. Everything else stays: the uid,
	// no capabilities (so only the runtime's own descendants of its own
	// uid can be traced), no_new_privs, namespaces.
	Debugger bool

	groupOnly bool // tests: process-group mode even where namespaces work
}

// Listener asks for a TCP listener on the environment's loopback. Init
// opens it inside the environment's network namespace, so only that
// environment can connect to it, and hands it to the server, which serves
// it (Process.Listeners). Without a network namespace (process-group mode)
// it is opened on the host's loopback with a port the kernel picks.
type Listener struct {
	// Port is the port on 127.0.0.1 inside the environment.
	Port int `json:"port"`
	// Env, when set, is the variable that receives the address
	// ("127.0.0.1:9001"), or its URL ("http://127.0.0.1:9001") with URL; it
	// replaces a value of the same name in Spec.Env.
	Env string `json:"env,omitempty"`
	URL bool   `json:"url,omitempty"`
}

// Network policies for Spec.Network.
const (
	NetworkNone   = "none"   // only the loopback (the default)
	NetworkEgress = "egress" // and a route out through the host
)

var errBadID = errors.New("sandbox id must be 1-64 letters, digits, '-' or '_'")

func (s *Spec) validate() error {
	if len(s.ID) == 0 || len(s.ID) > 64 {
		return errBadID
	}
	for _, c := range s.ID {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return errBadID
		}
	}
	if len(s.Argv) == 0 || s.Argv[0] == "" {
		return errors.New("sandbox argv is empty")
	}
	if s.CodeDir == "" || s.RuntimeDir == "" {
		return errors.New("sandbox code and runtime dirs are required")
	}
	if s.Network != "" && s.Network != NetworkNone && s.Network != NetworkEgress {
		return fmt.Errorf("sandbox network %q is not %s or %s", s.Network, NetworkNone, NetworkEgress)
	}
	return nil
}

// ErrExec marks a runtime that could not be executed (missing or not
// executable); the wrapped error is the errno, so errors.Is(err,
// fs.ErrNotExist) works.
var ErrExec = errors.New("runtime exec failed")

// ExitError is how the runtime ended when it did not exit with status 0. Its
// text matches os/exec ("exit status 2", "signal: killed").
type ExitError struct {
	Status syscall.WaitStatus
}

func (e *ExitError) Error() string {
	switch {
	case e.Status.Exited():
		return "exit status " + strconv.Itoa(e.Status.ExitStatus())
	case e.Status.Signaled():
		s := "signal: " + e.Status.Signal().String()
		if e.Status.CoreDump() {
			s += " (core dumped)"
		}
		return s
	default:
		return "exit status unknown (" + strconv.FormatUint(rawStatus(e.Status), 16) + ")"
	}
}

func exitErr(ws syscall.WaitStatus) error {
	if ws.Exited() && ws.ExitStatus() == 0 {
		return nil
	}
	return &ExitError{Status: ws}
}

// errNoFreezer is a cgroup hierarchy without a freezer (v1 without the
// freezer controller mounted).
var errNoFreezer = errors.New("no cgroup freezer")

// cgroup is one environment's cgroup, in either version.
type cgroup interface {
	// add moves pid (a whole process) into the cgroup.
	add(pid int) error
	// oomKills is the number of processes the OOM killer killed in it.
	oomKills() (uint64, error)
	// memoryPeak is the highest memory use in bytes.
	memoryPeak() (uint64, error)
	// kill SIGKILLs every process in it.
	kill() error
	// remove deletes it; it must be empty (retries while processes exit).
	remove() error
	// dirs lists its directories.
	dirs() []string
	// setLimits sets the memory limit (no swap).
	setLimits(memoryMB int) error
	// weighCPU sets the CPU weight of a function of cpuMB.
	weighCPU(cpuMB int) error
	// rename renames it (all its directories) to id.
	rename(id string) error
	// limitCPU caps the CPU at cpuMB/1769 of one CPU.
	limitCPU(cpuMB int) error
	// freeze freezes (or thaws) every process in it and returns once the
	// freezer has settled.
	freeze(frozen bool) error
}

// Process is a running environment. Its methods are safe for concurrent use.
type Process struct {
	id   string
	cmd  *exec.Cmd
	pid  int    // host pid of init (or of the runtime in process-group mode)
	cg   cgroup // nil without cgroups
	done chan struct{}

	mu       sync.Mutex
	reaped   bool           // guarded by mu: set before the leader's pid is released
	copiers  sync.WaitGroup // output copying into non-file writers; Add under mu while !reaped
	copyEnds []*os.File     // guarded by mu: the read ends those copiers drain

	killOnce sync.Once

	// freezeMu serialises Freeze/Thaw with Kill: a v1 freezer holds
	// SIGKILL until thawed, so once Kill has begun no freeze may start.
	freezeMu sync.Mutex
	killing  bool // guarded by freezeMu

	listeners []net.Listener // set by Start
	// dialers are unconnected sockets of the environment's network
	// namespace (Spec.Dialers); guarded by mu. direct: no namespace of its
	// own, Dial uses the host's loopback.
	dialers  []*os.File
	direct   bool
	dialWake chan struct{} // guarded by mu; closed when init sent more dialers
	sock     *os.File      // the sync socket's parent end (namespaced); nil otherwise
	// moreDialers: init serves requests for more dialers (Spec.Dialers > 0).
	moreDialers bool
	dialMu      sync.Mutex // serialises requests on sock

	// Extension processes (Spec.Extensions), tracked where init reports
	// their exits (namespaced mode): extExited closes at the first exit,
	// extAllDone once none is left; both nil when not tracked.
	extAlive   int // guarded by mu
	extOnce    sync.Once
	extExited  chan struct{}
	extAllDone chan struct{}

	egress *egressLink // guarded by mu; removed by wait

	phases StartPhases // set by Start

	// Set before done is closed.
	exit      error
	oom       bool
	peakBytes uint64
}

// Start starts the environment described by spec and returns once the
// runtime has been executed (or failed to be). ctx bounds the start only;
// the process lives until it exits or Kill is called.
func Start(ctx context.Context, spec Spec) (*Process, error) {
	var l *Launcher
	return l.Start(ctx, spec)
}

// tmpMB is the size of /tmp: Lambda's 512 MB default when unset.
func tmpMB(mb int) int {
	if mb <= 0 {
		return 512
	}
	return mb
}

// Launcher starts environments like Start, but keeps a few inits started
// ahead of time: exec'd, in their namespaces and already moved into a
// fresh cgroup, waiting for a configuration. That takes the binary's
// startup and the cgroup migration (an RCU grace period on cgroup v1, 5-15
// ms here) off the cold start. A nil *Launcher keeps no spares. Close it to
// kill the spares.
type Launcher struct {
	spares     int
	unhardened bool           // every environment is Spec.Unhardened
	wg         sync.WaitGroup // spares being started

	// spareNet: spares get their egress link ahead of the claim (most
	// environments have the server's default network).
	spareNet atomic.Bool

	mu      sync.Mutex
	spare   []*launched // guarded by mu
	pending int         // guarded by mu: spares being started
	closed  bool        // guarded by mu
}

// NewLauncher returns a Launcher that keeps spares inits ready.
func NewLauncher(spares int) *Launcher {
	l := &Launcher{spares: spares}
	l.refill()
	return l
}

// NewUnhardenedLauncher returns a Launcher whose environments are all
// Spec.Unhardened (benchmarks of the isolation layers' cost).
func NewUnhardenedLauncher(spares int) *Launcher {
	l := &Launcher{spares: spares, unhardened: true}
	l.refill()
	return l
}

// SpareNetwork says which network most environments will ask for: with
// NetworkEgress, spare inits get their veth pair before they are claimed.
func (l *Launcher) SpareNetwork(network string) {
	l.spareNet.Store(network == NetworkEgress)
}

// Start starts an environment, from a spare init when one is ready.
func (l *Launcher) Start(ctx context.Context, spec Spec) (*Process, error) {
	if err := spec.validate(); err != nil {
		return nil, fmt.Errorf("start sandbox %s: %w", spec.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start sandbox %s: %w", spec.ID, err)
	}
	p, err := l.start(ctx, probe(), &spec)
	if err != nil {
		return nil, fmt.Errorf("start sandbox %s: %w", spec.ID, err)
	}
	return p, nil
}

// Spares is how many spare inits are ready to be claimed and how many l
// keeps.
func (l *Launcher) Spares() (ready, target int) {
	if l == nil {
		return 0, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.spare), l.spares
}

// Close kills the spare inits and waits for those being started.
func (l *Launcher) Close() error {
	if l != nil {
		l.closeSpares()
	}
	return nil
}

// Mode describes the isolation in use, for the server's startup log:
// "namespaces+cgroup-v1", "namespaces+cgroup-v2", "namespaces (no cgroup:
// ...)" or "process-group (...)".
func Mode() string { return probe().mode }

// OrphansRemoved is the number of environments of nimbus processes that
// died without stopping them (kill -9, the OOM killer), on this host and
// whatever their data directory, that this process's first use of the
// sandbox thawed, killed and removed (see sweepDeadOwners).
func OrphansRemoved() int { return probe().orphans }

// Done is closed when the environment's init (or runtime) has exited, its
// output has been delivered and its cgroup removed.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitErr is the runtime's exit as an *ExitError (nil for status 0). Valid
// after Done.
func (p *Process) ExitErr() error {
	<-p.done
	return p.exit
}

// OOMKilled reports whether the cgroup's OOM killer killed a process of the
// environment. Valid after Done.
func (p *Process) OOMKilled() bool {
	<-p.done
	return p.oom
}

// StartPhases is where the time of one Start went. Root, Setup and Exec
// are measured by init (namespaced environments only); Handshake is the
// whole exchange with init, from sending its configuration to its
// answer, so Handshake minus the three is messaging and scheduling.
type StartPhases struct {
	Spare     bool          // a spare init was claimed (else one was launched)
	Claim     time.Duration // taking the spare, or launching an init (exec, namespaces, cgroup)
	Limits    time.Duration // the cgroup named and limited, stdio
	Egress    time.Duration // the egress link (veth pair, addresses, routes) when a spare had none ready
	Root      time.Duration // init: the minimal root (code, runtime, layers, /tmp mounted; pivot_root)
	Setup     time.Duration // init: privileges, seccomp, listeners, dialers, egress
	Exec      time.Duration // init: the runtime forked and exec'd
	Handshake time.Duration // configuration sent to init's ready
}

// StartPhases returns where p's Start spent its time.
func (p *Process) StartPhases() StartPhases { return p.phases }

// Listeners returns the listeners asked for in Spec.Listeners, in that
// order. The caller owns them: it serves and closes them (they stay open
// when the environment exits).
func (p *Process) Listeners() []net.Listener { return p.listeners }

// Pid is the host pid of the environment's init (or, in process-group mode,
// of the runtime).
func (p *Process) Pid() int { return p.pid }

// MemoryPeak returns the highest memory use of the environment so far in
// bytes (the cgroup's max usage; the runtime's VmHWM in process-group
// mode), and false when it is not known.
func (p *Process) MemoryPeak() (uint64, bool) {
	select {
	case <-p.done:
		return p.peakBytes, p.peakBytes > 0
	default:
	}
	if p.cg != nil {
		if v, err := p.cg.memoryPeak(); err == nil {
			return v, true
		}
		return 0, false
	}
	if v, err := procHWM(p.pid); err == nil {
		return v, true
	}
	return 0, false
}

// WeighCPU gives the environment the CPU weight of a function of
// memoryMB (1,769 MB = one vCPU = the default weight). Until then it has
// the default weight, so the sandbox's set-up and the runtime's init run
// at a full share even on a busy node, as Lambda boosts init; the pool
// calls it once init is done.
func (p *Process) WeighCPU(memoryMB int) error {
	if p.cg == nil || memoryMB <= 0 {
		return nil
	}
	if err := p.cg.weighCPU(memoryMB); err != nil {
		return fmt.Errorf("weigh cpu of sandbox %s: %w", p.id, err)
	}
	return nil
}

// LimitCPU caps the environment's CPU time in proportion to memoryMB, as
// Lambda does (1,769 MB = one vCPU; cfs_quota_us on v1, cpu.max on v2).
// The pool applies it once init is done: init runs at full speed, as on
// Lambda.
func (p *Process) LimitCPU(memoryMB int) error {
	if p.cg == nil {
		return fmt.Errorf("limit cpu of sandbox %s: no cgroup", p.id)
	}
	if err := p.cg.limitCPU(memoryMB); err != nil {
		return fmt.Errorf("limit cpu of sandbox %s: %w", p.id, err)
	}
	return nil
}

// Freeze stops every process of the environment (the cgroup freezer: v1
// freezer.state, v2 cgroup.freeze) so that it uses no CPU, and returns once
// all are stopped. Without a cgroup freezer it sends SIGSTOP to the
// environment's process group (a runtime that left the group keeps
// running). Kill works on a frozen environment.
func (p *Process) Freeze() error {
	if err := p.setFrozen(true); err != nil {
		return fmt.Errorf("freeze sandbox %s: %w", p.id, err)
	}
	return nil
}

// Thaw resumes an environment stopped by Freeze.
func (p *Process) Thaw() error {
	if err := p.setFrozen(false); err != nil {
		return fmt.Errorf("thaw sandbox %s: %w", p.id, err)
	}
	return nil
}

func (p *Process) setFrozen(frozen bool) error {
	p.freezeMu.Lock()
	defer p.freezeMu.Unlock()
	if p.killing {
		return errors.New("environment is being killed")
	}
	select {
	case <-p.done:
		return errors.New("environment has exited")
	default:
	}
	if p.cg != nil {
		err := p.cg.freeze(frozen)
		if !errors.Is(err, errNoFreezer) {
			return err
		}
	}
	sig := sigCont
	if frozen {
		sig = sigStop
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return errors.New("environment has exited")
	}
	return kill(-p.pid, sig)
}

// Terminate sends SIGTERM to the runtime alone (init forwards it; in
// process-group mode the runtime is the leader), as Lambda does at
// shutdown. It does nothing once the runtime has exited.
func (p *Process) Terminate() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return nil
	}
	return kill(p.pid, syscall.SIGTERM)
}

// Dial connects to 127.0.0.1:port inside the environment's network
// namespace with one of the sockets init opened there (Spec.Dialers);
// without a namespace of its own it dials the host's loopback. Each
// connection uses up a socket: keep it open.
func (p *Process) Dial(ctx context.Context, port int) (net.Conn, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p.mu.Lock()
	if p.direct {
		p.mu.Unlock()
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	for len(p.dialers) == 0 {
		if p.reaped || p.sock == nil || !p.moreDialers {
			p.mu.Unlock()
			return nil, errors.New("no socket left in the environment's network namespace")
		}
		wake := p.dialWake
		p.mu.Unlock()
		if err := p.askDialers(2); err != nil {
			return nil, fmt.Errorf("ask the sandbox init for sockets: %w", err)
		}
		select {
		case <-wake:
		case <-p.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		p.mu.Lock()
	}
	f := p.dialers[0]
	p.dialers = p.dialers[1:]
	p.mu.Unlock()
	return dialFile(ctx, f, port)
}

// ExtensionExited is closed when the first extension process exits, and
// ExtensionsDone when all have; both are nil where extension processes
// are not tracked (no extensions, or process-group mode).
func (p *Process) ExtensionExited() <-chan struct{} { return p.extExited }

// ExtensionsDone: see ExtensionExited.
func (p *Process) ExtensionsDone() <-chan struct{} { return p.extAllDone }

// Kill SIGKILLs every process of the environment (its cgroup, process group
// and pid namespace), waits for init to exit and removes the cgroup. It is
// idempotent and returns once Done is closed.
func (p *Process) Kill() error {
	p.killOnce.Do(func() {
		// Wait for a freeze in progress, and forbid new ones, before the
		// cgroup is thawed and killed.
		p.freezeMu.Lock()
		p.killing = true
		p.freezeMu.Unlock()
		if p.cg != nil {
			_ = p.cg.kill()
		}
		p.mu.Lock()
		if !p.reaped {
			// The leader is not reaped yet, so its pid (= the group id)
			// cannot have been reused.
			_ = kill(-p.pid, syscall.SIGKILL)
			_ = kill(p.pid, syscall.SIGKILL)
		}
		p.mu.Unlock()
	})
	<-p.done
	return nil
}

// wait owns the process after start: it waits for the leader to exit
// without reaping it, kills the rest of its group while the group id is
// still reserved, reaps, collects the cgroup counters, removes the cgroup
// and closes done. status, when not nil, supplies the runtime's real wait
// status (reported by init).
func (p *Process) wait(status func() (syscall.WaitStatus, bool)) {
	defer close(p.done)
	if waitNoReap(p.pid) {
		p.mu.Lock()
		_ = kill(-p.pid, syscall.SIGKILL)
		p.reaped = true
		p.mu.Unlock()
	}
	err := p.cmd.Wait()
	p.mu.Lock()
	p.reaped = true
	for _, f := range p.dialers {
		_ = f.Close()
	}
	p.dialers = nil
	ends := p.copyEnds
	p.mu.Unlock()
	p.waitCopiers(ends)
	if p.cg == nil {
		// No pid namespace or cgroup waits for the rest of the group.
		waitGroupGone(p.pid)
	}
	var ws syscall.WaitStatus
	if st, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		ws = st
	}
	if status != nil {
		if st, ok := status(); ok {
			ws = st
		}
	}
	p.exit = exitErr(ws)
	if p.exit == nil && err != nil && !errors.As(err, new(*exec.ExitError)) {
		p.exit = err // e.g. copying output failed
	}
	p.mu.Lock()
	eg := p.egress
	p.egress = nil
	p.mu.Unlock()
	if eg != nil {
		eg.remove()
	}
	if p.cg != nil {
		if n, err := p.cg.oomKills(); err == nil && n > 0 {
			p.oom = true
		}
		if v, err := p.cg.memoryPeak(); err == nil {
			p.peakBytes = v
		}
		_ = p.cg.kill()
		_ = p.cg.remove()
	} else if v := maxRSSBytes(p.cmd.ProcessState); v > 0 {
		p.peakBytes = v
	}
}

// waitCopiers waits for the output copiers to reach EOF. A process that
// escaped the environment (process-group mode) can hold the pipe open, so
// after copyGrace the read ends are closed, as exec.Cmd's WaitDelay does.
func (p *Process) waitCopiers(ends []*os.File) {
	done := make(chan struct{})
	go func() {
		p.copiers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-time.After(copyGrace):
	}
	for _, f := range ends {
		_ = f.Close()
	}
	<-done
}

const copyGrace = time.Second

// groupView is spec's argv and environment for process-group mode:
// /var/task and /var/runtime rewritten to the host directories, TMPDIR set
// to TmpDir.
func groupView(spec *Spec) (argv, env []string) {
	rw := pathRewriter(spec.CodeDir, spec.RuntimeDir)
	argv = make([]string, len(spec.Argv))
	for i, a := range spec.Argv {
		argv[i] = rw(a)
	}
	env = make([]string, 0, len(spec.Env)+1)
	hasTmp := false
	for _, kv := range spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		if k == "TMPDIR" {
			hasTmp = true
		}
		env = append(env, k+"="+rw(v))
	}
	if !hasTmp && spec.TmpDir != "" {
		env = append(env, "TMPDIR="+spec.TmpDir)
	}
	return argv, env
}

// pathRewriter maps /var/task and /var/runtime (at a path boundary) to the
// host directories, for process-group mode.
func pathRewriter(codeDir, runtimeDir string) func(string) string {
	repl := []struct{ from, to string }{{TaskRoot, codeDir}, {RuntimeDir, runtimeDir}}
	return func(s string) string {
		if !strings.Contains(s, "/var/") {
			return s
		}
		var b strings.Builder
		for i := 0; i < len(s); {
			matched := false
			for _, r := range repl {
				if strings.HasPrefix(s[i:], r.from) && boundaryBefore(s, i) && boundaryAfter(s, i+len(r.from)) {
					b.WriteString(r.to)
					i += len(r.from)
					matched = true
					break
				}
			}
			if !matched {
				b.WriteByte(s[i])
				i++
			}
		}
		return b.String()
	}
}

func boundaryBefore(s string, i int) bool {
	return i == 0 || s[i-1] == ':' || s[i-1] == '=' || s[i-1] == ' ' || s[i-1] == ','
}

func boundaryAfter(s string, j int) bool {
	return j == len(s) || s[j] == '/' || s[j] == ':' || s[j] == ' ' || s[j] == ','
}

// lookPath resolves file against the PATH in env (not the server's).
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	pathVar := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range filepath.SplitList(pathVar) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, file)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s: %w", ErrExec, file, syscall.ENOENT)
}

// procHWM reads VmHWM (peak resident set) of pid.
func procHWM(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmHWM")
}
