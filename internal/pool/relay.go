package pool

import (
	"context"
	"io"
	"net"
	"sync"
	"time"
)

// relay accepts the connections on one listener and joins each to a
// connection its dial opens: the allowed host ports (allowhost.go) and
// the debug ports (debug.go) are relays. Its goroutines end at close.
type relay struct {
	ln net.Listener
	// dial opens the other end for one accepted connection; gone, when not
	// nil, ends the pair when it closes (the environment behind it went).
	// An error ends the accepted connection (dial logs why).
	dial func(ctx context.Context) (up net.Conn, gone <-chan struct{}, err error)

	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{} // guarded by mu
	closed bool                  // guarded by mu
}

// hostDialTimeout bounds the dial of a relayed connection's other end.
const hostDialTimeout = 10 * time.Second

func startRelay(ln net.Listener, dial func(ctx context.Context) (net.Conn, <-chan struct{}, error)) *relay {
	r := &relay{ln: ln, dial: dial, conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.accept()
	return r
}

func (r *relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		if !r.track(c) {
			return
		}
		r.wg.Add(1)
		go r.forward(c)
	}
}

// track records c so that close can end it; false once closed.
func (r *relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		_ = c.Close()
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *relay) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
	_ = c.Close()
}

// forward copies both ways between c and the connection dial opens, each
// direction half-closing the other side when its source ends. A pair
// without gone ends when both directions have; with gone, when either
// has or gone closes.
func (r *relay) forward(c net.Conn) {
	defer r.wg.Done()
	defer r.untrack(c)
	ctx, cancel := context.WithTimeout(context.Background(), hostDialTimeout)
	defer cancel()
	up, gone, err := r.dial(ctx)
	if err != nil {
		return
	}
	if !r.track(up) {
		return
	}
	defer r.untrack(up)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	ended := 0
	if gone != nil {
		select {
		case <-done:
			ended++
		case <-gone:
		}
		_ = c.Close()
		_ = up.Close()
	}
	for ; ended < 2; ended++ {
		<-done
	}
}

// close stops accepting, ends every relayed connection and waits for the
// goroutines.
func (r *relay) close() {
	_ = r.ln.Close()
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		_ = c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
