package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindCgroups(t *testing.T) {
	dir := t.TempDir()
	v2 := filepath.Join(dir, "unified")
	if err := os.Mkdir(v2, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v2, "cgroup.controllers"), []byte("cpuset cpu io memory pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hybrid := `31 27 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime shared:5 - cgroup cgroup rw,pids
41 31 0:38 / ` + v2 + ` rw,relatime - cgroup2 cgroup2 rw
`
	pure := `41 31 0:38 / ` + v2 + ` rw,relatime - cgroup2 cgroup2 rw,nsdelegate
`
	write := func(s string) string {
		p := filepath.Join(dir, "mountinfo")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	h, err := findCgroups(write(hybrid))
	if err != nil || h.version != 1 || h.v1["memory"] != "/sys/fs/cgroup/memory" || h.v1["cpu"] != "/sys/fs/cgroup/cpu,cpuacct" || h.v1["pids"] != "/sys/fs/cgroup/pids" {
		t.Fatalf("hybrid: %+v %v", h, err)
	}
	h, err = findCgroups(write(pure))
	if err != nil || h.version != 2 || h.v2 != v2 {
		t.Fatalf("v2: %+v %v", h, err)
	}
	if _, err := findCgroups(write("1 0 0:1 / / rw - ext4 /dev/vda rw\n")); err == nil {
		t.Fatal("no cgroups found a hierarchy")
	}
}

func TestEnableControllersV2(t *testing.T) {
	dir := t.TempDir()
	for f, v := range map[string]string{"cgroup.controllers": "memory pids io", "cgroup.subtree_control": ""} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A regular file keeps only the last write, which is enough to see the
	// controllers asked for; cpu is absent and optional.
	if err := enableControllers(dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if string(b) != "+pids" {
		t.Errorf("last write %q", b)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte("pids"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := enableControllers(dir); err == nil {
		t.Error("missing memory controller accepted")
	}
}

func TestSweepDeadOwners(t *testing.T) {
	parent := t.TempDir()
	self, err := ownerName(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	mk := func(parts ...string) string {
		d := filepath.Join(append([]string{parent}, parts...)...)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	mk(self, "env-live")        // this process: kept
	mk("2147483646-1", "env-a") // no such process: removed
	mk("2147483646-2")          // no such process, no children: removed
	wrongStart := strings.Split(self, "-")[0] + "-1"
	mk(wrongStart, "env-b") // our pid, another start time (a reused pid): removed
	mk("legacy-env")        // not an owner directory: kept
	mk("1-x", "env-c")      // not an owner directory either: kept

	if n := sweepDeadOwners(1, map[string]string{"memory": parent}); n != 0 {
		t.Errorf("sweep killed %d environments; none had processes", n)
	}

	for name, want := range map[string]bool{
		self: true, "2147483646-1": false, "2147483646-2": false, wrongStart: false,
		"legacy-env": true, "1-x": true,
	} {
		_, err := os.Stat(filepath.Join(parent, name))
		if got := err == nil; got != want {
			t.Errorf("%s present = %v, want %v", name, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(parent, self, "env-live")); err != nil {
		t.Errorf("live owner's environment was removed: %v", err)
	}
}
