package apigw

import (
	"net/http"
	"slices"
	"strings"
)

// httpDoc is one HTTP API with everything under it, as stored.
type httpDoc struct {
	API          httpAPI            `json:"api"`
	Routes       []*httpRoute       `json:"routes"`
	Integrations []*httpIntegration `json:"integrations"`
	Stages       []*httpStage       `json:"stages"`
	Authorizers  []*httpAuthorizer  `json:"authorizers"`
	Deployments  []*httpDeployment  `json:"deployments,omitempty"`
	// RouteResponses are a WebSocket API's route responses (wsapi.go).
	RouteResponses []*routeResponse `json:"routeResponses,omitempty"`

	live     *httpView            // the current routes, for auto-deployed stages
	deployed map[string]*httpView // by deployment id
}

// httpDeployment is a snapshot of an HTTP API's routes, integrations and
// authorizers that stages without autoDeploy serve.
type httpDeployment struct {
	AutoDeployed     bool               `json:"autoDeployed"`
	CreatedDate      string             `json:"createdDate"`
	DeploymentID     string             `json:"deploymentId"`
	DeploymentStatus string             `json:"deploymentStatus"`
	Description      string             `json:"description,omitempty"`
	Routes           []*httpRoute       `json:"routes,omitempty"`
	Integrations     []*httpIntegration `json:"integrations,omitempty"`
	Authorizers      []*httpAuthorizer  `json:"authorizers,omitempty"`
	RouteResponses   []*routeResponse   `json:"routeResponses,omitempty"`
}

// wire is a deployment as the API shows it.
func (d httpDeployment) wire() httpDeployment {
	d.Routes, d.Integrations, d.Authorizers, d.RouteResponses = nil, nil, nil, nil
	return d
}

// httpView is what a stage serves: routes ready for matching.
type httpView struct {
	routes       []*httpRoute
	keys         []routeKey
	integrations []*httpIntegration
	authorizers  []*httpAuthorizer
	responses    []*routeResponse // WebSocket route responses
}

func newHTTPView(routes []*httpRoute, integ []*httpIntegration, auth []*httpAuthorizer, resp []*routeResponse) *httpView {
	v := &httpView{routes: routes, integrations: integ, authorizers: auth, responses: resp, keys: make([]routeKey, len(routes))}
	for i, r := range routes {
		v.keys[i], _ = parseRouteKey(r.RouteKey)
	}
	return v
}

func (v *httpView) integration(id string) *httpIntegration {
	for _, i := range v.integrations {
		if i.IntegrationID == id {
			return i
		}
	}
	return nil
}

func (v *httpView) authorizer(id string) *httpAuthorizer {
	for _, a := range v.authorizers {
		if a.AuthorizerID == id {
			return a
		}
	}
	return nil
}

func (d *httpDoc) compile() {
	d.live = newHTTPView(d.Routes, d.Integrations, d.Authorizers, d.RouteResponses)
	d.deployed = map[string]*httpView{}
	for _, dep := range d.Deployments {
		d.deployed[dep.DeploymentID] = newHTTPView(dep.Routes, dep.Integrations, dep.Authorizers, dep.RouteResponses)
	}
}

// view is what stage st serves: the current routes when it auto-deploys,
// else its deployment's (nil when it has none).
func (d *httpDoc) view(st *httpStage) *httpView {
	if st.AutoDeploy {
		return d.live
	}
	return d.deployed[st.DeploymentID]
}

type httpAPI struct {
	APIEndpoint               string            `json:"apiEndpoint,omitempty"`
	APIGatewayManaged         bool              `json:"apiGatewayManaged,omitempty"`
	APIID                     string            `json:"apiId"`
	APIKeySelectionExpression string            `json:"apiKeySelectionExpression"`
	CorsConfiguration         *cors             `json:"corsConfiguration,omitempty"`
	CreatedDate               string            `json:"createdDate"`
	Description               string            `json:"description,omitempty"`
	DisableExecuteAPIEndpoint bool              `json:"disableExecuteApiEndpoint"`
	DisableSchemaValidation   bool              `json:"disableSchemaValidation,omitempty"`
	IPAddressType             string            `json:"ipAddressType"`
	Name                      string            `json:"name"`
	ProtocolType              string            `json:"protocolType"`
	RouteSelectionExpression  string            `json:"routeSelectionExpression"`
	Tags                      map[string]string `json:"tags"`
	Version                   string            `json:"version,omitempty"`
}

type cors struct {
	AllowCredentials bool     `json:"allowCredentials,omitempty"`
	AllowHeaders     []string `json:"allowHeaders,omitempty"`
	AllowMethods     []string `json:"allowMethods,omitempty"`
	AllowOrigins     []string `json:"allowOrigins,omitempty"`
	ExposeHeaders    []string `json:"exposeHeaders,omitempty"`
	MaxAge           *int     `json:"maxAge,omitempty"`
}

type httpRoute struct {
	APIGatewayManaged   bool           `json:"apiGatewayManaged,omitempty"`
	APIKeyRequired      bool           `json:"apiKeyRequired"`
	AuthorizationScopes []string       `json:"authorizationScopes,omitempty"`
	AuthorizationType   string         `json:"authorizationType"`
	AuthorizerID        string         `json:"authorizerId,omitempty"`
	OperationName       string         `json:"operationName,omitempty"`
	RequestParameters   map[string]any `json:"requestParameters,omitempty"`
	RouteID             string         `json:"routeId"`
	RouteKey            string         `json:"routeKey"`
	Target              string         `json:"target,omitempty"`
	// WebSocket routes only.
	ModelSelectionExpression         string            `json:"modelSelectionExpression,omitempty"`
	RequestModels                    map[string]string `json:"requestModels,omitempty"`
	RouteResponseSelectionExpression string            `json:"routeResponseSelectionExpression,omitempty"`
}

type httpIntegration struct {
	APIGatewayManaged    bool              `json:"apiGatewayManaged,omitempty"`
	ConnectionType       string            `json:"connectionType"`
	CredentialsArn       string            `json:"credentialsArn,omitempty"`
	Description          string            `json:"description,omitempty"`
	IntegrationID        string            `json:"integrationId"`
	IntegrationSubtype   string            `json:"integrationSubtype,omitempty"`
	IntegrationMethod    string            `json:"integrationMethod,omitempty"`
	IntegrationType      string            `json:"integrationType"`
	IntegrationURI       string            `json:"integrationUri"`
	PayloadFormatVersion string            `json:"payloadFormatVersion"`
	RequestParameters    map[string]string `json:"requestParameters,omitempty"`
	// ResponseParameters are HTTP APIs' response mappings, by status code.
	ResponseParameters map[string]map[string]string `json:"responseParameters,omitempty"`
	TimeoutInMillis    int                          `json:"timeoutInMillis"`
	// WebSocket integrations only.
	ContentHandlingStrategy string `json:"contentHandlingStrategy,omitempty"`
	PassthroughBehavior     string `json:"passthroughBehavior,omitempty"`
}

type routeSettings struct {
	DataTraceEnabled       bool     `json:"dataTraceEnabled"`
	DetailedMetricsEnabled bool     `json:"detailedMetricsEnabled"`
	LoggingLevel           string   `json:"loggingLevel,omitempty"`
	ThrottlingBurstLimit   *int     `json:"throttlingBurstLimit,omitempty"`
	ThrottlingRateLimit    *float64 `json:"throttlingRateLimit,omitempty"`
}

type httpStage struct {
	APIGatewayManaged    bool                      `json:"apiGatewayManaged,omitempty"`
	AutoDeploy           bool                      `json:"autoDeploy"`
	CreatedDate          string                    `json:"createdDate"`
	DefaultRouteSettings *routeSettings            `json:"defaultRouteSettings,omitempty"`
	DeploymentID         string                    `json:"deploymentId,omitempty"`
	Description          string                    `json:"description,omitempty"`
	LastUpdatedDate      string                    `json:"lastUpdatedDate"`
	RouteSettings        map[string]*routeSettings `json:"routeSettings"`
	StageName            string                    `json:"stageName"`
	StageVariables       map[string]string         `json:"stageVariables"`
	Tags                 map[string]string         `json:"tags"`
}

type httpAuthorizer struct {
	AuthorizerCredentialsArn       string   `json:"authorizerCredentialsArn,omitempty"`
	AuthorizerID                   string   `json:"authorizerId"`
	AuthorizerPayloadFormatVersion string   `json:"authorizerPayloadFormatVersion,omitempty"`
	AuthorizerResultTTLInSeconds   int      `json:"authorizerResultTtlInSeconds"`
	AuthorizerType                 string   `json:"authorizerType"`
	AuthorizerURI                  string   `json:"authorizerUri,omitempty"`
	EnableSimpleResponses          bool     `json:"enableSimpleResponses"`
	IdentitySource                 []string `json:"identitySource"`
	IdentityValidationExpression   string   `json:"identityValidationExpression,omitempty"`
	JwtConfiguration               *jwtConf `json:"jwtConfiguration,omitempty"`
	Name                           string   `json:"name"`
}

// jwtConf is a JWT authorizer's jwtConfiguration.
type jwtConf struct {
	Audience []string `json:"audience,omitempty"`
	Issuer   string   `json:"issuer,omitempty"`
}

func httpKey(id string) string { return httpKeyPrefix + id }

func apiNotFound(id string) error {
	return notFound("Invalid API identifier specified %s", id)
}

func (g *Gateway) apiID(c *call) (string, error) {
	id := c.params["apiId"]
	if !validID(id) {
		return "", apiNotFound(id)
	}
	return id, nil
}

// httpDocOf reads the document of the HTTP API the request names.
func (g *Gateway) httpDocOf(c *call) (*httpDoc, error) {
	id, err := g.apiID(c)
	if err != nil {
		return nil, err
	}
	var doc httpDoc
	if _, err := g.docs.get(c.r.Context(), httpKey(id), &doc); err != nil {
		return nil, mapNotFound(err, apiNotFound(id))
	}
	return &doc, nil
}

func (g *Gateway) wireAPI(a httpAPI) httpAPI {
	if !a.DisableExecuteAPIEndpoint {
		a.APIEndpoint = g.endpoint(a.APIID)
	}
	return a
}

// apiInput is CreateApi's and UpdateApi's body.
type apiInput struct {
	APIKeySelectionExpression *string           `json:"apiKeySelectionExpression"`
	CorsConfiguration         *cors             `json:"corsConfiguration"`
	CredentialsArn            *string           `json:"credentialsArn"`
	Description               *string           `json:"description"`
	DisableExecuteAPIEndpoint *bool             `json:"disableExecuteApiEndpoint"`
	DisableSchemaValidation   *bool             `json:"disableSchemaValidation"`
	Name                      *string           `json:"name"`
	ProtocolType              *string           `json:"protocolType"`
	RouteKey                  *string           `json:"routeKey"`
	RouteSelectionExpression  *string           `json:"routeSelectionExpression"`
	Tags                      map[string]string `json:"tags"`
	Target                    *string           `json:"target"`
	Version                   *string           `json:"version"`
}

func (in *apiInput) apply(a *httpAPI) error {
	if in.Name != nil {
		if err := checkLen("name", *in.Name, 1, 128); err != nil {
			return err
		}
		a.Name = *in.Name
	}
	if in.Description != nil {
		if err := checkLen("description", *in.Description, 0, 1024); err != nil {
			return err
		}
		a.Description = *in.Description
	}
	if in.Version != nil {
		a.Version = *in.Version
	}
	if in.CorsConfiguration != nil {
		if err := checkCORS(in.CorsConfiguration); err != nil {
			return err
		}
		a.CorsConfiguration = in.CorsConfiguration
	}
	if in.DisableExecuteAPIEndpoint != nil {
		a.DisableExecuteAPIEndpoint = *in.DisableExecuteAPIEndpoint
	}
	if in.DisableSchemaValidation != nil {
		a.DisableSchemaValidation = *in.DisableSchemaValidation
	}
	if in.APIKeySelectionExpression != nil {
		a.APIKeySelectionExpression = *in.APIKeySelectionExpression
	}
	if in.RouteSelectionExpression != nil {
		if a.ProtocolType == protocolWebSocket {
			if _, ok := parseSelectionExpression(*in.RouteSelectionExpression); !ok {
				return badRequest("Invalid routeSelectionExpression %s: a WebSocket API selects routes by $request.body.<json path> (e.g. $request.body.action).", *in.RouteSelectionExpression)
			}
			a.RouteSelectionExpression = *in.RouteSelectionExpression
		} else if *in.RouteSelectionExpression != "${request.method} ${request.path}" {
			return badRequest("Invalid routeSelectionExpression: HTTP APIs support only ${request.method} ${request.path}.")
		}
	}
	return nil
}

func (g *Gateway) createAPI(c *call) error {
	var in apiInput
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.Name == nil {
		return badRequest("Invalid input: name is required.")
	}
	if in.ProtocolType == nil {
		return badRequest("Invalid input: protocolType is required.")
	}
	if *in.ProtocolType == protocolWebSocket {
		return g.createWebSocketAPI(c, &in)
	}
	if *in.ProtocolType != "HTTP" {
		return badRequest("Invalid protocolType %s: must be HTTP or WEBSOCKET.", *in.ProtocolType)
	}
	now := g.isoNow()
	doc := &httpDoc{API: httpAPI{
		APIID: newID(10), ProtocolType: "HTTP", IPAddressType: "ipv4", CreatedDate: now,
		RouteSelectionExpression: "${request.method} ${request.path}", APIKeySelectionExpression: "$request.header.x-api-key",
		Tags: map[string]string{},
	}}
	if in.Tags != nil {
		doc.API.Tags = in.Tags
	}
	if err := in.apply(&doc.API); err != nil {
		return err
	}
	if in.Target != nil {
		// Quick create: an integration with the target, a route (default
		// $default) to it and an auto-deployed $default stage.
		if _, err := checkFunctionURI(*in.Target); err != nil {
			return badRequest("Invalid target: %s is not a Lambda function ARN.", *in.Target)
		}
		key := "$default"
		if in.RouteKey != nil {
			key = *in.RouteKey
		}
		if _, ok := parseRouteKey(key); !ok {
			return badRequest("Unable to create Route: invalid RouteKey %s.", key)
		}
		integ := &httpIntegration{IntegrationID: newID(7), IntegrationType: "AWS_PROXY", IntegrationURI: *in.Target,
			IntegrationMethod: "POST", PayloadFormatVersion: "2.0", ConnectionType: "INTERNET", TimeoutInMillis: 30000, APIGatewayManaged: true}
		doc.Integrations = append(doc.Integrations, integ)
		doc.Routes = append(doc.Routes, &httpRoute{RouteID: newID(7), RouteKey: key, Target: "integrations/" + integ.IntegrationID,
			AuthorizationType: "NONE", APIGatewayManaged: true})
		doc.Stages = append(doc.Stages, &httpStage{StageName: "$default", AutoDeploy: true, CreatedDate: now, LastUpdatedDate: now,
			DefaultRouteSettings: &routeSettings{}, RouteSettings: map[string]*routeSettings{}, StageVariables: map[string]string{},
			Tags: map[string]string{}, APIGatewayManaged: true})
	} else if in.RouteKey != nil {
		return badRequest("routeKey is only valid with target (quick create).")
	}
	if err := g.docs.create(c.r.Context(), httpKey(doc.API.APIID), doc); err != nil {
		return err
	}
	return c.json(http.StatusCreated, g.wireAPI(doc.API))
}

func (g *Gateway) getAPI(c *call) error {
	doc, err := g.httpDocOf(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, g.wireAPI(doc.API))
}

func (g *Gateway) getAPIs(c *call) error {
	all, err := list[httpDoc](c.r.Context(), g.docs, httpKeyPrefix)
	if err != nil {
		return err
	}
	items := make([]httpAPI, 0, len(all))
	for _, d := range all {
		items = append(items, g.wireAPI(d.API))
	}
	return c.json(http.StatusOK, map[string]any{"items": items})
}

func (g *Gateway) updateAPI(c *call) error {
	id, err := g.apiID(c)
	if err != nil {
		return err
	}
	var in apiInput
	if err := c.decode(&in); err != nil {
		return err
	}
	doc, err := update(c.r.Context(), g.docs, httpKey(id), apiNotFound(id), func(d *httpDoc) error { return in.apply(&d.API) })
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, g.wireAPI(doc.API))
}

func (g *Gateway) deleteAPI(c *call) error {
	id, err := g.apiID(c)
	if err != nil {
		return err
	}
	if err := g.docs.remove(c.r.Context(), httpKey(id), apiNotFound(id)); err != nil {
		return err
	}
	return c.noContent(http.StatusNoContent)
}

// routeInput is CreateRoute's and UpdateRoute's body.
type routeInput struct {
	APIKeyRequired      *bool          `json:"apiKeyRequired"`
	AuthorizationScopes []string       `json:"authorizationScopes"`
	AuthorizationType   *string        `json:"authorizationType"`
	AuthorizerID        *string        `json:"authorizerId"`
	OperationName       *string        `json:"operationName"`
	RequestParameters   map[string]any `json:"requestParameters"`
	RouteKey            *string        `json:"routeKey"`
	Target              *string        `json:"target"`

	ModelSelectionExpression         *string           `json:"modelSelectionExpression"`
	RequestModels                    map[string]string `json:"requestModels"`
	RouteResponseSelectionExpression *string           `json:"routeResponseSelectionExpression"`
}

// apply is CreateRoute's and UpdateRoute's change of a route of an HTTP
// or a WebSocket API; where the two differ, the protocol decides.
func (in *routeInput) apply(d *httpDoc, r *httpRoute) error {
	ws := d.API.ProtocolType == protocolWebSocket
	if in.RouteKey != nil {
		if ws && !validWSRouteKey(*in.RouteKey) {
			return badRequest("Unable to create Route: invalid RouteKey %s. A WebSocket route key is $connect, $disconnect, $default or a custom key (at most 128 characters, not starting with $).", *in.RouteKey)
		}
		if _, ok := parseRouteKey(*in.RouteKey); !ws && !ok {
			return badRequest("Unable to create Route: invalid RouteKey %s. A route key is $default or an HTTP method (or ANY) and a path like /items/{id} or /{proxy+}.", *in.RouteKey)
		}
		for _, o := range d.Routes {
			if o != r && o.RouteKey == *in.RouteKey {
				return conflict("Route with key %s already exists for this API", *in.RouteKey)
			}
		}
		r.RouteKey = *in.RouteKey
	}
	if in.Target != nil {
		if *in.Target != "" {
			iid, ok := strings.CutPrefix(*in.Target, "integrations/")
			if !ok || d.integration(iid) == nil {
				return badRequest("Invalid target %s: it must be integrations/<id> of an integration of this API.", *in.Target)
			}
		}
		r.Target = *in.Target
	}
	if in.AuthorizationType != nil {
		switch t := *in.AuthorizationType; {
		case t == "NONE" || t == "CUSTOM" || t == "AWS_IAM" || (t == "JWT" && !ws):
		case ws:
			return badRequest("Invalid authorizationType %s: a WebSocket route is NONE, AWS_IAM or CUSTOM.", t)
		default:
			return badRequest("Invalid authorizationType %s: must be NONE, AWS_IAM, CUSTOM or JWT.", t)
		}
		r.AuthorizationType = *in.AuthorizationType
	}
	if in.AuthorizerID != nil {
		if *in.AuthorizerID != "" && d.authorizer(*in.AuthorizerID) == nil {
			return badRequest("Invalid authorizer identifier specified %s", *in.AuthorizerID)
		}
		r.AuthorizerID = *in.AuthorizerID
	}
	if ws && r.AuthorizationType != "" && r.AuthorizationType != "NONE" && r.RouteKey != wsConnect {
		return badRequest("Unable to create Route: authorization is only supported on the $connect route.")
	}
	if r.AuthorizationType == "CUSTOM" && r.AuthorizerID == "" {
		return badRequest("Unable to create Route: an authorizerId is required for authorizationType CUSTOM.")
	}
	if a := d.authorizer(r.AuthorizerID); r.AuthorizationType == "CUSTOM" && (a == nil || a.AuthorizerType != "REQUEST") {
		return badRequest("Unable to create Route: authorizationType CUSTOM needs the authorizerId of a REQUEST authorizer.")
	}
	if a := d.authorizer(r.AuthorizerID); r.AuthorizationType == "JWT" && (a == nil || a.AuthorizerType != "JWT") {
		return badRequest("Unable to create Route: authorizationType JWT needs the authorizerId of a JWT authorizer.")
	}
	if in.AuthorizationScopes != nil && !ws {
		r.AuthorizationScopes = in.AuthorizationScopes
	}
	if in.APIKeyRequired != nil {
		switch {
		case *in.APIKeyRequired && ws:
			return badRequest("Nimbus does not support API keys on WebSocket routes.")
		case *in.APIKeyRequired:
			return badRequest("API keys are not supported for HTTP APIs.")
		}
		r.APIKeyRequired = false
	}
	if ws {
		if in.RouteResponseSelectionExpression != nil {
			if v := *in.RouteResponseSelectionExpression; v != "" && v != "$default" {
				return badRequest("Invalid routeResponseSelectionExpression %s: Lambda proxy routes support only $default.", v)
			}
			r.RouteResponseSelectionExpression = *in.RouteResponseSelectionExpression
		}
		if in.ModelSelectionExpression != nil {
			r.ModelSelectionExpression = *in.ModelSelectionExpression
		}
		if in.RequestModels != nil {
			r.RequestModels = in.RequestModels
		}
	}
	if in.OperationName != nil {
		r.OperationName = *in.OperationName
	}
	if in.RequestParameters != nil {
		r.RequestParameters = in.RequestParameters
	}
	return nil
}

func (d *httpDoc) integration(id string) *httpIntegration {
	for _, i := range d.Integrations {
		if i.IntegrationID == id {
			return i
		}
	}
	return nil
}

func (d *httpDoc) authorizer(id string) *httpAuthorizer {
	for _, a := range d.Authorizers {
		if a.AuthorizerID == id {
			return a
		}
	}
	return nil
}

func (d *httpDoc) stage(name string) *httpStage {
	for _, s := range d.Stages {
		if s.StageName == name {
			return s
		}
	}
	return nil
}

func (g *Gateway) createRoute(c *call) error {
	id, err := g.apiID(c)
	if err != nil {
		return err
	}
	var in routeInput
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.RouteKey == nil {
		return badRequest("Invalid input: routeKey is required.")
	}
	r := &httpRoute{RouteID: newID(7), AuthorizationType: "NONE"}
	if _, err := update(c.r.Context(), g.docs, httpKey(id), apiNotFound(id), func(d *httpDoc) error {
		if err := in.apply(d, r); err != nil {
			return err
		}
		d.Routes = append(d.Routes, r)
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, r)
}

func (g *Gateway) routeOp(c *call, change func(d *httpDoc, i int) error) (*httpRoute, error) {
	id, err := g.apiID(c)
	if err != nil {
		return nil, err
	}
	rid := c.params["routeId"]
	var out *httpRoute
	_, err = update(c.r.Context(), g.docs, httpKey(id), apiNotFound(id), func(d *httpDoc) error {
		i := slices.IndexFunc(d.Routes, func(r *httpRoute) bool { return r.RouteID == rid })
		if i < 0 {
			return notFound("Invalid Route identifier specified %s", rid)
		}
		out = d.Routes[i]
		return change(d, i)
	})
	return out, err
}

func (g *Gateway) getRoute(c *call) error {
	doc, err := g.httpDocOf(c)
	if err != nil {
		return err
	}
	for _, r := range doc.Routes {
		if r.RouteID == c.params["routeId"] {
			return c.json(http.StatusOK, r)
		}
	}
	return notFound("Invalid Route identifier specified %s", c.params["routeId"])
}

func (g *Gateway) getRoutes(c *call) error {
	doc, err := g.httpDocOf(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, map[string]any{"items": nonNil(doc.Routes)})
}

func (g *Gateway) updateRoute(c *call) error {
	var in routeInput
	if err := c.decode(&in); err != nil {
		return err
	}
	r, err := g.routeOp(c, func(d *httpDoc, i int) error { return in.apply(d, d.Routes[i]) })
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, r)
}

func (g *Gateway) deleteRoute(c *call) error {
	if _, err := g.routeOp(c, func(d *httpDoc, i int) error {
		rid := d.Routes[i].RouteID
		d.RouteResponses = slices.DeleteFunc(d.RouteResponses, func(x *routeResponse) bool { return x.RouteID == rid })
		d.Routes = slices.Delete(d.Routes, i, i+1)
		return nil
	}); err != nil {
		return err
	}
	return c.noContent(http.StatusNoContent)
}

// integrationInput is CreateIntegration's and UpdateIntegration's body.
type integrationInput struct {
	ConnectionType       *string           `json:"connectionType"`
	Description          *string           `json:"description"`
	IntegrationMethod    *string           `json:"integrationMethod"`
	IntegrationType      *string           `json:"integrationType"`
	IntegrationURI       *string           `json:"integrationUri"`
	PayloadFormatVersion *string           `json:"payloadFormatVersion"`
	RequestParameters    map[string]string `json:"requestParameters"`
	TimeoutInMillis      *int              `json:"timeoutInMillis"`

	ResponseParameters          map[string]map[string]string `json:"responseParameters"`
	ContentHandlingStrategy     *string                      `json:"contentHandlingStrategy"`
	CredentialsArn              *string                      `json:"credentialsArn"`
	IntegrationSubtype          *string                      `json:"integrationSubtype"`
	PassthroughBehavior         *string                      `json:"passthroughBehavior"`
	RequestTemplates            map[string]string            `json:"requestTemplates"`
	TemplateSelectionExpression *string                      `json:"templateSelectionExpression"`
}

func (in *integrationInput) apply(x *httpIntegration, ws bool) error {
	if ws {
		return in.applyWebSocket(x)
	}
	return in.applyHTTP(x)
}

func (g *Gateway) createIntegration(c *call) error {
	id, err := g.apiID(c)
	if err != nil {
		return err
	}
	var in integrationInput
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.IntegrationType == nil {
		return badRequest("Invalid input: integrationType is required.")
	}
	x := &httpIntegration{IntegrationID: newID(7), IntegrationMethod: "POST", ConnectionType: "INTERNET", TimeoutInMillis: 30000}
	if _, err := update(c.r.Context(), g.docs, httpKey(id), apiNotFound(id), func(d *httpDoc) error {
		ws := d.API.ProtocolType == protocolWebSocket
		if in.PayloadFormatVersion == nil && !ws && *in.IntegrationType == "AWS_PROXY" && in.IntegrationSubtype == nil {
			return badRequest("Invalid input: payloadFormatVersion is required for Lambda proxy integrations (1.0 or 2.0).")
		}
		if !ws && *in.IntegrationType == "HTTP_PROXY" && in.IntegrationMethod == nil {
			return badRequest("Invalid input: integrationMethod is required for HTTP_PROXY integrations.")
		}
		if err := in.apply(x, ws); err != nil {
			return err
		}
		if err := g.checkIntegrationHost(x.IntegrationType, x.IntegrationURI); err != nil {
			return err
		}
		d.Integrations = append(d.Integrations, x)
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, x)
}

func (g *Gateway) integrationOp(c *call, change func(d *httpDoc, i int) error) (*httpIntegration, error) {
	id, err := g.apiID(c)
	if err != nil {
		return nil, err
	}
	iid := c.params["integrationId"]
	var out *httpIntegration
	_, err = update(c.r.Context(), g.docs, httpKey(id), apiNotFound(id), func(d *httpDoc) error {
		i := slices.IndexFunc(d.Integrations, func(x *httpIntegration) bool { return x.IntegrationID == iid })
		if i < 0 {
			return notFound("Invalid Integration identifier specified %s", iid)
		}
		out = d.Integrations[i]
		return change(d, i)
	})
	return out, err
}

func (g *Gateway) getIntegration(c *call) error {
	doc, err := g.httpDocOf(c)
	if err != nil {
		return err
	}
	if x := doc.integration(c.params["integrationId"]); x != nil {
		return c.json(http.StatusOK, x)
	}
	return notFound("Invalid Integration identifier specified %s", c.params["integrationId"])
}

func (g *Gateway) getIntegrations(c *call) error {
	doc, err := g.httpDocOf(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, map[string]any{"items": nonNil(doc.Integrations)})
}

func (g *Gateway) updateIntegration(c *call) error {
	var in integrationInput
	if err := c.decode(&in); err != nil {
		return err
	}
	x, err := g.integrationOp(c, func(d *httpDoc, i int) error {
		x := d.Integrations[i]
		if err := in.apply(x, d.API.ProtocolType == protocolWebSocket); err != nil {
			return err
		}
		return g.checkIntegrationHost(x.IntegrationType, x.IntegrationURI)
	})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, x)
}

func (g *Gateway) deleteIntegration(c *call) error {
	if _, err := g.integrationOp(c, func(d *httpDoc, i int) error {
		target := "integrations/" + d.Integrations[i].IntegrationID
		for _, r := range d.Routes {
			if r.Target == target {
				return conflict("Cannot delete Integration %s: it is the target of route %s (%s).", d.Integrations[i].IntegrationID, r.RouteID, r.RouteKey)
			}
		}
		d.Integrations = slices.Delete(d.Integrations, i, i+1)
		return nil
	}); err != nil {
		return err
	}
	return c.noContent(http.StatusNoContent)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}
