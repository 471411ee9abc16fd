//go:build !linux

package main

import "os/exec"

// startTied starts cmd; only Linux ties its life to this process's.
func startTied(cmd *exec.Cmd, _ <-chan struct{}) error { return cmd.Start() }
