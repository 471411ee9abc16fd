package httpevent

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// goldenCase is one request through each front door.
type goldenCase struct {
	name    string
	method  string
	target  string // path and query as sent
	headers [][2]string
	body    []byte
	opts    Options
}

var fixedTime = time.Date(2026, 3, 12, 19, 3, 58, 390_000_000, time.UTC)

func goldenCases() []goldenCase {
	base := Options{RequestID: "JKJaXmPLvHcESHA=", ExtendedRequestID: "JKJaXmPLvHcESHA=", Time: fixedTime,
		AccountID: "000000000000", APIID: "r3pmxmplak", DomainName: "r3pmxmplak.execute-api.us-east-1.localhost"}
	with := func(f func(o *Options)) Options { o := base; f(&o); return o }
	trace := [2]string{"X-Amzn-Trace-Id", "Root=1-5e66d96f-7491f09xmpl79d18acf3d050"}
	return []goldenCase{
		{name: "simple_get", method: "GET", target: "/hello",
			headers: [][2]string{trace, {"User-Agent", "curl/8.5.0"}, {"Accept", "*/*"}},
			opts:    with(func(o *Options) { o.RouteKey = "GET /hello"; o.Resource = "/hello"; o.ResourceID = "abc123" })},
		{name: "repeated_query_and_headers", method: "GET", target: "/items?a=1&a=2&b=x%20y&c&=skip&d=%E2%9C%93",
			headers: [][2]string{trace, {"X-Multi", "one"}, {"X-Multi", "two"}, {"User-Agent", "test"}},
			opts:    with(func(o *Options) { o.RouteKey = "GET /items"; o.Resource = "/items" })},
		{name: "cookies", method: "GET", target: "/",
			headers: [][2]string{trace, {"Cookie", "session=abc; theme=dark"}, {"Cookie", "x=1"}},
			opts:    base},
		{name: "json_post", method: "POST", target: "/dev/items/42",
			headers: [][2]string{trace, {"Content-Type", "application/json"}},
			body:    []byte(`{"name":"widget"}`),
			opts: with(func(o *Options) {
				o.Stage, o.RouteKey, o.Path = "dev", "POST /items/{id}", "/items/42"
				o.Resource, o.PathParameters = "/items/{id}", map[string]string{"id": "42"}
				o.StageVariables = map[string]string{"table": "items-dev"}
			})},
		{name: "binary_body", method: "PUT", target: "/upload",
			headers: [][2]string{trace, {"Content-Type", "image/png"}},
			body:    []byte{0x89, 'P', 'N', 'G', 0, 1, 2, 0xff},
			opts:    with(func(o *Options) { o.BinaryMediaTypes = []string{"image/*"}; o.Resource = "/upload" })},
		{name: "no_content_type_body", method: "POST", target: "/raw",
			headers: [][2]string{trace},
			body:    []byte("plain words"),
			opts:    with(func(o *Options) { o.Resource = "/raw" })},
		{name: "unicode_path", method: "GET", target: "/caf%C3%A9/%E6%97%A5%E6%9C%AC?q=%C3%BC",
			headers: [][2]string{trace},
			opts: with(func(o *Options) {
				o.RouteKey, o.Resource = "GET /{name}/{rest}", "/{name}/{rest}"
				o.PathParameters = map[string]string{"name": "café", "rest": "日本"}
			})},
		{name: "greedy_path", method: "DELETE", target: "/prod/files/a/b/c.txt",
			headers: [][2]string{trace, {"Authorization", "Bearer t"}},
			opts: with(func(o *Options) {
				o.Stage, o.Path, o.RouteKey, o.Resource = "prod", "/files/a/b/c.txt", "ANY /files/{proxy+}", "/files/{proxy+}"
				o.PathParameters = map[string]string{"proxy": "a/b/c.txt"}
				o.Authorizer = map[string]any{"principalId": "user-1", "tier": "gold"}
			})},
		{name: "form_post", method: "POST", target: "/form",
			headers: [][2]string{trace, {"Content-Type", "application/x-www-form-urlencoded"}},
			body:    []byte("a=1&b=2"),
			opts:    with(func(o *Options) { o.Resource = "/form" })},
	}
}

func (c goldenCase) request() *http.Request {
	r := httptest.NewRequest(c.method, "http://r3pmxmplak.execute-api.us-east-1.localhost:4566"+c.target, bytes.NewReader(c.body))
	r.RemoteAddr = "192.0.2.10:53211"
	r.Header = http.Header{}
	for _, h := range c.headers {
		r.Header.Add(h[0], h[1])
	}
	return r
}

func checkGolden(t *testing.T, name string, v any) []byte {
	t.Helper()
	raw, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		t.Fatal(err)
	}
	got := append(buf.Bytes(), '\n')
	file := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
	return got
}

// TestGoldenEvents pins the JSON of every event kind, and checks that what
// a function decodes with aws-lambda-go's events types and turns back into
// an http.Request with aws-lambda-go-api-proxy is the request that was sent.
func TestGoldenEvents(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			o := c.opts
			o.Kind = HTTPAPI
			v2 := checkGolden(t, "v2_"+c.name, BuildV2(c.request(), c.body, o))
			var e2 events.APIGatewayV2HTTPRequest
			mustUnmarshal(t, v2, &e2)
			r2, err := (&core.RequestAccessorV2{}).EventToRequest(e2)
			if err != nil {
				t.Fatal(err)
			}
			sameRequest(t, "v2", c, r2, true)

			o.Kind = REST
			v1 := checkGolden(t, "v1_rest_"+c.name, BuildV1(c.request(), c.body, o))
			var e1 events.APIGatewayProxyRequest
			mustUnmarshal(t, v1, &e1)
			// REST puts the path below the stage in "path".
			if c.opts.Path != "" && e1.Path != c.opts.Path {
				t.Errorf("REST path = %q, want %q", e1.Path, c.opts.Path)
			}
			if e1.RequestContext.Path != c.target[:strings.IndexAny(c.target+"?", "?")] {
				t.Errorf("REST requestContext.path = %q, want the full path", e1.RequestContext.Path)
			}
			e1.Path = c.target[:strings.IndexAny(c.target+"?", "?")] // compare against the full target below
			r1, err := (&core.RequestAccessor{}).EventToRequest(e1)
			if err != nil {
				t.Fatal(err)
			}
			sameRequest(t, "v1", c, r1, slices.ContainsFunc(c.opts.BinaryMediaTypes, func(string) bool { return true }) || !isBinaryCase(c))

			o.Kind = HTTPAPI
			checkGolden(t, "v1_http_"+c.name, BuildV1(c.request(), c.body, o))
			o.Kind = FunctionURL
			u := checkGolden(t, "url_"+c.name, BuildURL(c.request(), c.body, o))
			var eu events.LambdaFunctionURLRequest
			mustUnmarshal(t, u, &eu)
			if eu.RawPath != c.target[:strings.IndexAny(c.target+"?", "?")] {
				t.Errorf("URL rawPath = %q, want it as sent", eu.RawPath)
			}
			if bytes.Contains(u, []byte(`"pathParameters"`)) || bytes.Contains(u, []byte(`"stageVariables"`)) {
				t.Error("function URL event has pathParameters or stageVariables")
			}
		})
	}
}

func isBinaryCase(c goldenCase) bool {
	for _, h := range c.headers {
		if h[0] == "Content-Type" && !isTextType(h[1]) {
			return true
		}
	}
	return len(c.body) > 0
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("unmarshal into %T: %v", v, err)
	}
}

// sameRequest checks what the proxy library rebuilt against the request.
func sameRequest(t *testing.T, kind string, c goldenCase, got *http.Request, bodyExact bool) {
	t.Helper()
	if got.Method != c.method {
		t.Errorf("%s: method %q, want %q", kind, got.Method, c.method)
	}
	wantPath := c.target[:strings.IndexAny(c.target+"?", "?")]
	if got.URL.EscapedPath() != wantPath && got.URL.Path != mustUnescape(wantPath) {
		t.Errorf("%s: path %q (%q), want %q", kind, got.URL.Path, got.URL.EscapedPath(), wantPath)
	}
	sent := c.request()
	if g, w := got.URL.Query(), sent.URL.Query(); !queryContains(w, g) {
		t.Errorf("%s: query %v, want %v", kind, g, w)
	}
	for _, h := range c.headers {
		if h[0] == "Cookie" {
			continue
		}
		if v := got.Header.Values(h[0]); !slices.Contains(splitAll(v), h[1]) {
			t.Errorf("%s: header %s = %q, want it to carry %q", kind, h[0], v, h[1])
		}
	}
	for _, ck := range sent.Cookies() {
		if gc, err := got.Cookie(ck.Name); err != nil || gc.Value != ck.Value {
			t.Errorf("%s: cookie %s = %v (%v), want %q", kind, ck.Name, gc, err, ck.Value)
		}
	}
	b, _ := io.ReadAll(got.Body)
	if bodyExact && !bytes.Equal(b, c.body) {
		t.Errorf("%s: body %q, want %q", kind, b, c.body)
	}
}

func queryContains(want, got map[string][]string) bool {
	for k, vs := range want {
		if k == "" {
			continue
		}
		g := splitAll(got[k])
		for _, v := range vs {
			if !slices.Contains(g, v) {
				return false
			}
		}
	}
	return true
}

func splitAll(vs []string) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v)
		out = append(out, strings.Split(v, ",")...)
	}
	return out
}

func mustUnescape(p string) string {
	s, err := url.PathUnescape(p)
	if err != nil {
		return p
	}
	return s
}

func TestBase64Rules(t *testing.T) {
	for _, tc := range []struct {
		ct     string
		kind   Kind
		types  []string
		base64 bool
	}{
		{"application/json", HTTPAPI, nil, false},
		{"application/json; charset=utf-8", HTTPAPI, nil, false},
		{"text/html", HTTPAPI, nil, false},
		{"application/vnd.api+json", HTTPAPI, nil, false},
		{"application/octet-stream", HTTPAPI, nil, true},
		{"", HTTPAPI, nil, true},
		{"multipart/form-data; boundary=x", FunctionURL, nil, true},
		{"image/png", REST, nil, false},
		{"image/png", REST, []string{"image/*"}, true},
		{"text/plain", REST, []string{"*/*"}, true},
		{"application/json", REST, []string{"application/octet-stream"}, false},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader("x"))
		if tc.ct != "" {
			r.Header.Set("Content-Type", tc.ct)
		}
		ev := BuildV1(r, []byte("x"), Options{Kind: tc.kind, BinaryMediaTypes: tc.types})
		if ev.IsBase64Encoded != tc.base64 {
			t.Errorf("%v %q types %v: isBase64Encoded = %v, want %v", tc.kind, tc.ct, tc.types, ev.IsBase64Encoded, tc.base64)
		}
		if tc.base64 && *ev.Body != base64.StdEncoding.EncodeToString([]byte("x")) {
			t.Errorf("%q: body %q is not the base64 of the request body", tc.ct, *ev.Body)
		}
	}
}
