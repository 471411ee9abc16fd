package apigw

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// samREST is the Swagger a SAM AWS::Serverless::Api with a Lambda token
// authorizer and a validated body makes (in YAML, as templates hold it).
const samREST = `
swagger: "2.0"
info:
  title: sam-app
  version: "1.0"
x-amazon-apigateway-request-validators:
  body-only:
    validateRequestBody: true
    validateRequestParameters: false
paths:
  /items/{id}:
    get:
      parameters:
        - name: id
          in: path
          required: true
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:f/invocations
  /items:
    post:
      security:
        - tok: []
      x-amazon-apigateway-request-validator: body-only
      parameters:
        - name: item
          in: body
          schema:
            $ref: "#/definitions/Item"
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:f/invocations
securityDefinitions:
  tok:
    type: apiKey
    name: Authorization
    in: header
    x-amazon-apigateway-authtype: custom
    x-amazon-apigateway-authorizer:
      type: token
      authorizerUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:authz/invocations
definitions:
  Item:
    type: object
    required: [name]
    properties:
      name: {type: string}
`

func TestImportRestAPIFromSwagger(t *testing.T) {
	h := newHarness(t)
	h.fns.fns["f"] = answer(map[string]any{"statusCode": 200, "body": "ok"})
	h.fns.fns["authz"] = answer(map[string]any{"principalId": "p", "policyDocument": map[string]any{"Version": "2012-10-17",
		"Statement": []any{map[string]any{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}}}})
	w := httptest.NewRecorder()
	h.g.ServeHTTP(w, httptest.NewRequest("POST", "/restapis?mode=import", strings.NewReader(samREST)))
	if w.Code != 201 {
		t.Fatalf("ImportRestApi = %d %s", w.Code, w.Body)
	}
	var api restAPI
	mustJSON(t, w.Body.Bytes(), &api)
	if api.Name != "sam-app" {
		t.Errorf("name = %q", api.Name)
	}
	h.mgmt("POST", "/restapis/"+api.ID+"/deployments", map[string]any{"stageName": "Prod"}, 201, nil)
	if r := h.call(api.ID, "GET", "/Prod/items/7", nil); r.Code != 200 || r.Body.String() != "ok" {
		t.Errorf("GET /Prod/items/7 = %d %s", r.Code, r.Body)
	}
	post := func(body, token string) int {
		req := httptest.NewRequest("POST", "/Prod/items", strings.NewReader(body))
		req.Host = api.ID + ".execute-api.us-east-1.localhost"
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		rec := httptest.NewRecorder()
		h.g.ServeInvoke(rec, req, api.ID)
		return rec.Code
	}
	if c := post(`{"name":"x"}`, ""); c != 401 {
		t.Errorf("no token: %d, want 401", c)
	}
	if c := post(`{}`, "t"); c != 400 {
		t.Errorf("invalid body: %d, want 400", c)
	}
	if c := post(`{"name":"x"}`, "t"); c != 200 {
		t.Errorf("valid: %d, want 200", c)
	}
	// Overwrite replaces the paths.
	w = httptest.NewRecorder()
	h.g.ServeHTTP(w, httptest.NewRequest("PUT", "/restapis/"+api.ID+"?mode=overwrite", strings.NewReader(strings.Replace(samREST, "/items/{id}:", "/things/{id}:", 1))))
	if w.Code != 200 {
		t.Fatalf("PutRestApi = %d %s", w.Code, w.Body)
	}
	var res struct{ Item []restResource }
	h.mgmt("GET", "/restapis/"+api.ID+"/resources", nil, 200, &res)
	var paths []string
	for _, r := range res.Item {
		paths = append(paths, r.Path)
	}
	if got := strings.Join(paths, " "); strings.Contains(got, "/items/{id}") || !strings.Contains(got, "/things/{id}") {
		t.Errorf("resources after overwrite: %s", got)
	}
	// SAM's Auth.ApiKeyRequired: an api_key scheme beside the authorizer.
	withKey := strings.Replace(samREST, "        - tok: []", "        - tok: []\n          api_key: []", 1)
	withKey = strings.Replace(withKey, "securityDefinitions:\n", "securityDefinitions:\n  api_key:\n    type: apiKey\n    name: x-api-key\n    in: header\n", 1)
	w = httptest.NewRecorder()
	h.g.ServeHTTP(w, httptest.NewRequest("POST", "/restapis?mode=import", strings.NewReader(withKey)))
	if w.Code != 201 {
		t.Fatalf("import with api_key: %d %s", w.Code, w.Body)
	}
	var keyed restAPI
	mustJSON(t, w.Body.Bytes(), &keyed)
	h.mgmt("GET", "/restapis/"+keyed.ID+"/resources", nil, 200, &res)
	for _, r := range res.Item {
		if m := r.ResourceMethods["POST"]; r.Path == "/items" && (m == nil || !m.APIKeyRequired || m.AuthorizationType != "CUSTOM") {
			t.Errorf("POST /items after import with api_key: %+v", m)
		}
	}
	// An http integration whose uri is a Lambda function's is refused, not dropped.
	w = httptest.NewRecorder()
	h.g.ServeHTTP(w, httptest.NewRequest("POST", "/restapis?mode=import", strings.NewReader(strings.Replace(samREST, "type: aws_proxy", "type: http", 1))))
	if w.Code != 400 || !bytes.Contains(w.Body.Bytes(), []byte("Invalid HTTP endpoint")) {
		t.Errorf("http integration: %d %s", w.Code, w.Body)
	}
}

const samHTTP = `{
  "openapi": "3.0.1",
  "info": {"title": "sam-http", "version": "1.0"},
  "paths": {
    "/private": {"get": {"security": [{"jwt": ["read"]}], "x-amazon-apigateway-integration": {"type": "aws_proxy", "payloadFormatVersion": "2.0",
      "uri": "arn:aws:lambda:us-east-1:000000000000:function:f"}}},
    "/hello": {"get": {"x-amazon-apigateway-integration": {"type": "aws_proxy", "httpMethod": "POST", "payloadFormatVersion": "2.0",
      "uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:f/invocations"}}},
    "/$default": {"x-amazon-apigateway-any-method": {"x-amazon-apigateway-integration": {"type": "aws_proxy", "payloadFormatVersion": "1.0",
      "uri": "arn:aws:lambda:us-east-1:000000000000:function:f"}}}
  },
  "components": {"securitySchemes": {"jwt": {"type": "oauth2", "x-amazon-apigateway-authorizer": {"type": "jwt",
    "identitySource": "$request.header.Authorization", "jwtConfiguration": {"issuer": "https://issuer.example", "audience": ["app"]}}}}},
  "x-amazon-apigateway-cors": {"allowOrigins": ["https://a.example"], "allowMethods": ["GET"]}
}`

func TestImportHTTPAPIFromOpenAPI(t *testing.T) {
	h := newHarness(t)
	h.fns.fns["f"] = answer(map[string]any{"statusCode": 200, "body": "ok"})
	var api httpAPI
	h.mgmt("PUT", "/v2/apis", map[string]string{"body": samHTTP}, 201, &api)
	h.mgmt("POST", "/v2/apis/"+api.APIID+"/stages", map[string]any{"stageName": "$default", "autoDeploy": true}, 201, nil)
	if r := h.call(api.APIID, "GET", "/hello", nil); r.Code != 200 {
		t.Errorf("GET /hello = %d", r.Code)
	}
	if ev := h.fns.lastEvent(t, "f"); ev["version"] != "2.0" || ev["routeKey"] != "GET /hello" {
		t.Errorf("event = %v", ev)
	}
	if r := h.call(api.APIID, "DELETE", "/other", nil); r.Code != 200 {
		t.Errorf("$default route = %d", r.Code)
	}
	if ev := h.fns.lastEvent(t, "f"); ev["version"] != "1.0" {
		t.Errorf("$default event version = %v", ev["version"])
	}
	var routes struct{ Items []httpRoute }
	h.mgmt("GET", "/v2/apis/"+api.APIID+"/routes", nil, 200, &routes)
	if len(routes.Items) != 3 {
		t.Errorf("routes = %+v", routes.Items)
	}
	for _, r := range routes.Items {
		if r.RouteKey == "GET /private" && (r.AuthorizationType != "JWT" || len(r.AuthorizationScopes) != 1) {
			t.Errorf("imported JWT route = %+v", r)
		}
	}
	if w := h.call(api.APIID, "GET", "/private", nil); w.Code != 401 {
		t.Errorf("JWT route without a token = %d", w.Code)
	}
	r := h.call(api.APIID, "OPTIONS", "/hello", map[string]string{"Origin": "https://a.example", "Access-Control-Request-Method": "GET"})
	if r.Code != http.StatusNoContent || r.Header().Get("Access-Control-Allow-Origin") != "https://a.example" {
		t.Errorf("CORS from x-amazon-apigateway-cors: %d %v", r.Code, r.Header())
	}
	h.mgmt("PUT", "/v2/apis/"+api.APIID, map[string]string{"body": strings.Replace(samHTTP, `"/hello"`, `"/bye"`, 1)}, 201, nil)
	if r := h.call(api.APIID, "GET", "/bye", nil); r.Code != 200 {
		t.Errorf("after reimport GET /bye = %d", r.Code)
	}
	h.mgmt("PUT", "/v2/apis", map[string]string{"body": "not: [valid"}, 400, nil)
}

// FuzzImportOpenAPI feeds definitions to both importers: they build a
// document or refuse with a client error, never panic.
func FuzzImportOpenAPI(f *testing.F) {
	f.Add([]byte(samREST))
	f.Add([]byte(samHTTP))
	f.Add([]byte(`{"swagger":"2.0","paths":{"/{a+}/b":{"get":{}}}}`))
	f.Add([]byte(`openapi: 3.0.1
paths:
  /x: {get: {security: [{s: []}], x-amazon-apigateway-integration: {type: aws_proxy, uri: "arn:aws:lambda:us-east-1:000000000000:function:${stageVariables.f}"}}}
components: {securitySchemes: {s: {x-amazon-apigateway-authorizer: {type: request, identitySource: "$request.header.A"}}}}`))
	g := New(Options{Region: "us-east-1", AccountID: "000000000000"})
	f.Fuzz(func(t *testing.T, b []byte) {
		oa, err := readOpenAPI(b)
		if err != nil {
			if !isClientError(err) {
				t.Fatalf("readOpenAPI: %v is not a client error", err)
			}
			return
		}
		rd := &restDoc{API: restAPI{ID: "abcdefghij"}}
		if err := g.importREST(rd, oa, false); err != nil && !isClientError(err) {
			t.Fatalf("importREST: %v", err)
		}
		hd := &httpDoc{}
		if err := g.importHTTP(hd, oa); err != nil && !isClientError(err) {
			t.Fatalf("importHTTP: %v", err)
		}
		hd.compile()
		rd.compile()
	})
}

func isClientError(err error) bool {
	e := awsapi.As(err)
	return e != nil && e.Status == 400
}

// TestImportKeepsTheResourcePolicy: x-amazon-apigateway-policy (where
// SAM's Auth.ResourcePolicy goes) becomes the API's policy, so it is
// judged; one that is not a policy document is refused.
func TestImportKeepsTheResourcePolicy(t *testing.T) {
	h := newHarness(t)
	pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*"}]}`
	def := `{"swagger":"2.0","info":{"title":"p"},"paths":{},"x-amazon-apigateway-policy":` + pol + `}`
	w := httptest.NewRecorder()
	h.g.ServeHTTP(w, httptest.NewRequest("POST", "/restapis?mode=import", strings.NewReader(def)))
	var api restAPI
	mustJSON(t, w.Body.Bytes(), &api)
	var got, want any
	_ = json.Unmarshal([]byte(api.Policy), &got)
	_ = json.Unmarshal([]byte(pol), &want)
	if w.Code != 201 || !reflect.DeepEqual(got, want) {
		t.Errorf("ImportRestApi = %d, policy %q; want 201 and %q", w.Code, api.Policy, pol)
	}
	w = httptest.NewRecorder()
	h.g.ServeHTTP(w, httptest.NewRequest("POST", "/restapis?mode=import",
		strings.NewReader(`{"swagger":"2.0","info":{"title":"p"},"paths":{},"x-amazon-apigateway-policy":"allow all"}`)))
	if w.Code != 400 {
		t.Errorf("a policy that is not a document: %d %s", w.Code, w.Body)
	}
}
