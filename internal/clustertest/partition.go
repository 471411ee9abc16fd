package clustertest

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
)

// A partitionable cluster (Options.Partitionable) routes every pair of
// nodes through a proxy of its own: node i reaches node j's route
// listener only through link i→j. Partition cuts every link of a node
// (open connections closed, new ones accepted and closed at once), as a
// firewall between it and the others would; Heal reopens them. Each node
// advertises a sink address (connections closed at once) for gossip, so
// an implicit route cannot go around the links.
type link struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool                  // guarded by mu
	conns map[net.Conn]struct{} // guarded by mu
	wg    sync.WaitGroup
}

func newLink(t testing.TB, target string) *link {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &link{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	l.wg.Go(l.serve)
	t.Cleanup(func() {
		_ = ln.Close()
		l.setCut(true)
		l.wg.Wait()
	})
	return l
}

func (l *link) addr() string { return l.ln.Addr().String() }

func (l *link) serve() {
	for {
		in, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		cut := l.cut
		l.mu.Unlock()
		if cut {
			_ = in.Close()
			continue
		}
		out, err := (&net.Dialer{}).DialContext(context.Background(), "tcp", l.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		l.mu.Lock()
		if l.cut {
			l.mu.Unlock()
			_ = in.Close()
			_ = out.Close()
			continue
		}
		l.conns[in], l.conns[out] = struct{}{}, struct{}{}
		l.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
			l.mu.Lock()
			delete(l.conns, dst)
			delete(l.conns, src)
			l.mu.Unlock()
		}
		l.wg.Go(func() { pipe(out, in) })
		l.wg.Go(func() { pipe(in, out) })
	}
}

func (l *link) setCut(cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = cut
	if cut {
		for c := range l.conns {
			_ = c.Close()
		}
	}
}

// sink accepts connections and closes them: the address nodes of a
// partitionable cluster advertise.
func sink(t testing.TB) string {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return ln.Addr().String()
}

// partitionRoutes makes the links of n nodes whose route listeners are
// at addrs; routes[i] is node i's route list (links to every other node).
func (c *Cluster) partitionRoutes(t testing.TB, addrs []string) (routes [][]string) {
	n := len(addrs)
	c.links = make([][]*link, n)
	routes = make([][]string, n)
	for i := range n {
		c.links[i] = make([]*link, n)
		for j := range n {
			if i == j {
				continue
			}
			c.links[i][j] = newLink(t, addrs[j])
			routes[i] = append(routes[i], "nats://"+c.links[i][j].addr())
		}
	}
	return routes
}

// Partition cuts every route between node and the other nodes (both
// ways). The cluster must have been started with Partitionable.
func (c *Cluster) Partition(t testing.TB, node *Node) { c.setCut(t, node, true) }

// Heal reopens node's routes.
func (c *Cluster) Heal(t testing.TB, node *Node) { c.setCut(t, node, false) }

func (c *Cluster) setCut(t testing.TB, node *Node, cut bool) {
	t.Helper()
	if c.links == nil {
		t.Fatal("clustertest: Partition needs Options.Partitionable")
	}
	idx := -1
	for i, n := range c.Nodes {
		if n == node {
			idx = i
		}
	}
	if idx < 0 {
		t.Fatalf("clustertest: %s is not a node of the cluster", node.Name)
	}
	for j := range c.Nodes {
		if j != idx {
			c.links[idx][j].setCut(cut)
			c.links[j][idx].setCut(cut)
		}
	}
}
