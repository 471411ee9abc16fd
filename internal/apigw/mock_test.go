package apigw

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// samCORS is the Swagger samtranslator makes for an AWS::Serverless::Api
// with Cors: the OPTIONS method of each path is a mock integration.
const samCORS = `{
  "swagger": "2.0",
  "info": {"title": "cors", "version": "1.0"},
  "paths": {
    "/pets": {
      "get": {"x-amazon-apigateway-integration": {"type": "aws_proxy", "httpMethod": "POST",
        "uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:f/invocations"}},
      "options": {
        "x-amazon-apigateway-integration": {
          "type": "mock",
          "requestTemplates": {"application/json": "{\n  \"statusCode\" : 200\n}\n"},
          "responses": {"default": {"statusCode": "200", "responseTemplates": {"application/json": "{}\n"},
            "responseParameters": {
              "method.response.header.Access-Control-Allow-Origin": "'https://example.com'",
              "method.response.header.Access-Control-Max-Age": "'600'",
              "method.response.header.Access-Control-Allow-Methods": "'GET,OPTIONS'",
              "method.response.header.X-From-Request": "method.request.header.Origin"}}}
        },
        "consumes": ["application/json"], "summary": "CORS support",
        "responses": {"200": {"description": "Default response for CORS method"}}
      }
    }
  }
}`

// TestImportMockCORSPreflight imports SAM's CORS document: the preflight
// is answered by the mock integration, with its literal headers, and the
// function is not invoked; the GET still reaches the function.
func TestImportMockCORSPreflight(t *testing.T) {
	h := newHarness(t)
	h.fns.fns["f"] = answer(map[string]any{"statusCode": 200, "body": "ok"})
	w := httptest.NewRecorder()
	h.g.ServeHTTP(w, httptest.NewRequest("POST", "/restapis?mode=import", strings.NewReader(samCORS)))
	if w.Code != 201 {
		t.Fatalf("ImportRestApi = %d %s", w.Code, w.Body)
	}
	var api restAPI
	mustJSON(t, w.Body.Bytes(), &api)
	h.mgmt("POST", "/restapis/"+api.ID+"/deployments", map[string]any{"stageName": "api"}, 201, nil)
	r := h.call(api.ID, "OPTIONS", "/api/pets", map[string]string{"Origin": "https://example.com", "Access-Control-Request-Method": "GET"})
	if r.Code != 200 || r.Header().Get("Access-Control-Allow-Origin") != "https://example.com" ||
		r.Header().Get("Access-Control-Allow-Methods") != "GET,OPTIONS" || r.Header().Get("Access-Control-Max-Age") != "600" ||
		strings.TrimSpace(r.Body.String()) != "{}" {
		t.Errorf("OPTIONS /api/pets = %d %v %q", r.Code, r.Header(), r.Body)
	}
	if r.Header().Get("X-From-Request") != "" {
		t.Errorf("a non-literal response parameter was set: %q", r.Header().Get("X-From-Request"))
	}
	if n := h.fns.calls["f"]; n != 0 {
		t.Errorf("the preflight invoked the function %d times", n)
	}
	if r := h.call(api.ID, "GET", "/api/pets", nil); r.Code != 200 || r.Body.String() != "ok" {
		t.Errorf("GET /api/pets = %d %s", r.Code, r.Body)
	}
	// The method's integration reads back as MOCK.
	var res struct{ Item []restResource }
	h.mgmt("GET", "/restapis/"+api.ID+"/resources", nil, 200, &res)
	for _, rs := range res.Item {
		if rs.Path == "/pets" {
			var integ restIntegration
			h.mgmt("GET", "/restapis/"+api.ID+"/resources/"+rs.ID+"/methods/OPTIONS/integration", nil, 200, &integ)
			if integ.Type != "MOCK" || integ.IntegrationResponses["200"] == nil {
				t.Errorf("OPTIONS integration = %+v", integ)
			}
		}
	}
	// An HTTP API has no mock integrations: refused, naming aws_proxy.
	var out struct {
		Message string `json:"message"`
	}
	h.mgmt("PUT", "/v2/apis", map[string]string{"body": strings.Replace(samCORS, `"swagger": "2.0"`, `"openapi": "3.0.1"`, 1)}, 400, &out)
	if !strings.Contains(out.Message, "aws_proxy") || !strings.Contains(out.Message, "mock") {
		t.Errorf("HTTP API import of a mock integration: %s", out.Message)
	}
}
