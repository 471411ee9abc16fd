package cli

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// sdkStream behaves as smithy-go's request stream: once closed, its
// WriteTo answers io.EOF (an error for io.Copy) instead of (0, nil).
type sdkStream struct {
	mu     sync.Mutex
	r      *strings.Reader
	closed bool
}

func (s *sdkStream) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, io.EOF
	}
	return s.r.Read(p)
}

func (s *sdkStream) WriteTo(w io.Writer) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, io.EOF
	}
	return s.r.WriteTo(w)
}

func (s *sdkStream) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// transportLike reads a request body as net/http's transfer writer does:
// Content-Length bytes, then a copy of the rest to check for extra bytes
// — after the SDK closed its stream, as when the response came first.
type transportLike struct {
	stream *sdkStream
	got    string
	err    error
}

func (c *transportLike) Do(req *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(io.LimitReader(req.Body, req.ContentLength))
	if err != nil {
		return nil, err
	}
	c.got = string(b)
	_ = c.stream.Close() // the SDK has its response and closes its stream
	_, c.err = io.Copy(io.Discard, req.Body)
	return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
}

func TestBufferedBodiesSurviveTheSDKClosingItsStream(t *testing.T) {
	const form = "Action=DescribeStackEvents&StackName=s&Version=2010-05-15"
	newReq := func(s *sdkStream) *http.Request {
		req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/", s)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = int64(len(form))
		return req
	}

	// Unwrapped: the extra-bytes check fails, which makes net/http close
	// the connection under the response.
	s := &sdkStream{r: strings.NewReader(form)}
	bare := &transportLike{stream: s}
	do(t, bare, newReq(s))
	if !errors.Is(bare.err, io.EOF) {
		t.Fatalf("the unwrapped stream's check = %v; the test no longer shows the failure", bare.err)
	}

	s = &sdkStream{r: strings.NewReader(form)}
	inner := &transportLike{stream: s}
	do(t, bufferedBodies{next: inner}, newReq(s))
	if inner.got != form || inner.err != nil {
		t.Errorf("buffered body: read %q, extra-bytes check %v", inner.got, inner.err)
	}

	// Bodies without a length, and large ones, pass through untouched.
	s = &sdkStream{r: strings.NewReader(form)}
	req := newReq(s)
	req.ContentLength = maxBufferedBody + 1
	pass := &passThrough{}
	do(t, bufferedBodies{next: pass}, req)
	if pass.body != io.ReadCloser(s) {
		t.Errorf("a large body was not passed through")
	}
}

func do(t *testing.T, c aws.HTTPClient, req *http.Request) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
}

type passThrough struct{ body io.ReadCloser }

func (p *passThrough) Do(req *http.Request) (*http.Response, error) {
	p.body = req.Body
	return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
}
