package clustertest

import "syscall"

// sysProcAttr puts a node in its own process group (Kill9 kills the group:
// the node and its environments) and kills it when the test process dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
