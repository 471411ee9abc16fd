package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/nimbus-serverless/nimbus/internal/auth"
)

func testConsole(now *time.Time) *Console {
	return New(Options{
		Front:       http.NotFoundHandler(),
		Credentials: func(auth.Identity, time.Duration) (aws.Credentials, bool, error) { return aws.Credentials{}, true, nil },
		Root:        func() aws.Credentials { return aws.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s"} },
		Region:      "us-east-1",
		Now:         func() time.Time { return *now },
	})
}

func TestIsRequest(t *testing.T) {
	for host, want := range map[string]bool{"console.localhost": true, "console.localhost:4566": true, "CONSOLE.localhost.:1": true,
		"console.localhost.evil.com": false, "x.console.localhost": false, "127.0.0.1:4566": false} {
		r := httptest.NewRequest("GET", "http://"+host+"/", nil)
		if got := IsRequest(r); got != want {
			t.Errorf("host %q: %v", host, got)
		}
	}
	for path, want := range map[string]bool{"/_nimbus/console": true, "/_nimbus/console/": true, "/_nimbus/console/api/aws": true,
		"/_nimbus/consolex": false, "/_nimbus/cost": false, "/": false} {
		r := httptest.NewRequest("GET", "http://127.0.0.1:4566"+path, nil)
		if got := IsRequest(r); got != want {
			t.Errorf("path %q: %v", path, got)
		}
	}
}

// TestLinkOnceAndExpires: a one-time token signs in once, and not after
// LinkTTL.
func TestLinkOnceAndExpires(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := testConsole(&now)
	id := auth.Identity{Root: true, Principal: "arn:aws:iam::000000000000:root"}
	tok, _ := c.mintLink(id)
	if _, ok := c.useLink(tok); !ok {
		t.Fatal("first use refused")
	}
	if _, ok := c.useLink(tok); ok {
		t.Fatal("second use accepted")
	}
	tok, _ = c.mintLink(id)
	now = now.Add(LinkTTL)
	if _, ok := c.useLink(tok); ok {
		t.Fatal("expired link accepted")
	}
	if _, ok := c.useLink(""); ok {
		t.Fatal("empty token accepted")
	}
}

// TestSessionCookie: a session survives its own encoding, and is refused
// once expired, or with its payload or MAC changed.
func TestSessionCookie(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := testConsole(&now)
	s := session{Principal: "arn:aws:iam::000000000000:user/a", AccessKey: "ASIA", Secret: "x", Token: "t", Expires: now.Add(time.Hour).Unix(), Nonce: "n"}
	v := c.encode(s)
	if got, err := c.decode(v); err != nil || got != s {
		t.Fatalf("decode: %+v %v", got, err)
	}
	p, m, _ := strings.Cut(v, ".")
	for _, bad := range []string{p + "x." + m, p + "." + m[:len(m)-2] + "AA", p, "." + m, testConsole(&now).encode(s)} {
		if _, err := c.decode(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	now = now.Add(time.Hour)
	if _, err := c.decode(v); err == nil {
		t.Error("expired session accepted")
	}
}

// FuzzSessionCookie: no cookie value the console did not encode decodes.
func FuzzSessionCookie(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	c := testConsole(&now)
	f.Add(c.encode(session{Principal: "p", Expires: now.Add(time.Hour).Unix(), Nonce: "n"}))
	f.Add("e30.AAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, v string) {
		other := testConsole(&now) // another key: nothing it signs may decode here
		if _, err := c.decode(other.encode(session{Principal: v, Expires: now.Add(time.Hour).Unix(), Nonce: "n"})); err == nil {
			t.Fatal("a session signed with another key decoded")
		}
		s, err := c.decode(v)
		if err == nil && (s.Nonce == "" || s.Expires <= now.Unix()) {
			t.Fatalf("decoded an unusable session from %q", v)
		}
	})
}

// FuzzCall: the proxy never accepts a call to the console itself, a
// header outside the allowed few, or a line break in what becomes a
// header or the URL.
func FuzzCall(f *testing.F) {
	f.Add("lambda", "GET", "/2015-03-31/functions", "", "", "X-Amz-Log-Type")
	f.Add("lambda", "GET", "/_nimbus/console/api/aws", "", "", "")
	f.Add("s3", "PUT", "/b/k", "x=1", "AmazonSQS.ListQueues", "Authorization")
	f.Fuzz(func(t *testing.T, service, method, path, query, target, header string) {
		k := call{Service: service, Method: method, Path: path, Query: query, Target: target}
		if header != "" {
			k.Headers = map[string]string{header: "v"}
		}
		if k.validate() != nil {
			return
		}
		lp := strings.ToLower(path)
		if strings.HasPrefix(lp, PathPrefix) && (lp == PathPrefix || lp[len(PathPrefix)] == '/') {
			t.Fatalf("accepted a call to the console: %q", path)
		}
		if header != "" && !passHeaders[http.CanonicalHeaderKey(header)] {
			t.Fatalf("accepted header %q", header)
		}
		if strings.ContainsAny(path+query+target, "\r\n") || !strings.HasPrefix(path, "/") {
			t.Fatalf("accepted %q %q %q", path, query, target)
		}
	})
}

// TestStaticAndHeaders: the page and its files are served compressed,
// every answer carries the security headers, and unknown files 404.
func TestStaticAndHeaders(t *testing.T) {
	now := time.Now()
	c := testConsole(&now)
	for path, want := range map[string]int{"/_nimbus/console/": 200, "/_nimbus/console/js/app.js": 200,
		"/_nimbus/console/vendor/uPlot.iife.min.js": 200, "/_nimbus/console/nope.js": 404, "/_nimbus/console/../../etc/passwd": 404} {
		r := httptest.NewRequest("GET", "http://127.0.0.1:4566"+path, nil)
		r.Header.Set("Accept-Encoding", "gzip")
		w := httptest.NewRecorder()
		c.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("%s: %d", path, w.Code)
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if want == 200 && w.Header().Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: not compressed", path)
		}
	}
}

// TestSharedKey: consoles given the same key (a cluster's nodes, which
// share the session key) accept each other's sessions; another key's
// console does not, nor one without a key.
func TestSharedKey(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	mk := func(key []byte) *Console {
		c := testConsole(&now)
		return New(Options{Front: c.opts.Front, Credentials: c.opts.Credentials, Root: c.opts.Root, Region: "us-east-1",
			Now: c.opts.Now, Key: key})
	}
	shared := []byte("0123456789abcdef0123456789abcdef")
	a, b := mk(shared), mk(append([]byte(nil), shared...))
	other, none := mk([]byte("another key, another cluster....")), mk(nil)
	s, err := a.newSession(auth.Identity{Root: true, Principal: "arn:aws:iam::000000000000:root"})
	if err != nil {
		t.Fatal(err)
	}
	v := a.encode(s)
	if got, err := b.decode(v); err != nil || got.Principal != s.Principal {
		t.Errorf("a node with the same key: %v %+v", err, got)
	}
	if b.csrf(s) != a.csrf(s) {
		t.Error("the CSRF token differs between nodes with the same key")
	}
	for name, c := range map[string]*Console{"another key": other, "no key": none} {
		if _, err := c.decode(v); err == nil {
			t.Errorf("%s accepted the session", name)
		}
	}
}
