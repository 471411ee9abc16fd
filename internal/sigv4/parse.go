package sigv4

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

// Wire names of the signature parts (names, not credentials).
//
//nolint:gosec // G101: header and parameter names
const (
	HeaderAuthorization = "Authorization"
	HeaderDate          = "X-Amz-Date"
	HeaderContentSHA256 = "X-Amz-Content-Sha256"
	HeaderSecurityToken = "X-Amz-Security-Token"

	QueryAlgorithm     = "X-Amz-Algorithm"
	QueryCredential    = "X-Amz-Credential"
	QueryDate          = "X-Amz-Date"
	QueryExpires       = "X-Amz-Expires"
	QuerySignedHeaders = "X-Amz-SignedHeaders"
	QuerySignature     = "X-Amz-Signature"
	QuerySecurityToken = "X-Amz-Security-Token"

	// UnsignedPayload stands for the payload hash when the body is not
	// signed (allowed for presigned URLs only).
	UnsignedPayload = "UNSIGNED-PAYLOAD"

	timeFormat = "20060102T150405Z"
	dateFormat = "20060102"
	terminator = "aws4_request"

	// MaxPresignExpires is the longest X-Amz-Expires accepted (7 days).
	MaxPresignExpires = 7 * 24 * time.Hour
)

// Scope is a credential scope: <date>/<region>/<service>/aws4_request.
type Scope struct {
	Date, Region, Service string
}

func (s Scope) String() string {
	return s.Date + "/" + s.Region + "/" + s.Service + "/" + terminator
}

// Signature is the parsed signature of a request, from its Authorization
// header or its presigned query.
type Signature struct {
	AccessKeyID   string
	Scope         Scope
	SignedHeaders []string // lower-case, as given (order is checked)
	Signature     string   // lower-case hex
	// Presigned is set for the query form; Expires is X-Amz-Expires then.
	Presigned bool
	Expires   time.Duration
	// Date is X-Amz-Date for the query form (the header form reads it from
	// the headers).
	Date string
}

// ParseAuthorization parses an Authorization header value of the form
//
//	AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=<64 hex>
//
// Errors are *Error of kind KindIncomplete (a part is missing or
// malformed) or KindMissing (not a SigV4 header at all).
func ParseAuthorization(v string) (*Signature, error) {
	// The common form (each of the three parts once, nothing else) is
	// parsed without a map; anything else takes the general path, which
	// gives every error its message.
	alg, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
	if alg != Algorithm {
		return parseAuthorization(v)
	}
	var cred, sh, signature string
	var have [3]bool
	for p := range strings.SplitSeq(rest, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, val, ok := strings.Cut(p, "=")
		i := -1
		switch {
		case !ok:
		case k == "Credential":
			i, cred = 0, val
		case k == "SignedHeaders":
			i, sh = 1, val
		case k == "Signature":
			i, signature = 2, val
		}
		if i < 0 || have[i] {
			return parseAuthorization(v)
		}
		have[i] = true
	}
	if !have[0] || !have[1] || !have[2] {
		return parseAuthorization(v)
	}
	return newSignature(cred, sh, signature)
}

// parseAuthorization is ParseAuthorization's general path.
func parseAuthorization(v string) (*Signature, error) {
	alg, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
	if alg != Algorithm {
		if strings.HasPrefix(alg, "AWS4-") || strings.HasPrefix(alg, "AWS ") || alg == "AWS" {
			return nil, incomplete("Unsupported signature algorithm or version. Authorization=%s", alg)
		}
		return nil, missing()
	}
	parts := map[string]string{}
	for p := range strings.SplitSeq(rest, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, val, ok := strings.Cut(p, "=")
		if !ok {
			return nil, incomplete("'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", p, v)
		}
		if _, dup := parts[k]; dup {
			return nil, incomplete("Authorization header has a duplicate '%s' parameter: '%s'.", k, v)
		}
		parts[k] = val
	}
	var msgs []string
	for _, k := range []string{"Credential", "Signature", "SignedHeaders"} {
		if _, ok := parts[k]; !ok {
			msgs = append(msgs, fmt.Sprintf("Authorization header requires '%s' parameter.", k))
		}
	}
	if len(msgs) > 0 {
		return nil, incomplete("%s Authorization=%s", strings.Join(msgs, " "), v)
	}
	return newSignature(parts["Credential"], parts["SignedHeaders"], parts["Signature"])
}

// newSignature parses the three parts of an Authorization header.
func newSignature(cred, signedHeaders, signature string) (*Signature, error) {
	sig := &Signature{}
	if err := sig.parseCredential(cred); err != nil {
		return nil, err
	}
	if err := sig.parseSignedHeaders(signedHeaders); err != nil {
		return nil, err
	}
	if err := sig.parseSignature(signature); err != nil {
		return nil, err
	}
	return sig, nil
}

// ParseQuery parses the presigned form of a signature from a request's
// query parameters. It returns (nil, nil) when the query carries no
// X-Amz-Algorithm or X-Amz-Signature (the request is not presigned).
func ParseQuery(q url.Values) (*Signature, error) {
	if !q.Has(QueryAlgorithm) && !q.Has(QuerySignature) && !q.Has(QueryCredential) {
		return nil, nil
	}
	var msgs []string
	for _, k := range []string{QueryAlgorithm, QueryCredential, QuerySignature, QuerySignedHeaders, QueryDate} {
		if len(q[k]) != 1 || q.Get(k) == "" {
			msgs = append(msgs, fmt.Sprintf("AWS query-string parameters must include '%s'.", k))
		}
	}
	if len(msgs) > 0 {
		return nil, incomplete("%s Re-examine the query-string parameters.", strings.Join(msgs, " "))
	}
	if q.Get(QueryAlgorithm) != Algorithm {
		return nil, incomplete("X-Amz-Algorithm only supports \"%s\".", Algorithm)
	}
	sig := &Signature{Presigned: true, Date: q.Get(QueryDate)}
	if err := sig.parseCredential(q.Get(QueryCredential)); err != nil {
		return nil, err
	}
	if err := sig.parseSignedHeaders(q.Get(QuerySignedHeaders)); err != nil {
		return nil, err
	}
	if err := sig.parseSignature(q.Get(QuerySignature)); err != nil {
		return nil, err
	}
	exp := q.Get(QueryExpires)
	if exp == "" {
		return nil, incomplete("AWS query-string parameters must include '%s'. Re-examine the query-string parameters.", QueryExpires)
	}
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || n < 0 {
		return nil, incomplete("X-Amz-Expires should be a number.")
	}
	if time.Duration(n)*time.Second > MaxPresignExpires || n > int64(MaxPresignExpires/time.Second) {
		return nil, incomplete("X-Amz-Expires must be less than a week (in seconds) that is 604800.")
	}
	sig.Expires = time.Duration(n) * time.Second
	return sig, nil
}

func (s *Signature) parseCredential(c string) error {
	var five [5]string
	f := splitFive(&five, c)
	if f == nil {
		f = strings.Split(c, "/")
	}
	if len(f) != 5 || f[4] != terminator {
		if len(f) >= 5 && f[len(f)-1] != terminator {
			return incomplete("Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", f[len(f)-1])
		}
		return incomplete("Credential should be scoped to a valid region, service and date: '%s'.", c)
	}
	if f[0] == "" {
		return incomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'.", c)
	}
	if _, err := time.Parse(dateFormat, f[1]); err != nil || len(f[1]) != 8 {
		return incomplete("Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", f[1])
	}
	s.AccessKeyID = f[0]
	s.Scope = Scope{Date: f[1], Region: f[2], Service: f[3]}
	return nil
}

// splitFive is strings.Split(c, "/") into five when c has exactly five
// parts, nil otherwise.
func splitFive(five *[5]string, c string) []string {
	for i := range 4 {
		j := strings.IndexByte(c, '/')
		if j < 0 {
			return nil
		}
		five[i], c = c[:j], c[j+1:]
	}
	if strings.IndexByte(c, '/') >= 0 {
		return nil
	}
	five[4] = c
	return five[:]
}

func (s *Signature) parseSignedHeaders(h string) error {
	if h == "" {
		return incomplete("SignedHeaders must not be empty.")
	}
	s.SignedHeaders = strings.Split(h, ";")
	for i, name := range s.SignedHeaders {
		if name == "" || name != strings.ToLower(name) || strings.ContainsAny(name, " \t:") {
			return incomplete("SignedHeaders must be a ';'-separated list of lower-case header names, got '%s'.", h)
		}
		if i > 0 && s.SignedHeaders[i-1] >= name {
			return incomplete("SignedHeaders must be sorted and unique, got '%s'.", h)
		}
	}
	return nil
}

func (s *Signature) parseSignature(v string) error {
	if len(v) != 64 {
		return incomplete("Signature must be 64 hexadecimal characters, got %d characters.", len(v))
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return incomplete("Signature must be lower-case hexadecimal.")
		}
	}
	s.Signature = v
	return nil
}

// hasHeader reports whether name is among the signed headers.
func (s *Signature) hasHeader(name string) bool {
	for _, h := range s.SignedHeaders {
		if h == name {
			return true
		}
	}
	return false
}
