package funcurl

import (
	"net"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/function"
)

// ParseHost reads a function URL's Host header:
// <url-id>.lambda-url.<region>.<domain>[:port], where <domain> is
// "localhost" on a default node (any domain is accepted, so a node behind
// a real DNS name serves its URLs too). It returns the id and region, and
// ok false for any other host. Case is ignored, as in DNS.
func ParseHost(host string) (urlID, region string, ok bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(host, ".") // a fully qualified name
	id, rest, found := strings.Cut(host, ".")
	if !found {
		return "", "", false
	}
	rest, found = cutPrefixFold(rest, "lambda-url.")
	if !found {
		return "", "", false
	}
	region, domain, found := strings.Cut(rest, ".")
	if !found || domain == "" || !validRegion(region) {
		return "", "", false
	}
	id = strings.ToLower(id)
	if !function.ValidURLID(id) {
		return "", "", false
	}
	return id, strings.ToLower(region), true
}

// IsURLHost reports whether host names a function URL; the daemon's front
// door sends such requests to this package.
func IsURLHost(host string) bool {
	_, _, ok := ParseHost(host)
	return ok
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// validRegion accepts region-shaped labels (us-east-1, eu-central-2,
// us-gov-west-1): letters and digits in dash-separated parts.
func validRegion(r string) bool {
	if len(r) < 4 || len(r) > 32 {
		return false
	}
	parts := strings.Split(r, "-")
	if len(parts) < 3 {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
		for i := 0; i < len(p); i++ {
			c := p[i] | 0x20
			if (c < 'a' || c > 'z') && (p[i] < '0' || p[i] > '9') {
				return false
			}
		}
	}
	return true
}
