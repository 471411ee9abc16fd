package apigw

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// stageInput is CreateStage's and UpdateStage's body.
type stageInput struct {
	AutoDeploy           *bool                     `json:"autoDeploy"`
	DefaultRouteSettings *routeSettings            `json:"defaultRouteSettings"`
	DeploymentID         *string                   `json:"deploymentId"`
	Description          *string                   `json:"description"`
	RouteSettings        map[string]*routeSettings `json:"routeSettings"`
	StageName            *string                   `json:"stageName"`
	StageVariables       map[string]string         `json:"stageVariables"`
	Tags                 map[string]string         `json:"tags"`
}

func (in *stageInput) apply(d *httpDoc, s *httpStage, now string) error {
	if in.AutoDeploy != nil {
		s.AutoDeploy = *in.AutoDeploy
	}
	if in.DefaultRouteSettings != nil {
		if err := checkThrottle(in.DefaultRouteSettings); err != nil {
			return err
		}
		s.DefaultRouteSettings = in.DefaultRouteSettings
	}
	if in.RouteSettings != nil {
		for k, rs := range in.RouteSettings {
			if !slices.ContainsFunc(d.Routes, func(r *httpRoute) bool { return r.RouteKey == k }) {
				return badRequest("Unable to find Route by key %s within the provided RouteSettings", k)
			}
			if err := checkThrottle(rs); err != nil {
				return err
			}
		}
		if s.RouteSettings == nil {
			s.RouteSettings = map[string]*routeSettings{}
		}
		maps.Copy(s.RouteSettings, in.RouteSettings)
	}
	if in.DeploymentID != nil {
		s.DeploymentID = *in.DeploymentID
	}
	if in.Description != nil {
		s.Description = *in.Description
	}
	if in.StageVariables != nil {
		for k, v := range in.StageVariables {
			if !validStageVariable(k, v) {
				return badRequest("Invalid stage variable %s: names are letters, digits and _, at most 64 characters; values at most 512 characters of letters, digits and -._~:/?#&=,.", k)
			}
		}
		s.StageVariables = in.StageVariables
	}
	if in.Tags != nil {
		s.Tags = in.Tags
	}
	s.LastUpdatedDate = now
	return nil
}

func checkThrottle(rs *routeSettings) error {
	if rs == nil {
		return nil
	}
	if rs.ThrottlingBurstLimit != nil && *rs.ThrottlingBurstLimit < 0 {
		return badRequest("Invalid throttlingBurstLimit %d: must not be negative.", *rs.ThrottlingBurstLimit)
	}
	if rs.ThrottlingRateLimit != nil && *rs.ThrottlingRateLimit < 0 {
		return badRequest("Invalid throttlingRateLimit %v: must not be negative.", *rs.ThrottlingRateLimit)
	}
	return nil
}

// validStageVariable checks a stage variable as API Gateway does: names
// [A-Za-z0-9_]{1,64}, values [A-Za-z0-9-._~:/?#&=,]{0,512}.
func validStageVariable(k, v string) bool {
	if k == "" || len(k) > 64 || len(v) > 512 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c != '_' && !isAlnum(c) {
			return false
		}
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !isAlnum(c) && strings.IndexByte("-._~:/?#&=, ", c) < 0 {
			return false
		}
	}
	return true
}

func (g *Gateway) createStage(c *call) error {
	id, err := g.apiID(c)
	if err != nil {
		return err
	}
	var in stageInput
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.StageName == nil {
		return badRequest("Invalid input: stageName is required.")
	}
	name := *in.StageName
	if name != "$default" && !validStageName(name) {
		return badRequest("Invalid stageName %s: use $default or letters, digits, - and _ (at most 128).", name)
	}
	now := g.isoNow()
	s := &httpStage{StageName: name, CreatedDate: now, RouteSettings: map[string]*routeSettings{},
		StageVariables: map[string]string{}, Tags: map[string]string{}, DefaultRouteSettings: &routeSettings{}}
	if _, err := update(c.r.Context(), g.docs, httpKey(id), apiNotFound(id), func(d *httpDoc) error {
		if err := in.apply(d, s, now); err != nil {
			return err
		}
		if d.stage(name) != nil {
			return conflict("Stage %s already exists", name)
		}
		if s.DeploymentID != "" && !slices.ContainsFunc(d.Deployments, func(x *httpDeployment) bool { return x.DeploymentID == s.DeploymentID }) {
			return badRequest("Invalid deployment identifier specified %s", s.DeploymentID)
		}
		d.Stages = append(d.Stages, s)
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, s)
}

func validStageName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && c != '-' && !isAlnum(c) {
			return false
		}
	}
	return true
}

func (g *Gateway) stageOp(c *call, change func(d *httpDoc, i int) error) (*httpStage, error) {
	id, err := g.apiID(c)
	if err != nil {
		return nil, err
	}
	name := c.params["stageName"]
	var out *httpStage
	_, err = update(c.r.Context(), g.docs, httpKey(id), apiNotFound(id), func(d *httpDoc) error {
		i := slices.IndexFunc(d.Stages, func(s *httpStage) bool { return s.StageName == name })
		if i < 0 {
			return notFound("Invalid stage identifier specified %s", name)
		}
		out = d.Stages[i]
		return change(d, i)
	})
	return out, err
}

func (g *Gateway) getStage(c *call) error {
	doc, err := g.httpDocOf(c)
	if err != nil {
		return err
	}
	if s := doc.stage(c.params["stageName"]); s != nil {
		return c.json(http.StatusOK, s)
	}
	return notFound("Invalid stage identifier specified %s", c.params["stageName"])
}

func (g *Gateway) getStages(c *call) error {
	doc, err := g.httpDocOf(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, map[string]any{"items": nonNil(doc.Stages)})
}

func (g *Gateway) updateStage(c *call) error {
	var in stageInput
	if err := c.decode(&in); err != nil {
		return err
	}
	now := g.isoNow()
	s, err := g.stageOp(c, func(d *httpDoc, i int) error { return in.apply(d, d.Stages[i], now) })
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, s)
}

func (g *Gateway) deleteStage(c *call) error {
	if _, err := g.stageOp(c, func(d *httpDoc, i int) error {
		d.Stages = slices.Delete(d.Stages, i, i+1)
		return nil
	}); err != nil {
		return err
	}
	return c.noContent(http.StatusNoContent)
}

// authorizerInput is CreateAuthorizer's body (HTTP APIs).
type authorizerInput struct {
	AuthorizerCredentialsArn       *string  `json:"authorizerCredentialsArn"`
	AuthorizerPayloadFormatVersion *string  `json:"authorizerPayloadFormatVersion"`
	AuthorizerResultTTLInSeconds   *int     `json:"authorizerResultTtlInSeconds"`
	AuthorizerType                 *string  `json:"authorizerType"`
	AuthorizerURI                  *string  `json:"authorizerUri"`
	EnableSimpleResponses          *bool    `json:"enableSimpleResponses"`
	IdentitySource                 []string `json:"identitySource"`
	IdentityValidationExpression   *string  `json:"identityValidationExpression"`
	JwtConfiguration               *jwtConf `json:"jwtConfiguration"`
	Name                           *string  `json:"name"`
}

func (g *Gateway) createAuthorizer(c *call) error {
	id, err := g.apiID(c)
	if err != nil {
		return err
	}
	var in authorizerInput
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.Name == nil || in.AuthorizerType == nil {
		return badRequest("Invalid input: name and authorizerType are required.")
	}
	if *in.AuthorizerType == "JWT" {
		doc, err := g.httpDocOf(c)
		if err != nil {
			return err
		}
		if doc.API.ProtocolType == protocolWebSocket {
			return badRequest("Invalid authorizerType JWT: JWT authorizers are supported only for HTTP APIs; a WebSocket API's authorizer is REQUEST (Lambda).")
		}
		a, err := newJWTAuthorizer(*in.Name, in.JwtConfiguration, in.IdentitySource)
		if err != nil {
			return err
		}
		if _, err := update(c.r.Context(), g.docs, httpKey(id), apiNotFound(id), func(d *httpDoc) error {
			d.Authorizers = append(d.Authorizers, a)
			return nil
		}); err != nil {
			return err
		}
		return c.json(http.StatusCreated, a)
	}
	if *in.AuthorizerType != "REQUEST" {
		return badRequest("Invalid authorizerType %s: HTTP API authorizers are REQUEST (Lambda) or JWT.", *in.AuthorizerType)
	}
	a := &httpAuthorizer{AuthorizerID: newID(6), Name: *in.Name, AuthorizerType: "REQUEST", AuthorizerPayloadFormatVersion: "2.0",
		IdentitySource: in.IdentitySource}
	if in.AuthorizerURI == nil {
		return badRequest("Invalid input: authorizerUri is required for REQUEST authorizers.")
	}
	if _, err := checkFunctionURI(*in.AuthorizerURI); err != nil {
		return badRequest("Invalid authorizerUri %s: it must name a Lambda function.", *in.AuthorizerURI)
	}
	a.AuthorizerURI = *in.AuthorizerURI
	if in.AuthorizerPayloadFormatVersion != nil {
		if v := *in.AuthorizerPayloadFormatVersion; v != "1.0" && v != "2.0" {
			return badRequest("Invalid authorizerPayloadFormatVersion %s: must be 1.0 or 2.0.", v)
		}
		a.AuthorizerPayloadFormatVersion = *in.AuthorizerPayloadFormatVersion
	}
	if in.EnableSimpleResponses != nil {
		if *in.EnableSimpleResponses && a.AuthorizerPayloadFormatVersion != "2.0" {
			return badRequest("enableSimpleResponses requires authorizerPayloadFormatVersion 2.0.")
		}
		a.EnableSimpleResponses = *in.EnableSimpleResponses
	}
	if in.AuthorizerResultTTLInSeconds != nil {
		if t := *in.AuthorizerResultTTLInSeconds; t < 0 || t > 3600 {
			return badRequest("Invalid authorizerResultTtlInSeconds %d: must be between 0 and 3600.", t)
		}
		a.AuthorizerResultTTLInSeconds = *in.AuthorizerResultTTLInSeconds
	}
	if a.AuthorizerResultTTLInSeconds > 0 && len(a.IdentitySource) == 0 {
		return badRequest("identitySource is required when authorizer caching is enabled.")
	}
	if in.AuthorizerCredentialsArn != nil {
		a.AuthorizerCredentialsArn = *in.AuthorizerCredentialsArn
	}
	if in.IdentityValidationExpression != nil {
		a.IdentityValidationExpression = *in.IdentityValidationExpression
	}
	if _, err := update(c.r.Context(), g.docs, httpKey(id), apiNotFound(id), func(d *httpDoc) error {
		if d.API.ProtocolType == protocolWebSocket {
			if err := in.checkWebSocket(a); err != nil {
				return err
			}
		} else {
			for _, s := range a.IdentitySource {
				if src, ok := parseIdentitySource(s); !ok || src.route {
					return badRequest("Invalid identitySource %s: use $request.header.<name>, $request.querystring.<name>, $context.<name> or $stageVariables.<name>.", s)
				}
			}
		}
		d.Authorizers = append(d.Authorizers, a)
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, a)
}

func (g *Gateway) getAuthorizer(c *call) error {
	doc, err := g.httpDocOf(c)
	if err != nil {
		return err
	}
	if a := doc.authorizer(c.params["authorizerId"]); a != nil {
		return c.json(http.StatusOK, a)
	}
	return notFound("Invalid Authorizer identifier specified %s", c.params["authorizerId"])
}

func (g *Gateway) getAuthorizers(c *call) error {
	doc, err := g.httpDocOf(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, map[string]any{"items": nonNil(doc.Authorizers)})
}

func (g *Gateway) deleteAuthorizer(c *call) error {
	id, err := g.apiID(c)
	if err != nil {
		return err
	}
	aid := c.params["authorizerId"]
	if _, err := update(c.r.Context(), g.docs, httpKey(id), apiNotFound(id), func(d *httpDoc) error {
		i := slices.IndexFunc(d.Authorizers, func(a *httpAuthorizer) bool { return a.AuthorizerID == aid })
		if i < 0 {
			return notFound("Invalid Authorizer identifier specified %s", aid)
		}
		for _, r := range d.Routes {
			if r.AuthorizerID == aid {
				return conflict("Cannot delete Authorizer %s: route %s uses it.", aid, r.RouteKey)
			}
		}
		d.Authorizers = slices.Delete(d.Authorizers, i, i+1)
		return nil
	}); err != nil {
		return err
	}
	return c.noContent(http.StatusNoContent)
}

// createDeployment snapshots the API's routes, integrations and
// authorizers; with stageName, that stage serves the snapshot.
func (g *Gateway) createDeployment(c *call) error {
	id, err := g.apiID(c)
	if err != nil {
		return err
	}
	var in struct {
		Description string `json:"description"`
		StageName   string `json:"stageName"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	dep := &httpDeployment{DeploymentID: newID(6), DeploymentStatus: "DEPLOYED", CreatedDate: g.isoNow(), Description: in.Description}
	if _, err := update(c.r.Context(), g.docs, httpKey(id), apiNotFound(id), func(d *httpDoc) error {
		if in.StageName != "" {
			s := d.stage(in.StageName)
			if s == nil {
				return notFound("Invalid stage identifier specified %s", in.StageName)
			}
			if s.AutoDeploy {
				return badRequest("Stage %s has autoDeploy enabled: it serves every change without a deployment.", in.StageName)
			}
			s.DeploymentID = dep.DeploymentID
		}
		dep.Routes, dep.Integrations, dep.Authorizers = copyJSON(d.Routes), copyJSON(d.Integrations), copyJSON(d.Authorizers)
		dep.RouteResponses = copyJSON(d.RouteResponses)
		d.Deployments = append(d.Deployments, dep)
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, dep.wire())
}

func (g *Gateway) getDeploymentsV2(c *call) error {
	doc, err := g.httpDocOf(c)
	if err != nil {
		return err
	}
	items := make([]httpDeployment, 0, len(doc.Deployments))
	for _, d := range doc.Deployments {
		items = append(items, d.wire())
	}
	return c.json(http.StatusOK, map[string]any{"items": items})
}

// copyJSON deep-copies a slice of stored objects.
func copyJSON[T any](s []T) []T {
	b, _ := json.Marshal(s)
	var out []T
	_ = json.Unmarshal(b, &out)
	return out
}
