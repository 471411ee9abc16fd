package apigw

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// modelURL is the URL a model is known by, which other models' $ref use:
// https://apigateway.amazonaws.com/restapis/<api>/models/<name>.
func modelURL(apiID, name string) string {
	return "https://apigateway.amazonaws.com/restapis/" + apiID + "/models/" + name
}

// schemaSet compiles an API's models on first use (draft 4 unless a
// model's $schema says otherwise, as API Gateway).
type schemaSet struct {
	apiID  string
	models []*restModel

	mu       sync.Mutex
	compiled map[string]*jsonschema.Schema // guarded by mu
	failed   map[string]error              // guarded by mu
}

func compileModels(apiID string, models []*restModel) *schemaSet {
	return &schemaSet{apiID: apiID, models: models, compiled: map[string]*jsonschema.Schema{}, failed: map[string]error{}}
}

func newCompiler(apiID string, models []*restModel) (*jsonschema.Compiler, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	for _, m := range models {
		schema := m.Schema
		if strings.TrimSpace(schema) == "" {
			schema = "{}"
		}
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
		if err != nil {
			return nil, fmt.Errorf("model %s: schema is not JSON: %w", m.Name, err)
		}
		if err := c.AddResource(modelURL(apiID, m.Name), doc); err != nil {
			return nil, fmt.Errorf("model %s: %w", m.Name, err)
		}
	}
	return c, nil
}

// checkModel compiles m among models, for CreateModel.
func checkModel(apiID string, models []*restModel, m *restModel) error {
	c, err := newCompiler(apiID, models)
	if err != nil {
		return err
	}
	if _, err := c.Compile(modelURL(apiID, m.Name)); err != nil {
		return fmt.Errorf("compile model %s: %w", m.Name, err)
	}
	return nil
}

func (s *schemaSet) schema(name string) (*jsonschema.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch := s.compiled[name]; sch != nil {
		return sch, nil
	}
	if err := s.failed[name]; err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(s.models, func(m *restModel) bool { return m.Name == name }) {
		return nil, fmt.Errorf("no model %s", name)
	}
	c, err := newCompiler(s.apiID, s.models)
	if err == nil {
		var sch *jsonschema.Schema
		if sch, err = c.Compile(modelURL(s.apiID, name)); err == nil {
			s.compiled[name] = sch
			return sch, nil
		}
	}
	s.failed[name] = err
	return nil, err
}

// validateRequest applies a method's request validator: required
// parameters, then the body against the model of its content type. It
// returns the message of API Gateway's 400, or "" when the request passes.
func validateRequest(doc *restDoc, m *restMethod, r *http.Request, body []byte, pathParams map[string]string) string {
	v := doc.validator(m.RequestValidatorID)
	if v == nil {
		return ""
	}
	if v.ValidateRequestParameters {
		var missing []string
		for k, required := range m.RequestParameters {
			if !required {
				continue
			}
			where, name, _ := strings.Cut(strings.TrimPrefix(k, "method.request."), ".")
			var ok bool
			switch where {
			case "querystring", "multivaluequerystring":
				_, ok = r.URL.Query()[name]
			case "header", "multivalueheader":
				ok = r.Header.Get(name) != ""
			case "path":
				ok = pathParams[name] != ""
			}
			if !ok {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			return "Missing required request parameters: [" + strings.Join(missing, ", ") + "]"
		}
	}
	if v.ValidateRequestBody && len(m.RequestModels) > 0 {
		ct := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]))
		name, ok := m.RequestModels[ct]
		if !ok {
			name, ok = m.RequestModels["$default"]
		}
		if !ok {
			return ""
		}
		sch, err := doc.schemas.schema(name)
		if err != nil {
			return "Invalid request body"
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
		if err != nil {
			return "Invalid request body"
		}
		if err := sch.Validate(inst); err != nil {
			return "Invalid request body"
		}
	}
	return ""
}
