package apigw

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/httpevent"
)

// testInvokeMethod is TestInvokeMethod (aws apigateway
// test-invoke-method): the method's integration runs on the API's
// current (undeployed) resources, without authorization, and the answer
// carries the execution log API Gateway writes: the method request, the
// endpoint request after the mapping template, the endpoint's answer and
// the method response after the integration response's mapping.
func (g *Gateway) testInvokeMethod(c *call) error {
	var in struct {
		PathWithQueryString string              `json:"pathWithQueryString"`
		Body                string              `json:"body"`
		Headers             map[string]string   `json:"headers"`
		MultiValueHeaders   map[string][]string `json:"multiValueHeaders"`
		StageVariables      map[string]string   `json:"stageVariables"`
		ClientCertificateID string              `json:"clientCertificateId"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	res, m, err := methodOf(doc, c)
	if err != nil {
		return err
	}
	if m.MethodIntegration == nil {
		return badRequest("Execution failed due to configuration error: No integration defined for method")
	}
	target := in.PathWithQueryString
	if target == "" {
		target = res.Path
	}
	if !strings.HasPrefix(target, "/") {
		target = "/" + target
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return badRequest("Invalid pathWithQueryString specified: %s", in.PathWithQueryString)
	}
	method := c.params["http_method"]
	if method == "ANY" {
		method = http.MethodGet
	}
	r := httptest.NewRequestWithContext(c.r.Context(), method, u.RequestURI(), bytes.NewReader([]byte(in.Body)))
	r.Host = doc.API.ID + ".execute-api." + g.region + ".amazonaws.com"
	r.RemoteAddr = "test-invoke-source-ip:0"
	for k, vs := range in.MultiValueHeaders {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	for k, v := range in.Headers {
		r.Header.Set(k, v)
	}
	r.Header.Set("User-Agent", "aws-internal/3 aws-sdk-java/1.12")
	params := map[string]string{}
	if p, ok := parsePattern(res.Path); ok {
		raw, _ := splitPath(u.EscapedPath())
		if pp, _, ok := p.match(raw, false); ok {
			params = pp
		}
	}
	now := g.now()
	reqID := awsapi.NewRequestID()
	stage := &restStage{StageName: "test-invoke-stage", DeploymentID: "test-invoke-deployment-id", Variables: in.StageVariables}
	opts := httpevent.Options{Kind: httpevent.REST, RequestID: reqID, Time: now, AccountID: g.account, APIID: doc.API.ID,
		Stage: stage.StageName, Path: u.Path, Resource: res.Path, ResourceID: res.ID, PathParameters: params,
		StageVariables: stage.Variables, BinaryMediaTypes: doc.API.BinaryMediaTypes}
	lg := &execLog{now: g.now}
	lg.b.WriteString("Execution log for request " + reqID + "\n")
	lg.add("Starting execution for request: %s", reqID)
	lg.add("HTTP Method: %s, Resource Path: %s", method, u.Path)
	lg.add("Method request path: %s", mapLine(params))
	q := map[string]string{}
	for k, vs := range u.Query() {
		q[k] = vs[len(vs)-1]
	}
	lg.add("Method request query string: %s", mapLine(q))
	lg.add("Method request headers: %s", headerLine(r.Header))
	start := time.Now()
	var resp *httpevent.Response
	if m.MethodIntegration.Type == "AWS_PROXY" {
		resp = g.testInvokeProxy(c.r.Context(), r, []byte(in.Body), m.MethodIntegration, stage, opts, now, lg)
	} else {
		mr := &methodRequest{r: r, body: []byte(in.Body), path: params, doc: doc, stage: stage, res: res, method: m, opts: opts,
			now: now, stageVar: stage.Variables}
		resp = g.runIntegration(c.r.Context(), mr, lg)
	}
	headers := map[string]string{}
	for k, vs := range resp.Header {
		if len(vs) > 0 {
			headers[k] = vs[len(vs)-1]
		}
	}
	return c.json(http.StatusOK, map[string]any{
		"status":            resp.StatusCode,
		"body":              string(resp.Body),
		"headers":           headers,
		"multiValueHeaders": resp.Header,
		"log":               lg.b.String(),
		"latency":           time.Since(start).Milliseconds(),
	})
}

// testInvokeProxy runs a Lambda proxy integration for test-invoke-method.
func (g *Gateway) testInvokeProxy(ctx context.Context, r *http.Request, body []byte, integ *restIntegration, stage *restStage,
	opts httpevent.Options, now time.Time, lg *execLog,
) *httpevent.Response {
	payload, err := httpevent.Marshal(buildV1(r, body, opts))
	if err != nil {
		return restTooLarge()
	}
	lg.add("Endpoint request URI: %s", integ.URI)
	lg.add("Endpoint request body after transformations: %s", truncated(payload))
	lg.add("Sending request to %s", integ.URI)
	timeout := time.Duration(integ.TimeoutInMillis) * time.Millisecond
	if timeout <= 0 {
		timeout = 29 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := g.invokeFunction(cctx, r, integ.URI, stage.Variables, payload, now)
	switch {
	case errors.Is(err, errFunction):
		lg.add("Lambda execution failed with status 200 due to customer function error: %s", truncated(out))
		lg.add("Method completed with status: 502")
		return httpevent.BadGateway()
	case err != nil && cctx.Err() != nil:
		lg.add("Execution failed due to a timeout error")
		return restTimeout()
	case err != nil:
		lg.add("Execution failed due to configuration error: %s", err.Error())
		return httpevent.InvokeFailed()
	}
	lg.add("Endpoint response body before transformations: %s", truncated(out))
	resp, err := httpevent.MapV1(out, httpevent.V1Options{REST: true, BinaryMediaTypes: opts.BinaryMediaTypes, Accept: r.Header.Get("Accept")})
	if err != nil {
		lg.add("Execution failed due to configuration error: Malformed Lambda proxy response")
		lg.add("Method completed with status: 502")
		return httpevent.BadGateway()
	}
	lg.add("Method response body after transformations: %s", truncated(resp.Body))
	lg.add("Method response headers: %s", headerLine(resp.Header))
	lg.add("Successfully completed execution")
	lg.add("Method completed with status: %d", resp.StatusCode)
	return resp
}
