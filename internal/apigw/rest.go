package apigw

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// restDoc is one REST API with everything under it, as stored.
type restDoc struct {
	API         restAPI           `json:"api"`
	Resources   []*restResource   `json:"resources"`
	Models      []*restModel      `json:"models"`
	Validators  []*restValidator  `json:"validators"`
	Authorizers []*restAuthorizer `json:"authorizers"`
	Deployments []*restDeployment `json:"deployments"`
	Stages      []*restStage      `json:"stages"`

	deployed map[string]*compiledDeployment // by deployment id
	schemas  *schemaSet
}

// compiledDeployment is a deployment's resources ready for matching.
type compiledDeployment struct {
	resources []*restResource
	patterns  []pattern
}

func (d *restDoc) compile() {
	d.deployed = map[string]*compiledDeployment{}
	for _, dep := range d.Deployments {
		cd := &compiledDeployment{resources: dep.Resources}
		for _, r := range dep.Resources {
			p, _ := parsePattern(r.Path)
			cd.patterns = append(cd.patterns, p)
		}
		d.deployed[dep.ID] = cd
	}
	d.schemas = compileModels(d.API.ID, d.Models)
}

type restAPI struct {
	APIKeySource              string                `json:"apiKeySource"`
	BinaryMediaTypes          []string              `json:"binaryMediaTypes,omitempty"`
	CreatedDate               int64                 `json:"createdDate"`
	Description               string                `json:"description,omitempty"`
	DisableExecuteAPIEndpoint bool                  `json:"disableExecuteApiEndpoint"`
	EndpointConfiguration     endpointConfiguration `json:"endpointConfiguration"`
	ID                        string                `json:"id"`
	MinimumCompressionSize    *int                  `json:"minimumCompressionSize,omitempty"`
	Name                      string                `json:"name"`
	Policy                    string                `json:"policy,omitempty"`
	RootResourceID            string                `json:"rootResourceId"`
	Tags                      map[string]string     `json:"tags,omitempty"`
	Version                   string                `json:"version,omitempty"`
}

type endpointConfiguration struct {
	Types         []string `json:"types"`
	IPAddressType string   `json:"ipAddressType,omitempty"`
}

type restResource struct {
	ID              string                 `json:"id"`
	ParentID        string                 `json:"parentId,omitempty"`
	PathPart        string                 `json:"pathPart,omitempty"`
	Path            string                 `json:"path"`
	ResourceMethods map[string]*restMethod `json:"resourceMethods,omitempty"`
}

type restMethod struct {
	APIKeyRequired      bool                       `json:"apiKeyRequired"`
	AuthorizationScopes []string                   `json:"authorizationScopes,omitempty"`
	AuthorizationType   string                     `json:"authorizationType"`
	AuthorizerID        string                     `json:"authorizerId,omitempty"`
	HTTPMethod          string                     `json:"httpMethod"`
	MethodIntegration   *restIntegration           `json:"methodIntegration,omitempty"`
	MethodResponses     map[string]*methodResponse `json:"methodResponses,omitempty"`
	OperationName       string                     `json:"operationName,omitempty"`
	RequestModels       map[string]string          `json:"requestModels,omitempty"`
	RequestParameters   map[string]bool            `json:"requestParameters,omitempty"`
	RequestValidatorID  string                     `json:"requestValidatorId,omitempty"`
}

type methodResponse struct {
	ResponseModels     map[string]string `json:"responseModels,omitempty"`
	ResponseParameters map[string]bool   `json:"responseParameters,omitempty"`
	StatusCode         string            `json:"statusCode"`
}

type integrationResponse struct {
	ContentHandling    string            `json:"contentHandling,omitempty"`
	ResponseParameters map[string]string `json:"responseParameters,omitempty"`
	ResponseTemplates  map[string]string `json:"responseTemplates,omitempty"`
	SelectionPattern   string            `json:"selectionPattern,omitempty"`
	StatusCode         string            `json:"statusCode"`
}

type restIntegration struct {
	CacheKeyParameters   []string                        `json:"cacheKeyParameters"`
	CacheNamespace       string                          `json:"cacheNamespace"`
	ContentHandling      string                          `json:"contentHandling,omitempty"`
	Credentials          string                          `json:"credentials,omitempty"`
	HTTPMethod           string                          `json:"httpMethod"`
	IntegrationResponses map[string]*integrationResponse `json:"integrationResponses,omitempty"`
	PassthroughBehavior  string                          `json:"passthroughBehavior"`
	RequestParameters    map[string]string               `json:"requestParameters,omitempty"`
	RequestTemplates     map[string]string               `json:"requestTemplates,omitempty"`
	TimeoutInMillis      int                             `json:"timeoutInMillis"`
	Type                 string                          `json:"type"`
	URI                  string                          `json:"uri"`
}

type restModel struct {
	ContentType string `json:"contentType"`
	Description string `json:"description,omitempty"`
	ID          string `json:"id"`
	Name        string `json:"name"`
	Schema      string `json:"schema,omitempty"`
}

type restValidator struct {
	ID                        string `json:"id"`
	Name                      string `json:"name,omitempty"`
	ValidateRequestBody       bool   `json:"validateRequestBody"`
	ValidateRequestParameters bool   `json:"validateRequestParameters"`
}

type restAuthorizer struct {
	AuthType                     string `json:"authType,omitempty"`
	AuthorizerCredentials        string `json:"authorizerCredentials,omitempty"`
	AuthorizerResultTTLInSeconds *int   `json:"authorizerResultTtlInSeconds,omitempty"`
	AuthorizerURI                string `json:"authorizerUri,omitempty"`
	ID                           string `json:"id"`
	IdentitySource               string `json:"identitySource,omitempty"`
	IdentityValidationExpression string `json:"identityValidationExpression,omitempty"`
	Name                         string `json:"name"`
	Type                         string `json:"type"`
}

type restDeployment struct {
	CreatedDate int64           `json:"createdDate"`
	Description string          `json:"description,omitempty"`
	ID          string          `json:"id"`
	Resources   []*restResource `json:"resources,omitempty"`
}

type methodSetting struct {
	CacheDataEncrypted                     bool    `json:"cacheDataEncrypted"`
	CacheTTLInSeconds                      int     `json:"cacheTtlInSeconds"`
	CachingEnabled                         bool    `json:"cachingEnabled"`
	DataTraceEnabled                       bool    `json:"dataTraceEnabled"`
	LoggingLevel                           string  `json:"loggingLevel"`
	MetricsEnabled                         bool    `json:"metricsEnabled"`
	RequireAuthorizationForCacheControl    bool    `json:"requireAuthorizationForCacheControl"`
	ThrottlingBurstLimit                   int     `json:"throttlingBurstLimit"`
	ThrottlingRateLimit                    float64 `json:"throttlingRateLimit"`
	UnauthorizedCacheControlHeaderStrategy string  `json:"unauthorizedCacheControlHeaderStrategy"`
}

func newMethodSetting() *methodSetting {
	return &methodSetting{CacheTTLInSeconds: 300, LoggingLevel: "OFF", RequireAuthorizationForCacheControl: true,
		ThrottlingBurstLimit: defaultBurst, ThrottlingRateLimit: defaultRate,
		UnauthorizedCacheControlHeaderStrategy: "SUCCEED_WITH_RESPONSE_HEADER"}
}

type restStage struct {
	CacheClusterEnabled bool                      `json:"cacheClusterEnabled"`
	CacheClusterSize    string                    `json:"cacheClusterSize,omitempty"`
	CacheClusterStatus  string                    `json:"cacheClusterStatus"`
	CreatedDate         int64                     `json:"createdDate"`
	DeploymentID        string                    `json:"deploymentId"`
	Description         string                    `json:"description,omitempty"`
	LastUpdatedDate     int64                     `json:"lastUpdatedDate"`
	MethodSettings      map[string]*methodSetting `json:"methodSettings"`
	StageName           string                    `json:"stageName"`
	Tags                map[string]string         `json:"tags,omitempty"`
	TracingEnabled      bool                      `json:"tracingEnabled"`
	Variables           map[string]string         `json:"variables,omitempty"`
}

func restKey(id string) string { return restKeyPrefix + id }

func restNotFound(id string) error { return notFound("Invalid API identifier specified %s", id) }

func (g *Gateway) restID(c *call) (string, error) {
	id := c.params["restapi_id"]
	if !validID(id) {
		return "", restNotFound(id)
	}
	return id, nil
}

func (g *Gateway) epoch() int64 { return g.now().Unix() }

func (d *restDoc) resource(id string) *restResource {
	for _, r := range d.Resources {
		if r.ID == id {
			return r
		}
	}
	return nil
}

func (d *restDoc) stage(name string) *restStage {
	for _, s := range d.Stages {
		if s.StageName == name {
			return s
		}
	}
	return nil
}

func (d *restDoc) authorizer(id string) *restAuthorizer {
	for _, a := range d.Authorizers {
		if a.ID == id {
			return a
		}
	}
	return nil
}

func (d *restDoc) validator(id string) *restValidator {
	for _, v := range d.Validators {
		if v.ID == id {
			return v
		}
	}
	return nil
}

// readREST reads a REST API's document for a management read.
func (g *Gateway) readREST(c *call) (*restDoc, error) {
	id, err := g.restID(c)
	if err != nil {
		return nil, err
	}
	var doc restDoc
	if _, err := g.docs.get(c.r.Context(), restKey(id), &doc); err != nil {
		return nil, mapNotFound(err, restNotFound(id))
	}
	return &doc, nil
}

// changeREST updates a REST API's document.
func (g *Gateway) changeREST(c *call, change func(d *restDoc) error) (*restDoc, error) {
	id, err := g.restID(c)
	if err != nil {
		return nil, err
	}
	return update(c.r.Context(), g.docs, restKey(id), restNotFound(id), change)
}

func (g *Gateway) createRestAPI(c *call) error {
	if c.r.URL.Query().Get("mode") == "import" {
		return g.importRestAPI(c)
	}
	var in struct {
		Name                      *string                `json:"name"`
		Description               string                 `json:"description"`
		Version                   string                 `json:"version"`
		BinaryMediaTypes          []string               `json:"binaryMediaTypes"`
		MinimumCompressionSize    *int                   `json:"minimumCompressionSize"`
		APIKeySource              string                 `json:"apiKeySource"`
		EndpointConfiguration     *endpointConfiguration `json:"endpointConfiguration"`
		Policy                    string                 `json:"policy"`
		Tags                      map[string]string      `json:"tags"`
		DisableExecuteAPIEndpoint bool                   `json:"disableExecuteApiEndpoint"`
		CloneFrom                 string                 `json:"cloneFrom"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.Name == nil || *in.Name == "" {
		return badRequest("Invalid input: name is required.")
	}
	if in.CloneFrom != "" {
		return badRequest("Nimbus does not support cloneFrom.")
	}
	doc := &restDoc{API: restAPI{
		ID: newID(10), Name: *in.Name, Description: in.Description, Version: in.Version, CreatedDate: g.epoch(),
		BinaryMediaTypes: in.BinaryMediaTypes, MinimumCompressionSize: in.MinimumCompressionSize, APIKeySource: "HEADER",
		EndpointConfiguration: endpointConfiguration{Types: []string{"EDGE"}, IPAddressType: "ipv4"}, Policy: in.Policy,
		Tags: in.Tags, DisableExecuteAPIEndpoint: in.DisableExecuteAPIEndpoint,
	}}
	if in.APIKeySource != "" {
		doc.API.APIKeySource = in.APIKeySource
	}
	if in.EndpointConfiguration != nil && len(in.EndpointConfiguration.Types) > 0 {
		doc.API.EndpointConfiguration.Types = in.EndpointConfiguration.Types
	}
	root := &restResource{ID: newID(10), Path: "/"}
	doc.API.RootResourceID = root.ID
	doc.Resources = []*restResource{root}
	if err := g.docs.create(c.r.Context(), restKey(doc.API.ID), doc); err != nil {
		return err
	}
	return c.json(http.StatusCreated, doc.API)
}

func (g *Gateway) getRestAPI(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, doc.API)
}

func (g *Gateway) getRestAPIs(c *call) error {
	all, err := list[restDoc](c.r.Context(), g.docs, restKeyPrefix)
	if err != nil {
		return err
	}
	items := make([]restAPI, 0, len(all))
	for _, d := range all {
		items = append(items, d.API)
	}
	return c.json(http.StatusOK, map[string]any{"item": items})
}

func (g *Gateway) deleteRestAPI(c *call) error {
	id, err := g.restID(c)
	if err != nil {
		return err
	}
	if err := g.docs.remove(c.r.Context(), restKey(id), restNotFound(id)); err != nil {
		return err
	}
	g.cache.flush(id + "|")
	return c.noContent(http.StatusAccepted)
}

// patchOp is one JSON Patch operation of the Update* calls.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value"`
	From  string `json:"from"`
}

func (g *Gateway) updateRestAPI(c *call) error {
	var in struct {
		PatchOperations []patchOp `json:"patchOperations"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	doc, err := g.changeREST(c, func(d *restDoc) error {
		for _, p := range in.PatchOperations {
			switch {
			case p.Path == "/name" && p.Op == "replace":
				d.API.Name = p.Value
			case p.Path == "/description" && p.Op == "replace":
				d.API.Description = p.Value
			case p.Path == "/version" && p.Op == "replace":
				d.API.Version = p.Value
			case strings.HasPrefix(p.Path, "/binaryMediaTypes/"):
				t := strings.ReplaceAll(strings.TrimPrefix(p.Path, "/binaryMediaTypes/"), "~1", "/")
				switch p.Op {
				case "add":
					if !slices.Contains(d.API.BinaryMediaTypes, t) {
						d.API.BinaryMediaTypes = append(d.API.BinaryMediaTypes, t)
					}
				case "remove":
					d.API.BinaryMediaTypes = slices.DeleteFunc(d.API.BinaryMediaTypes, func(s string) bool { return s == t })
				default:
					return badRequest("Invalid patch operation %s on %s", p.Op, p.Path)
				}
			case p.Path == "/disableExecuteApiEndpoint" && p.Op == "replace":
				d.API.DisableExecuteAPIEndpoint = p.Value == "true"
			default:
				return badRequest("Invalid patch path %s", p.Path)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, doc.API)
}

func (g *Gateway) getResources(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, map[string]any{"item": doc.Resources})
}

func (g *Gateway) getResource(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	if r := doc.resource(c.params["resource_id"]); r != nil {
		return c.json(http.StatusOK, r)
	}
	return notFound("Invalid Resource identifier specified")
}

// validPathPart checks a resource's path part: a literal, {name} or
// {name+}.
func validPathPart(p string) bool {
	if p == "" || strings.Contains(p, "/") {
		return false
	}
	_, ok := parsePattern("/" + p)
	return ok
}

func (g *Gateway) createResource(c *call) error {
	var in struct {
		PathPart *string `json:"pathPart"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.PathPart == nil || !validPathPart(*in.PathPart) {
		return badRequest("Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning and the end and an optional plus sign before the closing brace.")
	}
	res := &restResource{ID: newID(6), PathPart: *in.PathPart}
	if _, err := g.changeREST(c, func(d *restDoc) error {
		parent := d.resource(c.params["parent_id"])
		if parent == nil {
			return notFound("Invalid Resource identifier specified")
		}
		if strings.HasSuffix(parent.PathPart, "+}") {
			return badRequest("A greedy resource ({name+}) cannot have child resources.")
		}
		res.ParentID = parent.ID
		res.Path = strings.TrimSuffix(parent.Path, "/") + "/" + res.PathPart
		for _, o := range d.Resources {
			if o.ParentID == parent.ID {
				if o.PathPart == res.PathPart {
					return conflict("Another resource with the same parent already has this name: %s", res.PathPart)
				}
				if strings.HasPrefix(o.PathPart, "{") && strings.HasPrefix(res.PathPart, "{") {
					return badRequest("A sibling (%s) of this resource already has a variable path part -- only one is allowed", o.PathPart)
				}
			}
		}
		d.Resources = append(d.Resources, res)
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, res)
}

func (g *Gateway) deleteResource(c *call) error {
	if _, err := g.changeREST(c, func(d *restDoc) error {
		id := c.params["resource_id"]
		r := d.resource(id)
		if r == nil {
			return notFound("Invalid Resource identifier specified")
		}
		if r.ID == d.API.RootResourceID {
			return badRequest("Cannot delete the root resource.")
		}
		// The resource and all its descendants go.
		gone := map[string]bool{id: true}
		for changed := true; changed; {
			changed = false
			for _, o := range d.Resources {
				if !gone[o.ID] && gone[o.ParentID] {
					gone[o.ID], changed = true, true
				}
			}
		}
		d.Resources = slices.DeleteFunc(d.Resources, func(o *restResource) bool { return gone[o.ID] })
		return nil
	}); err != nil {
		return err
	}
	return c.noContent(http.StatusAccepted)
}

var restMethods = map[string]bool{"ANY": true, "GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "HEAD": true, "OPTIONS": true}

// methodOf finds the method named in the path.
func methodOf(d *restDoc, c *call) (*restResource, *restMethod, error) {
	r := d.resource(c.params["resource_id"])
	if r == nil {
		return nil, nil, notFound("Invalid Resource identifier specified")
	}
	m := r.ResourceMethods[c.params["http_method"]]
	if m == nil {
		return r, nil, notFound("Invalid Method identifier specified")
	}
	return r, m, nil
}

func (g *Gateway) putMethod(c *call) error {
	var in struct {
		AuthorizationType   *string           `json:"authorizationType"`
		AuthorizerID        string            `json:"authorizerId"`
		APIKeyRequired      bool              `json:"apiKeyRequired"`
		OperationName       string            `json:"operationName"`
		RequestParameters   map[string]bool   `json:"requestParameters"`
		RequestModels       map[string]string `json:"requestModels"`
		RequestValidatorID  string            `json:"requestValidatorId"`
		AuthorizationScopes []string          `json:"authorizationScopes"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	method := c.params["http_method"]
	if !restMethods[method] {
		return badRequest("Invalid HttpMethod specified. Valid options are GET,PUT,POST,DELETE,PATCH,OPTIONS,HEAD,ANY")
	}
	if in.AuthorizationType == nil {
		return badRequest("Invalid input: authorizationType is required.")
	}
	m := &restMethod{HTTPMethod: method, AuthorizationType: *in.AuthorizationType, AuthorizerID: in.AuthorizerID,
		APIKeyRequired: in.APIKeyRequired, OperationName: in.OperationName, RequestParameters: in.RequestParameters,
		RequestModels: in.RequestModels, RequestValidatorID: in.RequestValidatorID, AuthorizationScopes: in.AuthorizationScopes}
	switch m.AuthorizationType {
	case "NONE", "CUSTOM", "AWS_IAM":
	case "COGNITO_USER_POOLS":
		return badRequest("Nimbus does not support COGNITO_USER_POOLS authorization; use a Lambda (CUSTOM) authorizer.")
	default:
		return badRequest("Invalid authorization type specified. Valid options are NONE, AWS_IAM, CUSTOM, COGNITO_USER_POOLS")
	}
	for k := range m.RequestParameters {
		if !validMethodParameter(k) {
			return badRequest("Invalid mapping expression specified: Validation Result: warnings : [], errors : [Invalid method parameter name specified: %s]", k)
		}
	}
	if _, err := g.changeREST(c, func(d *restDoc) error {
		r := d.resource(c.params["resource_id"])
		if r == nil {
			return notFound("Invalid Resource identifier specified")
		}
		if m.AuthorizationType == "CUSTOM" && d.authorizer(m.AuthorizerID) == nil {
			return badRequest("Invalid authorizer ID specified. Setting the authorization type to CUSTOM requires a valid authorizer.")
		}
		if m.RequestValidatorID != "" && d.validator(m.RequestValidatorID) == nil {
			return badRequest("Invalid Request Validator identifier specified")
		}
		for _, name := range m.RequestModels {
			if !slices.ContainsFunc(d.Models, func(x *restModel) bool { return x.Name == name }) {
				return badRequest("Invalid model identifier specified: %s", name)
			}
		}
		if r.ResourceMethods[method] != nil {
			return conflict("Method already exists for this resource")
		}
		if r.ResourceMethods == nil {
			r.ResourceMethods = map[string]*restMethod{}
		}
		r.ResourceMethods[method] = m
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, m)
}

// validMethodParameter checks method.request.{querystring,header,path}.<name>.
func validMethodParameter(k string) bool {
	for _, p := range []string{"method.request.querystring.", "method.request.header.", "method.request.path.", "method.request.multivaluequerystring.", "method.request.multivalueheader."} {
		if n, ok := strings.CutPrefix(k, p); ok && n != "" {
			return true
		}
	}
	return false
}

func (g *Gateway) getMethod(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	_, m, err := methodOf(doc, c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, m)
}

func (g *Gateway) deleteMethod(c *call) error {
	if _, err := g.changeREST(c, func(d *restDoc) error {
		r, _, err := methodOf(d, c)
		if err != nil {
			return err
		}
		delete(r.ResourceMethods, c.params["http_method"])
		return nil
	}); err != nil {
		return err
	}
	return c.noContent(http.StatusNoContent)
}

func (g *Gateway) putIntegration(c *call) error {
	var in struct {
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
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.Type == nil {
		return badRequest("Invalid input: type is required.")
	}
	if *in.Type != "AWS_PROXY" {
		return badRequest("Nimbus supports integration type AWS_PROXY (Lambda proxy) only; got %s.", *in.Type)
	}
	if in.HTTPMethod != "" && in.HTTPMethod != "POST" {
		return badRequest("Lambda integrations must use the POST integration HTTP method; got %s.", in.HTTPMethod)
	}
	if _, err := checkFunctionURI(in.URI); err != nil || !strings.HasPrefix(in.URI, "arn:") || !strings.Contains(in.URI, ":apigateway:") {
		return badRequest("Invalid ARN specified in the request: an AWS_PROXY uri is arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function-arn>/invocations.")
	}
	x := &restIntegration{Type: "AWS_PROXY", HTTPMethod: "POST", URI: in.URI, Credentials: in.Credentials,
		RequestParameters: in.RequestParameters, RequestTemplates: in.RequestTemplates, PassthroughBehavior: "WHEN_NO_MATCH",
		CacheNamespace: in.CacheNamespace, CacheKeyParameters: nonNil(in.CacheKeyParameters), ContentHandling: in.ContentHandling,
		TimeoutInMillis: 29000}
	if in.PassthroughBehavior != "" {
		x.PassthroughBehavior = in.PassthroughBehavior
	}
	if in.TimeoutInMillis != nil {
		if *in.TimeoutInMillis < 50 || *in.TimeoutInMillis > 29000 {
			return badRequest("Timeout should be between 50 ms and 29000 ms")
		}
		x.TimeoutInMillis = *in.TimeoutInMillis
	}
	for _, k := range x.CacheKeyParameters {
		if !validMethodParameter(k) {
			return badRequest("Invalid cache key parameter specified: %s", k)
		}
	}
	if _, err := g.changeREST(c, func(d *restDoc) error {
		r, m, err := methodOf(d, c)
		if err != nil {
			return err
		}
		if x.CacheNamespace == "" {
			x.CacheNamespace = r.ID
		}
		m.MethodIntegration = x
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, x)
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

func (g *Gateway) putMethodResponse(c *call) error {
	var in struct {
		ResponseParameters map[string]bool   `json:"responseParameters"`
		ResponseModels     map[string]string `json:"responseModels"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	code := c.params["status_code"]
	if n, err := strconv.Atoi(code); err != nil || n < 100 || n > 599 {
		return badRequest("Invalid status code specified: %s", code)
	}
	mr := &methodResponse{StatusCode: code, ResponseParameters: in.ResponseParameters, ResponseModels: in.ResponseModels}
	if _, err := g.changeREST(c, func(d *restDoc) error {
		_, m, err := methodOf(d, c)
		if err != nil {
			return err
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

// putIntegrationResponse is stored for SAM's sake; proxy integrations
// pass the function's response through and do not use it.
func (g *Gateway) putIntegrationResponse(c *call) error {
	var in integrationResponse
	if err := c.decode(&in); err != nil {
		return err
	}
	in.StatusCode = c.params["status_code"]
	if n, err := strconv.Atoi(in.StatusCode); err != nil || n < 100 || n > 599 {
		return badRequest("Invalid status code specified: %s", in.StatusCode)
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

// snapshot copies the resources (with methods) for a deployment.
func snapshot(rs []*restResource) []*restResource {
	b, _ := json.Marshal(rs)
	var out []*restResource
	_ = json.Unmarshal(b, &out)
	return out
}

func (g *Gateway) createDeploymentREST(c *call) error {
	var in struct {
		StageName           string            `json:"stageName"`
		StageDescription    string            `json:"stageDescription"`
		Description         string            `json:"description"`
		CacheClusterEnabled *bool             `json:"cacheClusterEnabled"`
		CacheClusterSize    string            `json:"cacheClusterSize"`
		Variables           map[string]string `json:"variables"`
		TracingEnabled      *bool             `json:"tracingEnabled"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.StageName != "" && !validStageName(in.StageName) {
		return badRequest("Stage name only allows a-zA-Z0-9_")
	}
	for k, v := range in.Variables {
		if !validStageVariable(k, v) {
			return badRequest("Invalid stage variable %s", k)
		}
	}
	dep := &restDeployment{ID: newID(6), Description: in.Description, CreatedDate: g.epoch()}
	if _, err := g.changeREST(c, func(d *restDoc) error {
		hasMethod := false
		for _, r := range d.Resources {
			for _, m := range r.ResourceMethods {
				hasMethod = true
				if m.MethodIntegration == nil {
					return badRequest("No integration defined for method")
				}
			}
		}
		if !hasMethod {
			return badRequest("The REST API doesn't contain any methods")
		}
		dep.Resources = snapshot(d.Resources)
		d.Deployments = append(d.Deployments, dep)
		if in.StageName != "" {
			now := g.epoch()
			st := d.stage(in.StageName)
			if st == nil {
				st = &restStage{StageName: in.StageName, CreatedDate: now, MethodSettings: map[string]*methodSetting{},
					CacheClusterStatus: "NOT_AVAILABLE", Description: in.StageDescription}
				d.Stages = append(d.Stages, st)
			}
			st.DeploymentID, st.LastUpdatedDate = dep.ID, now
			if in.Variables != nil {
				st.Variables = in.Variables
			}
			if in.CacheClusterEnabled != nil {
				st.setCache(*in.CacheClusterEnabled, in.CacheClusterSize)
			}
			if in.TracingEnabled != nil {
				st.TracingEnabled = *in.TracingEnabled
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if in.StageName != "" {
		g.cache.flush(c.params["restapi_id"] + "|" + in.StageName + "|")
	}
	wire := *dep
	wire.Resources = nil
	return c.json(http.StatusCreated, wire)
}

func (g *Gateway) getDeployments(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	items := make([]restDeployment, 0, len(doc.Deployments))
	for _, d := range doc.Deployments {
		w := *d
		w.Resources = nil
		items = append(items, w)
	}
	return c.json(http.StatusOK, map[string]any{"item": items})
}

func (s *restStage) setCache(enabled bool, size string) {
	s.CacheClusterEnabled = enabled
	if enabled {
		s.CacheClusterStatus = "AVAILABLE"
		if size == "" && s.CacheClusterSize == "" {
			size = "0.5"
		}
	} else {
		s.CacheClusterStatus = "NOT_AVAILABLE"
	}
	if size != "" {
		s.CacheClusterSize = size
	}
}

func (g *Gateway) createStageREST(c *call) error {
	var in struct {
		StageName           *string           `json:"stageName"`
		DeploymentID        *string           `json:"deploymentId"`
		Description         string            `json:"description"`
		CacheClusterEnabled bool              `json:"cacheClusterEnabled"`
		CacheClusterSize    string            `json:"cacheClusterSize"`
		Variables           map[string]string `json:"variables"`
		TracingEnabled      bool              `json:"tracingEnabled"`
		Tags                map[string]string `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.StageName == nil || in.DeploymentID == nil {
		return badRequest("Invalid input: stageName and deploymentId are required.")
	}
	if !validStageName(*in.StageName) {
		return badRequest("Stage name only allows a-zA-Z0-9_")
	}
	for k, v := range in.Variables {
		if !validStageVariable(k, v) {
			return badRequest("Invalid stage variable %s", k)
		}
	}
	now := g.epoch()
	st := &restStage{StageName: *in.StageName, DeploymentID: *in.DeploymentID, Description: in.Description,
		Variables: in.Variables, TracingEnabled: in.TracingEnabled, Tags: in.Tags, CreatedDate: now, LastUpdatedDate: now,
		MethodSettings: map[string]*methodSetting{}, CacheClusterStatus: "NOT_AVAILABLE"}
	st.setCache(in.CacheClusterEnabled, in.CacheClusterSize)
	if _, err := g.changeREST(c, func(d *restDoc) error {
		if !slices.ContainsFunc(d.Deployments, func(x *restDeployment) bool { return x.ID == st.DeploymentID }) {
			return badRequest("Invalid deployment identifier specified")
		}
		if d.stage(st.StageName) != nil {
			return conflict("Stage already exists")
		}
		d.Stages = append(d.Stages, st)
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, st)
}

func (g *Gateway) getStageREST(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	if s := doc.stage(c.params["stage_name"]); s != nil {
		return c.json(http.StatusOK, s)
	}
	return notFound("Invalid Stage identifier specified")
}

func (g *Gateway) getStagesREST(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, map[string]any{"item": nonNil(doc.Stages)})
}

func (g *Gateway) deleteStageREST(c *call) error {
	name := c.params["stage_name"]
	if _, err := g.changeREST(c, func(d *restDoc) error {
		i := slices.IndexFunc(d.Stages, func(s *restStage) bool { return s.StageName == name })
		if i < 0 {
			return notFound("Invalid Stage identifier specified")
		}
		d.Stages = slices.Delete(d.Stages, i, i+1)
		return nil
	}); err != nil {
		return err
	}
	g.cache.flush(c.params["restapi_id"] + "|" + name + "|")
	return c.noContent(http.StatusAccepted)
}

func (g *Gateway) updateStageREST(c *call) error {
	var in struct {
		PatchOperations []patchOp `json:"patchOperations"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	name := c.params["stage_name"]
	var out *restStage
	if _, err := g.changeREST(c, func(d *restDoc) error {
		st := d.stage(name)
		if st == nil {
			return notFound("Invalid Stage identifier specified")
		}
		for _, p := range in.PatchOperations {
			if err := st.patch(d, p); err != nil {
				return err
			}
		}
		st.LastUpdatedDate = g.epoch()
		out = st
		return nil
	}); err != nil {
		return err
	}
	g.cache.flush(c.params["restapi_id"] + "|" + name + "|")
	return c.json(http.StatusOK, out)
}

// patch applies one UpdateStage operation: variables, cache cluster,
// description, deployment, tracing, and method settings at
// /<resource-path>/<METHOD>/<group>/<setting> (resource path with "/"
// written "~1", or "*/*" for every method).
func (s *restStage) patch(d *restDoc, p patchOp) error {
	path := strings.TrimPrefix(p.Path, "/")
	bad := func() error { return badRequest("Invalid patch path /%s", path) }
	if v, ok := strings.CutPrefix(path, "variables/"); ok {
		switch p.Op {
		case "replace", "add":
			if !validStageVariable(v, p.Value) {
				return badRequest("Invalid stage variable %s", v)
			}
			if s.Variables == nil {
				s.Variables = map[string]string{}
			}
			s.Variables[v] = p.Value
		case "remove":
			delete(s.Variables, v)
		default:
			return bad()
		}
		return nil
	}
	switch path {
	case "cacheClusterEnabled":
		s.setCache(p.Value == "true", "")
		return nil
	case "cacheClusterSize":
		s.CacheClusterSize = p.Value
		return nil
	case "description":
		s.Description = p.Value
		return nil
	case "tracingEnabled":
		s.TracingEnabled = p.Value == "true"
		return nil
	case "deploymentId":
		if !slices.ContainsFunc(d.Deployments, func(x *restDeployment) bool { return x.ID == p.Value }) {
			return badRequest("Invalid deployment identifier specified")
		}
		s.DeploymentID = p.Value
		return nil
	}
	parts := strings.Split(path, "/")
	if len(parts) != 4 {
		return bad()
	}
	key := parts[0] + "/" + parts[1]
	if p.Op == "remove" {
		delete(s.MethodSettings, key)
		return nil
	}
	ms := s.MethodSettings[key]
	if ms == nil {
		ms = newMethodSetting()
		// With the stage cache on, new settings cache (GET only for */*;
		// see serveREST), as API Gateway enables caching with the cache.
		ms.CachingEnabled = s.CacheClusterEnabled
		if base := s.MethodSettings["*/*"]; base != nil && key != "*/*" {
			c := *base
			ms = &c
		}
	}
	v := p.Value
	num := func() (float64, error) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return 0, badRequest("Invalid value %q for /%s", v, path)
		}
		return f, nil
	}
	switch parts[2] + "/" + parts[3] {
	case "throttling/rateLimit":
		f, err := num()
		if err != nil {
			return err
		}
		ms.ThrottlingRateLimit = f
	case "throttling/burstLimit":
		f, err := num()
		if err != nil {
			return err
		}
		ms.ThrottlingBurstLimit = int(f)
	case "caching/enabled":
		ms.CachingEnabled = v == "true"
	case "caching/ttlInSeconds":
		f, err := num()
		if err != nil || f > 3600 {
			return badRequest("Invalid cache TTL %q: must be between 0 and 3600.", v)
		}
		ms.CacheTTLInSeconds = int(f)
	case "caching/dataEncrypted":
		ms.CacheDataEncrypted = v == "true"
	case "caching/requireAuthorizationForCacheControl":
		ms.RequireAuthorizationForCacheControl = v == "true"
	case "caching/unauthorizedCacheControlHeaderStrategy":
		ms.UnauthorizedCacheControlHeaderStrategy = v
	case "logging/loglevel":
		ms.LoggingLevel = v
	case "logging/dataTrace":
		ms.DataTraceEnabled = v == "true"
	case "metrics/enabled":
		ms.MetricsEnabled = v == "true"
	default:
		return bad()
	}
	if s.MethodSettings == nil {
		s.MethodSettings = map[string]*methodSetting{}
	}
	s.MethodSettings[key] = ms
	return nil
}

func (g *Gateway) createModel(c *call) error {
	var in struct {
		Name        *string `json:"name"`
		Description string  `json:"description"`
		Schema      string  `json:"schema"`
		ContentType *string `json:"contentType"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.Name == nil || in.ContentType == nil {
		return badRequest("Invalid input: name and contentType are required.")
	}
	if !validModelName(*in.Name) {
		return badRequest("Model name must be alphanumeric")
	}
	m := &restModel{ID: newID(6), Name: *in.Name, Description: in.Description, Schema: in.Schema, ContentType: *in.ContentType}
	if _, err := g.changeREST(c, func(d *restDoc) error {
		if slices.ContainsFunc(d.Models, func(x *restModel) bool { return x.Name == m.Name }) {
			return conflict("Model name already exists for this REST API")
		}
		models := append(slices.Clone(d.Models), m)
		if err := checkModel(d.API.ID, models, m); err != nil {
			return badRequest("Invalid model specified: Validation Result: warnings : [], errors : [Invalid model schema specified: %s]", err.Error())
		}
		d.Models = models
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, m)
}

func validModelName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) {
			return false
		}
	}
	return true
}

func (g *Gateway) getModel(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	for _, m := range doc.Models {
		if m.Name == c.params["model_name"] {
			return c.json(http.StatusOK, m)
		}
	}
	return notFound("Invalid model name specified: %s", c.params["model_name"])
}

func (g *Gateway) getModels(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, map[string]any{"item": nonNil(doc.Models)})
}

func (g *Gateway) createRequestValidator(c *call) error {
	var in struct {
		Name                      string `json:"name"`
		ValidateRequestBody       bool   `json:"validateRequestBody"`
		ValidateRequestParameters bool   `json:"validateRequestParameters"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	v := &restValidator{ID: newID(6), Name: in.Name, ValidateRequestBody: in.ValidateRequestBody, ValidateRequestParameters: in.ValidateRequestParameters}
	if _, err := g.changeREST(c, func(d *restDoc) error {
		d.Validators = append(d.Validators, v)
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, v)
}

func (g *Gateway) getRequestValidators(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, map[string]any{"item": nonNil(doc.Validators)})
}

func (g *Gateway) createAuthorizerREST(c *call) error {
	var in struct {
		Name                         *string `json:"name"`
		Type                         *string `json:"type"`
		AuthType                     string  `json:"authType"`
		AuthorizerURI                string  `json:"authorizerUri"`
		AuthorizerCredentials        string  `json:"authorizerCredentials"`
		IdentitySource               string  `json:"identitySource"`
		IdentityValidationExpression string  `json:"identityValidationExpression"`
		AuthorizerResultTTLInSeconds *int    `json:"authorizerResultTtlInSeconds"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.Name == nil || in.Type == nil {
		return badRequest("Invalid input: name and type are required.")
	}
	if *in.Type != "TOKEN" && *in.Type != "REQUEST" {
		return badRequest("Nimbus supports Lambda authorizers (TOKEN, REQUEST); got type %s.", *in.Type)
	}
	if _, err := checkFunctionURI(in.AuthorizerURI); err != nil {
		return badRequest("Invalid Authorizer URI: %s. Authorizer URI should be a valid API Gateway ARN that represents a Lambda function invocation.", in.AuthorizerURI)
	}
	if *in.Type == "TOKEN" {
		if in.IdentitySource == "" {
			in.IdentitySource = "method.request.header.Authorization"
		}
		src, ok := parseIdentitySource(in.IdentitySource)
		if !ok || src.where != "header" {
			return badRequest("Invalid identity source %s: a TOKEN authorizer reads method.request.header.<name>.", in.IdentitySource)
		}
		if in.IdentityValidationExpression != "" {
			if _, err := restAuthorizerRegexp(in.IdentityValidationExpression); err != nil {
				return badRequest("Invalid identityValidationExpression: %s", err.Error())
			}
		}
	} else {
		for s := range strings.SplitSeq(in.IdentitySource, ",") {
			if strings.TrimSpace(s) == "" && in.IdentitySource == "" {
				continue
			}
			if _, ok := parseIdentitySource(s); !ok {
				return badRequest("Invalid identity source %s", s)
			}
		}
	}
	ttl := 300
	if in.AuthorizerResultTTLInSeconds != nil {
		ttl = *in.AuthorizerResultTTLInSeconds
		if ttl < 0 || ttl > 3600 {
			return badRequest("Invalid authorizerResultTtlInSeconds %d: must be between 0 and 3600.", ttl)
		}
	}
	if *in.Type == "REQUEST" && ttl > 0 && in.IdentitySource == "" {
		return badRequest("identitySource is required when authorizer caching is enabled.")
	}
	a := &restAuthorizer{ID: newID(6), Name: *in.Name, Type: *in.Type, AuthType: in.AuthType, AuthorizerURI: in.AuthorizerURI,
		AuthorizerCredentials: in.AuthorizerCredentials, IdentitySource: in.IdentitySource,
		IdentityValidationExpression: in.IdentityValidationExpression, AuthorizerResultTTLInSeconds: &ttl}
	if _, err := g.changeREST(c, func(d *restDoc) error {
		d.Authorizers = append(d.Authorizers, a)
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, a)
}

func (g *Gateway) getAuthorizersREST(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, map[string]any{"item": nonNil(doc.Authorizers)})
}

func (g *Gateway) getAuthorizerREST(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	if a := doc.authorizer(c.params["authorizer_id"]); a != nil {
		return c.json(http.StatusOK, a)
	}
	return notFound("Invalid Authorizer identifier specified")
}

func (g *Gateway) deleteAuthorizerREST(c *call) error {
	aid := c.params["authorizer_id"]
	if _, err := g.changeREST(c, func(d *restDoc) error {
		i := slices.IndexFunc(d.Authorizers, func(a *restAuthorizer) bool { return a.ID == aid })
		if i < 0 {
			return notFound("Invalid Authorizer identifier specified")
		}
		for _, r := range d.Resources {
			for _, m := range r.ResourceMethods {
				if m.AuthorizerID == aid {
					return conflict("Cannot delete authorizer '%s', is referenced in method: %s %s", d.Authorizers[i].Name, m.HTTPMethod, r.Path)
				}
			}
		}
		d.Authorizers = slices.Delete(d.Authorizers, i, i+1)
		return nil
	}); err != nil {
		return err
	}
	return c.noContent(http.StatusAccepted)
}
