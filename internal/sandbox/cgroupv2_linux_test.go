package sandbox

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
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

// The sweep on a real cgroup v2 hierarchy: a dead owner's frozen
// environment is thawed, killed and removed; a live owner's is kept.
func TestCgroupV2SweepDeadOwners(t *testing.T) {
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
	parent := filepath.Join(mnt, "nimbus-test-"+randHex(6))
	self, err := ownerName(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	sleeper := func(owner string, freeze bool) (*exec.Cmd, chan error, *cgroupV2) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(parent, owner), 0o755); err != nil {
			t.Skipf("cannot create a v2 cgroup: %v", err)
		}
		cg := &cgroupV2{path: filepath.Join(parent, owner, "env-"+randHex(4))}
		if err := os.Mkdir(cg.path, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(cg.path, "cgroup.freeze")); err != nil {
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
		if freeze {
			if err := cg.freeze(true); err != nil {
				t.Fatal(err)
			}
		}
		return cmd, waited, cg
	}
	defer func() { // test cleanup, whatever the sweep did
		ents, _ := os.ReadDir(parent)
		for _, o := range ents {
			envs, _ := os.ReadDir(filepath.Join(parent, o.Name()))
			for _, e := range envs {
				cg := &cgroupV2{path: filepath.Join(parent, o.Name(), e.Name())}
				_ = cg.kill()
				_ = cg.remove()
			}
			_ = os.Remove(filepath.Join(parent, o.Name()))
		}
		_ = os.Remove(parent)
	}()
	_, deadWaited, deadCg := sleeper("2147483646-1", true)
	liveCmd, liveWaited, liveCg := sleeper(self, true)

	if n := sweepDeadOwners(2, map[string]string{"": parent}); n != 1 {
		t.Errorf("sweep killed %d environments, want 1", n)
	}
	select {
	case err := <-deadWaited:
		if err == nil {
			t.Error("the dead owner's process exited cleanly")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the dead owner's frozen process survived the sweep")
	}
	if _, err := os.Stat(filepath.Dir(deadCg.path)); !os.IsNotExist(err) {
		t.Errorf("dead owner's directory still there: %v", err)
	}
	select {
	case <-liveWaited:
		t.Fatal("the sweep killed a live owner's process")
	default:
	}
	if _, err := os.Stat(liveCg.path); err != nil {
		t.Errorf("live owner's cgroup removed: %v", err)
	}
	_ = liveCmd.Process.Kill()
	_ = liveCg.kill()
}
