// Package sigv4test signs test requests with AWS Signature Version 4 the
// way the AWS SDKs do (it uses aws-sdk-go-v2's signer), for tests that
// talk to a Nimbus node with plain net/http: a signing http.Client, or one
// request signed at a chosen time. Only tests import it.
package sigv4test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Sign signs req in place for service and region with creds at time at.
// It reads the body to hash it and puts a copy back.
func Sign(req *http.Request, creds aws.Credentials, region, service string, at time.Time) error {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return fmt.Errorf("read body to sign: %w", err)
		}
		_ = req.Body.Close()
		body = b
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.ContentLength = int64(len(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	sum := sha256.Sum256(body)
	ctx := req.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if service == "s3" && req.Header.Get("X-Amz-Content-Sha256") == "" {
		req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:])) // S3 requires it, as its SDKs send it
	}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	return nil
}

// Transport signs every request with the credentials of Creds before Base
// (http.DefaultTransport when nil) sends it.
type Transport struct {
	Base            http.RoundTripper
	Creds           aws.CredentialsProvider
	Region, Service string
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	creds, err := t.Creds.Retrieve(req.Context())
	if err != nil {
		return nil, fmt.Errorf("retrieve credentials: %w", err)
	}
	r := req.Clone(req.Context())
	if err := Sign(r, creds, t.Region, t.Service, time.Now()); err != nil {
		return nil, err
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// Client returns an http.Client that signs each request for service and
// region with creds.
func Client(creds aws.CredentialsProvider, region, service string) *http.Client {
	return &http.Client{Transport: &Transport{Creds: creds, Region: region, Service: service}}
}
