package apigw

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/httpevent"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/trace"
)

// A WebSocket connection's life on the node that holds it:
//
//	upgrade request ──► $connect authorizer (AWS_IAM signature or Lambda,
//	                          │  wsauth.go) ──refused──► 401/403/500
//	                          ▼
//	                    $connect integration ──non-2xx──► refused (its status)
//	                          │ 2xx (or no $connect route)
//	                          ▼
//	                      accepted: registered (local map, backbone registry)
//	                          │ messages ─► route selection ─► integration
//	                          │            (two-way routes answer the client)
//	                          ▼
//	  client close, read error, 128 KB message or 32 KB frame (1009), idle 10 min or
//	  2 h lifetime (1001), DeleteConnection (1000), node stop (1001)
//	                          ▼
//	                      unregistered ──► $disconnect integration
//
// When the node dies instead, another node's sweep (wshub.go) finds the
// connection registered to a holder that no longer renews its presence,
// removes it and runs $disconnect.

// WSOptions bound WebSocket connections; zero fields take API Gateway's
// limits. Tests shorten them.
type WSOptions struct {
	// IdleTimeout closes a connection without messages for this long
	// (10 minutes).
	IdleTimeout time.Duration
	// MaxLifetime closes a connection this long after it opened (2 hours).
	MaxLifetime time.Duration
	// MaxMessage is the largest message a client may send (128 KiB);
	// a larger one closes the connection with 1009.
	MaxMessage int64
	// MaxFrame is the largest frame a client may send (32 KiB); a larger
	// one closes the connection with 1009 (wsframe.go).
	MaxFrame int64
	// PresenceTTL is how long a node's presence outlives its last renewal
	// (10 s); SweepInterval how often nodes look for connections of dead
	// holders (5 s).
	PresenceTTL   time.Duration
	SweepInterval time.Duration
}

func (o WSOptions) withDefaults() WSOptions {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 10 * time.Minute
	}
	if o.MaxLifetime <= 0 {
		o.MaxLifetime = 2 * time.Hour
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = 128 << 10
	}
	if o.MaxFrame <= 0 {
		o.MaxFrame = 32 << 10
	}
	if o.PresenceTTL <= 0 {
		o.PresenceTTL = 10 * time.Second
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = 5 * time.Second
	}
	return o
}

// maxInFlight bounds the messages of one connection whose integrations
// run at once; the connection is not read while it is reached.
const maxInFlight = 16

// wsConn is a client connection this node holds.
type wsConn struct {
	id        string
	apiID     string
	stage     string
	domain    string
	sourceIP  string
	userAgent string
	connected time.Time
	// authorizer is the $connect Lambda authorizer's answer every event
	// of the connection carries (requestContext.authorizer), or nil.
	authorizer map[string]any
	c          *websocket.Conn
	frames     *frameConn // the client's connection beneath c

	lastActive atomic.Int64 // unix nanoseconds of the last message either way
	done       chan struct{}
	inflight   chan struct{}
	wg         sync.WaitGroup // running message integrations

	mu          sync.Mutex
	closeCode   websocket.StatusCode // guarded by mu; set by the node when it closes
	closeReason string               // guarded by mu
}

func (c *wsConn) touch(now time.Time) { c.lastActive.Store(now.UnixNano()) }

// close closes the connection from the server side.
func (c *wsConn) close(code websocket.StatusCode, reason string) {
	c.mu.Lock()
	if c.closeCode == 0 {
		c.closeCode, c.closeReason = code, reason
	}
	c.mu.Unlock()
	_ = c.c.Close(code, reason)
}

// serveWebSocket serves a WebSocket API's host: the upgrade to
// /<stage>, and the @connections API under /<stage>/@connections/.
func (g *Gateway) serveWebSocket(w http.ResponseWriter, r *http.Request, doc *httpDoc) {
	raw, ok := splitPath(r.URL.EscapedPath())
	if !ok || len(raw) == 0 {
		httpForbidden().Write(w)
		return
	}
	name, err := url.PathUnescape(raw[0])
	st := doc.stage(name)
	if err != nil || st == nil {
		httpForbidden().Write(w)
		return
	}
	if len(raw) >= 2 && raw[1] == "@connections" {
		g.serveConnections(w, r, doc, name, raw[2:])
		return
	}
	if len(raw) != 1 {
		httpForbidden().Write(w)
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		httpevent.Message(http.StatusUpgradeRequired, "Upgrade Required").Write(w)
		return
	}
	g.wsConnect(w, r, doc, st)
}

// wsConnect runs $connect and, when it allows, accepts the connection.
func (g *Gateway) wsConnect(w http.ResponseWriter, r *http.Request, doc *httpDoc, st *httpStage) {
	view := doc.view(st)
	if view == nil {
		httpForbidden().Write(w)
		return
	}
	if !g.ws.ready() {
		httpUnavailable().Write(w)
		return
	}
	now := g.now()
	c := &wsConn{
		id: g.ws.newConnID(), apiID: doc.API.APIID, stage: st.StageName, domain: r.Host,
		sourceIP: sourceIP(r), userAgent: r.UserAgent(), connected: now,
		done: make(chan struct{}), inflight: make(chan struct{}, maxInFlight),
	}
	var subprotocols []string
	if route := view.wsRoute(wsConnect); route != nil {
		var iamID *httpevent.IAMIdentity
		reqID := httpRequestID()
		switch route.AuthorizationType {
		case "AWS_IAM":
			// A WebSocket route's ARN ends with its route key.
			id, deny := g.authenticate(r, strings.TrimSuffix(g.executeAPIArn(c.apiID, st.StageName, wsConnect, ""), "/"))
			if deny {
				g.stats.denied.Add(1)
				httpForbidden().Write(w)
				return
			}
			iamID = id
		case "CUSTOM":
			authz, refusal := g.authorizeWSConnect(r, view, c, st, route, reqID, now)
			if refusal != nil {
				g.countRefusal(refusal)
				refusal.Write(w)
				return
			}
			c.authorizer = authz
		}
		if integ := view.integration(strings.TrimPrefix(route.Target, "integrations/")); integ != nil {
			ev := g.wsEvent(c, "CONNECT", wsConnect, reqID, now, st)
			addConnectRequest(ev, r, iamID)
			out, err := g.wsInvoke(r.Context(), integ, st, ev)
			if err != nil {
				g.stats.integrationErrors.Add(1)
				httpInternal().Write(w)
				return
			}
			resp, err := httpevent.MapV1(out, httpevent.V1Options{})
			if err != nil {
				g.stats.integrationErrors.Add(1)
				httpBadGateway().Write(w)
				return
			}
			if resp.StatusCode < 200 || resp.StatusCode > 299 {
				resp.Write(w) // the function refused the connection
				return
			}
			if p := resp.Header.Get("Sec-Websocket-Protocol"); p != "" {
				subprotocols = []string{p}
			}
		}
	}
	c.frames = &frameConn{limit: uint64(max(g.ws.opts.MaxFrame, 0)), onOver: func() {
		// Called from inside c.c's Read: close from another goroutine,
		// as the idle watch does. The connection's run goroutine is
		// alive (it is reading), so the hub's wait group is not at zero.
		g.ws.wg.Add(1)
		go func() {
			defer g.ws.wg.Done()
			c.close(websocket.StatusMessageTooBig, "Frame size limit exceeded")
		}()
	}}
	conn, err := websocket.Accept(&frameLimitWriter{ResponseWriter: w, fc: c.frames}, r, &websocket.AcceptOptions{
		// API Gateway does not check Origin: the $connect function may.
		InsecureSkipVerify: true, Subprotocols: subprotocols, CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		g.log.Debug("websocket upgrade failed", "api_id", doc.API.APIID, "err", err)
		return
	}
	conn.SetReadLimit(g.ws.opts.MaxMessage)
	c.c = conn
	c.touch(now)
	g.ws.start(c)
}

// sourceIP is the client's address (X-Forwarded-For is not trusted).
func sourceIP(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// run reads the connection's messages until it closes, then unregisters
// it and runs $disconnect. The hub owns it (wg).
func (h *wsHub) run(ctx context.Context, c *wsConn) {
	defer h.wg.Done()
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		h.watch(c)
	}()
	var err error
	for {
		var typ websocket.MessageType
		var data []byte
		typ, data, err = c.c.Read(ctx)
		if err != nil {
			break
		}
		if c.frames != nil && c.frames.over.Load() {
			continue // closing with 1009: its message is not routed
		}
		c.touch(h.g.now())
		c.inflight <- struct{}{}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer func() { <-c.inflight }()
			h.g.wsMessage(ctx, c, typ, data)
		}()
	}
	close(c.done)
	_ = c.c.CloseNow()
	<-watchDone
	c.wg.Wait()
	code, reason := closeOf(c, err)
	h.unregister(c)
	h.g.wsDisconnect(ctx, c, code, reason)
}

// closeOf is the disconnect status of a connection that ended with err:
// the code the node closed with, else the client's, else 1006.
func closeOf(c *wsConn, err error) (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeCode != 0 {
		return int(c.closeCode), c.closeReason
	}
	if code := websocket.CloseStatus(err); code != -1 {
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return int(code), ce.Reason
		}
		return int(code), ""
	}
	return int(websocket.StatusAbnormalClosure), "Connection closed abnormally"
}

// watch closes c when it has been idle too long or lived its lifetime.
func (h *wsHub) watch(c *wsConn) {
	life := time.NewTimer(h.opts.MaxLifetime)
	defer life.Stop()
	for {
		left := h.opts.IdleTimeout - time.Since(time.Unix(0, c.lastActive.Load()))
		if left <= 0 {
			c.close(websocket.StatusGoingAway, "Going away")
			return
		}
		t := time.NewTimer(left)
		select {
		case <-c.done:
			t.Stop()
			return
		case <-life.C:
			t.Stop()
			c.close(websocket.StatusGoingAway, "Going away")
			return
		case <-t.C:
		}
	}
}

// wsMessage routes one message to its integration.
func (g *Gateway) wsMessage(ctx context.Context, c *wsConn, typ websocket.MessageType, data []byte) {
	g.stats.requests.Add(1)
	reqID := httpRequestID()
	doc := g.docs.httpAPI(c.apiID)
	if doc == nil {
		c.close(websocket.StatusGoingAway, "Going away")
		return
	}
	st := doc.stage(c.stage)
	var view *httpView
	if st != nil {
		view = doc.view(st)
	}
	if view == nil {
		g.wsError(ctx, c, "Forbidden", reqID)
		return
	}
	key := wsDefault
	body, b64 := string(data), false
	if typ == websocket.MessageBinary {
		body, b64 = base64.StdEncoding.EncodeToString(data), true
	} else if expr, ok := parseSelectionExpression(doc.API.RouteSelectionExpression); ok {
		var v any
		if json.Unmarshal(data, &v) == nil {
			if k := expr.selectKey(v); k != "" && k != wsConnect && k != wsDisconnect && view.wsRoute(k) != nil {
				key = k
			}
		}
	}
	route := view.wsRoute(key)
	var integ *httpIntegration
	if route != nil {
		integ = view.integration(strings.TrimPrefix(route.Target, "integrations/"))
	}
	if integ == nil {
		g.wsError(ctx, c, "Forbidden", reqID)
		return
	}
	ev := g.wsEvent(c, "MESSAGE", key, reqID, g.now(), st)
	ev["requestContext"].(map[string]any)["messageId"] = httpRequestID()
	ev["body"], ev["isBase64Encoded"] = body, b64
	out, err := g.wsInvoke(ctx, integ, st, ev)
	if err != nil {
		g.stats.integrationErrors.Add(1)
		g.wsError(ctx, c, "Internal server error", reqID)
		return
	}
	if !view.twoWay(route) {
		return
	}
	mt, msg := websocket.MessageText, out
	var resp struct {
		Body            *string `json:"body"`
		IsBase64Encoded bool    `json:"isBase64Encoded"`
	}
	if json.Unmarshal(out, &resp) == nil && resp.Body != nil {
		msg = []byte(*resp.Body)
		if resp.IsBase64Encoded {
			if b, err := base64.StdEncoding.DecodeString(*resp.Body); err == nil {
				mt, msg = websocket.MessageBinary, b
			}
		}
	}
	_ = g.ws.write(ctx, c, mt, msg)
}

// wsError sends API Gateway's error message for a message it could not
// deliver.
func (g *Gateway) wsError(ctx context.Context, c *wsConn, msg, reqID string) {
	b, _ := json.Marshal(map[string]string{"message": msg, "connectionId": c.id, "requestId": reqID})
	_ = g.ws.write(ctx, c, websocket.MessageText, b)
}

// wsDisconnect runs the $disconnect route of c's API, if it has one.
func (g *Gateway) wsDisconnect(ctx context.Context, c *wsConn, code int, reason string) {
	doc := g.docs.httpAPI(c.apiID)
	if doc == nil {
		return
	}
	st := doc.stage(c.stage)
	if st == nil {
		return
	}
	view := doc.view(st)
	if view == nil {
		return
	}
	route := view.wsRoute(wsDisconnect)
	if route == nil {
		return
	}
	integ := view.integration(strings.TrimPrefix(route.Target, "integrations/"))
	if integ == nil {
		return
	}
	ev := g.wsEvent(c, "DISCONNECT", wsDisconnect, httpRequestID(), g.now(), st)
	rc := ev["requestContext"].(map[string]any)
	rc["disconnectStatusCode"], rc["disconnectReason"] = code, reason
	if _, err := g.wsInvoke(ctx, integ, st, ev); err != nil {
		g.log.Debug("$disconnect integration failed", "api_id", c.apiID, "err", err)
	}
}

// wsEvent is the Lambda proxy event of a WebSocket API, as API Gateway
// sends it (aws-lambda-go's APIGatewayWebsocketProxyRequest).
func (g *Gateway) wsEvent(c *wsConn, eventType, routeKey, reqID string, now time.Time, st *httpStage) map[string]any {
	identity := map[string]any{"sourceIp": c.sourceIP}
	if eventType != "MESSAGE" {
		identity["userAgent"] = c.userAgent
	}
	ev := map[string]any{
		"requestContext": map[string]any{
			"routeKey": routeKey, "eventType": eventType, "extendedRequestId": reqID,
			"requestTime": now.UTC().Format("02/Jan/2006:15:04:05 -0700"), "messageDirection": "IN",
			"stage": c.stage, "connectedAt": c.connected.UnixMilli(), "requestTimeEpoch": now.UnixMilli(),
			"identity": identity, "requestId": reqID, "domainName": c.domain, "connectionId": c.id, "apiId": c.apiID,
		},
		"isBase64Encoded": false,
	}
	if c.authorizer != nil {
		ev["requestContext"].(map[string]any)["authorizer"] = c.authorizer
	}
	if len(st.StageVariables) > 0 {
		ev["stageVariables"] = st.StageVariables
	}
	return ev
}

// addConnectRequest adds what only $connect's event carries: the
// upgrade request's headers and query string, and an IAM caller.
func addConnectRequest(ev map[string]any, r *http.Request, iamID *httpevent.IAMIdentity) {
	headers, multi := map[string]string{}, map[string][]string{}
	for k, vs := range r.Header {
		headers[k] = vs[len(vs)-1]
		multi[k] = vs
	}
	headers["Host"], multi["Host"] = r.Host, []string{r.Host}
	ev["headers"], ev["multiValueHeaders"] = headers, multi
	if q := r.URL.Query(); len(q) > 0 {
		single := map[string]string{}
		for k, vs := range q {
			single[k] = vs[len(vs)-1]
		}
		ev["queryStringParameters"], ev["multiValueQueryStringParameters"] = single, map[string][]string(q)
	}
	if iamID != nil {
		id := ev["requestContext"].(map[string]any)["identity"].(map[string]any)
		id["accessKey"], id["accountId"], id["caller"] = iamID.AccessKey, iamID.AccountID, iamID.CallerID
		id["user"], id["userArn"] = iamID.UserID, iamID.UserARN
	}
}

// wsInvoke runs an integration's function with a WebSocket event and
// returns its answer; a function error is errFunction.
func (g *Gateway) wsInvoke(ctx context.Context, integ *httpIntegration, st *httpStage, ev map[string]any) ([]byte, error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	timeout := time.Duration(integ.TimeoutInMillis) * time.Millisecond
	if timeout <= 0 {
		timeout = 29 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cfg, arn, err := g.resolveFunction(ctx, integ.IntegrationURI, st.StageVariables)
	if err != nil {
		return nil, err
	}
	mode := ""
	if cfg.TracingConfig != nil {
		mode = cfg.TracingConfig.Mode
	}
	tr := trace.Accept(http.Header{}, mode, g.now())
	res, err := g.inv.Invoke(ctx, cfg, &invoke.Request{RequestID: awsapi.NewRequestID(), InvokedFunctionArn: arn,
		Payload: payload, TraceID: tr.Header.String()})
	if err != nil {
		return nil, err
	}
	if res.FunctionError != "" {
		return res.Payload, errFunction
	}
	return res.Payload, nil
}
