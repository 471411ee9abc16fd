package apigw

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// callDomain sends a request to a custom domain name as the daemon's
// front door does: DomainRequest picks the API and stage, or Forbidden.
func (h *harness) callDomain(host, method, target string) *httptest.ResponseRecorder {
	h.t.Helper()
	r := httptest.NewRequest(method, target, nil)
	r.Host = host
	w := httptest.NewRecorder()
	if !h.g.IsDomainHost(r.Host) {
		h.t.Fatalf("%s is not a custom domain name", host)
	}
	id, r2, ok := h.g.DomainRequest(r)
	if !ok {
		DomainForbidden(w)
		return w
	}
	h.g.ServeInvoke(w, r2, id)
	return w
}

func TestCustomDomainNames(t *testing.T) {
	h := newHarness(t)
	h.fns.fns["v1"] = func(p []byte) (*invokeResult, error) { return echoPath("v1", p) }
	h.fns.fns["v2"] = func(p []byte) (*invokeResult, error) { return echoPath("v2", p) }
	httpID := h.quickAPI("v2")
	restID, _ := h.restAPI("v1", nil)
	// The HTTP API is reachable only through the domain.
	h.mgmt("PATCH", "/v2/apis/"+httpID, map[string]any{"disableExecuteApiEndpoint": true}, 200, nil)

	var dn map[string]any
	h.mgmt("POST", "/v2/domainnames", map[string]any{"domainName": "api.example.com",
		"domainNameConfigurations": []map[string]any{{"certificateArn": "arn:aws:acm:us-east-1:000000000000:certificate/abc", "endpointType": "REGIONAL"}}}, 201, &dn)
	if dn["apiMappingSelectionExpression"] != "$request.basepath" || !strings.Contains(toJSON(dn["domainNameConfigurations"]), `"certificateArn":"arn:aws:acm:us-east-1:000000000000:certificate/abc"`) {
		t.Errorf("CreateDomainName = %v", dn)
	}
	var m apiMapping
	h.mgmt("POST", "/v2/domainnames/api.example.com/apimappings", map[string]any{"apiId": httpID, "stage": "$default", "apiMappingKey": "shop/v2"}, 201, &m)
	// REST's view of the same domain: a base path mapping to the REST API.
	var bp basePathMapping
	h.mgmt("POST", "/domainnames/api.example.com/basepathmappings", map[string]any{"restApiId": restID, "stage": "prod", "basePath": "legacy"}, 201, &bp)
	if bp.BasePath != "legacy" || bp.RestAPIID != restID {
		t.Errorf("CreateBasePathMapping = %+v", bp)
	}
	var list struct{ Items []apiMapping }
	h.mgmt("GET", "/v2/domainnames/api.example.com/apimappings", nil, 200, &list)
	if len(list.Items) != 2 {
		t.Errorf("GetApiMappings = %+v", list)
	}

	// Routes match the path below the mapping key; the events carry the
	// path the client sent, key included, as API Gateway's do.
	if w := h.callDomain("api.example.com:4566", "GET", "/shop/v2/items/1"); w.Code != 200 || w.Body.String() != "v2 /shop/v2/items/1" {
		t.Errorf("GET https://api.example.com/shop/v2/items/1 = %d %s", w.Code, w.Body)
	}
	if rc := h.fns.lastEvent(t, "v2")["requestContext"].(map[string]any); rc["http"].(map[string]any)["path"] != "/shop/v2/items/1" ||
		rc["stage"] != "$default" {
		t.Errorf("HTTP API requestContext through the domain = %v", rc)
	}
	if w := h.callDomain("API.example.com", "GET", "/legacy/items/1"); w.Code != 200 || w.Body.String() != "v1 /legacy/items/1" {
		t.Errorf("GET https://api.example.com/legacy/items/1 = %d %s", w.Code, w.Body)
	}
	if ev := h.fns.lastEvent(t, "v1"); ev["requestContext"].(map[string]any)["path"] != "/legacy/items/1" ||
		ev["requestContext"].(map[string]any)["stage"] != "prod" {
		t.Errorf("REST event through the domain = %v", ev)
	}
	// No mapping for the path: 403 Forbidden, as API Gateway answers.
	for _, p := range []string{"/", "/shop", "/shop/v3/x", "/legacyx/items/1"} {
		if w := h.callDomain("api.example.com", "GET", p); w.Code != 403 || w.Body.String() != `{"message":"Forbidden"}` {
			t.Errorf("GET %s on the domain = %d %s", p, w.Code, w.Body)
		}
	}
	// The execute-api host of the HTTP API stays disabled.
	if w := h.call(httpID, "GET", "/items/1", nil); w.Code != 403 {
		t.Errorf("disabled execute-api endpoint = %d", w.Code)
	}
	// An empty key catches the rest; the longest key wins.
	h.mgmt("POST", "/v2/domainnames/api.example.com/apimappings", map[string]any{"apiId": restID, "stage": "prod"}, 201, nil)
	if w := h.callDomain("api.example.com", "GET", "/items/9"); w.Code != 200 || w.Body.String() != "v1 /items/9" {
		t.Errorf("empty-key mapping = %d %s", w.Code, w.Body)
	}
	if w := h.callDomain("api.example.com", "GET", "/shop/v2/items/2"); w.Body.String() != "v2 /shop/v2/items/2" {
		t.Errorf("longest key = %d %s", w.Code, w.Body)
	}

	// Refusals.
	bad := func(method, path string, body any, status int, want string) {
		t.Helper()
		b, _ := json.Marshal(body)
		w := httptest.NewRecorder()
		h.g.ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(string(b))))
		if w.Code != status || !strings.Contains(w.Body.String(), want) {
			t.Errorf("%s %s %v = %d %s, want %d %q", method, path, body, w.Code, w.Body, status, want)
		}
	}
	for _, n := range []string{"localhost", "127.0.0.1", "abc123.execute-api.us-east-1.localhost", "bucket.s3.localhost", "x.lambda-url.us-east-1.localhost", "Bad_Name.com"} {
		bad("POST", "/v2/domainnames", map[string]any{"domainName": n}, 400, "domain name")
	}
	bad("POST", "/v2/domainnames", map[string]any{"domainName": "*.example.com"}, 400, "wildcard")
	bad("POST", "/v2/domainnames", map[string]any{"domainName": "api.example.com"}, 409, "already exists")
	bad("POST", "/v2/domainnames", map[string]any{"domainName": "m.example.com", "mutualTlsAuthentication": map[string]string{"truststoreUri": "s3://b/k"}}, 400, "mutual TLS")
	bad("POST", "/domainnames", map[string]any{"domainName": "edge.example.com"}, 400, "REGIONAL")
	bad("POST", "/v2/domainnames/api.example.com/apimappings", map[string]any{"apiId": httpID, "stage": "$default", "apiMappingKey": "shop/v2"}, 409, "already exists")
	bad("POST", "/v2/domainnames/api.example.com/apimappings", map[string]any{"apiId": httpID, "stage": "nope", "apiMappingKey": "x"}, 404, "stage")
	bad("POST", "/v2/domainnames/api.example.com/apimappings", map[string]any{"apiId": "zzzzzzzzzz", "stage": "$default", "apiMappingKey": "y"}, 404, "API identifier")
	bad("POST", "/v2/domainnames/api.example.com/apimappings", map[string]any{"apiId": httpID, "stage": "$default", "apiMappingKey": "/a//b"}, 400, "apiMappingKey")
	bad("POST", "/v2/domainnames/nope.example.com/apimappings", map[string]any{"apiId": httpID, "stage": "$default"}, 404, "domain name")
	bad("POST", "/domainnames/api.example.com/basepathmappings", map[string]any{"restApiId": restID, "stage": "prod", "basePath": "a/b"}, 400, "base path")

	// Delete the mapping and the domain: the host is no longer served.
	h.mgmt("DELETE", "/v2/domainnames/api.example.com/apimappings/"+m.APIMappingID, nil, 204, nil)
	if w := h.callDomain("api.example.com", "GET", "/shop/v2/items/1"); w.Body.String() == "v2 /items/1" {
		t.Errorf("deleted mapping still serves: %d %s", w.Code, w.Body)
	}
	h.mgmt("DELETE", "/domainnames/api.example.com/basepathmappings/legacy", nil, 202, nil)
	h.mgmt("DELETE", "/domainnames/api.example.com", nil, 202, nil)
	if h.g.IsDomainHost("api.example.com") {
		t.Error("deleted domain is still served")
	}
}

// FuzzDomainRequest routes arbitrary hosts and paths through a domain's
// mappings: nothing panics, and a resolved request keeps its host.
func FuzzDomainRequest(f *testing.F) {
	d := newDocs(nil, slog.New(slog.DiscardHandler))
	d.domains["api.example.com"] = &domainDoc{Name: "api.example.com", Mappings: []*apiMapping{
		{APIID: "h1", Key: "a/b", Stage: "$default"}, {APIID: "r1", Key: "", Stage: "prod"}}}
	d.rest["r1"] = &restDoc{}
	g := &Gateway{docs: d}
	for _, s := range []string{"/a/b/c", "/a", "/a/b/", "//a/b", "/a%2Fb/c", "/%zz", ""} {
		f.Add("api.example.com", s)
	}
	f.Fuzz(func(t *testing.T, host, path string) {
		_ = validDomainName(host)
		_ = validMappingKey(path, true)
		u, err := url.Parse(path)
		if err != nil {
			return
		}
		r := (&http.Request{Method: "GET", Host: host, URL: u, Header: http.Header{}}).WithContext(t.Context())
		if !g.IsDomainHost(host) {
			return
		}
		id, r2, ok := g.DomainRequest(r)
		if !ok {
			return
		}
		if r2.Host != host || (id == "r1" && !strings.HasPrefix(r2.URL.EscapedPath(), "/prod")) {
			t.Fatalf("%s %s -> %s %s %s", host, path, id, r2.Host, r2.URL.EscapedPath())
		}
		if st, ok := mappedStage(r2); !ok || st == "" {
			t.Fatalf("no mapped stage for %s", path)
		}
	})
}

type invokeResult = invoke.Result

// echoPath answers "<name> <path the event names>".
func echoPath(name string, p []byte) (*invoke.Result, error) {
	var ev struct {
		RawPath string `json:"rawPath"`
		Path    string `json:"path"`
	}
	_ = json.Unmarshal(p, &ev)
	path := ev.RawPath
	if path == "" {
		path = ev.Path
	}
	b, _ := json.Marshal(map[string]any{"statusCode": 200, "body": name + " " + path})
	return &invoke.Result{Payload: b}, nil
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
