package apigw

import (
	"strings"
	"testing"
)

func TestGatewayResponsesCustomizeOwnAnswers(t *testing.T) {
	h := newHarness(t)
	h.fns.fns["f"] = answer(map[string]any{"statusCode": 200, "body": "ok"})
	api, _ := h.restAPI("f", nil)
	base := "/restapis/" + api
	h.mgmt("PUT", base+"/gatewayresponses/MISSING_AUTHENTICATION_TOKEN", map[string]any{"statusCode": "404",
		"responseParameters": map[string]string{"gatewayresponse.header.X-Kind": "'custom'", "gatewayresponse.header.X-Origin": "method.request.header.Origin"},
		"responseTemplates":  map[string]string{"application/json": `{"error": $context.error.messageString, "type": "$context.error.responseType"}`}}, 201, nil)
	w := h.call(api, "GET", "/prod/nowhere", map[string]string{"Origin": "https://a.example"})
	if w.Code != 404 || w.Header().Get("X-Kind") != "custom" || w.Header().Get("X-Origin") != "https://a.example" ||
		w.Body.String() != `{"error": "Missing Authentication Token", "type": "MISSING_AUTHENTICATION_TOKEN"}` {
		t.Errorf("customized 403 = %d %v %s", w.Code, w.Header(), w.Body)
	}
	// The function's own answers are not touched.
	if w := h.call(api, "GET", "/prod/items/1", nil); w.Code != 200 || w.Body.String() != "ok" {
		t.Errorf("integration answer = %d %s", w.Code, w.Body)
	}
	var gr gatewayResponse
	h.mgmt("GET", base+"/gatewayresponses/THROTTLED", nil, 200, &gr)
	if !gr.DefaultResponse || gr.StatusCode != "429" {
		t.Errorf("default THROTTLED = %+v", gr)
	}
	h.mgmt("PUT", base+"/gatewayresponses/NOT_A_TYPE", map[string]any{}, 400, nil)
	h.mgmt("DELETE", base+"/gatewayresponses/MISSING_AUTHENTICATION_TOKEN", nil, 202, nil)
	if w := h.call(api, "GET", "/prod/nowhere", nil); w.Code != 403 {
		t.Errorf("after delete = %d", w.Code)
	}
}

func TestDocumentationAccountAndDeletes(t *testing.T) {
	h := newHarness(t)
	h.fns.fns["f"] = answer(map[string]any{"statusCode": 200})
	api, _ := h.restAPI("f", nil)
	base := "/restapis/" + api
	var p docPart
	h.mgmt("POST", base+"/documentation/parts", map[string]any{"location": map[string]string{"type": "API"}, "properties": `{"description":"d"}`}, 201, &p)
	h.mgmt("POST", base+"/documentation/parts", map[string]any{"location": map[string]string{"type": "API"}, "properties": `{}`}, 409, nil)
	h.mgmt("POST", base+"/documentation/parts", map[string]any{"location": map[string]string{"type": "NOPE"}, "properties": `{}`}, 400, nil)
	h.mgmt("POST", base+"/documentation/versions", map[string]any{"documentationVersion": "1.0"}, 201, nil)
	var vs struct{ Item []docVersion }
	h.mgmt("GET", base+"/documentation/versions", nil, 200, &vs)
	if len(vs.Item) != 1 || vs.Item[0].Version != "1.0" {
		t.Errorf("versions = %+v", vs)
	}
	h.mgmt("DELETE", base+"/documentation/parts/"+p.ID, nil, 202, nil)
	h.mgmt("GET", base+"/documentation/parts/"+p.ID, nil, 404, nil)
	var acct map[string]any
	h.mgmt("PATCH", "/account", map[string]any{"patchOperations": []map[string]string{{"op": "replace", "path": "/cloudwatchRoleArn", "value": "arn:aws:iam::000000000000:role/cw"}}}, 200, &acct)
	h.mgmt("GET", "/account", nil, 200, &acct)
	if acct["cloudwatchRoleArn"] != "arn:aws:iam::000000000000:role/cw" {
		t.Errorf("account = %v", acct)
	}
	var m restModel
	h.mgmt("POST", base+"/models", map[string]any{"name": "Thing", "contentType": "application/json", "schema": `{"type":"object"}`}, 201, &m)
	h.mgmt("DELETE", base+"/models/Thing", nil, 202, nil)
	h.mgmt("GET", base+"/models/Thing", nil, 404, nil)
	var v restValidator
	h.mgmt("POST", base+"/requestvalidators", map[string]any{"name": "body", "validateRequestBody": true}, 201, &v)
	h.mgmt("GET", base+"/requestvalidators/"+v.ID, nil, 200, nil)
	h.mgmt("DELETE", base+"/requestvalidators/"+v.ID, nil, 202, nil)
	var out struct{ Message string }
	h.mgmt("GET", base+"/requestvalidators/"+v.ID, nil, 404, &out)
	if !strings.Contains(out.Message, "Request Validator") {
		t.Errorf("deleted validator: %s", out.Message)
	}
}
