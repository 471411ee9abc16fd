package apigw

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// nonProxyAPI builds a REST API with POST /things/{id} integrated as
// integ (with the method's request parameters), responses as given, and
// deploys it to prod.
func (h *harness) nonProxyAPI(integ map[string]any, methodResponses []string, responses map[string]map[string]any) (apiID, resID string) {
	h.t.Helper()
	var api restAPI
	h.mgmt("POST", "/restapis", map[string]any{"name": "np"}, 201, &api)
	base := "/restapis/" + api.ID
	var things, thing restResource
	h.mgmt("POST", base+"/resources/"+api.RootResourceID, map[string]any{"pathPart": "things"}, 201, &things)
	h.mgmt("POST", base+"/resources/"+things.ID, map[string]any{"pathPart": "{id}"}, 201, &thing)
	mbase := base + "/resources/" + thing.ID + "/methods/POST"
	h.mgmt("PUT", mbase, map[string]any{"authorizationType": "NONE", "requestParameters": map[string]bool{
		"method.request.path.id": true, "method.request.header.X-Color": false, "method.request.querystring.q": false}}, 201, nil)
	h.mgmt("PUT", mbase+"/integration", integ, 201, nil)
	for _, code := range methodResponses {
		h.mgmt("PUT", mbase+"/responses/"+code, map[string]any{"responseParameters": map[string]bool{"method.response.header.X-Out": false}}, 201, nil)
	}
	for code, r := range responses {
		h.mgmt("PUT", mbase+"/integration/responses/"+code, r, 201, nil)
	}
	h.mgmt("POST", base+"/deployments", map[string]any{"stageName": "prod", "variables": map[string]string{"env": "test"}}, 201, nil)
	return api.ID, thing.ID
}

func (h *harness) send(apiID, method, target, body string, hdr map[string]string) *httptest.ResponseRecorder {
	h.t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Host = apiID + ".execute-api.us-east-1.localhost:4566"
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.g.ServeInvoke(w, r, apiID)
	return w
}

func TestMockIntegrationWithTemplates(t *testing.T) {
	h := newHarness(t)
	api, _ := h.nonProxyAPI(map[string]any{
		"type": "MOCK", "passthroughBehavior": "NEVER",
		"requestTemplates": map[string]string{"application/json": `#if($input.path('$.fail') == true){"statusCode": 404}#else{"statusCode": 200}#end`},
	}, []string{"200", "404"}, map[string]map[string]any{
		"200": {"responseTemplates": map[string]string{"application/json": `#set($n = $input.params('q'))
{"id": "$input.params('id')", "stage": "$context.stage", "env": "$stageVariables.env", "q": "$n", "color": "$input.params('X-Color')"}
#if($n == "teapot")#set($context.responseOverride.status = 418)#set($context.responseOverride.header.X-Why = "tea")#end`},
			"responseParameters": map[string]string{"method.response.header.X-Out": "'literal'"}},
		"404": {"selectionPattern": "404", "responseTemplates": map[string]string{"application/json": `{"message": "no such thing"}`}},
	})
	w := h.send(api, "POST", "/prod/things/42?q=x", `{}`, map[string]string{"Content-Type": "application/json", "X-Color": "red"})
	var out map[string]string
	mustJSON(t, w.Body.Bytes(), &out)
	if w.Code != 200 || out["id"] != "42" || out["stage"] != "prod" || out["env"] != "test" || out["q"] != "x" || out["color"] != "red" ||
		w.Header().Get("X-Out") != "literal" || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("mock 200 = %d %v %s", w.Code, w.Header(), w.Body)
	}
	if w := h.send(api, "POST", "/prod/things/1", `{"fail": true}`, nil); w.Code != 404 || !strings.Contains(w.Body.String(), "no such thing") {
		t.Errorf("mock 404 = %d %s", w.Code, w.Body)
	}
	if w := h.send(api, "POST", "/prod/things/1?q=teapot", `{}`, nil); w.Code != 418 || w.Header().Get("X-Why") != "tea" {
		t.Errorf("response override = %d %v", w.Code, w.Header())
	}
	// passthroughBehavior NEVER: a content type without a template is 415.
	if w := h.send(api, "POST", "/prod/things/1", `a=b`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); w.Code != 415 ||
		!strings.Contains(w.Body.String(), "Unsupported Media Type") {
		t.Errorf("NEVER passthrough = %d %s", w.Code, w.Body)
	}
}

// An attacker's template: a loop of loops, or output that doubles, is
// cut off with API Gateway's 500, never run to the end.
func TestTemplateBoundsAtInvoke(t *testing.T) {
	h := newHarness(t)
	api, _ := h.nonProxyAPI(map[string]any{"type": "MOCK", "requestTemplates": map[string]string{"application/json": `{"statusCode": 200}`}},
		nil, map[string]map[string]any{
			"200": {"responseTemplates": map[string]string{"application/json": `#foreach($a in [1..1000])#foreach($b in [1..1000])#foreach($c in [1..1000])x#end#end#end`}},
		})
	w := h.send(api, "POST", "/prod/things/1", `{}`, nil)
	if w.Code != 500 || !strings.Contains(w.Body.String(), "Internal server error") {
		t.Errorf("looping template = %d %s", w.Code, w.Body)
	}
	api2, _ := h.nonProxyAPI(map[string]any{"type": "MOCK", "requestTemplates": map[string]string{
		"application/json": `#set($s = "0123456789abcdef")#foreach($i in [1..40])#set($s = "$s$s")#end{"statusCode": 200}`}}, nil,
		map[string]map[string]any{"200": {}})
	if w := h.send(api2, "POST", "/prod/things/1", `{}`, nil); w.Code != 500 {
		t.Errorf("doubling template = %d %s", w.Code, w.Body)
	}
}

func TestHTTPIntegration(t *testing.T) {
	var mu sync.Mutex
	var got *http.Request
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, gotBody = r, string(b)
		mu.Unlock()
		w.Header().Set("X-Backend", "b1")
		if strings.HasSuffix(r.URL.Path, "/missing") {
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"error":"gone"}`)
			return
		}
		_, _ = io.WriteString(w, `{"items":[{"n":1},{"n":2}]}`)
	}))
	defer srv.Close()
	h := newHarness(t)
	api, _ := h.nonProxyAPI(map[string]any{
		"type": "HTTP", "httpMethod": "PUT", "uri": srv.URL + "/backend/{thing}",
		"requestParameters": map[string]string{"integration.request.path.thing": "method.request.path.id",
			"integration.request.header.X-Stage": "stageVariables.env", "integration.request.querystring.from": "'gateway'"},
		"requestTemplates": map[string]string{"application/json": `{"wrapped": $input.json('$')}`},
	}, []string{"200", "400"}, map[string]map[string]any{
		"200": {"responseTemplates": map[string]string{"application/json": `$input.path('$.items').size()`},
			"responseParameters": map[string]string{"method.response.header.X-Out": "integration.response.header.X-Backend"}},
		"400": {"selectionPattern": `4\d{2}`, "responseParameters": map[string]string{"method.response.header.X-Out": "integration.response.body.error"}},
	})
	w := h.send(api, "POST", "/prod/things/t1", `{"a":1}`, map[string]string{"Content-Type": "application/json"})
	mu.Lock()
	if w.Code != 200 || w.Body.String() != "2" || w.Header().Get("X-Out") != "b1" || got.Method != "PUT" || got.URL.Path != "/backend/t1" ||
		got.URL.Query().Get("from") != "gateway" || got.Header.Get("X-Stage") != "test" || gotBody != `{"wrapped": {"a":1}}` {
		t.Errorf("HTTP integration = %d %v %s; backend saw %s %s %v %q", w.Code, w.Header(), w.Body, got.Method, got.URL, got.Header, gotBody)
	}
	mu.Unlock()
	if w := h.send(api, "POST", "/prod/things/missing", `{}`, nil); w.Code != 400 || w.Header().Get("X-Out") != "gone" || w.Body.String() != `{"error":"gone"}` {
		t.Errorf("4xx selection = %d %v %s", w.Code, w.Header(), w.Body)
	}
	// Only loopback or allowed hosts: an integration elsewhere is refused
	// when it is put (TestHTTPAPIHTTPProxyWithMapping) and, should the
	// node's allowed hosts shrink afterwards, when it is called.
	h.g.httpHosts = []string{"192.0.2.1"}
	far, _ := h.nonProxyAPI(map[string]any{"type": "HTTP", "httpMethod": "GET", "uri": "http://192.0.2.1/x"}, nil,
		map[string]map[string]any{"200": {}})
	h.g.httpHosts = nil
	if w := h.send(far, "POST", "/prod/things/1", `{}`, nil); w.Code != 500 {
		t.Errorf("HTTP integration to a non-loopback host = %d %s", w.Code, w.Body)
	}
}

func TestLambdaNonProxyIntegration(t *testing.T) {
	h := newHarness(t)
	h.fns.fns["calc"] = func(p []byte) (*invoke.Result, error) {
		var in struct {
			A, B int
		}
		_ = json.Unmarshal(p, &in)
		if in.B == 0 {
			return &invoke.Result{FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"Bad input: division by zero","errorType":"Error"}`)}, nil
		}
		return &invoke.Result{Payload: []byte(fmt.Sprintf(`{"q":%d}`, in.A/in.B))}, nil
	}
	api, _ := h.nonProxyAPI(map[string]any{
		"type": "AWS", "httpMethod": "POST",
		"uri":              "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fnArn("calc") + "/invocations",
		"requestTemplates": map[string]string{"application/json": `{"a": $input.params('id'), "b": $input.path('$.by')}`},
	}, []string{"200", "400"}, map[string]map[string]any{
		"200": {"responseTemplates": map[string]string{"application/json": `{"result": $input.path('$.q')}`}},
		"400": {"selectionPattern": "Bad input.*", "responseTemplates": map[string]string{"application/json": `{"error": "$input.path('$.errorMessage')"}`}},
	})
	if w := h.send(api, "POST", "/prod/things/10", `{"by": 2}`, nil); w.Code != 200 || w.Body.String() != `{"result": 5}` {
		t.Errorf("Lambda non-proxy = %d %s", w.Code, w.Body)
	}
	if w := h.send(api, "POST", "/prod/things/10", `{"by": 0}`, nil); w.Code != 400 || w.Body.String() != `{"error": "Bad input: division by zero"}` {
		t.Errorf("Lambda error selection = %d %s", w.Code, w.Body)
	}
}

// fakeAWS is the node's AWS APIs as an AWS integration sees them.
type fakeAWS struct {
	mu      sync.Mutex
	service string
	role    string
	req     *http.Request
	body    string
	answer  func(r *http.Request) (int, string)
	deny    bool
}

func (f *fakeAWS) CallAWS(_ context.Context, service, roleArn string, r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deny {
		return nil, fmt.Errorf("role %s: %w", roleArn, ErrAssumeRole)
	}
	f.service, f.role, f.req, f.body = service, roleArn, r, string(b)
	code, body := f.answer(r)
	return &http.Response{StatusCode: code, Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}}, Body: io.NopCloser(bytes.NewBufferString(body))}, nil
}

func TestAWSServiceIntegration(t *testing.T) {
	h := newHarness(t)
	aws := &fakeAWS{answer: func(r *http.Request) (int, string) {
		if r.Header.Get("X-Amz-Target") == "AWSStepFunctions.StartSyncExecution" {
			return 200, `{"status":"SUCCEEDED","output":"{\"ok\":true}"}`
		}
		return 200, `<SendMessageResponse><SendMessageResult><MessageId>m-1</MessageId></SendMessageResult></SendMessageResponse>`
	}}
	h.g.aws = aws
	role := "arn:aws:iam::000000000000:role/apigw-sfn"
	api, res := h.nonProxyAPI(map[string]any{
		"type": "AWS", "httpMethod": "POST", "credentials": role,
		"uri":              "arn:aws:apigateway:us-east-1:states:action/StartSyncExecution",
		"requestTemplates": map[string]string{"application/json": `{"input": "$util.escapeJavaScript($input.json('$'))", "stateMachineArn": "arn:aws:states:us-east-1:000000000000:stateMachine:sm"}`},
	}, []string{"200"}, map[string]map[string]any{
		"200": {"responseTemplates": map[string]string{"application/json": `$util.parseJson($input.path('$.output')).ok`}},
	})
	w := h.send(api, "POST", "/prod/things/1", `{"x":"y"}`, nil)
	aws.mu.Lock()
	if w.Code != 200 || w.Body.String() != "true" || aws.service != "states" || aws.role != role ||
		aws.req.Header.Get("Content-Type") != "application/x-amz-json-1.0" || !strings.Contains(aws.body, `"input": "{\"x\":\"y\"}"`) {
		t.Errorf("StartSyncExecution = %d %s; sent %s %v %s", w.Code, w.Body, aws.service, aws.req.Header, aws.body)
	}
	aws.mu.Unlock()

	// test-invoke-method shows the mapped request and response.
	var ti struct {
		Status int
		Body   string
		Log    string
	}
	h.mgmt("POST", "/restapis/"+api+"/resources/"+res+"/methods/POST", map[string]any{"pathWithQueryString": "/things/1", "body": `{"x":"z"}`}, 200, &ti)
	if ti.Status != 200 || ti.Body != "true" || !strings.Contains(ti.Log, `Endpoint request body after transformations: {"input": "{\"x\":\"z\"}"`) ||
		!strings.Contains(ti.Log, "Endpoint response body before transformations: {\"status\":\"SUCCEEDED\"") ||
		!strings.Contains(ti.Log, "Method completed with status: 200") {
		t.Errorf("test-invoke-method = %d %q\n%s", ti.Status, ti.Body, ti.Log)
	}

	// SQS by path: the query request goes to the queue's path.
	sqsAPI, _ := h.nonProxyAPI(map[string]any{
		"type": "AWS", "httpMethod": "POST", "credentials": role,
		"uri":               "arn:aws:apigateway:us-east-1:sqs:path/000000000000/orders",
		"requestParameters": map[string]string{"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
		"requestTemplates":  map[string]string{"application/json": `Action=SendMessage&MessageBody=$util.urlEncode($input.body)`},
	}, nil, map[string]map[string]any{"200": {}})
	w = h.send(sqsAPI, "POST", "/prod/things/1", `{"order": 7}`, nil)
	aws.mu.Lock()
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"SendMessageResult":{"MD5OfMessageAttributes":null,`) || !strings.Contains(w.Body.String(), `"MessageId":"m-1"`) ||
		aws.req.URL.Path != "/000000000000/orders" ||
		aws.req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || aws.body != "Action=SendMessage&MessageBody=%7B%22order%22%3A+7%7D" {
		t.Errorf("SQS SendMessage = %d %s; sent %s %v %q", w.Code, w.Body, aws.req.URL, aws.req.Header, aws.body)
	}
	// A role API Gateway cannot assume: 500 Internal server error.
	aws.deny = true
	aws.mu.Unlock()
	if w := h.send(sqsAPI, "POST", "/prod/things/1", `{}`, nil); w.Code != 500 || !strings.Contains(w.Body.String(), "Internal server error") {
		t.Errorf("unassumable role = %d %s", w.Code, w.Body)
	}
}

func TestPutIntegrationChecks(t *testing.T) {
	h := newHarness(t)
	api, res := h.nonProxyAPI(map[string]any{"type": "MOCK"}, nil, nil)
	path := "/restapis/" + api + "/resources/" + res + "/methods/POST/integration"
	for name, body := range map[string]map[string]any{
		"malformed template":   {"type": "MOCK", "requestTemplates": map[string]string{"application/json": `#if($a)`}},
		"unsupported service":  {"type": "AWS", "httpMethod": "POST", "uri": "arn:aws:apigateway:us-east-1:appconfig:action/GetConfiguration", "credentials": "arn:aws:iam::000000000000:role/r"},
		"no path or action":    {"type": "AWS", "httpMethod": "POST", "uri": "arn:aws:apigateway:us-east-1:sqs:000000000000/q"},
		"VPC link":             {"type": "HTTP", "httpMethod": "GET", "uri": "http://127.0.0.1/", "connectionType": "VPC_LINK", "connectionId": "abc"},
		"undeclared parameter": {"type": "MOCK", "requestParameters": map[string]string{"integration.request.header.X": "method.request.header.Nope"}},
		"bad passthrough":      {"type": "MOCK", "passthroughBehavior": "SOMETIMES"},
		"caller credentials":   {"type": "AWS", "httpMethod": "POST", "uri": "arn:aws:apigateway:us-east-1:sqs:action/SendMessage", "credentials": "arn:aws:iam::*:user/*"},
	} {
		var out struct {
			Message string `json:"message"`
		}
		h.mgmt("PUT", path, body, 400, &out)
		if out.Message == "" {
			t.Errorf("%s: no message", name)
		}
	}
	var out struct {
		Message string `json:"message"`
	}
	h.mgmt("PUT", path+"/responses/200", map[string]any{"responseTemplates": map[string]string{"application/json": `#foreach($x in $y)`}}, 400, &out)
	h.mgmt("PUT", path+"/responses/200", map[string]any{"selectionPattern": "(", "responseTemplates": map[string]string{}}, 400, &out)
	// Get, Update and Delete round-trip.
	h.mgmt("PUT", path+"/responses/200", map[string]any{"selectionPattern": "2\\d{2}"}, 201, nil)
	var ir integrationResponse
	h.mgmt("PATCH", path+"/responses/200", map[string]any{"patchOperations": []map[string]string{
		{"op": "add", "path": "/responseTemplates/application~1json", "value": "$input.body"}}}, 200, &ir)
	if ir.ResponseTemplates["application/json"] != "$input.body" || ir.SelectionPattern != `2\d{2}` {
		t.Errorf("UpdateIntegrationResponse = %+v", ir)
	}
	h.mgmt("GET", path+"/responses/200", nil, 200, &ir)
	h.mgmt("DELETE", path+"/responses/200", nil, 204, nil)
	h.mgmt("GET", path+"/responses/200", nil, 404, nil)
	var x restIntegration
	h.mgmt("PATCH", path, map[string]any{"patchOperations": []map[string]string{{"op": "replace", "path": "/passthroughBehavior", "value": "NEVER"}}}, 200, &x)
	if x.PassthroughBehavior != "NEVER" {
		t.Errorf("UpdateIntegration = %+v", x)
	}
	h.mgmt("DELETE", path, nil, 204, nil)
	h.mgmt("GET", path, nil, 404, nil)
}
