package sigv4_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

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
