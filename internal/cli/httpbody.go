package cli

import (
	"bytes"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// maxBufferedBody is the largest request body bufferedBodies copies; the
// API calls' bodies are far smaller (CloudFormation's are at most about
// 1 MB), artifact uploads larger ones stream as they are.
const maxBufferedBody = 4 << 20

// bufferedBodies hands the transport a copy of each small request body
// instead of the SDK's own stream.
//
// The SDK closes its request stream once it has the response, while
// net/http may still be checking that stream for bytes beyond the
// Content-Length (the server answers as soon as it has read the body).
// smithy-go's closed stream then answers that check's WriteTo with
// io.EOF, which net/http takes for a failed body read: it closes the
// connection under the response being read, the SDK logs "failed to
// discard remaining HTTP response body ... use of closed network
// connection" and retries the call. A copy the SDK does not own is never
// closed under the transport.
type bufferedBodies struct {
	next aws.HTTPClient
}

func (c bufferedBodies) Do(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength <= 0 || req.ContentLength > maxBufferedBody {
		return c.next.Do(req)
	}
	b, err := io.ReadAll(io.LimitReader(req.Body, req.ContentLength))
	_ = req.Body.Close()
	if err != nil {
		return nil, err
	}
	cp := req.Clone(req.Context())
	cp.Body = io.NopCloser(bytes.NewReader(b))
	cp.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return c.next.Do(cp)
}
