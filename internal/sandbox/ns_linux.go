package sandbox

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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

	"golang.org/x/sys/unix"
)

// The marker that makes a re-executed nimbus binary run as a sandbox init:
// both argv[0] and the (otherwise empty) environment carry it.
const (
	initArg0   = "nimbus-sandbox-init"
	initEnvKey = "_NIMBUS_SANDBOX_INIT"
	initEnv    = initEnvKey + "=1"
	// netnsEnvKey tells init it has a network namespace of its own.
	netnsEnvKey = "_NIMBUS_SANDBOX_NETNS"
	// rootEnvKey tells init its environment is hardened: it prepares the
	// minimal root while it waits for the configuration (prepareRoot).
	rootEnvKey = "_NIMBUS_SANDBOX_ROOT"
)

// initConfig is what the parent sends init once init is in its cgroup,
// together with the stdout and stderr fds (SCM_RIGHTS). Without
// Namespaced, init only marks fds close-on-exec and execs Argv in Dir
// (process-group mode); the sync socket then closes on exec.
type initConfig struct {
	Namespaced bool     `json:"namespaced"`
	NetNS      bool     `json:"netns,omitempty"` // in a network namespace of its own
	Dir        string   `json:"dir,omitempty"`
	Argv       []string `json:"argv"`
	Env        []string `json:"env"`
	CodeDir    string   `json:"code_dir"`
	RuntimeDir string   `json:"runtime_dir"`
	TmpDir     string   `json:"tmp_dir,omitempty"`
	TmpMB      int      `json:"tmp_mb"`
	// Listen is opened by init (inside the network namespace) and passed
	// back before the runtime starts.
	Listen []Listener `json:"listen,omitempty"`
	// Hardened: pivot_root into a minimal root, drop privileges, seccomp
	// (see buildRoot and dropPrivileges); otherwise the host's view
	// read-only (setupMounts).
	Hardened  bool     `json:"hardened,omitempty"`
	UID       int      `json:"uid,omitempty"` // the runtime's uid and gid; 0 keeps init's
	GID       int      `json:"gid,omitempty"`
	HostPaths []string `json:"host_paths,omitempty"`
	OptDir    string   `json:"opt_dir,omitempty"`
	// Extensions are started before the runtime with ExtEnv (Spec.Extensions).
	Extensions []string `json:"extensions,omitempty"`
	ExtEnv     []string `json:"ext_env,omitempty"`
	// Dialers: unconnected sockets to open in the network namespace.
	Dialers int `json:"dialers,omitempty"`
	// Ptrace: the seccomp filter allows tracing (Spec.Debugger).
	Ptrace bool `json:"ptrace,omitempty"`
}

// initMsg is what init sends back: first either ready (with the runtime's
// pid inside the namespace) or an error; later the runtime's wait status.
type initMsg struct {
	Ready bool   `json:"ready,omitempty"`
	Pid   int    `json:"pid,omitempty"`
	Stage string `json:"stage,omitempty"`
	Error string `json:"error,omitempty"`
	Errno int    `json:"errno,omitempty"`
	Exit  *int   `json:"exit,omitempty"` // syscall.WaitStatus
	// Listeners announces that many listener fds passed with the message.
	Listeners int `json:"listeners,omitempty"`
	// Dialers announces that many dialer sockets passed with the message.
	Dialers int `json:"dialers,omitempty"`
	// ExtExit reports that an extension process exited (its index).
	ExtExit *int `json:"ext_exit,omitempty"`
	// RootUS, SetupUS and ExecUS are, with ready, how long init took to
	// build the root, to set up the process (privileges, listeners,
	// dialers, egress) and to fork and exec the runtime, in microseconds.
	RootUS  int64 `json:"root_us,omitempty"`
	SetupUS int64 `json:"setup_us,omitempty"`
	ExecUS  int64 `json:"exec_us,omitempty"`

	lns     []net.Listener // the parent's: the listeners, delivered with ready
	dialers []*os.File     // the parent's: the dialer sockets, delivered with ready
}

func (m *initMsg) err() error {
	if m.Errno != 0 {
		if m.Stage == "exec" {
			return fmt.Errorf("%w: %s: %w", ErrExec, m.Error, syscall.Errno(m.Errno))
		}
		return fmt.Errorf("sandbox init %s: %s: %w", m.Stage, m.Error, syscall.Errno(m.Errno))
	}
	return fmt.Errorf("sandbox init %s: %s", m.Stage, m.Error)
}

// The init binary. An init is the environment's pid 1 for its whole life;
// if it ran a file of the host, a process in the environment could open
// /proc/<init>/exe for writing and replace that file on the host
// (CVE-2019-5736). So inits run a sealed in-memory copy (memfd: no write,
// grow or shrink, ever), made once per process: of the embedded init image
// (initbin, a few MB whose idle footprint is about 1 MB) where one is
// built for this platform, else of this executable; /proc/self/exe only if
// both fail.
var (
	initExeOnce sync.Once
	initExePath string
	initExeErr  error
	initFromImg bool
)

func initExe() string {
	initExeOnce.Do(func() {
		if len(initImage) > 0 {
			initExePath, initExeErr = sealedCopy(func() (io.ReadCloser, error) { return gzip.NewReader(bytes.NewReader(initImage)) })
			if initExeErr == nil {
				initFromImg = true
				return
			}
		}
		initExePath, initExeErr = sealedCopy(func() (io.ReadCloser, error) { return os.Open("/proc/self/exe") })
		if initExeErr != nil {
			initExePath = "/proc/self/exe"
		}
	})
	return initExePath
}

func initExeErrText() string {
	initExe()
	if initExeErr == nil {
		return ""
	}
	return "inits run /proc/self/exe: " + initExeErr.Error()
}

// sealedCopy copies an executable into a sealed memfd and returns the path
// to exec it by. The fd stays open (close-on-exec) for the life of the
// process.
func sealedCopy(open func() (io.ReadCloser, error)) (string, error) {
	fd, err := unix.MemfdCreate("nimbus-sandbox-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return "", fmt.Errorf("memfd_create: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "nimbus-sandbox-init")
	src, err := open()
	if err != nil {
		_ = mem.Close()
		return "", err
	}
	_, err = io.Copy(mem, src)
	if cerr := src.Close(); err == nil {
		err = cerr // a gzip stream's checksum is checked at its end
	}
	if err == nil {
		_, err = unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS,
			unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE)
	}
	if err != nil {
		_ = mem.Close()
		return "", fmt.Errorf("copy the init executable to a memfd: %w", err)
	}
	memfdKeep.Store(mem)
	return "/proc/self/fd/" + strconv.Itoa(int(mem.Fd())), nil
}

// memfdKeep holds the sealed copy open (and reachable) for good.
var memfdKeep atomic.Pointer[os.File]

// launched is an init that runs (in its namespaces and cgroup) and waits
// for its configuration.
type launched struct {
	p          *Process
	namespaced bool
	sock       *os.File     // parent end of the sync socket; closed by the reader
	ready      chan initMsg // init's first answer; closed if it dies first
	// egress is the veth pair a spare got ahead of its claim (the
	// Launcher's SpareNetwork is egress); nil otherwise.
	egress *egressLink
}

// launch starts init (in new namespaces when namespaced, in a fresh cgroup
// when the host has cgroups) and moves it into its cgroup. This is the slow
// part of a start: an exec of the whole binary and, on cgroup v1, an RCU
// grace period for the first migration; Launcher does it ahead of time.
func launch(h *host, kind initKind) (_ *launched, err error) {
	namespaced := kind.namespaced
	var cg cgroup
	if namespaced && h.cgroups != nil {
		if cg, err = h.cgroups.newCgroup("init-" + randomID()); err != nil {
			return nil, fmt.Errorf("create cgroup: %w", err)
		}
		defer func() {
			if err != nil {
				_ = cg.kill()
				_ = cg.remove()
			}
		}()
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		_ = unix.Close(fds[0])
		_ = unix.Close(fds[1])
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	parentEnd := os.NewFile(uintptr(fds[0]), "sandbox-sync")
	childEnd := os.NewFile(uintptr(fds[1]), "sandbox-sync-child")

	attr := &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if namespaced {
		attr.Cloneflags = syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS
		if kind.netns {
			attr.Cloneflags |= syscall.CLONE_NEWNET
		}
		if h.userns {
			rootlessAttr(attr)
		}
	}
	// GOMAXPROCS=1 keeps init (a Go program) to few threads and a small
	// footprint; it only waits and forwards signals.
	env := []string{initEnv, "GOMAXPROCS=1", "GOGC=50"}
	if kind.netns {
		env = append(env, netnsEnvKey+"=1")
	}
	if kind.hardened {
		env = append(env, rootEnvKey+"=1")
	}
	if raceEnv != "" {
		env = append(env, raceEnv)
	}
	cmd := &exec.Cmd{
		Path: initExe(),
		Args: []string{initArg0},
		Env:  env,
		// stdin, stdout and stderr are /dev/null until init receives the
		// environment's own with its configuration.
		ExtraFiles:  []*os.File{childEnd}, // fd 3
		SysProcAttr: attr,
	}
	err = cmd.Start()
	_ = childEnd.Close()
	if err != nil {
		_ = parentEnd.Close()
		return nil, fmt.Errorf("start init: %w", err)
	}
	p := &Process{cmd: cmd, pid: cmd.Process.Pid, cg: cg, done: make(chan struct{}), sock: parentEnd, dialWake: make(chan struct{})}
	l := &launched{p: p, namespaced: namespaced, sock: parentEnd, ready: make(chan initMsg, 1)}

	// From here on the wait goroutine owns cmd; failures kill and wait.
	status := make(chan syscall.WaitStatus, 1)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer parentEnd.Close() //nolint:errcheck // the reader owns it
		readInit(parentEnd, !namespaced, l.ready, status, p)
	}()
	go p.wait(func() (syscall.WaitStatus, bool) {
		// init is gone, so the socket reaches EOF and the reader ends.
		<-readerDone
		select {
		case ws := <-status:
			return ws, true
		default:
			return 0, false // init exec'd the runtime, or died without reporting
		}
	})
	if cg != nil {
		if err := cg.add(p.pid); err != nil {
			_ = p.Kill()
			return nil, fmt.Errorf("add init to cgroup: %w", err)
		}
	}
	return l, nil
}

// configure turns a launched init into spec's environment: cgroup named and
// limited, configuration and stdio sent, runtime executed.
func (l *launched) configure(ctx context.Context, spec *Spec, cfg *initConfig) (*Process, error) {
	p := l.p
	p.id = spec.ID
	t0 := time.Now()
	fail := func(e error) (*Process, error) {
		_ = p.Kill()
		return nil, e
	}
	if p.cg != nil {
		_ = p.cg.rename(spec.ID) // cosmetic: the cgroup carries the environment's id
		mem := spec.MemoryMB
		if mem > 0 && cfg.Hardened {
			// /tmp is a tmpfs, whose pages the kernel charges to the
			// environment's memory cgroup: the limit covers both, so a full
			// /tmp does not take the function's memory (see Spec.MemoryMB).
			mem += tmpMB(spec.TmpMB)
		}
		if err := p.cg.setLimits(mem); err != nil {
			return fail(fmt.Errorf("set cgroup limits: %w", err))
		}
	}
	tEgress := time.Now()
	if l.egress != nil && (spec.Network != NetworkEgress || !cfg.NetNS) {
		l.egress.remove() // a spare readied for egress, claimed without it
		l.egress = nil
	}
	if spec.Network == NetworkEgress && cfg.NetNS {
		link, err := l.egress, error(nil)
		if link == nil {
			link, err = setupEgress(p.pid)
		}
		if err != nil {
			return fail(fmt.Errorf("set up egress: %w", err))
		}
		p.mu.Lock()
		if p.reaped {
			p.mu.Unlock()
			link.remove()
			return fail(errors.New("sandbox init exited"))
		}
		p.egress = link
		p.mu.Unlock()
	}
	p.phases.Egress = time.Since(tEgress)
	stdout, stderr, err := p.stdio(spec.Stdout, spec.Stderr)
	if err != nil {
		return fail(err)
	}
	p.phases.Limits = time.Since(t0) - p.phases.Egress
	if cfg.Namespaced && len(cfg.Extensions) > 0 {
		p.mu.Lock()
		p.extAlive = len(cfg.Extensions)
		p.extExited, p.extAllDone = make(chan struct{}), make(chan struct{})
		p.mu.Unlock()
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		return fail(err)
	}
	t1 := time.Now()
	err = sendWithFDs(l.sock, append(data, '\n'), int(stdout.Fd()), int(stderr.Fd()))
	_ = stdout.Close()
	_ = stderr.Close()
	if err != nil {
		return fail(fmt.Errorf("send init config: %w", err))
	}
	select {
	case m, ok := <-l.ready:
		if !ok {
			return fail(errors.New("sandbox init exited before starting the runtime"))
		}
		if !m.Ready {
			return fail(m.err())
		}
		if len(m.lns) != len(cfg.Listen) {
			closeListeners(m.lns)
			return fail(fmt.Errorf("sandbox init passed %d of %d listeners", len(m.lns), len(cfg.Listen)))
		}
		p.listeners = m.lns
		p.phases.Handshake = time.Since(t1)
		us := func(n int64) time.Duration { return time.Duration(n) * time.Microsecond }
		p.phases.Root, p.phases.Setup, p.phases.Exec = us(m.RootUS), us(m.SetupUS), us(m.ExecUS)
		p.mu.Lock()
		p.dialers = m.dialers
		p.direct = !cfg.NetNS
		p.moreDialers = cfg.Dialers > 0
		p.mu.Unlock()
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	return p, nil
}

// stdio returns the files to hand init as its stdout and stderr (the
// caller closes them once sent).
func (p *Process) stdio(out, errw io.Writer) (*os.File, *os.File, error) {
	o, err := p.writerFile(out)
	if err != nil {
		return nil, nil, err
	}
	var e *os.File
	if sameWriter(out, errw) {
		e, err = dupFile(o)
	} else {
		e, err = p.writerFile(errw)
	}
	if err != nil {
		_ = o.Close()
		return nil, nil, err
	}
	return o, e, nil
}

// writerFile is w itself (a duplicate) when it is an *os.File, /dev/null
// for nil or io.Discard, and otherwise the write end of a pipe whose reader
// copies into w until every process of the environment is gone.
func (p *Process) writerFile(w io.Writer) (*os.File, error) {
	switch f := w.(type) {
	case nil:
		return os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	case *os.File:
		return dupFile(f)
	}
	if w == io.Discard {
		return os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	}
	r, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if p.reaped {
		p.mu.Unlock()
		_ = r.Close()
		_ = pw.Close()
		return nil, errors.New("sandbox init exited")
	}
	p.copiers.Add(1)
	p.copyEnds = append(p.copyEnds, r)
	p.mu.Unlock()
	go func() {
		defer p.copiers.Done()
		_, _ = io.Copy(w, r)
		_ = r.Close()
	}()
	return pw, nil
}

// sameWriter reports whether a and b are the same writer (false for
// writers that cannot be compared).
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

func dupFile(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dup %s: %w", f.Name(), err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// sendWithFDs writes data on the (non-blocking) socket, passing fds with
// its first byte.
func sendWithFDs(sock *os.File, data []byte, fds ...int) error {
	rc, err := sock.SyscallConn()
	if err != nil {
		return err
	}
	oob := unix.UnixRights(fds...)
	var serr error
	werr := rc.Write(func(fd uintptr) bool {
		for len(data) > 0 {
			n, err := unix.SendmsgN(int(fd), data, oob, nil, 0)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if errors.Is(err, unix.EAGAIN) {
				return false
			}
			if err != nil {
				serr = err
				return true
			}
			data, oob = data[n:], nil
		}
		return true
	})
	return errors.Join(werr, serr)
}

// readInit reads init's messages: the first answer goes to ready (closed
// without a value if init dies first), with the listeners init passed
// before it; an exit status goes to status. With eofReady, a clean EOF
// first means init exec'd the runtime (the socket is close-on-exec).
func readInit(f *os.File, eofReady bool, ready chan<- initMsg, status chan<- syscall.WaitStatus, evs initEvents) {
	r := &msgReader{f: f}
	defer r.close()
	first := true
	var lns []net.Listener
	var dialers []*os.File
	defer func() {
		if first {
			closeListeners(lns)
			closeFiles(dialers)
			close(ready)
		}
	}()
	for {
		line, err := r.next()
		if err != nil {
			if first && eofReady && errors.Is(err, io.EOF) {
				first = false
				ready <- initMsg{Ready: true, lns: lns, dialers: dialers}
			}
			return
		}
		var m initMsg
		if err := json.Unmarshal(line, &m); err != nil {
			return
		}
		if m.Listeners > 0 && first {
			l, err := r.takeListeners(m.Listeners)
			if err != nil {
				return
			}
			lns = append(lns, l...)
			continue
		}
		if m.Dialers > 0 && first {
			fs, err := r.takeFiles(m.Dialers)
			if err != nil {
				return
			}
			dialers = append(dialers, fs...)
			continue
		}
		if first {
			first = false
			if m.Ready {
				m.lns, m.dialers = lns, dialers
			} else {
				closeListeners(lns)
				closeFiles(dialers)
			}
			ready <- m
			if !m.Ready {
				return
			}
			continue
		}
		if m.Exit != nil {
			status <- syscall.WaitStatus(*m.Exit) // #nosec G115 -- a wait status from our own init
			return
		}
		if m.Dialers > 0 { // more sockets, asked for by Dial
			fs, err := r.takeFiles(m.Dialers)
			if err != nil {
				return
			}
			evs.addDialers(fs)
		}
		if m.ExtExit != nil {
			evs.extensionExited()
		}
	}
}

// waitNoReap blocks until pid has exited, leaving it a zombie so that its
// pid, and with it the process group id, stays reserved.
func waitNoReap(pid int) bool {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return err == nil
		}
	}
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// initKind is how an init is started: in namespaces, with a network
// namespace of its own, and for a hardened environment (init prepares the
// minimal root before its configuration arrives). A spare is used only
// for a spec of its kind.
type initKind struct {
	namespaced, netns, hardened bool
}

// spareKind is the kind of l's spares.
func (l *Launcher) spareKind(h *host) initKind {
	return initKind{namespaced: h.namespaces, netns: h.namespaces && !l.unhardened, hardened: h.namespaces && !l.unhardened}
}

// start runs spec through a spare init of l when one matches, else a new
// one.
func (l *Launcher) start(ctx context.Context, h *host, spec *Spec) (*Process, error) {
	if l != nil && l.unhardened {
		spec.Unhardened = true
	}
	kind := initKind{namespaced: h.namespaces && !spec.groupOnly}
	// Rootless egress (no veth without root) shares the host's network.
	rootlessEgress := h.userns && spec.Network == NetworkEgress
	kind.netns = kind.namespaced && !spec.Unhardened && !rootlessEgress
	kind.hardened = kind.namespaced && !spec.Unhardened
	var cfg *initConfig
	if kind.namespaced {
		cfg = &initConfig{
			Namespaced: true,
			NetNS:      kind.netns,
			Hardened:   !spec.Unhardened,
			Argv:       spec.Argv, Env: spec.Env,
			CodeDir: spec.CodeDir, RuntimeDir: spec.RuntimeDir,
			TmpDir: spec.TmpDir, TmpMB: spec.TmpMB,
			Listen:     spec.Listeners,
			HostPaths:  spec.HostPaths,
			OptDir:     spec.OptDir,
			Extensions: spec.Extensions, ExtEnv: spec.ExtensionEnv,
			Ptrace: spec.Debugger,
		}
		if kind.netns {
			cfg.Dialers = spec.Dialers
		}
		if cfg.Hardened && !h.userns {
			cfg.UID = allocUID()
			cfg.GID = cfg.UID
		}
	} else {
		argv, env := groupView(spec)
		cfg = &initConfig{Dir: spec.CodeDir, Argv: argv, Env: env, Listen: spec.Listeners}
		cfg.Extensions, cfg.ExtEnv = groupExtensions(spec)
	}
	t0 := time.Now()
	var s *launched
	if l != nil && kind == l.spareKind(h) {
		s = l.take()
		defer l.refill()
	}
	spare := s != nil
	if s == nil {
		var err error
		if s, err = launch(h, kind); err != nil {
			return nil, err
		}
	}
	s.p.phases.Spare, s.p.phases.Claim = spare, time.Since(t0)
	return s.configure(ctx, spec, cfg)
}

// rootlessAttr puts the init into a new user namespace in which the
// server's own uid and gid are root (and nothing else is mapped): init
// holds capabilities over its namespaces only.
func rootlessAttr(attr *syscall.SysProcAttr) {
	attr.Cloneflags |= syscall.CLONE_NEWUSER
	attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
	attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	attr.GidMappingsEnableSetgroups = false
}

// userNamespacesWork starts the init binary in every namespace an
// environment gets, inside a new user namespace, and reports whether
// that worked (distributions may forbid unprivileged user namespaces).
func userNamespacesWork() error {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL,
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS | syscall.CLONE_NEWNET}
	rootlessAttr(attr)
	cmd := &exec.Cmd{Path: initExe(), Args: []string{initArg0}, Env: []string{initEnvKey + "=probe"}, SysProcAttr: attr}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("start a process in a user namespace: %w", err)
	}
	return nil
}

// Sandbox users: each environment's runtime runs as a uid (and gid) of its
// own from this range, which no host account uses, so no two environments
// share an identity (signals, RLIMIT_NPROC, file ownership in /tmp).
const (
	uidBase  = 1_800_000_000
	uidSlots = 1 << 16
)

var uidNext atomic.Uint32

func allocUID() int {
	return uidBase + int(uidNext.Add(1)%uidSlots)
}

// take pops a live spare, or returns nil.
func (l *Launcher) take() *launched {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.spare) > 0 {
		s := l.spare[len(l.spare)-1]
		l.spare = l.spare[:len(l.spare)-1]
		select {
		case <-s.p.done:
			continue
		default:
			return s
		}
	}
	return nil
}

// refillParallel bounds the spares being started at once: a refill after
// a burst must not take the CPU from the environments the burst started.
const refillParallel = 2

// refill starts spares in the background until there are l.spares,
// refillParallel at a time.
func (l *Launcher) refill() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for !l.closed && len(l.spare)+l.pending < l.spares && l.pending < refillParallel {
		l.pending++
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			h := probe()
			kind := l.spareKind(h)
			s, err := launch(h, kind)
			if err == nil && kind.netns && l.spareNet.Load() {
				// The veth pair too, off the cold start; a failure here is
				// tried again at the claim.
				s.egress, _ = setupEgress(s.p.pid)
			}
			l.mu.Lock()
			l.pending--
			if err != nil || l.closed {
				l.mu.Unlock()
				if s != nil {
					_ = s.p.Kill()
				}
				return
			}
			l.spare = append(l.spare, s)
			l.mu.Unlock()
			l.refill()
		}()
	}
}

// closeSpares kills the spares and waits for the ones being started.
func (l *Launcher) closeSpares() {
	l.mu.Lock()
	l.closed = true
	spares := l.spare
	l.spare = nil
	l.mu.Unlock()
	for _, s := range spares {
		_ = s.p.Kill()
	}
	l.wg.Wait()
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		_ = f.Close()
	}
}

// groupExtensions is spec's extensions and their environment for
// process-group mode: /opt is the host's OptDir.
func groupExtensions(spec *Spec) ([]string, []string) {
	if len(spec.Extensions) == 0 || spec.OptDir == "" {
		return nil, nil
	}
	paths := make([]string, 0, len(spec.Extensions))
	for _, p := range spec.Extensions {
		if rest, ok := strings.CutPrefix(p, "/opt/"); ok {
			paths = append(paths, filepath.Join(spec.OptDir, rest))
		}
	}
	_, env := groupView(&Spec{Env: spec.ExtensionEnv, CodeDir: spec.CodeDir, RuntimeDir: spec.RuntimeDir, TmpDir: spec.TmpDir})
	return paths, env
}

// addDialers stores sockets init sent after the start and wakes Dial.
func (p *Process) addDialers(fs []*os.File) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		closeFiles(fs)
		return
	}
	p.dialers = append(p.dialers, fs...)
	close(p.dialWake)
	p.dialWake = make(chan struct{})
}

// askDialers asks init for n more dialer sockets.
func (p *Process) askDialers(n int) error {
	p.dialMu.Lock()
	defer p.dialMu.Unlock()
	_, err := p.sock.Write([]byte(`{"dialers":` + strconv.Itoa(n) + "}\n"))
	return err
}

// initEvents receives what init reports after the start.
type initEvents interface {
	addDialers(fs []*os.File)
	extensionExited()
}

// extensionExited counts an extension process that exited.
func (p *Process) extensionExited() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.extExited == nil || p.extAlive <= 0 {
		return
	}
	p.extAlive--
	p.extOnce.Do(func() { close(p.extExited) })
	if p.extAlive == 0 {
		close(p.extAllDone)
	}
}
