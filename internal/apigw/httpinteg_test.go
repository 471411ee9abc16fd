package apigw

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// httpAPIWith makes an HTTP API with one integration, a route to it and
// an auto-deployed $default stage (with stage variables).
func (h *harness) httpAPIWith(routeKey string, integ map[string]any) string {
	h.t.Helper()
	var api httpAPI
	h.mgmt("POST", "/v2/apis", map[string]any{"name": "direct", "protocolType": "HTTP"}, 201, &api)
	var x httpIntegration
	h.mgmt("POST", "/v2/apis/"+api.APIID+"/integrations", integ, 201, &x)
	h.mgmt("POST", "/v2/apis/"+api.APIID+"/routes", map[string]any{"routeKey": routeKey, "target": "integrations/" + x.IntegrationID}, 201, nil)
	h.mgmt("POST", "/v2/apis/"+api.APIID+"/stages", map[string]any{"stageName": "$default", "autoDeploy": true,
		"stageVariables": map[string]string{"queue": "orders"}}, 201, nil)
	return api.APIID
}

const apigwRole = "arn:aws:iam::000000000000:role/apigw-direct"

func TestHTTPAPIServiceIntegrations(t *testing.T) {
	h := newHarness(t)
	aws := &fakeAWS{answer: func(r *http.Request) (int, string) {
		if r.Header.Get("X-Amz-Target") == "" {
			return 200, `<SendMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><SendMessageResult><MessageId>m-1</MessageId><MD5OfMessageBody>abc</MD5OfMessageBody></SendMessageResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></SendMessageResponse>`
		}
		return 200, `{"ok":true}`
	}}
	h.g.aws = aws
	sent := func() (string, string, http.Header, string) {
		aws.mu.Lock()
		defer aws.mu.Unlock()
		return aws.service, aws.role, aws.req.Header, aws.body
	}

	// SQS-SendMessage: body, header, stage variable and static values.
	api := h.httpAPIWith("POST /orders/{id}", map[string]any{"integrationType": "AWS_PROXY", "integrationSubtype": "SQS-SendMessage",
		"credentialsArn": apigwRole, "payloadFormatVersion": "1.0",
		"requestParameters": map[string]string{
			"QueueUrl":          "http://sqs.us-east-1.localhost/000000000000/${stageVariables.queue}",
			"MessageBody":       "$request.body.order",
			"MessageGroupId":    "${request.path.id}-${request.querystring.g}",
			"MessageAttributes": `{"source": {"DataType": "String", "StringValue": "${request.header.x-source}"}}`,
		}})
	w := h.send(api, "POST", "/orders/7?g=west", `{"order": {"item": "tea"}}`, map[string]string{"X-Source": "web"})
	svc, role, hdr, body := sent()
	form, _ := url.ParseQuery(body)
	if w.Code != 200 || svc != "sqs" || role != apigwRole || hdr.Get("Content-Type") != "application/x-www-form-urlencoded" ||
		form.Get("Action") != "SendMessage" || form.Get("QueueUrl") != "http://sqs.us-east-1.localhost/000000000000/orders" ||
		form.Get("MessageBody") != `{"item":"tea"}` || form.Get("MessageGroupId") != "7-west" ||
		form.Get("MessageAttribute.1.Name") != "source" || form.Get("MessageAttribute.1.Value.StringValue") != "web" {
		t.Fatalf("SQS-SendMessage = %d %s; sent %s %s %v %s", w.Code, w.Body, svc, role, hdr, body)
	}
	var out struct {
		SendMessageResponse struct {
			SendMessageResult struct {
				MessageID string `json:"MessageId"`
			}
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.SendMessageResponse.SendMessageResult.MessageID != "m-1" ||
		w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("SQS answer as JSON: %v %s %v", err, w.Body, w.Header())
	}

	// EventBridge-PutEvents: the whole body as Detail.
	api = h.httpAPIWith("POST /events", map[string]any{"integrationType": "AWS_PROXY", "integrationSubtype": "EventBridge-PutEvents",
		"credentialsArn": apigwRole, "payloadFormatVersion": "1.0",
		"requestParameters": map[string]string{"Detail": "$request.body", "DetailType": "order placed", "Source": "shop", "Resources": `["arn:x"]`}})
	if w := h.send(api, "POST", "/events", `{"n":1}`, nil); w.Code != 200 || w.Body.String() != `{"ok":true}` {
		t.Errorf("PutEvents = %d %s", w.Code, w.Body)
	}
	svc, _, hdr, body = sent()
	var pe struct{ Entries []map[string]any }
	_ = json.Unmarshal([]byte(body), &pe)
	if svc != "events" || hdr.Get("X-Amz-Target") != "AWSEvents.PutEvents" || len(pe.Entries) != 1 || pe.Entries[0]["Detail"] != `{"n":1}` ||
		pe.Entries[0]["Source"] != "shop" || pe.Entries[0]["DetailType"] != "order placed" {
		t.Errorf("PutEvents sent %s %v %s", svc, hdr, body)
	}

	// StepFunctions-StartSyncExecution: lower camel members.
	api = h.httpAPIWith("POST /run", map[string]any{"integrationType": "AWS_PROXY", "integrationSubtype": "StepFunctions-StartSyncExecution",
		"credentialsArn": apigwRole, "requestParameters": map[string]string{"StateMachineArn": "arn:aws:states:us-east-1:000000000000:stateMachine:sm", "Input": "$request.body"}})
	if w := h.send(api, "POST", "/run", `{"a":2}`, nil); w.Code != 200 {
		t.Errorf("StartSyncExecution = %d %s", w.Code, w.Body)
	}
	svc, _, hdr, body = sent()
	if svc != "states" || hdr.Get("X-Amz-Target") != "AWSStepFunctions.StartSyncExecution" ||
		body != `{"input":"{\"a\":2}","stateMachineArn":"arn:aws:states:us-east-1:000000000000:stateMachine:sm"}` {
		t.Errorf("StartSyncExecution sent %s %v %s", svc, hdr, body)
	}

	// Kinesis-PutRecord: Data is sent base64-encoded.
	api = h.httpAPIWith("POST /rec", map[string]any{"integrationType": "AWS_PROXY", "integrationSubtype": "Kinesis-PutRecord",
		"credentialsArn": apigwRole, "requestParameters": map[string]string{"StreamName": "s", "Data": "$request.body", "PartitionKey": "$context.requestId"}})
	h.send(api, "POST", "/rec", `hello`, nil)
	_, _, hdr, body = sent()
	var pr map[string]string
	_ = json.Unmarshal([]byte(body), &pr)
	if hdr.Get("X-Amz-Target") != "Kinesis_20131202.PutRecord" || pr["Data"] != base64.StdEncoding.EncodeToString([]byte("hello")) || pr["PartitionKey"] == "" {
		t.Errorf("PutRecord sent %v %s", hdr, body)
	}

	// A role API Gateway may not assume: 500, the reason only in the log.
	aws.mu.Lock()
	aws.deny = true
	aws.mu.Unlock()
	if w := h.send(api, "POST", "/rec", `x`, nil); w.Code != 500 || w.Body.String() != `{"message":"Internal Server Error"}` {
		t.Errorf("unassumable role = %d %s", w.Code, w.Body)
	}
	// A service's refusal is the client's answer, as on AWS.
	aws.mu.Lock()
	aws.deny = false
	aws.answer = func(*http.Request) (int, string) {
		return 400, `{"__type":"AccessDeniedException","message":"not allowed"}`
	}
	aws.mu.Unlock()
	if w := h.send(api, "POST", "/rec", `x`, nil); w.Code != 400 || !strings.Contains(w.Body.String(), "AccessDeniedException") {
		t.Errorf("service refusal = %d %s", w.Code, w.Body)
	}
}

func TestHTTPAPIIntegrationRefusals(t *testing.T) {
	h := newHarness(t)
	var api httpAPI
	h.mgmt("POST", "/v2/apis", map[string]any{"name": "x", "protocolType": "HTTP"}, 201, &api)
	base := "/v2/apis/" + api.APIID + "/integrations"
	refuse := func(body map[string]any, want string) {
		t.Helper()
		w := httptest.NewRecorder()
		b, _ := json.Marshal(body)
		h.g.ServeHTTP(w, httptest.NewRequest("POST", base, strings.NewReader(string(b))))
		if w.Code != 400 || !strings.Contains(w.Body.String(), want) {
			t.Errorf("%v = %d %s, want 400 with %q", body, w.Code, w.Body, want)
		}
	}
	svc := func(subtype string, params map[string]string) map[string]any {
		return map[string]any{"integrationType": "AWS_PROXY", "integrationSubtype": subtype, "credentialsArn": apigwRole, "requestParameters": params}
	}
	proxy := func(params map[string]string) map[string]any {
		return map[string]any{"integrationType": "HTTP_PROXY", "integrationMethod": "GET", "integrationUri": "http://127.0.0.1:9/x", "requestParameters": params}
	}
	refuse(svc("AppConfig-GetConfiguration", map[string]string{"Application": "a"}), "AppConfig")
	refuse(svc("SQS-ChangeMessageVisibility", map[string]string{}), "Unsupported integration subtype SQS-ChangeMessageVisibility")
	refuse(svc("SQS-SendMessage", map[string]string{"QueueUrl": "q"}), "requires the parameter MessageBody")
	refuse(svc("SQS-SendMessage", map[string]string{"QueueUrl": "q", "MessageBody": "b", "Body": "x"}), "has no parameter Body")
	refuse(svc("SQS-SendMessage", map[string]string{"QueueUrl": "q", "MessageBody": "$request.body..deep"}), "recursive descent")
	refuse(svc("SQS-SendMessage", map[string]string{"QueueUrl": "q", "MessageBody": "${request.body"}), "unterminated")
	refuse(svc("SQS-SendMessage", map[string]string{"QueueUrl": "q", "MessageBody": "$response.body"}), "Invalid mapping expression")
	refuse(map[string]any{"integrationType": "AWS_PROXY", "integrationSubtype": "SQS-PurgeQueue", "credentialsArn": "arn:aws:iam::*:user/*",
		"requestParameters": map[string]string{"QueueUrl": "q"}}, "caller's credentials")
	// Parameter mapping cannot touch the headers API Gateway reserves.
	for _, hd := range []string{"Authorization", "x-amz-date", "X-Amzn-Trace-Id", "Host", "Content-Length", "access-control-allow-origin", "apigw-requestid"} {
		refuse(proxy(map[string]string{"overwrite:header." + hd: "x"}), "restricted")
		refuse(proxy(map[string]string{"append:header." + hd: "x"}), "restricted")
	}
	refuse(proxy(map[string]string{"set:header.a": "x"}), "Invalid mapping key")
	refuse(proxy(map[string]string{"append:path": "x"}), "only be overwritten")
	refuse(proxy(map[string]string{"overwrite:header.a": "$request.nope"}), "unknown source")
	refuse(map[string]any{"integrationType": "HTTP_PROXY", "integrationMethod": "GET", "integrationUri": "http://127.0.0.1:9/x",
		"responseParameters": map[string]map[string]string{"200": {"overwrite:header.x-amz-request-id": "1"}}}, "restricted")
	refuse(map[string]any{"integrationType": "HTTP_PROXY", "integrationMethod": "GET", "integrationUri": "http://127.0.0.1:9/x",
		"responseParameters": map[string]map[string]string{"200": {"overwrite:statuscode": "abc"}}}, "statuscode")
	refuse(map[string]any{"integrationType": "HTTP_PROXY", "integrationMethod": "GET", "integrationUri": "ftp://127.0.0.1/x"}, "http:// or https://")
	refuse(map[string]any{"integrationType": "HTTP_PROXY", "integrationMethod": "GET", "integrationUri": "http://127.0.0.1/x", "connectionType": "VPC_LINK"}, "VPC")
}

func TestHTTPAPIHTTPProxyWithMapping(t *testing.T) {
	h := newHarness(t)
	var got *http.Request
	var gotBody string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, gotBody = r.Clone(r.Context()), string(b)
		w.Header().Set("X-Backend", "b1")
		w.Header().Set("X-Secret", "s")
		w.WriteHeader(200)
		_, _ = w.Write([]byte("from backend"))
	}))
	defer backend.Close()
	api := h.httpAPIWith("POST /pets/{id}", map[string]any{"integrationType": "HTTP_PROXY", "integrationMethod": "ANY",
		"integrationUri": backend.URL + "/store/{id}",
		"requestParameters": map[string]string{
			"overwrite:header.x-pet":    "pet-${request.path.id}",
			"append:querystring.tag":    "${stageVariables.queue}",
			"remove:header.x-drop":      "''",
			"overwrite:header.x-kind":   "$request.body.kind",
			"remove:querystring.secret": "''",
		},
		"responseParameters": map[string]map[string]string{"200": {
			"overwrite:header.x-out": "$response.header.x-backend", "remove:header.x-secret": "''", "overwrite:statuscode": "201",
		}}})
	w := h.send(api, "POST", "/pets/42?tag=a&secret=s", `{"kind":"cat"}`, map[string]string{"X-Drop": "1", "X-Keep": "k"})
	if w.Code != 201 || w.Body.String() != "from backend" || w.Header().Get("X-Out") != "b1" || w.Header().Get("X-Secret") != "" {
		t.Fatalf("HTTP_PROXY = %d %s %v", w.Code, w.Body, w.Header())
	}
	if got.URL.Path != "/store/42" || got.Method != "POST" || got.Header.Get("X-Pet") != "pet-42" || got.Header.Get("X-Drop") != "" ||
		got.Header.Get("X-Keep") != "k" || got.Header.Get("X-Kind") != "cat" || strings.Join(got.URL.Query()["tag"], ",") != "a,orders" ||
		got.URL.Query().Has("secret") || gotBody != `{"kind":"cat"}` {
		t.Errorf("backend saw %s %s %v body %s", got.Method, got.URL, got.Header, gotBody)
	}

	// An integration on a host that is not loopback (nor allowed) is
	// refused when it is created, naming the flag; one whose host comes
	// from a stage variable is never called.
	var farAPI httpAPI
	h.mgmt("POST", "/v2/apis", map[string]any{"name": "far", "protocolType": "HTTP"}, 201, &farAPI)
	w = httptest.NewRecorder()
	h.g.ServeHTTP(w, httptest.NewRequest("POST", "/v2/apis/"+farAPI.APIID+"/integrations", strings.NewReader(
		`{"integrationType":"HTTP_PROXY","integrationMethod":"GET","integrationUri":"http://Example.com:8080/x"}`)))
	if w.Code != 400 || !strings.Contains(w.Body.String(), "--apigw-http-hosts") || !strings.Contains(w.Body.String(), "example.com is not") {
		t.Errorf("HTTP_PROXY to example.com created: %d %s", w.Code, w.Body)
	}
	far := h.httpAPIWith("GET /x", map[string]any{"integrationType": "HTTP_PROXY", "integrationMethod": "GET",
		"integrationUri": "http://${stageVariables.queue}.example.com/x"})
	if w := h.send(far, "GET", "/x", "", nil); w.Code != 500 {
		t.Errorf("HTTP_PROXY to orders.example.com = %d %s", w.Code, w.Body)
	}
	// The node's allowed hosts may be called.
	h.g.httpHosts = []string{"example.com"}
	h.httpAPIWith("GET /x", map[string]any{"integrationType": "HTTP_PROXY", "integrationMethod": "GET", "integrationUri": "https://example.com/x"})
}

func TestHTTPAPILambdaParameterMapping(t *testing.T) {
	h := newHarness(t)
	h.fns.fns["f"] = answer(map[string]any{"statusCode": 200, "headers": map[string]string{"X-Fn": "1"}, "body": "ok"})
	api := h.httpAPIWith("GET /a", map[string]any{"integrationType": "AWS_PROXY", "integrationUri": fnArn("f"), "payloadFormatVersion": "2.0",
		"requestParameters":  map[string]string{"append:header.x-added": "${context.stage}:${request.querystring.q}", "overwrite:path": "/b"},
		"responseParameters": map[string]map[string]string{"200": {"append:header.x-fn": "2"}}})
	w := h.send(api, "GET", "/a?q=1", "", nil)
	ev := h.fns.lastEvent(t, "f")
	hdrs, _ := ev["headers"].(map[string]any)
	if w.Code != 200 || hdrs["x-added"] != "$default:1" || ev["rawPath"] != "/b" || strings.Join(w.Header().Values("X-Fn"), ",") != "1,2" {
		t.Errorf("Lambda with mapping = %d %v; event %v", w.Code, w.Header(), ev)
	}
}

// samHTTPDirect is what SAM writes for an AWS::Serverless::HttpApi whose
// DefinitionBody integrates with SQS and an HTTP backend directly.
const samHTTPDirect = `{"openapi": "3.0.1", "info": {"title": "direct", "version": "1"},
 "paths": {
  "/orders": {"post": {"x-amazon-apigateway-integration": {"type": "aws_proxy", "integrationSubtype": "SQS-SendMessage",
     "credentials": "arn:aws:iam::000000000000:role/apigw-direct", "connectionType": "INTERNET", "payloadFormatVersion": "1.0",
     "requestParameters": {"QueueUrl": "http://q/000000000000/orders", "MessageBody": "$request.body"}}}},
  "/up/{proxy+}": {"x-amazon-apigateway-any-method": {"x-amazon-apigateway-integration": {"type": "http_proxy", "httpMethod": "ANY",
     "uri": "http://127.0.0.1:9/{proxy}", "payloadFormatVersion": "1.0",
     "responseParameters": {"200": {"overwrite:header.x-up": "1"}}}}},
  "/fn": {"get": {"x-amazon-apigateway-integration": {"type": "aws_proxy", "uri": "` + "arn:aws:lambda:us-east-1:000000000000:function:f" + `", "payloadFormatVersion": "2.0"}}}
 }}`

func TestImportHTTPAPIDirectIntegrations(t *testing.T) {
	h := newHarness(t)
	var api httpAPI
	h.mgmt("PUT", "/v2/apis", map[string]string{"body": samHTTPDirect}, 201, &api)
	var items struct{ Items []httpIntegration }
	h.mgmt("GET", "/v2/apis/"+api.APIID+"/integrations", nil, 200, &items)
	kinds := map[string]httpIntegration{}
	for _, x := range items.Items {
		kinds[x.IntegrationType+"/"+x.IntegrationSubtype] = x
	}
	if x := kinds["AWS_PROXY/SQS-SendMessage"]; x.CredentialsArn != apigwRole || x.RequestParameters["MessageBody"] != "$request.body" {
		t.Errorf("imported SQS integration: %+v", x)
	}
	if x := kinds["HTTP_PROXY/"]; x.IntegrationURI != "http://127.0.0.1:9/{proxy}" || x.IntegrationMethod != "ANY" || x.ResponseParameters["200"]["overwrite:header.x-up"] != "1" {
		t.Errorf("imported HTTP proxy integration: %+v", x)
	}
	if x := kinds["AWS_PROXY/"]; x.IntegrationURI == "" || len(items.Items) != 3 {
		t.Errorf("imported integrations: %+v", items.Items)
	}
	bad := strings.Replace(samHTTPDirect, `"SQS-SendMessage"`, `"AppConfig-GetConfiguration"`, 1)
	w := httptest.NewRecorder()
	b, _ := json.Marshal(map[string]string{"body": bad})
	h.g.ServeHTTP(w, httptest.NewRequest("PUT", "/v2/apis", strings.NewReader(string(b))))
	if w.Code != 400 || !strings.Contains(w.Body.String(), "POST /orders") || !strings.Contains(w.Body.String(), "AppConfig") {
		t.Errorf("import with an AppConfig integration = %d %s", w.Code, w.Body)
	}
}

// FuzzHTTPMapping feeds mapping keys and values (untrusted, from
// CreateIntegration and imports) to the parsers and evaluates what
// parses against a request and an answer.
func FuzzHTTPMapping(f *testing.F) {
	for _, s := range []string{"overwrite:header.x", "append:querystring.q", "remove:header.a", "overwrite:path", "overwrite:statuscode",
		"$request.body.a.b[0]", "${request.header.x} and ${context.requestId}", "$response.body", "${stageVariables.s}", "${", "$request.body..x",
		"$request.body.a[?(@.x)]", "literal", "${request.path.id}/${request.path}"} {
		f.Add(s, s)
	}
	r := httptest.NewRequest("GET", "/x?q=1", nil)
	r.Header.Set("X", "1")
	env := &mapEnv{r: r, body: []byte(`{"a":{"b":[1,{"c":"d"}]}}`), path: "/x", params: map[string]string{"id": "1"},
		context: map[string]string{"requestId": "r"}, stageVars: map[string]string{"s": "v"},
		respHeader: http.Header{"X": {"y"}}, respBody: []byte(`[1,2]`)}
	f.Fuzz(func(t *testing.T, key, value string) {
		for _, resp := range []bool{false, true} {
			_, _ = parseMapKey(key, resp)
			if v, err := parseMapValue(value, resp); err == nil {
				_ = env.eval(v)
			}
		}
		_ = checkRequestMapping(map[string]string{key: value})
		_ = checkResponseMapping(map[string]map[string]string{"200": {key: value}})
		_ = checkSubtype("SQS-SendMessage", map[string]string{"QueueUrl": value, "MessageBody": key})
		_, _ = xmlToJSON([]byte(value))
		_, _ = sqsJSON([]byte(value))
		_, _ = sqsForm("SendMessage", map[string]string{"MessageAttributes": value, "AttributeNames": key})
	})
}
