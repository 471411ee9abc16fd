package apigw

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// WebSocket APIs (protocolType WEBSOCKET) share the apigatewayv2
// document of HTTP APIs (httpDoc): their routes are keyed by the value
// the API's route selection expression picks from a message ($connect,
// $disconnect, $default or a custom key), their integrations are Lambda
// proxies, and their routes may have route responses (two-way routes).
// The connections themselves are served by wsconn.go.

const protocolWebSocket = "WEBSOCKET"

// Route keys WebSocket APIs predefine.
const (
	wsConnect    = "$connect"
	wsDisconnect = "$disconnect"
	wsDefault    = "$default"
)

// routeResponse is a WebSocket route's response: with one keyed
// $default, the integration's answer goes back to the client.
type routeResponse struct {
	RouteID                  string            `json:"routeId"` // stored, not on the wire
	ModelSelectionExpression string            `json:"modelSelectionExpression,omitempty"`
	ResponseModels           map[string]string `json:"responseModels,omitempty"`
	ResponseParameters       map[string]any    `json:"responseParameters,omitempty"`
	RouteResponseID          string            `json:"routeResponseId"`
	RouteResponseKey         string            `json:"routeResponseKey"`
}

// wire is a route response as the API shows it.
func (r routeResponse) wire() map[string]any {
	m := map[string]any{"routeResponseId": r.RouteResponseID, "routeResponseKey": r.RouteResponseKey}
	if r.ModelSelectionExpression != "" {
		m["modelSelectionExpression"] = r.ModelSelectionExpression
	}
	if r.ResponseModels != nil {
		m["responseModels"] = r.ResponseModels
	}
	if r.ResponseParameters != nil {
		m["responseParameters"] = r.ResponseParameters
	}
	return m
}

// selectionExpr is a compiled route selection expression:
// $request.body.<path> or ${request.body.<path>}, the path a dotted list
// of JSON member names.
type selectionExpr struct {
	path []string
}

// parseSelectionExpression compiles a WebSocket route selection
// expression.
func parseSelectionExpression(s string) (selectionExpr, bool) {
	if strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}") {
		s = "$" + s[2:len(s)-1]
	}
	rest, ok := strings.CutPrefix(s, "$request.body.")
	if !ok || rest == "" || len(rest) > 512 {
		return selectionExpr{}, false
	}
	path := strings.Split(rest, ".")
	for _, p := range path {
		if p == "" || strings.ContainsAny(p, "${} ") {
			return selectionExpr{}, false
		}
	}
	return selectionExpr{path: path}, true
}

// selectKey evaluates the expression on a message: the route key, or ""
// when the message is not JSON or the member is missing or not a scalar.
func (e selectionExpr) selectKey(v any) string {
	for _, p := range e.path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	switch x := v.(type) {
	case string:
		return x
	case bool, float64:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return ""
}

// validWSRouteKey checks a WebSocket route key: the predefined keys or a
// custom one (1 to 128 characters, no leading $).
func validWSRouteKey(k string) bool {
	switch k {
	case wsConnect, wsDisconnect, wsDefault:
		return true
	}
	return k != "" && len(k) <= 128 && !strings.HasPrefix(k, "$")
}

func (g *Gateway) createWebSocketAPI(c *call, in *apiInput) error {
	if in.RouteSelectionExpression == nil {
		return badRequest("Invalid input: routeSelectionExpression is required for WEBSOCKET APIs.")
	}
	if in.Target != nil || in.RouteKey != nil {
		return badRequest("Quick create (target, routeKey) is only supported for HTTP APIs.")
	}
	if in.CorsConfiguration != nil {
		return badRequest("CORS configuration is only supported for HTTP APIs.")
	}
	doc := &httpDoc{API: httpAPI{
		APIID: newID(10), ProtocolType: protocolWebSocket, IPAddressType: "ipv4", CreatedDate: g.isoNow(),
		APIKeySelectionExpression: "$request.header.x-api-key", Tags: map[string]string{},
	}}
	if in.Tags != nil {
		doc.API.Tags = in.Tags
	}
	if err := in.apply(&doc.API); err != nil {
		return err
	}
	if err := g.docs.create(c.r.Context(), httpKey(doc.API.APIID), doc); err != nil {
		return err
	}
	return c.json(http.StatusCreated, g.wireAPI(doc.API))
}

// applyWebSocket is CreateIntegration's and UpdateIntegration's change
// of a WebSocket API's integration: Lambda proxy (AWS_PROXY) only.
func (in *integrationInput) applyWebSocket(x *httpIntegration) error {
	if in.IntegrationType != nil {
		if *in.IntegrationType != "AWS_PROXY" {
			return badRequest("Nimbus supports integrationType AWS_PROXY (Lambda proxy) only for WebSocket APIs; got %s.", *in.IntegrationType)
		}
		x.IntegrationType = *in.IntegrationType
	}
	if in.IntegrationSubtype != nil {
		return badRequest("integrationSubtype is only supported for HTTP APIs.")
	}
	if in.IntegrationURI != nil {
		if _, err := checkFunctionURI(*in.IntegrationURI); err != nil {
			return badRequest("Invalid integrationUri %s: an AWS_PROXY integration needs a Lambda function ARN.", *in.IntegrationURI)
		}
		x.IntegrationURI = *in.IntegrationURI
	}
	if in.PayloadFormatVersion != nil && *in.PayloadFormatVersion != "1.0" {
		return badRequest("Invalid payloadFormatVersion %s: WebSocket APIs support only 1.0.", *in.PayloadFormatVersion)
	}
	x.PayloadFormatVersion = "1.0"
	if in.TimeoutInMillis != nil {
		if *in.TimeoutInMillis < 50 || *in.TimeoutInMillis > 29000 {
			return badRequest("Invalid timeoutInMillis %d: must be between 50 and 29000.", *in.TimeoutInMillis)
		}
		x.TimeoutInMillis = *in.TimeoutInMillis
	}
	if x.TimeoutInMillis > 29000 {
		x.TimeoutInMillis = 29000
	}
	if in.ContentHandlingStrategy != nil {
		if v := *in.ContentHandlingStrategy; v != "CONVERT_TO_BINARY" && v != "CONVERT_TO_TEXT" {
			return badRequest("Invalid contentHandlingStrategy %s: must be CONVERT_TO_BINARY or CONVERT_TO_TEXT.", v)
		}
		x.ContentHandlingStrategy = *in.ContentHandlingStrategy
	}
	if in.PassthroughBehavior != nil {
		x.PassthroughBehavior = *in.PassthroughBehavior
	}
	if in.RequestTemplates != nil || in.TemplateSelectionExpression != nil {
		return badRequest("Nimbus does not support mapping templates on WebSocket integrations; use AWS_PROXY.")
	}
	if err := in.applyShared(x); err != nil {
		return err
	}
	if x.IntegrationURI == "" {
		return badRequest("Invalid input: integrationUri is required for AWS_PROXY integrations.")
	}
	return nil
}

// routeResponseInput is CreateRouteResponse's and UpdateRouteResponse's
// body.
type routeResponseInput struct {
	ModelSelectionExpression *string           `json:"modelSelectionExpression"`
	ResponseModels           map[string]string `json:"responseModels"`
	ResponseParameters       map[string]any    `json:"responseParameters"`
	RouteResponseKey         *string           `json:"routeResponseKey"`
}

func (in *routeResponseInput) apply(d *httpDoc, x *routeResponse) error {
	if in.RouteResponseKey != nil {
		if *in.RouteResponseKey != "$default" {
			return badRequest("Invalid routeResponseKey %s: Lambda proxy routes support only $default.", *in.RouteResponseKey)
		}
		for _, o := range d.RouteResponses {
			if o != x && o.RouteID == x.RouteID && o.RouteResponseKey == *in.RouteResponseKey {
				return conflict("RouteResponse with key %s already exists for this Route", *in.RouteResponseKey)
			}
		}
		x.RouteResponseKey = *in.RouteResponseKey
	}
	if in.ModelSelectionExpression != nil {
		x.ModelSelectionExpression = *in.ModelSelectionExpression
	}
	if in.ResponseModels != nil {
		x.ResponseModels = in.ResponseModels
	}
	if in.ResponseParameters != nil {
		x.ResponseParameters = in.ResponseParameters
	}
	return nil
}

// routeResponseOp changes one route response of the API and route the
// request names.
func (g *Gateway) routeResponseOp(c *call, change func(d *httpDoc, i int) error) (*routeResponse, error) {
	id, err := g.apiID(c)
	if err != nil {
		return nil, err
	}
	rid, rrid := c.params["routeId"], c.params["routeResponseId"]
	var out *routeResponse
	_, err = update(c.r.Context(), g.docs, httpKey(id), apiNotFound(id), func(d *httpDoc) error {
		if !slices.ContainsFunc(d.Routes, func(r *httpRoute) bool { return r.RouteID == rid }) {
			return notFound("Invalid Route identifier specified %s", rid)
		}
		i := slices.IndexFunc(d.RouteResponses, func(x *routeResponse) bool { return x.RouteID == rid && x.RouteResponseID == rrid })
		if i < 0 {
			return notFound("Invalid RouteResponse identifier specified %s", rrid)
		}
		out = d.RouteResponses[i]
		return change(d, i)
	})
	return out, err
}

func (g *Gateway) createRouteResponse(c *call) error {
	id, err := g.apiID(c)
	if err != nil {
		return err
	}
	var in routeResponseInput
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.RouteResponseKey == nil {
		return badRequest("Invalid input: routeResponseKey is required.")
	}
	x := &routeResponse{RouteID: c.params["routeId"], RouteResponseID: newID(6)}
	if _, err := update(c.r.Context(), g.docs, httpKey(id), apiNotFound(id), func(d *httpDoc) error {
		if d.API.ProtocolType != protocolWebSocket {
			return badRequest("Route responses are only supported for WebSocket APIs.")
		}
		if !slices.ContainsFunc(d.Routes, func(r *httpRoute) bool { return r.RouteID == x.RouteID }) {
			return notFound("Invalid Route identifier specified %s", x.RouteID)
		}
		if err := in.apply(d, x); err != nil {
			return err
		}
		d.RouteResponses = append(d.RouteResponses, x)
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, x.wire())
}

func (g *Gateway) getRouteResponses(c *call) error {
	doc, err := g.httpDocOf(c)
	if err != nil {
		return err
	}
	rid := c.params["routeId"]
	if !slices.ContainsFunc(doc.Routes, func(r *httpRoute) bool { return r.RouteID == rid }) {
		return notFound("Invalid Route identifier specified %s", rid)
	}
	items := []map[string]any{}
	for _, x := range doc.RouteResponses {
		if x.RouteID == rid {
			items = append(items, x.wire())
		}
	}
	return c.json(http.StatusOK, map[string]any{"items": items})
}

func (g *Gateway) getRouteResponse(c *call) error {
	doc, err := g.httpDocOf(c)
	if err != nil {
		return err
	}
	for _, x := range doc.RouteResponses {
		if x.RouteID == c.params["routeId"] && x.RouteResponseID == c.params["routeResponseId"] {
			return c.json(http.StatusOK, x.wire())
		}
	}
	return notFound("Invalid RouteResponse identifier specified %s", c.params["routeResponseId"])
}

func (g *Gateway) updateRouteResponse(c *call) error {
	var in routeResponseInput
	if err := c.decode(&in); err != nil {
		return err
	}
	x, err := g.routeResponseOp(c, func(d *httpDoc, i int) error { return in.apply(d, d.RouteResponses[i]) })
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, x.wire())
}

func (g *Gateway) deleteRouteResponse(c *call) error {
	if _, err := g.routeResponseOp(c, func(d *httpDoc, i int) error {
		d.RouteResponses = slices.Delete(d.RouteResponses, i, i+1)
		return nil
	}); err != nil {
		return err
	}
	return c.noContent(http.StatusNoContent)
}

// deleteDeploymentV2 deletes a deployment no stage serves.
func (g *Gateway) deleteDeploymentV2(c *call) error {
	id, err := g.apiID(c)
	if err != nil {
		return err
	}
	did := c.params["deploymentId"]
	if _, err := update(c.r.Context(), g.docs, httpKey(id), apiNotFound(id), func(d *httpDoc) error {
		i := slices.IndexFunc(d.Deployments, func(x *httpDeployment) bool { return x.DeploymentID == did })
		if i < 0 {
			return notFound("Invalid Deployment identifier specified %s", did)
		}
		for _, s := range d.Stages {
			if s.DeploymentID == did {
				return badRequest("Active stages pointing to this deployment must be moved or deleted")
			}
		}
		d.Deployments = slices.Delete(d.Deployments, i, i+1)
		return nil
	}); err != nil {
		return err
	}
	return c.noContent(http.StatusNoContent)
}

// twoWay reports whether route r of view v has a $default route
// response: the integration's answer is sent back to the client.
func (v *httpView) twoWay(r *httpRoute) bool {
	if r.RouteResponseSelectionExpression == "" {
		return false
	}
	return slices.ContainsFunc(v.responses, func(x *routeResponse) bool {
		return x.RouteID == r.RouteID && x.RouteResponseKey == "$default"
	})
}

// wsRoute is the route keyed k in v, or nil.
func (v *httpView) wsRoute(k string) *httpRoute {
	for _, r := range v.routes {
		if r.RouteKey == k {
			return r
		}
	}
	return nil
}
