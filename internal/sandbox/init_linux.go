package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// MaybeRunInit runs this process as a sandbox init when it was started as
// one (argv[0] and environment marker) and never returns; otherwise it
// returns false at once. Call it first thing in main and in the TestMain of
// any package that starts environments.
func MaybeRunInit() bool {
	if len(os.Args) == 0 || os.Args[0] != initArg0 {
		return false
	}
	switch os.Getenv(initEnvKey) {
	case "1":
		os.Exit(runInit())
	case "probe": // userNamespacesWork: started in the namespaces, done
		os.Exit(0)
	}
	return false
}

// stageError is a failed setup step, reported to the parent.
type stageError struct {
	stage string
	err   error
}

func (e *stageError) Error() string { return e.stage + ": " + e.err.Error() }

func (e *stageError) Unwrap() error { return e.err }

func stage(name string, err error) error {
	if err == nil {
		return nil
	}
	return &stageError{stage: name, err: err}
}

// runInit is pid 1 of the environment. The sync socket is fd 3.
func runInit() int {
	sock := os.NewFile(3, "sandbox-sync")
	enc := json.NewEncoder(sock)
	report := func(err error) int {
		m := initMsg{Stage: "setup", Error: err.Error()}
		var se *stageError
		if errors.As(err, &se) {
			m.Stage, m.Error = se.stage, se.err.Error()
		}
		var errno syscall.Errno
		if errors.As(err, &errno) {
			m.Errno = int(errno)
		}
		_ = enc.Encode(&m)
		return 1
	}

	if err := dieWithParent(3); err != nil {
		return report(stage("watch the server", err))
	}
	// In a network namespace of its own, bring the loopback up while
	// waiting for the configuration (a spare does it ahead of the cold
	// start): it takes the kernel's rtnl lock, which a network namespace
	// being torn down elsewhere can hold for milliseconds.
	var loErr error
	if os.Getenv(netnsEnvKey) == "1" {
		loErr = loopbackUp()
	}
	// Likewise the part of the minimal root that no function configures.
	var (
		prepared *preparedRoot
		prepErr  error
	)
	if os.Getenv(rootEnvKey) == "1" {
		prepared, prepErr = prepareRoot()
	}
	cfg, err := readConfig()
	if err != nil {
		return report(stage("read config", err))
	}
	if loErr != nil {
		return report(stage("bring loopback up", loErr))
	}
	if prepErr != nil {
		return report(prepErr)
	}
	if prepared != nil && (!cfg.Namespaced || !cfg.Hardened) {
		return report(stage("setup", errors.New("a minimal root was prepared for a hardened environment")))
	}
	if !cfg.Namespaced {
		return execGroupRuntime(sock, cfg, report)
	}
	tRoot := time.Now()
	switch {
	case prepared != nil:
		err = prepared.finish(cfg)
	case cfg.Hardened:
		err = buildRoot(cfg)
	default:
		err = setupMounts(cfg)
	}
	if err != nil {
		return report(err)
	}
	tSetup := time.Now()
	if err := setupProcess(cfg.UID != 0); err != nil {
		return report(err)
	}
	lfds, err := openListeners(cfg, cfg.NetNS)
	if err != nil {
		return report(err)
	}
	if err := sendListeners(sock, lfds); err != nil {
		return report(stage("pass listeners", err))
	}
	if cfg.Dialers > 0 {
		dfds, err := openDialers(min(cfg.Dialers, 8))
		if err != nil {
			return report(err)
		}
		if err := sendDialers(sock, dfds); err != nil {
			return report(stage("pass dialers", err))
		}
	}
	path, err := lookPath(cfg.Argv[0], cfg.Env)
	if err != nil {
		return report(stage("exec", err))
	}
	var cred *syscall.Credential
	if cfg.Hardened {
		// Capability sets are per thread: drop them on the thread that
		// forks the runtime, and never leave it.
		runtime.LockOSThread()
		if err := dropPrivileges(cfg.Ptrace); err != nil {
			return report(err)
		}
		if cfg.UID != 0 {
			cred = &syscall.Credential{Uid: uint32(cfg.UID), Gid: uint32(cfg.GID), Groups: []uint32{}} // #nosec G115 -- ids from our own allocator
		}
	}
	// Forward termination signals to the runtime. As pid 1, init only
	// receives signals it handles.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	// External extensions start before the runtime, as on Lambda.
	extPids, err := startExtensions(cfg.Extensions, cfg.ExtEnv, "/", cred, true)
	if err != nil {
		return report(err)
	}
	tExec := time.Now()
	var pid int
	err = retryBusy(func() error {
		var err error
		pid, err = syscall.ForkExec(path, cfg.Argv, &syscall.ProcAttr{
			Dir:   TaskRoot,
			Env:   cfg.Env,
			Files: []uintptr{0, 1, 2},
			Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: cred},
		})
		return err
	})
	if err != nil {
		return report(stage("exec", fmt.Errorf("%s: %w", cfg.Argv[0], err)))
	}
	ready := initMsg{Ready: true, Pid: pid, RootUS: tSetup.Sub(tRoot).Microseconds(),
		SetupUS: tExec.Sub(tSetup).Microseconds(), ExecUS: time.Since(tExec).Microseconds()}
	if err := enc.Encode(&ready); err != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		return 1
	}
	go func() {
		for s := range sigs {
			_ = syscall.Kill(pid, s.(syscall.Signal))
		}
	}()
	if cfg.Dialers > 0 {
		go serveDialers(sock)
	}
	// Reap every child; when the runtime exits, report its status and exit,
	// which tears down the pid namespace.
	for {
		var ws syscall.WaitStatus
		wpid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return 1
		}
		if wpid != pid {
			for i, ep := range extPids {
				if ep == wpid {
					idx := i
					_ = enc.Encode(&initMsg{ExtExit: &idx})
				}
			}
			continue
		}
		st := int(ws)
		_ = enc.Encode(&initMsg{Exit: &st})
		switch {
		case ws.Exited():
			return ws.ExitStatus()
		case ws.Signaled():
			return 128 + int(ws.Signal())
		default:
			return 1
		}
	}
}

// errServerGone is init finding that the server that started it has
// already exited.
var errServerGone = errors.New("the server that started this environment is gone")

// dieWithParent makes the kernel SIGKILL init when the server that
// started it exits, however it exits (the parent-death signal; the server
// also asks for it at fork), and then checks that the server is still
// there, since it may have died before the signal was armed. Inside a pid
// namespace getppid() is 0, so the check is the sync socket (fd): the
// server holds its other end for init's whole life, and its death hangs it
// up. A frozen init acts on the signal only once thawed: the next server
// to start on the host does that (sweepDeadOwners).
func dieWithParent(fd int) error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("set parent-death signal: %w", err)
	}
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}} // #nosec G115 -- a small fd
	for {
		_, err := unix.Poll(pfd, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("poll sync socket: %w", err)
		}
		break
	}
	if pfd[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
		return errServerGone
	}
	return nil
}

// readConfig receives the configuration (one JSON line) on the sync
// socket, with the environment's stdout and stderr, which it installs as
// fds 1 and 2.
func readConfig() (*initConfig, error) {
	var (
		data []byte
		fds  []int
		buf  = make([]byte, 64<<10)
		oob  = make([]byte, unix.CmsgSpace(2*4))
	)
	for !bytes.Contains(data, []byte("\n")) {
		n, oobn, _, _, err := unix.Recvmsg(3, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if oobn > 0 {
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil {
				return nil, err
			}
			for i := range msgs {
				rights, err := unix.ParseUnixRights(&msgs[i])
				if err != nil {
					return nil, err
				}
				fds = append(fds, rights...)
			}
		}
		if n == 0 {
			return nil, io.ErrUnexpectedEOF
		}
		data = append(data, buf[:n]...)
	}
	if len(fds) != 2 {
		return nil, fmt.Errorf("got %d stdio fds, want 2", len(fds))
	}
	for i, fd := range fds {
		if err := unix.Dup3(fd, 1+i, 0); err != nil {
			return nil, err
		}
		_ = unix.Close(fd)
	}
	var cfg initConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, err
	}
	if len(cfg.Argv) == 0 {
		return nil, errors.New("empty argv")
	}
	return &cfg, nil
}

// execGroupRuntime is process-group mode: no namespaces or mounts; init
// only makes sure no inherited fd but 0, 1 and 2 survives and becomes the
// runtime.
func execGroupRuntime(sock *os.File, cfg *initConfig, report func(error) int) int {
	lfds, err := openListeners(cfg, false)
	if err != nil {
		return report(err)
	}
	if err := sendListeners(sock, lfds); err != nil {
		return report(stage("pass listeners", err))
	}
	if err := closeExtraFDs(); err != nil {
		return report(err)
	}
	path, err := lookPath(cfg.Argv[0], cfg.Env)
	if err != nil {
		return report(stage("exec", err))
	}
	if err := os.Chdir(cfg.Dir); err != nil {
		return report(stage("chdir", err))
	}
	// Extensions become the runtime's children once it is exec'd; they are
	// in its process group, so Kill ends them with it.
	if _, err := startExtensions(cfg.Extensions, cfg.ExtEnv, cfg.Dir, nil, false); err != nil {
		return report(err)
	}
	err = retryBusy(func() error { return syscall.Exec(path, cfg.Argv, cfg.Env) })
	return report(stage("exec", fmt.Errorf("%s: %w", cfg.Argv[0], err)))
}

// retryBusy retries an exec that failed with ETXTBSY. The server writes
// code files and forks concurrently, so a just-extracted bootstrap can
// still be open for writing in a child between its fork and its exec
// (golang/go#22315); that lasts microseconds.
func retryBusy(exec func() error) error {
	delay := 200 * time.Microsecond
	for i := 0; ; i++ {
		err := exec()
		if !errors.Is(err, syscall.ETXTBSY) || i == 10 {
			return err
		}
		time.Sleep(delay)
		delay *= 2
	}
}

// setupMounts builds the environment's filesystem view in init's new mount
// namespace. The host's filesystem is not modified.
func setupMounts(cfg *initConfig) error {
	// Nothing done here may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return stage("make mounts private", err)
	}
	// Hold the host directories open: the tmpfs over /var hides their
	// paths when they live under /var (the data directory often does).
	code, err := openPath(cfg.CodeDir)
	if err != nil {
		return stage("open code dir", err)
	}
	defer unix.Close(code) //nolint:errcheck // O_PATH, close-on-exec
	rt, err := openPath(cfg.RuntimeDir)
	if err != nil {
		return stage("open runtime dir", err)
	}
	defer unix.Close(rt) //nolint:errcheck // O_PATH, close-on-exec
	tmp := -1
	if cfg.TmpDir != "" {
		if tmp, err = openPath(cfg.TmpDir); err != nil {
			return stage("open tmp dir", err)
		}
		defer unix.Close(tmp) //nolint:errcheck // O_PATH, close-on-exec
	}
	hostVar, err := openPath("/var")
	if err != nil {
		return stage("open /var", err)
	}
	defer unix.Close(hostVar) //nolint:errcheck // O_PATH, close-on-exec
	varEntries, err := os.ReadDir("/var")
	if err != nil {
		return stage("list /var", err)
	}

	// The host's filesystem is read-only inside, as Lambda's is outside
	// /tmp. (Devices stay usable: a read-only mount does not stop writes to
	// device nodes.)
	if err := unix.MountSetattr(unix.AT_FDCWD, "/", unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
		if !errors.Is(err, unix.ENOSYS) {
			return stage("make root read-only", err)
		}
		if err := unix.Mount("", "/", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return stage("make root read-only", err)
		}
	}

	// A tmpfs over /var holds the mount points /var/task and /var/runtime;
	// the host's /var entries are bound back so nothing a runtime expects
	// there disappears.
	if err := unix.Mount("tmpfs", "/var", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755,size=1m"); err != nil {
		return stage("mount /var", err)
	}
	for _, e := range varEntries {
		name := e.Name()
		if name == "task" || name == "runtime" {
			continue
		}
		dst := filepath.Join("/var", name)
		src := fdPath(hostVar) + "/" + name
		switch {
		case e.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(src)
			if err == nil {
				err = os.Symlink(target, dst)
			}
			if err != nil {
				return stage("recreate /var/"+name, err)
			}
		case e.IsDir():
			if err := os.Mkdir(dst, 0o755); err != nil {
				return stage("mkdir /var/"+name, err)
			}
			if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return stage("bind /var/"+name, err)
			}
		}
	}
	if err := bindReadOnly(code, TaskRoot); err != nil {
		return stage("mount "+TaskRoot, err)
	}
	if err := bindReadOnly(rt, RuntimeDir); err != nil {
		return stage("mount "+RuntimeDir, err)
	}
	// /var itself becomes read-only once its mount points exist.
	if err := unix.Mount("", "/var", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return stage("remount /var", err)
	}

	// A private, writable /tmp.
	if tmp >= 0 {
		if err := unix.Mount(fdPath(tmp), "/tmp", "", unix.MS_BIND, ""); err != nil {
			return stage("bind /tmp", err)
		}
		if err := unix.Mount("", "/tmp", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
			return stage("remount /tmp", err)
		}
	} else {
		size := tmpMB(cfg.TmpMB)
		if err := unix.Mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777,size="+strconv.Itoa(size)+"m"); err != nil {
			return stage("mount /tmp", err)
		}
	}
	// POSIX shared memory and /proc of this environment only.
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if err := unix.Mount("tmpfs", "/dev/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=64m"); err != nil {
			return stage("mount /dev/shm", err)
		}
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return stage("mount /proc", err)
	}
	return nil
}

// bindReadOnly creates dst (in the /var tmpfs) and binds the directory
// held by fd there, read-only, nosuid, nodev.
func bindReadOnly(fd int, dst string) error {
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(fdPath(fd), dst, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	return unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "")
}

func openPath(p string) (int, error) {
	return unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// setupProcess sets the hostname, Lambda's rlimits and makes sure no fd
// but 0, 1 and 2 reaches the runtime. With ownUID (the runtime gets a uid
// of its own) RLIMIT_NPROC backs up the pids cgroup.
func setupProcess(ownUID bool) error {
	if err := unix.Sethostname([]byte("nimbus")); err != nil {
		return stage("set hostname", err)
	}
	type rlimit struct {
		res int
		lim uint64
	}
	limits := []rlimit{
		{unix.RLIMIT_NOFILE, 1024}, // Lambda's 1,024 file descriptors
		{unix.RLIMIT_CORE, 0},
	}
	if ownUID {
		// Counted per uid, so only meaningful for a uid of its own.
		limits = append(limits, rlimit{unix.RLIMIT_NPROC, PidsMax})
	}
	for _, rl := range limits {
		if err := unix.Setrlimit(rl.res, &unix.Rlimit{Cur: rl.lim, Max: rl.lim}); err != nil {
			return stage("set rlimit", err)
		}
	}
	return closeExtraFDs()
}

// closeExtraFDs makes every fd from 3 up close-on-exec: the sync socket,
// the Go runtime's own, and anything the server leaked without O_CLOEXEC.
func closeExtraFDs() error {
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		entries, rerr := os.ReadDir("/proc/self/fd")
		if rerr != nil {
			return stage("close fds", err)
		}
		for _, e := range entries {
			if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
				unix.CloseOnExec(fd)
			}
		}
	}
	return nil
}

// startExtensions forks each external extension with env, in dir, as
// cred; with pdeath they die with init.
func startExtensions(paths, env []string, dir string, cred *syscall.Credential, pdeath bool) ([]int, error) {
	pids := make([]int, 0, len(paths))
	for _, p := range paths {
		attr := &syscall.SysProcAttr{Credential: cred}
		if pdeath {
			attr.Pdeathsig = syscall.SIGKILL
		}
		var pid int
		err := retryBusy(func() error {
			var err error
			pid, err = syscall.ForkExec(p, []string{p}, &syscall.ProcAttr{Dir: dir, Env: env, Files: []uintptr{0, 1, 2}, Sys: attr})
			return err
		})
		if err != nil {
			return pids, stage("exec extension", fmt.Errorf("%s: %w", p, err))
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// serveDialers answers the server's requests for more dialer sockets
// (Process.Dial) until the socket closes.
func serveDialers(sock *os.File) {
	dec := json.NewDecoder(sock)
	for {
		var req initMsg
		if err := dec.Decode(&req); err != nil {
			return
		}
		if req.Dialers <= 0 || req.Dialers > 8 {
			continue
		}
		fds, err := openDialers(req.Dialers)
		if err != nil {
			continue
		}
		_ = sendDialers(sock, fds)
	}
}
