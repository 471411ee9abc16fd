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

	"github.com/coder/websocket"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// fakeConnAuth accepts requests whose Authorization header is "ok".
type fakeConnAuth struct {
	mu        sync.Mutex
	resources []string // guarded by mu
}

func (a *fakeConnAuth) AuthorizeConnections(r *http.Request, resource string) error {
	a.mu.Lock()
	a.resources = append(a.resources, resource)
	a.mu.Unlock()
	switch r.Header.Get("Authorization") {
	case "ok":
		return nil
	case "denied":
		return &awsapi.Error{Status: 403, Code: "AccessDeniedException", Type: "User", Message: "not authorized"}
	}
	return forbiddenErr()
}

type wsHarness struct {
	*harness
	srv  *httptest.Server
	auth *fakeConnAuth
}

// newWSHarness runs a gateway (with its registry) behind a real HTTP
// server.
func newWSHarness(t *testing.T, o WSOptions) *wsHarness {
	h := &wsHarness{harness: newHarness(t), auth: &fakeConnAuth{}}
	h.g.connAuth = h.auth
	h.g.ws = newWSHub(h.g, h.g.docs.st, o)
	h.g.now = time.Now // connection clocks are real
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.g.Run(ctx) }()
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		h.g.CloseConnections(cctx)
		ccancel()
		cancel()
		<-done
	})
	for !h.g.ws.ready() {
		select {
		case err := <-done:
			t.Fatalf("gateway stopped: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := InvokeHost(r.Host)
		h.g.ServeInvoke(w, r, id)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// chatAPI creates a WebSocket API with $connect, $disconnect, $default
// and "echo" (two-way) routes on functions of those names, deployed to
// stage "prod".
func (h *wsHarness) chatAPI() string {
	var api map[string]any
	h.mgmt("POST", "/v2/apis", map[string]any{"name": "chat", "protocolType": "WEBSOCKET",
		"routeSelectionExpression": "$request.body.action"}, 201, &api)
	id := api["apiId"].(string)
	for _, rk := range []string{"$connect", "$disconnect", "$default", "echo"} {
		name := strings.TrimPrefix(rk, "$")
		var integ, route map[string]any
		h.mgmt("POST", "/v2/apis/"+id+"/integrations", map[string]any{"integrationType": "AWS_PROXY",
			"integrationUri": fnArn(name)}, 201, &integ)
		body := map[string]any{"routeKey": rk, "target": "integrations/" + integ["integrationId"].(string)}
		if rk == "echo" {
			body["routeResponseSelectionExpression"] = "$default"
		}
		h.mgmt("POST", "/v2/apis/"+id+"/routes", body, 201, &route)
		if rk == "echo" {
			h.mgmt("POST", "/v2/apis/"+id+"/routes/"+route["routeId"].(string)+"/routeresponses",
				map[string]any{"routeResponseKey": "$default"}, 201, nil)
		}
	}
	h.mgmt("POST", "/v2/apis/"+id+"/stages", map[string]any{"stageName": "prod", "autoDeploy": true}, 201, nil)
	return id
}

func (h *wsHarness) host(id string) string { return id + ".execute-api.us-east-1.localhost:4566" }

// dial connects to the API's stage path; status is the handshake's.
func (h *wsHarness) dial(id, path string) (*websocket.Conn, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.srv.URL, "http")+path, &websocket.DialOptions{Host: h.host(id)})
	status := 0
	if resp != nil {
		status = resp.StatusCode
		if resp.Body != nil {
			_ = resp.Body.Close()
		}
	}
	return c, status, err
}

// connections calls the @connections API.
func (h *wsHarness) connections(id, method, connID, authz string, body []byte) (int, []byte, string) {
	req, _ := http.NewRequest(method, h.srv.URL+"/prod/@connections/"+connID, bytes.NewReader(body))
	req.Host = h.host(id)
	req.Header.Set("Authorization", authz)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header.Get("X-Amzn-ErrorType")
}

func read(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func write(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// connectHandlers answers $connect with 200 and hands each $disconnect
// event to the returned channel (buffered for n).
func (h *wsHarness) connectHandlers(n int) chan map[string]any {
	disconnected := make(chan map[string]any, n)
	h.fns.fns["connect"] = answer(map[string]any{"statusCode": 200})
	h.fns.fns["disconnect"] = func(p []byte) (*invoke.Result, error) {
		var ev map[string]any
		_ = json.Unmarshal(p, &ev)
		disconnected <- ev
		return &invoke.Result{Payload: []byte(`{"statusCode":200}`)}, nil
	}
	return disconnected
}

func TestWebSocketRoutesEventsAndConnections(t *testing.T) {
	h := newWSHarness(t, WSOptions{})
	disconnected := h.connectHandlers(4)
	h.fns.fns["default"] = answer(map[string]any{"statusCode": 200, "body": "not sent: $default has no route response"})
	h.fns.fns["echo"] = func(p []byte) (*invoke.Result, error) {
		var ev struct{ Body string }
		_ = json.Unmarshal(p, &ev)
		b, _ := json.Marshal(map[string]any{"statusCode": 200, "body": "echo:" + ev.Body})
		return &invoke.Result{Payload: b}, nil
	}
	id := h.chatAPI()

	c, _, err := h.dial(id, "/prod?room=blue")
	if err != nil {
		t.Fatal(err)
	}
	ev := h.fns.lastEvent(t, "connect")
	rc := ev["requestContext"].(map[string]any)
	connID, _ := rc["connectionId"].(string)
	if rc["eventType"] != "CONNECT" || rc["routeKey"] != "$connect" || rc["apiId"] != id || rc["stage"] != "prod" ||
		rc["domainName"] != h.host(id) || rc["messageDirection"] != "IN" || len(connID) != 16 {
		t.Fatalf("CONNECT requestContext = %v", rc)
	}
	if _, ok := rc["connectedAt"].(float64); !ok {
		t.Fatalf("connectedAt missing: %v", rc)
	}
	if q := ev["queryStringParameters"].(map[string]any); q["room"] != "blue" {
		t.Fatalf("queryStringParameters = %v", q)
	}
	if hd := ev["headers"].(map[string]any); hd["Host"] != h.host(id) || hd["Sec-Websocket-Key"] == nil {
		t.Fatalf("headers = %v", hd)
	}

	// A custom two-way route answers the client with the function's body.
	write(t, c, `{"action":"echo","text":"hi"}`)
	if got := read(t, c); got != `echo:{"action":"echo","text":"hi"}` {
		t.Fatalf("echo answered %q", got)
	}
	ev = h.fns.lastEvent(t, "echo")
	rc = ev["requestContext"].(map[string]any)
	if rc["eventType"] != "MESSAGE" || rc["routeKey"] != "echo" || rc["connectionId"] != connID || rc["messageId"] == nil ||
		ev["headers"] != nil || ev["isBase64Encoded"] != false {
		t.Fatalf("MESSAGE event = %v", ev)
	}
	// Unknown actions and non-JSON go to $default (one-way here).
	write(t, c, `not json`)
	write(t, c, `{"action":"nope"}`)
	deadline := time.Now().Add(10 * time.Second)
	for h.fns.count("default") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := h.fns.count("default"); n != 2 {
		t.Fatalf("$default ran %d times, want 2", n)
	}

	// @connections: post, get, and their refusals.
	if st, b, _ := h.connections(id, "POST", connID, "ok", []byte("pushed")); st != 200 {
		t.Fatalf("PostToConnection = %d %s", st, b)
	}
	if got := read(t, c); got != "pushed" {
		t.Fatalf("client read %q, want the posted data", got)
	}
	st, b, _ := h.connections(id, "GET", connID, "ok", nil)
	var info struct {
		ConnectedAt, LastActiveAt string
		Identity                  struct{ SourceIP, UserAgent string }
	}
	if err := json.Unmarshal(b, &info); st != 200 || err != nil || info.ConnectedAt == "" || info.LastActiveAt == "" ||
		info.Identity.SourceIP != "127.0.0.1" {
		t.Fatalf("GetConnection = %d %s", st, b)
	}
	for _, authz := range []string{"", "bad-signature"} {
		if st, _, code := h.connections(id, "POST", connID, authz, []byte("x")); st != 403 || code != "ForbiddenException" {
			t.Fatalf("PostToConnection with Authorization %q = %d %s, want 403 ForbiddenException", authz, st, code)
		}
	}
	if st, _, code := h.connections(id, "POST", connID, "denied", []byte("x")); st != 403 || code != "AccessDeniedException" {
		t.Fatalf("denied PostToConnection = %d %s", st, code)
	}
	h.auth.mu.Lock()
	res := h.auth.resources[0]
	h.auth.mu.Unlock()
	if want := "arn:aws:execute-api:us-east-1:000000000000:" + id + "/prod/POST/@connections/" + connID; res != want {
		t.Fatalf("resource = %s, want %s", res, want)
	}
	if st, _, code := h.connections(id, "POST", "ZZZZZZabcdefghi=", "ok", []byte("x")); st != 410 || code != "GoneException" {
		t.Fatalf("PostToConnection to an unknown id = %d %s, want 410 GoneException", st, code)
	}
	if st, _, code := h.connections(id, "POST", connID, "ok", bytes.Repeat([]byte("x"), 128<<10+1)); st != 413 || code != "PayloadTooLargeException" {
		t.Fatalf("oversized PostToConnection = %d %s", st, code)
	}

	// DeleteConnection closes it; $disconnect runs with the status.
	if st, b, _ := h.connections(id, "DELETE", connID, "ok", nil); st != 204 {
		t.Fatalf("DeleteConnection = %d %s", st, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("after DeleteConnection, read = %v, want a normal closure", err)
	}
	select {
	case ev := <-disconnected:
		rc := ev["requestContext"].(map[string]any)
		if rc["eventType"] != "DISCONNECT" || rc["connectionId"] != connID || rc["disconnectStatusCode"] != float64(1000) {
			t.Fatalf("DISCONNECT requestContext = %v", rc)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("$disconnect did not run")
	}
	if st, _, code := h.connections(id, "GET", connID, "ok", nil); st != 410 || code != "GoneException" {
		t.Fatalf("GetConnection after delete = %d %s", st, code)
	}
}

func TestWebSocketConnectRefusedAndLimits(t *testing.T) {
	h := newWSHarness(t, WSOptions{IdleTimeout: 300 * time.Millisecond})
	h.fns.fns["connect"] = func(p []byte) (*invoke.Result, error) {
		if strings.Contains(string(p), "let-me-in") {
			return &invoke.Result{Payload: []byte(`{"statusCode":200}`)}, nil
		}
		return &invoke.Result{Payload: []byte(`{"statusCode":401,"body":"no"}`)}, nil
	}
	h.fns.fns["disconnect"] = answer(map[string]any{"statusCode": 200})
	h.fns.fns["default"] = answer(map[string]any{"statusCode": 200})
	h.fns.fns["echo"] = func([]byte) (*invoke.Result, error) { return nil, errors.New("boom") }
	id := h.chatAPI()

	if _, status, err := h.dial(id, "/prod"); err == nil || status != 401 {
		t.Fatalf("a $connect answering 401 let the connection in (err %v)", err)
	}
	if _, status, err := h.dial(id, "/nostage"); err == nil || status != 403 {
		t.Fatalf("an unknown stage was accepted (err %v)", err)
	}

	c, _, err := h.dial(id, "/prod?token=let-me-in")
	if err != nil {
		t.Fatal(err)
	}
	// A failing integration is reported to the client.
	write(t, c, `{"action":"echo"}`)
	var msg map[string]string
	if err := json.Unmarshal([]byte(read(t, c)), &msg); err != nil || msg["message"] != "Internal server error" || msg["connectionId"] == "" {
		t.Fatalf("integration failure message = %v", msg)
	}
	// A message above 128 KB closes the connection with 1009; the node
	// keeps serving others.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.Write(ctx, websocket.MessageText, bytes.Repeat([]byte("a"), 128<<10+1))
	if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("oversized message: read = %v, want close 1009", err)
	}
	c2, _, err := h.dial(id, "/prod?token=let-me-in")
	if err != nil {
		t.Fatalf("after an oversized message the node refused a new connection: %v", err)
	}
	// An idle connection is closed with 1001.
	if _, _, err := c2.Read(ctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("idle connection: read = %v, want close 1001", err)
	}
}

func TestWebSocketManagement(t *testing.T) {
	h := newHarness(t)
	h.mgmt("POST", "/v2/apis", map[string]any{"name": "x", "protocolType": "WEBSOCKET"}, 400, nil)
	h.mgmt("POST", "/v2/apis", map[string]any{"name": "x", "protocolType": "WEBSOCKET", "routeSelectionExpression": "${request.method}"}, 400, nil)
	var api map[string]any
	h.mgmt("POST", "/v2/apis", map[string]any{"name": "x", "protocolType": "WEBSOCKET", "routeSelectionExpression": "${request.body.action}"}, 201, &api)
	id := api["apiId"].(string)
	if api["protocolType"] != "WEBSOCKET" || api["routeSelectionExpression"] != "${request.body.action}" {
		t.Fatalf("CreateApi = %v", api)
	}
	h.mgmt("POST", "/v2/apis/"+id+"/integrations", map[string]any{"integrationType": "HTTP_PROXY", "integrationUri": "http://x"}, 400, nil)
	h.mgmt("POST", "/v2/apis/"+id+"/integrations", map[string]any{"integrationType": "AWS_PROXY", "integrationUri": fnArn("f"),
		"connectionType": "VPC_LINK"}, 400, nil)
	var integ map[string]any
	h.mgmt("POST", "/v2/apis/"+id+"/integrations", map[string]any{"integrationType": "AWS_PROXY", "integrationUri": fnArn("f")}, 201, &integ)
	if integ["payloadFormatVersion"] != "1.0" {
		t.Fatalf("integration = %v", integ)
	}
	h.mgmt("POST", "/v2/apis/"+id+"/routes", map[string]any{"routeKey": "$bogus"}, 400, nil)
	h.mgmt("POST", "/v2/apis/"+id+"/routes", map[string]any{"routeKey": "send", "authorizationType": "AWS_IAM"}, 400, nil)
	var route map[string]any
	h.mgmt("POST", "/v2/apis/"+id+"/routes", map[string]any{"routeKey": "send", "target": "integrations/" + integ["integrationId"].(string)}, 201, &route)
	rid := route["routeId"].(string)
	h.mgmt("POST", "/v2/apis/"+id+"/routes/"+rid+"/routeresponses", map[string]any{"routeResponseKey": "$other"}, 400, nil)
	var rr map[string]any
	h.mgmt("POST", "/v2/apis/"+id+"/routes/"+rid+"/routeresponses", map[string]any{"routeResponseKey": "$default"}, 201, &rr)
	var items struct{ Items []map[string]any }
	h.mgmt("GET", "/v2/apis/"+id+"/routes/"+rid+"/routeresponses", nil, 200, &items)
	if len(items.Items) != 1 || items.Items[0]["routeResponseKey"] != "$default" || items.Items[0]["routeId"] != nil {
		t.Fatalf("GetRouteResponses = %v", items)
	}
	h.mgmt("DELETE", "/v2/apis/"+id+"/routes/"+rid+"/routeresponses/"+rr["routeResponseId"].(string), nil, 204, nil)
	var dep map[string]any
	h.mgmt("POST", "/v2/apis/"+id+"/deployments", map[string]any{}, 201, &dep)
	h.mgmt("DELETE", "/v2/apis/"+id+"/deployments/"+dep["deploymentId"].(string), nil, 204, nil)
}

func TestSelectionExpression(t *testing.T) {
	e, ok := parseSelectionExpression("$request.body.msg.kind")
	if !ok {
		t.Fatal("refused a nested expression")
	}
	var v any
	_ = json.Unmarshal([]byte(`{"msg":{"kind":"join"}}`), &v)
	if k := e.selectKey(v); k != "join" {
		t.Fatalf("selected %q", k)
	}
	for _, bad := range []string{"", "$request.body.", "$request.header.x", "action", "$request.body.a..b"} {
		if _, ok := parseSelectionExpression(bad); ok {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzSelectionExpression(f *testing.F) {
	f.Add("$request.body.action", `{"action":"x"}`)
	f.Add("${request.body.a.b}", `{"a":{"b":1}}`)
	f.Fuzz(func(t *testing.T, expr, msg string) {
		e, ok := parseSelectionExpression(expr)
		if !ok {
			return
		}
		var v any
		if json.Unmarshal([]byte(msg), &v) == nil {
			_ = e.selectKey(v)
		}
	})
}
