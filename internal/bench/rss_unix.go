//go:build unix

package bench

import (
	"os"
	"runtime"
	"syscall"
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
