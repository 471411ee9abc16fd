package ingress

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Conns counts the server's open client connections and refuses those
// beyond a maximum, so that clients holding connections cannot exhaust the
// process's file descriptors. Use Listener for http.Server.Serve and
// ConnState as the server's ConnState hook: a connection counts from its
// accept until the server reports it closed or hijacked.
type Conns struct {
	max     int64
	open    atomic.Int64
	refused atomic.Uint64
}

// NewConns returns a counter that allows at most max open connections (no
// limit when max <= 0).
func NewConns(max int) *Conns { return &Conns{max: int64(max)} }

// Open is the number of open connections.
func (c *Conns) Open() int64 { return c.open.Load() }

// Refused is the number of connections closed at accept because Max were
// open.
func (c *Conns) Refused() uint64 { return c.refused.Load() }

// Listener wraps ln: a connection accepted while the maximum is open is
// answered 503 and closed at once (never queued, so the kernel's backlog
// does not fill with clients that wait forever).
func (c *Conns) Listener(ln net.Listener) net.Listener { return &limitListener{Listener: ln, c: c} }

// TLSListener is Listener serving TLS with cfg; a connection beyond the
// maximum is closed without an answer (a TLS client could not read the
// plain-text 503).
func (c *Conns) TLSListener(ln net.Listener, cfg *tls.Config) net.Listener {
	return tls.NewListener(&limitListener{Listener: ln, c: c, quiet: true}, cfg)
}

// ConnState is the http.Server ConnState hook that ends a connection's
// count.
func (c *Conns) ConnState(_ net.Conn, s http.ConnState) {
	if s == http.StateClosed || s == http.StateHijacked {
		c.open.Add(-1)
	}
}

type limitListener struct {
	net.Listener
	c     *Conns
	quiet bool // close refused connections without the 503
}

var busyResponse = []byte("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\nRetry-After: 1\r\n\r\n")

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.c.max <= 0 || l.c.open.Add(1) <= l.c.max {
			if l.c.max <= 0 {
				l.c.open.Add(1)
			}
			return conn, nil
		}
		l.c.open.Add(-1)
		l.c.refused.Add(1)
		// A fresh socket's send buffer takes this at once; the deadline
		// covers a peer that never reads.
		if !l.quiet {
			_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = conn.Write(busyResponse)
		}
		_ = conn.Close()
	}
}
