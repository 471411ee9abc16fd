//go:build unix

package bench

import (
	"os"
	"runtime"
	"syscall"
	"time"
)

// maxRSSKB is a reaped process's peak RSS in KB (ru_maxrss: KiB on Linux,
// bytes on macOS).
func maxRSSKB(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return ru.Maxrss >> 10
	}
	return ru.Maxrss
}

// processCPU is the CPU time this process has used (user and system, all
// threads): the bench's node runs in it.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
