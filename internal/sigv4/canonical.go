package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The canonical request is built into pooled buffers, without fmt, string
// concatenation or header-key allocation, and hashed and MACed with one
// pooled SHA-256: verification is on the path of every AWS API request
// (docs/design/front-door.md has the measurements). oracle_test.go keeps
// the straightforward builder this one replaced, and canonical_test.go
// proves them equal on random and fuzzed requests.

// scratch is one verification's working memory.
type scratch struct {
	h      hash.Hash // SHA-256
	paths  [2][]byte // the accepted forms of the canonical URI
	npaths int
	tail   []byte // "\n" query "\n" headers "\n" signed headers "\n"
	req    []byte // one whole canonical request
	sts    []byte // one string to sign
	sum    [sha256.Size]byte
	inner  [sha256.Size]byte
	mac    [sha256.Size]byte
	pad    [sha256.BlockSize]byte
	hex    [2 * sha256.Size]byte // a payload hash in hex
}

var scratchPool = sync.Pool{New: func() any { return &scratch{h: sha256.New()} }}

// maxPooled bounds the buffers a scratch keeps when it goes back to the
// pool (a request with a huge query or header must not pin its memory).
const maxPooled = 16 << 10

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	if cap(s.tail) > maxPooled || cap(s.req) > maxPooled || cap(s.paths[0]) > maxPooled || cap(s.paths[1]) > maxPooled {
		return
	}
	scratchPool.Put(s)
}

// canonicalParts is a request's canonical request without its payload
// hash: one per accepted form of the path. For paths with dot segments or
// empty segments the normalised form is accepted too (botocore
// normalises, the Go and JS SDKs do not). It lives in its scratch.
type canonicalParts struct {
	s      *scratch
	method string
	scope  Scope
	want   [sha256.Size]byte
}

// canonical builds r's canonical parts in s. It reports false when a
// signed header is absent or the signature is not hex.
func canonical(s *scratch, r *http.Request, sig *Signature) (canonicalParts, bool) {
	c := canonicalParts{s: s, method: r.Method, scope: sig.Scope}
	if !decodeHex(c.want[:], sig.Signature) {
		return c, false
	}
	t := append(s.tail[:0], '\n')
	t = appendCanonicalQuery(t, r.URL.RawQuery, sig.Presigned)
	t = append(t, '\n')
	t, ok := appendCanonicalHeaders(t, r, sig.SignedHeaders)
	if !ok {
		s.tail = t
		return c, false
	}
	t = append(t, '\n')
	for i, name := range sig.SignedHeaders {
		if i > 0 {
			t = append(t, ';')
		}
		t = append(t, name...)
	}
	s.tail = append(t, '\n')
	path := rawPath(r)
	s.paths[0] = appendEscapePath(s.paths[0][:0], path)
	s.npaths = 1
	if n := normalizePath(path); n != path {
		s.paths[1] = appendEscapePath(s.paths[1][:0], n)
		s.npaths = 2
	}
	return c, true
}

// canonicalS3 is canonical with S3's URI rule: the path as the client
// encoded it, or (for clients that encode fewer characters) the decoded
// path encoded once with SigV4's rule.
func canonicalS3(s *scratch, r *http.Request, sig *Signature) (canonicalParts, bool) {
	c, ok := canonical(s, r, sig)
	if !ok {
		return c, false
	}
	raw := rawPath(r)
	s.paths[0] = append(s.paths[0][:0], raw...)
	s.npaths = 1
	if dec, err := url.PathUnescape(raw); err == nil {
		s.paths[1] = appendEscapePath(s.paths[1][:0], dec)
		if string(s.paths[1]) != raw {
			s.npaths = 2
		}
	}
	return c, true
}

// matches reports whether the signature is that of the canonical request
// with payloadHash.
func (c canonicalParts) matches(amzDate string, payloadHash []byte, key []byte) bool {
	s := c.s
	for i := range s.npaths {
		s.req = append(s.req[:0], c.method...)
		s.req = append(s.req, '\n')
		s.req = append(s.req, s.paths[i]...)
		s.req = append(s.req, s.tail...)
		s.req = append(s.req, payloadHash...)
		s.h.Reset()
		s.h.Write(s.req)
		sum := s.h.Sum(s.sum[:0])
		s.sts = appendStringToSign(s.sts[:0], amzDate, c.scope, sum)
		if hmac.Equal(s.hmac(key, s.sts), c.want[:]) {
			return true
		}
	}
	return false
}

// matchesString is matches with the payload hash as a string.
func (c canonicalParts) matchesString(amzDate, payloadHash string, key []byte) bool {
	n := copy(c.s.hex[:], payloadHash)
	if n != len(payloadHash) { // not a hash: a mode name (UNSIGNED-PAYLOAD, STREAMING-…)
		return c.matches(amzDate, []byte(payloadHash), key)
	}
	return c.matches(amzDate, c.s.hex[:n], key)
}

// hmac is HMAC-SHA256(key, msg) (RFC 2104) with s's hash, valid until
// s's next use.
func (s *scratch) hmac(key, msg []byte) []byte {
	if len(key) > sha256.BlockSize {
		s.h.Reset()
		s.h.Write(key)
		key = s.h.Sum(s.inner[:0])
	}
	for i := range s.pad {
		s.pad[i] = 0x36
	}
	for i, b := range key {
		s.pad[i] ^= b
	}
	s.h.Reset()
	s.h.Write(s.pad[:])
	s.h.Write(msg)
	inner := s.h.Sum(s.inner[:0])
	for i := range s.pad {
		s.pad[i] ^= 0x36 ^ 0x5c
	}
	s.h.Reset()
	s.h.Write(s.pad[:])
	s.h.Write(inner)
	return s.h.Sum(s.mac[:0])
}

// appendStringToSign appends SigV4's string to sign of a canonical request
// whose SHA-256 is sum.
func appendStringToSign(b []byte, amzDate string, scope Scope, sum []byte) []byte {
	b = append(b, Algorithm...)
	b = append(b, '\n')
	b = append(b, amzDate...)
	b = append(b, '\n')
	b = appendScope(b, scope)
	b = append(b, '\n')
	return hex.AppendEncode(b, sum)
}

func appendScope(b []byte, scope Scope) []byte {
	b = append(b, scope.Date...)
	b = append(b, '/')
	b = append(b, scope.Region...)
	b = append(b, '/')
	b = append(b, scope.Service...)
	b = append(b, '/')
	return append(b, terminator...)
}

// decodeHex decodes the lower-case hex s into dst, which it must fill
// exactly.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
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

const upperHex = "0123456789ABCDEF"

// appendEscapePath URI-encodes every byte of p but the unreserved
// characters and '/' (non-S3 services encode the already-escaped path once
// more).
func appendEscapePath(b []byte, p string) []byte {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if isUnreserved(c) || c == '/' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', upperHex[c>>4], upperHex[c&15])
	}
	return b
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

// appendCanonicalQuery appends the decoded then re-encoded parameters of
// raw sorted by name and value; a presigned request's X-Amz-Signature is
// left out.
func appendCanonicalQuery(b []byte, raw string, presigned bool) []byte {
	if raw == "" {
		return b
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
	for i, p := range params {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, p.k...)
		b = append(b, '=')
		b = append(b, p.v...)
	}
	return b
}

func encodeQuery(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// appendCanonicalHeaders appends exactly the signed headers of r. It
// reports false when a signed header is absent.
func appendCanonicalHeaders(b []byte, r *http.Request, names []string) ([]byte, bool) {
	for _, name := range names {
		var vals []string
		switch name {
		case "host":
			b = append(b, name...)
			b = append(b, ':')
			b = appendTrimmed(b, r.Host)
			b = append(b, '\n')
			continue
		case "content-length":
			vals = headerValues(r.Header, name)
			if len(vals) == 0 && r.ContentLength >= 0 {
				b = append(b, name...)
				b = append(b, ':')
				b = strconv.AppendInt(b, r.ContentLength, 10)
				b = append(b, '\n')
				continue
			}
		default:
			vals = headerValues(r.Header, name)
		}
		if len(vals) == 0 {
			return b, false
		}
		b = append(b, name...)
		b = append(b, ':')
		for i, v := range vals {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendTrimmed(b, v)
		}
		b = append(b, '\n')
	}
	return b, true
}

// appendTrimmed appends v trimmed, with runs of spaces collapsed into one.
func appendTrimmed(b []byte, v string) []byte {
	v = strings.TrimSpace(v)
	space := false
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' {
			if !space {
				b = append(b, ' ')
			}
			space = true
			continue
		}
		space = false
		b = append(b, v[i])
	}
	return b
}

// headerValues is h.Values(name) without allocating the canonical form of
// a lower-case name: textproto's canonical key (upper case at the start
// and after each '-', lower case elsewhere) when every byte is a token
// byte, the name unchanged otherwise.
func headerValues(h http.Header, name string) []string {
	var buf [64]byte
	if len(name) > len(buf) {
		return h.Values(name)
	}
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isTokenByte(c) {
			return h[name]
		}
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		buf[i] = c
		upper = c == '-'
	}
	return h[string(buf[:len(name)])]
}

// isTokenByte reports whether c may appear in an HTTP header name (RFC
// 7230 tchar), as net/textproto decides.
func isTokenByte(c byte) bool {
	switch {
	case '0' <= c && c <= '9', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
