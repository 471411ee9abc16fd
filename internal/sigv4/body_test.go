package sigv4_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/nimbus-serverless/nimbus/internal/sigv4"
	"github.com/nimbus-serverless/nimbus/internal/sigv4/sigv4test"
)

var bodyNow = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

func bodyVerifier(t *testing.T, mutate func(*sigv4.Options)) (*sigv4.Verifier, string) {
	t.Helper()
	dir := t.TempDir()
	o := sigv4.Options{Keys: keys{akid: secret}, Region: region, Now: func() time.Time { return bodyNow },
		SpoolDir: dir, MaxSpooled: 1, MaxBody: 4 << 20}
	if mutate != nil {
		mutate(&o)
	}
	return sigv4.New(o), dir
}

// signedRequest is a POST of body signed the way the SDKs sign Lambda
// calls (no X-Amz-Content-Sha256 header) unless hdr sets one first.
func signedRequest(t *testing.T, body []byte, hdr map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:4566/2015-03-31/functions", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}
	if err := sigv4test.Sign(req, creds, region, "lambda", bodyNow); err != nil {
		t.Fatal(err)
	}
	return req
}

// signedChunked is signedRequest for a body of undeclared length.
func signedChunked(t *testing.T, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:4566/2015-03-31/functions", io.NopCloser(bytes.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hashOf(body), "lambda", region, bodyNow); err != nil {
		t.Fatal(err)
	}
	return req
}

// wrongSignature replaces the request's signature with another.
func wrongSignature(req *http.Request) {
	a := req.Header.Get("Authorization")
	i := strings.Index(a, "Signature=") + len("Signature=")
	req.Header.Set("Authorization", a[:i]+strings.Repeat("0", 64))
}

// watchedBody is a body that records whether anyone read it.
type watchedBody struct {
	r    io.Reader
	read bool
}

func (w *watchedBody) Read(p []byte) (int, error) { w.read = true; return w.r.Read(p) }
func (w *watchedBody) Close() error               { return nil }

func randomBody(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, uint64(n)))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func dirEntries(t *testing.T, dir string) int {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// TestVerifyLargeBodyIsSpooled: a body over MemBody is verified from an
// unlinked file (nothing left in the spool directory) and read back whole;
// reading it to EOF frees its slot for the next one.
func TestVerifyLargeBodyIsSpooled(t *testing.T) {
	v, dir := bodyVerifier(t, nil)
	body := randomBody(1 << 20)
	for i := range 3 { // MaxSpooled is 1: each must free the slot
		req := signedRequest(t, body, nil)
		if _, err := v.Verify(req, "lambda"); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if n := dirEntries(t, dir); n != 0 {
			t.Fatalf("spool directory holds %d entries while the body is open", n)
		}
		got, err := io.ReadAll(req.Body)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("request %d: read back %d bytes (%v), want the %d signed", i, len(got), err, len(body))
		}
	}
	// Chunked (no declared length): spooled too.
	req := signedChunked(t, body)
	if _, err := v.Verify(req, "lambda"); err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(req.Body); !bytes.Equal(got, body) {
		t.Fatalf("chunked body read back %d bytes", len(got))
	}
}

// TestVerifySpoolSlots: a spooled body holds its slot until EOF, Close or
// the end of its request's context; with none free a body is refused
// with ErrBusy (SpoolWait 0) or waits for one.
func TestVerifySpoolSlots(t *testing.T) {
	v, _ := bodyVerifier(t, nil)
	body := randomBody(512 << 10)
	ctx, cancel := context.WithCancel(context.Background())
	held := signedRequest(t, body, nil).WithContext(ctx)
	if _, err := v.Verify(held, "lambda"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(signedRequest(t, body, nil), "lambda"); !errors.Is(err, sigv4.ErrBusy) {
		t.Fatalf("second large body while the first is held: %v, want ErrBusy", err)
	}
	// A small body needs no slot.
	if _, err := v.Verify(signedRequest(t, []byte(`{"a":1}`), nil), "lambda"); err != nil {
		t.Fatalf("small body: %v", err)
	}
	waiting, _ := bodyVerifier(t, func(o *sigv4.Options) { o.SpoolWait = time.Hour })
	held2 := signedRequest(t, body, nil).WithContext(ctx)
	if _, err := waiting.Verify(held2, "lambda"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := waiting.Verify(signedRequest(t, body, nil), "lambda")
		done <- err
	}()
	cancel() // the held requests end: their slots come free
	if err := <-done; err != nil {
		t.Fatalf("a body waiting for a slot: %v", err)
	}
}

// TestVerifyRefusesBeforeReading: what can be refused without the body is
// refused without reading a byte of it.
func TestVerifyRefusesBeforeReading(t *testing.T) {
	body := randomBody(1 << 20)
	declared := map[string]string{sigv4.HeaderContentSHA256: hashOf(body)}
	cases := []struct {
		name  string
		req   func() *http.Request
		check func(error) bool
	}{
		{"wrong signature, declared hash", func() *http.Request {
			r := signedRequest(t, body, declared)
			wrongSignature(r)
			return r
		}, isKind(sigv4.KindMismatch)},
		{"unknown key", func() *http.Request {
			r := signedRequest(t, body, nil)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), akid, "AKIDOTHER", 1))
			return r
		}, isKind(sigv4.KindUnknownKey)},
		{"signed header absent", func() *http.Request {
			r := signedRequest(t, body, map[string]string{"X-Amz-Target": "x"})
			r.Header.Del("X-Amz-Target")
			return r
		}, isKind(sigv4.KindMismatch)},
		{"declared length over MaxBody", func() *http.Request {
			r := signedRequest(t, body, nil)
			r.ContentLength = 5 << 20
			return r
		}, func(err error) bool { return errors.Is(err, sigv4.ErrBodyTooLarge) }},
		{"expired", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:4566/2015-03-31/functions", bytes.NewReader(body))
			_ = sigv4test.Sign(req, aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, region, "lambda", bodyNow.Add(-time.Hour))
			return req
		}, isKind(sigv4.KindExpired)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, _ := bodyVerifier(t, nil)
			r := c.req()
			wb := &watchedBody{r: bytes.NewReader(body)}
			r.Body = wb
			_, err := v.Verify(r, "lambda")
			if !c.check(err) {
				t.Fatalf("err %v", err)
			}
			if wb.read {
				t.Fatal("the body was read before the request was refused")
			}
		})
	}
}

// TestVerifyPresignedUnsignedPayloadNotRead: a presigned URL signed with
// UNSIGNED-PAYLOAD is verified without reading the body.
func TestVerifyPresignedUnsignedPayloadNotRead(t *testing.T) {
	v, _ := bodyVerifier(t, nil)
	body := randomBody(1 << 20)
	req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:4566/2015-03-31/functions/f/code", nil)
	u := presign(t, req)
	r, _ := http.NewRequest(http.MethodPut, u, nil)
	wb := &watchedBody{r: bytes.NewReader(body)}
	r.Body, r.ContentLength = wb, int64(len(body))
	if _, err := v.Verify(r, "lambda"); err != nil {
		t.Fatal(err)
	}
	if wb.read {
		t.Fatal("an UNSIGNED-PAYLOAD body was read to verify the signature")
	}
}

func presign(t *testing.T, req *http.Request) string {
	t.Helper()
	q := req.URL.Query()
	q.Set("X-Amz-Expires", "300")
	req.URL.RawQuery = q.Encode()
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret},
		req, sigv4.UnsignedPayload, "lambda", region, bodyNow)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestVerifyWrongSignatureFreesSpool: a large body with a wrong signature
// gives its slot back when it is refused, not when the request ends.
func TestVerifyWrongSignatureFreesSpool(t *testing.T) {
	v, _ := bodyVerifier(t, nil)
	body := randomBody(1 << 20)
	for range 3 {
		r := signedRequest(t, body, nil)
		wrongSignature(r)
		if _, err := v.Verify(r, "lambda"); !isKind(sigv4.KindMismatch)(err) {
			t.Fatalf("wrong signature: %v", err)
		}
	}
	// A declared hash the body does not match.
	r := signedRequest(t, body, map[string]string{sigv4.HeaderContentSHA256: hashOf(body)})
	r.Body = io.NopCloser(bytes.NewReader(randomBody(len(body) + 1)[1:]))
	if _, err := v.Verify(r, "lambda"); !isKind(sigv4.KindPayload)(err) {
		t.Fatalf("body not matching its declared hash: %v", err)
	}
	ok := signedRequest(t, body, nil)
	if _, err := v.Verify(ok, "lambda"); err != nil {
		t.Fatalf("after refusals the slot must be free: %v", err)
	}
	_ = ok.Body.Close()
	// Longer than MaxBody with no declared length.
	big := randomBody(5 << 20)
	r = signedChunked(t, big)
	if _, err := v.Verify(r, "lambda"); !errors.Is(err, sigv4.ErrBodyTooLarge) {
		t.Fatalf("undeclared body over MaxBody: %v", err)
	}
	if _, err := v.Verify(signedRequest(t, body, nil), "lambda"); err != nil {
		t.Fatalf("after a too-large body the slot must be free: %v", err)
	}
}

// TestVerifyTruncatedBody: a body shorter than its declared length is the
// client's fault (ErrBodyRead), in memory and spooled.
func TestVerifyTruncatedBody(t *testing.T) {
	v, _ := bodyVerifier(t, nil)
	for _, n := range []int{1 << 10, 1 << 20} {
		body := randomBody(n)
		r := signedRequest(t, body, nil)
		r.Body = io.NopCloser(bytes.NewReader(body[:n/2]))
		if _, err := v.Verify(r, "lambda"); !errors.Is(err, sigv4.ErrBodyRead) {
			t.Fatalf("%d bytes cut in half: %v, want ErrBodyRead", n, err)
		}
	}
}

func isKind(k sigv4.Kind) func(error) bool {
	return func(err error) bool {
		var e *sigv4.Error
		return errors.As(err, &e) && e.Kind == k
	}
}

// TestVerifyMemoryBudget: bodies held in memory share one budget; past it
// they are spooled (and with no spool slot either, refused), so many
// clients with small bodies cannot add up to unbounded memory.
func TestVerifyMemoryBudget(t *testing.T) {
	v, _ := bodyVerifier(t, func(o *sigv4.Options) { o.MemBody, o.MemBudget = 1024, 1024 })
	body := randomBody(1024)
	first := signedRequest(t, body, nil)
	if _, err := v.Verify(first, "lambda"); err != nil {
		t.Fatal(err)
	}
	second := signedRequest(t, body, nil) // budget spent: spooled, in the one slot
	if _, err := v.Verify(second, "lambda"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(signedRequest(t, body, nil), "lambda"); !errors.Is(err, sigv4.ErrBusy) {
		t.Fatalf("third body with the budget and the slot taken: %v, want ErrBusy", err)
	}
	if got, _ := io.ReadAll(first.Body); !bytes.Equal(got, body) { // EOF gives the budget back
		t.Fatal("first body read back wrong")
	}
	fourth := signedRequest(t, body, nil)
	if _, err := v.Verify(fourth, "lambda"); err != nil {
		t.Fatalf("after the first body was read: %v", err)
	}
	for _, r := range []*http.Request{second, fourth} {
		if got, _ := io.ReadAll(r.Body); !bytes.Equal(got, body) {
			t.Fatal("body read back wrong")
		}
	}
}

// TestVerifyDeclaredHashNeedsNoSlot: a body whose declared hash the
// signature already covers is its verified caller's, and is spooled even
// when every slot is held by callers not yet authenticated.
func TestVerifyDeclaredHashNeedsNoSlot(t *testing.T) {
	v, _ := bodyVerifier(t, nil)
	body := randomBody(1 << 20)
	held := signedRequest(t, body, nil)
	if _, err := v.Verify(held, "lambda"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(signedRequest(t, body, nil), "lambda"); !errors.Is(err, sigv4.ErrBusy) {
		t.Fatalf("undeclared hash with the slot held: %v, want ErrBusy", err)
	}
	r := signedRequest(t, body, map[string]string{sigv4.HeaderContentSHA256: hashOf(body)})
	if _, err := v.Verify(r, "lambda"); err != nil {
		t.Fatalf("declared hash with the slot held: %v", err)
	}
	if got, _ := io.ReadAll(r.Body); !bytes.Equal(got, body) {
		t.Fatal("body read back wrong")
	}
	_ = held.Body.Close()
}

// A verified body held in memory can be looked at (Peek) without being
// consumed: the handler still reads all of it, and the memory budget is
// returned once it has.
func TestVerifiedBodyPeek(t *testing.T) {
	v, _ := bodyVerifier(t, nil)
	body := []byte(`{"TableName":"t","Key":{"pk":{"S":"k"}}}`)
	req := signedRequest(t, body, nil)
	if _, err := v.Verify(req, "lambda"); err != nil {
		t.Fatal(err)
	}
	p, ok := req.Body.(interface{ Peek() []byte })
	if !ok {
		t.Fatalf("verified body %T cannot be peeked", req.Body)
	}
	if got := p.Peek(); !bytes.Equal(got, body) {
		t.Fatalf("Peek = %q, want %q", got, body)
	}
	half := make([]byte, 10)
	if _, err := io.ReadFull(req.Body, half); err != nil {
		t.Fatal(err)
	}
	if got := p.Peek(); !bytes.Equal(got, body[10:]) {
		t.Fatalf("Peek after reading 10 bytes = %q, want %q", got, body[10:])
	}
	rest, err := io.ReadAll(req.Body)
	if err != nil || !bytes.Equal(append(half, rest...), body) {
		t.Fatalf("handler read %q (%v), want %q", append(half, rest...), err, body)
	}
}
