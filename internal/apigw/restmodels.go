package apigw

import (
	"net/http"
	"slices"
	"strings"
)

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
	return g.removeREST(c, http.StatusAccepted, func(d *restDoc) error {
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
	})
}
