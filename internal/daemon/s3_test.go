package daemon

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // S3's ETag
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// s3Client is an aws-sdk-go-v2 S3 client for the node, path-style.
func (n *node) s3Client(opts ...func(*awss3.Options)) *awss3.Client {
	return awss3.NewFromConfig(n.awsConfig(), append([]func(*awss3.Options){func(o *awss3.Options) { o.UsePathStyle = true }}, opts...)...)
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestS3ObjectsWithGoSDK: buckets and objects through the front door with
// aws-sdk-go-v2 (its default checksums: CRC32 on PUT, validated on GET).
func TestS3ObjectsWithGoSDK(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := n.s3Client()
	ctx := t.Context()
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("photos")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("photos")}); apiCode(err) != "BucketAlreadyOwnedByYou" {
		t.Fatalf("second create: %v", err)
	}
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("Not_DNS")}); apiCode(err) != "InvalidBucketName" {
		t.Fatalf("invalid name: %v", err)
	}
	body := []byte("hello, nimbus")
	put, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String("a/b c.txt"),
		Body: bytes.NewReader(body), ContentType: aws.String("text/plain"), Metadata: map[string]string{"owner": "me"}})
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(body) //nolint:gosec
	if want := `"` + hex.EncodeToString(sum[:]) + `"`; aws.ToString(put.ETag) != want {
		t.Errorf("etag %s, want %s", aws.ToString(put.ETag), want)
	}
	got, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("a/b c.txt"),
		ChecksumMode: s3types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(got.Body)
	_ = got.Body.Close()
	if err != nil || !bytes.Equal(data, body) {
		t.Fatalf("get: %q %v", data, err)
	}
	if aws.ToString(got.ContentType) != "text/plain" || got.Metadata["owner"] != "me" {
		t.Errorf("content type %q metadata %v", aws.ToString(got.ContentType), got.Metadata)
	}
	rg, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("a/b c.txt"), Range: aws.String("bytes=7-")})
	if err != nil {
		t.Fatal(err)
	}
	data, _ = io.ReadAll(rg.Body)
	_ = rg.Body.Close()
	if string(data) != "nimbus" || aws.ToString(rg.ContentRange) != "bytes 7-12/13" {
		t.Errorf("range: %q %s", data, aws.ToString(rg.ContentRange))
	}
	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String("a/b c.txt"),
		Body: strings.NewReader("again"), IfNoneMatch: aws.String("*")})
	if apiCode(err) != "PreconditionFailed" {
		t.Errorf("If-None-Match * on an existing key: %v", err)
	}
	if _, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("photos"), Key: aws.String("missing")}); apiCode(err) != "NotFound" {
		t.Errorf("head missing: %v", err)
	}
	if _, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("missing")}); apiCode(err) != "NoSuchKey" {
		t.Errorf("get missing: %v", err)
	}
	if _, err := c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("photos"), Key: aws.String("copy.txt"),
		CopySource: aws.String("photos/a/b%20c.txt")}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String(fmt.Sprintf("dir/%d/x", i)),
			Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	var keys, prefixes []string
	p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String("photos"), Delimiter: aws.String("/"),
		MaxKeys: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		for _, cp := range page.CommonPrefixes {
			prefixes = append(prefixes, aws.ToString(cp.Prefix))
		}
	}
	if fmt.Sprint(keys) != "[copy.txt]" || fmt.Sprint(prefixes) != "[a/ dir/]" {
		t.Errorf("list: keys %v prefixes %v", keys, prefixes)
	}
	lo, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("photos"), Prefix: aws.String("dir/"), StartAfter: aws.String("dir/2/x")})
	if err != nil || len(lo.Contents) != 2 || aws.ToString(lo.Contents[0].Key) != "dir/3/x" {
		t.Errorf("start-after: %v %+v", err, lo)
	}
	s3ACLSteps(t, c)
	if _, err := c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String("photos")}); apiCode(err) != "BucketNotEmpty" {
		t.Errorf("delete non-empty bucket: %v", err)
	}
	del, err := c.DeleteObjects(ctx, &awss3.DeleteObjectsInput{Bucket: aws.String("photos"), Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{
		{Key: aws.String("a/b c.txt")}, {Key: aws.String("copy.txt")}, {Key: aws.String("dir/0/x")}, {Key: aws.String("dir/1/x")},
		{Key: aws.String("dir/2/x")}, {Key: aws.String("dir/3/x")}, {Key: aws.String("dir/4/x")}}}})
	if err != nil || len(del.Deleted) != 7 {
		t.Fatalf("delete objects: %v %+v", err, del)
	}
	if _, err := c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String("photos")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String("photos")}); apiCode(err) != "NotFound" {
		t.Errorf("head deleted bucket: %v", err)
	}
}

// TestS3Multipart: a multipart upload with the Go SDK: parts, ListParts,
// ListMultipartUploads, Complete with the "-N" ETag, EntityTooSmall.
func TestS3Multipart(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := n.s3Client()
	ctx := t.Context()
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("big")}); err != nil {
		t.Fatal(err)
	}
	up, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("big"), Key: aws.String("obj"),
		ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32})
	if err != nil {
		t.Fatal(err)
	}
	part1 := bytes.Repeat([]byte("a"), 5<<20)
	part2 := []byte("tail")
	var parts []s3types.CompletedPart
	var md5s []byte
	for i, b := range [][]byte{part1, part2} {
		r, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("big"), Key: aws.String("obj"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(b), ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, s3types.CompletedPart{ETag: r.ETag, PartNumber: aws.Int32(int32(i + 1)), ChecksumCRC32: r.ChecksumCRC32})
		s := md5.Sum(b) //nolint:gosec
		md5s = append(md5s, s[:]...)
	}
	lp, err := c.ListParts(ctx, &awss3.ListPartsInput{Bucket: aws.String("big"), Key: aws.String("obj"), UploadId: up.UploadId})
	if err != nil || len(lp.Parts) != 2 || aws.ToInt64(lp.Parts[0].Size) != 5<<20 {
		t.Fatalf("list parts: %v %+v", err, lp)
	}
	lu, err := c.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: aws.String("big")})
	if err != nil || len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != aws.ToString(up.UploadId) {
		t.Fatalf("list uploads: %v %+v", err, lu)
	}
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("big"), Key: aws.String("obj"),
		UploadId: up.UploadId, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: []s3types.CompletedPart{parts[1], parts[0]}}})
	if apiCode(err) != "InvalidPartOrder" {
		t.Errorf("parts out of order: %v", err)
	}
	done, err := c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("big"), Key: aws.String("obj"),
		UploadId: up.UploadId, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		t.Fatal(err)
	}
	all := md5.Sum(md5s) //nolint:gosec
	if want := `"` + hex.EncodeToString(all[:]) + `-2"`; aws.ToString(done.ETag) != want {
		t.Errorf("multipart etag %s, want %s", aws.ToString(done.ETag), want)
	}
	h, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("big"), Key: aws.String("obj")})
	if err != nil || aws.ToInt64(h.ContentLength) != 5<<20+4 {
		t.Fatalf("head: %v %+v", err, h)
	}
	attrs, err := c.GetObjectAttributes(ctx, &awss3.GetObjectAttributesInput{Bucket: aws.String("big"), Key: aws.String("obj"),
		ObjectAttributes: []s3types.ObjectAttributes{s3types.ObjectAttributesEtag, s3types.ObjectAttributesObjectSize,
			s3types.ObjectAttributesObjectParts, s3types.ObjectAttributesChecksum}})
	if err != nil || aws.ToInt64(attrs.ObjectSize) != 5<<20+4 || attrs.ObjectParts == nil || aws.ToInt32(attrs.ObjectParts.TotalPartsCount) != 2 ||
		attrs.Checksum == nil || !strings.HasSuffix(aws.ToString(attrs.Checksum.ChecksumCRC32), "-2") {
		t.Errorf("attributes: %v %+v", err, attrs)
	}
	// A part below 5 MiB that is not the last is refused at Complete.
	up2, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("big"), Key: aws.String("small")})
	if err != nil {
		t.Fatal(err)
	}
	var small []s3types.CompletedPart
	for i := range 2 {
		r, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("big"), Key: aws.String("small"), UploadId: up2.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: strings.NewReader("tiny")})
		if err != nil {
			t.Fatal(err)
		}
		small = append(small, s3types.CompletedPart{ETag: r.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("big"), Key: aws.String("small"),
		UploadId: up2.UploadId, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: small}})
	if apiCode(err) != "EntityTooSmall" {
		t.Errorf("small part: %v", err)
	}
	if _, err := c.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: aws.String("big"), Key: aws.String("small"),
		UploadId: up2.UploadId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("big"), Key: aws.String("small"), UploadId: up2.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("x")}); apiCode(err) != "NoSuchUpload" {
		t.Errorf("part of an aborted upload: %v", err)
	}
}

// TestS3Presigned: presigned GET and PUT work until they expire; an
// altered signature or method is refused with S3's codes.
func TestS3Presigned(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := n.s3Client()
	ctx := t.Context()
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	ps := awss3.NewPresignClient(c)
	put, err := ps.PresignPutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("up.txt")},
		awss3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, u string, body io.Reader, hdr http.Header) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, u, body)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, b := do(put.Method, put.URL, strings.NewReader("via presigned put"), put.SignedHeader); code != 200 {
		t.Fatalf("presigned put: %d %s", code, b)
	}
	get, err := ps.PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("shared"), Key: aws.String("up.txt")},
		awss3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if code, b := do("GET", get.URL, nil, nil); code != 200 || b != "via presigned put" {
		t.Fatalf("presigned get: %d %s", code, b)
	}
	// The same URL with another method, or a changed signature, or a
	// changed key.
	if code, b := do("DELETE", get.URL, nil, nil); code != 403 || !strings.Contains(b, "<Code>SignatureDoesNotMatch</Code>") {
		t.Errorf("method changed: %d %s", code, b)
	}
	forged := strings.Replace(get.URL, "X-Amz-Signature=", "X-Amz-Signature=0", 1)
	forged = forged[:len(forged)-1]
	if code, b := do("GET", forged, nil, nil); code != 403 || !strings.Contains(b, "<Code>SignatureDoesNotMatch</Code>") {
		t.Errorf("signature changed: %d %s", code, b)
	}
	if code, b := do("GET", strings.Replace(get.URL, "/up.txt", "/other.txt", 1), nil, nil); code != 403 {
		t.Errorf("key changed: %d %s", code, b)
	}
	// Expired: signed an hour ago for 60 seconds.
	old, err := ps.PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("shared"), Key: aws.String("up.txt")},
		awss3.WithPresignExpires(time.Minute), func(o *awss3.PresignOptions) { o.Presigner = pastSigner{o.Presigner} })
	if err != nil {
		t.Fatal(err)
	}
	if code, b := do("GET", old.URL, nil, nil); code != 403 || !strings.Contains(b, "<Code>AccessDenied</Code>") || !strings.Contains(b, "Request has expired") {
		t.Errorf("expired presigned url: %d %s", code, b)
	}
	// Unsigned and wrongly signed requests.
	if code, b := do("GET", n.endpoint()+"/shared/up.txt?X-Amz-Credential=x", nil, nil); code < 400 || strings.Contains(b, "via presigned") {
		t.Errorf("unsigned get: %d %s", code, b)
	}
}

// pastSigner presigns as of an hour ago.
type pastSigner struct{ awss3.HTTPPresignerV4 }

func (p pastSigner) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string,
	at time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return p.HTTPPresignerV4.PresignHTTP(ctx, creds, r, payloadHash, service, region, at.Add(-time.Hour), optFns...)
}

// TestS3WithBoto3AndCLI: boto3 (its default CRC32 checksums, aws-chunked
// bodies) and the AWS CLI's s3 commands, multipart for a file over 8 MB.
func TestS3WithBoto3AndCLI(t *testing.T) {
	needTool(t, "python3", "-c", "import boto3")
	n := startNode(t, t.TempDir())
	dir := t.TempDir()
	script := `
import boto3, botocore, os, sys
from botocore.config import Config
s3 = boto3.client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
s3.create_bucket(Bucket="py-bucket")
s3.put_object(Bucket="py-bucket", Key="k1", Body=b"from python", Metadata={"a": "b"})
o = s3.get_object(Bucket="py-bucket", Key="k1", ChecksumMode="ENABLED")
assert o["Body"].read() == b"from python", o
assert o["Metadata"] == {"a": "b"}, o["Metadata"]
assert "ChecksumCRC32" in o, o
for alg in ["SHA1", "SHA256"]:  # CRC32C and CRC64NVME need botocore[crt]; the Go test covers them
    r = s3.put_object(Bucket="py-bucket", Key="alg-" + alg, Body=b"x" * 1000, ChecksumAlgorithm=alg)
    assert ("Checksum" + alg) in r, (alg, r)
try:
    s3.delete_bucket(Bucket="py-bucket")
    sys.exit("deleted a non-empty bucket")
except botocore.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "BucketNotEmpty", e.response
s3.put_object(Bucket="py-bucket", Key="dir/v.txt", Body=b"v")
keys = [o["Key"] for o in s3.list_objects(Bucket="py-bucket", Prefix="dir/")["Contents"]]
assert keys == ["dir/v.txt"], keys
url = s3.generate_presigned_url("get_object", Params={"Bucket": "py-bucket", "Key": "k1"}, ExpiresIn=60)
import urllib.request, urllib.error
assert urllib.request.urlopen(url).read() == b"from python"
# botocore's default presigned URL (Signature Version 2), then expired and forged ones.
v2 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
url = v2.generate_presigned_url("get_object", Params={"Bucket": "py-bucket", "Key": "k1"}, ExpiresIn=60)
assert "AWSAccessKeyId=" in url and "X-Amz-" not in url, url
assert urllib.request.urlopen(url).read() == b"from python"
for bad in [v2.generate_presigned_url("get_object", Params={"Bucket": "py-bucket", "Key": "k1"}, ExpiresIn=-10),
            url.replace("/k1?", "/k2?"), url.replace("Signature=", "Signature=AA")]:
    try:
        urllib.request.urlopen(bad)
        sys.exit("accepted " + bad)
    except urllib.error.HTTPError as e:
        assert e.code == 403, (bad, e.code)
        assert b"<Code>" in e.read()
print("ok")
`
	env := n.toolEnv()
	cmd := exec.CommandContext(t.Context(), "python3", "-c", script)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("boto3: %v\n%s", err, out)
	}

	needTool(t, "aws", "--version")
	big := filepath.Join(dir, "big.bin")
	data := bytes.Repeat([]byte("0123456789abcdef"), (9<<20)/16+3)
	if err := os.WriteFile(big, data, 0o600); err != nil {
		t.Fatal(err)
	}
	aws := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), "aws", append([]string{"--endpoint-url", n.endpoint()}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	aws("s3", "mb", "s3://cli-bucket")
	aws("s3", "cp", big, "s3://cli-bucket/big.bin")
	if out := aws("s3", "ls", "s3://cli-bucket/"); !strings.Contains(out, "big.bin") || !strings.Contains(out, fmt.Sprint(len(data))) {
		t.Errorf("ls: %s", out)
	}
	head := aws("s3api", "head-object", "--bucket", "cli-bucket", "--key", "big.bin")
	if !strings.Contains(head, `-2\""`) && !strings.Contains(head, `-2"`) {
		t.Errorf("a 9 MB cp should be a 2-part multipart upload: %s", head)
	}
	back := filepath.Join(dir, "back.bin")
	aws("s3", "cp", "s3://cli-bucket/big.bin", back)
	if got, err := os.ReadFile(back); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes, %v", len(got), err)
	}
	// aws s3 presign's URL is fetched by a plain HTTP client.
	u := strings.TrimSpace(aws("s3", "presign", "s3://cli-bucket/big.bin", "--expires-in", "60"))
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Errorf("aws s3 presign %s: %d, %d bytes", u, resp.StatusCode, len(got))
	}
	aws("s3", "rm", "s3://cli-bucket/big.bin")
	aws("s3", "rb", "s3://cli-bucket")
}

// TestS3VirtualHosted: <bucket>.s3.localhost and
// <bucket>.s3.<region>.localhost reach the bucket (the Go SDK's default
// addressing), resolved to the node here as curl and browsers resolve
// *.localhost.
func TestS3VirtualHosted(t *testing.T) {
	n := startNode(t, t.TempDir())
	_, port, _ := net.SplitHostPort(n.d.Addr())
	dialer := &net.Dialer{}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, n.d.Addr())
	}}}
	for _, base := range []string{"http://s3.localhost:" + port, "http://s3.us-east-1.localhost:" + port} {
		c := awss3.NewFromConfig(n.awsConfig(), func(o *awss3.Options) {
			o.BaseEndpoint, o.HTTPClient = aws.String(base), hc
		})
		b := fmt.Sprintf("vhost-%d", strings.Count(base, "."))
		if _, err := c.CreateBucket(t.Context(), &awss3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		if _, err := c.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("d/x y.txt"),
			Body: strings.NewReader("virtual")}); err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		o, err := n.s3Client().GetObject(t.Context(), &awss3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("d/x y.txt")})
		if err != nil {
			t.Fatalf("%s: path-style read back: %v", base, err)
		}
		data, _ := io.ReadAll(o.Body)
		_ = o.Body.Close()
		if string(data) != "virtual" {
			t.Errorf("%s: %q", base, data)
		}
	}
}

// TestS3Attacks: keys that look like paths stay keys (nothing is written
// outside the object store's directory, and each reads back as itself);
// a body over 5 GB is refused from its headers; an unsigned or wrongly
// signed request gets S3's XML errors.
func TestS3Attacks(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	c := n.s3Client()
	ctx := t.Context()
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("victim")}); err != nil {
		t.Fatal(err)
	}
	before := filesUnder(t, dir)
	keys := []string{"../../../../etc/passwd", "/abs/olute", "a\x00b", "..", ".", "./x/../../y", "..\\..\\win", "%2e%2e/x",
		strings.Repeat("../", 300) + "deep"}
	for _, k := range keys {
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("victim"), Key: aws.String(k), Body: strings.NewReader("v:" + k)}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	for _, k := range keys {
		o, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("victim"), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("get %q: %v", k, err)
		}
		b, _ := io.ReadAll(o.Body)
		_ = o.Body.Close()
		if string(b) != "v:"+k {
			t.Errorf("get %q: %q", k, b)
		}
	}
	// The backbone writes its own streams meanwhile (a bucket a service
	// opens after start, a block a stream rolls to): those are JetStream's
	// files, named by stream, never by a key.
	backbone := filepath.Join(dir, "state", "jetstream") + "/"
	for _, f := range filesUnder(t, dir) {
		if !slices.Contains(before, f) && !strings.HasPrefix(f, filepath.Join(dir, "s3", "data")+"/") &&
			!strings.HasPrefix(f, filepath.Join(dir, "nats")) && !strings.HasPrefix(f, filepath.Join(dir, "s3", "meta.db")) &&
			!strings.HasPrefix(f, backbone) {
			t.Errorf("a put created %s, outside the object store", f)
		}
	}
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("victim"), Key: aws.String(strings.Repeat("k", 1025)),
		Body: strings.NewReader("x")}); apiCode(err) != "KeyTooLongError" {
		t.Errorf("1025-byte key: %v", err)
	}

	// 6 GB declared: refused from the headers, before any body byte.
	status, body := rawSignedPut(t, n, "/victim/huge", 6<<30)
	if status != http.StatusBadRequest || !strings.Contains(body, "<Code>EntityTooLarge</Code>") {
		t.Errorf("6 GB put: %d %s", status, body)
	}
	// Unsigned and wrongly signed.
	resp, err := http.Get(n.endpoint() + "/victim/..%2F..%2Fetc%2Fpasswd?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=" + strings.Repeat("0", 64))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "<Error><Code>") {
		t.Errorf("forged presigned url: %d %s", resp.StatusCode, b)
	}
	wrong := awss3.NewFromConfig(n.awsConfig(), func(o *awss3.Options) {
		o.UsePathStyle = true
		o.Credentials = aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			c := n.creds()
			c.SecretAccessKey = "wrong"
			return c, nil
		}))
	})
	if _, err := wrong.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("victim"), Key: aws.String("..")}); apiCode(err) != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v", err)
	}
}

func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// rawSignedPut sends a signed PUT declaring size bytes of UNSIGNED-PAYLOAD
// body, sends no body, and returns the answer.
func rawSignedPut(t *testing.T, n *node, path string, size int64) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, n.endpoint()+path, nil)
	req.ContentLength = size
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	if err := v4.NewSigner().SignHTTP(t.Context(), n.creds(), req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", n.d.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", path, req.Host, size)
	for k, v := range req.Header {
		fmt.Fprintf(conn, "%s: %s\r\n", k, v[0])
	}
	fmt.Fprintf(conn, "\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// s3ACLSteps: the Go SDK reads a BucketOwnerEnforced bucket's ACLs and
// ownership controls as AWS answers them, and setting a public ACL is
// refused as AWS refuses it — under BucketOwnerEnforced and, after the
// ownership is changed to ObjectWriter, by Block Public Access.
func s3ACLSteps(t *testing.T, c *awss3.Client) {
	t.Helper()
	ctx := t.Context()
	acl, err := c.GetBucketAcl(ctx, &awss3.GetBucketAclInput{Bucket: aws.String("photos")})
	if err != nil || len(acl.Grants) != 1 || acl.Grants[0].Permission != s3types.PermissionFullControl ||
		acl.Grants[0].Grantee.Type != s3types.TypeCanonicalUser || aws.ToString(acl.Grants[0].Grantee.ID) != aws.ToString(acl.Owner.ID) {
		t.Errorf("GetBucketAcl: %+v %v", acl, err)
	}
	oacl, err := c.GetObjectAcl(ctx, &awss3.GetObjectAclInput{Bucket: aws.String("photos"), Key: aws.String("a/b c.txt")})
	if err != nil || len(oacl.Grants) != 1 || oacl.Grants[0].Permission != s3types.PermissionFullControl {
		t.Errorf("GetObjectAcl: %+v %v", oacl, err)
	}
	oc, err := c.GetBucketOwnershipControls(ctx, &awss3.GetBucketOwnershipControlsInput{Bucket: aws.String("photos")})
	if err != nil || len(oc.OwnershipControls.Rules) != 1 || oc.OwnershipControls.Rules[0].ObjectOwnership != s3types.ObjectOwnershipBucketOwnerEnforced {
		t.Errorf("GetBucketOwnershipControls: %+v %v", oc, err)
	}
	if _, err := c.PutBucketAcl(ctx, &awss3.PutBucketAclInput{Bucket: aws.String("photos"), ACL: s3types.BucketCannedACLPublicRead}); apiCode(err) != "AccessControlListNotSupported" {
		t.Errorf("PutBucketAcl public-read under BucketOwnerEnforced: %v", err)
	}
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String("acl"), Body: strings.NewReader("x"),
		ACL: s3types.ObjectCannedACLBucketOwnerFullControl}); err != nil {
		t.Errorf("PutObject with bucket-owner-full-control: %v", err)
	}
	if _, err := c.PutBucketOwnershipControls(ctx, &awss3.PutBucketOwnershipControlsInput{Bucket: aws.String("photos"),
		OwnershipControls: &s3types.OwnershipControls{Rules: []s3types.OwnershipControlsRule{{ObjectOwnership: s3types.ObjectOwnershipObjectWriter}}}}); err != nil {
		t.Fatalf("PutBucketOwnershipControls: %v", err)
	}
	if _, err := c.PutObjectAcl(ctx, &awss3.PutObjectAclInput{Bucket: aws.String("photos"), Key: aws.String("acl"), ACL: s3types.ObjectCannedACLPublicRead}); apiCode(err) != "AccessDenied" {
		t.Errorf("PutObjectAcl public-read under Block Public Access: %v", err)
	}
	if _, err := c.PutObjectAcl(ctx, &awss3.PutObjectAclInput{Bucket: aws.String("photos"), Key: aws.String("acl"), ACL: s3types.ObjectCannedACLBucketOwnerRead}); err != nil {
		t.Errorf("PutObjectAcl bucket-owner-read under ObjectWriter: %v", err)
	}
	if _, err := c.DeleteBucketOwnershipControls(ctx, &awss3.DeleteBucketOwnershipControlsInput{Bucket: aws.String("photos")}); err != nil {
		t.Errorf("DeleteBucketOwnershipControls: %v", err)
	}
	if _, err := c.GetBucketOwnershipControls(ctx, &awss3.GetBucketOwnershipControlsInput{Bucket: aws.String("photos")}); apiCode(err) != "OwnershipControlsNotFoundError" {
		t.Errorf("GetBucketOwnershipControls after the delete: %v", err)
	}
	if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String("acl")}); err != nil {
		t.Error(err)
	}
}
