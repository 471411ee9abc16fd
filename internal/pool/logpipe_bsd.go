//go:build unix && !linux

package pool

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// pipeCloexec is pipe(2) then FD_CLOEXEC under the fork lock, as the
// standard library does where there is no pipe2 (macOS).
func pipeCloexec(p *[2]int) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	if err := unix.Pipe(p[:]); err != nil {
		return err
	}
	unix.CloseOnExec(p[0])
	unix.CloseOnExec(p[1])
	return nil
}
