package stack

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

// The changes of a change set: what executing it would do to each
// resource, predicted with the engine's own planning (properties evaluated
// over the recorded resources and compared with the recorded ones, as
// apply does) without calling any provider.

// Change actions, replacement values and details (CloudFormation's enums).
const (
	ActionAdd    = "Add"
	ActionModify = "Modify"
	ActionRemove = "Remove"

	ReplacementTrue        = "True"
	ReplacementFalse       = "False"
	ReplacementConditional = "Conditional"

	recreateNever         = "Never"
	recreateConditionally = "Conditionally"
	recreateAlways        = "Always"
)

// ResourceChange is one resource a change set adds, modifies or removes.
type ResourceChange struct {
	Action, LogicalID, PhysicalID, ResourceType string
	// Replacement is True, False or Conditional for Modify; empty otherwise.
	Replacement string
	Scope       []string // "Properties" for Modify
	Details     []ChangeDetail
}

// ChangeDetail is one changed property of a modified resource.
type ChangeDetail struct {
	Attribute, Name, RequiresRecreation string
	Evaluation, ChangeSource            string // Static|Dynamic; DirectModification, ParameterReference, ResourceReference
	CausingEntity                       string
}

// ReplacementProperties may be implemented by a Provider: the properties
// whose change needs a new physical resource ("*": any property). Types
// whose provider does not implement it use replaceProps.
type ReplacementProperties interface {
	ReplacementProperties(resourceType string) []string
}

// replaceProps are the properties CloudFormation documents as "Update
// requires: Replacement" for the types Nimbus has, as its providers
// implement them ("*": every change replaces).
var replaceProps = map[string][]string{
	"AWS::ApiGateway::RestApi":              {"CloneFrom"},
	"AWS::ApiGateway::Deployment":           {"*"},
	"AWS::ApiGateway::Stage":                {"RestApiId", "StageName"},
	"AWS::ApiGateway::Resource":             {"ParentId", "PathPart", "RestApiId"},
	"AWS::ApiGateway::Method":               {"HttpMethod", "ResourceId", "RestApiId"},
	"AWS::ApiGateway::Authorizer":           {"*"},
	"AWS::ApiGateway::ApiKey":               {"*"},
	"AWS::ApiGateway::UsagePlan":            {"*"},
	"AWS::ApiGateway::UsagePlanKey":         {"*"},
	"AWS::ApiGateway::Model":                {"*"},
	"AWS::ApiGateway::RequestValidator":     {"*"},
	"AWS::ApiGateway::GatewayResponse":      {"ResponseType", "RestApiId"},
	"AWS::ApiGateway::DocumentationPart":    {"*"},
	"AWS::ApiGateway::DocumentationVersion": {"*"},
	"AWS::ApiGatewayV2::Api":                {"ProtocolType"},
	"AWS::ApiGatewayV2::Stage":              {"ApiId", "StageName"},
	"AWS::ApiGatewayV2::Route":              {"ApiId"},
	"AWS::ApiGatewayV2::Integration":        {"ApiId"},
	"AWS::ApiGatewayV2::Deployment":         {"*"},
	"AWS::ApiGatewayV2::Authorizer":         {"*"},
	"AWS::IAM::Role":                        {"RoleName", "Path"},
	"AWS::IAM::Policy":                      {},
	"AWS::IAM::ManagedPolicy":               {"ManagedPolicyName", "Path", "Description"},
	"AWS::Lambda::Function":                 {"FunctionName", "PackageType"},
	"AWS::Lambda::Version":                  {"*"},
	"AWS::Lambda::Alias":                    {"FunctionName", "Name"},
	"AWS::Lambda::Permission":               {"*"},
	"AWS::Lambda::Url":                      {"TargetFunctionArn", "Qualifier"},
	"AWS::Lambda::EventInvokeConfig":        {"FunctionName", "Qualifier"},
	"AWS::Lambda::LayerVersion":             {"*"},
	"AWS::Lambda::LayerVersionPermission":   {"*"},
	"AWS::Logs::LogGroup":                   {"LogGroupName", "LogGroupClass", "KmsKeyId"},
	"AWS::ApiGatewayV2::RouteResponse":      {"ApiId", "RouteId"},
}

// recreation is RequiresRecreation of a property of a type.
func (s *Service) recreation(typ, prop string) string {
	props, ok := replaceProps[typ]
	if rp, isRP := s.providers[typ].(ReplacementProperties); isRP {
		props, ok = rp.ReplacementProperties(typ), true
	}
	switch {
	case !ok:
		return recreateConditionally
	case slices.Contains(props, "*"), slices.Contains(props, prop):
		return recreateAlways
	}
	return recreateNever
}

// unknownValue stands for a value known only once the change set runs:
// the Ref or attributes of a resource being created or replaced.
const unknownValue = "{{nimbus:known-after-apply}}"

func hasUnknown(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.Contains(v, unknownValue)
	case []any:
		return slices.ContainsFunc(v, hasUnknown)
	case map[string]any:
		for _, x := range v {
			if hasUnknown(x) {
				return true
			}
		}
	}
	return false
}

// predictor evaluates a change set's properties over the stack's recorded
// resources; resources the change set creates or replaces are unknown.
type predictor struct {
	s       *Service
	ctx     context.Context
	rec     *record
	plan    *plan
	unknown map[string]bool
}

func (p *predictor) resource(id string) (*resource, error) {
	if typ, ok := p.plan.skipped[id]; ok {
		return leftOut(id, typ), nil
	}
	r := p.rec.Resources[id]
	if r == nil || r.PhysicalID == "" {
		return nil, fmt.Errorf("resource %s is not available", id)
	}
	return r, nil
}

func (p *predictor) Ref(id string) (any, error) {
	if p.unknown[id] {
		return unknownValue, nil
	}
	r, err := p.resource(id)
	if err != nil {
		return nil, err
	}
	if r.Ref != nil {
		return r.Ref, nil
	}
	return r.PhysicalID, nil
}

func (p *predictor) GetAtt(id, attr string) (any, error) {
	if typ, ok := p.plan.skipped[id]; ok {
		return leftOutAttr(id, typ, attr, p.s.region, p.s.account), nil
	}
	if p.unknown[id] {
		return unknownValue, nil
	}
	r, err := p.resource(id)
	if err != nil {
		return nil, err
	}
	if v, ok := r.Attrs[attr]; ok {
		return v, nil
	}
	return unknownValue, nil
}

func (p *predictor) importValue(name string) (string, error) {
	ex, _, err := p.s.export(p.ctx, name)
	if err != nil || ex == nil {
		return unknownValue, nil //nolint:nilerr // an import that fails fails at execution, not here
	}
	return ex.Value, nil
}

// changes predicts what applying plan p to the stack rec does to each
// resource: additions and modifications in the new creation order, then
// removals in reverse order of the current deployment.
func (s *Service) changes(ctx context.Context, rec *record, p *plan) []ResourceChange {
	pr := &predictor{s: s, ctx: ctx, rec: rec, plan: p, unknown: map[string]bool{}}
	env := p.env
	env.Resources = pr
	env.ImportValue = pr.importValue
	var out []ResourceChange
	for _, id := range p.dep.Order {
		tr := p.tmpl.Resources[id]
		cur := rec.Resources[id]
		if cur == nil || cur.PhysicalID == "" {
			pr.unknown[id] = true
			out = append(out, ResourceChange{Action: ActionAdd, LogicalID: id, ResourceType: tr.Type})
			continue
		}
		c := ResourceChange{Action: ActionModify, LogicalID: id, PhysicalID: cur.PhysicalID, ResourceType: tr.Type, Scope: []string{"Properties"}}
		if cur.Type != tr.Type {
			c.Replacement = ReplacementTrue
			pr.unknown[id] = true
			out = append(out, c)
			continue
		}
		var props map[string]any
		v, err := cfn.Eval(tr.Properties, &env)
		if m, ok := v.(map[string]any); ok && err == nil {
			props = m
		} else if err != nil || v != nil {
			// Fails at execution, or depends on what execution makes.
			c.Replacement = ReplacementConditional
			c.Details = []ChangeDetail{{Attribute: "Properties", RequiresRecreation: recreateConditionally, Evaluation: "Dynamic", ChangeSource: "Automatic"}}
			pr.unknown[id] = true
			out = append(out, c)
			continue
		}
		if props == nil {
			props = map[string]any{}
		}
		if !hasUnknown(props) && sameProps(cur.Properties, props) {
			continue
		}
		c.Replacement = ReplacementFalse
		for _, name := range changedProps(cur.Properties, props) {
			d := s.detail(rec, p, tr, name, props[name])
			c.Details = append(c.Details, d)
			switch {
			case d.RequiresRecreation == recreateAlways && d.Evaluation == "Static":
				c.Replacement = ReplacementTrue
			case d.RequiresRecreation != recreateNever && c.Replacement == ReplacementFalse:
				c.Replacement = ReplacementConditional
			}
		}
		if c.Replacement != ReplacementFalse {
			pr.unknown[id] = true
		}
		out = append(out, c)
	}
	for _, id := range slices.Backward(removalOrder(rec)) {
		if slices.Contains(p.dep.Order, id) {
			continue
		}
		r := rec.Resources[id]
		out = append(out, ResourceChange{Action: ActionRemove, LogicalID: id, PhysicalID: r.PhysicalID, ResourceType: r.Type})
	}
	return out
}

// removalOrder is the stack's existing resources in creation order.
func removalOrder(rec *record) []string {
	var ids []string
	for _, id := range rec.Current.Order {
		if r := rec.Resources[id]; r != nil && r.PhysicalID != "" {
			ids = append(ids, id)
		}
	}
	for _, id := range sortedKeys(rec.Resources) {
		if r := rec.Resources[id]; r.PhysicalID != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// detail describes the change of one property.
func (s *Service) detail(rec *record, p *plan, tr *cfn.Resource, name string, val any) ChangeDetail {
	d := ChangeDetail{Attribute: "Properties", Name: name, RequiresRecreation: s.recreation(tr.Type, name),
		Evaluation: "Static", ChangeSource: "DirectModification"}
	if hasUnknown(val) {
		d.Evaluation, d.ChangeSource = "Dynamic", "ResourceReference"
	}
	for _, ref := range refsIn(tr.Properties[name]) {
		if _, isResource := p.tmpl.Resources[ref]; isResource {
			if d.Evaluation == "Dynamic" {
				d.CausingEntity = ref
				break
			}
			continue
		}
		i := slices.IndexFunc(p.dep.Params, func(x param) bool { return x.Key == ref })
		j := slices.IndexFunc(rec.Current.Params, func(x param) bool { return x.Key == ref })
		if i >= 0 && d.Evaluation == "Static" && (j < 0 || rec.Current.Params[j].Value != p.dep.Params[i].Value) {
			d.ChangeSource, d.CausingEntity = "ParameterReference", ref
			break
		}
	}
	return d
}

// changedProps lists the top-level properties that differ, sorted.
func changedProps(prev, cur map[string]any) []string {
	var out []string
	for k, v := range cur {
		if pv, ok := prev[k]; !ok || hasUnknown(v) || !sameProps(map[string]any{"v": pv}, map[string]any{"v": v}) {
			out = append(out, k)
		}
	}
	for k := range prev {
		if _, ok := cur[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
