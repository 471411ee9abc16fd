package cfn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// CloudFormation's quotas on a template.
const (
	maxResources  = 500
	maxParameters = 200
	maxOutputs    = 200
	maxMappings   = 200
)

// sections are the top-level keys a template may have (Globals is SAM's).
var sections = map[string]bool{
	"AWSTemplateFormatVersion": true, "Description": true, "Metadata": true,
	"Parameters": true, "Rules": true, "Mappings": true, "Conditions": true,
	"Transform": true, "Resources": true, "Outputs": true, "Globals": true,
}

var resourceAttributes = map[string]bool{
	"Type": true, "Properties": true, "DependsOn": true, "Condition": true,
	"DeletionPolicy": true, "UpdateReplacePolicy": true, "Metadata": true,
	"CreationPolicy": true, "UpdatePolicy": true, "IgnoreGlobals": true,
}

var parameterAttributes = map[string]bool{
	"Type": true, "Default": true, "AllowedValues": true, "AllowedPattern": true,
	"MinLength": true, "MaxLength": true, "MinValue": true, "MaxValue": true,
	"NoEcho": true, "Description": true, "ConstraintDescription": true,
}

var outputAttributes = map[string]bool{
	"Description": true, "Value": true, "Export": true, "Condition": true,
}

// Parse reads a YAML or JSON template. It refuses unknown top-level
// sections, resources without a Type, malformed short forms and documents
// that are not templates, with CloudFormation's "Template format error"
// messages.
func Parse(b []byte) (*Template, error) {
	v, err := decode(b)
	if err != nil {
		return nil, err
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, formatErrorf("not a valid template: a template is a JSON or YAML object")
	}
	return fromMap(top)
}

func fromMap(top map[string]any) (*Template, error) {
	var unknown []string
	for k := range top {
		if !sections[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, formatErrorf("Invalid template property or properties [%s]", strings.Join(unknown, ", "))
	}
	t := &Template{}
	if v, ok := top["AWSTemplateFormatVersion"]; ok {
		s, ok := v.(string)
		if !ok || s != "2010-09-09" {
			return nil, formatErrorf("Unsupported AWSTemplateFormatVersion")
		}
		t.FormatVersion = s
	}
	if v, ok := top["Description"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return nil, formatErrorf("Every Description member must be a string")
		}
		t.Description = s
	}
	var err error
	if t.Transform, err = transforms(top["Transform"]); err != nil {
		return nil, err
	}
	for _, sec := range []struct {
		name string
		dst  *map[string]any
	}{{"Metadata", &t.Metadata}, {"Globals", &t.Globals}, {"Mappings", &t.Mappings}, {"Conditions", &t.Conditions}, {"Rules", &t.Rules}} {
		v, ok := top[sec.name]
		if !ok || v == nil {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, formatErrorf("%s section must be an object", sec.name)
		}
		*sec.dst = m
	}
	if len(t.Mappings) > maxMappings {
		return nil, formatErrorf("Number of mappings, %d, is greater than maximum allowed, %d", len(t.Mappings), maxMappings)
	}
	for name, m := range t.Mappings {
		if _, ok := m.(map[string]any); !ok {
			return nil, formatErrorf("Mappings attribute %s must be an object", name)
		}
	}
	if t.Parameters, err = parameters(top["Parameters"]); err != nil {
		return nil, err
	}
	if t.Resources, err = resources(top["Resources"]); err != nil {
		return nil, err
	}
	if t.Outputs, err = outputs(top["Outputs"]); err != nil {
		return nil, err
	}
	if err := t.checkConditionNames(); err != nil {
		return nil, err
	}
	return t, nil
}

func transforms(v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, formatErrorf("Transform must be a string or a list of strings")
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, formatErrorf("Transform must be a string or a list of strings")
}

func alphanumeric(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func section(v any, name string) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, formatErrorf("%s section must be an object", name)
	}
	return m, nil
}

func parameters(v any) (map[string]*Parameter, error) {
	m, err := section(v, "Parameters")
	if err != nil || m == nil {
		return nil, err
	}
	if len(m) > maxParameters {
		return nil, formatErrorf("Parameter count %d is greater than max value allowed %d", len(m), maxParameters)
	}
	out := make(map[string]*Parameter, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if !alphanumeric(name) {
			return nil, formatErrorf("Parameter name %s is non alphanumeric.", name)
		}
		pm, ok := m[name].(map[string]any)
		if !ok {
			return nil, formatErrorf("Parameter %s must be an object", name)
		}
		for k := range pm {
			if !parameterAttributes[k] {
				return nil, formatErrorf("Invalid template parameter property '%s'", k)
			}
		}
		p := &Parameter{Default: pm["Default"]}
		var ok2 bool
		if p.Type, ok2 = pm["Type"].(string); !ok2 || p.Type == "" {
			return nil, formatErrorf("Every Parameters object must contain a Type member.")
		}
		if !knownParameterType(p.Type) {
			return nil, formatErrorf("Unrecognized parameter type: %s", p.Type)
		}
		if av, ok := pm["AllowedValues"]; ok {
			l, ok := av.([]any)
			if !ok {
				return nil, formatErrorf("Every AllowedValues member of parameter %s must be a list", name)
			}
			p.AllowedValues = l
		}
		strs := []struct {
			key string
			dst *string
		}{{"AllowedPattern", &p.AllowedPattern}, {"Description", &p.Description}, {"ConstraintDescription", &p.ConstraintDescription}}
		for _, s := range strs {
			if sv, ok := pm[s.key]; ok && sv != nil {
				if *s.dst, ok = sv.(string); !ok {
					return nil, formatErrorf("Every %s member of parameter %s must be a string", s.key, name)
				}
			}
		}
		for _, n := range []struct {
			key string
			dst **int
		}{{"MinLength", &p.MinLength}, {"MaxLength", &p.MaxLength}} {
			if nv, ok := pm[n.key]; ok {
				f, ok := toNumber(nv)
				if !ok || f != float64(int(f)) {
					return nil, formatErrorf("%s of parameter %s must be an integer", n.key, name)
				}
				i := int(f)
				*n.dst = &i
			}
		}
		for _, n := range []struct {
			key string
			dst **float64
		}{{"MinValue", &p.MinValue}, {"MaxValue", &p.MaxValue}} {
			if nv, ok := pm[n.key]; ok {
				f, ok := toNumber(nv)
				if !ok {
					return nil, formatErrorf("%s of parameter %s must be a number", n.key, name)
				}
				*n.dst = &f
			}
		}
		if ne, ok := pm["NoEcho"]; ok {
			switch ne := ne.(type) {
			case bool:
				p.NoEcho = ne
			case string:
				p.NoEcho = strings.EqualFold(ne, "true")
			}
		}
		out[name] = p
	}
	return out, nil
}

// toNumber reads a number written as a number or a string.
func toNumber(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f, err == nil
	}
	return 0, false
}

func resources(v any) (map[string]*Resource, error) {
	m, err := section(v, "Resources")
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, formatErrorf("At least one Resources member must be defined.")
	}
	if len(m) > maxResources {
		return nil, formatErrorf("Number of resources, %d, is greater than maximum allowed, %d", len(m), maxResources)
	}
	out := make(map[string]*Resource, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if !alphanumeric(name) {
			if strings.HasPrefix(name, "Fn::ForEach::") {
				return nil, formatErrorf("Resource name %s is a loop of the AWS::LanguageExtensions transform; Nimbus does not expand Fn::ForEach.", name)
			}
			return nil, formatErrorf("Resource name %s is non alphanumeric.", name)
		}
		rm, ok := m[name].(map[string]any)
		if !ok {
			return nil, formatErrorf("[/Resources/%s] resource definition is malformed", name)
		}
		r, err := resource(name, rm)
		if err != nil {
			return nil, err
		}
		out[name] = r
	}
	return out, nil
}

func resource(name string, rm map[string]any) (*Resource, error) {
	var bad []string
	for k := range rm {
		if !resourceAttributes[k] {
			bad = append(bad, k)
		}
	}
	// samtranslator reads only the attributes it knows on a SAM resource
	// and drops the rest (a Description beside Type and Properties, an
	// OpenApiVersion outside Properties): CloudFormation never sees them.
	if t, _ := rm["Type"].(string); strings.HasPrefix(t, "AWS::Serverless::") {
		bad = nil
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return nil, formatErrorf("Invalid template resource property '%s'", strings.Join(bad, ", "))
	}
	r := &Resource{IgnoreGlobals: rm["IgnoreGlobals"]}
	typ, ok := rm["Type"].(string)
	if !ok || typ == "" {
		return nil, formatErrorf("[/Resources/%s] Every Resources object must contain a Type member.", name)
	}
	r.Type = typ
	maps := []struct {
		key string
		dst *map[string]any
	}{{"Properties", &r.Properties}, {"Metadata", &r.Metadata}, {"CreationPolicy", &r.CreationPolicy}, {"UpdatePolicy", &r.UpdatePolicy}}
	for _, f := range maps {
		if v, ok := rm[f.key]; ok && v != nil {
			if *f.dst, ok = v.(map[string]any); !ok {
				return nil, formatErrorf("[/Resources/%s/%s] '%s' must be an object", name, f.key, f.key)
			}
		}
	}
	if v, ok := rm["Condition"]; ok && v != nil {
		if r.Condition, ok = v.(string); !ok {
			return nil, formatErrorf("Every Condition member must be a string")
		}
	}
	strs := []struct {
		key string
		dst *string
	}{{"DeletionPolicy", &r.DeletionPolicy}, {"UpdateReplacePolicy", &r.UpdateReplacePolicy}}
	for _, f := range strs {
		if v, ok := rm[f.key]; ok && v != nil {
			if *f.dst, ok = v.(string); !ok {
				return nil, formatErrorf("[/Resources/%s/%s] '%s' must be a string", name, f.key, f.key)
			}
		}
	}
	switch d := rm["DependsOn"].(type) {
	case nil:
	case string:
		r.DependsOn = []string{d}
	case []any:
		for _, e := range d {
			s, ok := e.(string)
			if !ok {
				return nil, formatErrorf("[/Resources/%s/DependsOn] DependsOn must be a string or a list of strings", name)
			}
			r.DependsOn = append(r.DependsOn, s)
		}
	default:
		return nil, formatErrorf("[/Resources/%s/DependsOn] DependsOn must be a string or a list of strings", name)
	}
	return r, nil
}

func outputs(v any) (map[string]*Output, error) {
	m, err := section(v, "Outputs")
	if err != nil || m == nil {
		return nil, err
	}
	if len(m) > maxOutputs {
		return nil, formatErrorf("Number of outputs, %d, is greater than maximum allowed, %d", len(m), maxOutputs)
	}
	out := make(map[string]*Output, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if !alphanumeric(name) {
			if strings.HasPrefix(name, "Fn::ForEach::") {
				return nil, formatErrorf("Output name %s is a loop of the AWS::LanguageExtensions transform; Nimbus does not expand Fn::ForEach.", name)
			}
			return nil, formatErrorf("Output name %s is non alphanumeric.", name)
		}
		om, ok := m[name].(map[string]any)
		if !ok {
			return nil, formatErrorf("[/Outputs/%s] output definition is malformed", name)
		}
		for k := range om {
			if !outputAttributes[k] {
				return nil, formatErrorf("Invalid outputs property : [%s]", k)
			}
		}
		o := &Output{Value: om["Value"]}
		if _, ok := om["Value"]; !ok || o.Value == nil {
			return nil, formatErrorf("Every Outputs member must contain a Value object")
		}
		if d, ok := om["Description"]; ok && d != nil {
			if o.Description, ok = d.(string); !ok {
				return nil, formatErrorf("Every Description member must be a string")
			}
		}
		if c, ok := om["Condition"]; ok && c != nil {
			if o.Condition, ok = c.(string); !ok {
				return nil, formatErrorf("Every Condition member must be a string")
			}
		}
		if e, ok := om["Export"]; ok && e != nil {
			em, ok := e.(map[string]any)
			if !ok || em["Name"] == nil || len(em) != 1 {
				return nil, formatErrorf("[/Outputs/%s/Export] Export must be an object with one member, Name", name)
			}
			o.Export = &Export{Name: em["Name"]}
		}
		out[name] = o
	}
	return out, nil
}

// checkConditionNames checks that every condition a resource or output
// names exists.
func (t *Template) checkConditionNames() error {
	check := func(cond, block, name string) error {
		if cond == "" {
			return nil
		}
		if _, ok := t.Conditions[cond]; !ok {
			return formatErrorf("Unresolved condition dependencies [%s] in the %s block of the template (%s)", cond, block, name)
		}
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(t.Resources)) {
		if err := check(t.Resources[name].Condition, "Resources", name); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(t.Outputs)) {
		if err := check(t.Outputs[name].Condition, "Outputs", name); err != nil {
			return err
		}
	}
	return nil
}

// Marshal writes t as JSON (the form stored and shown by GetTemplate's
// processed stage).
func (t *Template) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(t); err != nil {
		return nil, fmt.Errorf("marshal template: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Clone returns a deep copy of t: changing the copy (as the SAM
// transform does) leaves t as it was.
func (t *Template) Clone() *Template {
	if t == nil {
		return nil
	}
	c := &Template{
		FormatVersion: t.FormatVersion,
		Description:   t.Description,
		Transform:     slices.Clone(t.Transform),
		Metadata:      CopyMap(t.Metadata),
		Globals:       CopyMap(t.Globals),
		Mappings:      CopyMap(t.Mappings),
		Rules:         CopyMap(t.Rules),
		Conditions:    CopyMap(t.Conditions),
	}
	if t.Parameters != nil {
		c.Parameters = make(map[string]*Parameter, len(t.Parameters))
		for k, p := range t.Parameters {
			if p == nil {
				c.Parameters[k] = nil
				continue
			}
			cp := *p
			cp.Default = Copy(p.Default)
			cp.AllowedValues = copyList(p.AllowedValues)
			cp.MinLength, cp.MaxLength = copyPtr(p.MinLength), copyPtr(p.MaxLength)
			cp.MinValue, cp.MaxValue = copyPtr(p.MinValue), copyPtr(p.MaxValue)
			c.Parameters[k] = &cp
		}
	}
	if t.Resources != nil {
		c.Resources = make(map[string]*Resource, len(t.Resources))
		for k, r := range t.Resources {
			if r == nil {
				c.Resources[k] = nil
				continue
			}
			cr := *r
			cr.Properties = CopyMap(r.Properties)
			cr.DependsOn = slices.Clone(r.DependsOn)
			cr.Metadata = CopyMap(r.Metadata)
			cr.CreationPolicy = CopyMap(r.CreationPolicy)
			cr.UpdatePolicy = CopyMap(r.UpdatePolicy)
			cr.IgnoreGlobals = Copy(r.IgnoreGlobals)
			c.Resources[k] = &cr
		}
	}
	if t.Outputs != nil {
		c.Outputs = make(map[string]*Output, len(t.Outputs))
		for k, o := range t.Outputs {
			if o == nil {
				c.Outputs[k] = nil
				continue
			}
			co := *o
			co.Value = Copy(o.Value)
			if o.Export != nil {
				co.Export = &Export{Name: Copy(o.Export.Name)}
			}
			c.Outputs[k] = &co
		}
	}
	return c
}

func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Copy deep-copies a value of the JSON data model; []string (a list
// parameter's value) is copied as it is.
func Copy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return CopyMap(v)
	case []any:
		return copyList(v)
	case []string:
		return slices.Clone(v)
	}
	return v
}

// CopyMap deep-copies m (nil stays nil).
func CopyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = Copy(v)
	}
	return c
}

func copyList(l []any) []any {
	if l == nil {
		return nil
	}
	c := make([]any, len(l))
	for i, v := range l {
		c[i] = Copy(v)
	}
	return c
}

// Macros lists where t uses Fn::Transform (AWS::Include or another
// macro), as "/Resources/Id/Properties/Key (AWS::Include)", in order.
func (t *Template) Macros() []string {
	b, err := json.Marshal(t)
	if err != nil {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil
	}
	var found []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if tr, ok := x["Fn::Transform"]; ok {
				name := "a macro"
				if tm, ok := tr.(map[string]any); ok {
					if n, ok := tm["Name"].(string); ok {
						name = n
					}
				}
				found = append(found, fmt.Sprintf("%s (%s)", path, name))
				return
			}
			for _, k := range slices.Sorted(maps.Keys(x)) {
				walk(path+"/"+k, x[k])
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s/%d", path, i), e)
			}
		}
	}
	walk("", m)
	return found
}

// MacroError is the refusal of a template whose Macros are where.
func MacroError(where []string) string {
	return "Fn::Transform is not supported: Nimbus runs no macros, AWS::Include included. Used at " +
		strings.Join(where, ", ") + "; inline the included document."
}
