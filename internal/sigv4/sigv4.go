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
	"strconv"
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

	mu   sync.Mutex
	keys map[string]signingKey // guarded by mu; cache of derived keys
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
	return &Verifier{opts: opts, keys: map[string]signingKey{}, spool: newSpooler(opts)}
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
	c, ok := v.canonical(r, sig)
	if !ok {
		return newError(KindMismatch, msgMismatch) // a signed header is absent
	}
	switch {
	case declared == UnsignedPayload:
		if !c.matches(amzDate, declared, key) {
			return newError(KindMismatch, msgMismatch)
		}
		return nil
	case declared != "":
		// The signature covers the declared hash: check it before reading
		// a body that may be large, then the body against the hash.
		if !c.matches(amzDate, declared, key) {
			return newError(KindMismatch, msgMismatch)
		}
		bodyHash, err := v.spool.hashBody(r, true)
		if err != nil {
			return err
		}
		if bodyHash != declared {
			discard(r)
			return newError(KindPayload, "The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
		return nil
	case sig.Presigned && c.matches(amzDate, UnsignedPayload, key):
		// A presigned URL without a hash header may have been signed with
		// UNSIGNED-PAYLOAD: then the body need not be read.
		return nil
	}
	bodyHash, err := v.spool.hashBody(r, false)
	if err != nil {
		return err
	}
	if !c.matches(amzDate, bodyHash, key) {
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
	q, qerr := url.ParseQuery(r.URL.RawQuery)
	var qsig *Signature
	if qerr == nil {
		var err error
		if qsig, err = ParseQuery(q); err != nil {
			return nil, "", err
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

var emptyHash = func() string { s := sha256.Sum256(nil); return hex.EncodeToString(s[:]) }()

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

// canonicalParts is a request's canonical request without its payload
// hash: one per accepted form of the path. For paths with dot segments or
// empty segments the normalised form is accepted too (botocore normalises,
// the Go and JS SDKs do not).
type canonicalParts struct {
	prefixes []string // method, path, query, headers, signed headers
	sig      *Signature
	want     []byte
}

// canonical builds r's canonical parts. It reports false when a signed
// header is absent or the signature is not hex.
func (v *Verifier) canonical(r *http.Request, sig *Signature) (canonicalParts, bool) {
	want, err := hex.DecodeString(sig.Signature)
	if err != nil {
		return canonicalParts{}, false
	}
	headers, ok := canonicalHeaders(r, sig.SignedHeaders)
	if !ok {
		return canonicalParts{}, false
	}
	path := rawPath(r)
	paths := []string{escapePath(path)}
	if n := normalizePath(path); n != path {
		paths = append(paths, escapePath(n))
	}
	query := canonicalQuery(r.URL.RawQuery, sig.Presigned)
	signed := strings.Join(sig.SignedHeaders, ";")
	c := canonicalParts{sig: sig, want: want}
	for _, p := range paths {
		c.prefixes = append(c.prefixes, r.Method+"\n"+p+"\n"+query+"\n"+headers+"\n"+signed+"\n")
	}
	return c, true
}

// matches reports whether the signature is that of the canonical request
// with payloadHash.
func (c canonicalParts) matches(amzDate, payloadHash string, key []byte) bool {
	for _, p := range c.prefixes {
		got := Sign(key, StringToSign(amzDate, c.sig.Scope, p+payloadHash))
		if hmac.Equal(got, c.want) {
			return true
		}
	}
	return false
}

// StringToSign is SigV4's string to sign for a canonical request.
func StringToSign(amzDate string, scope Scope, canonicalRequest string) string {
	h := sha256.Sum256([]byte(canonicalRequest))
	return Algorithm + "\n" + amzDate + "\n" + scope.String() + "\n" + hex.EncodeToString(h[:])
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

func (v *Verifier) signingKey(akid, secret string, scope Scope) []byte {
	ck := akid + "/" + scope.String()
	v.mu.Lock()
	defer v.mu.Unlock()
	if k, ok := v.keys[ck]; ok && k.secret == secret {
		return k.key
	}
	k := DeriveKey(secret, scope)
	if len(v.keys) >= maxCachedKeys {
		clear(v.keys)
	}
	v.keys[ck] = signingKey{secret: secret, key: k}
	return k
}

// rawPath is the path exactly as the client sent it (still escaped).
func rawPath(r *http.Request) string {
	p := r.RequestURI
	if p == "" || p == "*" {
		p = r.URL.EscapedPath()
	} else {
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		if !strings.HasPrefix(p, "/") { // absolute form: scheme://host/path
			if u, err := url.Parse(p); err == nil {
				p = u.EscapedPath()
			}
		}
	}
	if p == "" {
		p = "/"
	}
	return p
}

// escapePath URI-encodes every byte but the unreserved characters and '/'
// (non-S3 services encode the already-escaped path once more).
func escapePath(p string) string {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if isUnreserved(c) || c == '/' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// normalizePath removes dot segments and empty segments, as botocore does
// before signing; the trailing slash is kept.
func normalizePath(p string) string {
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return p
	}
	var out []string
	for s := range strings.SplitSeq(p, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	n := "/" + strings.Join(out, "/")
	if strings.HasSuffix(p, "/") && n != "/" {
		n += "/"
	}
	return n
}

// canonicalQuery sorts the decoded then re-encoded parameters by name and
// value; a presigned request's X-Amz-Signature is left out.
func canonicalQuery(raw string, presigned bool) string {
	if raw == "" {
		return ""
	}
	type kv struct{ k, v string }
	var params []kv
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, val, _ := strings.Cut(part, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(val); err == nil {
			val = dv
		}
		if presigned && k == QuerySignature {
			continue
		}
		params = append(params, kv{encodeQuery(k), encodeQuery(val)})
	}
	slices.SortFunc(params, func(a, b kv) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

func encodeQuery(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// canonicalHeaders renders exactly the signed headers of r. It reports
// false when a signed header is absent.
func canonicalHeaders(r *http.Request, names []string) (string, bool) {
	var b strings.Builder
	for _, name := range names {
		var vals []string
		switch name {
		case "host":
			vals = []string{r.Host}
		case "content-length":
			vals = r.Header.Values(name)
			if len(vals) == 0 && r.ContentLength >= 0 {
				vals = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		default:
			vals = r.Header.Values(name)
		}
		if len(vals) == 0 {
			return "", false
		}
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(stripSpaces(v))
		}
		b.WriteByte('\n')
	}
	return b.String(), true
}

// stripSpaces trims the value and collapses runs of spaces into one.
func stripSpaces(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	space := false
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteByte(s[i])
	}
	return b.String()
}
