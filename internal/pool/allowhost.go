package pool

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Host ports a function may reach (Options.AllowHosts, the server's
// --function-allow-host): each environment gets a listener on the same
// address inside its own network namespace (127.0.0.1:5432 there), and
// the node forwards each connection to the host's port. Nothing else of
// the host is reachable: the environment's network namespace has no route
// to it, whatever its network policy (see docs/design/sandbox.md). A
// function cannot widen the list: it is a server setting, not a tag.

// hostProxy forwards the connections accepted on one environment's
// listener to one host address. Its goroutines end at close.
type hostProxy struct {
	ln     net.Listener
	target string
	log    *slog.Logger

	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{} // guarded by mu
	closed bool                  // guarded by mu
}

// hostDialTimeout bounds the connection to the host's port.
const hostDialTimeout = 10 * time.Second

func startHostProxy(ln net.Listener, target string, log *slog.Logger) *hostProxy {
	p := &hostProxy{ln: ln, target: target, log: log, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p
}

func (p *hostProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

// track records c so that close can end it; false once closed.
func (p *hostProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *hostProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *hostProxy) forward(c net.Conn) {
	defer p.wg.Done()
	defer p.untrack(c)
	ctx, cancel := context.WithTimeout(context.Background(), hostDialTimeout)
	defer cancel()
	var d net.Dialer
	up, err := d.DialContext(ctx, "tcp", p.target)
	if err != nil {
		p.log.Debug("allowed host port unreachable", "target", p.target, "err", err)
		return
	}
	if !p.track(up) {
		return
	}
	defer p.untrack(up)
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
	<-done
	<-done
}

// close stops accepting, ends every forwarded connection and waits for
// the goroutines.
func (p *hostProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
