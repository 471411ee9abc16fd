package daemon

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// TestS3CORS: a bucket's CORS rules set with aws-sdk-go-v2 answer
// browsers' unsigned preflights (path-style and virtual-hosted) and add
// Access-Control-* headers to signed answers; another bucket's requests
// get none of them (the rule does not leak), and DeleteBucketCors removes
// them.
func TestS3CORS(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := n.s3Client()
	ctx := context.Background()
	for _, b := range []string{"site", "private"} {
		if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.GetBucketCors(ctx, &awss3.GetBucketCorsInput{Bucket: aws.String("site")}); apiCode(err) != "NoSuchCORSConfiguration" {
		t.Fatalf("GetBucketCors before any: %v", err)
	}
	if _, err := c.PutBucketCors(ctx, &awss3.PutBucketCorsInput{Bucket: aws.String("site"), CORSConfiguration: &s3types.CORSConfiguration{
		CORSRules: []s3types.CORSRule{{AllowedOrigins: []string{"http://app.localhost:3000"}, AllowedMethods: []string{"PUT", "GET"},
			AllowedHeaders: []string{"*"}, ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: aws.Int32(600)}}}}); err != nil {
		t.Fatalf("PutBucketCors: %v", err)
	}
	if _, err := c.PutBucketCors(ctx, &awss3.PutBucketCorsInput{Bucket: aws.String("private"), CORSConfiguration: &s3types.CORSConfiguration{
		CORSRules: []s3types.CORSRule{{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"PATCH"}}}}}); apiCode(err) != "InvalidRequest" {
		t.Errorf("PutBucketCors with PATCH: %v, want InvalidRequest", err)
	}
	got, err := c.GetBucketCors(ctx, &awss3.GetBucketCorsInput{Bucket: aws.String("site")})
	if err != nil || len(got.CORSRules) != 1 || aws.ToInt32(got.CORSRules[0].MaxAgeSeconds) != 600 || got.CORSRules[0].AllowedMethods[1] != "GET" {
		t.Fatalf("GetBucketCors: %+v %v", got, err)
	}

	preflight := func(host, path, origin, method string) (preflightAnswer, string) {
		r, _ := http.NewRequestWithContext(ctx, http.MethodOptions, n.endpoint()+path, nil)
		if host != "" {
			r.Host = host
		}
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", method)
		r.Header.Set("Access-Control-Request-Headers", "content-type, x-amz-date")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return preflightAnswer{StatusCode: resp.StatusCode, Header: resp.Header}, string(b)
	}
	resp, body := preflight("", "/site/uploads/a.jpg", "http://app.localhost:3000", "PUT")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "http://app.localhost:3000" ||
		resp.Header.Get("Access-Control-Allow-Methods") != "PUT, GET" || resp.Header.Get("Access-Control-Max-Age") != "600" ||
		resp.Header.Get("Access-Control-Allow-Headers") != "content-type, x-amz-date" {
		t.Errorf("path-style preflight: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	port := n.d.Addr()[strings.LastIndexByte(n.d.Addr(), ':'):]
	if resp, body := preflight("site.s3.localhost"+port, "/uploads/a.jpg", "http://app.localhost:3000", "GET"); resp.StatusCode != 200 ||
		resp.Header.Get("Access-Control-Allow-Origin") != "http://app.localhost:3000" {
		t.Errorf("virtual-hosted preflight: %d %s", resp.StatusCode, body)
	}
	if resp, body := preflight("", "/site/uploads/a.jpg", "http://evil.localhost", "PUT"); resp.StatusCode != 403 ||
		!strings.Contains(body, "<Code>AccessForbidden</Code>") || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %d %s", resp.StatusCode, body)
	}
	if resp, body := preflight("", "/site/uploads/a.jpg", "http://app.localhost:3000", "DELETE"); resp.StatusCode != 403 {
		t.Errorf("preflight of a method the rule does not allow: %d %s", resp.StatusCode, body)
	}
	// The attack: the same origin against a bucket with no rule for it.
	if resp, body := preflight("", "/private/secret.txt", "http://app.localhost:3000", "GET"); resp.StatusCode != 403 ||
		!strings.Contains(body, "CORS is not enabled for this bucket") || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight against another bucket: %d %s", resp.StatusCode, body)
	}

	// Signed answers carry the headers when the Origin is allowed.
	for _, b := range []string{"site", "private"} {
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	withOrigin := func(o *awss3.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue("Origin", "http://app.localhost:3000"))
	}
	var hdr http.Header
	capture := func(o *awss3.Options) { o.HTTPClient = headerCapture{&hdr} }
	if _, err := n.s3Client(withOrigin, capture).GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("site"), Key: aws.String("k")}); err != nil ||
		hdr.Get("Access-Control-Allow-Origin") != "http://app.localhost:3000" || hdr.Get("Access-Control-Expose-Headers") != "ETag" {
		t.Errorf("GetObject with an allowed Origin: %v %v", err, hdr)
	}
	if _, err := n.s3Client(withOrigin, capture).GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("private"), Key: aws.String("k")}); err != nil ||
		hdr.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("GetObject on the other bucket: %v %v", err, hdr)
	}

	if _, err := c.DeleteBucketCors(ctx, &awss3.DeleteBucketCorsInput{Bucket: aws.String("site")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBucketCors(ctx, &awss3.GetBucketCorsInput{Bucket: aws.String("site")}); apiCode(err) != "NoSuchCORSConfiguration" {
		t.Errorf("GetBucketCors after delete: %v", err)
	}
	if resp, _ := preflight("", "/site/uploads/a.jpg", "http://app.localhost:3000", "PUT"); resp.StatusCode != 403 {
		t.Errorf("preflight after DeleteBucketCors: %d", resp.StatusCode)
	}
}

// headerCapture is an SDK HTTP client that keeps the last answer's headers.
type headerCapture struct{ h *http.Header }

func (c headerCapture) Do(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultClient.Do(r)
	if err == nil {
		*c.h = resp.Header.Clone()
	}
	return resp, err
}

type preflightAnswer struct {
	StatusCode int
	Header     http.Header
}
