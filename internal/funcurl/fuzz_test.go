package funcurl

import (
	"net/http"
	"strings"
	"testing"
)

func TestParseHost(t *testing.T) {
	id := "abcdefghijklmnopqrstuvwxyz012345"
	for _, tc := range []struct {
		host   string
		id     string
		region string
	}{
		{id + ".lambda-url.us-east-1.localhost:4566", id, "us-east-1"},
		{id + ".lambda-url.eu-central-2.localhost", id, "eu-central-2"},
		{strings.ToUpper(id) + ".LAMBDA-URL.US-GOV-WEST-1.LOCALHOST.", id, "us-gov-west-1"},
		{id + ".lambda-url.us-east-1.nimbus.example.com:443", id, "us-east-1"},
		{id + ".lambda-url.us-east-1", "", ""},
		{id + ".execute-api.us-east-1.localhost", "", ""},
		{"short.lambda-url.us-east-1.localhost", "", ""},
		{id + "x.lambda-url.us-east-1.localhost", "", ""},
		{id + ".lambda-url.east.localhost", "", ""},
		{"127.0.0.1:4566", "", ""},
		{"", "", ""},
	} {
		gotID, gotRegion, ok := ParseHost(tc.host)
		if ok != (tc.id != "") || gotID != tc.id || gotRegion != tc.region {
			t.Errorf("ParseHost(%q) = %q %q %v, want %q %q", tc.host, gotID, gotRegion, ok, tc.id, tc.region)
		}
	}
}

// FuzzParseHost: any Host header; an accepted one yields a valid id and
// a region found in the host.
func FuzzParseHost(f *testing.F) {
	for _, s := range []string{
		"abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.localhost:4566",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345.lambda-url.us-east-1.localhost.",
		"x.lambda-url.us-east-1.localhost", "[::1]:80", "a.b.c.d", ".lambda-url..", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		id, region, ok := ParseHost(host)
		if !ok {
			if id != "" || region != "" {
				t.Fatalf("refused host returned %q %q", id, region)
			}
			return
		}
		if len(id) != 32 || !strings.Contains(strings.ToLower(host), region) || !IsURLHost(host) {
			t.Fatalf("ParseHost(%q) = %q %q", host, id, region)
		}
	})
}

func TestParsePrelude(t *testing.T) {
	p, err := ParsePrelude([]byte(`{"statusCode":404,"headers":{"content-type":"text/plain"},"cookies":["a=1","b=2"]}`))
	if err != nil || p.StatusCode != 404 || p.Header.Get("Content-Type") != "text/plain" || len(p.Header.Values("Set-Cookie")) != 2 {
		t.Errorf("%+v %v", p, err)
	}
	if p, err := ParsePrelude([]byte(`{}`)); err != nil || p.StatusCode != http.StatusOK {
		t.Errorf("empty prelude: %+v %v", p, err)
	}
	for _, bad := range []string{``, `[]`, `{"statusCode":99}`, `{"statusCode":"200"}`, `{"headers":{"a b":"x"}}`, `{"headers":{"a":"x\ny"}}`, `{"cookies":["a\r\nb"]}`} {
		if _, err := ParsePrelude([]byte(bad)); err == nil {
			t.Errorf("ParsePrelude(%q) accepted", bad)
		}
	}
}

// FuzzParsePrelude: any prelude a function sends is either refused or
// yields a head net/http can write.
func FuzzParsePrelude(f *testing.F) {
	for _, s := range []string{
		`{"statusCode":200,"headers":{"x":"y"},"cookies":["a=1"]}`, `{}`, `{"statusCode":700}`,
		`{"headers":{"":"x"}}`, `{"cookies":[null]}`, `not json`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePrelude(b)
		if err != nil {
			return
		}
		if p.StatusCode < 100 || p.StatusCode > 599 {
			t.Fatalf("status %d", p.StatusCode)
		}
		for k, vs := range p.Header {
			if !validHeaderName(k) {
				t.Fatalf("header name %q", k)
			}
			for _, v := range vs {
				if !validHeaderValue(v) {
					t.Fatalf("header value %q", v)
				}
			}
		}
	})
}
