package sandbox

// Hostile functions: each test runs code that tries to break out of or
// take down its environment and asserts that the sandbox contains it.
// Where this machine cannot apply a protection the test skips and says
// why; it never passes without checking.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// inspection is what the "inspect" helper sees and is refused inside.
type inspection struct {
	UID, EUID, GID int
	Status         map[string]string // CapEff, CapPrm, CapBnd, CapInh, CapAmb, NoNewPrivs, Seccomp
	RootEntries    []string
	ProcPids       []string
	Stat           map[string]string // path -> error ("" when it exists)
	Refused        map[string]string // attempt -> error ("" when it worked)
	SetuidEUID     string            // euid printed by a setuid-root binary
	Hostname       string
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func hostile(mode string) int {
	switch mode {
	case "inspect":
		return inspect()
	case "egress":
		return egressHelper()
	case "rootless":
		return rootlessHelper()
	case "server":
		return orphanServer()
	case "remote":
		return remoteHelper()
	case "opt":
		return optHelper()
	case "euid":
		fmt.Println(os.Geteuid())
		return 0
	case "trace":
		return traceChild()
	case "forkbomb":
		// Fork until the kernel refuses, report, then stay.
		n := 0
		for {
			_, err := syscall.ForkExec("/bin/sleep", []string{"sleep", "1000"}, &syscall.ProcAttr{Env: os.Environ()})
			if err != nil {
				fmt.Printf("fork refused after %d: %v\n", n, err)
				break
			}
			n++
		}
		for {
			time.Sleep(time.Hour)
		}
	case "fill":
		// Fill /tmp in 1 MB writes until the filesystem refuses.
		f, err := os.Create("/tmp/fill")
		if err != nil {
			fmt.Println("create:", err)
			return 1
		}
		buf := make([]byte, 1<<20)
		n := 0
		for {
			if _, err = f.Write(buf); err != nil {
				break
			}
			n++
		}
		fmt.Printf("filled %d MB: %v\n", n, err)
		return 0
	}
	return 2
}

func inspect() int {
	r := inspection{
		UID: os.Getuid(), EUID: os.Geteuid(), GID: os.Getgid(),
		Status: map[string]string{}, Stat: map[string]string{}, Refused: map[string]string{},
	}
	r.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			switch k {
			case "CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb", "NoNewPrivs", "Seccomp":
				r.Status[k] = strings.TrimSpace(v)
			}
		}
	}
	if ents, err := os.ReadDir("/"); err == nil {
		for _, e := range ents {
			r.RootEntries = append(r.RootEntries, e.Name())
		}
	}
	if ents, err := os.ReadDir("/proc"); err == nil {
		for _, e := range ents {
			if _, err := strconv.Atoi(e.Name()); err == nil {
				r.ProcPids = append(r.ProcPids, e.Name())
			}
		}
	}
	for _, p := range strings.Split(os.Getenv("HOSTILE_PATHS"), ":") {
		if p != "" {
			_, err := os.Stat(p)
			r.Stat[p] = errText(err)
		}
	}
	try := func(name string, err error) { r.Refused[name] = errText(err) }
	try("mount", unix.Mount("tmpfs", "/tmp", "tmpfs", 0, ""))
	try("umount", unix.Unmount("/proc", unix.MNT_DETACH))
	try("unshare-user", unix.Unshare(unix.CLONE_NEWUSER))
	try("unshare-net", unix.Unshare(unix.CLONE_NEWNET))
	try("chroot", unix.Chroot("/tmp"))
	try("ptrace", unix.PtraceAttach(1))
	try("kill-init", unix.Kill(1, unix.SIGKILL))
	try("setuid-0", unix.Setuid(0))
	try("sethostname", unix.Sethostname([]byte("evil")))
	_, _, e := unix.Syscall(unix.SYS_BPF, 0, 0, 0)
	try("bpf", errnoErr(e))
	_, _, e = unix.Syscall(unix.SYS_KEYCTL, 0, 0, 0)
	try("keyctl", errnoErr(e))
	var params [120]byte
	_, _, e = unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
	try("io_uring_setup", errnoErr(e))
	_, _, e = unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
	try("clone3", errnoErr(e))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err == nil {
		_ = unix.Close(fd)
	}
	try("af_packet", err)
	f, err := os.OpenFile("/proc/1/exe", os.O_WRONLY, 0)
	if err == nil {
		_ = f.Close()
	}
	try("write-init-exe", err)
	if p := os.Getenv("HOSTILE_SETUID"); p != "" {
		cmd := exec.Command(p)
		cmd.Env = []string{helperEnv + "=euid"}
		out, err := cmd.CombinedOutput()
		r.SetuidEUID = strings.TrimSpace(string(out)) + errText(err)
	}
	_ = json.NewEncoder(os.Stdout).Encode(&r)
	return 0
}

// traceChild does what a debugger does to its child: starts it traced
// (PTRACE_TRACEME), reads its memory with process_vm_readv and attaches
// to a second, running child (PTRACE_ATTACH). It prints one line per
// attempt: "<name>: ok" or "<name>: <error>".
func traceChild() int {
	report := func(name string, err error) {
		if err == nil {
			fmt.Printf("%s: ok\n", name)
		} else {
			fmt.Printf("%s: %v\n", name, err)
		}
	}
	pid, err := syscall.ForkExec("/bin/sleep", []string{"sleep", "100"}, &syscall.ProcAttr{
		Env: os.Environ(), Sys: &syscall.SysProcAttr{Ptrace: true},
	})
	report("traceme", err)
	if err == nil {
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, 0, nil) // stopped at exec
		buf := make([]byte, 8)
		local := []unix.Iovec{{Base: &buf[0], Len: 8}}
		regs := &syscall.PtraceRegs{}
		err = syscall.PtraceGetRegs(pid, regs)
		if err == nil {
			remote := []unix.RemoteIovec{{Base: uintptr(regs.PC()), Len: 8}}
			_, err = unix.ProcessVMReadv(pid, local, remote, 0)
		}
		report("process_vm_readv", err)
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_, _ = syscall.Wait4(pid, &ws, 0, nil)
	}
	pid, err = syscall.ForkExec("/bin/sleep", []string{"sleep", "100"}, &syscall.ProcAttr{Env: os.Environ()})
	if err != nil {
		report("fork", err)
		return 1
	}
	report("attach", syscall.PtraceAttach(pid))
	_ = syscall.Kill(pid, syscall.SIGKILL)
	var ws syscall.WaitStatus
	_, _ = syscall.Wait4(pid, &ws, 0, nil)
	return 0
}

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func requireHardened(t *testing.T) {
	t.Helper()
	requireNamespaces(t)
	if probe().userns {
		t.Skip("rootless mode: the runtime is root of its user namespace; see TestRootless*")
	}
}

// TestHostileEscapes: a function that looks around and tries the usual
// escapes sees only its own root and is refused every one.
func TestHostileEscapes(t *testing.T) {
	requireHardened(t)
	t.Parallel()
	e := newEnv(t, "inspect")
	// Another function's code and the data directory beside this one's.
	other := filepath.Join(filepath.Dir(e.spec.CodeDir), "other-function")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "secret.py"), []byte("KEY=1"), 0o644); err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	// A setuid-root copy of the test binary in the code.
	suid := filepath.Join(e.spec.CodeDir, "suid")
	if err := linkOrCopy(self, suid+".tmp"); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(suid+".tmp", suid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(suid, 0o4755); err != nil {
		t.Fatal(err)
	}
	hostPaths := []string{e.spec.CodeDir, filepath.Dir(e.spec.CodeDir), other, filepath.Join(other, "secret.py"),
		self, "/root", "/home", "/sys", "/run", "/var/lib", "/etc/shadow", "/proc/1/root", "/proc/1/exe"}
	e.spec.Env = append(e.spec.Env, "HOSTILE_PATHS="+strings.Join(hostPaths, ":"), "HOSTILE_SETUID="+TaskRoot+"/suid")
	p := start(t, e)
	waitDone(t, p)
	var r inspection
	if err := json.Unmarshal([]byte(e.out.String()), &r); err != nil || p.ExitErr() != nil {
		t.Fatalf("inspect: exit %v, output %q", p.ExitErr(), e.out.String())
	}

	if r.UID < uidBase || r.EUID != r.UID || r.GID != r.UID {
		t.Errorf("uid %d euid %d gid %d, want a sandbox uid ≥ %d", r.UID, r.EUID, r.GID, uidBase)
	}
	for _, k := range []string{"CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"} {
		if r.Status[k] != "0000000000000000" {
			t.Errorf("%s = %q, want no capabilities", k, r.Status[k])
		}
	}
	if r.Status["NoNewPrivs"] != "1" || r.Status["Seccomp"] != "2" {
		t.Errorf("NoNewPrivs %q Seccomp %q, want 1 and 2 (filter)", r.Status["NoNewPrivs"], r.Status["Seccomp"])
	}
	if !strings.Contains(" "+strings.Join(r.RootEntries, " ")+" ", " opt ") {
		t.Errorf("no /opt in the environment's root %v", r.RootEntries)
	}
	for _, name := range r.RootEntries {
		switch name {
		case "usr", "bin", "sbin", "lib", "lib64", "lib32", "libx32", "etc", "var", "opt", "tmp", "dev", "proc",
			"node_modules": // a link to /var/runtime/node_modules (ES module imports of the runtime's AWS SDK)
		default:
			t.Errorf("/%s is visible in the environment's root", name)
		}
	}
	if len(r.ProcPids) != 1 {
		t.Errorf("/proc lists pids %v, want only the runtime itself (init is hidden)", r.ProcPids)
	}
	for _, path := range hostPaths {
		if !strings.Contains(r.Stat[path], "no such file or directory") {
			t.Errorf("stat %s inside: %q, want no such file or directory", path, r.Stat[path])
		}
	}
	for attempt, want := range map[string]string{
		"mount": "operation not permitted", "umount": "operation not permitted",
		"unshare-user": "operation not permitted", "unshare-net": "operation not permitted",
		"chroot": "operation not permitted", "ptrace": "operation not permitted",
		"kill-init": "operation not permitted", "setuid-0": "operation not permitted",
		"sethostname": "operation not permitted", "bpf": "operation not permitted",
		"keyctl": "operation not permitted", "io_uring_setup": "operation not permitted",
		"clone3": "function not implemented", "af_packet": "address family not supported",
		"write-init-exe": "no such file or directory",
	} {
		if got := r.Refused[attempt]; !strings.Contains(got, want) {
			t.Errorf("%s: got %q, want %q", attempt, got, want)
		}
	}
	if r.SetuidEUID != strconv.Itoa(r.UID) {
		t.Errorf("a setuid-root binary ran with euid %q, want the sandbox uid %d", r.SetuidEUID, r.UID)
	}
}

// copyFile copies an executable with cp(1), so that no process of this
// test binary ever holds dst open for writing: a fork by a parallel test
// would inherit that descriptor and exec of dst would fail with ETXTBSY
// (golang.org/issue/22315).
func copyFile(src, dst string) error {
	if out, err := exec.Command("cp", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("cp %s %s: %w: %s", src, dst, err, out)
	}
	return os.Chmod(dst, 0o755)
}

// TestInitRunsSealedCopy: the init binary cannot be written through
// /proc/<pid>/exe (CVE-2019-5736).
func TestInitRunsSealedCopy(t *testing.T) {
	requireNamespaces(t)
	t.Parallel()
	e := newEnv(t, "sleep")
	p := start(t, e)
	exe, err := os.Readlink("/proc/" + strconv.Itoa(p.Pid()) + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(exe, "/memfd:nimbus-sandbox-init") {
		t.Fatalf("init runs %s, want the sealed memfd copy", exe)
	}
	f, err := os.OpenFile("/proc/"+strconv.Itoa(p.Pid())+"/exe", os.O_WRONLY, 0)
	if err == nil {
		_, err = f.Write([]byte("x"))
		_ = f.Close()
	}
	if err == nil {
		t.Fatal("wrote to init's executable through /proc/<pid>/exe")
	}
}

// TestHostileForkBomb: a fork bomb hits the environment's pid limit and
// fails inside it; other environments still start; Kill removes it all.
func TestHostileForkBomb(t *testing.T) {
	requireCgroups(t)
	t.Parallel()
	e := newEnv(t, "forkbomb")
	e.spec.MemoryMB = 512
	p := start(t, e)
	e.out.waitFor(t, "fork refused")
	var n int
	var msg string
	for _, line := range strings.Split(e.out.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "fork refused after "); ok {
			count, m, _ := strings.Cut(rest, ": ")
			n, _ = strconv.Atoi(count)
			msg = m
		}
	}
	if !strings.Contains(msg, "resource temporarily unavailable") || n < PidsMax/2 || n >= PidsMax {
		t.Errorf("fork refused after %d with %q, want EAGAIN below the %d pids limit", n, msg, PidsMax)
	}
	for _, d := range p.cg.dirs() {
		if b, err := os.ReadFile(filepath.Join(d, "pids.current")); err == nil {
			if cur, _ := strconv.Atoi(strings.TrimSpace(string(b))); cur > PidsMax {
				t.Errorf("pids.current %d above pids.max %d", cur, PidsMax)
			}
		}
	}
	// Another environment is unaffected.
	other := newEnv(t, "hello")
	op := start(t, other)
	waitDone(t, op)
	if op.ExitErr() != nil || !strings.Contains(other.out.String(), "hello from inside") {
		t.Errorf("an environment beside the fork bomb: exit %v, output %q", op.ExitErr(), other.out.String())
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if n := survivors(e.token); n != 0 {
		t.Fatalf("%d processes of the fork bomb survived Kill", n)
	}
}

// TestHostileTmpFiller: filling /tmp ends in ENOSPC at the ephemeral size
// inside the function (which goes on running); the host's disk is not
// written.
func TestHostileTmpFiller(t *testing.T) {
	requireHardened(t)
	t.Parallel()
	e := newEnv(t, "fill")
	e.spec.TmpMB = 16
	p := start(t, e)
	waitDone(t, p)
	out := e.out.String()
	if p.ExitErr() != nil || p.OOMKilled() {
		t.Fatalf("filler: exit %v oom %v, output %q", p.ExitErr(), p.OOMKilled(), out)
	}
	var n int
	var msg string
	if _, err := fmt.Sscanf(out, "filled %d MB: ", &n); err != nil {
		t.Fatalf("output %q", out)
	}
	_, msg, _ = strings.Cut(out, ": ")
	if !strings.Contains(msg, "no space left on device") || n < 15 || n > 16 {
		t.Errorf("filled %d MB with %q, want ENOSPC at 16 MB", n, strings.TrimSpace(msg))
	}
	if ents, _ := os.ReadDir(e.spec.TmpDir); len(ents) != 0 {
		t.Errorf("the host's directory got %d files", len(ents))
	}
}

// The seccomp policy assembles for this architecture (every syscall name
// exists in its table) and keeps the checks it promises, with and without
// tracing.
func TestSeccompPolicyAssembles(t *testing.T) {
	for _, ptrace := range []bool{false, true} {
		pol := seccompPolicy(ptrace)
		prog, err := pol.Assemble()
		if err != nil {
			t.Fatal(err)
		}
		if len(prog) < len(deniedSyscalls)-len(tracingSyscalls) {
			t.Errorf("ptrace %v: %d instructions for %d denied syscalls", ptrace, len(prog), len(deniedSyscalls))
		}
	}
}

// TestDebuggerMayTraceItsChildren: an ordinary environment's runtime is
// refused every way of tracing its own child (PTRACE_TRACEME, attach,
// process_vm_readv); with Spec.Debugger (a debug port's Delve) the same
// runtime may, and the rest of the sandbox holds (no capabilities,
// no_new_privs, the filter loaded, the init out of reach).
func TestDebuggerMayTraceItsChildren(t *testing.T) {
	requireHardened(t)
	t.Parallel()
	for _, debugger := range []bool{false, true} {
		e := newEnv(t, "trace")
		e.spec.Debugger = debugger
		p := start(t, e)
		waitDone(t, p)
		out := e.out.String()
		want := "operation not permitted"
		if debugger {
			want = "ok"
		}
		for _, attempt := range []string{"traceme", "process_vm_readv", "attach"} {
			if !debugger && attempt == "process_vm_readv" {
				continue // needs a traced child, which was refused
			}
			if !strings.Contains(out, attempt+": "+want+"\n") {
				t.Errorf("debugger %v: %s, want %q; output:\n%s", debugger, attempt, want, out)
			}
		}
	}
	// The rest of the sandbox is unchanged in a debugger's environment.
	e := newEnv(t, "inspect")
	e.spec.Debugger = true
	p := start(t, e)
	waitDone(t, p)
	var r inspection
	if err := json.Unmarshal([]byte(e.out.String()), &r); err != nil || p.ExitErr() != nil {
		t.Fatalf("inspect: exit %v, output %q", p.ExitErr(), e.out.String())
	}
	if r.Status["CapEff"] != "0000000000000000" || r.Status["CapBnd"] != "0000000000000000" ||
		r.Status["NoNewPrivs"] != "1" || r.Status["Seccomp"] != "2" {
		t.Errorf("status %v, want no capabilities, no_new_privs and the filter", r.Status)
	}
	for attempt, want := range map[string]string{
		"ptrace": "operation not permitted", // init: another uid, no capability
		"mount":  "operation not permitted", "unshare-user": "operation not permitted",
		"kill-init": "operation not permitted", "bpf": "operation not permitted",
	} {
		if got := r.Refused[attempt]; !strings.Contains(got, want) {
			t.Errorf("debugger environment: %s: got %q, want %q", attempt, got, want)
		}
	}
}

// LimitCPU caps the environment at memory/1769 of a CPU (Lambda's model).
func TestLimitCPU(t *testing.T) {
	requireCgroups(t)
	if !probe().cgroups.has("cpu") {
		t.Skip("no cpu controller on this machine")
	}
	t.Parallel()
	e := newEnv(t, "sleep")
	p := start(t, e)
	if err := p.LimitCPU(1769 * 2); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range p.cg.dirs() {
		if b, err := os.ReadFile(filepath.Join(d, "cpu.cfs_quota_us")); err == nil {
			found = true
			if got := strings.TrimSpace(string(b)); got != "200000" {
				t.Errorf("cpu.cfs_quota_us %s, want 200000 (two CPUs: twice the 100000 µs period)", got)
			}
		}
		if b, err := os.ReadFile(filepath.Join(d, "cpu.max")); err == nil {
			found = true
			if got := strings.TrimSpace(string(b)); got != "200000 100000" {
				t.Errorf("cpu.max %q, want two CPUs", got)
			}
		}
	}
	if !found {
		t.Error("no CPU quota file in the environment's cgroups")
	}
}
