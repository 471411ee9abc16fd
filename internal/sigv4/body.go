package sigv4

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMemBody is the largest body held in memory while its hash is
// checked; larger bodies (and bodies of undeclared length) are spooled to
// a temporary file.
const DefaultMemBody = 256 << 10

// DefaultMaxSpooled bounds the bodies spooled at once.
const DefaultMaxSpooled = 8

// DefaultMemBudget bounds the bytes of all bodies held in memory at once;
// a body that would exceed it is spooled instead.
const DefaultMemBudget = 64 << 20

// ErrBusy is returned when a body must be spooled and no spool slot came
// free within Options.SpoolWait: the client should retry later.
var ErrBusy = errors.New("too many large request bodies are being verified at once")

// ErrBodyRead wraps a failure to read the request body (the client went
// away, or sent it too slowly): the client's fault, not the server's.
var ErrBodyRead = errors.New("read request body")

// spooler holds request bodies while their hash is checked: small ones in
// memory (all together at most memBudget bytes), others in unlinked
// temporary files, at most slots of those at once from callers whose
// signature could not be checked yet. Memory is therefore
// bounded by memBudget plus a copy buffer per spooling request, whatever
// the number of clients or the lengths they declare, and disk by slots ×
// MaxBody.
type spooler struct {
	dir       string
	mem       int64
	memBudget int64
	memUsed   atomic.Int64
	max       int64
	wait      time.Duration
	slots     chan struct{}
	bufPool   sync.Pool
}

func newSpooler(o Options) *spooler {
	return &spooler{dir: o.SpoolDir, mem: o.MemBody, memBudget: o.MemBudget, max: o.MaxBody, wait: o.SpoolWait,
		slots:   make(chan struct{}, o.MaxSpooled),
		bufPool: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

// hashBody reads r's body (at most MaxBody bytes, refused before reading
// when the declared length is larger), puts a replayable copy back as
// r.Body and returns its SHA-256. A spooled copy releases its file and
// slot at EOF, on Close, or when the request's context ends, whichever
// comes first. signed says the signature has already been verified (the
// payload hash was declared): such a body is the caller's own, and is
// spooled without waiting for a slot, which only bodies from callers not
// yet authenticated compete for.
func (s *spooler) hashBody(r *http.Request, signed bool) ([sha256.Size]byte, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		if r.Body != nil {
			r.Body = http.NoBody // a declared length of 0 is an empty body
		}
		return emptySum, nil
	}
	if r.ContentLength > s.max {
		return [sha256.Size]byte{}, ErrBodyTooLarge
	}
	if r.ContentLength > 0 && r.ContentLength <= s.mem && s.reserve(r.ContentLength) {
		return s.inMemory(r)
	}
	return s.spool(r, signed)
}

// reserve takes n bytes of the memory budget, if they are there.
func (s *spooler) reserve(n int64) bool {
	for {
		used := s.memUsed.Load()
		if used+n > s.memBudget {
			return false
		}
		if s.memUsed.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

func (s *spooler) inMemory(r *http.Request) ([sha256.Size]byte, error) {
	mb := &memBody{s: s, body: make([]byte, r.ContentLength)}
	if _, err := io.ReadFull(r.Body, mb.body); err != nil {
		_ = mb.Close()
		return [sha256.Size]byte{}, fmt.Errorf("%w: %w", ErrBodyRead, err)
	}
	// Nothing may follow the declared length (net/http enforces it; a
	// caller handing another reader gets the same rule).
	if n, _ := r.Body.Read(mb.probe[:]); n > 0 {
		_ = mb.Close()
		return [sha256.Size]byte{}, ErrBodyTooLarge
	}
	_ = r.Body.Close()
	r.Body = mb
	// Returns the budget when the request ends unread; a handler that
	// reads to EOF or closes the body returns it at once and unregisters
	// this (so that the end of the request starts no goroutine).
	mb.stop = context.AfterFunc(r.Context(), func() { mb.once.Do(mb.release) })
	return sha256.Sum256(mb.body), nil
}

// memBody is a verified body held in memory; its bytes count against the
// budget until EOF, Close or the end of the request's context.
type memBody struct {
	s     *spooler
	body  []byte
	off   int
	probe [1]byte
	once  sync.Once
	// stop unregisters the context's AfterFunc; it is set before the
	// handler sees the body, and called only from the handler's side.
	stop func() bool
}

func (b *memBody) Read(p []byte) (int, error) {
	if b.off >= len(b.body) {
		_ = b.Close()
		return 0, io.EOF
	}
	n := copy(p, b.body[b.off:])
	b.off += n
	return n, nil
}

// Peek returns the unread rest of the body without consuming it, for a
// caller that must look at a verified body before its handler reads it
// (the IAM check): read-only, valid as long as the request.
func (b *memBody) Peek() []byte { return b.body[b.off:] }

// WriteTo writes the rest of the body to w (io.Copy's fast path).
func (b *memBody) WriteTo(w io.Writer) (int64, error) {
	if b.off >= len(b.body) {
		_ = b.Close()
		return 0, nil
	}
	n, err := w.Write(b.body[b.off:])
	b.off += n
	if err == nil {
		_ = b.Close()
	}
	return int64(n), err
}

func (b *memBody) Close() error {
	b.once.Do(b.release)
	if b.stop != nil {
		b.stop()
	}
	return nil
}

func (b *memBody) release() { b.s.memUsed.Add(-int64(len(b.body))) }

// spool copies the body to an unlinked temporary file while hashing it.
// The slot is taken before the first byte is read, so time spent waiting
// for one is not charged to the client's transfer rate.
func (s *spooler) spool(r *http.Request, signed bool) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	release := func() {}
	if !signed {
		if err := s.acquire(r.Context()); err != nil {
			return sum, err
		}
		release = s.release
	}
	f, err := s.tempFile()
	if err != nil {
		release()
		return sum, err
	}
	sb := &spooledBody{f: f, release: release}
	h := sha256.New()
	bp := s.bufPool.Get().(*[]byte)
	n, err := io.CopyBuffer(io.MultiWriter(f, h), io.LimitReader(readerOnly{r.Body}, s.max+1), *bp)
	s.bufPool.Put(bp)
	switch {
	case err == nil && n > s.max:
		err = ErrBodyTooLarge
	case err == nil && r.ContentLength >= 0 && n != r.ContentLength:
		err = io.ErrUnexpectedEOF // shorter (or longer) than declared
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
		if err != nil {
			err = fmt.Errorf("rewind spooled body: %w", err)
		}
	} else if !errors.Is(err, ErrBodyTooLarge) && !isWriteErr(err, f) {
		err = fmt.Errorf("%w: %w", ErrBodyRead, err)
	}
	if err != nil {
		_ = sb.Close()
		return sum, err
	}
	_ = r.Body.Close()
	r.Body = sb
	context.AfterFunc(r.Context(), func() { _ = sb.Close() })
	h.Sum(sum[:0])
	return sum, nil
}

// readerOnly hides WriterTo so that io.CopyBuffer uses the pooled buffer.
type readerOnly struct{ io.Reader }

// isWriteErr reports whether err came from writing the spool file (a full
// disk), as opposed to reading the client's body.
func isWriteErr(err error, f *os.File) bool {
	var pe *os.PathError
	return errors.As(err, &pe) && pe.Path == f.Name()
}

func (s *spooler) acquire(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	default:
	}
	if s.wait <= 0 {
		return ErrBusy
	}
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrBodyRead, context.Cause(ctx))
	}
}

func (s *spooler) release() { <-s.slots }

// tempFile creates a file in the spool directory and unlinks it at once:
// it lives as long as the descriptor, so a crash leaves nothing behind.
func (s *spooler) tempFile() (*os.File, error) {
	f, err := os.CreateTemp(s.dir, "body-*")
	if err != nil {
		return nil, fmt.Errorf("spool request body: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("spool request body: %w", err)
	}
	return f, nil
}

// spooledBody is a verified body read back from its spool file. Reads
// after EOF or Close return EOF or an error; the file and the slot are
// released once.
type spooledBody struct {
	f       *os.File
	release func()

	once sync.Once
}

func (b *spooledBody) Read(p []byte) (int, error) {
	n, err := b.f.Read(p)
	if errors.Is(err, io.EOF) {
		_ = b.Close()
		return n, io.EOF
	}
	if errors.Is(err, os.ErrClosed) {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *spooledBody) Close() error {
	b.once.Do(func() {
		_ = b.f.Close()
		b.release()
	})
	return nil
}
