package sigv4

import (
	"crypto/hmac"
	"net/http"
	"strings"
)

// The x-amz-content-sha256 values of S3 requests besides a hex SHA-256 and
// UNSIGNED-PAYLOAD: bodies in aws-chunked encoding, each chunk signed
// (chained from the request's signature, the seed), with or without
// trailing headers (a checksum, signed too), or unsigned chunks with
// trailers.
const (
	StreamingPayload         = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingPayloadTrailer  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	streamingECDSA           = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
)

// S3Payload is how the body of a verified S3 request must be checked: S3
// streams bodies of up to 5 GB, so the verifier does not read them; the S3
// handler checks the body as it stores it, and stores nothing that fails.
type S3Payload struct {
	// Mode is the x-amz-content-sha256 the signature covers: a lower-case
	// hex SHA-256 of the body, UNSIGNED-PAYLOAD, or one of the STREAMING
	// modes.
	Mode string
	// Seed, Date, Scope and Key sign the chunks of the signed streaming
	// modes: the request's signature, its X-Amz-Date, its credential
	// scope and the derived signing key. Key is nil when signatures are
	// not checked (a node without authentication).
	Seed  string
	Date  string
	Scope Scope
	Key   []byte
}

// Signed reports whether the chunks of a streaming body carry signatures
// that must be checked.
func (p *S3Payload) Signed() bool {
	return p.Key != nil && (p.Mode == StreamingPayload || p.Mode == StreamingPayloadTrailer)
}

// ChunkStringToSign is the string to sign of one aws-chunked chunk whose
// SHA-256 is chunkHash (hex), following the chunk signed prev.
func (p *S3Payload) ChunkStringToSign(prev, chunkHash string) string {
	return "AWS4-HMAC-SHA256-PAYLOAD\n" + p.Date + "\n" + p.Scope.String() + "\n" + prev + "\n" + emptyHash + "\n" + chunkHash
}

// TrailerStringToSign is the string to sign of the trailing headers whose
// canonical form ("name:value\n" each) hashes to trailerHash (hex).
func (p *S3Payload) TrailerStringToSign(prev, trailerHash string) string {
	return "AWS4-HMAC-SHA256-TRAILER\n" + p.Date + "\n" + p.Scope.String() + "\n" + prev + "\n" + trailerHash
}

// ValidS3PayloadMode checks an x-amz-content-sha256 value of an S3
// request; "" is accepted for presigned requests only (their payload is
// UNSIGNED-PAYLOAD).
func ValidS3PayloadMode(mode string, presigned bool) error {
	switch {
	case mode == "" && presigned, mode == UnsignedPayload, mode == StreamingPayload, mode == StreamingPayloadTrailer,
		mode == StreamingUnsignedTrailer, isHexHash(mode):
		return nil
	case mode == "":
		return newError(KindPayloadMode, "Missing required header for this request: x-amz-content-sha256")
	case strings.HasPrefix(mode, streamingECDSA):
		return newError(KindPayloadMode, "Nimbus does not support SigV4a signatures (x-amz-content-sha256: %s); sign with SigV4.", truncate(mode, 80))
	}
	return newError(KindPayloadMode, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "+
		"STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.")
}

// VerifyS3 checks the signature of an S3 request (service "s3", S3's
// canonical URI: the path encoded once, never normalised) without reading
// its body, and returns how the body must be checked. Failures are
// *Error.
func (v *Verifier) VerifyS3(r *http.Request) (*Result, *S3Payload, error) {
	sig, amzDate, key, token, err := v.authenticate(r, []string{"s3"})
	if err != nil {
		return nil, nil, err
	}
	mode := r.Header.Get(HeaderContentSHA256)
	if err := ValidS3PayloadMode(mode, sig.Presigned); err != nil {
		return nil, nil, err
	}
	if mode == "" {
		mode = UnsignedPayload
	}
	sk := v.signingKey(sig.AccessKeyID, key.Secret, sig.Scope)
	s := getScratch()
	c, ok := canonicalS3(s, r, sig)
	ok = ok && c.matchesString(amzDate, mode, sk)
	putScratch(s)
	if !ok {
		return nil, nil, newError(KindMismatch, msgMismatch)
	}
	res := &Result{AccessKeyID: sig.AccessKeyID, SessionToken: token, Scope: sig.Scope, Presigned: sig.Presigned,
		Principal: key.Principal}
	return res, &S3Payload{Mode: mode, Seed: sig.Signature, Date: amzDate, Scope: sig.Scope, Key: sk}, nil
}

// VerifyChunk reports whether sig (hex) is the signature of a string to
// sign under p's key.
func (p *S3Payload) VerifyChunk(stringToSign, sig string) bool {
	got := Sign(p.Key, stringToSign)
	want := make([]byte, len(got))
	if len(sig) != 2*len(got) {
		return false
	}
	for i := range want {
		hi, ok1 := unhex(sig[2*i])
		lo, ok2 := unhex(sig[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		want[i] = hi<<4 | lo
	}
	return hmac.Equal(got, want)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
