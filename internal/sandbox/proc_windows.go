package sandbox

import (
	"errors"
	"os"
	"syscall"
)

// Windows has no process groups to signal: nimbus server refuses to start
// there, and these exist so that the client commands, which link this
// package, build.

var (
	sigStop = syscall.Signal(0x13)
	sigCont = syscall.Signal(0x12)
)

func kill(int, syscall.Signal) error { return errors.New("signals are not supported on Windows") }

func rawStatus(ws syscall.WaitStatus) uint64 { return uint64(ws.ExitCode) }

func maxRSSBytes(*os.ProcessState) uint64 { return 0 }

func sessionAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}
