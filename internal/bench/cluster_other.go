//go:build !unix

package bench

import (
	"os/exec"
	"syscall"
	"time"
)

func benchProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }

func clusterCPU([]*benchNode) time.Duration { return 0 }
