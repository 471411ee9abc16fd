package apigw

import (
	"encoding/json"
	"errors"

	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/yamldoc"
)

// OpenAPI import: what SAM and CloudFormation send for an
// AWS::Serverless::Api / AWS::ApiGateway::RestApi with a Body
// (ImportRestApi, PutRestApi; Swagger 2.0 or OpenAPI 3) and for an
// AWS::Serverless::HttpApi / AWS::ApiGatewayV2::Api with a Body
// (ImportApi, ReimportApi; OpenAPI 3). The subset understood: paths and
// their methods with x-amazon-apigateway-integration of type aws_proxy,
// x-amazon-apigateway-any-method, x-amazon-apigateway-binary-media-types,
// Lambda authorizers in securityDefinitions / securitySchemes
// (x-amazon-apigateway-authorizer), sigv4 (AWS_IAM) security, request
// validators and models (REST), x-amazon-apigateway-cors (HTTP APIs).
// Anything else that would change behaviour is refused with
// BadRequestException naming it, never silently dropped.

type oaDoc struct {
	Swagger  oaText `json:"swagger"`
	OpenAPI  oaText `json:"openapi"`
	BasePath string `json:"basePath"`
	Info     struct {
		Title       oaText `json:"title"`
		Description string `json:"description"`
		Version     oaText `json:"version"`
	} `json:"info"`
	Paths               map[string]map[string]json.RawMessage `json:"paths"`
	Definitions         map[string]json.RawMessage            `json:"definitions"`
	SecurityDefinitions map[string]*oaSecurity                `json:"securityDefinitions"`
	Components          struct {
		Schemas         map[string]json.RawMessage `json:"schemas"`
		SecuritySchemes map[string]*oaSecurity     `json:"securitySchemes"`
	} `json:"components"`
	BinaryMediaTypes []string                     `json:"x-amazon-apigateway-binary-media-types"`
	Validators       map[string]oaValidator       `json:"x-amazon-apigateway-request-validators"`
	Validator        string                       `json:"x-amazon-apigateway-request-validator"`
	CORS             *cors                        `json:"x-amazon-apigateway-cors"`
	Security         []map[string]json.RawMessage `json:"security"`
	// Policy is the API's resource policy (SAM's Auth.ResourcePolicy
	// puts it here).
	Policy json.RawMessage `json:"x-amazon-apigateway-policy"`
}

type oaValidator struct {
	ValidateRequestBody       bool `json:"validateRequestBody"`
	ValidateRequestParameters bool `json:"validateRequestParameters"`
}

type oaSecurity struct {
	Type       string        `json:"type"`
	Name       string        `json:"name"`
	In         string        `json:"in"`
	AuthType   string        `json:"x-amazon-apigateway-authtype"`
	Authorizer *oaAuthorizer `json:"x-amazon-apigateway-authorizer"`
}

type oaAuthorizer struct {
	Type                           string          `json:"type"`
	AuthorizerURI                  string          `json:"authorizerUri"`
	AuthorizerCredentials          string          `json:"authorizerCredentials"`
	AuthorizerResultTTLInSeconds   *int            `json:"authorizerResultTtlInSeconds"`
	IdentitySource                 json.RawMessage `json:"identitySource"`
	IdentityValidationExpression   string          `json:"identityValidationExpression"`
	AuthorizerPayloadFormatVersion string          `json:"authorizerPayloadFormatVersion"`
	EnableSimpleResponses          bool            `json:"enableSimpleResponses"`
	JwtConfiguration               *jwtConf        `json:"jwtConfiguration"`
}

type oaOperation struct {
	OperationID string `json:"operationId"`
	Parameters  []struct {
		Name     string `json:"name"`
		In       string `json:"in"`
		Required bool   `json:"required"`
		Schema   struct {
			Ref string `json:"$ref"`
		} `json:"schema"`
	} `json:"parameters"`
	RequestBody struct {
		Content map[string]struct {
			Schema struct {
				Ref string `json:"$ref"`
			} `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
	Security    []map[string]json.RawMessage `json:"security"`
	Integration *struct {
		Type                 string   `json:"type"`
		URI                  string   `json:"uri"`
		HTTPMethod           string   `json:"httpMethod"`
		PayloadFormatVersion string   `json:"payloadFormatVersion"`
		TimeoutInMillis      int      `json:"timeoutInMillis"`
		CacheKeyParameters   []string `json:"cacheKeyParameters"`
		// HTTP APIs' service and HTTP proxy integrations (httpinteg.go).
		IntegrationSubtype string          `json:"integrationSubtype"`
		ResponseParameters json.RawMessage `json:"responseParameters"`
		// The rest is read for REST non-proxy integrations (restinteg.go).
		Credentials         string            `json:"credentials"`
		RequestParameters   map[string]string `json:"requestParameters"`
		RequestTemplates    map[string]string `json:"requestTemplates"`
		PassthroughBehavior string            `json:"passthroughBehavior"`
		ContentHandling     string            `json:"contentHandling"`
		ConnectionType      string            `json:"connectionType"`
		ConnectionID        string            `json:"connectionId"`
		Responses           map[string]struct {
			StatusCode         json.RawMessage   `json:"statusCode"`
			ResponseParameters map[string]string `json:"responseParameters"`
			ResponseTemplates  map[string]string `json:"responseTemplates"`
			ContentHandling    string            `json:"contentHandling"`
		} `json:"responses"`
	} `json:"x-amazon-apigateway-integration"`
	// Responses are the operation's method responses (REST).
	Responses map[string]struct {
		Headers map[string]json.RawMessage `json:"headers"`
	} `json:"responses"`
	Validator string `json:"x-amazon-apigateway-request-validator"`
}

// oaText is a string that a YAML document may have written as a plain
// number (swagger: 2.0, info: {version: 1.0}); API Gateway takes those as
// their text.
type oaText string

func (t *oaText) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = oaText(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*t = oaText(n.String())
	return nil
}

var oaMethods = map[string]string{
	"get": "GET", "put": "PUT", "post": "POST", "delete": "DELETE", "patch": "PATCH", "head": "HEAD", "options": "OPTIONS",
	"x-amazon-apigateway-any-method": "ANY",
}

// readOpenAPI reads a definition in JSON or YAML with the reader (and
// limits) templates have: it is untrusted input.
func readOpenAPI(b []byte) (*oaDoc, error) {
	v, err := yamldoc.Decode(b, yamldoc.Options{MaxBytes: maxMgmtBody, Noun: "definition"})
	if err != nil {
		return nil, badRequest("Invalid OpenAPI input: %s", err.Error())
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, badRequest("Invalid OpenAPI input: %s", err.Error())
	}
	var doc oaDoc
	if err := json.Unmarshal(j, &doc); err != nil {
		return nil, badRequest("Invalid OpenAPI input: %s", err.Error())
	}
	if doc.Swagger == "" && doc.OpenAPI == "" {
		return nil, badRequest("Invalid OpenAPI input: neither swagger nor openapi version is specified.")
	}
	return &doc, nil
}

func (d *oaDoc) securitySchemes() map[string]*oaSecurity {
	if d.SecurityDefinitions != nil {
		return d.SecurityDefinitions
	}
	return d.Components.SecuritySchemes
}

func (d *oaDoc) schemas() map[string]json.RawMessage {
	if d.Definitions != nil {
		return d.Definitions
	}
	return d.Components.Schemas
}

// modelName reads the model a $ref names.
func modelName(ref string) string {
	for _, p := range []string{"#/definitions/", "#/components/schemas/"} {
		if n, ok := strings.CutPrefix(ref, p); ok {
			return n
		}
	}
	return ""
}

// operations lists the methods of each path, in a stable order.
func (d *oaDoc) operations() ([]oaOp, error) {
	var out []oaOp
	paths := make([]string, 0, len(d.Paths))
	for p := range d.Paths {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		for m, raw := range d.Paths[p] {
			method, ok := oaMethods[strings.ToLower(m)]
			if !ok {
				continue // parameters, summary, x-... at path level
			}
			var op oaOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, badRequest("Invalid OpenAPI input at %s %s: %s", m, p, err.Error())
			}
			out = append(out, oaOp{path: p, method: method, op: &op})
		}
	}
	slices.SortFunc(out, func(a, b oaOp) int { return strings.Compare(a.path+" "+a.method, b.path+" "+b.method) })
	return out, nil
}

type oaOp struct {
	path, method string
	op           *oaOperation
}

// integrationURI checks an operation's integration: Lambda proxy only.
func (o oaOp) integrationURI() (string, string, error) {
	x := o.op.Integration
	if x == nil {
		return "", "", badRequest("Unable to put integration on '%s' for resource at path '%s': no x-amazon-apigateway-integration.", o.method, o.path)
	}
	if !strings.EqualFold(x.Type, "aws_proxy") {
		return "", "", badRequest("Nimbus imports Lambda proxy integrations (type aws_proxy) only; %s %s has type %s.", o.method, o.path, x.Type)
	}
	if _, err := checkFunctionURI(x.URI); err != nil {
		return "", "", badRequest("Invalid integration URI for %s %s: %s", o.method, o.path, x.URI)
	}
	return x.URI, x.PayloadFormatVersion, nil
}

// security picks the operation's (or the document's) security scheme.
func (d *oaDoc) security(o oaOp) (name string, scheme *oaSecurity) {
	sec := o.op.Security
	if sec == nil {
		sec = d.Security
	}
	for _, req := range sec {
		for n := range req {
			if s := d.securitySchemes()[n]; s != nil {
				return n, s
			}
		}
	}
	return "", nil
}

func isSigV4(s *oaSecurity) bool { return strings.EqualFold(s.AuthType, "awsSigv4") }

// importREST builds (or, for merge, extends) a REST API document.
func (g *Gateway) importREST(doc *restDoc, oa *oaDoc, merge bool) error {
	if !merge {
		root := doc.resource(doc.API.RootResourceID)
		if root == nil {
			root = &restResource{ID: newID(10), Path: "/"}
			doc.API.RootResourceID = root.ID
		}
		root.ResourceMethods = nil
		doc.Resources = []*restResource{root}
		doc.Models, doc.Validators, doc.Authorizers = nil, nil, nil
	}
	if oa.Info.Title != "" && !merge {
		doc.API.Name = string(oa.Info.Title)
	}
	if oa.Info.Description != "" {
		doc.API.Description = oa.Info.Description
	}
	for _, t := range oa.BinaryMediaTypes {
		if !slices.Contains(doc.API.BinaryMediaTypes, t) {
			doc.API.BinaryMediaTypes = append(doc.API.BinaryMediaTypes, t)
		}
	}
	if len(oa.Policy) > 0 && string(oa.Policy) != "null" {
		var pol struct{ Statement json.RawMessage }
		if err := json.Unmarshal(oa.Policy, &pol); err != nil || len(pol.Statement) == 0 {
			return badRequest("Invalid OpenAPI input: x-amazon-apigateway-policy must be a policy document.")
		}
		doc.API.Policy = string(oa.Policy)
	}
	// Models.
	names := make([]string, 0, len(oa.schemas()))
	for n := range oa.schemas() {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if !validModelName(n) {
			return badRequest("Invalid model name %s: model names are alphanumeric.", n)
		}
		schema := rewriteRefs(string(oa.schemas()[n]), doc.API.ID)
		doc.Models = slices.DeleteFunc(doc.Models, func(m *restModel) bool { return m.Name == n })
		doc.Models = append(doc.Models, &restModel{ID: newID(6), Name: n, ContentType: "application/json", Schema: schema})
	}
	for _, m := range doc.Models {
		if err := checkModel(doc.API.ID, doc.Models, m); err != nil {
			return badRequest("Invalid model specified: %s", err.Error())
		}
	}
	// Validators.
	validatorIDs := map[string]string{}
	for _, v := range doc.Validators {
		validatorIDs[v.Name] = v.ID
	}
	vnames := make([]string, 0, len(oa.Validators))
	for n := range oa.Validators {
		vnames = append(vnames, n)
	}
	slices.Sort(vnames)
	for _, n := range vnames {
		v := oa.Validators[n]
		if id, ok := validatorIDs[n]; ok {
			rv := doc.validator(id)
			rv.ValidateRequestBody, rv.ValidateRequestParameters = v.ValidateRequestBody, v.ValidateRequestParameters
			continue
		}
		rv := &restValidator{ID: newID(6), Name: n, ValidateRequestBody: v.ValidateRequestBody, ValidateRequestParameters: v.ValidateRequestParameters}
		doc.Validators = append(doc.Validators, rv)
		validatorIDs[n] = rv.ID
	}
	// Authorizers.
	authorizerIDs := map[string]string{}
	for _, a := range doc.Authorizers {
		authorizerIDs[a.Name] = a.ID
	}
	ops, err := oa.operations()
	if err != nil {
		return err
	}
	for _, o := range ops {
		if o.op.Integration == nil {
			return badRequest("Unable to put integration on '%s' for resource at path '%s': no x-amazon-apigateway-integration.", o.method, o.path)
		}
		res, err := ensureResource(doc, o.path)
		if err != nil {
			return err
		}
		m := &restMethod{HTTPMethod: o.method, AuthorizationType: "NONE"}
		for _, name := range oa.securityNames(o) {
			s := oa.securitySchemes()[name]
			switch {
			case s == nil:
				return badRequest("Undefined security scheme %s on %s %s.", name, o.method, o.path)
			case isSigV4(s):
				m.AuthorizationType = "AWS_IAM"
			case s.Authorizer != nil:
				id, err := importRESTAuthorizer(doc, authorizerIDs, name, s)
				if err != nil {
					return err
				}
				m.AuthorizationType, m.AuthorizerID = "CUSTOM", id
			case s.Type == "apiKey" && strings.EqualFold(s.Name, "x-api-key") && s.In == "header":
				m.APIKeyRequired = true
			default:
				return badRequest("Unsupported security scheme %s on %s %s: Nimbus supports Lambda authorizers, sigv4 and API keys.", name, o.method, o.path)
			}
		}
		vname := o.op.Validator
		if vname == "" {
			vname = oa.Validator
		}
		if vname != "" {
			id, ok := validatorIDs[vname]
			if !ok {
				return badRequest("Invalid request validator %s on %s %s.", vname, o.method, o.path)
			}
			m.RequestValidatorID = id
		}
		for _, p := range o.op.Parameters {
			switch p.In {
			case "query", "header", "path":
				where := map[string]string{"query": "querystring", "header": "header", "path": "path"}[p.In]
				if m.RequestParameters == nil {
					m.RequestParameters = map[string]bool{}
				}
				m.RequestParameters["method.request."+where+"."+p.Name] = p.Required || p.In == "path"
			case "body":
				if n := modelName(p.Schema.Ref); n != "" {
					m.RequestModels = map[string]string{"application/json": n}
				}
			}
		}
		for ct, c := range o.op.RequestBody.Content {
			if n := modelName(c.Schema.Ref); n != "" {
				if m.RequestModels == nil {
					m.RequestModels = map[string]string{}
				}
				m.RequestModels[ct] = n
			}
		}
		m.MethodResponses = importMethodResponses(o)
		integ, err := importIntegration(res.ID, o, m)
		if err != nil {
			return err
		}
		if integ != nil {
			if err := g.checkIntegrationHost(integ.Type, integ.URI); err != nil {
				return err
			}
		}
		m.MethodIntegration = integ
		if res.ResourceMethods == nil {
			res.ResourceMethods = map[string]*restMethod{}
		}
		res.ResourceMethods[o.method] = m
	}
	return nil
}

// rewriteRefs points a schema's #/definitions and #/components/schemas
// references at the models' URLs, as API Gateway does on import.
func rewriteRefs(schema, apiID string) string {
	for _, p := range []string{"#/definitions/", "#/components/schemas/"} {
		schema = strings.ReplaceAll(schema, `"`+p, `"`+modelURL(apiID, ""))
	}
	return schema
}

// ensureResource finds or creates the resources of a path.
func ensureResource(doc *restDoc, path string) (*restResource, error) {
	parent := doc.resource(doc.API.RootResourceID)
	if path == "/" || path == "" {
		return parent, nil
	}
	if !strings.HasPrefix(path, "/") {
		return nil, badRequest("Invalid path %s: paths start with /.", path)
	}
	for _, part := range strings.Split(strings.Trim(path, "/"), "/") {
		if !validPathPart(part) {
			return nil, badRequest("Invalid path %s: resource path parts are literals, {name} or {name+}.", path)
		}
		var next *restResource
		for _, r := range doc.Resources {
			if r.ParentID == parent.ID && r.PathPart == part {
				next = r
				break
			}
		}
		if next == nil {
			next = &restResource{ID: newID(6), ParentID: parent.ID, PathPart: part, Path: strings.TrimSuffix(parent.Path, "/") + "/" + part}
			doc.Resources = append(doc.Resources, next)
		}
		parent = next
	}
	return parent, nil
}

func importRESTAuthorizer(doc *restDoc, ids map[string]string, name string, s *oaSecurity) (string, error) {
	if id, ok := ids[name]; ok {
		return id, nil
	}
	a := s.Authorizer
	typ := strings.ToUpper(a.Type)
	if typ != "TOKEN" && typ != "REQUEST" {
		return "", badRequest("Unsupported authorizer type %s in %s: Nimbus supports Lambda authorizers (token, request).", a.Type, name)
	}
	if _, err := checkFunctionURI(a.AuthorizerURI); err != nil {
		return "", badRequest("Invalid authorizerUri in %s: %s", name, a.AuthorizerURI)
	}
	var src string
	_ = json.Unmarshal(a.IdentitySource, &src)
	if typ == "TOKEN" && src == "" {
		src = "method.request.header." + s.Name
		if s.Name == "" {
			src = "method.request.header.Authorization"
		}
	}
	ttl := 300
	if a.AuthorizerResultTTLInSeconds != nil {
		ttl = *a.AuthorizerResultTTLInSeconds
	}
	ra := &restAuthorizer{ID: newID(6), Name: name, Type: typ, AuthType: s.AuthType, AuthorizerURI: a.AuthorizerURI,
		AuthorizerCredentials: a.AuthorizerCredentials, IdentitySource: src, IdentityValidationExpression: a.IdentityValidationExpression,
		AuthorizerResultTTLInSeconds: &ttl}
	doc.Authorizers = append(doc.Authorizers, ra)
	ids[name] = ra.ID
	return ra.ID, nil
}

// importHTTP builds an HTTP API document's routes, integrations and
// authorizers from an OpenAPI 3 definition, replacing the old ones.
func (g *Gateway) importHTTP(doc *httpDoc, oa *oaDoc) error {
	if oa.Info.Title != "" {
		doc.API.Name = string(oa.Info.Title)
	}
	if oa.Info.Description != "" {
		doc.API.Description = oa.Info.Description
	}
	if oa.Info.Version != "" {
		doc.API.Version = string(oa.Info.Version)
	}
	if oa.CORS != nil {
		if err := checkCORS(oa.CORS); err != nil {
			return err
		}
		doc.API.CorsConfiguration = oa.CORS
	}
	doc.Routes, doc.Integrations, doc.Authorizers = nil, nil, nil
	ops, err := oa.operations()
	if err != nil {
		return err
	}
	integrations := map[string]*httpIntegration{}
	authorizers := map[string]string{}
	for _, o := range ops {
		key := o.method + " " + o.path
		// SAM writes the $default route as the path "$default" (an HttpApi
		// event with no Path and Method); "/$default" is also read.
		if o.path == "$default" || o.path == "/$default" {
			key = "$default"
		}
		if _, ok := parseRouteKey(key); !ok {
			return badRequest("Invalid route %s.", key)
		}
		var x *httpIntegration
		uri, pfv, err := "", "", error(nil)
		if ox := o.op.Integration; ox != nil && (strings.EqualFold(ox.Type, "http_proxy") || ox.IntegrationSubtype != "") {
			if x, err = importHTTPIntegration(o); err != nil {
				return err
			}
			if err := g.checkIntegrationHost(x.IntegrationType, x.IntegrationURI); err != nil {
				return err
			}
			doc.Integrations = append(doc.Integrations, x)
		} else if uri, pfv, err = o.integrationURI(); err != nil {
			return err
		}
		if pfv == "" {
			pfv = "1.0"
		}
		if pfv != "1.0" && pfv != "2.0" {
			return badRequest("Invalid payloadFormatVersion %s on %s %s.", pfv, o.method, o.path)
		}
		if x == nil {
			x = integrations[uri+"|"+pfv]
		}
		if x == nil {
			x = &httpIntegration{IntegrationID: newID(7), IntegrationType: "AWS_PROXY", IntegrationURI: uri, IntegrationMethod: "POST",
				PayloadFormatVersion: pfv, ConnectionType: "INTERNET", TimeoutInMillis: 30000}
			if t := o.op.Integration.TimeoutInMillis; t >= 50 && t <= 30000 {
				x.TimeoutInMillis = t
			}
			integrations[uri+"|"+pfv] = x
			doc.Integrations = append(doc.Integrations, x)
		}
		r := &httpRoute{RouteID: newID(7), RouteKey: key, Target: "integrations/" + x.IntegrationID, AuthorizationType: "NONE", OperationName: o.op.OperationID}
		if name, s := oa.security(o); s != nil {
			switch {
			case isSigV4(s):
				r.AuthorizationType = "AWS_IAM"
			case s.Authorizer != nil && strings.EqualFold(s.Authorizer.Type, "jwt"):
				id, ok := authorizers[name]
				if !ok {
					var sources []string
					var one string
					if err := json.Unmarshal(s.Authorizer.IdentitySource, &one); err == nil && one != "" {
						sources = []string{one}
					} else {
						_ = json.Unmarshal(s.Authorizer.IdentitySource, &sources)
					}
					a, err := newJWTAuthorizer(name, s.Authorizer.JwtConfiguration, sources)
					if err != nil {
						return err
					}
					doc.Authorizers = append(doc.Authorizers, a)
					authorizers[name], id = a.AuthorizerID, a.AuthorizerID
				}
				r.AuthorizationType, r.AuthorizerID = "JWT", id
				r.AuthorizationScopes = oa.scopes(o, name)
			case s.Authorizer != nil && strings.EqualFold(s.Authorizer.Type, "request"):
				id, ok := authorizers[name]
				if !ok {
					a, err := importHTTPAuthorizer(name, s.Authorizer)
					if err != nil {
						return err
					}
					doc.Authorizers = append(doc.Authorizers, a)
					authorizers[name], id = a.AuthorizerID, a.AuthorizerID
				}
				r.AuthorizationType, r.AuthorizerID = "CUSTOM", id
			default:
				return badRequest("Unsupported security scheme %s on %s: Nimbus supports Lambda (request) authorizers and sigv4.", name, key)
			}
		}
		doc.Routes = append(doc.Routes, r)
	}
	return nil
}

func importHTTPAuthorizer(name string, a *oaAuthorizer) (*httpAuthorizer, error) {
	if _, err := checkFunctionURI(a.AuthorizerURI); err != nil {
		return nil, badRequest("Invalid authorizerUri in %s: %s", name, a.AuthorizerURI)
	}
	out := &httpAuthorizer{AuthorizerID: newID(6), Name: name, AuthorizerType: "REQUEST", AuthorizerURI: a.AuthorizerURI,
		AuthorizerPayloadFormatVersion: a.AuthorizerPayloadFormatVersion, EnableSimpleResponses: a.EnableSimpleResponses,
		AuthorizerCredentialsArn: a.AuthorizerCredentials, IdentityValidationExpression: a.IdentityValidationExpression}
	if out.AuthorizerPayloadFormatVersion == "" {
		out.AuthorizerPayloadFormatVersion = "2.0"
	}
	if a.AuthorizerResultTTLInSeconds != nil {
		out.AuthorizerResultTTLInSeconds = *a.AuthorizerResultTTLInSeconds
	}
	var one string
	if err := json.Unmarshal(a.IdentitySource, &one); err == nil {
		for s := range strings.SplitSeq(one, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out.IdentitySource = append(out.IdentitySource, s)
			}
		}
	} else {
		_ = json.Unmarshal(a.IdentitySource, &out.IdentitySource)
	}
	for _, s := range out.IdentitySource {
		if _, ok := parseIdentitySource(s); !ok {
			return nil, badRequest("Invalid identitySource %s in %s.", s, name)
		}
	}
	return out, nil
}

// readDefinition reads an import body of at most maxMgmtBody bytes.
func (c *call) readDefinition() ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(c.r.Body, maxMgmtBody+1))
	if err != nil {
		return nil, badRequest("Could not read the request body.")
	}
	if len(b) > maxMgmtBody {
		return nil, badRequest("The API definition is larger than %d bytes.", maxMgmtBody)
	}
	return b, nil
}

// importRestAPI is ImportRestApi: POST /restapis?mode=import with the
// definition as the body.
func (g *Gateway) importRestAPI(c *call) error {
	b, err := c.readDefinition()
	if err != nil {
		return err
	}
	oa, err := readOpenAPI(b)
	if err != nil {
		return err
	}
	doc := &restDoc{API: restAPI{ID: newID(10), Name: string(oa.Info.Title), CreatedDate: g.epoch(), APIKeySource: "HEADER",
		EndpointConfiguration: endpointConfiguration{Types: []string{"EDGE"}, IPAddressType: "ipv4"}, Version: string(oa.Info.Version)}}
	if doc.API.Name == "" {
		return badRequest("Invalid OpenAPI input: info.title is required.")
	}
	if err := g.importREST(doc, oa, false); err != nil {
		return err
	}
	if err := g.docs.create(c.r.Context(), restKey(doc.API.ID), doc); err != nil {
		return err
	}
	return c.json(http.StatusCreated, doc.API)
}

// putRestAPI is PutRestApi: PUT /restapis/{id}?mode=overwrite|merge.
func (g *Gateway) putRestAPI(c *call) error {
	mode := c.r.URL.Query().Get("mode")
	if mode == "" {
		mode = "merge"
	}
	if mode != "merge" && mode != "overwrite" {
		return badRequest("Invalid mode %s: must be merge or overwrite.", mode)
	}
	b, err := c.readDefinition()
	if err != nil {
		return err
	}
	oa, err := readOpenAPI(b)
	if err != nil {
		return err
	}
	doc, err := g.changeREST(c, func(d *restDoc) error { return g.importREST(d, oa, mode == "merge") })
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, doc.API)
}

// importBody is ImportApi's and ReimportApi's request.
type importBody struct {
	Body string `json:"body"`
}

func (g *Gateway) importAPI(c *call) error {
	var in importBody
	if err := c.decode(&in); err != nil {
		return err
	}
	oa, err := readOpenAPI([]byte(in.Body))
	if err != nil {
		return err
	}
	if oa.Info.Title == "" {
		return badRequest("Invalid OpenAPI input: info.title is required.")
	}
	doc := &httpDoc{API: httpAPI{APIID: newID(10), ProtocolType: "HTTP", IPAddressType: "ipv4", CreatedDate: g.isoNow(),
		RouteSelectionExpression: "${request.method} ${request.path}", APIKeySelectionExpression: "$request.header.x-api-key",
		Tags: map[string]string{}}}
	if err := g.importHTTP(doc, oa); err != nil {
		return err
	}
	if err := g.docs.create(c.r.Context(), httpKey(doc.API.APIID), doc); err != nil {
		return err
	}
	return c.json(http.StatusCreated, g.wireAPI(doc.API))
}

func (g *Gateway) reimportAPI(c *call) error {
	id, err := g.apiID(c)
	if err != nil {
		return err
	}
	var in importBody
	if err := c.decode(&in); err != nil {
		return err
	}
	oa, err := readOpenAPI([]byte(in.Body))
	if err != nil {
		return err
	}
	doc, err := update(c.r.Context(), g.docs, httpKey(id), apiNotFound(id), func(d *httpDoc) error { return g.importHTTP(d, oa) })
	if err != nil {
		return err
	}
	return c.json(http.StatusCreated, g.wireAPI(doc.API))
}

// scopes are the scopes an operation's security requirement lists for
// the scheme name.
func (d *oaDoc) scopes(o oaOp, name string) []string {
	sec := o.op.Security
	if sec == nil {
		sec = d.Security
	}
	for _, req := range sec {
		if raw, ok := req[name]; ok {
			var out []string
			_ = json.Unmarshal(raw, &out)
			return out
		}
	}
	return nil
}

// securityNames lists the schemes of an operation's (or the document's)
// first security requirement, sorted.
func (d *oaDoc) securityNames(o oaOp) []string {
	sec := o.op.Security
	if sec == nil {
		sec = d.Security
	}
	if len(sec) == 0 {
		return nil
	}
	names := make([]string, 0, len(sec[0]))
	for n := range sec[0] {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// importHTTPIntegration reads an HTTP API operation's HTTP_PROXY or AWS
// service (integrationSubtype) integration through the checks
// CreateIntegration applies.
func importHTTPIntegration(o oaOp) (*httpIntegration, error) {
	ox := o.op.Integration
	typ := strings.ToUpper(ox.Type)
	in := integrationInput{IntegrationType: &typ, RequestParameters: ox.RequestParameters}
	if ox.IntegrationSubtype != "" {
		in.IntegrationSubtype = &ox.IntegrationSubtype
	}
	if ox.URI != "" {
		in.IntegrationURI = &ox.URI
	}
	if ox.HTTPMethod != "" {
		in.IntegrationMethod = &ox.HTTPMethod
	}
	if ox.Credentials != "" {
		in.CredentialsArn = &ox.Credentials
	}
	if ox.PayloadFormatVersion != "" {
		in.PayloadFormatVersion = &ox.PayloadFormatVersion
	}
	if ox.ConnectionType != "" {
		in.ConnectionType = &ox.ConnectionType
	}
	if ox.TimeoutInMillis != 0 {
		in.TimeoutInMillis = &ox.TimeoutInMillis
	}
	if len(ox.ResponseParameters) > 0 {
		if err := json.Unmarshal(ox.ResponseParameters, &in.ResponseParameters); err != nil {
			return nil, badRequest("Invalid responseParameters on %s %s: a map of status codes to mappings.", o.method, o.path)
		}
	}
	if typ == "HTTP_PROXY" && ox.HTTPMethod == "" {
		return nil, badRequest("Invalid integration on %s %s: an http_proxy integration needs httpMethod.", o.method, o.path)
	}
	x := &httpIntegration{IntegrationID: newID(7), ConnectionType: "INTERNET", TimeoutInMillis: 30000}
	if err := in.applyHTTP(x); err != nil {
		var ae *awsapi.Error
		if errors.As(err, &ae) {
			e := *ae
			e.Message = o.method + " " + o.path + ": " + e.Message
			return nil, &e
		}
		return nil, err
	}
	return x, nil
}
