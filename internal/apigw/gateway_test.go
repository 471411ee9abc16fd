package apigw

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/httpevent"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// The gateway's own logic runs here on the real backbone with a fake
// invoker standing in for the pool (functions are Go funcs); the daemon's
// tests put real functions behind real APIs.

type fakeFunctions struct {
	mu    sync.Mutex
	fns   map[string]func(payload []byte) (*invoke.Result, error) // guarded by mu
	calls map[string]int                                          // guarded by mu
	last  map[string][]byte                                       // guarded by mu
}

func (f *fakeFunctions) Resolve(_ context.Context, name, qualifier string) (*function.Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fns[name] == nil {
		return nil, errdefs.NotFound("Function not found: %s", name)
	}
	return &function.Config{FunctionName: name, Version: "$LATEST"}, nil
}

func (f *fakeFunctions) Invoke(_ context.Context, cfg *function.Config, req *invoke.Request) (*invoke.Result, error) {
	f.mu.Lock()
	fn := f.fns[cfg.FunctionName]
	f.calls[cfg.FunctionName]++
	f.last[cfg.FunctionName] = req.Payload
	f.mu.Unlock()
	return fn(req.Payload)
}

func (f *fakeFunctions) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

func (f *fakeFunctions) lastEvent(t *testing.T, name string) map[string]any {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]any{}
	if err := json.Unmarshal(f.last[name], &m); err != nil {
		t.Fatalf("event of %s: %v", name, err)
	}
	return m
}

func answer(v any) func([]byte) (*invoke.Result, error) {
	b, _ := json.Marshal(v)
	return func([]byte) (*invoke.Result, error) { return &invoke.Result{Payload: b}, nil }
}

type harness struct {
	t   *testing.T
	g   *Gateway
	fns *fakeFunctions
	now time.Time
	mu  sync.Mutex
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, now: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}
	h.fns = &fakeFunctions{fns: map[string]func([]byte) (*invoke.Result, error){}, calls: map[string]int{}, last: map[string][]byte{}}
	h.g = New(Options{Store: storetest.Open(t), Resolver: h.fns, Invoker: h.fns, Region: "us-east-1", AccountID: "000000000000",
		Port: "4566", Now: h.clock})
	return h
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	h.now = h.now.Add(d)
	h.mu.Unlock()
}

// mgmt calls the management API and decodes the answer into out.
func (h *harness) mgmt(method, path string, body any, wantStatus int, out any) http.Header {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	w := httptest.NewRecorder()
	h.g.ServeHTTP(w, httptest.NewRequest(method, path, rd))
	if w.Code != wantStatus {
		h.t.Fatalf("%s %s = %d %s, want %d", method, path, w.Code, w.Body, wantStatus)
	}
	if out != nil {
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			h.t.Fatalf("%s %s: %v: %s", method, path, err, w.Body)
		}
	}
	return w.Header()
}

func (h *harness) call(apiID, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	h.t.Helper()
	r := httptest.NewRequest(method, target, nil)
	r.Host = apiID + ".execute-api.us-east-1.localhost:4566"
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.g.ServeInvoke(w, r, apiID)
	return w
}

func fnArn(name string) string { return "arn:aws:lambda:us-east-1:000000000000:function:" + name }

func TestManagementErrors(t *testing.T) {
	h := newHarness(t)
	check := func(method, path string, body any, status int, code, msg string) {
		t.Helper()
		var out struct {
			Message string `json:"message"`
		}
		hdr := h.mgmt(method, path, body, status, &out)
		if hdr.Get("X-Amzn-ErrorType") != code || !strings.Contains(out.Message, msg) {
			t.Errorf("%s %s: %s %q, want %s %q", method, path, hdr.Get("X-Amzn-ErrorType"), out.Message, code, msg)
		}
	}
	check("POST", "/v2/apis", map[string]any{"protocolType": "HTTP"}, 400, "BadRequestException", "name")
	check("POST", "/v2/apis", map[string]any{"name": "x", "protocolType": "GRPC"}, 400, "BadRequestException", "protocolType")
	check("GET", "/v2/apis/nosuchapi", nil, 404, "NotFoundException", "Invalid API identifier specified nosuchapi")
	var api httpAPI
	h.mgmt("POST", "/v2/apis", map[string]any{"name": "x", "protocolType": "HTTP"}, 201, &api)
	if api.APIEndpoint != "http://"+api.APIID+".execute-api.us-east-1.localhost:4566" || len(api.APIID) != 10 {
		t.Errorf("CreateApi = %+v", api)
	}
	base := "/v2/apis/" + api.APIID
	check("POST", base+"/routes", map[string]any{"routeKey": "GET pets"}, 400, "BadRequestException", "RouteKey")
	h.mgmt("POST", base+"/routes", map[string]any{"routeKey": "GET /pets"}, 201, nil)
	check("POST", base+"/routes", map[string]any{"routeKey": "GET /pets"}, 409, "ConflictException", "already exists")
	check("POST", base+"/routes", map[string]any{"routeKey": "GET /x", "target": "integrations/nope"}, 400, "BadRequestException", "target")
	check("POST", base+"/integrations", map[string]any{"integrationType": "MOCK", "integrationUri": "http://x", "payloadFormatVersion": "1.0"}, 400, "BadRequestException", "AWS_PROXY")
	check("POST", base+"/integrations", map[string]any{"integrationType": "HTTP_PROXY", "integrationUri": "http://x", "payloadFormatVersion": "1.0"}, 400, "BadRequestException", "integrationMethod")
	check("POST", base+"/integrations", map[string]any{"integrationType": "AWS_PROXY", "integrationUri": fnArn("f"), "payloadFormatVersion": "3.0"}, 400, "BadRequestException", "payloadFormatVersion")
	check("PATCH", base+"/stages/$default", map[string]any{}, 404, "NotFoundException", "stage")
	check("POST", base+"/stages", map[string]any{"stageName": "$default", "routeSettings": map[string]any{"GET /nope": map[string]any{}}}, 400, "BadRequestException", "GET /nope")
	check("GET", "/restapis/nosuch", nil, 404, "NotFoundException", "Invalid API identifier")
	var rest restAPI
	h.mgmt("POST", "/restapis", map[string]any{"name": "r"}, 201, &rest)
	check("POST", "/restapis/"+rest.ID+"/resources/"+rest.RootResourceID, map[string]any{"pathPart": "a/b"}, 400, "BadRequestException", "path part")
	check("POST", "/restapis/"+rest.ID+"/deployments", map[string]any{"stageName": "prod"}, 400, "BadRequestException", "doesn't contain any methods")
	check("POST", "/restapis/"+rest.ID+"/models", map[string]any{"name": "M", "contentType": "application/json", "schema": `{"type": 5}`}, 400, "BadRequestException", "Invalid model")
	check("DELETE", "/v2/apis/"+api.APIID+"/routes/nope", nil, 404, "NotFoundException", "Route")
	h.mgmt("DELETE", base, nil, 204, nil)
	check("DELETE", base, nil, 404, "NotFoundException", "Invalid API identifier")
}

// quickAPI creates an HTTP API with a quick-create target.
func (h *harness) quickAPI(fn string) string {
	var api httpAPI
	h.mgmt("POST", "/v2/apis", map[string]any{"name": "q", "protocolType": "HTTP", "target": fnArn(fn)}, 201, &api)
	return api.APIID
}

func TestHTTPAPIInvokeMapping(t *testing.T) {
	h := newHarness(t)
	h.fns.fns["ok"] = answer(map[string]any{"statusCode": 201, "headers": map[string]string{"X-A": "1"}, "cookies": []string{"c=1"}, "body": "made"})
	h.fns.fns["plain"] = answer(map[string]any{"hello": "world"})
	h.fns.fns["bad"] = answer(map[string]any{"statusCode": "nope"})
	h.fns.fns["fail"] = func([]byte) (*invoke.Result, error) {
		return &invoke.Result{FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"x"}`)}, nil
	}
	h.fns.fns["throttled"] = func([]byte) (*invoke.Result, error) {
		return nil, errdefs.Throttled("ReservedFunctionConcurrentInvocationLimitExceeded", 1, "Rate Exceeded.")
	}
	for _, tc := range []struct {
		fn     string
		status int
		body   string
	}{
		{"ok", 201, "made"},
		{"plain", 200, `{"hello":"world"}`},
		{"bad", 502, `{"message":"Internal Server Error"}`},
		{"fail", 502, `{"message":"Internal Server Error"}`},
		{"throttled", 500, `{"message":"Internal Server Error"}`},
		{"missing", 500, `{"message":"Internal Server Error"}`},
	} {
		id := h.quickAPI(tc.fn)
		w := h.call(id, "GET", "/x?a=1&a=2", nil)
		if w.Code != tc.status || w.Body.String() != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.fn, w.Code, w.Body, tc.status, tc.body)
		}
	}
	ev := h.fns.lastEvent(t, "ok")
	if ev["version"] != "2.0" || ev["rawQueryString"] != "a=1&a=2" || ev["queryStringParameters"].(map[string]any)["a"] != "1,2" {
		t.Errorf("event = %v", ev)
	}
	if w := h.call("nosuchapi1", "GET", "/", nil); w.Code != 404 || w.Body.String() != `{"message":"Not Found"}` {
		t.Errorf("unknown API: %d %q", w.Code, w.Body)
	}
	id := h.quickAPI("ok")
	h.mgmt("PATCH", "/v2/apis/"+id, map[string]any{"disableExecuteApiEndpoint": true}, 200, nil)
	if w := h.call(id, "GET", "/", nil); w.Code != 403 {
		t.Errorf("disabled execute-api endpoint: %d", w.Code)
	}
}

func TestHTTPAPIThrottlingRefills(t *testing.T) {
	h := newHarness(t)
	h.fns.fns["f"] = answer("ok")
	id := h.quickAPI("f")
	h.mgmt("PATCH", "/v2/apis/"+id+"/stages/$default", map[string]any{"defaultRouteSettings": map[string]any{"throttlingBurstLimit": 2, "throttlingRateLimit": 1}}, 200, nil)
	codes := func(n int) []int {
		var out []int
		for range n {
			out = append(out, h.call(id, "GET", "/", nil).Code)
		}
		return out
	}
	if got := codes(3); got[0] != 200 || got[1] != 200 || got[2] != 429 {
		t.Fatalf("burst 2: %v", got)
	}
	h.advance(time.Second) // one token back at 1 request/s
	if got := codes(2); got[0] != 200 || got[1] != 429 {
		t.Fatalf("after 1 s: %v", got)
	}
	if n := h.fns.count("f"); n != 3 {
		t.Errorf("function ran %d times, want 3 (throttled requests never reach it)", n)
	}
	if st := h.g.Stats(); st.Throttled != 2 {
		t.Errorf("Stats.Throttled = %d, want 2", st.Throttled)
	}
}

func TestHTTPAPIAuthorizerCache(t *testing.T) {
	h := newHarness(t)
	h.fns.fns["f"] = answer("ok")
	h.fns.fns["authz"] = func(p []byte) (*invoke.Result, error) {
		var ev struct {
			IdentitySource []string `json:"identitySource"`
		}
		_ = json.Unmarshal(p, &ev)
		b, _ := json.Marshal(map[string]any{"isAuthorized": len(ev.IdentitySource) == 1 && ev.IdentitySource[0] == "good", "context": map[string]any{"who": "me"}})
		return &invoke.Result{Payload: b}, nil
	}
	id := h.quickAPI("f")
	var a httpAuthorizer
	h.mgmt("POST", "/v2/apis/"+id+"/authorizers", map[string]any{"name": "a", "authorizerType": "REQUEST", "authorizerUri": fnArn("authz"),
		"authorizerPayloadFormatVersion": "2.0", "enableSimpleResponses": true, "identitySource": []string{"$request.header.X-Token"},
		"authorizerResultTtlInSeconds": 60}, 201, &a)
	var routes struct{ Items []httpRoute }
	h.mgmt("GET", "/v2/apis/"+id+"/routes", nil, 200, &routes)
	h.mgmt("PATCH", "/v2/apis/"+id+"/routes/"+routes.Items[0].RouteID, map[string]any{"authorizationType": "CUSTOM", "authorizerId": a.AuthorizerID}, 200, nil)

	if w := h.call(id, "GET", "/", nil); w.Code != 401 {
		t.Errorf("no identity: %d", w.Code)
	}
	if w := h.call(id, "GET", "/", map[string]string{"X-Token": "bad"}); w.Code != 403 {
		t.Errorf("refused: %d", w.Code)
	}
	for range 3 {
		if w := h.call(id, "GET", "/", map[string]string{"X-Token": "good"}); w.Code != 200 {
			t.Fatalf("allowed: %d %s", w.Code, w.Body)
		}
	}
	if st := h.g.Stats(); st.AuthorizerCacheHits != 2 || st.Denied != 2 {
		t.Errorf("Stats = %+v, want 2 authorizer cache hits and 2 refusals", st)
	}
	if n := h.fns.count("authz"); n != 2 {
		t.Errorf("authorizer ran %d times for 2 identities, want 2 (results cached)", n)
	}
	ev := h.fns.lastEvent(t, "f")
	if ctx := ev["requestContext"].(map[string]any)["authorizer"].(map[string]any)["lambda"].(map[string]any); ctx["who"] != "me" {
		t.Errorf("authorizer context in the event = %v", ctx)
	}
	h.advance(61 * time.Second)
	h.call(id, "GET", "/", map[string]string{"X-Token": "good"})
	if n := h.fns.count("authz"); n != 3 {
		t.Errorf("after the TTL the authorizer ran %d times in all, want 3", n)
	}
}

// restAPI builds a REST API: GET /items/{id} on fn, deployed to prod.
func (h *harness) restAPI(fn string, mutateMethod map[string]any) (string, string) {
	return h.restAPIWith(map[string]any{"name": "r"}, fn, mutateMethod)
}

// restAPIWith is restAPI created from the CreateRestApi body create.
func (h *harness) restAPIWith(create map[string]any, fn string, mutateMethod map[string]any) (string, string) {
	var api restAPI
	h.mgmt("POST", "/restapis", create, 201, &api)
	base := "/restapis/" + api.ID
	var items, item restResource
	h.mgmt("POST", base+"/resources/"+api.RootResourceID, map[string]any{"pathPart": "items"}, 201, &items)
	h.mgmt("POST", base+"/resources/"+items.ID, map[string]any{"pathPart": "{id}"}, 201, &item)
	m := map[string]any{"authorizationType": "NONE"}
	for k, v := range mutateMethod {
		m[k] = v
	}
	h.mgmt("PUT", base+"/resources/"+item.ID+"/methods/GET", m, 201, nil)
	h.mgmt("PUT", base+"/resources/"+item.ID+"/methods/GET/integration", map[string]any{"type": "AWS_PROXY", "httpMethod": "POST",
		"uri":                "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fnArn(fn) + "/invocations",
		"cacheKeyParameters": []string{"method.request.querystring.v"}}, 201, nil)
	h.mgmt("POST", base+"/deployments", map[string]any{"stageName": "prod"}, 201, nil)
	return api.ID, item.ID
}

func TestRESTStageCache(t *testing.T) {
	h := newHarness(t)
	n := 0
	h.fns.fns["f"] = func([]byte) (*invoke.Result, error) {
		n++
		b, _ := json.Marshal(map[string]any{"statusCode": 200, "body": strings.Repeat("x", n)})
		return &invoke.Result{Payload: b}, nil
	}
	id, _ := h.restAPI("f", nil)
	h.mgmt("PATCH", "/restapis/"+id+"/stages/prod", map[string]any{"patchOperations": []map[string]string{
		{"op": "replace", "path": "/cacheClusterEnabled", "value": "true"},
		{"op": "replace", "path": "/*/*/caching/ttlInSeconds", "value": "30"},
	}}, 200, nil)
	get := func(target string) string { return h.call(id, "GET", target, nil).Body.String() }
	if a, b := get("/prod/items/1?v=1"), get("/prod/items/1?v=1"); a != "x" || b != "x" {
		t.Errorf("cached answers %q, %q; want the first twice", a, b)
	}
	if c := get("/prod/items/1?v=2"); c != "xx" {
		t.Errorf("another cache key parameter value: %q, want a fresh answer", c)
	}
	if d := get("/prod/items/1?v=1&other=9"); d != "x" {
		t.Errorf("a query parameter outside the cache key: %q, want the cached answer", d)
	}
	h.advance(31 * time.Second)
	if e := get("/prod/items/1?v=1"); e != "xxx" {
		t.Errorf("after the TTL: %q, want a fresh answer", e)
	}
	if h.fns.count("f") != 3 {
		t.Errorf("function ran %d times, want 3", h.fns.count("f"))
	}
	if st := h.g.Stats(); st.CacheHits != 2 || st.CacheMisses != 3 || st.Requests != 5 {
		t.Errorf("Stats = %+v, want 2 hits and 3 misses of 5 requests", st)
	}
}

func TestRESTValidationAndErrors(t *testing.T) {
	h := newHarness(t)
	h.fns.fns["f"] = answer(map[string]any{"statusCode": 200, "body": "ok"})
	var v restValidator
	var api restAPI
	h.mgmt("POST", "/restapis", map[string]any{"name": "r"}, 201, &api)
	h.mgmt("POST", "/restapis/"+api.ID+"/requestvalidators", map[string]any{"name": "p", "validateRequestParameters": true}, 201, &v)
	// A second API carries the method; validators are per API, so build it there.
	id, _ := h.restAPI("f", nil)
	h.mgmt("POST", "/restapis/"+id+"/requestvalidators", map[string]any{"name": "p", "validateRequestParameters": true}, 201, &v)
	var res struct{ Item []restResource }
	h.mgmt("GET", "/restapis/"+id+"/resources", nil, 200, &res)
	var rid string
	for _, r := range res.Item {
		if r.Path == "/items/{id}" {
			rid = r.ID
		}
	}
	h.mgmt("DELETE", "/restapis/"+id+"/resources/"+rid+"/methods/GET", nil, 204, nil)
	h.mgmt("PUT", "/restapis/"+id+"/resources/"+rid+"/methods/GET", map[string]any{"authorizationType": "NONE", "requestValidatorId": v.ID,
		"requestParameters": map[string]bool{"method.request.querystring.q": true, "method.request.header.X-Need": true}}, 201, nil)
	h.mgmt("PUT", "/restapis/"+id+"/resources/"+rid+"/methods/GET/integration", map[string]any{"type": "AWS_PROXY",
		"uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fnArn("f") + "/invocations"}, 201, nil)
	h.mgmt("POST", "/restapis/"+id+"/deployments", map[string]any{"stageName": "prod"}, 201, nil)

	if w := h.call(id, "GET", "/prod/items/1", nil); w.Code != 400 || w.Body.String() != `{"message":"Missing required request parameters: [X-Need, q]"}` {
		t.Errorf("missing parameters: %d %s", w.Code, w.Body)
	}
	if w := h.call(id, "GET", "/prod/items/1?q=1", map[string]string{"X-Need": "y"}); w.Code != 200 || w.Body.String() != "ok" {
		t.Errorf("valid: %d %s", w.Code, w.Body)
	}
	if h.fns.count("f") != 1 {
		t.Errorf("function ran %d times, want 1", h.fns.count("f"))
	}
	ev := h.fns.lastEvent(t, "f")
	if ev["resource"] != "/items/{id}" || ev["path"] != "/items/1" || ev["pathParameters"].(map[string]any)["id"] != "1" {
		t.Errorf("REST event = %v", ev)
	}
	if w := h.call(id, "GET", "/prod/nothing", nil); w.Code != 403 || w.Body.String() != `{"message":"Missing Authentication Token"}` {
		t.Errorf("no resource: %d %s", w.Code, w.Body)
	}
	if w := h.call(id, "POST", "/prod/items/1", nil); w.Code != 403 {
		t.Errorf("no method: %d %s", w.Code, w.Body)
	}
}

func TestDocumentsSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	st := storetest.OpenDir(t, dir)
	g := New(Options{Store: st, Region: "us-east-1", AccountID: "000000000000"})
	w := httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest("POST", "/v2/apis", strings.NewReader(`{"name":"x","protocolType":"HTTP","target":"`+fnArn("f")+`"}`)))
	var api httpAPI
	_ = json.Unmarshal(w.Body.Bytes(), &api)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2 := storetest.OpenDir(t, dir)
	g2 := New(Options{Store: st2, Region: "us-east-1", AccountID: "000000000000"})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- g2.Run(ctx) }()
	defer func() { cancel(); <-done }()
	w = httptest.NewRecorder()
	g2.ServeHTTP(w, httptest.NewRequest("GET", "/v2/apis/"+api.APIID+"/routes", nil))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"routeKey":"$default"`) {
		t.Fatalf("after a restart: %d %s", w.Code, w.Body)
	}
}

// keyAuth accepts requests carrying X-Test-Key: good, as a SigV4 verifier
// accepts a valid signature, and, as IAM would judge execute-api:Invoke,
// only on the resource X-Test-Allow names when a request names one.
type keyAuth struct{}

func (keyAuth) Authenticate(r *http.Request, resource string) (*httpevent.IAMIdentity, error) {
	if r.Header.Get("X-Test-Key") != "good" {
		return nil, errors.New("bad signature")
	}
	if allow := r.Header.Get("X-Test-Allow"); allow != "" && allow != resource {
		return nil, errors.New("not authorized to perform: execute-api:Invoke on resource: " + resource)
	}
	return &httpevent.IAMIdentity{AccessKey: "AKIDTEST", AccountID: "000000000000", CallerID: "AIDATEST", UserARN: "arn:aws:iam::000000000000:user/t", UserID: "AIDATEST"}, nil
}

// AuthorizeAnonymous allows what the API's policy names in X-Test-Allow.
func (keyAuth) AuthorizeAnonymous(r *http.Request, resource string) error {
	if APIPolicy(r.Context()) == "" {
		return errors.New("no policy on the context")
	}
	if allow := r.Header.Get("X-Test-Allow"); allow != resource {
		return errors.New("User: anonymous is not authorized to perform: execute-api:Invoke on resource: " + resource)
	}
	return nil
}

func TestIAMRoutesNeedASignature(t *testing.T) {
	h := newHarness(t)
	h.fns.fns["f"] = answer("ok")
	id := h.quickAPI("f")
	var routes struct{ Items []httpRoute }
	h.mgmt("GET", "/v2/apis/"+id+"/routes", nil, 200, &routes)
	h.mgmt("PATCH", "/v2/apis/"+id+"/routes/"+routes.Items[0].RouteID, map[string]any{"authorizationType": "AWS_IAM"}, 200, nil)
	// Without a verifier, an AWS_IAM route refuses everyone.
	if w := h.call(id, "GET", "/", map[string]string{"X-Test-Key": "good"}); w.Code != 403 {
		t.Errorf("no verifier: %d %s", w.Code, w.Body)
	}
	h.g.auth = keyAuth{}
	if w := h.call(id, "GET", "/", map[string]string{"X-Test-Key": "bad"}); w.Code != 403 || w.Body.String() != `{"message":"Forbidden"}` {
		t.Errorf("bad signature: %d %s", w.Code, w.Body)
	}
	if w := h.call(id, "GET", "/", map[string]string{"X-Test-Key": "good"}); w.Code != 200 {
		t.Fatalf("good signature: %d %s", w.Code, w.Body)
	}
	iam := h.fns.lastEvent(t, "f")["requestContext"].(map[string]any)["authorizer"].(map[string]any)["iam"].(map[string]any)
	if iam["accessKey"] != "AKIDTEST" || iam["userArn"] != "arn:aws:iam::000000000000:user/t" {
		t.Errorf("requestContext.authorizer.iam = %v", iam)
	}
	// A good signature is not enough: the caller's execute-api:Invoke is
	// judged on the route's ARN.
	routeArn := "arn:aws:execute-api:us-east-1:000000000000:" + id + "/$default/GET/"
	if w := h.call(id, "GET", "/", map[string]string{"X-Test-Key": "good", "X-Test-Allow": routeArn}); w.Code != 200 {
		t.Errorf("allowed on %s: %d %s", routeArn, w.Code, w.Body)
	}
	if w := h.call(id, "GET", "/", map[string]string{"X-Test-Key": "good", "X-Test-Allow": routeArn + "other"}); w.Code != 403 {
		t.Errorf("allowed only on another route: %d %s", w.Code, w.Body)
	}
}

func TestNamedStageAndStageVariables(t *testing.T) {
	h := newHarness(t)
	h.fns.fns["blue"] = answer("blue")
	h.fns.fns["green"] = answer("green")
	var api httpAPI
	h.mgmt("POST", "/v2/apis", map[string]any{"name": "s", "protocolType": "HTTP"}, 201, &api)
	base := "/v2/apis/" + api.APIID
	var integ httpIntegration
	h.mgmt("POST", base+"/integrations", map[string]any{"integrationType": "AWS_PROXY", "payloadFormatVersion": "2.0",
		"integrationUri": "arn:aws:lambda:us-east-1:000000000000:function:${stageVariables.fn}"}, 201, &integ)
	h.mgmt("POST", base+"/routes", map[string]any{"routeKey": "GET /color", "target": "integrations/" + integ.IntegrationID}, 201, nil)
	h.mgmt("POST", base+"/stages", map[string]any{"stageName": "dev", "stageVariables": map[string]string{"fn": "blue"}}, 201, nil)
	h.mgmt("POST", base+"/stages", map[string]any{"stageName": "prod", "autoDeploy": true, "stageVariables": map[string]string{"fn": "green"}}, 201, nil)
	// A stage without autoDeploy serves nothing until a deployment.
	if w := h.call(api.APIID, "GET", "/dev/color", nil); w.Code != 404 {
		t.Errorf("undeployed dev: %d %s", w.Code, w.Body)
	}
	h.mgmt("POST", base+"/deployments", map[string]any{"stageName": "dev"}, 201, nil)
	if w := h.call(api.APIID, "GET", "/dev/color", nil); w.Body.String() != "blue" {
		t.Errorf("dev: %d %s", w.Code, w.Body)
	}
	if w := h.call(api.APIID, "GET", "/prod/color", nil); w.Body.String() != "green" {
		t.Errorf("prod: %d %s", w.Code, w.Body)
	}
	ev := h.fns.lastEvent(t, "green")
	if ev["rawPath"] != "/prod/color" || ev["requestContext"].(map[string]any)["stage"] != "prod" || ev["stageVariables"].(map[string]any)["fn"] != "green" {
		t.Errorf("named-stage event = %v", ev)
	}
	if w := h.call(api.APIID, "GET", "/color", nil); w.Code != 404 {
		t.Errorf("no $default stage: %d, want 404", w.Code)
	}
	// A new route reaches the auto-deployed stage at once, the deployed
	// one only with its next deployment.
	h.mgmt("POST", base+"/routes", map[string]any{"routeKey": "GET /shade", "target": "integrations/" + integ.IntegrationID}, 201, nil)
	if w := h.call(api.APIID, "GET", "/prod/shade", nil); w.Code != 200 {
		t.Errorf("auto-deployed prod, new route: %d", w.Code)
	}
	if w := h.call(api.APIID, "GET", "/dev/shade", nil); w.Code != 404 {
		t.Errorf("deployed dev, new route before a deployment: %d", w.Code)
	}
	h.mgmt("POST", base+"/deployments", map[string]any{"stageName": "dev"}, 201, nil)
	if w := h.call(api.APIID, "GET", "/dev/shade", nil); w.Code != 200 {
		t.Errorf("deployed dev after the deployment: %d", w.Code)
	}
}

func TestHTTPAPICORS(t *testing.T) {
	h := newHarness(t)
	h.fns.fns["f"] = answer(map[string]any{"statusCode": 200, "headers": map[string]string{"Access-Control-Allow-Origin": "https://evil.example"}, "body": "ok"})
	var api httpAPI
	h.mgmt("POST", "/v2/apis", map[string]any{"name": "c", "protocolType": "HTTP", "target": fnArn("f"),
		"corsConfiguration": map[string]any{"allowOrigins": []string{"https://app.example"}, "allowMethods": []string{"GET", "POST"},
			"allowHeaders": []string{"content-type"}, "exposeHeaders": []string{"x-total"}, "maxAge": 600}}, 201, &api)
	w := h.call(api.APIID, "OPTIONS", "/anything", map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
	if w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "https://app.example" || w.Header().Get("Access-Control-Max-Age") != "600" ||
		w.Header().Get("Access-Control-Allow-Methods") != "GET,POST" {
		t.Errorf("preflight: %d %v", w.Code, w.Header())
	}
	if h.fns.count("f") != 0 {
		t.Error("the preflight invoked the function")
	}
	w = h.call(api.APIID, "GET", "/x", map[string]string{"Origin": "https://app.example"})
	if w.Body.String() != "ok" || w.Header().Get("Access-Control-Allow-Origin") != "https://app.example" || w.Header().Get("Access-Control-Expose-Headers") != "x-total" {
		t.Errorf("simple request: %d %v", w.Code, w.Header())
	}
	w = h.call(api.APIID, "GET", "/x", map[string]string{"Origin": "https://other.example"})
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a foreign origin got %q (the function's header must not pass)", w.Header().Get("Access-Control-Allow-Origin"))
	}
	var out struct {
		Message string `json:"message"`
	}
	h.mgmt("POST", "/v2/apis", map[string]any{"name": "c", "protocolType": "HTTP",
		"corsConfiguration": map[string]any{"allowOrigins": []string{"*"}, "allowCredentials": true}}, 400, &out)
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

func TestIntegrationTimeoutsAndLimits(t *testing.T) {
	h := newHarness(t)
	block := func(ctx context.Context) (*invoke.Result, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	h.fns.fns["slow"] = func([]byte) (*invoke.Result, error) { return nil, nil } // replaced per call below
	slow := &ctxInvoker{fakeFunctions: h.fns, run: block}
	h.g.inv = slow
	id := h.quickAPI("slow")
	var ints struct{ Items []httpIntegration }
	h.mgmt("GET", "/v2/apis/"+id+"/integrations", nil, 200, &ints)
	h.mgmt("PATCH", "/v2/apis/"+id+"/integrations/"+ints.Items[0].IntegrationID, map[string]any{"timeoutInMillis": 50}, 200, nil)
	if w := h.call(id, "GET", "/", nil); w.Code != 503 || w.Body.String() != `{"message":"Service Unavailable"}` {
		t.Errorf("HTTP API integration timeout: %d %s, want 503", w.Code, w.Body)
	}
	rid, res := h.restAPI("slow", nil)
	h.mgmt("PUT", "/restapis/"+rid+"/resources/"+res+"/methods/GET/integration", map[string]any{"type": "AWS_PROXY",
		"uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fnArn("slow") + "/invocations", "timeoutInMillis": 50}, 201, nil)
	h.mgmt("POST", "/restapis/"+rid+"/deployments", map[string]any{"stageName": "prod"}, 201, nil)
	if w := h.call(rid, "GET", "/prod/items/1", nil); w.Code != 504 || w.Body.String() != `{"message":"Endpoint request timed out"}` {
		t.Errorf("REST integration timeout: %d %s, want 504", w.Code, w.Body)
	}
	// A body over API Gateway's 10 MB limit never reaches the function.
	big := httptest.NewRequest("POST", "/", bytes.NewReader(make([]byte, maxRequestBody+1)))
	big.Host = id + ".execute-api.us-east-1.localhost"
	w := httptest.NewRecorder()
	h.g.inv = h.fns
	h.fns.fns["slow"] = answer("ok")
	h.g.ServeInvoke(w, big, id)
	if w.Code != 413 || h.fns.count("slow") != 0 {
		t.Errorf("11 MB body: %d, function ran %d times", w.Code, h.fns.count("slow"))
	}
}

// ctxInvoker runs every invocation with run, which sees the context.
type ctxInvoker struct {
	*fakeFunctions
	run func(ctx context.Context) (*invoke.Result, error)
}

func (c *ctxInvoker) Invoke(ctx context.Context, _ *function.Config, _ *invoke.Request) (*invoke.Result, error) {
	return c.run(ctx)
}

func TestRESTAPIKeysAndUsagePlans(t *testing.T) {
	h := newHarness(t)
	h.fns.fns["f"] = answer(map[string]any{"statusCode": 200, "body": "ok"})
	id, _ := h.restAPI("f", map[string]any{"apiKeyRequired": true})
	var key apiKey
	h.mgmt("POST", "/apikeys", map[string]any{"name": "k", "enabled": true}, 201, &key)
	if len(key.Value) < 20 {
		t.Fatalf("CreateApiKey = %+v", key)
	}
	call := func(v string) *httptest.ResponseRecorder {
		hdr := map[string]string{}
		if v != "" {
			hdr["X-API-Key"] = v
		}
		return h.call(id, "GET", "/prod/items/1", hdr)
	}
	if w := call(key.Value); w.Code != 403 {
		t.Errorf("a key in no usage plan: %d", w.Code)
	}
	var plan usagePlan
	h.mgmt("POST", "/usageplans", map[string]any{"name": "p", "apiStages": []map[string]string{{"apiId": id, "stage": "prod"}},
		"quota": map[string]any{"limit": 2, "period": "DAY"}}, 201, &plan)
	h.mgmt("POST", "/usageplans/"+plan.ID+"/keys", map[string]any{"keyId": key.ID, "keyType": "API_KEY"}, 201, nil)
	if w := call(""); w.Code != 403 || w.Body.String() != `{"message":"Forbidden"}` {
		t.Errorf("no key: %d %s", w.Code, w.Body)
	}
	if w := call("wrong-key-value-0000000000"); w.Code != 403 {
		t.Errorf("unknown key: %d", w.Code)
	}
	for i := range 2 {
		if w := call(key.Value); w.Code != 200 {
			t.Fatalf("request %d within the quota: %d %s", i, w.Code, w.Body)
		}
	}
	if w := call(key.Value); w.Code != 429 || w.Body.String() != `{"message":"Limit Exceeded"}` {
		t.Errorf("over the quota: %d %s", w.Code, w.Body)
	}
	h.advance(24 * time.Hour) // the next day's quota
	if w := call(key.Value); w.Code != 200 {
		t.Errorf("next day: %d", w.Code)
	}
	var keys struct{ Item []apiKey }
	h.mgmt("GET", "/apikeys", nil, 200, &keys)
	if len(keys.Item) != 1 || keys.Item[0].Value != "" {
		t.Errorf("GetApiKeys without includeValues shows %+v", keys.Item)
	}
	if h.fns.count("f") != 3 {
		t.Errorf("function ran %d times, want 3", h.fns.count("f"))
	}
}

// TestRESTResourcePolicyJudgesEveryMethod: a REST API's resource policy is
// judged for a method without AWS_IAM too, as an anonymous caller's
// (Authenticator.AuthorizeAnonymous, with the policy on the request's
// context): a request it does not allow is refused with 403 without
// invoking the function; an API without a policy is not judged.
func TestRESTResourcePolicyJudgesEveryMethod(t *testing.T) {
	h := newHarness(t)
	h.fns.fns["f"] = func([]byte) (*invoke.Result, error) {
		return &invoke.Result{Payload: []byte(`{"statusCode":200,"body":"ok"}`)}, nil
	}
	h.g.auth = keyAuth{}
	id, _ := h.restAPIWith(map[string]any{"name": "r", "policy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*"}]}`}, "f", nil)
	arn := "arn:aws:execute-api:us-east-1:000000000000:" + id + "/prod/GET/items/1"
	if w := h.call(id, "GET", "/prod/items/1", map[string]string{"X-Test-Allow": arn}); w.Code != 200 {
		t.Errorf("allowed by the policy: %d %s", w.Code, w.Body)
	}
	w := h.call(id, "GET", "/prod/items/1", map[string]string{"X-Test-Allow": arn + "/other"})
	if w.Code != 403 || !strings.Contains(w.Body.String(), "anonymous is not authorized") {
		t.Errorf("refused by the policy: %d %s", w.Code, w.Body)
	}
	if n := h.fns.count("f"); n != 1 {
		t.Errorf("the function ran %d times, want once (the refused call must not invoke it)", n)
	}
	open, _ := h.restAPI("f", nil)
	if w := h.call(open, "GET", "/prod/items/1", nil); w.Code != 200 {
		t.Errorf("an API without a policy: %d %s", w.Code, w.Body)
	}
}
