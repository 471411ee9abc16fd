package stack

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/cfn"
	"github.com/nimbus-serverless/nimbus/internal/sam"
)

// SAMTransform is the transform that marks a SAM template.
const SAMTransform = "AWS::Serverless-2016-10-31"

// Capabilities a template may require.
const (
	CapabilityIAM        = "CAPABILITY_IAM"
	CapabilityNamedIAM   = "CAPABILITY_NAMED_IAM"
	CapabilityAutoExpand = "CAPABILITY_AUTO_EXPAND"
)

// iamTypes are the resource types that need CAPABILITY_IAM, with the
// property that names them (which needs CAPABILITY_NAMED_IAM instead).
var iamTypes = map[string]string{
	"AWS::IAM::AccessKey":               "",
	"AWS::IAM::Group":                   "GroupName",
	"AWS::IAM::InstanceProfile":         "InstanceProfileName",
	"AWS::IAM::ManagedPolicy":           "ManagedPolicyName",
	"AWS::IAM::Policy":                  "",
	"AWS::IAM::Role":                    "RoleName",
	"AWS::IAM::RolePolicy":              "",
	"AWS::IAM::User":                    "UserName",
	"AWS::IAM::UserPolicy":              "",
	"AWS::IAM::GroupPolicy":             "",
	"AWS::IAM::UserToGroupAddition":     "",
	"AWS::IAM::ServiceLinkedRole":       "",
	"AWS::IAM::OIDCProvider":            "",
	"AWS::IAM::SAMLProvider":            "",
	"AWS::IAM::ServerCertificate":       "",
	"AWS::IAM::VirtualMFADevice":        "",
	"AWS::IAM::ResourcePolicy":          "",
	"AWS::IAM::RolePolicyAttachment":    "",
	"AWS::IAM::ManagedPolicyAttachment": "",
}

// maxTemplateBytes bounds a stack's template, original and processed
// together: the stack record (templates, resources' properties, and their
// previous values during an update) must fit one value of the store.
const maxTemplateBytes = 256 << 10

// plan is a checked template, ready to apply: the synchronous part of
// CreateStack and UpdateStack.
type plan struct {
	tmpl    *cfn.Template // after the transform
	env     cfn.Env       // without Resources and ImportValue
	dep     deployment    // what the stack records
	deps    map[string][]string
	skipped map[string]string // logical id -> type left out (SkipUnsupported)
	// referrers lists, per left-out resource, the kept resources and
	// outputs ("Outputs.X") whose references to it resolve to placeholders.
	referrers map[string][]string
	condFalse map[string]bool // resources whose condition is false
}

// planInput is what prepare needs.
type planInput struct {
	// ctx is the caller's request: AWS::Include snippets are read with its
	// identity (nil: the service's own context, as tests and resumes use).
	ctx                 context.Context
	name, stackID, body string
	overrides           map[string]string
	usePrevious         []string
	prev                []param // the parameters of the stack's current deployment
	capabilities        []string
	skipUnsupported     bool
}

// templateError turns an error of cfn or sam into a ValidationError with
// its message (they are written in CloudFormation's words).
func templateError(err error) error {
	if e := awsapi.As(err); e != nil {
		return e
	}
	return validationError("%s", err.Error())
}

// prepare parses, transforms and checks a template with its parameters.
// Every problem it finds is a client error: nothing has been recorded yet.
func (s *Service) prepare(in planInput) (*plan, error) {
	if strings.TrimSpace(in.body) == "" {
		return nil, validationError("Either Template URL or Template Body must be specified.")
	}
	t, err := cfn.Parse([]byte(in.body))
	if err != nil {
		return nil, templateError(err)
	}
	t, included, err := s.expandIncludes(in.ctx, t)
	if err != nil {
		return nil, err
	}
	if err := refuseMacros(t); err != nil {
		return nil, err
	}
	isSAM := false
	for _, tr := range t.Transform {
		if tr != SAMTransform {
			return nil, validationError("Transform %s is not supported by Nimbus (only %s is).", tr, SAMTransform)
		}
		isSAM = true
	}
	if isSAM && !slices.Contains(in.capabilities, CapabilityAutoExpand) {
		return nil, cfnErr(CodeInsufficientCapabilities, "Requires capabilities : [%s]", CapabilityAutoExpand)
	}

	overrides := maps.Clone(in.overrides)
	if overrides == nil {
		overrides = map[string]string{}
	}
	for _, k := range in.usePrevious {
		i := slices.IndexFunc(in.prev, func(p param) bool { return p.Key == k })
		if i < 0 {
			return nil, validationError("Invalid input for parameter key %s. Cannot specify usePreviousValue as true for a parameter key not in the previous template", k)
		}
		overrides[k] = in.prev[i].Value
	}
	pseudo := cfn.Pseudo{Region: s.region, AccountID: s.account, StackName: in.name, StackID: in.stackID}
	params, err := t.ResolveParametersWith(overrides, pseudo, s.ssmReader(in.ctx))
	if err != nil {
		return nil, templateError(err)
	}
	dep := deployment{Template: in.body, Description: t.Description, Params: paramList(t, params)}

	pt := t
	if included {
		b, err := t.Marshal()
		if err != nil {
			return nil, fmt.Errorf("encode processed template: %w", err)
		}
		dep.Processed = string(b)
	}
	if isSAM {
		pt, err = sam.Transform(t, params, sam.Options{Region: s.region, AccountID: s.account, StackName: in.name, Partition: "aws", TranslateUnsupported: in.skipUnsupported})
		if err != nil {
			if e := awsapi.As(err); e != nil {
				return nil, e
			}
			return nil, validationError("Transform %s failed with: %v", SAMTransform, err)
		}
		b, err := pt.Marshal()
		if err != nil {
			return nil, fmt.Errorf("encode processed template: %w", err)
		}
		dep.Processed = string(b)
		if pt.Description != "" {
			dep.Description = pt.Description
		}
	}
	if n := len(dep.Template) + len(dep.Processed); n > maxTemplateBytes {
		return nil, validationError("The template is %d bytes (%d after the transform); Nimbus keeps stacks of up to %d bytes of template. Split it into several stacks.",
			len(dep.Template), len(dep.Processed), maxTemplateBytes)
	}
	p := &plan{tmpl: pt, skipped: map[string]string{}, referrers: map[string][]string{}, condFalse: map[string]bool{}}
	p.env = cfn.Env{Pseudo: pseudo, Params: params, Mappings: pt.Mappings, Dynamic: s.dynamicResolver(in.ctx)}
	if p.env.Conditions, err = pt.EvalConditions(&p.env); err != nil {
		return nil, templateError(err)
	}
	if p.deps, err = pt.Dependencies(); err != nil {
		return nil, templateError(err)
	}
	order, err := cfn.Order(p.deps)
	if err != nil {
		return nil, templateError(err)
	}

	var unsupported []string
	for _, id := range order {
		r := pt.Resources[id]
		if r == nil {
			continue
		}
		if r.Condition != "" {
			v, ok := p.env.Conditions[r.Condition]
			if !ok {
				return nil, validationError("Template format error: Unresolved dependencies [%s]. Cannot reference resources in the Conditions block of the template", r.Condition)
			}
			if !v {
				p.condFalse[id] = true
				continue
			}
		}
		if _, ok := s.providers[r.Type]; !ok {
			if !slices.Contains(unsupported, r.Type) {
				unsupported = append(unsupported, r.Type)
			}
			p.skipped[id] = r.Type
			continue
		}
		dep.Order = append(dep.Order, id)
	}
	if len(unsupported) > 0 {
		if !in.skipUnsupported {
			return nil, unsupportedTypes(unsupported)
		}
		p.noteReferrers(dep.Order)
	}
	if err := checkIAM(pt, dep.Order, in.capabilities); err != nil {
		return nil, err
	}
	if err := s.checkCodeAccess(in.ctx, pt, &p.env, dep.Order); err != nil {
		return nil, err
	}
	p.dep = dep
	return p, nil
}

// noteReferrers records which kept resources and outputs refer to a
// resource SkipUnsupported leaves out (their references resolve to
// placeholders, see leftout.go).
func (p *plan) noteReferrers(kept []string) {
	for _, id := range kept {
		for _, d := range p.deps[id] {
			if _, ok := p.skipped[d]; ok && !slices.Contains(p.referrers[d], id) {
				p.referrers[d] = append(p.referrers[d], id)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.tmpl.Outputs)) {
		o := p.tmpl.Outputs[k]
		for _, d := range refsIn([]any{o.Value, exportName(o)}) {
			if _, ok := p.skipped[d]; ok && !slices.Contains(p.referrers[d], "Outputs."+k) {
				p.referrers[d] = append(p.referrers[d], "Outputs."+k)
			}
		}
	}
}

func exportName(o *cfn.Output) any {
	if o.Export == nil {
		return nil
	}
	return o.Export.Name
}

// checkIAM checks that the capabilities acknowledge the IAM resources
// among ids.
func checkIAM(t *cfn.Template, ids []string, caps []string) error {
	need := ""
	for _, id := range ids {
		r := t.Resources[id]
		nameProp, ok := iamTypes[r.Type]
		if !ok {
			continue
		}
		if _, named := r.Properties[nameProp]; named && nameProp != "" {
			need = CapabilityNamedIAM
			break
		}
		need = CapabilityIAM
	}
	switch {
	case need == "":
		return nil
	case slices.Contains(caps, CapabilityNamedIAM):
		return nil
	case need == CapabilityIAM && slices.Contains(caps, CapabilityIAM):
		return nil
	}
	return cfnErr(CodeInsufficientCapabilities, "Requires capabilities : [%s]", need)
}

// paramList is the template's parameters with their resolved values, by key.
func paramList(t *cfn.Template, params map[string]any) []param {
	out := make([]param, 0, len(t.Parameters))
	for _, k := range slices.Sorted(maps.Keys(t.Parameters)) {
		out = append(out, param{Key: k, Value: paramString(params[k]), NoEcho: t.Parameters[k].NoEcho})
	}
	return out
}

func paramString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []string:
		return strings.Join(v, ",")
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = fmt.Sprint(x)
		}
		return strings.Join(parts, ",")
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// refsIn returns the logical names v refers to with Ref, Fn::GetAtt and
// Fn::Sub variables (parameters and pseudo parameters included: callers
// look the names up).
func refsIn(v any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			if len(v) == 1 {
				for k, arg := range v {
					switch k {
					case "Ref":
						if s, ok := arg.(string); ok {
							out = append(out, s)
						}
					case "Fn::GetAtt":
						switch a := arg.(type) {
						case string:
							out = append(out, strings.SplitN(a, ".", 2)[0])
						case []any:
							if len(a) > 0 {
								if s, ok := a[0].(string); ok {
									out = append(out, s)
								}
							}
						}
					case "Fn::Sub":
						out = append(out, subVars(arg)...)
					}
				}
			}
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return out
}

// subVars returns the names of the ${Name} and ${Name.Attr} variables of
// a Fn::Sub argument that its own variable map does not define.
func subVars(arg any) []string {
	var str string
	var local map[string]any
	switch a := arg.(type) {
	case string:
		str = a
	case []any:
		if len(a) > 0 {
			str, _ = a[0].(string)
		}
		if len(a) > 1 {
			local, _ = a[1].(map[string]any)
		}
	}
	var out []string
	for {
		i := strings.Index(str, "${")
		if i < 0 {
			return out
		}
		str = str[i+2:]
		j := strings.IndexByte(str, '}')
		if j < 0 {
			return out
		}
		name := str[:j]
		str = str[j+1:]
		if strings.HasPrefix(name, "!") {
			continue
		}
		name = strings.SplitN(strings.TrimSpace(name), ".", 2)[0]
		if _, ok := local[name]; !ok {
			out = append(out, name)
		}
	}
}

// refuseMacros refuses a template that uses Fn::Transform (AWS::Include
// or any other macro) anywhere, before anything is created: CloudFormation
// expands macros before it creates a resource, so a template Nimbus cannot
// expand must fail whole, not after other resources exist.
func refuseMacros(t *cfn.Template) error {
	found := t.Macros()
	if len(found) == 0 {
		return nil
	}
	return validationError("%s", cfn.MacroError(found))
}

// secretTimeout bounds one read of a parameter or secret for a template.
const secretTimeout = 30 * time.Second

// ssmReader reads parameters of type AWS::SSM::Parameter::Value<...>
// (nil without a SecretSource: they are refused) as the caller on ctx
// (the API request's, or the stack operation's Actor).
func (s *Service) ssmReader(ctx context.Context) cfn.SSMReader {
	if s.secrets == nil {
		return nil
	}
	if ctx == nil {
		ctx = s.base
	}
	return func(name string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, secretTimeout)
		defer cancel()
		return s.secrets.Parameter(ctx, name)
	}
}

// dynamicResolver answers {{resolve:...}} (nil without a SecretSource:
// they are refused) as the caller on ctx (the API request's, or the
// stack operation's Actor).
func (s *Service) dynamicResolver(ctx context.Context) cfn.DynamicResolver {
	if s.secrets == nil {
		return nil
	}
	if ctx == nil {
		ctx = s.base
	}
	return func(ref cfn.DynamicRef) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, secretTimeout)
		defer cancel()
		return s.secrets.Resolve(ctx, ref)
	}
}
