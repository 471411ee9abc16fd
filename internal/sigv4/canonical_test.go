package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"math/rand/v2"
	"net/http"
	"net/textproto"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// The fast canonical-request builder (canonical.go) must equal the old
// one (oracle_test.go) on every request: these tests compare them on
// random requests built to hit the hard cases (escapes, dot segments,
// repeated and unsorted parameters, repeated headers, odd header names and
// spaces), and FuzzCanonicalMatchesOracle on whatever the fuzzer finds.

// fastCanonical renders the fast builder's canonical parts as the oracle
// does.
func fastCanonical(r *http.Request, sig *Signature, s3 bool) ([]string, bool) {
	s := getScratch()
	defer putScratch(s)
	build := canonical
	if s3 {
		build = canonicalS3
	}
	c, ok := build(s, r, sig)
	if !ok {
		return nil, false
	}
	var out []string
	for i := range s.npaths {
		out = append(out, c.method+"\n"+string(s.paths[i])+string(s.tail))
	}
	return out, true
}

func checkSame(t *testing.T, r *http.Request, sig *Signature) {
	t.Helper()
	for _, s3 := range []bool{false, true} {
		oracle := oracleCanonical
		if s3 {
			oracle = oracleCanonicalS3
		}
		want, wok := oracle(r, sig)
		got, gok := fastCanonical(r, sig, s3)
		if wok != gok || !reflect.DeepEqual(got, want) {
			t.Fatalf("s3=%v request %s %q query %q headers %q signed %q:\nfast   %v %q\noracle %v %q",
				s3, r.Method, r.RequestURI, r.URL.RawQuery, r.Header, sig.SignedHeaders, gok, got, wok, want)
		}
	}
}

const (
	pathAlphabet   = "abAZ09-_.~/%2F%20+!$&'()*,;=:@é\x00 "
	queryAlphabet  = "abAZ09-_.~=&%2F%3D%26%zz+ é;X-Amz-Signature"
	valueAlphabet  = "  \tab,;=é\x01:AZ"
	headerAlphabet = "abcxyzABZ-_09!#$%&'*+.^`|~ :\x80"
)

func pick(r *rand.Rand, alphabet string, n int) string {
	var b strings.Builder
	for range r.IntN(n + 1) {
		i := r.IntN(len(alphabet))
		b.WriteString(alphabet[i : i+1])
	}
	return b.String()
}

// randomCanonicalRequest builds a request and a signature over some of
// its headers (and some it lacks).
func randomCanonicalRequest(r *rand.Rand) (*http.Request, *Signature) {
	method := []string{"GET", "POST", "PUT", "DELETE", "PATCH"}[r.IntN(5)]
	path := "/" + pick(r, pathAlphabet, 24)
	if r.IntN(4) == 0 {
		path += "/../x/./y//"
	}
	query := pick(r, queryAlphabet, 40)
	req := &http.Request{Method: method, Header: http.Header{}, Host: pick(r, "ab.: 09", 12), ContentLength: int64(r.IntN(3)) - 1,
		URL: &url.URL{Path: path, RawQuery: query}}
	switch r.IntN(4) {
	case 0:
		req.RequestURI = "" // a client-side request: the URL's path
		req.URL.RawPath = path
	case 1:
		req.RequestURI = "http://example.com" + path + "?" + query // absolute form
	default:
		req.RequestURI = path + "?" + query
	}
	names := map[string]bool{"host": true}
	for range r.IntN(6) {
		name := pick(r, headerAlphabet, 10)
		if name == "" {
			continue
		}
		for range 1 + r.IntN(2) {
			// Added under the name as a server would store it.
			req.Header[textproto.CanonicalMIMEHeaderKey(name)] = append(req.Header[textproto.CanonicalMIMEHeaderKey(name)],
				pick(r, valueAlphabet, 12))
		}
		names[strings.ToLower(name)] = true
	}
	if r.IntN(2) == 0 {
		req.Header.Set("Content-Length", "12")
	}
	names["content-length"] = r.IntN(2) == 0
	names["x-amz-missing"] = r.IntN(4) == 0
	var signed []string
	for n, ok := range names {
		if ok && (n == "host" || r.IntN(4) > 0) {
			signed = append(signed, n)
		}
	}
	sortStrings(signed)
	sig := &Signature{SignedHeaders: signed, Signature: strings.Repeat("ab", 32), Presigned: r.IntN(2) == 0,
		Scope: Scope{Date: "20261127", Region: "us-east-1", Service: "lambda"}}
	return req, sig
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestCanonicalMatchesOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for range 5000 {
		req, sig := randomCanonicalRequest(r)
		checkSame(t, req, sig)
	}
}

// FuzzCanonicalMatchesOracle: any request line, query, headers and list
// of signed headers give the same canonical request both ways.
func FuzzCanonicalMatchesOracle(f *testing.F) {
	f.Add("POST", "/2015-03-31/functions/a%2Fb/invocations", "Qualifier=1&x=%20", "X-Amz-Date: 20261127T080000Z\nX-Amz-Date: x  y\nContent-Type:  a  b ", "host;x-amz-date", "127.0.0.1:4566", int64(3), false)
	f.Add("GET", "/a/../b//c/./", "b=2&a=1&a=0&X-Amz-Signature=z", "x-odd_name!: v", "content-length;host;x-odd_name!", "h", int64(-1), true)
	f.Add("PUT", "http://h/k%zz", "%zz=%", "", "host;missing", "", int64(0), false)
	f.Fuzz(func(t *testing.T, method, uri, query, headers, signed, host string, length int64, presigned bool) {
		req := &http.Request{Method: method, Header: http.Header{}, Host: host, ContentLength: length, RequestURI: uri,
			URL: &url.URL{RawQuery: query}}
		if u, err := url.ParseRequestURI(uri); err == nil {
			req.URL.Path, req.URL.RawPath = u.Path, u.RawPath
		}
		for line := range strings.SplitSeq(headers, "\n") {
			k, v, _ := strings.Cut(line, ":")
			key := textproto.CanonicalMIMEHeaderKey(k)
			req.Header[key] = append(req.Header[key], v)
		}
		sig := &Signature{SignedHeaders: strings.Split(signed, ";"), Signature: strings.Repeat("0f", 32), Presigned: presigned}
		checkSame(t, req, sig)
	})
}

// headerValues finds what http.Header.Values finds, for any name.
func FuzzHeaderValues(f *testing.F) {
	for _, s := range []string{"x-amz-date", "X-AMZ-DATE", "content-type", "a b", "x_y", "é", "-a--b-", strings.Repeat("a", 70), "", "x\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		h := http.Header{textproto.CanonicalMIMEHeaderKey(name): {"v"}, name: {"w"}}
		if got, want := headerValues(h, name), h.Values(name); !reflect.DeepEqual(got, want) {
			t.Fatalf("headerValues(%q) = %q, Header.Values = %q", name, got, want)
		}
	})
}

// The RFC 2104 HMAC of scratch equals crypto/hmac's.
func FuzzScratchHMAC(f *testing.F) {
	f.Add([]byte("key"), []byte("message"))
	f.Add(make([]byte, 64), []byte{})
	f.Add(make([]byte, 65), make([]byte, 200))
	f.Fuzz(func(t *testing.T, key, msg []byte) {
		s := getScratch()
		defer putScratch(s)
		m := hmac.New(sha256.New, key)
		m.Write(msg)
		if got, want := s.hmac(key, msg), m.Sum(nil); !hmac.Equal(got, want) {
			t.Fatalf("hmac(%x, %x) = %x, want %x", key, msg, got, want)
		}
	})
}

func TestStringToSignMatchesOracle(t *testing.T) {
	scope := Scope{Date: "20261127", Region: "us-east-1", Service: "dynamodb"}
	for _, cr := range []string{"", "POST\n/\n\nhost:x\n\nhost\n" + emptyHash} {
		if got, want := StringToSign("20261127T080000Z", scope, cr), oracleStringToSign("20261127T080000Z", scope, cr); got != want {
			t.Fatalf("StringToSign = %q, want %q", got, want)
		}
	}
}

// ParseAuthorization's map-free path gives what the general one gives,
// errors included.
func FuzzParseAuthorizationPaths(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("a", 64))
	f.Add("AWS4-HMAC-SHA256 Credential=A/B/C, Credential=x, SignedHeaders=h, Signature=s")
	f.Add("AWS4-HMAC-SHA256 Credential=a/20261127/r/s/t/u,SignedHeaders=,Signature=,Extra=1")
	f.Add("AWS4-HMAC-SHA256 Credential=//////")
	f.Fuzz(func(t *testing.T, v string) {
		got, gerr := ParseAuthorization(v)
		want, werr := parseAuthorization(v)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gerr, werr) {
			t.Fatalf("ParseAuthorization(%q) = %+v, %v; general path %+v, %v", v, got, gerr, want, werr)
		}
	})
}

// A query mayBePresigned rejects carries no presigned signature.
func FuzzMayBePresigned(f *testing.F) {
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256")
	f.Add("X%2DAmz-Signature=x")
	f.Add("a=b&X-Amz-Credential")
	f.Add("Action=ListQueues&Version=2012-11-05")
	f.Fuzz(func(t *testing.T, raw string) {
		if mayBePresigned(raw) {
			return
		}
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		if sig, err := ParseQuery(q); sig != nil || err != nil {
			t.Fatalf("mayBePresigned(%q) = false, but ParseQuery gives %+v, %v", raw, sig, err)
		}
	})
}
