package runtimeapi

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
)

// chanStream is a Stream that hands every chunk to a channel.
type chanStream struct {
	mu     sync.Mutex
	ct     string // guarded by mu
	begun  int    // guarded by mu
	chunks chan []byte
	fail   bool
}

func (s *chanStream) Begin(ct string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ct, s.begun = ct, s.begun+1
	return nil
}

func (s *chanStream) Write(p []byte) (int, error) {
	if s.fail {
		return 0, errors.New("client gone")
	}
	s.chunks <- bytes.Clone(p)
	return len(p), nil
}

// TestStreamChunksArriveBeforeTheRuntimeFinishes: with a Stream, each
// piece the runtime writes reaches the Stream while the runtime's POST is
// still open; Invoke returns only after the body ended.
func TestStreamChunksArriveBeforeTheRuntimeFinishes(t *testing.T) {
	s := newTestServer(t, Options{})
	rt := newRawRuntime(t, s)
	st := &chanStream{chunks: make(chan []byte, 16)}
	inv := newInvocation(`{}`)
	inv.Stream = st
	done := invokeAsync(testCtx(t), s, inv)
	rt.expect(rt.next(testCtx(t)), http.StatusOK, "")

	pr, pw := io.Pipe()
	req, _ := http.NewRequestWithContext(testCtx(t), http.MethodPost, rt.base+"invocation/"+inv.RequestID+"/response", pr)
	req.Header.Set("Content-Type", "application/vnd.awslambda.http-integration-response")
	req.Header.Set(hdrResponseMode, responseModeStreaming)
	posted := make(chan httpResult, 1)
	go func() { posted <- rt.do(req) }()

	for _, chunk := range []string{"first", "second"} {
		if _, err := pw.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
		if got := <-st.chunks; string(got) != chunk {
			t.Fatalf("chunk = %q, want %q", got, chunk)
		}
		select {
		case r := <-done:
			t.Fatalf("Invoke returned before the body ended: %+v %v", r.resp, r.err)
		default:
		}
	}
	_ = pw.Close()
	rt.expect(<-posted, http.StatusAccepted, "")
	r := <-done
	if r.err != nil || !r.resp.Sent || len(r.resp.Payload) != 0 || r.resp.Error != nil || !r.resp.Streaming {
		t.Fatalf("Invoke = %+v, %v", r.resp, r.err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.begun != 1 || st.ct != "application/vnd.awslambda.http-integration-response" {
		t.Errorf("Begin called %d times with %q", st.begun, st.ct)
	}
}

// TestStreamErrorTrailersAndLimit: a failure reported in the trailers
// after streaming is the Response's Error; a body over the stream limit
// is refused 413 and Invoke gets ErrResponseTooLarge; a Stream that fails
// (client gone) does not fail the runtime.
func TestStreamErrorTrailersAndLimit(t *testing.T) {
	s := newTestServer(t, Options{MaxStreamResponse: 10})
	post := func(st Stream, body string, trailer http.Header) (invokeResult, httpResult) {
		rt := newRawRuntime(t, s)
		inv := newInvocation(`{}`)
		inv.Stream = st
		done := invokeAsync(testCtx(t), s, inv)
		rt.expect(rt.next(testCtx(t)), http.StatusOK, "")
		tr := http.Header{}
		for k := range trailer {
			tr[k] = nil
		}
		req, _ := http.NewRequestWithContext(testCtx(t), http.MethodPost, rt.base+"invocation/"+inv.RequestID+"/response",
			&trailerFiller{r: bytes.NewReader([]byte(body)), tr: tr, values: trailer})
		req.Trailer = tr
		res := rt.do(req)
		return <-done, res
	}

	errJSON := `{"errorMessage":"disk full","errorType":"IOError"}`
	st := &chanStream{chunks: make(chan []byte, 16)}
	r, h := post(st, "part", http.Header{hdrErrorType: {"IOError"}, hdrErrorBody: {base64.StdEncoding.EncodeToString([]byte(errJSON))}})
	if h.resp == nil || h.resp.StatusCode != http.StatusAccepted || r.err != nil || r.resp.Error == nil || string(r.resp.Error.Body) != errJSON || !r.resp.Sent {
		t.Errorf("trailer error: %+v %v (runtime got %+v)", r.resp, r.err, h.resp)
	}
	if got := <-st.chunks; string(got) != "part" {
		t.Errorf("chunk %q", got)
	}

	r, h = post(&chanStream{chunks: make(chan []byte, 16)}, "0123456789ABC", nil)
	if !errors.Is(r.err, ErrResponseTooLarge) || h.resp == nil || h.resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("over the limit: %+v %v (runtime got %+v)", r.resp, r.err, h.resp)
	}

	r, h = post(&chanStream{fail: true}, "ok", nil)
	if r.err != nil || r.resp.Error != nil || h.resp == nil || h.resp.StatusCode != http.StatusAccepted {
		t.Errorf("client gone: %+v %v (runtime got %+v)", r.resp, r.err, h.resp)
	}
}
