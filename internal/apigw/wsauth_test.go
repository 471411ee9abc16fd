package apigw

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// wsAuthorizer answers by the token query parameter: "good*" allows
// (with context), "deny" denies explicitly, "broken" answers no policy.
func wsAuthorizer(p []byte) (*invoke.Result, error) {
	var ev struct {
		MethodArn             string            `json:"methodArn"`
		QueryStringParameters map[string]string `json:"queryStringParameters"`
	}
	_ = json.Unmarshal(p, &ev)
	tok := ev.QueryStringParameters["token"]
	effect := "Allow"
	switch tok {
	case "broken":
		return &invoke.Result{Payload: []byte(`{"principalId":"x"}`)}, nil
	case "deny":
		effect = "Deny"
	}
	b, _ := json.Marshal(map[string]any{
		"principalId": "user-" + tok,
		"policyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{
			map[string]any{"Action": "execute-api:Invoke", "Effect": effect, "Resource": ev.MethodArn},
		}},
		"context": map[string]any{"user": tok, "tier": 7, "admin": false},
	})
	return &invoke.Result{Payload: b}, nil
}

func TestWebSocketLambdaAuthorizer(t *testing.T) {
	h := newWSHarness(t, WSOptions{})
	disconnected := h.connectHandlers(4)
	h.fns.fns["default"] = answer(map[string]any{"statusCode": 200})
	h.fns.fns["echo"] = answer(map[string]any{"statusCode": 200, "body": "ok"})
	h.fns.fns["auth"] = wsAuthorizer
	id := h.chatAPI()
	uri := "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fnArn("auth") + "/invocations"

	// What AWS refuses for a WebSocket API's authorizer.
	for _, bad := range []map[string]any{
		{"name": "j", "authorizerType": "JWT", "identitySource": []string{"route.request.header.Authorization"},
			"jwtConfiguration": map[string]any{"issuer": "https://example.com", "audience": []string{"a"}}},
		{"name": "h", "authorizerType": "REQUEST", "authorizerUri": uri, "identitySource": []string{"$request.header.Auth"}},
		{"name": "m", "authorizerType": "REQUEST", "authorizerUri": uri, "identitySource": []string{"method.request.header.Auth"}},
		{"name": "s", "authorizerType": "REQUEST", "authorizerUri": uri, "enableSimpleResponses": true},
	} {
		h.mgmt("POST", "/v2/apis/"+id+"/authorizers", bad, 400, nil)
	}
	var authz map[string]any
	h.mgmt("POST", "/v2/apis/"+id+"/authorizers", map[string]any{"name": "tok", "authorizerType": "REQUEST", "authorizerUri": uri,
		"identitySource": []string{"route.request.querystring.token"}, "authorizerResultTtlInSeconds": 300}, 201, &authz)
	aid := authz["authorizerId"].(string)

	var routes struct{ Items []map[string]any }
	h.mgmt("GET", "/v2/apis/"+id+"/routes", nil, 200, &routes)
	for _, r := range routes.Items {
		want := 400 // authorization only on $connect
		if r["routeKey"] == "$connect" {
			want = 200
		}
		h.mgmt("PATCH", "/v2/apis/"+id+"/routes/"+r["routeId"].(string),
			map[string]any{"authorizationType": "CUSTOM", "authorizerId": aid}, want, nil)
	}

	// No identity source: 401 without calling the authorizer; a deny: 403;
	// a broken answer: 500. None reaches $connect.
	for _, c := range []struct {
		path   string
		status int
	}{{"/prod", 401}, {"/prod?token=", 401}, {"/prod?token=deny", 403}, {"/prod?token=broken", 500}} {
		if _, status, err := h.dial(id, c.path); err == nil || status != c.status {
			t.Fatalf("dial %s = %d (err %v), want %d", c.path, status, err, c.status)
		}
	}
	if n := h.fns.count("auth"); n != 2 {
		t.Fatalf("authorizer ran %d times, want 2 (not for missing identity sources)", n)
	}
	if n := h.fns.count("connect"); n != 0 {
		t.Fatalf("$connect ran %d times for refused handshakes", n)
	}

	c, _, err := h.dial(id, "/prod?token=good")
	if err != nil {
		t.Fatal(err)
	}
	ev := h.fns.lastEvent(t, "auth")
	wantArn := "arn:aws:execute-api:us-east-1:000000000000:" + id + "/prod/$connect"
	rc, _ := ev["requestContext"].(map[string]any)
	if ev["type"] != "REQUEST" || ev["methodArn"] != wantArn || ev["headers"] == nil || rc["eventType"] != "CONNECT" ||
		rc["routeKey"] != "$connect" || rc["connectionId"] == nil {
		t.Fatalf("authorizer event = %v", ev)
	}
	checkAuthz := func(kind string, ev map[string]any) string {
		t.Helper()
		rc := ev["requestContext"].(map[string]any)
		a, _ := rc["authorizer"].(map[string]any)
		if a["principalId"] != "user-good" || a["user"] != "good" || a["tier"] != float64(7) || a["admin"] != false {
			t.Fatalf("%s requestContext.authorizer = %v", kind, rc["authorizer"])
		}
		if _, ok := a["integrationLatency"].(float64); !ok {
			t.Fatalf("%s authorizer has no integrationLatency: %v", kind, a)
		}
		return rc["connectionId"].(string)
	}
	connID := checkAuthz("CONNECT", h.fns.lastEvent(t, "connect"))
	write(t, c, `{"action":"echo"}`)
	if got := read(t, c); got != "ok" {
		t.Fatalf("echo answered %q", got)
	}
	if got := checkAuthz("MESSAGE", h.fns.lastEvent(t, "echo")); got != connID {
		t.Fatalf("MESSAGE connectionId = %s, want %s", got, connID)
	}

	// The same identity is answered from the cache; another one is not.
	c2, _, err := h.dial(id, "/prod?token=good")
	if err != nil {
		t.Fatal(err)
	}
	if n := h.fns.count("auth"); n != 3 {
		t.Fatalf("authorizer ran %d times, want 3 (the second good token is cached)", n)
	}
	if _, status, _ := h.dial(id, "/prod?token=deny"); status != 403 {
		t.Fatalf("cached deny answered %d", status)
	}
	c3, _, err := h.dial(id, "/prod?token=good2")
	if err != nil {
		t.Fatal(err)
	}
	if n := h.fns.count("auth"); n != 4 {
		t.Fatalf("authorizer ran %d times, want 4", n)
	}
	_ = c2.CloseNow()
	_ = c3.CloseNow()
	for range 2 {
		<-disconnected
	}

	// $disconnect carries the authorizer too.
	_ = c.Close(1000, "")
	select {
	case ev := <-disconnected:
		checkAuthz("DISCONNECT", ev)
	case <-time.After(10 * time.Second):
		t.Fatal("$disconnect did not run")
	}
	// The authorizer in use cannot be deleted.
	h.mgmt("DELETE", "/v2/apis/"+id+"/authorizers/"+aid, nil, 409, nil)
}
