package cfn

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dlclark/regexp2/v2"
)

// awsParameterTypes are CloudFormation's AWS-specific parameter types.
// CloudFormation checks their values against the account; Nimbus takes
// them as plain strings.
var awsParameterTypes = map[string]bool{
	"AWS::EC2::AvailabilityZone::Name":   true,
	"AWS::EC2::Image::Id":                true,
	"AWS::EC2::Instance::Id":             true,
	"AWS::EC2::KeyPair::KeyName":         true,
	"AWS::EC2::SecurityGroup::GroupName": true,
	"AWS::EC2::SecurityGroup::Id":        true,
	"AWS::EC2::Subnet::Id":               true,
	"AWS::EC2::Volume::Id":               true,
	"AWS::EC2::VPC::Id":                  true,
	"AWS::Route53::HostedZone::Id":       true,
	"AWS::SSM::Parameter::Name":          true,
}

func knownParameterType(t string) bool {
	switch {
	case t == "String", t == "Number", t == "CommaDelimitedList", t == "List<Number>":
		return true
	case awsParameterTypes[t]:
		return true
	case strings.HasPrefix(t, "List<") && strings.HasSuffix(t, ">"):
		return awsParameterTypes[t[len("List<"):len(t)-1]]
	case isSSMType(t):
		return true
	}
	return false
}

func isSSMType(t string) bool {
	return strings.HasPrefix(t, "AWS::SSM::Parameter::Value<") && strings.HasSuffix(t, ">")
}

// isListType reports whether a parameter of type t has a list value.
func isListType(t string) bool {
	return t == "CommaDelimitedList" || strings.HasPrefix(t, "List<")
}

// NoEchoMask is what DescribeStacks shows for a NoEcho parameter's value.
const NoEchoMask = "****"

// MaskNoEcho returns a copy of params (as ResolveParameters returns
// them) with the value of every NoEcho parameter replaced by "****".
func (t *Template) MaskNoEcho(params map[string]any) map[string]any {
	out := make(map[string]any, len(params))
	for k, v := range params {
		if p := t.Parameters[k]; p != nil && p.NoEcho {
			v = NoEchoMask
		}
		out[k] = v
	}
	return out
}

// PseudoParams returns the pseudo parameters' values, keyed by name
// (AWS::Region, ...), with the defaults applied; AWS::NoValue is not a
// value and is not included.
func PseudoParams(p Pseudo) map[string]any {
	arns := p.NotificationARNs
	if arns == nil {
		arns = []string{}
	}
	return map[string]any{
		"AWS::Region":           p.Region,
		"AWS::AccountId":        p.AccountID,
		"AWS::StackName":        p.StackName,
		"AWS::StackId":          p.StackID,
		"AWS::Partition":        partition(p),
		"AWS::URLSuffix":        urlSuffix(p),
		"AWS::NotificationARNs": slices.Clone(arns),
	}
}

func partition(p Pseudo) string {
	if p.Partition != "" {
		return p.Partition
	}
	return "aws"
}

func urlSuffix(p Pseudo) string {
	if p.URLSuffix != "" {
		return p.URLSuffix
	}
	return "amazonaws.com"
}

// ResolveParameters checks overrides against the declarations (unknown
// names, AllowedValues, AllowedPattern, lengths, number ranges, missing
// values without defaults) and returns every parameter's value plus the
// pseudo parameters: string, or []string for List<...> and
// CommaDelimitedList. The Rules section's assertions are checked over the
// values.
func (t *Template) ResolveParameters(overrides map[string]string, pseudo Pseudo) (map[string]any, error) {
	return t.ResolveParametersWith(overrides, pseudo, nil)
}

// SSMReader reads a Parameter Store parameter's value (its name, as a
// parameter of type AWS::SSM::Parameter::Value<...> holds it).
type SSMReader func(name string) (string, error)

// ResolveParametersWith is ResolveParameters with the values of
// parameters of type AWS::SSM::Parameter::Value<...> read through ssm (a
// nil ssm refuses them). Their given value is the parameter's name; the
// list forms (Value<List<...>>, Value<CommaDelimitedList>) split the
// value at commas.
func (t *Template) ResolveParametersWith(overrides map[string]string, pseudo Pseudo, ssm SSMReader) (map[string]any, error) {
	var unknown []string
	for k := range overrides {
		if _, ok := t.Parameters[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, fmt.Errorf("Parameters: [%s] do not exist in the template", strings.Join(unknown, ", ")) //nolint:staticcheck // CloudFormation's wording
	}
	names := slices.Sorted(maps.Keys(t.Parameters))
	raw := make(map[string]string, len(names))
	var missing []string
	for _, name := range names {
		if v, ok := overrides[name]; ok {
			raw[name] = v
			continue
		}
		d := t.Parameters[name].Default
		if d == nil {
			missing = append(missing, name)
			continue
		}
		s, err := defaultString(d)
		if err != nil {
			return nil, fmt.Errorf("Template format error: Default of parameter %s %w", name, err) //nolint:staticcheck // CloudFormation's wording
		}
		raw[name] = s
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("Parameters: [%s] must have values", strings.Join(missing, ", ")) //nolint:staticcheck // CloudFormation's wording
	}
	var ssmNames []string
	for _, name := range names {
		if isSSMType(t.Parameters[name].Type) {
			ssmNames = append(ssmNames, name)
		}
	}
	if len(ssmNames) > 0 && ssm == nil {
		return nil, fmt.Errorf("Parameters [%s] have SSM parameter types (AWS::SSM::Parameter::Value<...>), which Nimbus does not support: it has no Systems Manager Parameter Store; declare them as String and pass the value", strings.Join(ssmNames, ", ")) //nolint:staticcheck // CloudFormation-style message
	}
	out := PseudoParams(pseudo)
	for _, name := range names {
		p := t.Parameters[name]
		if isSSMType(p.Type) {
			v, err := ssm(raw[name])
			if err != nil {
				return nil, fmt.Errorf("Parameter %s: %w", name, err) //nolint:staticcheck // CloudFormation's wording
			}
			inner := strings.TrimSuffix(strings.TrimPrefix(p.Type, "AWS::SSM::Parameter::Value<"), ">")
			if isListType(inner) {
				items := strings.Split(v, ",")
				for i := range items {
					items[i] = strings.TrimSpace(items[i])
				}
				out[name] = items
			} else {
				out[name] = v
			}
			continue
		}
		v, err := p.check(name, raw[name])
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	if err := t.checkRules(out, pseudo); err != nil {
		return nil, err
	}
	return out, nil
}

// defaultString renders a Default as the string a caller would pass.
func defaultString(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case float64, bool:
		return scalarString(v), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, ok := scalarOK(e)
			if !ok {
				return "", fmt.Errorf("must be a string")
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("must be a string")
}

// check validates one value and converts it to its resolved form.
func (p *Parameter) check(name, v string) (any, error) {
	if !isListType(p.Type) {
		if err := p.checkOne(name, v); err != nil {
			return nil, err
		}
		return v, nil
	}
	var items []string
	if v != "" || p.Type == "CommaDelimitedList" {
		items = strings.Split(v, ",")
	} else {
		items = []string{}
	}
	for i := range items {
		items[i] = strings.TrimSpace(items[i])
		if err := p.checkOne(name, items[i]); err != nil {
			return nil, err
		}
	}
	return items, nil
}

func (p *Parameter) fail(name, msg string) error {
	if p.ConstraintDescription != "" {
		return fmt.Errorf("Parameter '%s' failed to satisfy constraint: %s", name, p.ConstraintDescription) //nolint:staticcheck // CloudFormation's wording
	}
	return fmt.Errorf("Parameter '%s' %s", name, msg) //nolint:staticcheck // CloudFormation's wording
}

func (p *Parameter) checkOne(name, v string) error {
	number := p.Type == "Number" || p.Type == "List<Number>"
	var f float64
	if number {
		var err error
		f, err = strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return fmt.Errorf("Parameter '%s' must be a number", name) //nolint:staticcheck // CloudFormation's wording
		}
	}
	if len(p.AllowedValues) > 0 {
		found := false
		for _, a := range p.AllowedValues {
			if s, ok := scalarOK(a); ok && s == v {
				found = true
				break
			}
			if af, ok := a.(float64); ok && number && af == f {
				found = true
				break
			}
		}
		if !found {
			return p.fail(name, "must be one of AllowedValues")
		}
	}
	if p.AllowedPattern != "" {
		ok, err := matchesPattern(p.AllowedPattern, v)
		if err != nil {
			return fmt.Errorf("Template format error: AllowedPattern of parameter %s is not a valid regular expression", name) //nolint:staticcheck // CloudFormation's wording
		}
		if !ok {
			return p.fail(name, "must match pattern "+p.AllowedPattern)
		}
	}
	if p.MinLength != nil && len([]rune(v)) < *p.MinLength {
		return p.fail(name, fmt.Sprintf("must contain at least %d characters", *p.MinLength))
	}
	if p.MaxLength != nil && len([]rune(v)) > *p.MaxLength {
		return p.fail(name, fmt.Sprintf("must contain at most %d characters", *p.MaxLength))
	}
	if number && p.MinValue != nil && f < *p.MinValue {
		return p.fail(name, "must be a number not less than "+scalarString(*p.MinValue))
	}
	if number && p.MaxValue != nil && f > *p.MaxValue {
		return p.fail(name, "must be a number not greater than "+scalarString(*p.MaxValue))
	}
	return nil
}

// patternTimeout bounds one AllowedPattern match: a backtracking engine
// can take exponential time on a hostile pattern, and a template is
// untrusted input.
const patternTimeout = time.Second

// matchesPattern reports whether the whole of v matches an AllowedPattern.
// CloudFormation reads the pattern as a Java regular expression
// (lookahead, lookbehind, possessive and atomic groups), which RE2 cannot
// express; regexp2 has that syntax. Java's String.matches needs the whole
// value, hence \A and \z (a $ would also match before a final newline).
func matchesPattern(pattern, v string) (bool, error) {
	re, err := regexp2.Compile(`\A(?:`+pattern+`)\z`, regexp2.None)
	if err != nil {
		return false, err
	}
	re.MatchTimeout = patternTimeout
	ok, err := re.MatchString(v)
	if err != nil {
		return false, fmt.Errorf("AllowedPattern: %w", err)
	}
	return ok, nil
}
