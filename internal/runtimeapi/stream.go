package runtimeapi

import (
	"errors"
	"io"
	"net/http"
	"sync"
)

// DefaultMaxStreamResponse is the largest body passed on to an
// Invocation's Stream: Lambda's streamed-response limit, 200 MiB.
const DefaultMaxStreamResponse = 200 << 20

// Stream receives an invocation's response body as the runtime posts it,
// chunk by chunk, for callers that stream (function URLs in
// RESPONSE_STREAM mode). Begin is called once before the first Write;
// neither is called after Invoke returns. A Write error drops the rest of
// the body (the client went away); the runtime is still answered normally.
type Stream interface {
	Begin(contentType string) error
	Write(p []byte) (int, error)
}

// guardedStream keeps the /response handler from writing to the caller's
// Stream after Invoke has returned: close waits for a Write in progress.
type guardedStream struct {
	mu     sync.Mutex
	s      Stream
	closed bool // guarded by mu
	failed bool // guarded by mu; the Stream refused a write: drop the rest
}

func (g *guardedStream) begin(contentType string) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || g.failed {
		return
	}
	if g.s.Begin(contentType) != nil {
		g.failed = true
	}
}

func (g *guardedStream) write(p []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || g.failed {
		return
	}
	if _, err := g.s.Write(p); err != nil {
		g.failed = true
	}
}

// close ends writes to the Stream; safe on nil and more than once.
func (g *guardedStream) close() {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// streamChunk is how much of the runtime's body is read (and passed on)
// at a time; a runtime's smaller writes arrive as they are.
const streamChunk = 32 << 10

// streamBody copies the /response body of c to its Stream as it arrives,
// up to limit bytes. It returns the Response (Payload empty, Sent set),
// the error to answer the runtime with and the error for Invoke.
func streamBody(r *http.Request, c *call, mode string, limit int64) (*Response, *apiError, error) {
	ct := r.Header.Get("Content-Type")
	resp := &Response{ContentType: ct, Streaming: mode != "", Sent: true}
	c.stream.begin(ct)
	if r.Body == nil {
		return resp, nil, nil
	}
	buf := make([]byte, streamChunk)
	var n int64
	for {
		k, err := r.Body.Read(buf)
		if k > 0 {
			n += int64(k)
			if n > limit {
				return nil, errTooLarge(limit), ErrResponseTooLarge
			}
			c.stream.write(buf[:k])
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			resp.Error = synthError(errTypeTruncatedResponse, "The runtime's response was truncated or malformed")
			return resp, errTruncated, nil
		}
	}
	resp.Error = trailerError(r.Trailer)
	return resp, nil, nil
}
