package apigw

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/httpevent"
)

// A WebSocket API's Lambda authorizer (type REQUEST) guards its $connect
// route only, as on AWS:
//
//	upgrade request ──► identity sources (route.request.header.X,
//	   │                route.request.querystring.X, stageVariables.X,
//	   │                context.X): one missing or empty ──► 401
//	   ▼
//	cache (authorizerResultTtlInSeconds > 0, keyed by the sources' values)
//	   │ miss: the authorizer function gets the $connect request
//	   │ (type REQUEST, methodArn .../<stage>/$connect)
//	   ▼
//	its IAM policy for methodArn: Deny or no Allow ──► 403; it fails ──► 500
//	   │ Allow
//	   ▼
//	$connect integration, then every later event of the connection
//	(MESSAGE, DISCONNECT) carries requestContext.authorizer: principalId,
//	the policy's context members and integrationLatency.
//
// AWS documents authorizerResultTtlInSeconds as "supported only for HTTP
// API Lambda authorizers"; its default is 0 (no cache), and Nimbus
// honours a value a WebSocket API's authorizer was given rather than
// silently ignoring it (docs/design/websockets.md).

// checkWebSocket is CreateAuthorizer's check of a WebSocket API's
// authorizer: REQUEST, identity sources in the route.request form,
// no simple responses or payload format version (HTTP API features).
func (in *authorizerInput) checkWebSocket(a *httpAuthorizer) error {
	if in.EnableSimpleResponses != nil && *in.EnableSimpleResponses {
		return badRequest("enableSimpleResponses is supported only for HTTP APIs.")
	}
	a.AuthorizerPayloadFormatVersion, a.EnableSimpleResponses = "", false
	for _, s := range a.IdentitySource {
		src, ok := parseIdentitySource(s)
		if !ok || (!src.route && src.where != "context" && src.where != "stageVariables") || strings.HasPrefix(s, "$") {
			return badRequest("Invalid identitySource %s: a WebSocket API's identity sources are route.request.header.<name>, route.request.querystring.<name>, stageVariables.<name> or context.<name>.", s)
		}
	}
	return nil
}

// authorizeWSConnect runs a $connect route's Lambda authorizer for the
// upgrade request r; it returns the authorizer member of the
// connection's events, or the refusal to answer the handshake with.
func (g *Gateway) authorizeWSConnect(r *http.Request, view *httpView, c *wsConn, st *httpStage, route *httpRoute,
	reqID string, now time.Time,
) (map[string]any, *httpevent.Response) {
	a := view.authorizer(route.AuthorizerID)
	if a == nil || a.AuthorizerType != "REQUEST" {
		return nil, httpInternal()
	}
	ctxVals := map[string]string{"requestId": reqID, "stage": st.StageName, "routeKey": wsConnect, "apiId": c.apiID,
		"connectionId": c.id, "eventType": "CONNECT", "domainName": c.domain}
	ids, ok := identityValues(a.IdentitySource, r, st.StageVariables, ctxVals)
	if !ok && len(a.IdentitySource) > 0 {
		return nil, httpUnauthorized()
	}
	methodArn := g.executeAPIArn(c.apiID, st.StageName, wsConnect, "")
	methodArn = strings.TrimSuffix(methodArn, "/")
	cacheKey := c.apiID + "|" + a.AuthorizerID + "|" + strings.Join(ids, "\x00")
	var res *authzResult
	hit := false
	if a.AuthorizerResultTTLInSeconds > 0 {
		if res, hit = g.authz.get(cacheKey, now); hit {
			g.stats.authzCacheHits.Add(1)
		}
	}
	latency := int64(0)
	if !hit {
		ev := g.wsEvent(c, "CONNECT", wsConnect, reqID, now, st)
		addConnectRequest(ev, r, nil)
		ev["type"], ev["methodArn"] = "REQUEST", methodArn
		payload, err := httpevent.Marshal(ev)
		if err != nil {
			return nil, httpInternal()
		}
		ctx, cancel := context.WithTimeout(r.Context(), 29*time.Second)
		defer cancel()
		start := time.Now()
		out, err := g.invokeFunction(ctx, r, a.AuthorizerURI, st.StageVariables, payload, now)
		latency = time.Since(start).Milliseconds()
		if err != nil {
			g.log.Debug("authorizer failed", "api_id", c.apiID, "authorizer_id", a.AuthorizerID, "err", err)
			return nil, httpInternal()
		}
		if res, err = parseAuthorizerResponse(out, false); err != nil {
			g.log.Debug("authorizer answer refused", "api_id", c.apiID, "err", err)
			return nil, httpInternal()
		}
		if a.AuthorizerResultTTLInSeconds > 0 {
			g.authz.put(cacheKey, res, now.Add(time.Duration(a.AuthorizerResultTTLInSeconds)*time.Second), now)
		}
	}
	if allow, _ := res.policy.decision(methodArn); !allow {
		return nil, httpForbidden()
	}
	authz := res.v1Context()
	authz["integrationLatency"] = latency
	return authz, nil
}
