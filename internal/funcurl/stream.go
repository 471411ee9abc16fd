package funcurl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/function"
)

// IntegrationContentType is the Content-Type of a streamed HTTP response
// (Lambda's streaming response protocol): a JSON prelude with statusCode,
// headers and cookies, eight NUL bytes, then the body.
const IntegrationContentType = "application/vnd.awslambda.http-integration-response"

// maxPrelude bounds the prelude read before the delimiter.
const maxPrelude = 64 << 10

var delimiter = make([]byte, 8)

// errPrelude is a prelude that cannot be used; the client gets a 502.
var errPrelude = errors.New("malformed streaming response prelude")

// Prelude is the head of a streamed HTTP response.
type Prelude struct {
	StatusCode int
	Header     http.Header
}

// ParsePrelude decodes the JSON prelude of a streamed HTTP response:
// {"statusCode":int,"headers":{name:value},"cookies":[...]}. A missing
// statusCode is 200; cookies become Set-Cookie headers.
func ParsePrelude(b []byte) (*Prelude, error) {
	var raw struct {
		StatusCode *int              `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Cookies    []string          `json:"cookies"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: %w", errPrelude, err)
	}
	p := &Prelude{StatusCode: http.StatusOK, Header: http.Header{}}
	if raw.StatusCode != nil {
		if *raw.StatusCode < 100 || *raw.StatusCode > 599 {
			return nil, fmt.Errorf("%w: statusCode %d", errPrelude, *raw.StatusCode)
		}
		p.StatusCode = *raw.StatusCode
	}
	for k, v := range raw.Headers {
		if !validHeaderName(k) || !validHeaderValue(v) {
			return nil, fmt.Errorf("%w: header %q", errPrelude, k)
		}
		p.Header.Set(k, v)
	}
	for _, c := range raw.Cookies {
		if !validHeaderValue(c) {
			return nil, fmt.Errorf("%w: cookie", errPrelude)
		}
		p.Header.Add("Set-Cookie", c)
	}
	return p, nil
}

func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// streamWriter is the invoke.ResponseStream of a RESPONSE_STREAM URL: it
// writes the response head once it is known (at once for a plain stream,
// after the prelude for an HTTP-integration stream) and flushes every
// chunk to the client as it arrives.
type streamWriter struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	r    *http.Request
	cors *function.Cors
	base http.Header // headers every answer carries (request id, trace)

	integration bool   // the body starts with a prelude
	pending     []byte // prelude bytes until the delimiter arrives
	started     bool   // the head was written
	bytes       int64
}

func newStreamWriter(w http.ResponseWriter, r *http.Request, cors *function.Cors, base http.Header) *streamWriter {
	return &streamWriter{w: w, rc: http.NewResponseController(w), r: r, cors: cors, base: base}
}

// Begin implements invoke.ResponseStream.
func (s *streamWriter) Begin(contentType string) error {
	mt, _, _ := mime.ParseMediaType(contentType)
	if strings.EqualFold(mt, IntegrationContentType) {
		s.integration = true
		return nil
	}
	h := http.Header{}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	h.Set("Content-Type", contentType)
	return s.start(&Prelude{StatusCode: http.StatusOK, Header: h})
}

// Write implements invoke.ResponseStream.
func (s *streamWriter) Write(p []byte) (int, error) {
	if !s.started {
		s.pending = append(s.pending, p...)
		i := bytes.Index(s.pending, delimiter)
		if i < 0 {
			if len(s.pending) > maxPrelude {
				return 0, fmt.Errorf("%w: no delimiter in the first %d bytes", errPrelude, maxPrelude)
			}
			return len(p), nil
		}
		pre, err := ParsePrelude(s.pending[:i])
		if err != nil {
			return 0, err
		}
		if err := s.start(pre); err != nil {
			return 0, err
		}
		rest := s.pending[i+len(delimiter):]
		s.pending = nil
		if err := s.send(rest); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if err := s.send(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// finish handles a stream that ended before the head was written: a
// prelude without delimiter or body. It reports whether it answered.
func (s *streamWriter) finish() bool {
	if s.started {
		return true
	}
	if !s.integration || len(s.pending) == 0 {
		return false
	}
	pre, err := ParsePrelude(bytes.TrimRight(s.pending, "\x00"))
	if err != nil {
		return false
	}
	return s.start(pre) == nil
}

func (s *streamWriter) start(p *Prelude) error {
	h := s.w.Header()
	for k, vs := range p.Header {
		h[k] = append(h[k], vs...)
	}
	for k, vs := range s.base {
		h[k] = vs
	}
	applyCORS(h, s.r, s.cors)
	h.Del("Content-Length")
	s.started = true
	s.w.WriteHeader(p.StatusCode)
	if err := s.rc.Flush(); err != nil {
		return fmt.Errorf("flush response head: %w", err)
	}
	return nil
}

func (s *streamWriter) send(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	s.bytes += int64(len(p))
	if _, err := s.w.Write(p); err != nil {
		return fmt.Errorf("write response chunk: %w", err)
	}
	if err := s.rc.Flush(); err != nil {
		return fmt.Errorf("flush response chunk: %w", err)
	}
	return nil
}
