package sam

import (
	_ "embed" // policy templates and managed policy names
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// policy_templates.json is samtranslator's policy_templates_data (SAM's
// policy templates, Apache-2.0); managed_policies.json is its bundled map
// of AWS managed policy names to ARNs in the aws partition.

//go:embed policy_templates.json
var policyTemplatesJSON []byte

//go:embed managed_policies.json
var managedPoliciesJSON []byte

type policyTemplate struct {
	Parameters map[string]any `json:"Parameters"`
	Definition map[string]any `json:"Definition"`
}

var (
	loadOnce        sync.Once
	policyTemplates map[string]policyTemplate
	managedPolicies map[string]string
)

func loadPolicyData() {
	loadOnce.Do(func() {
		var doc struct {
			Templates map[string]policyTemplate `json:"Templates"`
		}
		if err := json.Unmarshal(policyTemplatesJSON, &doc); err != nil {
			panic(fmt.Sprintf("sam: embedded policy templates: %v", err))
		}
		policyTemplates = doc.Templates
		if err := json.Unmarshal(managedPoliciesJSON, &managedPolicies); err != nil {
			panic(fmt.Sprintf("sam: embedded managed policies: %v", err))
		}
	})
}

// managedPolicyARN is samtranslator's _get_managed_policy_arn: a known AWS
// managed policy name becomes its ARN; anything else is kept as given.
func (tr *translator) managedPolicyARN(name string) string {
	loadPolicyData()
	if arn, ok := managedPolicies[name]; ok {
		return strings.Replace(arn, "arn:aws:", "arn:"+tr.partition+":", 1)
	}
	return name
}

func (tr *translator) awsManagedPolicy(name string) string {
	return "arn:" + tr.partition + ":iam::aws:policy/" + name
}

type policyType int

const (
	policyUnknown policyType = iota
	policyManaged
	policyStatement
	policyTemplateType
)

func isPolicyTemplate(v any) bool {
	loadPolicyData()
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	for k := range m {
		_, ok := policyTemplates[k]
		return ok
	}
	return false
}

func policyKind(v any, templates bool) (policyType, error) {
	if _, ok := v.(string); ok {
		return policyManaged, nil
	}
	if isIntrinsicIf(v) {
		_, yes, no, ok := ifItems(v)
		if !ok {
			return policyUnknown, invalidf("Fn::If requires 3 arguments")
		}
		ty, err := policyKind(yes, templates)
		if err != nil {
			return policyUnknown, err
		}
		tn, err := policyKind(no, templates)
		if err != nil {
			return policyUnknown, err
		}
		switch {
		case ty == tn:
			return ty, nil
		case isNoValue(yes):
			return tn, nil
		case isNoValue(no):
			return ty, nil
		}
		return policyUnknown, invalidf("Different policy types within the same Fn::If statement is unsupported. Separate different policy types into different Fn::If statements")
	}
	if isIntrinsic(v) {
		return policyManaged, nil
	}
	if m, ok := v.(map[string]any); ok {
		if _, ok := m["Statement"]; ok {
			return policyStatement, nil
		}
	}
	if templates && isPolicyTemplate(v) {
		return policyTemplateType, nil
	}
	return policyUnknown, nil
}

func policiesList(v any) []any {
	if v == nil || !truthy(v) {
		return nil
	}
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// expandPolicyTemplates replaces each function's policy templates
// (DynamoDBCrudPolicy: {TableName: ...}) with the policy statements they
// stand for (PolicyTemplatesForResourcePlugin).
func (tr *translator) expandPolicyTemplates() {
	for _, id := range sortedKeys(tr.sam) {
		r := tr.sam[id]
		if r.Type != typeFunction && r.Type != typeStateMachine {
			continue
		}
		list := policiesList(r.Properties["Policies"])
		if len(list) == 0 {
			continue
		}
		out := make([]any, 0, len(list))
		failed := false
		for _, p := range list {
			kind, err := policyKind(p, true)
			if err != nil {
				tr.errorf(id, "%s", err.Error())
				failed = true
				break
			}
			if kind != policyTemplateType {
				out = append(out, p)
				continue
			}
			conv, err := convertTemplateEntry(p)
			if err != nil {
				tr.errorf(id, "%s", err.Error())
				failed = true
				break
			}
			out = append(out, conv)
		}
		if !failed {
			r.Properties["Policies"] = out
		}
	}
}

func convertTemplateEntry(p any) (any, error) {
	if isIntrinsicIf(p) {
		cond, yes, no, _ := ifItems(p)
		var err error
		if !isNoValue(yes) {
			if yes, err = convertTemplate(yes); err != nil {
				return nil, err
			}
		}
		if !isNoValue(no) {
			if no, err = convertTemplate(no); err != nil {
				return nil, err
			}
		}
		return fnIf(cond, yes, no), nil
	}
	return convertTemplate(p)
}

const policyParamPrefix = "___SAM_POLICY_PARAMETER_"

func convertTemplate(p any) (any, error) {
	m, _ := p.(map[string]any)
	var name string
	var values any
	for k, v := range m {
		name, values = k, v
	}
	t, ok := policyTemplates[name]
	if !ok {
		return nil, invalidf("Policy template '%s' is not known", name)
	}
	vals, ok := values.(map[string]any)
	if !ok {
		return nil, invalidf("Must specify valid parameter values for policy template '%s'", name)
	}
	var missing []string
	for param := range t.Parameters {
		if _, ok := vals[param]; !ok {
			missing = append(missing, "'"+param+"'")
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, invalidf("Following required parameters of template '%s' don't have values: [%s]", name, strings.Join(missing, ", "))
	}
	params := map[string]any{}
	for param := range t.Parameters {
		params[policyParamPrefix+param] = vals[param]
	}
	def := prefixRefs(deepCopy(t.Definition))
	res := resolver{params: params}
	out, err := res.resolveRefsOnly(def)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func prefixRefs(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = prefixRefs(e)
		}
		if r, ok := x["Ref"].(string); ok {
			x["Ref"] = policyParamPrefix + r
		}
	case []any:
		for i, e := range x {
			x[i] = prefixRefs(e)
		}
	}
	return v
}

// resolveRefsOnly resolves only Ref to the resolver's parameters.
func (r *resolver) resolveRefsOnly(v any) (any, error) {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		if name, ok := m["Ref"].(string); ok {
			if p, ok := r.params[name]; ok {
				v = deepCopy(p)
			}
		}
	}
	var err error
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if x[k], err = r.resolveRefsOnly(e); err != nil {
				return nil, err
			}
		}
	case []any:
		for i, e := range x {
			if x[i], err = r.resolveRefsOnly(e); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}
