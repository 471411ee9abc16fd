package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// host is what this machine allows, decided once per process.
type host struct {
	namespaces bool
	userns     bool        // rootless: namespaces inside a user namespace
	cgroups    *cgroupHost // nil without usable cgroups
	mode       string
	orphans    int // environments of dead nimbus processes killed at the probe
}

var (
	probeOnce sync.Once
	probed    host
)

func probe() *host {
	probeOnce.Do(func() { probed = detect() })
	return &probed
}

func detect() host {
	if os.Geteuid() != 0 || !hasCapSysAdmin() {
		if err := userNamespacesWork(); err != nil {
			return host{mode: "process-group (not root, and no user namespaces: " + err.Error() + "; no isolation, no limits)"}
		}
		// Rootless: the namespace layers inside a user namespace; no
		// cgroup of our own on v1 (cgroup v2 delegation is not used yet).
		return host{namespaces: true, userns: true,
			mode: "rootless: user, mount, pid, ipc, uts and network namespaces (no cgroup limits: not root)"}
	}
	h := host{namespaces: true}
	cg, err := findCgroups("/proc/self/mountinfo")
	if err == nil {
		err = cg.prepare()
	}
	if err != nil {
		h.mode = "namespaces (no cgroup: " + err.Error() + ")"
		return h
	}
	h.cgroups = cg
	h.orphans = cg.swept
	h.mode = "namespaces+cgroup-v" + strconv.Itoa(cg.version)
	return h
}

// hasCapSysAdmin reads the effective capability set (root in an
// unprivileged container usually lacks CAP_SYS_ADMIN).
func hasCapSysAdmin() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<21) != 0 // CAP_SYS_ADMIN
		}
	}
	return false
}

// procStat returns the fields of /proc/<pid>/stat after the command name
// (which is in parentheses and may hold spaces and parentheses): f[0] is
// the state, f[1] the ppid, f[2] the process group, f[19] the start time.
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return strings.Fields(string(b[i+1:])), nil
}

// waitGroupGone waits (up to a second) for the SIGKILLed members of
// process group pgid to exit: they are not our children, so it finds them
// in /proc and polls their pidfds.
func waitGroupGone(pgid int) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	var fds []unix.PollFd
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := procStat(pid)
		if err != nil || len(f) < 3 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue
		}
		_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}) // #nosec G115 -- fds are small ints
	}
	defer func() {
		for _, p := range fds {
			_ = unix.Close(int(p.Fd))
		}
	}()
	deadline := time.Now().Add(time.Second)
	for len(fds) > 0 {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		if n <= 0 {
			continue
		}
		live := fds[:0]
		for _, p := range fds {
			if p.Revents == 0 {
				live = append(live, p)
			} else {
				_ = unix.Close(int(p.Fd))
			}
		}
		fds = live
	}
}
