package s3

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/nimbus-serverless/nimbus/internal/sigv4"
)

var (
	testCreds = aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	testTime  = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	testScope = sigv4.Scope{Date: "20261206", Region: "us-east-1", Service: "s3"}
	testSeed  = strings.Repeat("ab", 32)
)

// testPayload is the payload description VerifyS3 would return for a
// request signed with testCreds at testTime whose signature is testSeed.
func testPayload(mode string) *sigv4.S3Payload {
	return &sigv4.S3Payload{Mode: mode, Seed: testSeed, Date: testTime.Format("20060102T150405Z"), Scope: testScope,
		Key: sigv4.DeriveKey(testCreds.SecretAccessKey, testScope)}
}

// encodeChunked encodes data as aws-chunked in chunks of size, signed with
// aws-sdk-go-v2's stream signer (an independent implementation of the
// chunk signature) when mode is a signed one, with trailers after.
func encodeChunked(t testing.TB, data []byte, size int, mode string, trailers [][2]string) []byte {
	t.Helper()
	signed := mode == sigv4.StreamingPayload || mode == sigv4.StreamingPayloadTrailer
	seed, _ := hex.DecodeString(testSeed)
	ss := v4.NewStreamSigner(testCreds, "s3", "us-east-1", seed)
	var b bytes.Buffer
	prev := testSeed
	chunk := func(p []byte) {
		fmt.Fprintf(&b, "%x", len(p))
		if signed {
			sig, err := ss.GetSignature(t.Context(), nil, p, testTime)
			if err != nil {
				t.Fatal(err)
			}
			prev = hex.EncodeToString(sig)
			b.WriteString(";chunk-signature=" + prev)
		}
		b.WriteString("\r\n")
		b.Write(p)
		b.WriteString("\r\n")
	}
	for len(data) > 0 {
		n := min(size, len(data))
		chunk(data[:n])
		data = data[n:]
	}
	// The last chunk: no trailing CRLF of data when trailers follow.
	fmt.Fprintf(&b, "0")
	if signed {
		sig, _ := ss.GetSignature(t.Context(), nil, nil, testTime)
		prev = hex.EncodeToString(sig)
		b.WriteString(";chunk-signature=" + prev)
	}
	b.WriteString("\r\n")
	var canon strings.Builder
	for _, tr := range trailers {
		b.WriteString(tr[0] + ":" + tr[1] + "\r\n")
		canon.WriteString(tr[0] + ":" + tr[1] + "\n")
	}
	if mode == sigv4.StreamingPayloadTrailer {
		p := testPayload(mode)
		sum := sha256.Sum256([]byte(canon.String()))
		sig := sigv4.Sign(p.Key, p.TrailerStringToSign(prev, hex.EncodeToString(sum[:])))
		b.WriteString("x-amz-trailer-signature:" + hex.EncodeToString(sig) + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func crc32Of(b []byte) string {
	s := crc32.ChecksumIEEE(b)
	return base64.StdEncoding.EncodeToString([]byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)})
}

// decode runs a request with this body and headers through the body
// checks and returns what would be stored, or the S3 error code.
func decode(t testing.TB, raw []byte, p *sigv4.S3Payload, hdr map[string]string) ([]byte, string) {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPut, "http://x/b/k", bytes.NewReader(raw))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	b, err := newBody(r, p, MaxObjectSize)
	if err != nil {
		return nil, codeOf(err)
	}
	out, err := io.ReadAll(b)
	if err != nil {
		return nil, codeOf(err)
	}
	return out, ""
}

func codeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "not an S3 error: " + err.Error()
}

func TestChunkedBodies(t *testing.T) {
	data := bytes.Repeat([]byte("nimbus-"), 20000) // 140 KB: three 64 KiB chunks
	sum := crc32Of(data)
	dl := strconv.Itoa(len(data))
	trailer := [][2]string{{"x-amz-checksum-crc32", sum}}
	for _, c := range []struct {
		name     string
		mode     string
		trailers [][2]string
		hdr      map[string]string
		mutate   func([]byte) []byte
		want     string // error code, "" for success
	}{
		{name: "signed", mode: sigv4.StreamingPayload},
		{name: "signed with trailer", mode: sigv4.StreamingPayloadTrailer, trailers: trailer,
			hdr: map[string]string{"x-amz-trailer": "x-amz-checksum-crc32"}},
		{name: "unsigned with trailer", mode: sigv4.StreamingUnsignedTrailer, trailers: trailer,
			hdr: map[string]string{"x-amz-trailer": "x-amz-checksum-crc32"}},
		{name: "checksum in a header", mode: sigv4.StreamingPayload, hdr: map[string]string{"x-amz-checksum-crc32": sum}},
		{name: "wrong trailer checksum", mode: sigv4.StreamingUnsignedTrailer, trailers: [][2]string{{"x-amz-checksum-crc32", crc32Of(nil)}},
			hdr: map[string]string{"x-amz-trailer": "x-amz-checksum-crc32"}, want: "BadDigest"},
		{name: "wrong header checksum", mode: sigv4.StreamingPayload, hdr: map[string]string{"x-amz-checksum-crc32": crc32Of(nil)}, want: "BadDigest"},
		{name: "a data byte altered", mode: sigv4.StreamingPayload, want: "SignatureDoesNotMatch",
			mutate: func(b []byte) []byte { i := bytes.Index(b, []byte("nimbus")); b[i] = 'N'; return b }},
		{name: "a chunk signature altered", mode: sigv4.StreamingPayload, want: "SignatureDoesNotMatch",
			mutate: func(b []byte) []byte { i := bytes.Index(b, []byte("chunk-signature=")) + 16; b[i] ^= 1; return b }},
		{name: "trailer altered under its signature", mode: sigv4.StreamingPayloadTrailer, trailers: trailer, want: "SignatureDoesNotMatch",
			hdr: map[string]string{"x-amz-trailer": "x-amz-checksum-crc32"},
			mutate: func(b []byte) []byte {
				return bytes.Replace(b, []byte("x-amz-checksum-crc32:"+sum), []byte("x-amz-checksum-crc32:"+crc32Of([]byte("x"))), 1)
			}},
		{name: "truncated", mode: sigv4.StreamingPayload, want: "IncompleteBody", mutate: func(b []byte) []byte { return b[:len(b)/2] }},
		{name: "last chunk missing", mode: sigv4.StreamingPayload, want: "IncompleteBody",
			mutate: func(b []byte) []byte { return b[:bytes.LastIndex(b, []byte("0;chunk"))] }},
		{name: "chunk longer than declared", mode: sigv4.StreamingUnsignedTrailer, trailers: trailer,
			hdr:  map[string]string{"x-amz-trailer": "x-amz-checksum-crc32"},
			want: "InvalidRequest", mutate: func(b []byte) []byte { return bytes.Replace(b, []byte("\r\nnimbus"), []byte("\r\nXnimbus"), 1) }},
		{name: "decoded length disagrees", mode: sigv4.StreamingPayload, hdr: map[string]string{"x-amz-decoded-content-length": "5"},
			want: "IncompleteBody"},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw := encodeChunked(t, data, 64<<10, c.mode, c.trailers)
			if c.mutate != nil {
				raw = c.mutate(raw)
			}
			hdr := map[string]string{"x-amz-decoded-content-length": dl}
			for k, v := range c.hdr {
				hdr[k] = v
			}
			got, code := decode(t, raw, testPayload(c.mode), hdr)
			if code != c.want {
				t.Fatalf("code %q, want %q", code, c.want)
			}
			if c.want == "" && !bytes.Equal(got, data) {
				t.Fatalf("decoded %d bytes, want %d", len(got), len(data))
			}
		})
	}
}

func TestPayloadHashAndMD5(t *testing.T) {
	data := []byte("some body")
	sum := sha256.Sum256(data)
	if _, code := decode(t, data, &sigv4.S3Payload{Mode: hex.EncodeToString(sum[:])}, nil); code != "" {
		t.Errorf("right hash: %s", code)
	}
	other := sha256.Sum256([]byte("other"))
	if _, code := decode(t, data, &sigv4.S3Payload{Mode: hex.EncodeToString(other[:])}, nil); code != "XAmzContentSHA256Mismatch" {
		t.Errorf("wrong hash: %s", code)
	}
	if _, code := decode(t, data, nil, map[string]string{"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}); code != "BadDigest" {
		t.Errorf("wrong Content-MD5: %s", code)
	}
	if _, code := decode(t, data, nil, map[string]string{"Content-MD5": "nope"}); code != "InvalidDigest" {
		t.Errorf("bad Content-MD5: %s", code)
	}
	if _, code := decode(t, data, nil, map[string]string{"x-amz-checksum-crc32": "AAAA"}); code != "InvalidRequest" {
		t.Errorf("malformed checksum: %s", code)
	}
}

// TestCRC64NVME checks the table against the algorithm's check value
// (CRC-64/NVME of "123456789" is 0xae8b14860a799888).
func TestCRC64NVME(t *testing.T) {
	h := newChecksum("crc64nvme")
	h.Write([]byte("123456789"))
	if got := hex.EncodeToString(h.Sum(nil)); got != "ae8b14860a799888" {
		t.Fatalf("crc64nvme check value %s", got)
	}
}

// FuzzChunkedDecoder feeds arbitrary bodies to the aws-chunked decoder in
// every mode: it never panics, never yields more bytes than it was given,
// answers every failure with an S3 error, and accepts only bodies whose
// chunk signatures verify.
func FuzzChunkedDecoder(f *testing.F) {
	for _, mode := range []string{sigv4.StreamingPayload, sigv4.StreamingPayloadTrailer, sigv4.StreamingUnsignedTrailer} {
		f.Add(encodeChunked(f, []byte("hello world"), 4, mode, [][2]string{{"x-amz-checksum-crc32", crc32Of([]byte("hello world"))}}), uint8(0))
	}
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), uint8(2))
	f.Add([]byte("ffffffffffffffff\r\n"), uint8(2))
	f.Add([]byte("-1\r\n"), uint8(1))
	modes := []string{sigv4.StreamingPayload, sigv4.StreamingPayloadTrailer, sigv4.StreamingUnsignedTrailer}
	f.Fuzz(func(t *testing.T, raw []byte, m uint8) {
		mode := modes[int(m)%len(modes)]
		hdr := map[string]string{"x-amz-decoded-content-length": "11"}
		if mode != sigv4.StreamingPayload {
			hdr["x-amz-trailer"] = "x-amz-checksum-crc32"
		}
		got, code := decode(t, raw, testPayload(mode), hdr)
		if strings.HasPrefix(code, "not an S3 error") {
			t.Fatal(code)
		}
		if len(got) > len(raw) {
			t.Fatalf("decoded %d bytes from %d", len(got), len(raw))
		}
		if code == "" && len(got) != 11 {
			t.Fatalf("accepted %d bytes with x-amz-decoded-content-length 11", len(got))
		}
	})
}
