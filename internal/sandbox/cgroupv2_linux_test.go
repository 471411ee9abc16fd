package sandbox

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The cgroup v2 freezer and kill on a real kernel: hybrid hosts (these
// machines) mount an empty v2 hierarchy beside v1, which has cgroup.freeze
// and cgroup.kill even without controllers.
func TestCgroupV2FreezeAndKill(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	var mnt string
	if h, err := findCgroups("/proc/self/mountinfo"); err == nil && h.version == 2 {
		mnt = h.v2
	} else if fi, err := os.Stat("/sys/fs/cgroup/unified/cgroup.procs"); err == nil && fi.Mode().IsRegular() {
		mnt = "/sys/fs/cgroup/unified"
	} else {
		t.Skip("no cgroup v2 hierarchy mounted")
	}
	dir := filepath.Join(mnt, "nimbus-test-"+randHex(6))
	cg := &cgroupV2{path: dir}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a v2 cgroup: %v", err)
	}
	defer cg.remove() //nolint:errcheck // test cleanup
	if _, err := os.Stat(filepath.Join(dir, "cgroup.freeze")); err != nil {
		t.Skipf("no cgroup.freeze (Linux < 5.2): %v", err)
	}
	cmd := exec.Command("/bin/sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	if err := cg.add(cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill()
		t.Fatal(err)
	}
	if err := cg.freeze(true); err != nil {
		t.Fatalf("freeze: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cgroup.events")); !bytes.Contains(b, []byte("frozen 1")) {
		t.Errorf("cgroup.events after freeze: %q", b)
	}
	if err := cg.freeze(false); err != nil {
		t.Fatalf("thaw: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cgroup.events")); !bytes.Contains(b, []byte("frozen 0")) {
		t.Errorf("cgroup.events after thaw: %q", b)
	}
	// Frozen again, then killed: kill works on a frozen cgroup.
	if err := cg.freeze(true); err != nil {
		t.Fatal(err)
	}
	if err := cg.kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	if err := <-waited; err == nil {
		t.Fatal("sleep exited cleanly after the cgroup kill")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs")); len(bytes.TrimSpace(b)) != 0 {
		t.Errorf("cgroup.procs after kill: %q", b)
	}
	if err := cg.remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cgroup %s still there: %v", dir, err)
	}
}
