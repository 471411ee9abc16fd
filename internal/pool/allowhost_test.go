package pool

import (
	"io"
	"log/slog"
	"net"
	"testing"
)

// The proxy forwards both ways and close ends connections still open.
func TestHostProxyForwardsAndCloses(t *testing.T) {
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close() //nolint:errcheck // test
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c) }() // echo, left open
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := startHostProxy(ln, target.Addr().String(), slog.New(slog.DiscardHandler))
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close() //nolint:errcheck // test
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through the proxy: %q %v", buf, err)
	}
	p.close() // returns only once the forwarding goroutines have ended
	if _, err := c.Read(buf); err == nil {
		t.Error("connection still open after close")
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("listener still accepting after close")
	}
}

// The network line is written once, after the first failure line, and
// never for the platform's own lines.
func TestNetHintOnce(t *testing.T) {
	c := &logCapture{netHint: "[nimbus] hint"}
	var lines []string
	c.sink = sinkFunc(func(r LogRecord) { lines = append(lines, r.Message) })
	for _, l := range []string{"hello", "[Errno -3] Temporary failure in name resolution", "getaddrinfo ENOTFOUND x", "bye"} {
		c.lineLocked([]byte(l), nil)
	}
	want := []string{"hello", "[Errno -3] Temporary failure in name resolution", "[nimbus] hint", "getaddrinfo ENOTFOUND x", "bye"}
	if len(lines) != len(want) {
		t.Fatalf("lines %q, want %q", lines, want)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Fatalf("lines %q, want %q", lines, want)
		}
	}
}

type sinkFunc func(LogRecord)

func (f sinkFunc) Log(r LogRecord) { f(r) }
