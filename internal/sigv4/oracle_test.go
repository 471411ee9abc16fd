package sigv4

// The canonical-request builder as it was before it was made
// allocation-free (commit 5f36e7b), kept verbatim as the oracle the fast
// one is compared with (canonical_test.go). Do not optimise this file.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// oracleCanonical is the old canonical: the canonical requests of r
// without their payload hash, one per accepted form of the path.
func oracleCanonical(r *http.Request, sig *Signature) ([]string, bool) {
	if _, err := hex.DecodeString(sig.Signature); err != nil {
		return nil, false
	}
	headers, ok := oracleCanonicalHeaders(r, sig.SignedHeaders)
	if !ok {
		return nil, false
	}
	path := oracleRawPath(r)
	paths := []string{oracleEscapePath(path)}
	if n := oracleNormalizePath(path); n != path {
		paths = append(paths, oracleEscapePath(n))
	}
	query := oracleCanonicalQuery(r.URL.RawQuery, sig.Presigned)
	signed := strings.Join(sig.SignedHeaders, ";")
	var prefixes []string
	for _, p := range paths {
		prefixes = append(prefixes, r.Method+"\n"+p+"\n"+query+"\n"+headers+"\n"+signed+"\n")
	}
	return prefixes, true
}

// oracleCanonicalS3 is the old canonicalS3.
func oracleCanonicalS3(r *http.Request, sig *Signature) ([]string, bool) {
	prefixes, ok := oracleCanonical(r, sig)
	if !ok {
		return nil, false
	}
	raw := oracleRawPath(r)
	paths := []string{raw}
	if dec, err := url.PathUnescape(raw); err == nil {
		if e := oracleEscapePath(dec); e != raw {
			paths = append(paths, e)
		}
	}
	first := prefixes[0]
	_, rest, _ := strings.Cut(first[len(r.Method)+1:], "\n")
	prefixes = prefixes[:0]
	for _, p := range paths {
		prefixes = append(prefixes, r.Method+"\n"+p+"\n"+rest)
	}
	return prefixes, true
}

// oracleStringToSign is the old StringToSign.
func oracleStringToSign(amzDate string, scope Scope, canonicalRequest string) string {
	h := sha256.Sum256([]byte(canonicalRequest))
	return Algorithm + "\n" + amzDate + "\n" + scope.String() + "\n" + hex.EncodeToString(h[:])
}

func oracleRawPath(r *http.Request) string {
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

func oracleEscapePath(p string) string {
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

func oracleNormalizePath(p string) string {
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

func oracleCanonicalQuery(raw string, presigned bool) string {
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
		params = append(params, kv{oracleEncodeQuery(k), oracleEncodeQuery(val)})
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

func oracleEncodeQuery(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func oracleCanonicalHeaders(r *http.Request, names []string) (string, bool) {
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
			b.WriteString(oracleStripSpaces(v))
		}
		b.WriteByte('\n')
	}
	return b.String(), true
}

func oracleStripSpaces(s string) string {
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
