package s3

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/sigv4"
)

// MaxObjectSize is the largest single PUT (or part) S3 accepts: 5 GiB.
const MaxObjectSize = 5 << 30

func entityTooLarge() *Error {
	return errorf(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
}

// body is a request body as it is stored: decoded (aws-chunked) and
// checked against everything the request declared (its signed SHA-256,
// Content-MD5, a flexible checksum in a header or a trailer, its decoded
// length) as it is read. Read returns an *Error instead of io.EOF when a
// check fails, so a caller that stores only after a clean EOF stores
// nothing wrong.
type body struct {
	r       io.Reader
	chunked *chunkedReader
	md5     hash.Hash
	sha     hash.Hash // the signed payload hash mode
	wantSHA string
	wantMD5 []byte
	alg     string // flexible checksum algorithm ("" none)
	sum     hash.Hash
	want    string // its declared value ("" when it comes in a trailer or not at all)
	trailer bool
	length  int64 // the decoded length declared (-1 unknown)
	n       int64
	max     int64
	err     error
	// Checksum is the verified checksum (base64) once EOF is reached.
	Checksum string
}

// newBody prepares r's body for storing, at most max bytes. It refuses
// at once what the headers alone show wrong.
func newBody(r *http.Request, p *sigv4.S3Payload, max int64) (*body, error) {
	b := &body{md5: newChecksum("md5"), length: -1, max: max}
	if p == nil {
		p = &sigv4.S3Payload{Mode: sigv4.UnsignedPayload}
	}
	var raw io.Reader = r.Body
	if raw == nil {
		raw = http.NoBody
	}
	switch p.Mode {
	case sigv4.StreamingPayload, sigv4.StreamingPayloadTrailer, sigv4.StreamingUnsignedTrailer:
		dl := r.Header.Get("x-amz-decoded-content-length")
		if dl == "" {
			return nil, errorf(http.StatusLengthRequired, "MissingContentLength", "You must provide the Content-Length HTTP header.")
		}
		n, err := strconv.ParseInt(dl, 10, 64)
		if err != nil || n < 0 {
			return nil, invalidArgument("x-amz-decoded-content-length is not a number.")
		}
		b.length = n
		b.chunked = newChunkedReader(raw, p)
		b.r = b.chunked
	default:
		b.r = raw
		b.length = r.ContentLength
		if p.Mode != sigv4.UnsignedPayload {
			b.sha, b.wantSHA = sha256.New(), p.Mode
		}
	}
	if b.length > max {
		return nil, entityTooLarge()
	}
	if cm := r.Header.Get("Content-MD5"); cm != "" {
		d, err := base64.StdEncoding.DecodeString(cm)
		if err != nil || len(d) != 16 {
			return nil, errorf(http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified was invalid.")
		}
		b.wantMD5 = d
	}
	alg, val, trailer, cerr := requestChecksum(r.Header)
	if cerr != nil {
		return nil, cerr
	}
	if trailer && b.chunked == nil {
		return nil, invalidRequest("x-amz-trailer requires an aws-chunked body (a STREAMING x-amz-content-sha256).")
	}
	if alg != "" {
		b.alg, b.want, b.trailer, b.sum = alg, val, trailer, newChecksum(alg)
	}
	return b, nil
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	if n > 0 {
		b.n += int64(n)
		if b.n > b.max || (b.length >= 0 && b.n > b.length) {
			if b.n > b.max {
				b.err = entityTooLarge()
			} else {
				b.err = errIncompleteBody
			}
			return 0, b.err
		}
		b.md5.Write(p[:n])
		if b.sha != nil {
			b.sha.Write(p[:n])
		}
		if b.sum != nil {
			b.sum.Write(p[:n])
		}
	}
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, io.EOF):
		if cerr := b.finish(); cerr != nil {
			b.err = cerr
			return n, cerr
		}
		b.err = io.EOF
		return n, io.EOF
	}
	b.err = readErr(err)
	return n, b.err
}

// finish checks the whole body against what was declared.
func (b *body) finish() error {
	if b.length >= 0 && b.n != b.length {
		return errIncompleteBody
	}
	if b.sha != nil && hex.EncodeToString(b.sha.Sum(nil)) != b.wantSHA {
		return errorf(http.StatusBadRequest, "XAmzContentSHA256Mismatch",
			"The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	if b.wantMD5 != nil && string(b.md5.Sum(nil)) != string(b.wantMD5) {
		return errorf(http.StatusBadRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.")
	}
	if b.sum == nil {
		return nil
	}
	got := base64.StdEncoding.EncodeToString(b.sum.Sum(nil))
	want := b.want
	if b.trailer {
		want = b.chunked.Trailer.Get(checksumHeader(b.alg))
		if want == "" {
			return invalidRequest("The x-amz-trailer header named %s, but the body carried no such trailer.", checksumHeader(b.alg))
		}
	}
	if want != "" && want != got {
		return errorf(http.StatusBadRequest, "BadDigest", "The %s you specified did not match the calculated checksum.", strings.ToUpper(b.alg))
	}
	b.Checksum = got
	return nil
}

// ETag is the hex MD5 of the body read (S3's ETag of a single PUT).
func (b *body) ETag() string { return hex.EncodeToString(b.md5.Sum(nil)) }
