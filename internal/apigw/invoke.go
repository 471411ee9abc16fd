package apigw

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/httpevent"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/trace"
)

// Limits of the invoke path, as API Gateway's.
const (
	// maxRequestBody is API Gateway's payload limit (10 MB); the event
	// must then fit Lambda's 6 MB synchronous payload limit.
	maxRequestBody = 10 << 20
	maxEvent       = 6 << 20
)

// ServeInvoke serves a request to the API apiID (see InvokeHost).
func (g *Gateway) ServeInvoke(w http.ResponseWriter, r *http.Request, apiID string) {
	g.stats.requests.Add(1)
	_, viaDomain := mappedStage(r)
	if doc := g.docs.httpAPI(apiID); doc != nil {
		if doc.API.DisableExecuteAPIEndpoint && !viaDomain {
			httpForbidden().Write(w) // reachable only through a custom domain name
			return
		}
		if doc.API.ProtocolType == protocolWebSocket {
			g.serveWebSocket(w, r, doc)
			return
		}
		g.serveHTTPAPI(w, r, doc)
		return
	}
	if doc := g.docs.restAPI(apiID); doc != nil {
		if doc.API.DisableExecuteAPIEndpoint && !viaDomain {
			httpevent.Message(http.StatusForbidden, "Forbidden").Write(w)
			return
		}
		g.serveREST(w, r, doc)
		return
	}
	w.Header().Set("X-Amzn-ErrorType", "NotFoundException")
	httpevent.Message(http.StatusNotFound, "Not Found").Write(w)
}

// httpRequestID is an HTTP API request id (apigw-requestid), like
// "JKJaXmPLvHcESHA=".
func httpRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])[:15] + "="
}

// readBody reads the request body within API Gateway's limit.
func readBody(r *http.Request) ([]byte, bool) {
	if r.ContentLength > maxRequestBody {
		return nil, false
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil || len(b) > maxRequestBody {
		return nil, false
	}
	return b, true
}

// HTTP API answers (their messages are capitalised, REST's are not).
var (
	httpNotFound = func() *httpevent.Response { return httpevent.Message(http.StatusNotFound, "Not Found") }
	httpTooMany  = func() *httpevent.Response { return httpevent.Message(http.StatusTooManyRequests, "Too Many Requests") }
	httpInternal = func() *httpevent.Response {
		return httpevent.Message(http.StatusInternalServerError, "Internal Server Error")
	}
	httpBadGateway  = func() *httpevent.Response { return httpevent.Message(http.StatusBadGateway, "Internal Server Error") }
	httpUnavailable = func() *httpevent.Response {
		return httpevent.Message(http.StatusServiceUnavailable, "Service Unavailable")
	}
	httpTooLarge = func() *httpevent.Response {
		return httpevent.Message(http.StatusRequestEntityTooLarge, "Request Entity Too Large")
	}
	httpUnauthorized = func() *httpevent.Response { return httpevent.Message(http.StatusUnauthorized, "Unauthorized") }
	httpForbidden    = func() *httpevent.Response { return httpevent.Message(http.StatusForbidden, "Forbidden") }
)

// pickStage chooses the stage a path addresses: a named stage by the
// first segment, else $default. rest is the path below the stage.
func pickStage[S any](raw []string, find func(string) *S) (st *S, name string, rest []string) {
	if len(raw) > 0 {
		if first, err := url.PathUnescape(raw[0]); err == nil && first != "$default" {
			if s := find(first); s != nil {
				return s, first, raw[1:]
			}
		}
	}
	if s := find("$default"); s != nil {
		return s, "$default", raw
	}
	return nil, "", nil
}

func (g *Gateway) serveHTTPAPI(w http.ResponseWriter, r *http.Request, doc *httpDoc) {
	reqID := httpRequestID()
	w.Header().Set("Apigw-Requestid", reqID)
	if c := doc.API.CorsConfiguration; c != nil {
		if isPreflight(r) {
			c.preflight(w, r)
			return
		}
		w = &corsWriter{ResponseWriter: w, c: c, r: r}
	}
	g.httpAPIResponse(r, doc, reqID).Write(w)
}

// httpAPIResponse is an HTTP API's answer to r: the function's mapped
// response, or API Gateway's own refusal. Every way a request can fail
// returns here, and serveHTTPAPI writes the one answer.
func (g *Gateway) httpAPIResponse(r *http.Request, doc *httpDoc, reqID string) *httpevent.Response {
	now := g.now()
	raw, ok := splitPath(r.URL.EscapedPath())
	if !ok {
		return httpNotFound()
	}
	stage, stageName, rest := pickStage(raw, doc.stage)
	if name, ok := mappedStage(r); ok { // through a custom domain name
		stage, stageName, rest = doc.stage(name), name, raw
	}
	if stage == nil {
		return httpNotFound()
	}
	view := doc.view(stage)
	if view == nil { // a stage without autoDeploy that was never deployed
		return httpNotFound()
	}
	idx, params := matchRoutes(view.keys, r.Method, rest, true)
	if idx < 0 {
		return httpNotFound()
	}
	route := view.routes[idx]
	if !g.allowHTTP(doc, stage, route, now) {
		g.stats.throttled.Add(1)
		return httpTooMany()
	}
	integ := view.integration(strings.TrimPrefix(route.Target, "integrations/"))
	if integ == nil {
		return httpNotFound()
	}
	body, ok := readBody(r)
	if !ok {
		return httpTooLarge()
	}
	opts := httpevent.Options{
		Kind: httpevent.HTTPAPI, RequestID: reqID, Time: now, AccountID: g.account, APIID: doc.API.APIID,
		Stage: stageName, RouteKey: route.RouteKey, PathParameters: params, StageVariables: stage.StageVariables,
		Path: "/" + strings.Join(rest, "/"), Resource: routePath(route.RouteKey),
	}
	if route.AuthorizationType == "AWS_IAM" {
		id, deny := g.authenticate(r, g.executeAPIArn(doc.API.APIID, stageName, r.Method, opts.Path))
		if deny {
			g.stats.denied.Add(1)
			return httpForbidden()
		}
		opts.IAM = id
	}
	if route.AuthorizationType == "JWT" {
		a := view.authorizer(route.AuthorizerID)
		if a == nil {
			return httpInternal()
		}
		claims, deny := g.authorizeJWT(r, a, route, now)
		if deny != nil {
			g.countRefusal(deny)
			return deny
		}
		opts.JWT = claims
		if integ.PayloadFormatVersion == "1.0" {
			opts.JWT, opts.Authorizer = nil, map[string]any{"claims": claims.Claims, "scopes": claims.Scopes}
		}
	}
	if route.AuthorizationType == "CUSTOM" {
		a := view.authorizer(route.AuthorizerID)
		if a == nil {
			return httpInternal()
		}
		res, deny := g.authorizeHTTP(r, doc, a, stageName, route, opts, now)
		if deny != nil {
			g.countRefusal(deny)
			return deny
		}
		opts.Authorizer = res.context
		if integ.PayloadFormatVersion == "1.0" {
			opts.Authorizer = res.v1Context()
		}
	}
	ctx := r.Context()
	timeout := integrationTimeout(integ)
	env := &mapEnv{r: r, body: body, path: opts.Path, params: params, stageVars: stage.StageVariables, context: httpContextVars(r, &opts)}
	if integ.IntegrationType == "HTTP_PROXY" || integ.IntegrationSubtype != "" {
		ictx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if integ.IntegrationType == "HTTP_PROXY" {
			return g.httpProxy(ictx, r, body, integ, route, env)
		}
		return g.callSubtype(ictx, r, integ, env)
	}
	r = mapLambdaRequest(r, integ, env, &opts)
	cfg, arn, err := g.resolveFunction(ctx, integ.IntegrationURI, stage.StageVariables)
	if err != nil {
		g.log.Debug("integration function unavailable", "api_id", doc.API.APIID, "err", err)
		return httpInternal()
	}
	tr := traceOf(r, cfg, now)
	r.Header.Set(trace.HeaderXRay, tr)
	var payload []byte
	if integ.PayloadFormatVersion == "1.0" {
		payload, err = httpevent.Marshal(buildV1(r, body, opts))
	} else {
		payload, err = httpevent.Marshal(buildV2(r, body, opts))
	}
	if err != nil || len(payload) > maxEvent {
		return httpTooLarge()
	}
	ictx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := g.inv.Invoke(ictx, cfg, &invoke.Request{RequestID: awsapi.NewRequestID(), InvokedFunctionArn: arn, Payload: payload, TraceID: tr})
	switch {
	case err != nil && ictx.Err() != nil && ctx.Err() == nil:
		g.stats.integrationErrors.Add(1)
		return httpUnavailable()
	case err != nil:
		g.log.Debug("invoke refused", "api_id", doc.API.APIID, "err", err)
		g.stats.integrationErrors.Add(1)
		return httpInternal()
	case res.FunctionError != "":
		g.stats.integrationErrors.Add(1)
		return httpBadGateway()
	}
	var resp *httpevent.Response
	if integ.PayloadFormatVersion == "1.0" {
		resp, err = httpevent.MapV1(res.Payload, httpevent.V1Options{})
	} else {
		resp, err = httpevent.MapV2(res.Payload)
	}
	if err != nil {
		g.log.Debug("malformed proxy response", "api_id", doc.API.APIID, "err", err)
		g.stats.integrationErrors.Add(1)
		return httpBadGateway()
	}
	if len(integ.ResponseParameters) > 0 {
		if resp.Header == nil {
			resp.Header = http.Header{}
		}
		return g.mapHTTPResponse(integ, env, resp.StatusCode, resp.Header, resp.Body)
	}
	return resp
}

// routePath is a route key's path ("GET /items/{id}" -> "/items/{id}").
func routePath(key string) string {
	if _, p, ok := strings.Cut(key, " "); ok {
		return p
	}
	return key
}

// allowHTTP applies the stage's default and the route's throttling.
func (g *Gateway) allowHTTP(doc *httpDoc, st *httpStage, route *httpRoute, now time.Time) bool {
	base := doc.API.APIID + "/" + st.StageName
	if rs := st.RouteSettings[route.RouteKey]; rs != nil && (rs.ThrottlingRateLimit != nil || rs.ThrottlingBurstLimit != nil) {
		return g.limits.allow(base+"/"+route.RouteKey, rs.ThrottlingRateLimit, rs.ThrottlingBurstLimit, now)
	}
	if d := st.DefaultRouteSettings; d != nil {
		return g.limits.allow(base, d.ThrottlingRateLimit, d.ThrottlingBurstLimit, now)
	}
	return true
}

// traceOf accepts or creates the request's X-Ray trace header.
func traceOf(r *http.Request, cfg *function.Config, now time.Time) string {
	mode := ""
	if cfg.TracingConfig != nil {
		mode = cfg.TracingConfig.Mode
	}
	tr := trace.Accept(r.Header, mode, now)
	trace.Record(r.Context(), tr)
	return tr.Header.String()
}

// invokeFunction runs a function by integration or authorizer URI and
// returns its answer; a function error is errFunction.
func (g *Gateway) invokeFunction(ctx context.Context, r *http.Request, uri string, stageVars map[string]string, payload []byte, now time.Time) ([]byte, error) {
	cfg, arn, err := g.resolveFunction(ctx, uri, stageVars)
	if err != nil {
		return nil, err
	}
	tr := traceOf(r, cfg, now)
	res, err := g.inv.Invoke(ctx, cfg, &invoke.Request{RequestID: awsapi.NewRequestID(), InvokedFunctionArn: arn, Payload: payload, TraceID: tr})
	if err != nil {
		return nil, err
	}
	if res.FunctionError != "" {
		return res.Payload, errFunction
	}
	return res.Payload, nil
}

var errFunction = errors.New("function error")

// authenticate checks the SigV4 signature of a request to an AWS_IAM
// route or method, and the caller's permission to execute-api:Invoke
// resource (its ARN); deny is set when either fails.
func (g *Gateway) authenticate(r *http.Request, resource string) (*httpevent.IAMIdentity, bool) {
	if g.auth == nil {
		return nil, true
	}
	id, err := g.auth.Authenticate(r, resource)
	if err != nil {
		g.log.Debug("execute-api signature refused", "err", err)
		return nil, true
	}
	return id, false
}

// corsWriter applies an HTTP API's CORS configuration to whatever answer
// is written, the function's or the gateway's own.
type corsWriter struct {
	http.ResponseWriter
	c    *cors
	r    *http.Request
	done bool
}

func (w *corsWriter) WriteHeader(code int) {
	if !w.done {
		w.done = true
		w.c.apply(w.Header(), w.r)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *corsWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// countRefusal counts an authorizer's answer: 401 and 403 are refusals,
// anything else (a failed authorizer, 500) an integration error.
func (g *Gateway) countRefusal(r *httpevent.Response) {
	if r.StatusCode == http.StatusUnauthorized || r.StatusCode == http.StatusForbidden {
		g.stats.denied.Add(1)
		return
	}
	g.stats.integrationErrors.Add(1)
}
