//go:build !linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Outside Linux there are no namespaces or cgroups: process-group mode only.

type host struct {
	namespaces bool
	mode       string
	orphans    int
}

func probe() *host {
	return &host{mode: "process-group (not Linux: no namespaces, no cgroup limits)"}
}

// EgressAvailable: egress needs Linux's network namespaces.
func EgressAvailable() error { return errors.New("not Linux: no network namespaces") }

// MaybeRunInit returns false: there is no sandbox init outside Linux.
func MaybeRunInit() bool { return false }

// launched is a spare init; there are none outside Linux.
type launched struct{}

func (l *Launcher) start(_ context.Context, _ *host, spec *Spec) (*Process, error) {
	argv, env := groupView(spec)
	return startDirect(spec, argv, env)
}

func (l *Launcher) refill()      {}
func (l *Launcher) closeSpares() {}

// waitNoReap cannot wait without reaping here; stragglers of the group
// survive the leader's exit until Kill.
func waitNoReap(int) bool { return false }

func waitGroupGone(int) {}

// startDirect starts argv itself as the group leader (no init step, so fds
// the server leaked without O_CLOEXEC reach it).
func startDirect(spec *Spec, argv, env []string) (*Process, error) {
	path, err := lookPath(argv[0], env)
	if err != nil {
		return nil, err
	}
	var lns []net.Listener
	for _, l := range spec.Listeners {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, ln := range lns {
				_ = ln.Close()
			}
			return nil, err
		}
		lns = append(lns, ln)
		if l.Env != "" {
			v := ln.Addr().String()
			if l.URL {
				v = "http://" + v
			}
			env = append(env, l.Env+"="+v)
		}
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        argv,
		Env:         env,
		Dir:         spec.CodeDir,
		Stdout:      writerOrDiscard(spec.Stdout),
		Stderr:      writerOrDiscard(spec.Stderr),
		SysProcAttr: sessionAttr(),
		WaitDelay:   time.Second,
	}
	if err := cmd.Start(); err != nil {
		for _, ln := range lns {
			_ = ln.Close()
		}
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return nil, fmt.Errorf("%w: %w", ErrExec, errno)
		}
		return nil, err
	}
	p := &Process{id: spec.ID, cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{}), listeners: lns, direct: true}
	go p.wait(nil)
	return p, nil
}

func writerOrDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func protections(h *host) []Protection {
	return []Protection{{Name: "namespaces", Detail: h.mode}, {Name: "cgroup", Detail: h.mode}}
}

// egressLink exists on Linux only.
type egressLink struct{}

func (*egressLink) remove() {}

// dialFile is never used here: environments share the host's network.
func dialFile(context.Context, *os.File, int) (net.Conn, error) {
	return nil, errors.New("no network namespaces outside Linux")
}

// askDialers: outside Linux environments share the host's network, so Dial
// never needs the init's sockets.
func (p *Process) askDialers(int) error {
	return errors.New("no sandbox init outside Linux")
}

// SpawnFloor needs Linux's namespaces.
func SpawnFloor(int) (time.Duration, error) { return 0, errors.New("not Linux: no namespaces") }
