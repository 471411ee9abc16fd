package apigw

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/vtl"
)

// REST API integrations as PutIntegration, PutIntegrationResponse,
// PutMethodResponse (and their Get, Delete and Update) and the OpenAPI
// importer define them: AWS_PROXY (Lambda proxy), AWS (a service action
// or path with mapping templates, or Lambda non-proxy), HTTP (an HTTP
// endpoint with mapping templates), HTTP_PROXY and MOCK. Everything that
// can be checked before a request comes is checked here, so a malformed
// template or mapping is a BadRequestException at put or import time.

// awsServices are the services an AWS integration may call: the signing
// name and protocol of each.
var awsServices = map[string]struct {
	protocol string // query, json1.0, json1.1, rest
	target   string // X-Amz-Target prefix of JSON protocols
}{
	"sqs":      {protocol: "query"},
	"sns":      {protocol: "query"},
	"dynamodb": {protocol: "json1.0", target: "DynamoDB_20120810"},
	"states":   {protocol: "json1.0", target: "AWSStepFunctions"},
	"events":   {protocol: "json1.1", target: "AWSEvents"},
	"kinesis":  {protocol: "json1.1", target: "Kinesis_20131202"},
	"s3":       {protocol: "rest"},
	"lambda":   {protocol: "rest"},
}

// awsTarget is a parsed AWS integration URI:
// arn:aws:apigateway:{region}:{subdomain.}{service}:{action|path}/{api}.
type awsTarget struct {
	service   string
	subdomain string
	action    string // action/X
	path      string // path/X (leading / added)
}

func parseAWSURI(uri string) (awsTarget, error) {
	parts := strings.SplitN(uri, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "apigateway" {
		return awsTarget{}, badRequest("AWS ARN for integration must contain path or action")
	}
	var t awsTarget
	t.service = parts[4]
	if i := strings.LastIndexByte(t.service, '.'); i >= 0 {
		t.subdomain, t.service = t.service[:i], t.service[i+1:]
	}
	kind, api, ok := strings.Cut(parts[5], "/")
	if !ok || api == "" {
		return awsTarget{}, badRequest("AWS ARN for integration must contain path or action")
	}
	switch kind {
	case "action":
		t.action = api
	case "path":
		t.path = "/" + api
	default:
		return awsTarget{}, badRequest("AWS ARN for integration must contain path or action")
	}
	if _, ok := awsServices[t.service]; !ok {
		return awsTarget{}, badRequest("Nimbus does not serve AWS integrations with the %s service; it serves sqs, sns, dynamodb, states, events, kinesis, s3 and lambda.", t.service)
	}
	return t, nil
}

// restIntegrationInput is PutIntegration's body (and what the importer reads
// from x-amazon-apigateway-integration).
type restIntegrationInput struct {
	Type                *string           `json:"type"`
	HTTPMethod          string            `json:"httpMethod"`
	URI                 string            `json:"uri"`
	Credentials         string            `json:"credentials"`
	RequestParameters   map[string]string `json:"requestParameters"`
	RequestTemplates    map[string]string `json:"requestTemplates"`
	PassthroughBehavior string            `json:"passthroughBehavior"`
	CacheNamespace      string            `json:"cacheNamespace"`
	CacheKeyParameters  []string          `json:"cacheKeyParameters"`
	ContentHandling     string            `json:"contentHandling"`
	TimeoutInMillis     *int              `json:"timeoutInMillis"`
	ConnectionType      string            `json:"connectionType"`
	ConnectionID        string            `json:"connectionId"`
}

// newIntegration checks an integration's definition against the method it
// belongs to (m may be nil on import, before the method's parameters are
// known) and returns it.
func newIntegration(in restIntegrationInput, m *restMethod) (*restIntegration, error) {
	if in.Type == nil {
		return nil, badRequest("Invalid input: type is required.")
	}
	typ := strings.ToUpper(*in.Type)
	x := &restIntegration{Type: typ, HTTPMethod: strings.ToUpper(in.HTTPMethod), URI: in.URI, Credentials: in.Credentials,
		RequestParameters: in.RequestParameters, RequestTemplates: in.RequestTemplates, PassthroughBehavior: "WHEN_NO_MATCH",
		CacheNamespace: in.CacheNamespace, CacheKeyParameters: nonNil(in.CacheKeyParameters), ContentHandling: in.ContentHandling,
		TimeoutInMillis: 29000}
	if in.ConnectionType == "VPC_LINK" || in.ConnectionID != "" {
		return nil, badRequest("Nimbus does not support VPC links (connectionType VPC_LINK): integrations reach loopback or allowed hosts directly.")
	}
	switch typ {
	case "AWS_PROXY":
		if x.HTTPMethod != "" && x.HTTPMethod != "POST" {
			return nil, badRequest("Lambda integrations must use the POST integration HTTP method; got %s.", in.HTTPMethod)
		}
		x.HTTPMethod = "POST"
		if _, err := checkFunctionURI(in.URI); err != nil || !strings.HasPrefix(in.URI, "arn:") || !strings.Contains(in.URI, ":apigateway:") {
			return nil, badRequest("Invalid ARN specified in the request: an AWS_PROXY uri is arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function-arn>/invocations.")
		}
	case "AWS":
		if x.HTTPMethod == "" {
			return nil, badRequest("Enumeration value for HttpMethod must be non-empty")
		}
		t, err := parseAWSURI(in.URI)
		if err != nil {
			return nil, err
		}
		if t.service == "lambda" {
			if x.HTTPMethod != "POST" {
				return nil, badRequest("Lambda integrations must use the POST integration HTTP method; got %s.", in.HTTPMethod)
			}
			if _, err := checkFunctionURI(in.URI); err != nil {
				return nil, badRequest("Invalid ARN specified in the request: a Lambda uri is arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function-arn>/invocations.")
			}
		}
		if strings.HasPrefix(x.Credentials, "arn:aws:iam::*:user/") {
			return nil, badRequest("Nimbus does not pass the caller's credentials through to AWS integrations (credentials %s); name a role.", x.Credentials)
		}
		if x.Credentials != "" && !strings.Contains(x.Credentials, ":role/") {
			return nil, badRequest("Invalid ARN specified in the request: credentials must be an IAM role ARN.")
		}
	case "HTTP", "HTTP_PROXY":
		if x.HTTPMethod == "" {
			return nil, badRequest("Enumeration value for HttpMethod must be non-empty")
		}
		u, err := url.Parse(replaceStageVariables(in.URI, func(string) string { return "stagevar" }))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, badRequest("Invalid HTTP endpoint specified for URI")
		}
	case "MOCK":
		x.HTTPMethod, x.URI = "", ""
	default:
		return nil, badRequest("Invalid integration type specified. Valid options are HTTP, HTTP_PROXY, AWS, AWS_PROXY, MOCK")
	}
	if x.HTTPMethod != "" && x.HTTPMethod != "ANY" && !restMethods[x.HTTPMethod] {
		return nil, badRequest("Invalid HttpMethod specified. Valid options are GET,PUT,POST,DELETE,PATCH,OPTIONS,HEAD,ANY")
	}
	if in.PassthroughBehavior != "" {
		x.PassthroughBehavior = strings.ToUpper(in.PassthroughBehavior)
		switch x.PassthroughBehavior {
		case "WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER":
		default:
			return nil, badRequest("Invalid passthrough behavior specified: %s. Valid options are WHEN_NO_MATCH, WHEN_NO_TEMPLATES, NEVER", in.PassthroughBehavior)
		}
	}
	if err := checkContentHandling(x.ContentHandling); err != nil {
		return nil, err
	}
	if in.TimeoutInMillis != nil {
		if *in.TimeoutInMillis < 50 || *in.TimeoutInMillis > 29000 {
			return nil, badRequest("Timeout should be between 50 ms and 29000 ms")
		}
		x.TimeoutInMillis = *in.TimeoutInMillis
	}
	for _, k := range x.CacheKeyParameters {
		if !validMethodParameter(k) && !strings.HasPrefix(k, "integration.request.") {
			return nil, badRequest("Invalid cache key parameter specified: %s", k)
		}
	}
	if err := checkTemplates(x.RequestTemplates); err != nil {
		return nil, err
	}
	for k, v := range x.RequestParameters {
		if !validIntegrationParameter(k) {
			return nil, mappingError("Invalid mapping expression specified: %s", k)
		}
		if err := checkRequestSource(v, m); err != nil {
			return nil, err
		}
	}
	return x, nil
}

func checkContentHandling(s string) error {
	switch s {
	case "", "CONVERT_TO_BINARY", "CONVERT_TO_TEXT":
		return nil
	}
	return badRequest("Invalid content handling specified: %s. Valid options are CONVERT_TO_BINARY, CONVERT_TO_TEXT", s)
}

// mappingError is API Gateway's refusal of a parameter mapping.
func mappingError(format string, args ...any) error {
	return badRequest("Invalid mapping expression specified: Validation Result: warnings : [], errors : ["+format+"]", args...)
}

// checkTemplates parses mapping templates, as API Gateway does when they
// are put.
func checkTemplates(ts map[string]string) error {
	for ct, t := range ts {
		if ct == "" {
			return badRequest("Invalid content type specified: ''")
		}
		if _, err := vtl.Parse(t); err != nil {
			return badRequest("Invalid mapping template specified for content type %s: %s", ct, err.Error())
		}
	}
	return nil
}

var paramNameRE = regexp.MustCompile(`^[A-Za-z0-9._$+\-]+$`)

func validIntegrationParameter(k string) bool {
	for _, p := range []string{"integration.request.querystring.", "integration.request.header.", "integration.request.path.",
		"integration.request.multivaluequerystring.", "integration.request.multivalueheader."} {
		if n, ok := strings.CutPrefix(k, p); ok && paramNameRE.MatchString(n) {
			return true
		}
	}
	return false
}

// checkRequestSource checks the source of an integration request
// parameter: a declared method request parameter, the body or a JSON
// path into it, a context or stage variable, or a quoted literal.
func checkRequestSource(v string, m *restMethod) error {
	switch {
	case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
		return nil
	case v == "method.request.body", strings.HasPrefix(v, "method.request.body."):
		return nil
	case strings.HasPrefix(v, "context.") && len(v) > len("context."), strings.HasPrefix(v, "stageVariables.") && len(v) > len("stageVariables."):
		return nil
	case validMethodParameter(v):
		if m != nil && m.RequestParameters != nil {
			if _, ok := m.RequestParameters[v]; !ok {
				return mappingError("Invalid mapping expression parameter specified: %s", v)
			}
		}
		return nil
	}
	return mappingError("Invalid mapping expression specified: %s", v)
}

// checkResponseSource checks the source of a method response header: a
// header or the body (or a JSON path into it) of the integration's
// answer, a context or stage variable, or a quoted literal. A method
// request parameter (SAM's CORS documents name one) is accepted and maps
// to nothing.
func checkResponseSource(v string) error {
	switch {
	case validMethodParameter(v):
		return nil
	case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
		return nil
	case v == "integration.response.body", strings.HasPrefix(v, "integration.response.body."),
		strings.HasPrefix(v, "integration.response.header.") && len(v) > len("integration.response.header."),
		strings.HasPrefix(v, "integration.response.multivalueheader.") && len(v) > len("integration.response.multivalueheader."),
		strings.HasPrefix(v, "context.") && len(v) > len("context."), strings.HasPrefix(v, "stageVariables.") && len(v) > len("stageVariables."):
		return nil
	}
	return mappingError("Invalid mapping expression specified: %s", v)
}

// selectionRegexp compiles a selectionPattern: it must match the whole
// status code or error message (Java's Pattern.matches); (?s) lets "."
// cross the newlines of a stack trace, as Java's DOTALL-free patterns do
// not: API Gateway matches error messages line-independently.
func selectionRegexp(p string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?s:` + p + `)$`)
}

func checkIntegrationResponse(ir *integrationResponse) error {
	if ir.SelectionPattern != "" {
		if _, err := selectionRegexp(ir.SelectionPattern); err != nil {
			return badRequest("Invalid selection pattern specified: %s", ir.SelectionPattern)
		}
	}
	if err := checkContentHandling(ir.ContentHandling); err != nil {
		return err
	}
	if err := checkTemplates(ir.ResponseTemplates); err != nil {
		return err
	}
	for k, v := range ir.ResponseParameters {
		if n, ok := strings.CutPrefix(k, "method.response.header."); !ok || !paramNameRE.MatchString(n) {
			return mappingError("Invalid mapping expression specified: %s", k)
		}
		if err := checkResponseSource(v); err != nil {
			return err
		}
	}
	return nil
}

func validStatus(code string) bool {
	n, err := strconv.Atoi(code)
	return err == nil && n >= 100 && n <= 599 && len(code) == 3
}

func (g *Gateway) putIntegration(c *call) error {
	var in restIntegrationInput
	if err := c.decode(&in); err != nil {
		return err
	}
	var out *restIntegration
	if _, err := g.changeREST(c, func(d *restDoc) error {
		r, m, err := methodOf(d, c)
		if err != nil {
			return err
		}
		x, err := newIntegration(in, m)
		if err != nil {
			return err
		}
		if err := g.checkIntegrationHost(x.Type, x.URI); err != nil {
			return err
		}
		if x.CacheNamespace == "" {
			x.CacheNamespace = r.ID
		}
		if old := m.MethodIntegration; old != nil {
			// Integration responses outlive a re-put integration, as on AWS.
			x.IntegrationResponses = old.IntegrationResponses
		}
		m.MethodIntegration = x
		out = x
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, out)
}

func (g *Gateway) getIntegrationREST(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	_, m, err := methodOf(doc, c)
	if err != nil {
		return err
	}
	if m.MethodIntegration == nil {
		return notFound("No integration defined for method")
	}
	return c.json(http.StatusOK, m.MethodIntegration)
}

func (g *Gateway) deleteIntegrationREST(c *call) error {
	if _, err := g.changeREST(c, func(d *restDoc) error {
		_, m, err := methodOf(d, c)
		if err != nil {
			return err
		}
		if m.MethodIntegration == nil {
			return notFound("No integration defined for method")
		}
		m.MethodIntegration = nil
		return nil
	}); err != nil {
		return err
	}
	return c.noContent(http.StatusNoContent)
}

// patchMap applies add/replace/remove of one key of a string map (the
// key is the rest of the path, ~1 for /).
func patchMap(m map[string]string, key string, p patchOp) map[string]string {
	key = strings.ReplaceAll(strings.ReplaceAll(key, "~1", "/"), "~0", "~")
	if p.Op == "remove" {
		delete(m, key)
		return m
	}
	if m == nil {
		m = map[string]string{}
	}
	m[key] = p.Value
	return m
}

func (g *Gateway) updateIntegrationREST(c *call) error {
	var in struct {
		PatchOperations []patchOp `json:"patchOperations"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	var out *restIntegration
	if _, err := g.changeREST(c, func(d *restDoc) error {
		_, m, err := methodOf(d, c)
		if err != nil {
			return err
		}
		if m.MethodIntegration == nil {
			return notFound("No integration defined for method")
		}
		x := *m.MethodIntegration
		x.RequestTemplates = cloneMap(x.RequestTemplates)
		x.RequestParameters = cloneMap(x.RequestParameters)
		for _, p := range in.PatchOperations {
			switch {
			case strings.HasPrefix(p.Path, "/requestTemplates/"):
				x.RequestTemplates = patchMap(x.RequestTemplates, strings.TrimPrefix(p.Path, "/requestTemplates/"), p)
			case strings.HasPrefix(p.Path, "/requestParameters/"):
				x.RequestParameters = patchMap(x.RequestParameters, strings.TrimPrefix(p.Path, "/requestParameters/"), p)
			case p.Op != "replace":
				return badRequest("Invalid patch operation specified. Must be one of: [replace]")
			case p.Path == "/uri":
				x.URI = p.Value
			case p.Path == "/httpMethod":
				x.HTTPMethod = p.Value
			case p.Path == "/credentials":
				x.Credentials = p.Value
			case p.Path == "/passthroughBehavior":
				x.PassthroughBehavior = p.Value
			case p.Path == "/contentHandling":
				x.ContentHandling = p.Value
			case p.Path == "/timeoutInMillis":
				n, err := strconv.Atoi(p.Value)
				if err != nil {
					return badRequest("Invalid timeout specified: %s", p.Value)
				}
				x.TimeoutInMillis = n
			case p.Path == "/cacheNamespace":
				x.CacheNamespace = p.Value
			default:
				return badRequest("Invalid patch path %s", p.Path)
			}
		}
		typ := x.Type
		timeout := x.TimeoutInMillis
		checked, err := newIntegration(restIntegrationInput{Type: &typ, HTTPMethod: x.HTTPMethod, URI: x.URI, Credentials: x.Credentials,
			RequestParameters: x.RequestParameters, RequestTemplates: x.RequestTemplates, PassthroughBehavior: x.PassthroughBehavior,
			CacheNamespace: x.CacheNamespace, CacheKeyParameters: x.CacheKeyParameters, ContentHandling: x.ContentHandling,
			TimeoutInMillis: &timeout}, m)
		if err != nil {
			return err
		}
		if err := g.checkIntegrationHost(checked.Type, checked.URI); err != nil {
			return err
		}
		checked.IntegrationResponses = x.IntegrationResponses
		m.MethodIntegration = checked
		out = checked
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusOK, out)
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return nil
	}
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (g *Gateway) putMethodResponse(c *call) error {
	var in struct {
		ResponseParameters map[string]bool   `json:"responseParameters"`
		ResponseModels     map[string]string `json:"responseModels"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	code := c.params["status_code"]
	if !validStatus(code) {
		return badRequest("Invalid status code specified: %s", code)
	}
	for k := range in.ResponseParameters {
		if n, ok := strings.CutPrefix(k, "method.response.header."); !ok || !paramNameRE.MatchString(n) {
			return mappingError("Invalid mapping expression specified: %s", k)
		}
	}
	mr := &methodResponse{StatusCode: code, ResponseParameters: in.ResponseParameters, ResponseModels: in.ResponseModels}
	if _, err := g.changeREST(c, func(d *restDoc) error {
		_, m, err := methodOf(d, c)
		if err != nil {
			return err
		}
		for _, name := range mr.ResponseModels {
			if !slices.ContainsFunc(d.Models, func(x *restModel) bool { return x.Name == name }) {
				return badRequest("Invalid model identifier specified: %s", name)
			}
		}
		if m.MethodResponses == nil {
			m.MethodResponses = map[string]*methodResponse{}
		}
		m.MethodResponses[code] = mr
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, mr)
}

func (g *Gateway) getMethodResponse(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	_, m, err := methodOf(doc, c)
	if err != nil {
		return err
	}
	mr := m.MethodResponses[c.params["status_code"]]
	if mr == nil {
		return notFound("Invalid Response status code specified")
	}
	return c.json(http.StatusOK, mr)
}

func (g *Gateway) deleteMethodResponse(c *call) error {
	return g.removeREST(c, http.StatusNoContent, func(d *restDoc) error {
		_, m, err := methodOf(d, c)
		if err != nil {
			return err
		}
		if m.MethodResponses[c.params["status_code"]] == nil {
			return notFound("Invalid Response status code specified")
		}
		delete(m.MethodResponses, c.params["status_code"])
		return nil
	})
}

func (g *Gateway) updateMethodResponse(c *call) error {
	var in struct {
		PatchOperations []patchOp `json:"patchOperations"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	var out *methodResponse
	if _, err := g.changeREST(c, func(d *restDoc) error {
		_, m, err := methodOf(d, c)
		if err != nil {
			return err
		}
		mr := m.MethodResponses[c.params["status_code"]]
		if mr == nil {
			return notFound("Invalid Response status code specified")
		}
		for _, p := range in.PatchOperations {
			switch {
			case strings.HasPrefix(p.Path, "/responseParameters/"):
				k := strings.TrimPrefix(p.Path, "/responseParameters/")
				if p.Op == "remove" {
					delete(mr.ResponseParameters, k)
					continue
				}
				if mr.ResponseParameters == nil {
					mr.ResponseParameters = map[string]bool{}
				}
				mr.ResponseParameters[k] = p.Value == "true"
			case strings.HasPrefix(p.Path, "/responseModels/"):
				mr.ResponseModels = patchMap(mr.ResponseModels, strings.TrimPrefix(p.Path, "/responseModels/"), p)
			default:
				return badRequest("Invalid patch path %s", p.Path)
			}
		}
		out = mr
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusOK, out)
}

func (g *Gateway) putIntegrationResponse(c *call) error {
	var in integrationResponse
	if err := c.decode(&in); err != nil {
		return err
	}
	in.StatusCode = c.params["status_code"]
	if !validStatus(in.StatusCode) {
		return badRequest("Invalid status code specified: %s", in.StatusCode)
	}
	if err := checkIntegrationResponse(&in); err != nil {
		return err
	}
	if _, err := g.changeREST(c, func(d *restDoc) error {
		_, m, err := methodOf(d, c)
		if err != nil {
			return err
		}
		if m.MethodIntegration == nil {
			return notFound("No integration defined for method")
		}
		if m.MethodIntegration.IntegrationResponses == nil {
			m.MethodIntegration.IntegrationResponses = map[string]*integrationResponse{}
		}
		m.MethodIntegration.IntegrationResponses[in.StatusCode] = &in
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, &in)
}

func integrationResponseOf(d *restDoc, c *call) (*restIntegration, *integrationResponse, error) {
	_, m, err := methodOf(d, c)
	if err != nil {
		return nil, nil, err
	}
	if m.MethodIntegration == nil {
		return nil, nil, notFound("No integration defined for method")
	}
	ir := m.MethodIntegration.IntegrationResponses[c.params["status_code"]]
	if ir == nil {
		return nil, nil, notFound("Invalid Response status code specified")
	}
	return m.MethodIntegration, ir, nil
}

func (g *Gateway) getIntegrationResponse(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	_, ir, err := integrationResponseOf(doc, c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, ir)
}

func (g *Gateway) deleteIntegrationResponse(c *call) error {
	return g.removeREST(c, http.StatusNoContent, func(d *restDoc) error {
		x, _, err := integrationResponseOf(d, c)
		if err != nil {
			return err
		}
		delete(x.IntegrationResponses, c.params["status_code"])
		return nil
	})
}

func (g *Gateway) updateIntegrationResponse(c *call) error {
	var in struct {
		PatchOperations []patchOp `json:"patchOperations"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	var out *integrationResponse
	if _, err := g.changeREST(c, func(d *restDoc) error {
		x, ir, err := integrationResponseOf(d, c)
		if err != nil {
			return err
		}
		n := *ir
		n.ResponseTemplates, n.ResponseParameters = cloneMap(n.ResponseTemplates), cloneMap(n.ResponseParameters)
		for _, p := range in.PatchOperations {
			switch {
			case strings.HasPrefix(p.Path, "/responseTemplates/"):
				n.ResponseTemplates = patchMap(n.ResponseTemplates, strings.TrimPrefix(p.Path, "/responseTemplates/"), p)
			case strings.HasPrefix(p.Path, "/responseParameters/"):
				n.ResponseParameters = patchMap(n.ResponseParameters, strings.TrimPrefix(p.Path, "/responseParameters/"), p)
			case p.Path == "/selectionPattern" && p.Op == "replace":
				n.SelectionPattern = p.Value
			case p.Path == "/contentHandling" && p.Op == "replace":
				n.ContentHandling = p.Value
			default:
				return badRequest("Invalid patch path %s", p.Path)
			}
		}
		if err := checkIntegrationResponse(&n); err != nil {
			return err
		}
		x.IntegrationResponses[n.StatusCode] = &n
		out = &n
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusOK, out)
}
