package sigv4

import (
	"errors"
	"fmt"
)

// Kind is the category of a verification failure. The front door maps each
// kind to the exception name the protocol uses (Lambda's REST-JSON says
// InvalidSignatureException where the query protocols say
// SignatureDoesNotMatch); Error.Message is AWS's text for it.
type Kind int

// The failure kinds.
const (
	// KindMissing: no Authorization header and no presigned query.
	KindMissing Kind = iota + 1
	// KindIncomplete: a signature is there but malformed.
	KindIncomplete
	// KindUnknownKey: the access key id or the session token is not valid.
	KindUnknownKey
	// KindExpiredToken: the session token has expired.
	KindExpiredToken
	// KindMismatch: the signature does not match the request.
	KindMismatch
	// KindExpired: the request time is outside the allowed skew, or a
	// presigned URL has expired.
	KindExpired
	// KindScope: the credential scope names another region or service, or
	// its date is not the request's date.
	KindScope
	// KindPayload: the body does not hash to the signed payload hash.
	KindPayload
	// KindPayloadMode: an S3 request's x-amz-content-sha256 is missing or
	// names no mode S3 knows (or SigV4a, which Nimbus does not verify).
	KindPayloadMode
)

func (k Kind) String() string {
	switch k {
	case KindMissing:
		return "missing"
	case KindIncomplete:
		return "incomplete"
	case KindUnknownKey:
		return "unknown-key"
	case KindExpiredToken:
		return "expired-token"
	case KindMismatch:
		return "mismatch"
	case KindExpired:
		return "expired"
	case KindScope:
		return "scope"
	case KindPayload:
		return "payload"
	case KindPayloadMode:
		return "payload-mode"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a verification failure: its Kind and AWS's message for it.
type Error struct {
	Kind    Kind
	Message string
}

func (e *Error) Error() string { return "sigv4 " + e.Kind.String() + ": " + e.Message }

// Sentinels a Keys implementation returns (wrapped or not) for an access
// key it does not know and a session token that has expired.
var (
	ErrUnknownKey   = errors.New("unknown access key")
	ErrExpiredToken = errors.New("expired session token")
)

func newError(k Kind, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Kind: k, Message: msg}
}

func missing() *Error { return newError(KindMissing, "Missing Authentication Token") }

func incomplete(format string, args ...any) *Error {
	return newError(KindIncomplete, format, args...)
}

// Messages AWS uses.
const (
	msgUnknownKey   = "The security token included in the request is invalid."
	msgExpiredToken = "The security token included in the request is expired"
	msgMismatch     = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
