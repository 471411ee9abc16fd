package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rootlessHelper runs as an ordinary user: it reports the sandbox mode and
// what a shell sees inside an environment.
func rootlessHelper() int {
	fmt.Println("mode:", Mode())
	dir, err := os.MkdirTemp("", "rootless-")
	if err != nil {
		fmt.Println("tempdir:", err)
		return 1
	}
	defer os.RemoveAll(dir) //nolint:errcheck // test
	out := newLines()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := Start(ctx, Spec{
		ID: "rootless", CodeDir: dir, RuntimeDir: dir, TmpMB: 16, MemoryMB: 128,
		Argv:      []string{"/bin/sh", "-c", "echo uid=$(id -u); grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp)' /proc/self/status; echo root: $(ls /); echo procs: $(ls /proc | grep -c '^[0-9]'); echo tmp: $(touch /tmp/x && echo ok)"},
		Env:       []string{"PATH=/usr/bin:/bin"},
		Stdout:    out,
		Stderr:    out,
		Listeners: []Listener{{Port: 9001, Env: "AWS_LAMBDA_RUNTIME_API"}},
	})
	if err != nil {
		fmt.Println("start:", err)
		return 1
	}
	<-p.Done()
	closeListeners(p.Listeners())
	fmt.Print(out.String())
	fmt.Println("exit:", p.ExitErr())
	return 0
}

// An ordinary user gets the namespace layers in a user namespace: a
// minimal root, no capabilities, no_new_privs and seccomp.
func TestRootless(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs the test binary as nobody: needs root to switch users")
	}
	t.Parallel()
	dir, err := os.MkdirTemp("", "nimbus-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir) //nolint:errcheck // test
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	bin := filepath.Join(dir, "sandbox.test")
	if err := copyFile(self, bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{helperEnv + "=rootless", "PATH=/usr/bin:/bin", "TMPDIR=/tmp", "GORACE=atexit_sleep_ms=0"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	b, err := cmd.CombinedOutput()
	out := string(b)
	if err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	if strings.Contains(out, "mode: process-group") {
		t.Skipf("no unprivileged user namespaces on this machine:\n%s", out)
	}
	for _, want := range []string{
		"mode: rootless", "uid=0", "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000",
		"NoNewPrivs:\t1", "Seccomp:\t2", "tmp: ok", "exit: <nil>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	// Only the environment's processes: init, the shell and its pipeline.
	var procs int
	if i := strings.Index(out, "procs: "); i < 0 {
		t.Errorf("no process count in\n%s", out)
	} else if _, err := fmt.Sscanf(out[i:], "procs: %d", &procs); err != nil || procs > 6 {
		t.Errorf("/proc lists %d processes in the rootless environment", procs)
	}
	for _, hostOnly := range []string{" home", " root", " sys", " run", " work"} {
		if strings.Contains(strings.SplitN(out[strings.Index(out, "root:"):], "\n", 2)[0], hostOnly) {
			t.Errorf("%q is visible in the rootless environment's root:\n%s", hostOnly, out)
		}
	}
}
