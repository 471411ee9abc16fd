package s3

import (
	"errors"
	"testing"
)

func TestParseCORS(t *testing.T) {
	ok := `<CORSConfiguration><CORSRule><AllowedOrigin>https://*.example.com</AllowedOrigin><AllowedMethod>PUT</AllowedMethod>` +
		`<AllowedMethod>GET</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>Content-Type</AllowedHeader>` +
		`<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>300</MaxAgeSeconds></CORSRule></CORSConfiguration>`
	c, err := parseCORS([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		origin, method string
		headers        []string
		want           bool
	}{
		{"https://app.example.com", "PUT", []string{"x-amz-date", "content-type"}, true},
		{"https://app.example.com", "GET", nil, true},
		{"https://example.com", "PUT", nil, false}, // the wildcard needs its dot
		{"https://app.example.com.evil", "PUT", nil, false},
		{"https://app.example.com", "DELETE", nil, false},
		{"https://app.example.com", "PUT", []string{"authorization"}, false},
	} {
		if got := c.match(tc.origin, tc.method, tc.headers) != nil; got != tc.want {
			t.Errorf("match(%q, %s, %v) = %v, want %v", tc.origin, tc.method, tc.headers, got, tc.want)
		}
	}
	for doc, code := range map[string]string{
		`<CORSConfiguration></CORSConfiguration>`:                                                                                                     "MalformedXML",
		`<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>`:                                              "MalformedXML",
		`<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>`:            "InvalidRequest",
		`<CORSConfiguration><CORSRule><AllowedOrigin>http://*.*.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>`: "InvalidRequest",
		`<CORSConfiguration><CORSRule>`: "MalformedXML",
	} {
		_, err := parseCORS([]byte(doc))
		var e *Error
		if !errors.As(err, &e) || e.Code != code {
			t.Errorf("parseCORS(%s) = %v, want %s", doc, err, code)
		}
	}
}

// FuzzCORS: any PutBucketCors body parses or is refused without
// panicking, and a parsed configuration matches any request without
// panicking.
func FuzzCORS(f *testing.F) {
	f.Add([]byte(`<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader></CORSRule></CORSConfiguration>`), "https://a.b", "GET", "x-amz-date")
	f.Add([]byte(`<CORSConfiguration><CORSRule><AllowedOrigin>a*</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><MaxAgeSeconds>-1</MaxAgeSeconds></CORSRule></CORSConfiguration>`), "a", "PUT", "")
	f.Fuzz(func(t *testing.T, doc []byte, origin, method, headers string) {
		c, err := parseCORS(doc)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("parseCORS: %T %v, want an S3 error", err, err)
			}
			return
		}
		if r := c.match(origin, method, requestHeaders(headers)); r != nil && !anyMatch(r.AllowedMethods, method, false) {
			t.Fatalf("rule %+v matched method %q it does not allow", r, method)
		}
	})
}
