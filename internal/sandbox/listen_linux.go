package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// openListeners runs in init: it opens cfg.Listen on the loopback of the
// environment's network namespace (netns; runInit brought it up), setting
// each listener's variable in cfg.Env. Without a network namespace the
// listeners go on the host's loopback with kernel-chosen ports. The fds are
// close-on-exec: the runtime never holds them.
func openListeners(cfg *initConfig, netns bool) (fds []int, err error) {
	if len(cfg.Listen) == 0 {
		return nil, nil
	}
	defer func() {
		if err != nil {
			for _, fd := range fds {
				_ = unix.Close(fd)
			}
			fds = nil
		}
	}()
	for _, l := range cfg.Listen {
		port := l.Port
		if !netns {
			port = 0
		}
		fd, addr, err := listenLoopback(port)
		if err != nil {
			return fds, stage("listen on 127.0.0.1:"+strconv.Itoa(port), err)
		}
		fds = append(fds, fd)
		if l.Env != "" {
			v := addr
			if l.URL {
				v = "http://" + addr
			}
			cfg.Env = setEnv(cfg.Env, l.Env, v)
			if len(cfg.Extensions) > 0 {
				cfg.ExtEnv = setEnv(cfg.ExtEnv, l.Env, v)
			}
		}
	}
	return fds, nil
}

// loopbackUp sets IFF_UP on lo (a new network namespace has it down).
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd) //nolint:errcheck // a probe socket
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// listenLoopback opens a listening TCP socket on 127.0.0.1:port and
// returns it with its address.
func listenLoopback(port int) (int, string, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, "", err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		_ = unix.Close(fd)
		return -1, "", err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		_ = unix.Close(fd)
		return -1, "", err
	}
	if err := unix.Listen(fd, 128); err != nil {
		_ = unix.Close(fd)
		return -1, "", err
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		_ = unix.Close(fd)
		return -1, "", err
	}
	in4, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		_ = unix.Close(fd)
		return -1, "", errors.New("not an IPv4 socket")
	}
	return fd, "127.0.0.1:" + strconv.Itoa(in4.Port), nil
}

// setEnv sets k=v in env, replacing an earlier k.
func setEnv(env []string, k, v string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, k+"=") {
			out = append(out, kv)
		}
	}
	return append(out, k+"="+v)
}

// sendListeners sends the listener fds to the parent and closes them.
func sendListeners(sock *os.File, fds []int) error {
	if len(fds) == 0 {
		return nil
	}
	defer func() {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
	}()
	data := []byte(`{"listeners":` + strconv.Itoa(len(fds)) + "}\n")
	return sendWithFDs(sock, data, fds...)
}

// msgReader reads init's newline-delimited JSON messages from the parent's
// end of the sync socket, collecting the fds passed with them.
type msgReader struct {
	f   *os.File
	buf []byte
	fds []int // received and not yet claimed
}

// next returns the next message line (io.EOF once init has closed its end).
func (r *msgReader) next() ([]byte, error) {
	for {
		if i := bytes.IndexByte(r.buf, '\n'); i >= 0 {
			line := r.buf[:i]
			r.buf = r.buf[i+1:]
			return line, nil
		}
		if err := r.recv(); err != nil {
			return nil, err
		}
	}
}

func (r *msgReader) recv() error {
	rc, err := r.f.SyscallConn()
	if err != nil {
		return err
	}
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(8*4))
	var n, oobn int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
			if errors.Is(rerr, unix.EINTR) {
				continue
			}
			return !errors.Is(rerr, unix.EAGAIN)
		}
	})
	if err != nil {
		return err
	}
	if rerr != nil {
		return rerr
	}
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return err
		}
		for i := range msgs {
			if fds, err := unix.ParseUnixRights(&msgs[i]); err == nil {
				r.fds = append(r.fds, fds...)
			}
		}
	}
	if n == 0 {
		return io.EOF
	}
	r.buf = append(r.buf, buf[:n]...)
	return nil
}

// takeListeners turns the first n received fds into listeners.
func (r *msgReader) takeListeners(n int) ([]net.Listener, error) {
	if n > len(r.fds) {
		return nil, fmt.Errorf("init announced %d listeners and passed %d fds", n, len(r.fds))
	}
	fds := r.fds[:n]
	r.fds = r.fds[n:]
	var lns []net.Listener
	var firstErr error
	for _, fd := range fds {
		f := os.NewFile(uintptr(fd), "listener")
		ln, err := net.FileListener(f)
		_ = f.Close()
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		lns = append(lns, ln)
	}
	if firstErr != nil {
		closeListeners(lns)
		return nil, firstErr
	}
	return lns, nil
}

// close closes the fds nobody claimed.
func (r *msgReader) close() {
	for _, fd := range r.fds {
		_ = unix.Close(fd)
	}
	r.fds = nil
}

func closeListeners(lns []net.Listener) {
	for _, ln := range lns {
		_ = ln.Close()
	}
}

// openDialers runs in init: n unconnected TCP sockets of the environment's
// network namespace, for the server's Process.Dial.
func openDialers(n int) ([]int, error) {
	fds := make([]int, 0, n)
	for range n {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			for _, fd := range fds {
				_ = unix.Close(fd)
			}
			return nil, stage("open dialer socket", err)
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

// sendDialers sends the dialer fds to the parent and closes them.
func sendDialers(sock *os.File, fds []int) error {
	if len(fds) == 0 {
		return nil
	}
	defer func() {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
	}()
	data := []byte(`{"dialers":` + strconv.Itoa(len(fds)) + "}\n")
	return sendWithFDs(sock, data, fds...)
}

// takeFiles turns the first n received fds into files.
func (r *msgReader) takeFiles(n int) ([]*os.File, error) {
	if n > len(r.fds) {
		return nil, fmt.Errorf("init announced %d sockets and passed %d fds", n, len(r.fds))
	}
	fds := r.fds[:n]
	r.fds = r.fds[n:]
	fs := make([]*os.File, 0, n)
	for _, fd := range fds {
		fs = append(fs, os.NewFile(uintptr(fd), "dialer"))
	}
	return fs, nil
}

// dialTimeout bounds a connect to a listener inside an environment whose
// backlog is full (a frozen subscriber).
const dialTimeout = 2 * time.Second

// dialFile connects the unconnected socket f to 127.0.0.1:port (in the
// namespace f was created in) and returns it as a net.Conn; f is closed.
func dialFile(ctx context.Context, f *os.File, port int) (net.Conn, error) {
	defer f.Close() //nolint:errcheck // FileConn holds its own dup
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cerr error
	err = rc.Control(func(fd uintptr) {
		tv := unix.NsecToTimeval(dialTimeout.Nanoseconds())
		_ = unix.SetsockoptTimeval(int(fd), unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
		sa := &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
		for {
			cerr = unix.Connect(int(fd), sa)
			if !errors.Is(cerr, unix.EINTR) {
				return
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if cerr != nil {
		return nil, fmt.Errorf("connect to 127.0.0.1:%d in the environment: %w", port, cerr)
	}
	return net.FileConn(f)
}
