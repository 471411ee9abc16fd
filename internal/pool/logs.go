package pool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// maxLine is where an unterminated line is cut (CloudWatch's event limit).
const maxLine = 256 * 1024

// logCapture reads one environment's output (stdout and stderr share one
// pipe, so their order is kept) and files each line under the current
// invocation's tail and into the function log.
//
// Attribution: lines written during init belong to the first invocation;
// lines written during an invocation belong to it. Output that arrives
// after an invocation's response (background work) is attributed to that
// invocation until the next one starts: it reaches the function log, but
// the tail was already returned, so no tail shows it.
//
// The reader reads and files under mu, and sync reads whatever is left in
// the pipe under mu too, so once sync returns, every byte the runtime wrote
// before posting its response has been filed.
type logCapture struct {
	f      *os.File
	fd     int
	rc     syscall.RawConn
	prefix []byte
	fnLog  *lockedWriter // nil: no function log
	done   chan struct{} // closed when the reader has seen EOF

	mu      sync.Mutex
	closed  bool   // guarded by mu: fd is closed
	buf     []byte // guarded by mu: read buffer
	partial []byte // guarded by mu: an unterminated line
	tail    []byte // guarded by mu: the current invocation's log, capped
}

// newLogCapture returns the capture and the pipe's write end, to be given
// to the environment's process (and closed by the caller after the start).
func newLogCapture(fnName string, fnLog *lockedWriter) (*logCapture, *os.File, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, fmt.Errorf("create log pipe: %w", err)
	}
	if err := unix.SetNonblock(p[0], true); err != nil {
		_ = unix.Close(p[0])
		_ = unix.Close(p[1])
		return nil, nil, fmt.Errorf("create log pipe: %w", err)
	}
	r := os.NewFile(uintptr(p[0]), "function-log")
	w := os.NewFile(uintptr(p[1]), "function-log-w")
	rc, err := r.SyscallConn()
	if err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, nil, fmt.Errorf("create log pipe: %w", err)
	}
	c := &logCapture{
		f: r, fd: p[0], rc: rc, fnLog: fnLog,
		prefix: []byte("[" + fnName + "] "),
		done:   make(chan struct{}),
		buf:    make([]byte, 32*1024),
	}
	return c, w, nil
}

// run reads until every writer is gone. The caller owns the goroutine.
func (c *logCapture) run() {
	defer close(c.done)
	for {
		eof := false
		err := c.rc.Read(func(uintptr) bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			n, err := c.readLocked()
			if errors.Is(err, unix.EAGAIN) {
				return false // wait for more
			}
			eof = n == 0 || err != nil
			return true
		})
		if err != nil || eof {
			break
		}
	}
	c.mu.Lock()
	c.flushPartialLocked()
	c.closed = true
	c.mu.Unlock()
	_ = c.f.Close()
}

// readLocked reads once from the pipe and files what it got.
func (c *logCapture) readLocked() (int, error) {
	for {
		n, err := unix.Read(c.fd, c.buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if n > 0 {
			c.consumeLocked(c.buf[:n])
		}
		return max(n, 0), err
	}
}

// sync files everything already in the pipe, plus an unterminated last
// line.
func (c *logCapture) sync() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncLocked()
}

func (c *logCapture) syncLocked() {
	if !c.closed {
		for {
			n, err := c.readLocked()
			if n == 0 || err != nil {
				break
			}
		}
	}
	c.flushPartialLocked()
}

func (c *logCapture) consumeLocked(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.partial = append(c.partial, p...)
			if len(c.partial) >= maxLine {
				c.flushPartialLocked()
			}
			return
		}
		if len(c.partial) > 0 {
			c.partial = append(c.partial, p[:i]...)
			c.lineLocked(c.partial)
			c.partial = c.partial[:0]
		} else {
			c.lineLocked(p[:i])
		}
		p = p[i+1:]
	}
}

func (c *logCapture) flushPartialLocked() {
	if len(c.partial) > 0 {
		c.lineLocked(c.partial)
		c.partial = c.partial[:0]
	}
}

func (c *logCapture) lineLocked(line []byte) {
	c.tail = append(c.tail, line...)
	c.tail = append(c.tail, '\n')
	if len(c.tail) > 2*function.MaxLogTail {
		c.tail = append(c.tail[:0], c.tail[len(c.tail)-function.MaxLogTail:]...)
	}
	if c.fnLog != nil {
		c.fnLog.writeLine(c.prefix, line)
	}
}

// begin starts a new invocation's log with its START line; with keep (the
// first invocation) the lines of init stay in front of it. Output still in
// the pipe is filed first: it was written before the runtime asked for
// this invocation, so it belongs to init or to the previous invocation.
func (c *logCapture) begin(keep bool, startLine string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncLocked()
	if !keep {
		c.tail = c.tail[:0]
	}
	c.lineLocked([]byte(startLine))
}

// finish files what the runtime wrote, then the platform lines, and
// returns the last 4 KB of the invocation's log.
func (c *logCapture) finish(lines ...string) []byte {
	c.sync()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range lines {
		c.lineLocked([]byte(l))
	}
	t := c.tail
	if len(t) > function.MaxLogTail {
		t = t[len(t)-function.MaxLogTail:]
	}
	return bytes.Clone(t)
}

// lockedWriter serialises whole lines from many environments.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) writeLine(prefix, line []byte) {
	b := make([]byte, 0, len(prefix)+len(line)+1)
	b = append(append(append(b, prefix...), line...), '\n')
	l.mu.Lock()
	_, _ = l.w.Write(b)
	l.mu.Unlock()
}

// Platform lines, as Lambda writes them.

func startLine(requestID, version string) string {
	return "START RequestId: " + requestID + " Version: " + version
}

func endLine(requestID string) string { return "END RequestId: " + requestID }

// report is the data of one REPORT line.
type report struct {
	requestID    string
	duration     time.Duration
	memoryMB     int
	maxMemory    uint64 // bytes; 0 when unknown
	initDuration time.Duration
	status       string // "", "timeout" or "error"
	errorType    string
}

// usedMB is Max Memory Used in MB. Charge batching can put the cgroup's
// peak a few pages over the limit; Lambda never reports more than the
// memory size.
func (r *report) usedMB() int {
	return int(min((r.maxMemory+(1<<20)-1)>>20, uint64(r.memoryMB))) // #nosec G115 -- MemorySize is 128..10240
}

// billed is Billed Duration: the invoke and init phases, rounded up to the
// millisecond, as Lambda bills them.
func (r *report) billed() time.Duration { return invoke.Billed(r.duration, r.initDuration) }

func (r *report) String() string {
	ms := float64(r.duration) / float64(time.Millisecond)
	s := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB\t",
		r.requestID, ms, r.billed().Milliseconds(), r.memoryMB, r.usedMB())
	if r.initDuration > 0 {
		s += fmt.Sprintf("Init Duration: %.2f ms\t", float64(r.initDuration)/float64(time.Millisecond))
	}
	if r.status != "" {
		s += "Status: " + r.status + "\t"
		if r.errorType != "" {
			s += "Error Type: " + r.errorType + "\t"
		}
	}
	return s
}
