package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the sandbox init (MaybeRunInit) and as the
// "runtime" inside the environment (helperEnv names what it does).
const helperEnv = "SANDBOX_TEST_HELPER"

func TestMain(m *testing.M) {
	if MaybeRunInit() {
		return
	}
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

// probeReport is what the "probe" helper sees from inside.
type probeReport struct {
	Pid, Ppid    int
	Pgid, Sid    int
	Hostname     string
	Cwd          string
	Env          []string
	WriteTask    string // error writing /var/task
	WriteRoot    string // error writing /etc
	WriteTmp     string // error writing /tmp
	TmpEntries   []string
	TaskEntries  []string
	VarLib       bool
	ProcEntries  int // numeric entries in /proc
	NoFileLimit  uint64
	DevNullWrite string
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// hog keeps the "alloc" helper's allocations reachable.
var hog [][]byte

func helper(mode string) int {
	switch mode {
	case "probe":
		var r probeReport
		r.Pid, r.Ppid = os.Getpid(), os.Getppid()
		r.Pgid, _ = syscall.Getpgid(0)
		sid, _, _ := syscall.RawSyscall(syscall.SYS_GETSID, 0, 0, 0)
		r.Sid = int(sid)
		r.Hostname, _ = os.Hostname()
		r.Cwd, _ = os.Getwd()
		r.Env = os.Environ()
		task := os.Getenv("LAMBDA_TASK_ROOT")
		r.WriteTask = errString(os.WriteFile(filepath.Join(task, "x"), []byte("x"), 0o644))
		r.WriteRoot = errString(os.WriteFile("/etc/nimbus-sandbox-test", []byte("x"), 0o644))
		tmp := os.TempDir()
		if ents, err := os.ReadDir(tmp); err == nil {
			for _, e := range ents {
				r.TmpEntries = append(r.TmpEntries, e.Name())
			}
		}
		r.WriteTmp = errString(os.WriteFile(filepath.Join(tmp, "written-inside"), []byte("x"), 0o644))
		if ents, err := os.ReadDir(task); err == nil {
			for _, e := range ents {
				r.TaskEntries = append(r.TaskEntries, e.Name())
			}
		}
		_, err := os.Stat("/var/lib")
		r.VarLib = err == nil
		if ents, err := os.ReadDir("/proc"); err == nil {
			for _, e := range ents {
				if _, err := strconv.Atoi(e.Name()); err == nil {
					r.ProcEntries++
				}
			}
		}
		var rl syscall.Rlimit
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
		r.NoFileLimit = rl.Cur
		r.DevNullWrite = errString(os.WriteFile("/dev/null", []byte("x"), 0))
		_ = json.NewEncoder(os.Stdout).Encode(&r)
		return 0
	case "alloc":
		fmt.Println("allocating")
		for {
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			hog = append(hog, b)
		}
	case "spawn":
		// Children in the group, and grandchildren that start their own
		// session (escaping the process group).
		self, _ := os.Executable()
		for i := range 3 {
			cmd := exec.Command(self)
			cmd.Env = append(os.Environ(), helperEnv+"=sleep")
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: i == 2}
			if err := cmd.Start(); err != nil {
				fmt.Println("spawn failed:", err)
				return 1
			}
		}
		fmt.Println("spawned")
		for {
			time.Sleep(time.Hour)
		}
	case "escape":
		// A daemon that leaves the process group but keeps stdout open.
		self, _ := os.Executable()
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), helperEnv+"=sleep")
		cmd.Stdout = os.Stdout
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			return 1
		}
		fmt.Println("escaped")
		return 0
	case "dial":
		// GET the environment's own listener, then try the host's.
		resp, err := http.Get("http://" + os.Getenv("RT_API") + "/hello")
		if err != nil {
			fmt.Println("own listener:", err)
			return 1
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		fmt.Printf("own listener: %s\n", b)
		c, err := net.DialTimeout("tcp", os.Getenv("HOST_ADDR"), 2*time.Second)
		if err == nil {
			_ = c.Close()
			fmt.Println("host listener: reachable")
		} else {
			fmt.Println("host listener: unreachable:", err)
		}
		return 0
	case "ticker":
		for {
			fmt.Println("tick")
			time.Sleep(5 * time.Millisecond)
		}
	case "sleep":
		for {
			time.Sleep(time.Hour)
		}
	case "exit":
		code, _ := strconv.Atoi(os.Getenv("HELPER_CODE"))
		return code
	case "hello":
		fmt.Println("hello from inside")
		return 0
	}
	return hostile(mode)
}

// lines is an io.Writer that records output and hands out lines.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
	ch  chan string
	rem []byte
}

func newLines() *lines { return &lines{ch: make(chan string, 100)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	l.rem = append(l.rem, p...)
	for {
		i := bytes.IndexByte(l.rem, '\n')
		if i < 0 {
			break
		}
		select {
		case l.ch <- string(l.rem[:i]):
		default:
		}
		l.rem = l.rem[i+1:]
	}
	return len(p), nil
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *lines) waitFor(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case s := <-l.ch:
			if strings.Contains(s, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q in output %q", want, l.String())
		}
	}
}

type env struct {
	spec  Spec
	out   *lines
	token string
}

// newEnv lays out a code dir holding the test binary as "bootstrap" and a
// spec that runs it in helper mode.
func newEnv(t *testing.T, mode string, extraEnv ...string) *env {
	t.Helper()
	dir := t.TempDir()
	code := filepath.Join(dir, "code")
	rt := filepath.Join(dir, "runtime")
	tmp := filepath.Join(dir, "tmp")
	for _, d := range []string{code, rt, tmp} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := linkOrCopy(self, filepath.Join(code, "bootstrap")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(code, "data.txt"), []byte("code"), 0o644); err != nil {
		t.Fatal(err)
	}
	token := randHex(8)
	e := &env{out: newLines(), token: token}
	e.spec = Spec{
		ID:         "test-" + randHex(8),
		Argv:       []string{TaskRoot + "/bootstrap"},
		CodeDir:    code,
		RuntimeDir: rt,
		TmpDir:     tmp,
		TmpMB:      64,
		MemoryMB:   128,
		Env: append([]string{
			helperEnv + "=" + mode,
			"NIMBUS_TEST_TOKEN=" + token,
			"LAMBDA_TASK_ROOT=" + TaskRoot,
			"PATH=/usr/local/bin:/usr/bin:/bin",
			"GORACE=atexit_sleep_ms=0",
		}, extraEnv...),
		Stdout: e.out,
		Stderr: e.out,
	}
	return e
}

func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close() //nolint:errcheck // read only
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func requireNamespaces(t *testing.T) {
	t.Helper()
	if !probe().namespaces {
		t.Skipf("sandbox mode is %q; namespace tests need root", Mode())
	}
}

func requireCgroups(t *testing.T) {
	t.Helper()
	requireNamespaces(t)
	if !strings.Contains(Mode(), "cgroup-v") {
		t.Skipf("sandbox mode is %q; cgroup tests need cgroups", Mode())
	}
}

func start(t *testing.T, e *env) *Process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := Start(ctx, e.spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = p.Kill() })
	return p
}

func waitDone(t *testing.T, p *Process) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("process did not exit")
	}
}

func runProbe(t *testing.T, e *env) probeReport {
	t.Helper()
	p := start(t, e)
	waitDone(t, p)
	if err := p.ExitErr(); err != nil {
		t.Fatalf("probe exited with %v; output %q", err, e.out.String())
	}
	var r probeReport
	if err := json.Unmarshal([]byte(e.out.String()), &r); err != nil {
		t.Fatalf("probe output %q: %v", e.out.String(), err)
	}
	return r
}

func TestNamespacedFilesystem(t *testing.T) {
	requireNamespaces(t)
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tmpDir bool // unhardened, /tmp bound from TmpDir
	}{{"unhardened-tmp-dir", true}, {"hardened-tmpfs", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "probe")
			if !tc.tmpDir {
				e.spec.TmpDir = ""
			} else {
				e.spec.Unhardened = true
				if err := os.WriteFile(filepath.Join(e.spec.TmpDir, "preexisting"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r := runProbe(t, e)
			if !strings.Contains(r.WriteTask, "read-only file system") {
				t.Errorf("writing /var/task: got %q, want read-only file system", r.WriteTask)
			}
			if want := "read-only file system"; tc.tmpDir && !strings.Contains(r.WriteRoot, want) ||
				!tc.tmpDir && !strings.Contains(r.WriteRoot, want) && !strings.Contains(r.WriteRoot, "permission denied") {
				t.Errorf("writing /etc: got %q, want read-only file system", r.WriteRoot)
			}
			if r.WriteTmp != "" {
				t.Errorf("writing /tmp: %s", r.WriteTmp)
			}
			if r.DevNullWrite != "" {
				t.Errorf("writing /dev/null: %s", r.DevNullWrite)
			}
			wantTmp := []string(nil)
			if tc.tmpDir {
				wantTmp = []string{"preexisting"}
				if _, err := os.Stat(filepath.Join(e.spec.TmpDir, "written-inside")); err != nil {
					t.Errorf("file written to /tmp inside is not in TmpDir: %v", err)
				}
			}
			if fmt.Sprint(r.TmpEntries) != fmt.Sprint(wantTmp) {
				t.Errorf("/tmp inside holds %v, want %v (private)", r.TmpEntries, wantTmp)
			}
			if !strings.Contains(strings.Join(r.TaskEntries, ","), "data.txt") {
				t.Errorf("/var/task holds %v, want the code", r.TaskEntries)
			}
			if r.Cwd != TaskRoot {
				t.Errorf("cwd %q, want %s", r.Cwd, TaskRoot)
			}
			if r.VarLib != tc.tmpDir {
				t.Errorf("/var/lib of the host visible inside: %v, want %v (only unhardened)", r.VarLib, tc.tmpDir)
			}
			if r.Ppid != 1 {
				t.Errorf("runtime's parent is pid %d, want init as pid 1", r.Ppid)
			}
			if r.ProcEntries > 3 {
				t.Errorf("/proc shows %d processes, want only this environment's", r.ProcEntries)
			}
			if r.Hostname != "nimbus" {
				t.Errorf("hostname %q", r.Hostname)
			}
			if r.NoFileLimit != 1024 {
				t.Errorf("RLIMIT_NOFILE %d, want 1024", r.NoFileLimit)
			}
			if fmt.Sprint(r.Env) != fmt.Sprint(e.spec.Env) {
				t.Errorf("environment inside %q, want exactly %q", r.Env, e.spec.Env)
			}
			if _, err := os.Stat("/var/task"); err == nil {
				t.Error("/var/task exists on the host")
			}
		})
	}
}

func TestInheritedFDsClosed(t *testing.T) {
	t.Parallel()
	// An fd the server holds without O_CLOEXEC must not reach the runtime.
	leak, err := syscall.Open("/etc/hostname", syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(leak) //nolint:errcheck // test fd
	for _, groupOnly := range []bool{false, true} {
		e := newEnv(t, "")
		e.spec.Argv = []string{"/bin/ls", "-l", "/proc/self/fd/"}
		e.spec.groupOnly = groupOnly
		p := start(t, e)
		waitDone(t, p)
		if err := p.ExitErr(); err != nil {
			t.Fatalf("ls: %v: %s", err, e.out.String())
		}
		fds := map[string]string{}
		for _, line := range strings.Split(e.out.String(), "\n") {
			left, target, ok := strings.Cut(line, " -> ")
			if !ok {
				continue
			}
			f := strings.Fields(left)
			fds[f[len(f)-1]] = target
		}
		for fd, target := range fds {
			switch {
			case fd == "0" || fd == "1" || fd == "2":
			case strings.HasPrefix(target, "/proc/") && strings.HasSuffix(target, "/fd"): // ls's own
			default:
				t.Errorf("groupOnly=%v: fd %s (%s) is open in the runtime", groupOnly, fd, target)
			}
		}
		if len(fds) != 4 {
			t.Errorf("groupOnly=%v: fds %v: want 0, 1, 2 and ls's directory", groupOnly, fds)
		}
	}
}

func TestOOMKilled(t *testing.T) {
	requireCgroups(t)
	t.Parallel()
	e := newEnv(t, "alloc")
	e.spec.MemoryMB = 32
	p := start(t, e)
	waitDone(t, p)
	if !p.OOMKilled() {
		t.Fatalf("OOMKilled false; exit %v", p.ExitErr())
	}
	var ee *ExitError
	if !errors.As(p.ExitErr(), &ee) || p.ExitErr().Error() != "signal: killed" {
		t.Fatalf("ExitErr %v, want signal: killed", p.ExitErr())
	}
	if peak, ok := p.MemoryPeak(); !ok || peak < 16<<20 {
		t.Errorf("MemoryPeak %d %v, want near the 32 MB limit", peak, ok)
	}
}

func TestNotOOMKilled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "exit", "HELPER_CODE=3")
	p := start(t, e)
	waitDone(t, p)
	if p.OOMKilled() {
		t.Error("OOMKilled for a plain exit")
	}
	var ee *ExitError
	if !errors.As(p.ExitErr(), &ee) || ee.Error() != "exit status 3" {
		t.Fatalf("ExitErr %v, want exit status 3", p.ExitErr())
	}
}

func TestCleanExit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "hello")
	p := start(t, e)
	waitDone(t, p)
	if err := p.ExitErr(); err != nil {
		t.Fatalf("ExitErr %v", err)
	}
	if !strings.Contains(e.out.String(), "hello from inside") {
		t.Fatalf("output %q", e.out.String())
	}
}

// survivors counts host processes carrying token in their environment.
func survivors(token string) int {
	n := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && bytes.Contains(b, []byte("NIMBUS_TEST_TOKEN="+token)) {
			n++
		}
	}
	return n
}

func testKill(t *testing.T, groupOnly bool) {
	e := newEnv(t, "spawn")
	e.spec.groupOnly = groupOnly
	p := start(t, e)
	e.out.waitFor(t, "spawned")
	if n := survivors(e.token); n < 4 {
		t.Fatalf("%d processes before Kill, want runtime + 3 children", n)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if n := survivors(e.token); n != 0 {
		t.Fatalf("%d processes survived Kill", n)
	}
	if p.cg != nil {
		for _, d := range p.cg.dirs() {
			if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("cgroup %s not removed: %v", d, err)
			}
		}
	}
	if p.ExitErr() == nil {
		t.Error("ExitErr nil after Kill")
	}
}

func TestKillLeavesNoSurvivors(t *testing.T) {
	requireNamespaces(t)
	t.Parallel()
	testKill(t, false)
}

func TestCgroupLimits(t *testing.T) {
	requireCgroups(t)
	t.Parallel()
	e := newEnv(t, "sleep")
	e.spec.MemoryMB = 200
	p := start(t, e)
	want := map[string]string{
		// The limit covers the tmpfs /tmp (64 MB here) too.
		"memory.limit_in_bytes": strconv.Itoa(264 << 20), // v1
		"memory.max":            strconv.Itoa(264 << 20), // v2
		"pids.max":              "1024",
	}
	found := 0
	for _, d := range p.cg.dirs() {
		for f, v := range want {
			b, err := os.ReadFile(filepath.Join(d, f))
			if err != nil {
				continue
			}
			found++
			if got := strings.TrimSpace(string(b)); got != v {
				t.Errorf("%s = %s, want %s", f, got, v)
			}
		}
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil || !strings.Contains(" "+strings.Join(strings.Fields(string(b)), " ")+" ", " "+strconv.Itoa(p.Pid())+" ") {
			t.Errorf("init %d not in %s/cgroup.procs (%q, %v)", p.Pid(), d, b, err)
		}
	}
	if found < 2 {
		t.Errorf("found %d of the limit files", found)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
}

func TestExecMissing(t *testing.T) {
	t.Parallel()
	for _, groupOnly := range []bool{false, true} {
		e := newEnv(t, "probe")
		e.spec.Argv = []string{TaskRoot + "/nope"}
		e.spec.groupOnly = groupOnly
		_, err := Start(context.Background(), e.spec)
		if !errors.Is(err, ErrExec) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("groupOnly=%v: err %v, want ErrExec and ErrNotExist", groupOnly, err)
		}
	}
}

func TestStartCanceled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sleep")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Start(ctx, e.spec); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if n := survivors(e.token); n != 0 {
		t.Fatalf("%d processes left after a canceled start", n)
	}
}

func TestBadSpec(t *testing.T) {
	t.Parallel()
	for _, s := range []Spec{
		{ID: "", Argv: []string{"x"}, CodeDir: "/", RuntimeDir: "/"},
		{ID: "../x", Argv: []string{"x"}, CodeDir: "/", RuntimeDir: "/"},
		{ID: "ok", CodeDir: "/", RuntimeDir: "/"},
		{ID: "ok", Argv: []string{"x"}},
	} {
		if _, err := Start(context.Background(), s); err == nil {
			t.Errorf("Start(%+v) succeeded", s)
		}
	}
}

func TestProcessGroupMode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "probe", "LD_LIBRARY_PATH=/lib64:/var/runtime:/var/task/lib", "TMPDIR=")
	e.spec.groupOnly = true
	// TMPDIR given empty is kept; drop it to see the sandbox set it.
	e.spec.Env = e.spec.Env[:len(e.spec.Env)-1]
	r := runProbe(t, e)
	envs := map[string]string{}
	for _, kv := range r.Env {
		k, v, _ := strings.Cut(kv, "=")
		envs[k] = v
	}
	if envs["LAMBDA_TASK_ROOT"] != e.spec.CodeDir {
		t.Errorf("LAMBDA_TASK_ROOT %q, want %q", envs["LAMBDA_TASK_ROOT"], e.spec.CodeDir)
	}
	if want := "/lib64:" + e.spec.RuntimeDir + ":" + e.spec.CodeDir + "/lib"; envs["LD_LIBRARY_PATH"] != want {
		t.Errorf("LD_LIBRARY_PATH %q, want %q", envs["LD_LIBRARY_PATH"], want)
	}
	if envs["TMPDIR"] != e.spec.TmpDir {
		t.Errorf("TMPDIR %q, want %q", envs["TMPDIR"], e.spec.TmpDir)
	}
	if r.Cwd != e.spec.CodeDir {
		t.Errorf("cwd %q, want %q", r.Cwd, e.spec.CodeDir)
	}
	if r.Pgid != r.Pid || r.Sid != r.Pid {
		t.Errorf("pid %d pgid %d sid %d: want its own session", r.Pid, r.Pgid, r.Sid)
	}
}

func TestProcessGroupKill(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "spawn")
	e.spec.groupOnly = true
	p := start(t, e)
	e.out.waitFor(t, "spawned")
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	// A child that started its own session escapes a plain process group
	// (a documented limit of this mode); everything in the group is gone.
	if n := survivors(e.token); n != 1 {
		t.Fatalf("%d processes survived Kill", n)
	}
	killToken(e.token)
}

func TestProcessGroupEscapedOutputHolder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "escape")
	e.spec.groupOnly = true
	p := start(t, e)
	defer killToken(e.token)
	// Done must not wait for the escaped daemon's copy of the pipe.
	waitDone(t, p)
	if err := p.ExitErr(); err != nil || !strings.Contains(e.out.String(), "escaped") {
		t.Fatalf("exit %v output %q", err, e.out.String())
	}
}

// killToken removes the escaped helper of process-group mode.
func killToken(token string) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && bytes.Contains(b, []byte("NIMBUS_TEST_TOKEN="+token)) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func TestPathRewriter(t *testing.T) {
	rw := pathRewriter("/data/code/abc", "/data/runtime")
	for in, want := range map[string]string{
		"/var/task":                         "/data/code/abc",
		"/var/task/bootstrap":               "/data/code/abc/bootstrap",
		"/var/runtime/bootstrap":            "/data/runtime/bootstrap",
		"/lib64:/var/runtime:/var/task/lib": "/lib64:/data/runtime:/data/code/abc/lib",
		"/var/taskforce":                    "/var/taskforce",
		"/x/var/task":                       "/x/var/task",
		"hello":                             "hello",
	} {
		if got := rw(in); got != want {
			t.Errorf("rewrite %q = %q, want %q", in, got, want)
		}
	}
}

func TestExitErrorText(t *testing.T) {
	for _, c := range []struct {
		ws   syscall.WaitStatus
		want string
	}{
		{syscall.WaitStatus(3 << 8), "exit status 3"},
		{syscall.WaitStatus(syscall.SIGKILL), "signal: killed"},
		{syscall.WaitStatus(syscall.SIGSEGV | 0x80), "signal: segmentation fault (core dumped)"},
	} {
		if got := exitErr(c.ws).Error(); got != c.want {
			t.Errorf("%#x: %q, want %q", uint32(c.ws), got, c.want)
		}
	}
	if exitErr(0) != nil {
		t.Error("status 0 is an error")
	}
}

func TestMode(t *testing.T) {
	m := Mode()
	if os.Geteuid() == 0 && probe().namespaces && !strings.HasPrefix(m, "namespaces") {
		t.Errorf("Mode %q as root", m)
	}
	if os.Geteuid() != 0 && !strings.HasPrefix(m, "process-group") {
		t.Errorf("Mode %q when not root", m)
	}
	t.Logf("mode: %s", m)
}

// FuzzPathRewriter rewrites function-controlled environment values.
func FuzzPathRewriter(f *testing.F) {
	for _, s := range []string{"/var/task", "/lib64:/var/runtime:/var/task/lib", "/var/taskx", "a=/var/task,b", ""} {
		f.Add(s)
	}
	rw := pathRewriter("/data/code/k", "/data/rt")
	same := pathRewriter(TaskRoot, RuntimeDir)
	f.Fuzz(func(t *testing.T, s string) {
		got := rw(s)
		if !strings.Contains(s, "/var/") && got != s {
			t.Fatalf("rewrote %q to %q", s, got)
		}
		if id := same(s); id != s {
			t.Fatalf("identity rewrite changed %q to %q", s, id)
		}
	})
}

func TestFreezeThaw(t *testing.T) {
	requireNamespaces(t)
	t.Parallel()
	e := newEnv(t, "ticker")
	p := start(t, e)
	e.out.waitFor(t, "tick")
	if err := p.Freeze(); err != nil {
		t.Fatal(err)
	}
	if p.cg != nil {
		frozen := false
		for _, d := range p.cg.dirs() {
			if b, err := os.ReadFile(filepath.Join(d, "freezer.state")); err == nil {
				frozen = strings.TrimSpace(string(b)) == "FROZEN"
			}
			if b, err := os.ReadFile(filepath.Join(d, "cgroup.events")); err == nil {
				frozen = strings.Contains(string(b), "frozen 1")
			}
		}
		if !frozen {
			t.Error("cgroup freezer does not say frozen")
		}
	}
	// Drop the ticks written before the freeze.
	for drained := false; !drained; {
		select {
		case <-e.out.ch:
		default:
			drained = true
		}
	}
	if err := p.Thaw(); err != nil {
		t.Fatal(err)
	}
	// Ticks resume after the thaw.
	e.out.waitFor(t, "tick")
	// A frozen environment can still be killed.
	if err := p.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if n := survivors(e.token); n != 0 {
		t.Fatalf("%d processes survived Kill of a frozen environment", n)
	}
	if err := p.Freeze(); err == nil {
		t.Error("Freeze of an exited environment succeeded")
	}
}

func TestListenersInsideEnvironment(t *testing.T) {
	t.Parallel()
	host, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close() //nolint:errcheck // test listener
	for _, groupOnly := range []bool{false, true} {
		if !groupOnly && !probe().namespaces {
			continue
		}
		e := newEnv(t, "dial", "HOST_ADDR="+host.Addr().String())
		e.spec.groupOnly = groupOnly
		e.spec.Listeners = []Listener{{Port: 9001, Env: "RT_API"}}
		p := start(t, e)
		lns := p.Listeners()
		if len(lns) != 1 {
			t.Fatalf("groupOnly=%v: %d listeners", groupOnly, len(lns))
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "served "+e.token)
		}), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(lns[0]) }()
		waitDone(t, p)
		_ = srv.Close()
		out := e.out.String()
		if p.ExitErr() != nil || !strings.Contains(out, "own listener: served "+e.token) {
			t.Fatalf("groupOnly=%v: exit %v, output %q", groupOnly, p.ExitErr(), out)
		}
		if groupOnly {
			continue
		}
		if !strings.Contains(out, "host listener: unreachable") {
			t.Errorf("the host's loopback is reachable from inside the environment: %q", out)
		}
		if lns[0].Addr().String() != "127.0.0.1:9001" {
			t.Errorf("listener address %s, want 127.0.0.1:9001 (inside)", lns[0].Addr())
		}
	}
}
