package sigv4_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/sigv4"
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
