package cfn

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// checkRules evaluates the Rules section over resolved parameter values:
// for each rule whose RuleCondition holds (or that has none), every
// Assertions item's Assert must hold. The rule-specific functions
// Fn::Contains, Fn::EachMemberEquals and Fn::EachMemberIn work beside
// Fn::And/Or/Not/Equals and Ref; Fn::RefAll, Fn::ValueOf and
// Fn::ValueOfAll, which read the account's EC2 resources, are refused.
func (t *Template) checkRules(params map[string]any, pseudo Pseudo) error {
	e := newEvaluator(&Env{Pseudo: pseudo, Params: params, Mappings: t.Mappings})
	e.inConditions = true
	e.inRules = true
	e.cond = func(name string) (bool, error) {
		return false, fmt.Errorf("Template format error: Rules cannot refer to conditions (condition %s)", name) //nolint:staticcheck // CloudFormation-style message
	}
	for _, name := range slices.Sorted(maps.Keys(t.Rules)) {
		rule, ok := t.Rules[name].(map[string]any)
		if !ok {
			return fmt.Errorf("Template format error: Rule %s must be an object", name) //nolint:staticcheck // CloudFormation-style message
		}
		for k := range rule {
			if k != "RuleCondition" && k != "Assertions" {
				return fmt.Errorf("Template format error: Invalid rule property '%s' in rule %s", k, name) //nolint:staticcheck // CloudFormation-style message
			}
		}
		if c, ok := rule["RuleCondition"]; ok {
			b, err := e.boolArg(c, "RuleCondition of rule "+name, 0)
			if err != nil {
				return err
			}
			if !b {
				continue
			}
		}
		assertions, ok := rule["Assertions"].([]any)
		if !ok {
			return fmt.Errorf("Template format error: Every Rules member must contain an Assertions list (rule %s)", name) //nolint:staticcheck // CloudFormation-style message
		}
		for _, a := range assertions {
			am, ok := a.(map[string]any)
			if !ok || am["Assert"] == nil {
				return fmt.Errorf("Template format error: Every Assertions member must contain an Assert (rule %s)", name) //nolint:staticcheck // CloudFormation-style message
			}
			b, err := e.boolArg(am["Assert"], "Assert of rule "+name, 0)
			if err != nil {
				return err
			}
			if !b {
				desc, _ := am["AssertDescription"].(string)
				if desc == "" {
					desc = "Assertion failed"
				}
				return fmt.Errorf("Template error: Rule %s failed: %s", name, desc) //nolint:staticcheck // CloudFormation-style message
			}
		}
	}
	return nil
}

// ruleFn evaluates the functions only Rules may use.
func (e *evaluator) ruleFn(fn string, arg any, depth int) (any, error) {
	switch fn {
	case "Fn::RefAll", "Fn::ValueOf", "Fn::ValueOfAll":
		return nil, fmt.Errorf("Template error: %s is not supported: Nimbus has no EC2 resources to read", fn) //nolint:staticcheck // CloudFormation-style message
	}
	msg := fmt.Sprintf("Template error: every %s object requires two parameters", fn)
	first, second, err := e.evalPair(arg, depth, msg)
	if err != nil {
		return nil, err
	}
	list, err := stringList(first, msg)
	if err != nil {
		return nil, err
	}
	switch fn {
	case "Fn::Contains", "Fn::EachMemberEquals":
		s, ok := scalarOK(second)
		if !ok {
			return nil, errors.New(msg)
		}
		if fn == "Fn::Contains" {
			return slices.Contains(list, s), nil
		}
		for _, x := range list {
			if x != s {
				return false, nil
			}
		}
		return true, nil
	default: // Fn::EachMemberIn
		allowed, err := stringList(second, msg)
		if err != nil {
			return nil, err
		}
		for _, x := range list {
			if !slices.Contains(allowed, x) {
				return false, nil
			}
		}
		return true, nil
	}
}

func stringList(v any, msg string) ([]string, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, errors.New(msg)
	}
	out := make([]string, len(l))
	for i, x := range l {
		s, ok := scalarOK(x)
		if !ok {
			return nil, errors.New(msg)
		}
		out[i] = s
	}
	return out, nil
}
