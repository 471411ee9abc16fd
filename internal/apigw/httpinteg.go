package apigw

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/httpevent"
)

// HTTP API integrations besides Lambda proxy: HTTP_PROXY (an HTTP
// endpoint on loopback or an allowed host, as REST's HTTP integrations)
// and AWS_PROXY with an integrationSubtype (a service action, as the
// integration's credentialsArn role). Both, and Lambda proxy
// integrations, take parameter mapping (httpmapping.go).

// applyShared applies the members HTTP and WebSocket API integrations
// take alike.
func (in *integrationInput) applyShared(x *httpIntegration) error {
	if in.Description != nil {
		x.Description = *in.Description
	}
	if in.IntegrationMethod != nil {
		x.IntegrationMethod = strings.ToUpper(*in.IntegrationMethod)
	}
	if in.ConnectionType != nil {
		if *in.ConnectionType == "VPC_LINK" {
			return badRequest("Nimbus has no VPC links: connectionType VPC_LINK is not supported; use INTERNET.")
		}
		x.ConnectionType = *in.ConnectionType
	}
	if in.RequestParameters != nil {
		x.RequestParameters = in.RequestParameters
	}
	return nil
}

// applyHTTP applies CreateIntegration's or UpdateIntegration's body to
// an HTTP API integration and checks the result.
func (in *integrationInput) applyHTTP(x *httpIntegration) error {
	if in.IntegrationType != nil {
		switch t := *in.IntegrationType; t {
		case "AWS_PROXY", "HTTP_PROXY":
			x.IntegrationType = t
		case "AWS", "HTTP", "MOCK":
			return badRequest("Invalid integrationType %s: HTTP APIs support AWS_PROXY (Lambda, or a service with integrationSubtype) and HTTP_PROXY; %s integrations are for REST and WebSocket APIs.", t, t)
		default:
			return badRequest("Invalid integrationType %s: must be AWS_PROXY or HTTP_PROXY.", t)
		}
	}
	if in.RequestTemplates != nil || in.TemplateSelectionExpression != nil || in.ContentHandlingStrategy != nil || in.PassthroughBehavior != nil {
		return badRequest("Mapping templates, contentHandlingStrategy and passthroughBehavior are only supported for WebSocket APIs; HTTP APIs use requestParameters.")
	}
	if in.IntegrationSubtype != nil {
		x.IntegrationSubtype = *in.IntegrationSubtype
	}
	if in.CredentialsArn != nil {
		c := *in.CredentialsArn
		if c != "" && !strings.HasPrefix(c, "arn:aws:iam::") {
			return badRequest("Invalid credentialsArn %s: an IAM role ARN.", c)
		}
		if strings.HasPrefix(c, "arn:aws:iam::*:") {
			return badRequest("Nimbus does not pass the caller's credentials through to integrations (credentialsArn %s); name a role.", c)
		}
		x.CredentialsArn = c
	}
	if in.IntegrationURI != nil {
		x.IntegrationURI = *in.IntegrationURI
	}
	if in.PayloadFormatVersion != nil {
		if *in.PayloadFormatVersion != "1.0" && *in.PayloadFormatVersion != "2.0" {
			return badRequest("Invalid payloadFormatVersion %s: must be 1.0 or 2.0.", *in.PayloadFormatVersion)
		}
		x.PayloadFormatVersion = *in.PayloadFormatVersion
	}
	if in.TimeoutInMillis != nil {
		if *in.TimeoutInMillis < 50 || *in.TimeoutInMillis > 30000 {
			return badRequest("Invalid timeoutInMillis %d: must be between 50 and 30000.", *in.TimeoutInMillis)
		}
		x.TimeoutInMillis = *in.TimeoutInMillis
	}
	if err := in.applyShared(x); err != nil {
		return err
	}
	if in.ResponseParameters != nil {
		x.ResponseParameters = in.ResponseParameters
	}
	switch {
	case x.IntegrationType == "AWS_PROXY" && x.IntegrationSubtype != "":
		if err := checkSubtype(x.IntegrationSubtype, x.RequestParameters); err != nil {
			return err
		}
		if x.PayloadFormatVersion == "" {
			x.PayloadFormatVersion = "1.0"
		}
		if x.PayloadFormatVersion != "1.0" {
			return badRequest("Invalid payloadFormatVersion %s: AWS service integrations support only 1.0.", x.PayloadFormatVersion)
		}
	case x.IntegrationType == "AWS_PROXY":
		if x.IntegrationURI == "" {
			return badRequest("Invalid input: integrationUri is required for AWS_PROXY integrations.")
		}
		if _, err := checkFunctionURI(x.IntegrationURI); err != nil {
			return badRequest("Invalid integrationUri %s: an AWS_PROXY integration needs a Lambda function ARN (or an integrationSubtype).", x.IntegrationURI)
		}
		if err := checkRequestMapping(x.RequestParameters); err != nil {
			return err
		}
	case x.IntegrationType == "HTTP_PROXY":
		if x.IntegrationSubtype != "" {
			return badRequest("integrationSubtype is only valid with integrationType AWS_PROXY.")
		}
		u, err := url.Parse(replaceStageVariables(x.IntegrationURI, func(string) string { return "x" }))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return badRequest("Invalid integrationUri %s: an HTTP_PROXY integration needs an http:// or https:// URL (Nimbus has no VPC links for load balancer ARNs).", x.IntegrationURI)
		}
		if x.PayloadFormatVersion == "" {
			x.PayloadFormatVersion = "1.0"
		}
		if x.PayloadFormatVersion != "1.0" {
			return badRequest("Invalid payloadFormatVersion %s: HTTP_PROXY integrations support only 1.0.", x.PayloadFormatVersion)
		}
		if err := checkRequestMapping(x.RequestParameters); err != nil {
			return err
		}
	}
	return checkResponseMapping(x.ResponseParameters)
}

// httpContextVars are the $context variables mapping values read.
func httpContextVars(r *http.Request, opts *httpevent.Options) map[string]string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	prefix, _, _ := strings.Cut(host, ".")
	ip := r.RemoteAddr
	if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	path := opts.Path
	if opts.Stage != "$default" {
		path = "/" + opts.Stage + opts.Path
	}
	m := map[string]string{
		"accountId": opts.AccountID, "apiId": opts.APIID, "stage": opts.Stage, "routeKey": opts.RouteKey,
		"requestId": opts.RequestID, "httpMethod": r.Method, "path": path, "protocol": r.Proto,
		"domainName": host, "domainPrefix": prefix, "identity.sourceIp": ip, "identity.userAgent": r.UserAgent(),
		"requestTime":      opts.Time.UTC().Format("02/Jan/2006:15:04:05 -0700"),
		"requestTimeEpoch": strconv.FormatInt(opts.Time.UnixMilli(), 10),
	}
	for k, v := range opts.Authorizer {
		if s, ok := v.(string); ok {
			m["authorizer."+k] = s
		} else if v != nil {
			m["authorizer."+k] = fmt.Sprint(v)
		}
	}
	if opts.JWT != nil {
		for k, v := range opts.JWT.Claims {
			m["authorizer.claims."+k] = v
		}
	}
	if opts.IAM != nil {
		m["identity.accountId"], m["identity.caller"], m["identity.userArn"] = opts.IAM.AccountID, opts.IAM.CallerID, opts.IAM.UserARN
	}
	return m
}

// mapLambdaRequest applies a Lambda integration's requestParameters to
// the request its event is built from.
func mapLambdaRequest(r *http.Request, integ *httpIntegration, env *mapEnv, opts *httpevent.Options) *http.Request {
	if len(integ.RequestParameters) == 0 {
		return r
	}
	mr := mappedRequest{header: r.Header.Clone(), query: r.URL.Query()}
	applyRequestMapping(integ.RequestParameters, env, &mr)
	r2 := r.Clone(r.Context())
	r2.Header = mr.header
	u := *r.URL
	u.RawQuery = mr.query.Encode()
	if mr.path != "" {
		u.Path, u.RawPath = mr.path, ""
		opts.Path = mr.path
	}
	r2.URL = &u
	return r2
}

// hopHeaders are not forwarded by a proxy (RFC 9110 7.6.1).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// httpProxy calls an HTTP_PROXY integration: the client's request,
// mapped, to the integration URI with the route's path parameters in it
// (and the request path appended for the $default route).
func (g *Gateway) httpProxy(ctx context.Context, r *http.Request, body []byte, integ *httpIntegration, route *httpRoute, env *mapEnv) *httpevent.Response {
	raw := replaceStageVariables(integ.IntegrationURI, func(n string) string { return env.stageVars[n] })
	u, err := url.Parse(fillPath(raw, env.params, true))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		g.log.Debug("http proxy integration: invalid endpoint", "api_id", env.context["apiId"])
		return httpInternal()
	}
	if route.RouteKey == "$default" {
		u.Path = strings.TrimSuffix(u.Path, "/") + env.path
	}
	if !g.allowedHost(u.Hostname()) {
		g.log.Warn("http integration host refused", "api_id", env.context["apiId"], "host", u.Hostname(),
			"hint", "allow it with --apigw-http-hosts")
		return httpInternal()
	}
	mr := mappedRequest{header: r.Header.Clone(), query: u.Query()}
	for k, vs := range r.URL.Query() {
		mr.query[k] = append(mr.query[k], vs...)
	}
	for _, h := range hopHeaders {
		mr.header.Del(h)
	}
	mr.header.Add("X-Forwarded-For", env.context["identity.sourceIp"])
	mr.header.Set("X-Forwarded-Proto", map[bool]string{false: "http", true: "https"}[r.TLS != nil])
	applyRequestMapping(integ.RequestParameters, env, &mr)
	if mr.path != "" {
		u.Path, u.RawPath = "/"+strings.TrimPrefix(mr.path, "/"), ""
	}
	u.RawQuery = mr.query.Encode()
	method := integ.IntegrationMethod
	if method == "" || method == "ANY" {
		method = r.Method
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return httpInternal()
	}
	req.Header = mr.header
	resp, err := g.httpClient().Do(req) //nolint:gosec // G704: allowedHost and the dialer admit only loopback or allowed hosts
	if err != nil {
		g.stats.integrationErrors.Add(1)
		if ctx.Err() != nil && r.Context().Err() == nil {
			return httpUnavailable()
		}
		g.log.Debug("http proxy integration failed", "api_id", env.context["apiId"], "err", err)
		return httpInternal()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxIntegrationBody+1))
	if err != nil || len(b) > maxIntegrationBody {
		g.stats.integrationErrors.Add(1)
		return httpInternal()
	}
	h := resp.Header.Clone()
	for _, k := range append(hopHeaders, "Content-Length") {
		h.Del(k)
	}
	return g.mapHTTPResponse(integ, env, resp.StatusCode, h, b)
}

// mapHTTPResponse applies the integration's responseParameters.
func (g *Gateway) mapHTTPResponse(integ *httpIntegration, env *mapEnv, status int, h http.Header, body []byte) *httpevent.Response {
	env.respHeader, env.respBody = h.Clone(), body
	status = applyResponseMapping(integ.ResponseParameters, env, status, h)
	return &httpevent.Response{StatusCode: status, Header: h, Body: body}
}

// callSubtype calls an AWS service integration as its credentials role.
func (g *Gateway) callSubtype(ctx context.Context, r *http.Request, integ *httpIntegration, env *mapEnv) *httpevent.Response {
	st, ok := subtypes[integ.IntegrationSubtype]
	if !ok || g.aws == nil || integ.CredentialsArn == "" {
		g.log.Debug("service integration cannot run", "api_id", env.context["apiId"], "subtype", integ.IntegrationSubtype,
			"has_credentials", integ.CredentialsArn != "")
		g.stats.integrationErrors.Add(1)
		return httpInternal()
	}
	params := make(map[string]string, len(integ.RequestParameters))
	for k, v := range integ.RequestParameters {
		pv, err := parseMapValue(v, false)
		if err != nil {
			return httpInternal()
		}
		params[k] = env.eval(pv)
	}
	if reg := params["Region"]; reg != "" && reg != g.region {
		g.log.Debug("service integration names another region", "api_id", env.context["apiId"], "region", reg)
		return httpInternal()
	}
	body, ctype, target, err := subtypeRequest(st, params)
	if err != nil {
		return httpevent.Message(http.StatusBadRequest, err.Error())
	}
	u := &url.URL{Scheme: "http", Host: st.service + "." + g.region + ".amazonaws.com", Path: "/"}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return httpInternal()
	}
	req.Header.Set("Content-Type", ctype)
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	resp, err := g.aws.CallAWS(ctx, st.service, integ.CredentialsArn, req)
	if err != nil {
		g.stats.integrationErrors.Add(1)
		switch {
		case errors.Is(err, ErrAssumeRole):
			g.log.Debug("service integration: API Gateway does not have permission to assume the provided role", "api_id", env.context["apiId"], "role", integ.CredentialsArn)
		case ctx.Err() != nil && r.Context().Err() == nil:
			return httpUnavailable()
		default:
			g.log.Debug("service integration failed", "api_id", env.context["apiId"], "err", err)
		}
		return httpInternal()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxIntegrationBody+1))
	if err != nil || len(b) > maxIntegrationBody {
		g.stats.integrationErrors.Add(1)
		return httpInternal()
	}
	h := http.Header{}
	h.Set("Content-Type", resp.Header.Get("Content-Type"))
	if st.service == "sqs" {
		if js, err := sqsJSON(b); err == nil {
			b = js
			h.Set("Content-Type", "application/json")
		}
	}
	if h.Get("Content-Type") == "" {
		h.Del("Content-Type")
	}
	return g.mapHTTPResponse(integ, env, resp.StatusCode, h, b)
}

// integrationTimeout is an HTTP API integration's timeout.
func integrationTimeout(integ *httpIntegration) time.Duration {
	if integ.TimeoutInMillis <= 0 {
		return 30 * time.Second
	}
	return time.Duration(integ.TimeoutInMillis) * time.Millisecond
}
