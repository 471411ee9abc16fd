package sandbox

import (
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// SpawnFloor starts n processes at once in the namespaces an environment
// gets (mount, pid, ipc, uts and network; a user namespace too without
// root), each the init executable that exits at once, and returns the time
// until all have exited: the machine's floor for starting environments
// (fork, exec and namespace creation), without the cgroup, the egress
// link, the root's mounts or the runtime. `nimbus bench` reports it beside
// its scale-out.
func SpawnFloor(n int) (time.Duration, error) {
	h := probe()
	if !h.namespaces {
		return 0, errors.New("no namespaces here (" + h.mode + ")")
	}
	path := initExe()
	errs := make([]error, n)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range n {
		wg.Go(func() {
			attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL,
				Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS | syscall.CLONE_NEWNET}
			if h.userns {
				rootlessAttr(attr)
			}
			cmd := &exec.Cmd{Path: path, Args: []string{initArg0}, Env: []string{initEnvKey + "=probe"}, SysProcAttr: attr}
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Errorf("spawn in namespaces: %w", err)
			}
		})
	}
	wg.Wait()
	return time.Since(t0), errors.Join(errs...)
}
