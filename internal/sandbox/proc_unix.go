//go:build unix

package sandbox

import (
	"os"
	"runtime"
	"syscall"
)

// Signals and process-group calls, apart so that the package builds on
// Windows (where nimbus server does not run).

var (
	sigStop = syscall.SIGSTOP
	sigCont = syscall.SIGCONT
)

// kill sends sig to pid (a negative pid: to the process group).
func kill(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) }

// rawStatus is the wait status as the kernel reported it.
func rawStatus(ws syscall.WaitStatus) uint64 { return uint64(ws) }

// maxRSSBytes is the peak resident set of a reaped process (getrusage's
// ru_maxrss: KiB on Linux, bytes on macOS).
func maxRSSBytes(ps *os.ProcessState) uint64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru.Maxrss <= 0 {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return uint64(ru.Maxrss)
	}
	return uint64(ru.Maxrss) << 10
}
