package apigw

import (
	"net/http"
	"slices"
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
	// GatewayResponses, DocumentationParts and DocumentationVersions are
	// restextra.go's.
	GatewayResponses      map[string]*gatewayResponse `json:"gatewayResponses,omitempty"`
	DocumentationParts    []*docPart                  `json:"documentationParts,omitempty"`
	DocumentationVersions []*docVersion               `json:"documentationVersions,omitempty"`

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

// removeREST applies a management delete to a REST API's document and
// answers status with no body (AWS answers 202 or 204 by operation).
func (g *Gateway) removeREST(c *call, status int, remove func(d *restDoc) error) error {
	if _, err := g.changeREST(c, remove); err != nil {
		return err
	}
	return c.noContent(status)
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
	return g.removeREST(c, http.StatusNoContent, func(d *restDoc) error {
		r, _, err := methodOf(d, c)
		if err != nil {
			return err
		}
		delete(r.ResourceMethods, c.params["http_method"])
		return nil
	})
}
