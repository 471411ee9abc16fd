package sigv4_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/nimbus-serverless/nimbus/internal/sigv4"
	"github.com/nimbus-serverless/nimbus/internal/sigv4/sigv4test"
)

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("a", 64),
		"AWS4-HMAC-SHA256 Credential=AKID/2026112/us-east-1/lambda/aws4_request,SignedHeaders=host,Signature=00",
		"AWS4-HMAC-SHA256 Credential=/20261127//lambda/aws4_request, SignedHeaders=, Signature=",
		"AWS4-HMAC-SHA256 Credential=a=b=c, Credential=x",
		"AWS4-ECDSA-P256-SHA256 Credential=x",
		"Bearer abc",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		sig, err := sigv4.ParseAuthorization(v)
		if (sig == nil) == (err == nil) {
			t.Fatalf("sig %v err %v: exactly one must be set", sig, err)
		}
		if err != nil {
			var e *sigv4.Error
			if !errors.As(err, &e) || e.Message == "" {
				t.Fatalf("error %v is not a *sigv4.Error with a message", err)
			}
			return
		}
		if len(sig.Signature) != 64 || sig.AccessKeyID == "" || len(sig.Scope.Date) != 8 || len(sig.SignedHeaders) == 0 {
			t.Fatalf("accepted an incomplete signature: %+v", sig)
		}
	})
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261127%2Fus-east-1%2Flambda%2Faws4_request&X-Amz-Date=20261127T080000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=" + strings.Repeat("0", 64),
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=-1",
		"X-Amz-Signature=abc",
		"Action=List",
		"X-Amz-Expires=99999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		sig, err := sigv4.ParseQuery(q)
		if err != nil {
			var e *sigv4.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not a *sigv4.Error", err)
			}
			return
		}
		if sig == nil {
			return
		}
		if !sig.Presigned || len(sig.Signature) != 64 || sig.Expires < 0 || sig.Expires > sigv4.MaxPresignExpires {
			t.Fatalf("accepted %+v", sig)
		}
	})
}

// FuzzVerify feeds arbitrary request lines, Authorization headers and
// bodies to the verifier: it never panics, and never accepts a request
// without the right signature.
func FuzzVerify(f *testing.F) {
	f.Add("/2015-03-31/functions/a%2Fb/invocations", "Qualifier=1&x=%20", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature="+strings.Repeat("a", 64), "20261127T080000Z", "{}")
	f.Add("/", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261127%2Fus-east-1%2Flambda%2Faws4_request&X-Amz-Date=20261127T080000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature="+strings.Repeat("b", 64), "", "", "")
	f.Add("/a/../b//c", "a=1&a=0", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/us-east-1/lambda/aws4_request,SignedHeaders=content-length;host;x-amz-date,Signature="+strings.Repeat("c", 64), "20261127T080000Z", "x")
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	v := sigv4.New(sigv4.Options{Keys: keys{akid: secret}, Region: region, Now: func() time.Time { return now }})
	f.Fuzz(func(t *testing.T, path, query, auth, date, body string) {
		req, err := http.NewRequestWithContext(context.Background(), "POST", "http://127.0.0.1:4566/", strings.NewReader(body))
		if err != nil {
			return
		}
		req.RequestURI = path + "?" + query
		req.URL.RawQuery = query
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if date != "" {
			req.Header.Set("X-Amz-Date", date)
		}
		if _, err := v.Verify(req, "lambda"); err == nil {
			t.Fatalf("accepted a request with a made-up signature: %q %q %q", path, query, auth)
		}
	})
}

// FuzzVerifyPayload signs one body and sends another, with any
// X-Amz-Content-Sha256 value and a declared length that may lie, through
// the memory and the spool paths: a request is accepted only when the body
// it declares is the one signed, and the handler then reads exactly that.
func FuzzVerifyPayload(f *testing.F) {
	f.Add([]byte(`{"a":1}`), []byte(`{"a":1}`), "", false, uint8(0))
	f.Add([]byte(`{"a":1}`), []byte(`{"a":2}`), "", false, uint8(3))
	f.Add([]byte("0123456789"), []byte("01234"), "", true, uint8(2))
	f.Add([]byte("0123456789"), []byte("0123456789abc"), "", true, uint8(200))
	f.Add([]byte("x"), []byte("x"), hashOf([]byte("x")), false, uint8(0))
	f.Add([]byte("x"), []byte("y"), hashOf([]byte("x")), false, uint8(1))
	f.Add([]byte(""), []byte(""), sigv4.UnsignedPayload, false, uint8(1))
	f.Add([]byte("x"), []byte("x"), strings.ToUpper(hashOf([]byte("x"))), false, uint8(1))
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	dir := f.TempDir()
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}
	f.Fuzz(func(t *testing.T, signed, sent []byte, declared string, lie bool, mem uint8) {
		v := sigv4.New(sigv4.Options{Keys: keys{akid: secret}, Region: region, Now: func() time.Time { return now },
			MemBody: int64(mem%64) + 1, MaxBody: 4096, SpoolDir: dir, MaxSpooled: 1})
		req, err := http.NewRequestWithContext(context.Background(), "POST", "http://127.0.0.1:4566/2015-03-31/functions", bytes.NewReader(signed))
		if err != nil {
			t.Fatal(err)
		}
		if declared != "" {
			req.Header.Set(sigv4.HeaderContentSHA256, declared)
		}
		if strings.ContainsAny(declared, "\r\n\x00") {
			return // not a header value a server would receive
		}
		if err := sigv4test.Sign(req, creds, region, "lambda", now); err != nil {
			t.Fatal(err)
		}
		req.Body = io.NopCloser(bytes.NewReader(sent))
		if !lie {
			req.ContentLength = int64(len(sent))
		}
		_, err = v.Verify(req, "lambda")
		consistent := bytes.Equal(signed, sent) && len(signed) <= 4096 &&
			(declared == "" || declared == hashOf(signed))
		if err != nil {
			if consistent {
				t.Fatalf("refused a request whose body is the one signed: %v", err)
			}
			return
		}
		// The handler reads what was signed, and only bytes that were sent
		// (a declared length shorter than the data ends the body there, as
		// net/http does).
		got, err := io.ReadAll(req.Body)
		if err != nil || !bytes.Equal(got, signed) || !bytes.HasPrefix(sent, got) {
			t.Fatalf("sent %q signed %q: handler read %q (%v)", sent, signed, got, err)
		}
		_ = req.Body.Close()
	})
}
