package ingress_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/ingress"
)

// serve runs h on a real server on 127.0.0.1:0 and returns its address.
func serve(t *testing.T, h http.Handler, mutate func(*http.Server, net.Listener) net.Listener) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	serveLn := ln
	if mutate != nil {
		serveLn = mutate(srv, ln)
	}
	go func() { _ = srv.Serve(serveLn) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// readError is what the test handler saw reading the body.
type readResult struct {
	n   int
	err error
}

// bodyReader reads the whole body and reports it; 200 with the length, or
// 408 when the body was too slow.
func bodyReader(got chan<- readResult) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		got <- readResult{len(b), err}
		var slow *ingress.TooSlowError
		if errors.As(err, &slow) {
			w.WriteHeader(http.StatusRequestTimeout)
			return
		}
		_, _ = fmt.Fprint(w, len(b))
	})
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// A guard against a hang, not a measurement: every read below must end
	// long before it.
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Minute))
	return c
}

// TestTricklingBodyIsDisconnected: a client that sends its body one byte
// at a time, far below the minimum rate, is cut off: the handler's read
// fails with *TooSlowError and the server closes the connection.
func TestTricklingBodyIsDisconnected(t *testing.T) {
	got := make(chan readResult, 1)
	rate := ingress.BodyRate{MinRate: 1024, Grace: 300 * time.Millisecond}
	addr := serve(t, rate.Wrap(bodyReader(got)), nil)
	c := dial(t, addr)
	if _, err := fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() { // one byte every 100 ms until the server hangs up
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
	res := <-got
	var slow *ingress.TooSlowError
	if !errors.As(res.err, &slow) {
		t.Fatalf("handler read %d bytes, err %v; want *TooSlowError", res.n, res.err)
	}
	var ne net.Error
	if !errors.As(res.err, &ne) || !ne.Timeout() {
		t.Fatalf("%T is not a timeout net.Error", res.err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// The server closed the connection: the next read ends (EOF or reset),
	// it does not hit the guard deadline.
	_, err = c.Read(make([]byte, 1))
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after the body timed out: %v", err)
	}
}

// TestStalledBodyIsDisconnected: a client that sends part of its body
// quickly and then stops is cut off too (the pause bound, not the
// average, catches it).
func TestStalledBodyIsDisconnected(t *testing.T) {
	got := make(chan readResult, 1)
	rate := ingress.BodyRate{MinRate: 1, Grace: 300 * time.Millisecond}
	addr := serve(t, rate.Wrap(bodyReader(got)), nil)
	c := dial(t, addr)
	if _, err := fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n%s", strings.Repeat("x", 50000)); err != nil {
		t.Fatal(err)
	}
	res := <-got
	var slow *ingress.TooSlowError
	if !errors.As(res.err, &slow) || res.n != 50000 {
		t.Fatalf("handler read %d bytes, err %v; want 50000 then *TooSlowError", res.n, res.err)
	}
	if _, err := io.ReadAll(c); err != nil { // the response, then EOF
		t.Fatalf("connection not closed: %v", err)
	}
}

// TestSteadyUploadSucceeds: a large body sent steadily is read whole, and
// a handler that then works longer than the grace keeps its request (the
// body's deadline is gone once the body is).
func TestSteadyUploadSucceeds(t *testing.T) {
	const size = 8 << 20
	rate := ingress.BodyRate{MinRate: 64 << 10, Grace: 200 * time.Millisecond}
	type outcome struct {
		n      int
		err    error
		ctxErr error
	}
	got := make(chan outcome, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		// Work past the grace: the connection's read deadline must not
		// cancel the request.
		select {
		case <-r.Context().Done():
		case <-time.After(3 * rate.Grace):
		}
		got <- outcome{len(b), err, r.Context().Err()}
		_, _ = fmt.Fprint(w, len(b))
	})
	addr := serve(t, rate.Wrap(h), nil)
	resp, err := http.Post("http://"+addr+"/", "application/octet-stream", bytes.NewReader(make([]byte, size)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	o := <-got
	if o.err != nil || o.n != size || o.ctxErr != nil {
		t.Fatalf("handler read %d bytes (err %v), context %v", o.n, o.err, o.ctxErr)
	}
	if resp.StatusCode != http.StatusOK || string(body) != strconv.Itoa(size) {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	// The connection is reusable: a second request on it works.
	resp, err = http.Post("http://"+addr+"/", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if o := <-got; o.err != nil || o.n != 5 {
		t.Fatalf("second request: %+v", o)
	}
}

// TestConnsLimit: with the maximum open, another connection is answered
// 503 and closed; when one closes, a new one is served.
func TestConnsLimit(t *testing.T) {
	conns := ingress.NewConns(2)
	closed := make(chan struct{}, 8)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	addr := serve(t, ok, func(srv *http.Server, ln net.Listener) net.Listener {
		srv.ConnState = func(c net.Conn, s http.ConnState) {
			conns.ConnState(c, s)
			if s == http.StateClosed {
				closed <- struct{}{}
			}
		}
		return conns.Listener(ln)
	})
	request := func(c net.Conn) (int, error) {
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return 0, err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}
	var open []net.Conn
	for range 2 {
		c := dial(t, addr)
		if code, err := request(c); err != nil || code != http.StatusOK {
			t.Fatalf("connection within the limit: %v", err)
		}
		open = append(open, c)
	}
	if n := conns.Open(); n != 2 {
		t.Fatalf("open %d, want 2", n)
	}
	extra := dial(t, addr)
	resp, err := http.ReadResponse(bufio.NewReader(extra), nil)
	if err != nil {
		t.Fatalf("connection over the limit: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("connection over the limit: status %d", resp.StatusCode)
	}
	if _, err := extra.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection over the limit left open")
	}
	if conns.Refused() != 1 {
		t.Fatalf("refused %d, want 1", conns.Refused())
	}
	_ = open[0].Close()
	<-closed
	c := dial(t, addr)
	if code, err := request(c); err != nil || code != http.StatusOK {
		t.Fatalf("after one closed: %v", err)
	}
}

// TestConnsLimitTLS: over TLS, a connection beyond the maximum is closed
// without a byte (no plain-text 503 a TLS client would take for a broken
// handshake), and the connections within it are served.
func TestConnsLimitTLS(t *testing.T) {
	srvTLS := httptest.NewTLSServer(http.NotFoundHandler()) // for its certificate
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: srvTLS.TLS.Certificates}
	srvTLS.Close()
	conns := ingress.NewConns(1)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	addr := serve(t, ok, func(srv *http.Server, ln net.Listener) net.Listener {
		srv.ConnState = conns.ConnState
		return conns.TLSListener(ln, cfg)
	})
	first := tls.Client(dial(t, addr), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // httptest's own certificate
	if err := first.Handshake(); err != nil {
		t.Fatalf("connection within the limit: %v", err)
	}
	extra := dial(t, addr)
	n, err := extra.Read(make([]byte, 64))
	if err == nil || n != 0 {
		t.Fatalf("connection over the limit read %d bytes, %v", n, err)
	}
	if conns.Refused() != 1 {
		t.Fatalf("refused %d, want 1", conns.Refused())
	}
}
