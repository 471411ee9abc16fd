// Package ingress bounds what a client can make the node's HTTP server
// hold, before anyone knows who the client is: how long a request body may
// take to arrive (a minimum transfer rate, as production servers enforce)
// and how many connections may be open at once. Header and idle timeouts
// are the http.Server's own (ReadHeaderTimeout, IdleTimeout); the daemon
// sets them beside these.
//
//	request headers ──ReadHeaderTimeout──► handler starts ─► body reads:
//	  deadline = min(first byte + Grace + received/MinRate, now + Grace)
//	  ─► EOF: deadline cleared (a long invoke is not cut) ─► response
//	  ─► keep-alive: IdleTimeout until the next request's first byte
//
// Only the daemon imports it; it imports nothing of Nimbus.
package ingress

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// BodyRate is the slowest a request body may arrive.
type BodyRate struct {
	// MinRate in bytes per second, averaged from the body's first read:
	// by Grace + n/MinRate after it, n bytes must have arrived. A body of
	// declared length L therefore has Grace + L/MinRate at most.
	MinRate int64
	// Grace is the allowance before the rate applies, and the longest the
	// client may pause between two pieces of the body.
	Grace time.Duration
}

// TooSlowError is the read error of a body that did not keep up with the
// minimum rate. It is a net.Error whose Timeout is true.
type TooSlowError struct {
	Received int64
	MinRate  int64
	Grace    time.Duration
}

func (e *TooSlowError) Error() string {
	return fmt.Sprintf("request body arrived slower than %d bytes/s after %s (%d bytes received)", e.MinRate, e.Grace, e.Received)
}

// Timeout reports true: the body's read deadline passed.
func (e *TooSlowError) Timeout() bool { return true }

// Temporary reports false (net.Error).
func (e *TooSlowError) Temporary() bool { return false }

// Unwrap is os.ErrDeadlineExceeded.
func (e *TooSlowError) Unwrap() error { return os.ErrDeadlineExceeded }

// Wrap returns next with r.Body held to the rate: each read of the body
// sets the connection's read deadline, so a client that trickles its body
// is disconnected (the read fails with *TooSlowError and the server closes
// the connection), while a steady upload of any size goes through. When
// the response writer cannot set deadlines (http.ErrNotSupported) the
// request passes unchanged. A zero MinRate disables it.
func (b BodyRate) Wrap(next http.Handler) http.Handler {
	if b.MinRate <= 0 || b.Grace <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		ctl := http.NewResponseController(w)
		// Until the handler reads, a body left unread is discarded by the
		// server under this deadline after the handler returns.
		if err := ctl.SetReadDeadline(time.Now().Add(b.Grace)); err != nil {
			next.ServeHTTP(w, r)
			return
		}
		// A shallow copy, as Request.WithContext makes: the server's own
		// request keeps its body, so that after the handler it still
		// knows how much is unread (and closes rather than drains).
		r2 := *r
		r2.Body = &rateBody{rc: r.Body, ctl: ctl, rate: b}
		next.ServeHTTP(w, &r2)
	})
}

// rateBody sets the connection's read deadline before each read of the
// body, and clears it at EOF.
type rateBody struct {
	rc   io.ReadCloser
	ctl  *http.ResponseController
	rate BodyRate

	start time.Time // first read
	n     int64     // bytes read
	err   error     // sticky
}

func (b *rateBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	now := time.Now()
	if b.start.IsZero() {
		b.start = now
	}
	_ = b.ctl.SetReadDeadline(b.deadline(now))
	n, err := b.rc.Read(p)
	b.n += int64(n)
	switch {
	case errors.Is(err, io.EOF):
		// The server starts its own read to notice a closed connection;
		// it must not inherit the body's deadline (it would cancel the
		// request's context during a long invoke). net/http clears it
		// too as it starts that read; this covers any other server.
		_ = b.ctl.SetReadDeadline(time.Time{})
		b.err = io.EOF
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.err = &TooSlowError{Received: b.n, MinRate: b.rate.MinRate, Grace: b.rate.Grace}
		err = b.err
	case err != nil:
		b.err = err
	}
	return n, err
}

// deadline is min(start + Grace + n/MinRate, now + Grace).
func (b *rateBody) deadline(now time.Time) time.Time {
	credit := time.Duration(float64(b.n) / float64(b.rate.MinRate) * float64(time.Second))
	if credit < 0 || credit > 365*24*time.Hour { // overflow guard
		credit = 365 * 24 * time.Hour
	}
	avg := b.start.Add(b.rate.Grace + credit)
	if stall := now.Add(b.rate.Grace); stall.Before(avg) {
		return stall
	}
	return avg
}

func (b *rateBody) Close() error { return b.rc.Close() }
