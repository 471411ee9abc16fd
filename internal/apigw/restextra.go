package apigw

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/httpevent"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// The REST resource types applications declare beside methods: gateway
// responses (API Gateway's own answers, customized), documentation parts
// and versions, the account's settings, and the deletes of models and
// request validators.

// gatewayResponse customizes one of API Gateway's own answers.
type gatewayResponse struct {
	DefaultResponse    bool              `json:"defaultResponse"`
	ResponseParameters map[string]string `json:"responseParameters,omitempty"`
	ResponseTemplates  map[string]string `json:"responseTemplates,omitempty"`
	ResponseType       string            `json:"responseType"`
	StatusCode         string            `json:"statusCode,omitempty"`
}

// gatewayResponseTypes are API Gateway's response types and their
// default status codes.
var gatewayResponseTypes = map[string]string{
	"ACCESS_DENIED": "403", "API_CONFIGURATION_ERROR": "500", "AUTHORIZER_CONFIGURATION_ERROR": "500",
	"AUTHORIZER_FAILURE": "500", "BAD_REQUEST_PARAMETERS": "400", "BAD_REQUEST_BODY": "400", "DEFAULT_4XX": "",
	"DEFAULT_5XX": "", "EXPIRED_TOKEN": "403", "INVALID_SIGNATURE": "403", "INTEGRATION_FAILURE": "504",
	"INTEGRATION_TIMEOUT": "504", "INVALID_API_KEY": "403", "MISSING_AUTHENTICATION_TOKEN": "403",
	"QUOTA_EXCEEDED": "429", "REQUEST_TOO_LARGE": "413", "RESOURCE_NOT_FOUND": "404", "THROTTLED": "429",
	"UNAUTHORIZED": "401", "UNSUPPORTED_MEDIA_TYPE": "415", "WAF_FILTERED": "403",
}

func (g *Gateway) putGatewayResponse(c *call) error {
	var in struct {
		StatusCode         string            `json:"statusCode"`
		ResponseParameters map[string]string `json:"responseParameters"`
		ResponseTemplates  map[string]string `json:"responseTemplates"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	typ := c.params["response_type"]
	if _, ok := gatewayResponseTypes[typ]; !ok {
		return badRequest("Invalid response type specified: %s", typ)
	}
	if in.StatusCode != "" && !validStatus(in.StatusCode) {
		return badRequest("Invalid status code specified: %s", in.StatusCode)
	}
	for k, v := range in.ResponseParameters {
		if n, ok := strings.CutPrefix(k, "gatewayresponse.header."); !ok || !paramNameRE.MatchString(n) {
			return mappingError("Invalid mapping expression specified: %s", k)
		}
		literal := len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\''
		if !literal && !validMethodParameter(v) && !strings.HasPrefix(v, "context.") && !strings.HasPrefix(v, "stageVariables.") {
			return mappingError("Invalid mapping expression specified: %s", v)
		}
	}
	gr := &gatewayResponse{ResponseType: typ, StatusCode: in.StatusCode, ResponseParameters: in.ResponseParameters, ResponseTemplates: in.ResponseTemplates}
	if _, err := g.changeREST(c, func(d *restDoc) error {
		if d.GatewayResponses == nil {
			d.GatewayResponses = map[string]*gatewayResponse{}
		}
		d.GatewayResponses[typ] = gr
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, gr)
}

// defaultGatewayResponse is a response type as API Gateway reports it
// before it is customized.
func defaultGatewayResponse(typ string) *gatewayResponse {
	return &gatewayResponse{DefaultResponse: true, ResponseType: typ, StatusCode: gatewayResponseTypes[typ],
		ResponseTemplates: map[string]string{"application/json": `{"message":$context.error.messageString}`}}
}

func (g *Gateway) getGatewayResponse(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	typ := c.params["response_type"]
	if _, ok := gatewayResponseTypes[typ]; !ok {
		return badRequest("Invalid response type specified: %s", typ)
	}
	if gr := doc.GatewayResponses[typ]; gr != nil {
		return c.json(http.StatusOK, gr)
	}
	return c.json(http.StatusOK, defaultGatewayResponse(typ))
}

func (g *Gateway) getGatewayResponses(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	types := make([]string, 0, len(gatewayResponseTypes))
	for t := range gatewayResponseTypes {
		types = append(types, t)
	}
	sort.Strings(types)
	items := make([]*gatewayResponse, 0, len(types))
	for _, t := range types {
		if gr := doc.GatewayResponses[t]; gr != nil {
			items = append(items, gr)
		} else {
			items = append(items, defaultGatewayResponse(t))
		}
	}
	return c.json(http.StatusOK, map[string]any{"item": items})
}

func (g *Gateway) deleteGatewayResponse(c *call) error {
	if _, err := g.changeREST(c, func(d *restDoc) error {
		if d.GatewayResponses[c.params["response_type"]] == nil {
			return notFound("Gateway response type not defined on api")
		}
		delete(d.GatewayResponses, c.params["response_type"])
		return nil
	}); err != nil {
		return err
	}
	return c.noContent(http.StatusAccepted)
}

// gatewayResponseType names the API Gateway answer resp is, "" for an
// integration's answer.
func gatewayResponseType(resp *httpevent.Response) string {
	var m struct {
		Message *string `json:"message"`
	}
	if json.Unmarshal(resp.Body, &m) != nil {
		return ""
	}
	msg := ""
	if m.Message != nil {
		msg = *m.Message
	}
	switch {
	case resp.StatusCode == 403 && msg == "Missing Authentication Token":
		return "MISSING_AUTHENTICATION_TOKEN"
	case resp.StatusCode == 403 && msg == "Forbidden":
		return "INVALID_API_KEY"
	case resp.StatusCode == 401 && msg == "Unauthorized":
		return "UNAUTHORIZED"
	case resp.StatusCode == 429 && msg == "Too Many Requests":
		return "THROTTLED"
	case resp.StatusCode == 429 && msg == "Limit Exceeded":
		return "QUOTA_EXCEEDED"
	case resp.StatusCode == 413 && msg == "Request Too Long":
		return "REQUEST_TOO_LARGE"
	case resp.StatusCode == 415 && msg == "Unsupported Media Type":
		return "UNSUPPORTED_MEDIA_TYPE"
	case resp.StatusCode == 504 && msg == "Endpoint request timed out":
		return "INTEGRATION_TIMEOUT"
	case resp.StatusCode == 400 && resp.Header.Get("X-Amzn-ErrorType") == "BadRequestException":
		if strings.Contains(msg, "body") {
			return "BAD_REQUEST_BODY"
		}
		return "BAD_REQUEST_PARAMETERS"
	case resp.StatusCode == 500 && resp.Header.Get("X-Amzn-ErrorType") == "AuthorizerConfigurationException":
		return "AUTHORIZER_CONFIGURATION_ERROR"
	}
	return ""
}

// customize applies the API's gateway responses to one of its own
// answers: the type's own customization, else DEFAULT_4XX/DEFAULT_5XX.
func (d *restDoc) customize(resp *httpevent.Response, r *http.Request, stageVars map[string]string, reqID string) *httpevent.Response {
	if len(d.GatewayResponses) == 0 {
		return resp
	}
	typ := gatewayResponseType(resp)
	if typ == "" {
		return resp
	}
	gr := d.GatewayResponses[typ]
	if gr == nil && resp.StatusCode >= 400 && resp.StatusCode < 500 {
		gr = d.GatewayResponses["DEFAULT_4XX"]
	}
	if gr == nil && resp.StatusCode >= 500 {
		gr = d.GatewayResponses["DEFAULT_5XX"]
	}
	if gr == nil {
		return resp
	}
	var m struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(resp.Body, &m)
	out := &httpevent.Response{StatusCode: resp.StatusCode, Header: resp.Header.Clone(), Body: resp.Body}
	if n, err := strconv.Atoi(gr.StatusCode); err == nil {
		out.StatusCode = n
	}
	quoted, _ := json.Marshal(m.Message)
	subst := func(s string) string {
		s = strings.ReplaceAll(s, "$context.error.messageString", string(quoted))
		s = strings.ReplaceAll(s, "$context.error.message", m.Message)
		s = strings.ReplaceAll(s, "$context.error.responseType", typ)
		s = strings.ReplaceAll(s, "$context.requestId", reqID)
		s = replaceStageVariables(s, func(n string) string { return stageVars[n] })
		for k, v := range stageVars {
			s = strings.ReplaceAll(s, "$stageVariables."+k, v)
		}
		return s
	}
	if t, ok := gr.ResponseTemplates["application/json"]; ok {
		out.Body = []byte(subst(t))
		out.Header.Set("Content-Type", "application/json")
	}
	keys := make([]string, 0, len(gr.ResponseParameters))
	for k := range gr.ResponseParameters {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		name := strings.TrimPrefix(k, "gatewayresponse.header.")
		v := gr.ResponseParameters[k]
		switch {
		case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
			out.Header.Set(name, subst(v[1:len(v)-1]))
		case strings.HasPrefix(v, "method.request.header."):
			if hv := r.Header.Get(strings.TrimPrefix(v, "method.request.header.")); hv != "" {
				out.Header.Set(name, hv)
			}
		case strings.HasPrefix(v, "method.request.querystring."):
			if qv := r.URL.Query().Get(strings.TrimPrefix(v, "method.request.querystring.")); qv != "" {
				out.Header.Set(name, qv)
			}
		case strings.HasPrefix(v, "stageVariables."):
			out.Header.Set(name, stageVars[strings.TrimPrefix(v, "stageVariables.")])
		}
	}
	return out
}

// Documentation parts and versions: stored and listed (the documentation
// export is not built).

type docPart struct {
	ID         string          `json:"id"`
	Location   json.RawMessage `json:"location"`
	Properties string          `json:"properties"`
}

type docVersion struct {
	CreatedDate int64  `json:"createdDate"`
	Description string `json:"description,omitempty"`
	Version     string `json:"version"`
}

var docLocationTypes = []string{"API", "AUTHORIZER", "MODEL", "RESOURCE", "METHOD", "PATH_PARAMETER", "QUERY_PARAMETER",
	"REQUEST_HEADER", "REQUEST_BODY", "RESPONSE", "RESPONSE_HEADER", "RESPONSE_BODY"}

func (g *Gateway) createDocumentationPart(c *call) error {
	var in struct {
		Location   json.RawMessage `json:"location"`
		Properties string          `json:"properties"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	var loc struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(in.Location, &loc); err != nil || !slices.Contains(docLocationTypes, loc.Type) {
		return badRequest("Invalid documentation location type specified")
	}
	if !json.Valid([]byte(in.Properties)) {
		return badRequest("Documentation part properties must be a valid JSON string")
	}
	p := &docPart{ID: newID(6), Location: in.Location, Properties: in.Properties}
	if _, err := g.changeREST(c, func(d *restDoc) error {
		for _, x := range d.DocumentationParts {
			if string(x.Location) == string(p.Location) {
				return conflict("Documentation part already exists for the location")
			}
		}
		d.DocumentationParts = append(d.DocumentationParts, p)
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, p)
}

func (g *Gateway) getDocumentationParts(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, map[string]any{"item": nonNil(doc.DocumentationParts)})
}

func (g *Gateway) getDocumentationPart(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	for _, p := range doc.DocumentationParts {
		if p.ID == c.params["part_id"] {
			return c.json(http.StatusOK, p)
		}
	}
	return notFound("Invalid Documentation part identifier specified")
}

func (g *Gateway) deleteDocumentationPart(c *call) error {
	return g.removeREST(c, http.StatusAccepted, func(d *restDoc) error {
		i := slices.IndexFunc(d.DocumentationParts, func(p *docPart) bool { return p.ID == c.params["part_id"] })
		if i < 0 {
			return notFound("Invalid Documentation part identifier specified")
		}
		d.DocumentationParts = slices.Delete(d.DocumentationParts, i, i+1)
		return nil
	})
}

func (g *Gateway) updateDocumentationPart(c *call) error {
	var in struct {
		PatchOperations []patchOp `json:"patchOperations"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	var out *docPart
	if _, err := g.changeREST(c, func(d *restDoc) error {
		for _, p := range d.DocumentationParts {
			if p.ID != c.params["part_id"] {
				continue
			}
			for _, op := range in.PatchOperations {
				if op.Op != "replace" || op.Path != "/properties" || !json.Valid([]byte(op.Value)) {
					return badRequest("Invalid patch operation %s on %s", op.Op, op.Path)
				}
				p.Properties = op.Value
			}
			out = p
			return nil
		}
		return notFound("Invalid Documentation part identifier specified")
	}); err != nil {
		return err
	}
	return c.json(http.StatusOK, out)
}

func (g *Gateway) createDocumentationVersion(c *call) error {
	var in struct {
		DocumentationVersion string `json:"documentationVersion"`
		Description          string `json:"description"`
		StageName            string `json:"stageName"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	if in.DocumentationVersion == "" {
		return badRequest("Documentation version must be specified")
	}
	v := &docVersion{Version: in.DocumentationVersion, Description: in.Description, CreatedDate: g.epoch()}
	if _, err := g.changeREST(c, func(d *restDoc) error {
		if slices.ContainsFunc(d.DocumentationVersions, func(x *docVersion) bool { return x.Version == v.Version }) {
			return conflict("Documentation version already exists")
		}
		if in.StageName != "" && d.stage(in.StageName) == nil {
			return badRequest("Invalid stage identifier specified")
		}
		d.DocumentationVersions = append(d.DocumentationVersions, v)
		return nil
	}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, v)
}

func (g *Gateway) getDocumentationVersions(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, map[string]any{"item": nonNil(doc.DocumentationVersions)})
}

func (g *Gateway) getDocumentationVersion(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	for _, v := range doc.DocumentationVersions {
		if v.Version == c.params["doc_version"] {
			return c.json(http.StatusOK, v)
		}
	}
	return notFound("Invalid Documentation version identifier specified")
}

func (g *Gateway) deleteDocumentationVersion(c *call) error {
	if _, err := g.changeREST(c, func(d *restDoc) error {
		i := slices.IndexFunc(d.DocumentationVersions, func(v *docVersion) bool { return v.Version == c.params["doc_version"] })
		if i < 0 {
			return notFound("Invalid Documentation version identifier specified")
		}
		d.DocumentationVersions = slices.Delete(d.DocumentationVersions, i, i+1)
		return nil
	}); err != nil {
		return err
	}
	return c.noContent(http.StatusAccepted)
}

// The account's API Gateway settings (GetAccount, UpdateAccount): the
// CloudWatch role is kept (Nimbus writes execution logs to its own log
// pipeline, not through the role).

const accountKey = keyPrefix + "account"

type accountDoc struct {
	CloudwatchRoleArn string `json:"cloudwatchRoleArn,omitempty"`
}

func (g *Gateway) accountView(a *accountDoc) map[string]any {
	return map[string]any{
		"cloudwatchRoleArn": a.CloudwatchRoleArn,
		"throttleSettings":  map[string]any{"burstLimit": defaultBurst, "rateLimit": defaultRate},
		"features":          []string{"UsagePlans"},
		"apiKeyVersion":     "4",
	}
}

func (g *Gateway) getAccount(c *call) error {
	var a accountDoc
	if _, err := g.docs.get(c.r.Context(), accountKey, &a); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return c.json(http.StatusOK, g.accountView(&a))
}

func (g *Gateway) updateAccount(c *call) error {
	var in struct {
		PatchOperations []patchOp `json:"patchOperations"`
	}
	if err := c.decode(&in); err != nil {
		return err
	}
	for _, p := range in.PatchOperations {
		if p.Path != "/cloudwatchRoleArn" || (p.Op != "replace" && p.Op != "add") {
			return badRequest("Invalid patch path %s", p.Path)
		}
		if p.Value != "" && !strings.Contains(p.Value, ":role/") {
			return badRequest("The role ARN is not well formed")
		}
	}
	ctx := c.r.Context()
	if _, err := g.docs.st.Get(ctx, accountKey); errors.Is(err, store.ErrNotFound) {
		if err := g.docs.create(ctx, accountKey, &accountDoc{}); err != nil && !errors.Is(err, store.ErrExists) {
			return err
		}
	}
	a, err := update(ctx, g.docs, accountKey, notFound("account"), func(a *accountDoc) error {
		for _, p := range in.PatchOperations {
			a.CloudwatchRoleArn = p.Value
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, g.accountView(a))
}

func (g *Gateway) deleteModel(c *call) error {
	return g.removeREST(c, http.StatusAccepted, func(d *restDoc) error {
		name := c.params["model_name"]
		i := slices.IndexFunc(d.Models, func(m *restModel) bool { return m.Name == name })
		if i < 0 {
			return notFound("Invalid model name specified: %s", name)
		}
		for _, r := range d.Resources {
			for _, m := range r.ResourceMethods {
				for _, n := range m.RequestModels {
					if n == name {
						return conflict("Cannot delete model '%s', is referenced in method request: %s/%s", name, r.Path, m.HTTPMethod)
					}
				}
			}
		}
		d.Models = slices.Delete(d.Models, i, i+1)
		return nil
	})
}

func (g *Gateway) getRequestValidator(c *call) error {
	doc, err := g.readREST(c)
	if err != nil {
		return err
	}
	if v := doc.validator(c.params["validator_id"]); v != nil {
		return c.json(http.StatusOK, v)
	}
	return notFound("Invalid Request Validator identifier specified")
}

func (g *Gateway) deleteRequestValidator(c *call) error {
	return g.removeREST(c, http.StatusAccepted, func(d *restDoc) error {
		id := c.params["validator_id"]
		i := slices.IndexFunc(d.Validators, func(v *restValidator) bool { return v.ID == id })
		if i < 0 {
			return notFound("Invalid Request Validator identifier specified")
		}
		for _, r := range d.Resources {
			for _, m := range r.ResourceMethods {
				if m.RequestValidatorID == id {
					m.RequestValidatorID = ""
				}
			}
		}
		d.Validators = slices.Delete(d.Validators, i, i+1)
		return nil
	})
}
