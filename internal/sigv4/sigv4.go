// Package sigv4 verifies AWS Signature Version 4 on incoming HTTP requests,
// the way AWS services do: the Authorization-header form and the presigned
// query form, the clock-skew rule, the credential scope (date, region,
// service), the canonical request rebuilt from exactly the SignedHeaders of
// the received request (URI encoding of non-S3 services), and the payload
// hash, checked against the body before the request goes anywhere.
//
// It knows nothing of who the keys belong to: a Keys implementation (the
// auth package) returns the secret of an access key id and validates session
// tokens. It imports nothing of Nimbus; auth (the front door) and tests
// import it.
package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultMaxSkew is how far X-Amz-Date may be from the server's clock.
const DefaultMaxSkew = 15 * time.Minute

// DefaultMaxBody bounds the body read to check its hash.
const DefaultMaxBody = 128 << 20

// ErrBodyTooLarge is returned when the body is larger than MaxBody.
var ErrBodyTooLarge = errors.New("request body too large to verify")

// Key is what Keys knows of an access key id.
type Key struct {
	Secret string
	// Principal is opaque to sigv4 and handed back in Result.
	Principal any
}

// Keys finds the secret of an access key id. sessionToken is the
// X-Amz-Security-Token of the request ("" when none). It returns an error
// wrapping ErrUnknownKey for an unknown key or an invalid token, and
// ErrExpiredToken for an expired one.
type Keys interface {
	Lookup(ctx context.Context, accessKeyID, sessionToken string) (Key, error)
}

// Options configures a Verifier.
type Options struct {
	Keys Keys
	// Region the credential scope must name.
	Region string
	// MaxSkew (DefaultMaxSkew when zero) and MaxBody (DefaultMaxBody when
	// zero).
	MaxSkew time.Duration
	MaxBody int64
	// Bodies whose hash must be computed before the signature can be
	// checked are held in memory up to MemBody bytes (DefaultMemBody when
	// zero), all together at most MemBudget bytes (DefaultMemBudget when
	// zero); larger ones, those beyond the budget and those of undeclared
	// length are spooled to
	// unlinked temporary files in SpoolDir (os.TempDir() when empty), at
	// most MaxSpooled at once (DefaultMaxSpooled when zero). A body that
	// finds no free slot within SpoolWait is refused with ErrBusy.
	MemBody    int64
	MemBudget  int64
	SpoolDir   string
	MaxSpooled int
	SpoolWait  time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Verifier checks request signatures. It is safe for concurrent use.
type Verifier struct {
	opts  Options
	spool *spooler

	mu   sync.RWMutex
	keys map[keyID]signingKey // guarded by mu; cache of derived keys
}

type signingKey struct {
	secret string
	key    []byte
}

const maxCachedKeys = 4096

// New returns a Verifier.
func New(opts Options) *Verifier {
	if opts.MaxSkew <= 0 {
		opts.MaxSkew = DefaultMaxSkew
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.MemBody <= 0 {
		opts.MemBody = DefaultMemBody
	}
	if opts.MemBudget <= 0 {
		opts.MemBudget = DefaultMemBudget
	}
	if opts.MaxSpooled <= 0 {
		opts.MaxSpooled = DefaultMaxSpooled
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Verifier{opts: opts, keys: map[keyID]signingKey{}, spool: newSpooler(opts)}
}

// Result is a verified request's identity.
type Result struct {
	AccessKeyID  string
	SessionToken string
	Scope        Scope
	Presigned    bool
	Principal    any
}

// Verify checks r's signature for one of services (the first is the one
// named in the scope-mismatch message). Everything that can be checked
// without the body is checked first: the signature's form, date, scope and
// key, and the signature itself when the payload hash is declared
// (X-Amz-Content-Sha256) or unsigned. The body is read only when its hash
// is needed, and then at most MaxBody bytes of it (a larger declared length
// is refused unread). On success a body that was read has been checked
// against the signed payload hash and replaced by a copy (in memory, or in
// a spool file released at EOF, on Close, or when the request's context
// ends). Failures are *Error, ErrBodyTooLarge, ErrBusy, an error wrapping
// ErrBodyRead, or (the server's fault) another error.
func (v *Verifier) Verify(r *http.Request, services ...string) (*Result, error) {
	sig, amzDate, key, token, err := v.authenticate(r, services)
	if err != nil {
		return nil, err
	}
	declared, err := declaredPayload(r, sig)
	if err != nil {
		return nil, err
	}
	sk := v.signingKey(sig.AccessKeyID, key.Secret, sig.Scope)
	if err := v.checkPayload(r, sig, amzDate, declared, sk); err != nil {
		return nil, err
	}
	return &Result{AccessKeyID: sig.AccessKeyID, SessionToken: token, Scope: sig.Scope,
		Presigned: sig.Presigned, Principal: key.Principal}, nil
}

// authenticate checks everything of r's signature but the signature
// itself and the payload: its form, date, scope, clock skew or expiry, and
// key. It returns the parsed signature, the request time, the key and the
// session token.
func (v *Verifier) authenticate(r *http.Request, services []string) (*Signature, string, Key, string, error) {
	sig, amzDate, err := v.parse(r)
	if err != nil {
		return nil, "", Key{}, "", err
	}
	now := v.opts.Now().UTC()
	t, err := time.Parse(timeFormat, amzDate)
	if err != nil {
		return nil, "", Key{}, "", incomplete("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	if sig.Scope.Date != amzDate[:8] {
		return nil, "", Key{}, "", newError(KindScope, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			sig.Scope.Date, amzDate[:8], amzDate)
	}
	if sig.Scope.Region != v.opts.Region {
		return nil, "", Key{}, "", newError(KindScope, "Credential should be scoped to a valid region, not '%s'. ", sig.Scope.Region)
	}
	if len(services) > 0 && !slices.Contains(services, sig.Scope.Service) {
		return nil, "", Key{}, "", newError(KindScope, "Credential should be scoped to correct service: '%s'. ", services[0])
	}
	if err := v.checkTime(sig, t, now); err != nil {
		return nil, "", Key{}, "", err
	}
	token := r.Header.Get(HeaderSecurityToken)
	if sig.Presigned {
		token = r.URL.Query().Get(QuerySecurityToken)
	}
	key, err := v.opts.Keys.Lookup(r.Context(), sig.AccessKeyID, token)
	switch {
	case errors.Is(err, ErrExpiredToken):
		return nil, "", Key{}, "", newError(KindExpiredToken, msgExpiredToken)
	case errors.Is(err, ErrUnknownKey):
		return nil, "", Key{}, "", newError(KindUnknownKey, msgUnknownKey)
	case err != nil:
		return nil, "", Key{}, "", fmt.Errorf("look up access key: %w", err)
	}
	return sig, amzDate, key, token, nil
}

// checkPayload checks the signature and the body against each other, reading
// the body only when the signature cannot be checked without it.
func (v *Verifier) checkPayload(r *http.Request, sig *Signature, amzDate, declared string, key []byte) error {
	s := getScratch()
	defer putScratch(s)
	c, ok := canonical(s, r, sig)
	if !ok {
		return newError(KindMismatch, msgMismatch) // a signed header is absent
	}
	switch {
	case declared == UnsignedPayload:
		if !c.matchesString(amzDate, declared, key) {
			return newError(KindMismatch, msgMismatch)
		}
		return nil
	case declared != "":
		// The signature covers the declared hash: check it before reading
		// a body that may be large, then the body against the hash.
		if !c.matchesString(amzDate, declared, key) {
			return newError(KindMismatch, msgMismatch)
		}
		sum, err := v.spool.hashBody(r, true)
		if err != nil {
			return err
		}
		if string(hex.AppendEncode(s.hex[:0], sum[:])) != declared {
			discard(r)
			return newError(KindPayload, "The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
		return nil
	case sig.Presigned && c.matchesString(amzDate, UnsignedPayload, key):
		// A presigned URL without a hash header may have been signed with
		// UNSIGNED-PAYLOAD: then the body need not be read.
		return nil
	}
	sum, err := v.spool.hashBody(r, false)
	if err != nil {
		return err
	}
	if !c.matches(amzDate, hex.AppendEncode(s.hex[:0], sum[:]), key) {
		discard(r)
		return newError(KindMismatch, msgMismatch)
	}
	return nil
}

// discard releases the copy of a refused request's body at once.
func discard(r *http.Request) {
	if r.Body != nil {
		_ = r.Body.Close()
		r.Body = http.NoBody
	}
}

// parse finds the signature (header or query form) and X-Amz-Date, and
// checks that host and x-amz-date are signed.
func (v *Verifier) parse(r *http.Request) (*Signature, string, error) {
	auth := r.Header.Values(HeaderAuthorization)
	var qsig *Signature
	if mayBePresigned(r.URL.RawQuery) {
		if q, qerr := url.ParseQuery(r.URL.RawQuery); qerr == nil {
			var err error
			if qsig, err = ParseQuery(q); err != nil {
				return nil, "", err
			}
		}
	}
	switch {
	case len(auth) > 1:
		return nil, "", incomplete("Authorization header must appear only once.")
	case len(auth) == 1 && qsig != nil:
		return nil, "", incomplete("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified")
	case qsig != nil:
		if !qsig.hasHeader("host") {
			return nil, "", incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
		}
		return qsig, qsig.Date, nil
	case len(auth) == 0:
		return nil, "", missing()
	}
	sig, err := ParseAuthorization(auth[0])
	if err != nil {
		return nil, "", err
	}
	if !sig.hasHeader("host") {
		return nil, "", incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	amzDate := r.Header.Get(HeaderDate)
	if amzDate == "" {
		return nil, "", incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=%s", auth[0])
	}
	if !sig.hasHeader("x-amz-date") {
		return nil, "", incomplete("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
	}
	return sig, amzDate, nil
}

// mayBePresigned reports whether a query could carry a parameter
// ParseQuery looks for (X-Amz-Algorithm, X-Amz-Signature,
// X-Amz-Credential): without one of those names spelled out or a
// percent-escape (which could spell one), it cannot.
func mayBePresigned(rawQuery string) bool {
	return strings.Contains(rawQuery, "X-Amz-") || strings.IndexByte(rawQuery, '%') >= 0
}

func (v *Verifier) checkTime(sig *Signature, t, now time.Time) error {
	skew := v.opts.MaxSkew
	mins := int(skew / time.Minute)
	if t.After(now.Add(skew)) {
		return newError(KindExpired, "Signature not yet current: %s is still later than %s (%s + %d min.)",
			t.Format(timeFormat), now.Add(skew).Format(timeFormat), now.Format(timeFormat), mins)
	}
	if sig.Presigned {
		if now.After(t.Add(sig.Expires)) {
			return newError(KindExpired, "Request has expired")
		}
		return nil
	}
	if t.Before(now.Add(-skew)) {
		return newError(KindExpired, "Signature expired: %s is now earlier than %s (%s - %d min.)",
			t.Format(timeFormat), now.Add(-skew).Format(timeFormat), now.Format(timeFormat), mins)
	}
	return nil
}

// declaredPayload is the X-Amz-Content-Sha256 the client declared ("" when
// none): UNSIGNED-PAYLOAD (presigned requests only) or a hex SHA-256.
func declaredPayload(r *http.Request, sig *Signature) (string, error) {
	declared := r.Header.Get(HeaderContentSHA256)
	switch {
	case declared == UnsignedPayload:
		if !sig.Presigned {
			return "", incomplete("UNSIGNED-PAYLOAD is only allowed for presigned requests.")
		}
	case declared != "" && !isHexHash(declared):
		return "", incomplete("x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a lower-case hex SHA-256, got '%s'.", truncate(declared, 80))
	}
	return declared, nil
}

var (
	emptySum  = sha256.Sum256(nil)
	emptyHash = hex.EncodeToString(emptySum[:])
)

func isHexHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// StringToSign is SigV4's string to sign for a canonical request.
func StringToSign(amzDate string, scope Scope, canonicalRequest string) string {
	h := sha256.Sum256([]byte(canonicalRequest))
	return string(appendStringToSign(nil, amzDate, scope, h[:]))
}

// Sign is HMAC-SHA256(key, stringToSign).
func Sign(key []byte, stringToSign string) []byte {
	return hmacSHA256(key, stringToSign)
}

// DeriveKey derives the signing key of secret for scope.
func DeriveKey(secret string, scope Scope) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), scope.Date)
	k = hmacSHA256(k, scope.Region)
	k = hmacSHA256(k, scope.Service)
	return hmacSHA256(k, terminator)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// keyID names a cached signing key: an access key id and a scope.
type keyID struct {
	akid  string
	scope Scope
}

func (v *Verifier) signingKey(akid, secret string, scope Scope) []byte {
	ck := keyID{akid: akid, scope: scope}
	v.mu.RLock()
	k, ok := v.keys[ck]
	v.mu.RUnlock()
	if ok && k.secret == secret {
		return k.key
	}
	key := DeriveKey(secret, scope)
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.keys) >= maxCachedKeys {
		clear(v.keys)
	}
	// The map holds copies of the strings: akid and the scope are
	// substrings of the request's Authorization header, which the cache
	// must not keep alive.
	ck = keyID{akid: strings.Clone(akid), scope: Scope{Date: strings.Clone(scope.Date),
		Region: strings.Clone(scope.Region), Service: strings.Clone(scope.Service)}}
	v.keys[ck] = signingKey{secret: secret, key: key}
	return key
}
