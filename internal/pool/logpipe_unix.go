//go:build unix

package pool

import (
	"os"

	"golang.org/x/sys/unix"
)

// openLogPipe makes an environment's output pipe: the read end
// non-blocking (read through the runtime poller), both ends close-on-exec.
func openLogPipe() (r, w *os.File, rfd int, err error) {
	var p [2]int
	if err := pipeCloexec(&p); err != nil {
		return nil, nil, 0, err
	}
	if err := unix.SetNonblock(p[0], true); err != nil {
		_ = unix.Close(p[0])
		_ = unix.Close(p[1])
		return nil, nil, 0, err
	}
	return os.NewFile(uintptr(p[0]), "function-log"), os.NewFile(uintptr(p[1]), "function-log-w"), p[0], nil
}

func readPipe(fd int, buf []byte) (int, error) { return unix.Read(fd, buf) }
