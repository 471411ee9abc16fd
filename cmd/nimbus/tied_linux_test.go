package main

import (
	"os/exec"
	"runtime"
	"syscall"
)

// startTied starts cmd so that the kernel kills it with SIGKILL when this
// test process dies, however it dies: a failed test, a timeout panic, a
// kill. Pdeathsig fires when the thread that forked the child ends, not the
// process, so the fork happens on a thread locked to a goroutine that lives
// until done is closed (the Go runtime ends a thread only when a goroutine
// locked to it returns).
func startTied(cmd *exec.Cmd, done <-chan struct{}) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		err := cmd.Start()
		errc <- err
		if err == nil {
			<-done
		}
	}()
	return <-errc
}
