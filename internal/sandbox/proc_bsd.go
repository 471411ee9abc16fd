//go:build unix && !linux

package sandbox

import "syscall"

// sessionAttr starts a process as the leader of a new session and group.
func sessionAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
