package apigw

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nimbus-serverless/nimbus/internal/httpevent"
	"github.com/nimbus-serverless/nimbus/internal/vtl"
)

// Non-proxy REST integrations (AWS, HTTP, HTTP_PROXY, MOCK), the path of
// one request:
//
//	method request ─► request template (chosen by Content-Type, or
//	passthroughBehavior) ─► request parameters ─► endpoint (the node's
//	own AWS API as the credentials role, an HTTP endpoint, a Lambda
//	function, or nothing for MOCK) ─► integration response chosen by
//	selectionPattern ─► response parameters and template ─► method
//	response
//
// Every step writes a line to an execution log: test-invoke-method
// returns it, and the node logs it at debug level.

// AWSCaller sends an AWS integration's request to the node's own service
// API (service is its signing name: sqs, states, dynamodb, ...) signed as
// roleArn. An error wrapping ErrAssumeRole means API Gateway may not act
// as the role; other errors mean the request could not be sent.
type AWSCaller interface {
	CallAWS(ctx context.Context, service, roleArn string, r *http.Request) (*http.Response, error)
}

// ErrAssumeRole is an AWS integration's credentials role that API
// Gateway cannot assume (missing, or not trusting apigateway.amazonaws.com).
var ErrAssumeRole = errors.New("API Gateway does not have permission to assume the provided role")

// maxIntegrationBody bounds what an endpoint's answer is read up to: API
// Gateway's 10 MB payload limit.
const maxIntegrationBody = 10 << 20

// execLog is an execution log, in API Gateway's words and format.
type execLog struct {
	now func() time.Time
	b   strings.Builder
}

func (l *execLog) add(format string, args ...any) {
	if l == nil {
		return
	}
	l.b.WriteString(l.now().UTC().Format("Mon Jan 02 15:04:05 MST 2006"))
	l.b.WriteString(" : ")
	fmt.Fprintf(&l.b, format, args...)
	l.b.WriteByte('\n')
}

// truncated shows at most 1,000 bytes of a payload, as execution logs do.
func truncated(b []byte) string {
	if len(b) > 1000 {
		return string(b[:1000]) + " [TRUNCATED]"
	}
	return string(b)
}

func headerLine(h http.Header) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strings.Join(h[k], ",")
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func mapLine(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// methodRequest is a method request as integrations see it.
type methodRequest struct {
	r        *http.Request
	body     []byte
	path     map[string]string
	doc      *restDoc
	stage    *restStage
	res      *restResource
	method   *restMethod
	opts     httpevent.Options
	now      time.Time
	stageVar map[string]string
}

func (mr *methodRequest) query() map[string]string {
	out := map[string]string{}
	for k, vs := range mr.r.URL.Query() {
		if len(vs) > 0 {
			out[k] = vs[len(vs)-1]
		}
	}
	return out
}

func (mr *methodRequest) headers() map[string]string {
	out := map[string]string{}
	for k, vs := range mr.r.Header {
		if len(vs) > 0 {
			out[k] = vs[len(vs)-1]
		}
	}
	return out
}

func sortedMap(m map[string]string) *vtl.Map {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := vtl.NewMap()
	for _, k := range keys {
		out.Set(k, m[k])
	}
	return out
}

// vtlContext is $context for a template; responseOverride and
// requestOverride are the maps a template may #set.
func (mr *methodRequest) vtlContext() *vtl.Map {
	o := mr.opts
	c := vtl.NewMap()
	host := mr.r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	prefix, _, _ := strings.Cut(host, ".")
	set := func(k, v string) { c.Set(k, v) }
	set("accountId", o.AccountID)
	set("apiId", o.APIID)
	set("deploymentId", mr.stage.DeploymentID)
	set("domainName", host)
	set("domainPrefix", prefix)
	set("extendedRequestId", o.RequestID)
	set("httpMethod", mr.r.Method)
	set("path", "/"+mr.stage.StageName+o.Path)
	set("protocol", mr.r.Proto)
	set("requestId", o.RequestID)
	set("requestTime", mr.now.UTC().Format("02/Jan/2006:15:04:05 -0700"))
	c.Set("requestTimeEpoch", mr.now.UnixMilli())
	set("resourceId", o.ResourceID)
	set("resourcePath", o.Resource)
	set("stage", mr.stage.StageName)
	id := vtl.NewMap()
	src := mr.r.RemoteAddr
	if h, _, err := net.SplitHostPort(src); err == nil {
		src = h
	}
	id.Set("sourceIp", src)
	id.Set("userAgent", mr.r.Header.Get("User-Agent"))
	id.Set("apiKey", mr.r.Header.Get("X-Api-Key"))
	for _, k := range []string{"accountId", "caller", "user", "userArn", "accessKey", "cognitoIdentityId", "cognitoIdentityPoolId"} {
		id.Set(k, "")
	}
	if iam := o.IAM; iam != nil {
		id.Set("accountId", iam.AccountID)
		id.Set("caller", iam.CallerID)
		id.Set("user", iam.UserID)
		id.Set("userArn", iam.UserARN)
		id.Set("accessKey", iam.AccessKey)
	}
	c.Set("identity", id)
	if o.Authorizer != nil {
		a := vtl.NewMap()
		keys := make([]string, 0, len(o.Authorizer))
		for k := range o.Authorizer {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			// The authorizer's context values are stringified.
			a.Set(k, fmt.Sprint(o.Authorizer[k]))
		}
		c.Set("authorizer", a)
	}
	req := vtl.NewMap()
	for _, k := range []string{"header", "path", "querystring"} {
		req.Set(k, vtl.NewMap())
	}
	c.Set("requestOverride", req)
	resp := vtl.NewMap()
	resp.Set("header", vtl.NewMap())
	c.Set("responseOverride", resp)
	return c
}

// overrides reads the map a template #set under $context.<which>.<kind>.
func overrides(ctx *vtl.Map, which, kind string) map[string]string {
	o, _ := ctx.Get(which)
	om, _ := o.(*vtl.Map)
	if om == nil {
		return nil
	}
	k, _ := om.Get(kind)
	km, _ := k.(*vtl.Map)
	if km == nil {
		return nil
	}
	out := map[string]string{}
	for _, name := range km.Keys() {
		v, _ := km.Get(name)
		out[name] = vtl.String(v)
	}
	return out
}

// mediaType is a Content-Type's media type, lower-cased; API Gateway
// takes a request without one as application/json.
func mediaType(ct string) string {
	if ct == "" {
		return "application/json"
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt, _, _ = strings.Cut(ct, ";")
	}
	return strings.ToLower(strings.TrimSpace(mt))
}

// templateFor picks the template of a media type: an exact key, else a
// key matching case-insensitively.
func templateFor(ts map[string]string, mt string) (string, bool) {
	if t, ok := ts[mt]; ok {
		return t, true
	}
	for k, t := range ts {
		if strings.EqualFold(k, mt) {
			return t, true
		}
	}
	return "", false
}

// endpointAnswer is what an integration's endpoint answered.
type endpointAnswer struct {
	status int
	header http.Header
	body   []byte
	// lambdaError is a Lambda non-proxy function's errorMessage, when the
	// function failed; selection patterns match it.
	lambda      bool
	lambdaError *string
}

func internalError() *httpevent.Response {
	return httpevent.Message(http.StatusInternalServerError, "Internal server error")
}

func unsupportedMediaType() *httpevent.Response {
	return httpevent.Message(http.StatusUnsupportedMediaType, "Unsupported Media Type")
}

// runIntegration serves a method request through a non-proxy integration.
func (g *Gateway) runIntegration(ctx context.Context, mr *methodRequest, lg *execLog) *httpevent.Response {
	integ := mr.method.MethodIntegration
	ctxMap := mr.vtlContext()
	mt := mediaType(mr.r.Header.Get("Content-Type"))
	lg.add("Method request body before transformations: %s", truncated(mr.body))

	// The request template, or passthrough.
	var mapped []byte
	reqType := mr.r.Header.Get("Content-Type")
	if integ.Type == "HTTP_PROXY" {
		mapped = mr.body
	} else if tpl, ok := templateFor(integ.RequestTemplates, mt); ok {
		out, err := g.evalTemplate(tpl, mr, mr.body, ctxMap)
		if err != nil {
			lg.add("Execution failed due to configuration error: Unable to transform request: %s", err.Error())
			return internalError()
		}
		mapped, reqType = []byte(out), mt
	} else {
		switch {
		case integ.PassthroughBehavior == "NEVER",
			integ.PassthroughBehavior == "WHEN_NO_TEMPLATES" && len(integ.RequestTemplates) > 0:
			lg.add("Execution failed: Request Content-Type %s is not supported (passthrough behavior %s)", mt, integ.PassthroughBehavior)
			return unsupportedMediaType()
		}
		mapped = mr.body
		lg.add("Request body passed through: no template for content type %s", mt)
	}
	switch integ.ContentHandling {
	case "CONVERT_TO_BINARY":
		b, err := base64.StdEncoding.DecodeString(string(mapped))
		if err != nil {
			lg.add("Execution failed due to configuration error: Unable to convert the request body to binary")
			return internalError()
		}
		mapped = b
	case "CONVERT_TO_TEXT":
		if !utf8.Valid(mapped) {
			mapped = []byte(base64.StdEncoding.EncodeToString(mapped))
		}
	}

	// The integration request's parameters.
	ip := integrationParams{header: http.Header{}, query: url.Values{}, path: map[string]string{}}
	if reqType != "" {
		ip.header.Set("Content-Type", reqType)
	}
	if err := mr.mapRequestParameters(integ.RequestParameters, &ip); err != nil {
		lg.add("Execution failed due to configuration error: %s", err.Error())
		return internalError()
	}
	for k, v := range overrides(ctxMap, "requestOverride", "header") {
		ip.header.Set(k, v)
	}
	for k, v := range overrides(ctxMap, "requestOverride", "querystring") {
		ip.query.Set(k, v)
	}
	for k, v := range overrides(ctxMap, "requestOverride", "path") {
		ip.path[k] = v
	}

	timeout := time.Duration(integ.TimeoutInMillis) * time.Millisecond
	if timeout <= 0 {
		timeout = 29 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var ans *endpointAnswer
	var fail *httpevent.Response
	start := time.Now()
	switch integ.Type {
	case "MOCK":
		ans = mockAnswer(mapped)
		lg.add("Endpoint request body after transformations: %s", truncated(mapped))
	case "HTTP", "HTTP_PROXY":
		ans, fail = g.callHTTP(cctx, mr, integ, ip, mapped, lg)
	case "AWS":
		ans, fail = g.callAWS(cctx, mr, integ, ip, mapped, lg)
	default:
		lg.add("Execution failed due to configuration error: integration type %s", integ.Type)
		return internalError()
	}
	if fail != nil {
		g.stats.integrationErrors.Add(1)
		return fail
	}
	if integ.Type != "MOCK" {
		lg.add("Received response. Status: %d, Integration latency: %d ms", ans.status, time.Since(start).Milliseconds())
		lg.add("Endpoint response headers: %s", headerLine(ans.header))
		lg.add("Endpoint response body before transformations: %s", truncated(ans.body))
	}
	if integ.Type == "HTTP_PROXY" {
		h := ans.header.Clone()
		for _, k := range []string{"Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length"} {
			h.Del(k)
		}
		lg.add("Method completed with status: %d", ans.status)
		return &httpevent.Response{StatusCode: ans.status, Header: h, Body: ans.body}
	}
	return g.mapResponse(mr, integ, ans, lg)
}

// mockAnswer is a MOCK integration's answer: the status code named by
// the request template's output ({"statusCode": 200}), 200 without one.
func mockAnswer(mapped []byte) *endpointAnswer {
	status := 200
	var v struct {
		StatusCode json.RawMessage `json:"statusCode"`
	}
	if json.Unmarshal(mapped, &v) == nil && len(v.StatusCode) > 0 {
		if n, err := strconv.Atoi(strings.Trim(string(v.StatusCode), `"`)); err == nil && n >= 100 && n <= 599 {
			status = n
		}
	} else if m := mockStatusRE.FindSubmatch(mapped); m != nil {
		status, _ = strconv.Atoi(string(m[1]))
	}
	return &endpointAnswer{status: status, header: http.Header{}}
}

var mockStatusRE = regexp.MustCompile(`"statusCode"\s*:\s*"?(\d{3})`)

// evalTemplate evaluates a mapping template over payload.
func (g *Gateway) evalTemplate(src string, mr *methodRequest, payload []byte, ctxMap *vtl.Map) (string, error) {
	t, err := vtl.Parse(src)
	if err != nil {
		return "", err
	}
	in := vtl.NewInput(payload, sortedMap(mr.path), sortedMap(mr.query()), sortedMap(mr.headers()))
	stage := sortedMap(mr.stageVar)
	return t.Execute(vtl.Variables(in, ctxMap, stage))
}

type integrationParams struct {
	header http.Header
	query  url.Values
	path   map[string]string
}

// source reads a mapping source of the method request.
func (mr *methodRequest) source(v string) (string, bool, error) {
	switch {
	case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
		return v[1 : len(v)-1], true, nil
	case v == "method.request.body":
		return string(mr.body), true, nil
	case strings.HasPrefix(v, "method.request.body."):
		return jsonPathString(mr.body, "$."+strings.TrimPrefix(v, "method.request.body."))
	case strings.HasPrefix(v, "method.request.path."):
		s, ok := mr.path[strings.TrimPrefix(v, "method.request.path.")]
		return s, ok, nil
	case strings.HasPrefix(v, "method.request.querystring."):
		q := mr.r.URL.Query()
		name := strings.TrimPrefix(v, "method.request.querystring.")
		if vs, ok := q[name]; ok && len(vs) > 0 {
			return vs[len(vs)-1], true, nil
		}
	case strings.HasPrefix(v, "method.request.multivaluequerystring."):
		vs, ok := mr.r.URL.Query()[strings.TrimPrefix(v, "method.request.multivaluequerystring.")]
		return strings.Join(vs, ","), ok, nil
	case strings.HasPrefix(v, "method.request.header."):
		vs := mr.r.Header.Values(strings.TrimPrefix(v, "method.request.header."))
		if len(vs) > 0 {
			return vs[len(vs)-1], true, nil
		}
	case strings.HasPrefix(v, "method.request.multivalueheader."):
		vs := mr.r.Header.Values(strings.TrimPrefix(v, "method.request.multivalueheader."))
		return strings.Join(vs, ","), len(vs) > 0, nil
	case strings.HasPrefix(v, "stageVariables."):
		s, ok := mr.stageVar[strings.TrimPrefix(v, "stageVariables.")]
		return s, ok, nil
	case strings.HasPrefix(v, "context."):
		ctx := mr.vtlContext()
		var cur any = ctx
		for _, p := range strings.Split(strings.TrimPrefix(v, "context."), ".") {
			m, ok := cur.(*vtl.Map)
			if !ok {
				return "", false, nil
			}
			cur, _ = m.Get(p)
		}
		if cur == nil {
			return "", false, nil
		}
		return vtl.String(cur), true, nil
	}
	return "", false, nil
}

// jsonPathString evaluates a JSON path over a JSON body: a string as it
// is, anything else as JSON.
func jsonPathString(body []byte, path string) (string, bool, error) {
	t, err := vtl.Parse("$input.json('" + strings.ReplaceAll(path, "'", "''") + "')")
	if err != nil {
		return "", false, err
	}
	tp, _ := vtl.Parse("$input.path('" + strings.ReplaceAll(path, "'", "''") + "')")
	in := vtl.NewInput(body, nil, nil, nil)
	raw, err := tp.Execute(vtl.Variables(in, nil, nil))
	if err != nil {
		return "", false, err
	}
	js, err := t.Execute(vtl.Variables(in, nil, nil))
	if err != nil {
		return "", false, err
	}
	if strings.HasPrefix(js, `"`) {
		return raw, true, nil
	}
	return js, js != "", nil
}

func (mr *methodRequest) mapRequestParameters(params map[string]string, ip *integrationParams) error {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, ok, err := mr.source(params[k])
		if err != nil {
			return fmt.Errorf("unable to map %s: %w", k, err)
		}
		if !ok {
			continue
		}
		where, name, _ := strings.Cut(strings.TrimPrefix(k, "integration.request."), ".")
		switch where {
		case "header", "multivalueheader":
			ip.header.Set(name, v)
		case "querystring":
			ip.query.Set(name, v)
		case "multivaluequerystring":
			ip.query[name] = strings.Split(v, ",")
		case "path":
			ip.path[name] = v
		}
	}
	return nil
}

// fillPath puts the integration's path parameters into {name} (and
// {name+}) placeholders.
func fillPath(p string, params map[string]string, escape bool) string {
	for k, v := range params {
		if escape {
			v = url.PathEscape(v)
		}
		p = strings.ReplaceAll(p, "{"+k+"}", v)
		p = strings.ReplaceAll(p, "{"+k+"+}", v)
	}
	return p
}

func (g *Gateway) callHTTP(ctx context.Context, mr *methodRequest, integ *restIntegration, ip integrationParams, body []byte, lg *execLog) (*endpointAnswer, *httpevent.Response) {
	raw := replaceStageVariables(integ.URI, func(n string) string { return mr.stageVar[n] })
	params := ip.path
	if integ.Type == "HTTP_PROXY" {
		params = mr.path
	}
	u, err := url.Parse(fillPath(raw, params, true))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		lg.add("Execution failed due to configuration error: Invalid endpoint address")
		return nil, internalError()
	}
	if !g.allowedHost(u.Hostname()) {
		lg.add("Execution failed due to configuration error: %s", hostRefusal(u.Hostname()))
		g.log.Warn("http integration host refused", "api_id", mr.doc.API.ID, "host", u.Hostname(), "hint", "allow it with --apigw-http-hosts")
		return nil, internalError()
	}
	method := integ.HTTPMethod
	if method == "ANY" || method == "" {
		method = mr.r.Method
	}
	q := u.Query()
	hdr := ip.header
	if integ.Type == "HTTP_PROXY" {
		for k, vs := range mr.r.URL.Query() {
			q[k] = vs
		}
		hdr = mr.r.Header.Clone()
		hdr.Del("Host")
	} else {
		for k, vs := range ip.query {
			q[k] = vs
		}
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		lg.add("Execution failed due to configuration error: %s", err.Error())
		return nil, internalError()
	}
	req.Header = hdr
	lg.add("Endpoint request URI: %s", u.String())
	lg.add("Endpoint request headers: %s", headerLine(hdr))
	lg.add("Endpoint request body after transformations: %s", truncated(body))
	lg.add("Sending request to %s", u.String())
	resp, err := g.httpClient().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			lg.add("Execution failed due to a timeout error")
			return nil, restTimeout()
		}
		lg.add("Execution failed due to configuration error: %s", err.Error())
		return nil, internalError()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxIntegrationBody+1))
	if err != nil || len(b) > maxIntegrationBody {
		lg.add("Execution failed: the endpoint's response could not be read or is larger than 10 MB")
		return nil, internalError()
	}
	return &endpointAnswer{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func (g *Gateway) callAWS(ctx context.Context, mr *methodRequest, integ *restIntegration, ip integrationParams, body []byte, lg *execLog) (*endpointAnswer, *httpevent.Response) {
	t, err := parseAWSURI(integ.URI)
	if err != nil {
		lg.add("Execution failed due to configuration error: Invalid integration URI")
		return nil, internalError()
	}
	if t.service == "lambda" {
		return g.callLambda(ctx, mr, integ, body, lg)
	}
	if g.aws == nil {
		lg.add("Execution failed due to configuration error: this node serves no AWS integrations")
		return nil, internalError()
	}
	svc := awsServices[t.service]
	method := integ.HTTPMethod
	if method == "ANY" {
		method = mr.r.Method
	}
	u := &url.URL{Scheme: "http", Host: t.service + "." + g.region + ".amazonaws.com", Path: "/"}
	if t.subdomain != "" {
		u.Host = t.subdomain + "." + u.Host
	}
	q := url.Values{}
	hdr := ip.header.Clone()
	switch {
	case t.path != "":
		p := fillPath(replaceStageVariables(t.path, func(n string) string { return mr.stageVar[n] }), ip.path, false)
		pu, err := url.Parse(p)
		if err != nil {
			lg.add("Execution failed due to configuration error: Invalid integration path %s", p)
			return nil, internalError()
		}
		u.Path = pu.Path
		q = pu.Query()
	case svc.protocol == "query":
		q.Set("Action", t.action)
	default:
		hdr.Set("X-Amz-Target", svc.target+"."+t.action)
		hdr.Set("Content-Type", "application/x-amz-json-"+strings.TrimPrefix(svc.protocol, "json"))
	}
	for k, vs := range ip.query {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		lg.add("Execution failed due to configuration error: %s", err.Error())
		return nil, internalError()
	}
	req.Header = hdr
	lg.add("Endpoint request URI: %s", u.String())
	lg.add("Endpoint request headers: %s", headerLine(hdr))
	lg.add("Endpoint request body after transformations: %s", truncated(body))
	lg.add("Sending request to %s", u.String())
	if integ.Credentials == "" {
		lg.add("Execution failed due to configuration error: Invalid permissions on the integration: no credentials role")
		return nil, internalError()
	}
	resp, err := g.aws.CallAWS(ctx, t.service, integ.Credentials, req)
	if err != nil {
		switch {
		case errors.Is(err, ErrAssumeRole):
			lg.add("Execution failed due to configuration error: API Gateway does not have permission to assume the provided role %s", integ.Credentials)
		case ctx.Err() != nil:
			lg.add("Execution failed due to a timeout error")
			return nil, restTimeout()
		default:
			lg.add("Execution failed due to configuration error: %s", err.Error())
		}
		return nil, internalError()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxIntegrationBody+1))
	if err != nil || len(b) > maxIntegrationBody {
		lg.add("Execution failed: the endpoint's response could not be read or is larger than 10 MB")
		return nil, internalError()
	}
	header := resp.Header
	if t.service == "sqs" && !strings.Contains(strings.ToLower(hdr.Get("Accept")), "xml") {
		// API Gateway asks SQS for JSON: templates read
		// $input.path('$.SendMessageResponse.SendMessageResult.MessageId').
		if js, err := sqsJSON(b); err == nil {
			b, header = js, resp.Header.Clone()
			header.Set("Content-Type", "application/json")
		}
	}
	return &endpointAnswer{status: resp.StatusCode, header: header, body: b}, nil
}

// callLambda is a Lambda non-proxy integration: the mapped body is the
// event, the function's answer the integration response; a function
// error's errorMessage is what selection patterns match.
func (g *Gateway) callLambda(ctx context.Context, mr *methodRequest, integ *restIntegration, body []byte, lg *execLog) (*endpointAnswer, *httpevent.Response) {
	lg.add("Endpoint request URI: %s", integ.URI)
	lg.add("Endpoint request body after transformations: %s", truncated(body))
	lg.add("Sending request to %s", integ.URI)
	out, err := g.invokeFunction(ctx, mr.r, integ.URI, mr.stageVar, body, mr.now)
	ans := &endpointAnswer{status: http.StatusOK, header: http.Header{"Content-Type": {"application/json"}}, body: out, lambda: true}
	switch {
	case errors.Is(err, errFunction):
		var fe struct {
			ErrorMessage string `json:"errorMessage"`
		}
		_ = json.Unmarshal(out, &fe)
		ans.lambdaError = &fe.ErrorMessage
		lg.add("Lambda execution failed with status 200 due to customer function error: %s", fe.ErrorMessage)
		return ans, nil
	case err != nil && ctx.Err() != nil && mr.r.Context().Err() == nil:
		lg.add("Execution failed due to a timeout error")
		return nil, restTimeout()
	case err != nil:
		lg.add("Execution failed due to configuration error: %s", err.Error())
		return nil, internalError()
	}
	return ans, nil
}

// selectResponse chooses the integration response: the one whose
// selectionPattern matches the whole status code (a Lambda function's
// errorMessage), else the default one (no pattern).
func selectResponse(integ *restIntegration, ans *endpointAnswer) *integrationResponse {
	key := strconv.Itoa(ans.status)
	if ans.lambda {
		key = ""
		if ans.lambdaError != nil {
			key = *ans.lambdaError
		}
	}
	codes := make([]string, 0, len(integ.IntegrationResponses))
	for c := range integ.IntegrationResponses {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var def *integrationResponse
	for _, c := range codes {
		ir := integ.IntegrationResponses[c]
		if ir.SelectionPattern == "" {
			if def == nil {
				def = ir
			}
			continue
		}
		if ans.lambda && ans.lambdaError == nil {
			continue
		}
		if re, err := selectionRegexp(ir.SelectionPattern); err == nil && re.MatchString(key) {
			return ir
		}
	}
	return def
}

// acceptedTemplate picks a response template by the method request's
// Accept header, else application/json, else the first by name.
func acceptedTemplate(ts map[string]string, accept string) (string, string, bool) {
	if len(ts) == 0 {
		return "", "", false
	}
	for _, a := range strings.Split(accept, ",") {
		mt := mediaType(strings.TrimSpace(a))
		if t, ok := templateFor(ts, mt); ok && a != "" {
			return mt, t, true
		}
	}
	if t, ok := ts["application/json"]; ok {
		return "application/json", t, true
	}
	keys := make([]string, 0, len(ts))
	for k := range ts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys[0], ts[keys[0]], true
}

func (g *Gateway) mapResponse(mr *methodRequest, integ *restIntegration, ans *endpointAnswer, lg *execLog) *httpevent.Response {
	ir := selectResponse(integ, ans)
	if ir == nil {
		lg.add("Execution failed due to configuration error: No match for output mapping and no default output mapping configured. Endpoint Response Status Code: %d", ans.status)
		return internalError()
	}
	code, _ := strconv.Atoi(ir.StatusCode)
	if len(mr.method.MethodResponses) > 0 && mr.method.MethodResponses[ir.StatusCode] == nil {
		lg.add("Execution failed due to configuration error: Output mapping refers to an invalid method response: %s", ir.StatusCode)
		return internalError()
	}
	h := http.Header{}
	ctxMap := mr.vtlContext()
	keys := make([]string, 0, len(ir.ResponseParameters))
	for k := range ir.ResponseParameters {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		name, ok := strings.CutPrefix(k, "method.response.header.")
		if !ok {
			continue
		}
		if v, ok := responseSource(ir.ResponseParameters[k], ans, mr); ok {
			h.Set(name, v)
		}
	}
	body := ans.body
	contentType := "application/json"
	if integ.Type == "HTTP" {
		if ct := ans.header.Get("Content-Type"); ct != "" {
			contentType = ct
		}
	}
	if mt, tpl, ok := acceptedTemplate(ir.ResponseTemplates, mr.r.Header.Get("Accept")); ok {
		contentType = mt
		if tpl != "" || integ.Type == "MOCK" {
			out, err := g.evalTemplate(tpl, mr, ans.body, ctxMap)
			if err != nil {
				lg.add("Execution failed due to configuration error: Unable to transform response: %s", err.Error())
				return internalError()
			}
			body = []byte(out)
		}
	}
	if integ.Type == "MOCK" && len(body) == 0 && len(ir.ResponseTemplates) == 0 {
		body = nil
	}
	switch ir.ContentHandling {
	case "CONVERT_TO_TEXT":
		body = []byte(base64.StdEncoding.EncodeToString(body))
	case "CONVERT_TO_BINARY":
		b, err := base64.StdEncoding.DecodeString(string(body))
		if err != nil {
			lg.add("Execution failed due to configuration error: Unable to convert the response body to binary")
			return internalError()
		}
		body = b
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", contentType)
	}
	if s, ok := overrideStatus(ctxMap); ok {
		code = s
	}
	for k, v := range overrides(ctxMap, "responseOverride", "header") {
		h.Set(k, v)
	}
	lg.add("Method response body after transformations: %s", truncated(body))
	lg.add("Method response headers: %s", headerLine(h))
	lg.add("Successfully completed execution")
	lg.add("Method completed with status: %d", code)
	return &httpevent.Response{StatusCode: code, Header: h, Body: body}
}

func overrideStatus(ctxMap *vtl.Map) (int, bool) {
	o, _ := ctxMap.Get("responseOverride")
	om, _ := o.(*vtl.Map)
	if om == nil {
		return 0, false
	}
	v, ok := om.Get("status")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(vtl.String(v))
	if err != nil || n < 100 || n > 599 {
		return 0, false
	}
	return n, true
}

// responseSource reads a method response header's source.
func responseSource(v string, ans *endpointAnswer, mr *methodRequest) (string, bool) {
	switch {
	case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
		return v[1 : len(v)-1], true
	case strings.HasPrefix(v, "integration.response.header."):
		vs := ans.header.Values(strings.TrimPrefix(v, "integration.response.header."))
		if len(vs) == 0 {
			return "", false
		}
		return vs[len(vs)-1], true
	case strings.HasPrefix(v, "integration.response.multivalueheader."):
		vs := ans.header.Values(strings.TrimPrefix(v, "integration.response.multivalueheader."))
		return strings.Join(vs, ","), len(vs) > 0
	case v == "integration.response.body":
		return string(ans.body), true
	case strings.HasPrefix(v, "integration.response.body."):
		s, ok, err := jsonPathString(ans.body, "$."+strings.TrimPrefix(v, "integration.response.body."))
		return s, ok && err == nil
	case strings.HasPrefix(v, "stageVariables."), strings.HasPrefix(v, "context."):
		s, ok, _ := mr.source(v)
		return s, ok
	}
	return "", false
}
