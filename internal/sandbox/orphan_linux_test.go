package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// orphanServer is the "server" helper: it starts the environments of the
// specs in NIMBUS_TEST_SPECS, freezes those whose index is listed in
// NIMBUS_TEST_FREEZE, prints "env <index> <init pid>" for each and
// "ready", then waits to be killed.
func orphanServer() int {
	var specs []Spec
	if err := json.Unmarshal([]byte(os.Getenv("NIMBUS_TEST_SPECS")), &specs); err != nil {
		fmt.Println("specs:", err)
		return 1
	}
	for i, spec := range specs {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		p, err := Start(ctx, spec)
		cancel()
		if err != nil {
			fmt.Println("start:", err)
			return 1
		}
		if strings.Contains(","+os.Getenv("NIMBUS_TEST_FREEZE")+",", ","+strconv.Itoa(i)+",") {
			if err := p.Freeze(); err != nil {
				fmt.Println("freeze:", err)
				return 1
			}
		}
		fmt.Println("env", i, p.Pid())
	}
	fmt.Println("ready")
	select {}
}

// proc is a process identified across pid reuse: its pid and start time.
type proc struct{ pid, start string }

func procOf(pid int) (proc, bool) {
	f, err := procStat(pid)
	if err != nil || len(f) < 20 {
		return proc{}, false
	}
	return proc{strconv.Itoa(pid), f[19]}, true
}

// alive is false for a zombie (dead, its status not yet collected).
func (p proc) alive() bool {
	pid, _ := strconv.Atoi(p.pid)
	q, ok := procOf(pid)
	f, _ := procStat(pid)
	return ok && q == p && len(f) > 0 && f[0] != "Z"
}

// tree is pid and its children (an environment's init and its runtime).
func tree(t *testing.T, pid int) []proc {
	t.Helper()
	p, ok := procOf(pid)
	if !ok {
		t.Fatalf("no process %d", pid)
	}
	out := []proc{p}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f, err := procStat(n); err == nil && len(f) > 1 && f[1] == strconv.Itoa(pid) {
			if c, ok := procOf(n); ok {
				out = append(out, c)
			}
		}
	}
	if len(out) < 2 {
		t.Fatalf("environment init %d has no runtime child", pid)
	}
	return out
}

func waitGone(ps []proc, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		gone := true
		for _, p := range ps {
			gone = gone && !p.alive()
		}
		if gone || time.Now().After(deadline) {
			return gone
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A server killed with SIGKILL: its running environment dies with it (the
// init's parent-death signal), its frozen one cannot until thawed, and the
// next sweep thaws, kills and removes it, while a live server's frozen
// environment is left alone.
func TestOrphansOfKilledServer(t *testing.T) {
	requireCgroups(t)
	running, frozen := newEnv(t, "sleep"), newEnv(t, "sleep")
	running.spec.Stdout, running.spec.Stderr, frozen.spec.Stdout, frozen.spec.Stderr = nil, nil, nil, nil
	specs, err := json.Marshal([]Spec{running.spec, frozen.spec})
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	srv := exec.Command(self)
	srv.Env = append(os.Environ(), helperEnv+"=server", "NIMBUS_TEST_SPECS="+string(specs), "NIMBUS_TEST_FREEZE=1")
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill() //nolint:errcheck // already killed on success
	pids := map[string]int{}
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "ready" {
		var i, pid int
		if _, err := fmt.Sscanf(sc.Text(), "env %d %d", &i, &pid); err != nil {
			t.Fatalf("server helper: %s", sc.Text())
		}
		pids[[]string{"running", "frozen"}[i]] = pid
	}
	if len(pids) != 2 {
		t.Fatalf("server helper started %v", pids)
	}
	owner, err := ownerName(srv.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	runningTree, frozenTree := tree(t, pids["running"]), tree(t, pids["frozen"])

	// A live owner's frozen environment, which the sweep must not touch.
	live := newEnv(t, "ticker")
	lp := start(t, live)
	live.out.waitFor(t, "tick")
	if err := lp.Freeze(); err != nil {
		t.Fatal(err)
	}

	if err := srv.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = srv.Wait()
	if !waitGone(runningTree, 30*time.Second) {
		t.Fatal("a running environment outlived its server's SIGKILL")
	}
	for _, p := range frozenTree {
		if !p.alive() {
			t.Fatalf("frozen environment process %s exited while frozen", p.pid)
		}
	}

	if n := probe().cgroups.sweep(); n < 1 {
		t.Errorf("sweep reports %d environments killed, want the frozen one", n)
	}
	if !waitGone(frozenTree, 30*time.Second) {
		t.Fatal("the sweep left the dead server's frozen environment running")
	}
	for _, mnt := range probe().cgroups.v1 {
		if _, err := os.Stat(filepath.Join(mnt, cgroupParent, owner)); err == nil {
			t.Errorf("dead server's cgroups still in %s", mnt)
		}
	}
	if probe().cgroups.v2 != "" {
		if _, err := os.Stat(filepath.Join(probe().cgroups.v2, cgroupParent, owner)); err == nil {
			t.Error("dead server's cgroup still there")
		}
	}

	// The live one is untouched: thawed, it ticks again.
	select {
	case <-lp.Done():
		t.Fatal("the sweep killed a live server's environment")
	default:
	}
	for drained := false; !drained; {
		select {
		case <-live.out.ch:
		default:
			drained = true
		}
	}
	if err := lp.Thaw(); err != nil {
		t.Fatal(err)
	}
	live.out.waitFor(t, "tick")
}
