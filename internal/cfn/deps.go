package cfn

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// EvalConditions evaluates the Conditions section (Fn::Equals, Fn::And,
// Fn::Or, Fn::Not and Condition references, over parameters, pseudo
// parameters and mappings) in env. Resources cannot be referenced; a
// condition that refers to itself, directly or not, is an error.
func (t *Template) EvalConditions(env *Env) (map[string]bool, error) {
	e := newEvaluator(env)
	e.inConditions = true
	out := make(map[string]bool, len(t.Conditions))
	visiting := map[string]bool{}
	var path []string
	visit := func(name string) (bool, error) {
		if b, ok := out[name]; ok {
			return b, nil
		}
		def, ok := t.Conditions[name]
		if !ok {
			return false, fmt.Errorf("Template format error: Unresolved condition dependencies [%s] in the Conditions block of the template", name) //nolint:staticcheck // CloudFormation's wording
		}
		if visiting[name] {
			i := slices.Index(path, name)
			cycle := slices.Sorted(slices.Values(path[i:]))
			return false, fmt.Errorf("Template format error: Circular dependency between conditions: [%s]", strings.Join(cycle, ", ")) //nolint:staticcheck // CloudFormation's wording
		}
		m, ok := def.(map[string]any)
		if !ok || len(m) != 1 {
			return false, fmt.Errorf("Template format error: Conditions can only be boolean operations on parameters and other conditions (condition %s)", name) //nolint:staticcheck // CloudFormation's wording
		}
		for k := range m {
			switch k {
			case "Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Condition":
			default:
				return false, fmt.Errorf("Template format error: Conditions can only be boolean operations on parameters and other conditions (condition %s)", name) //nolint:staticcheck // CloudFormation's wording
			}
		}
		if len(path) >= maxEvalDepth {
			return false, fmt.Errorf("Template format error: conditions refer to each other more than %d deep", maxEvalDepth) //nolint:staticcheck // CloudFormation-style message
		}
		visiting[name] = true
		path = append(path, name)
		b, err := e.boolArg(def, "Condition "+name, 0)
		path = path[:len(path)-1]
		delete(visiting, name)
		if err != nil {
			return false, err
		}
		out[name] = b
		return b, nil
	}
	e.cond = visit
	for _, name := range slices.Sorted(maps.Keys(t.Conditions)) {
		if _, err := visit(name); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// References lists, sorted and without repeats, the names v refers to
// with Ref, Fn::GetAtt and Fn::Sub variables (${Name} and ${Res.Attr}),
// in every branch of Fn::If. Pseudo parameters (AWS::...) are left out;
// parameters are not, since v alone cannot tell them from resources.
func References(v any) []string {
	set := map[string]bool{}
	walkReferences(v, func(name string) {
		if !strings.HasPrefix(name, "AWS::") {
			set[name] = true
		}
	}, 0)
	return slices.Sorted(maps.Keys(set))
}

func walkReferences(v any, add func(string), depth int) {
	if depth > maxEvalDepth {
		return
	}
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			if name, ok := v["Ref"].(string); ok {
				add(name)
				return
			}
			if ga, ok := v["Fn::GetAtt"]; ok {
				switch ga := ga.(type) {
				case string:
					res, _, _ := strings.Cut(ga, ".")
					add(res)
					return
				case []any:
					if len(ga) > 0 {
						if res, ok := ga[0].(string); ok {
							add(res)
						}
						walkReferences(ga[1:], add, depth+1)
						return
					}
				}
			}
			if sub, ok := v["Fn::Sub"]; ok {
				switch sub := sub.(type) {
				case string:
					subReferences(sub, nil, add)
					return
				case []any:
					if len(sub) == 2 {
						if tmpl, ok := sub[0].(string); ok {
							vars, _ := sub[1].(map[string]any)
							subReferences(tmpl, vars, add)
							walkReferences(sub[1], add, depth+1)
							return
						}
					}
				}
			}
		}
		for _, x := range v {
			walkReferences(x, add, depth+1)
		}
	case []any:
		for _, x := range v {
			walkReferences(x, add, depth+1)
		}
	}
}

// Dependencies lists, for each resource, the resources it needs: those
// named by Ref, Fn::GetAtt and Fn::Sub variables in its Properties,
// Metadata, CreationPolicy and UpdatePolicy (in both branches of Fn::If),
// and by DependsOn. Parameters and pseudo parameters are not resources.
// It also checks that every Fn::If names a condition of the template.
// Unknown names, in resources or outputs, are an error, as CloudFormation
// reports them ("Unresolved resource dependencies [X] in the Resources
// block of the template").
func (t *Template) Dependencies() (map[string][]string, error) {
	known := func(name string) bool {
		_, isParam := t.Parameters[name]
		return isParam || strings.HasPrefix(name, "AWS::")
	}
	deps := make(map[string][]string, len(t.Resources))
	unresolved := map[string]bool{}
	for name, r := range t.Resources {
		set := map[string]bool{}
		add := func(target string) {
			if _, ok := t.Resources[target]; ok {
				set[target] = true
			} else if !known(target) {
				unresolved[target] = true
			}
		}
		if r != nil {
			for _, v := range []any{r.Properties, r.Metadata, r.CreationPolicy, r.UpdatePolicy} {
				walkReferences(v, add, 0)
			}
			for _, d := range r.DependsOn {
				if _, ok := t.Resources[d]; ok {
					set[d] = true
				} else {
					unresolved[d] = true
				}
			}
		}
		deps[name] = append([]string{}, slices.Sorted(maps.Keys(set))...)
	}
	if len(unresolved) > 0 {
		return nil, unresolvedError(slices.Sorted(maps.Keys(unresolved))...)
	}
	if err := t.checkIfConditions(); err != nil {
		return nil, err
	}
	for _, o := range t.Outputs {
		if o == nil {
			continue
		}
		add := func(target string) {
			if _, ok := t.Resources[target]; !ok && !known(target) {
				unresolved[target] = true
			}
		}
		walkReferences(o.Value, add, 0)
		if o.Export != nil {
			walkReferences(o.Export.Name, add, 0)
		}
	}
	if len(unresolved) > 0 {
		return nil, fmt.Errorf("Template format error: Unresolved resource dependencies [%s] in the Outputs block of the template", strings.Join(slices.Sorted(maps.Keys(unresolved)), ", ")) //nolint:staticcheck // CloudFormation's wording
	}
	return deps, nil
}

// checkIfConditions checks, before anything is made, that every Fn::If
// in resources and outputs names a condition of the template.
func (t *Template) checkIfConditions() error {
	missing := map[string]bool{}
	check := func(v any) {
		walkIfConditions(v, func(name string) {
			if _, ok := t.Conditions[name]; !ok {
				missing[name] = true
			}
		}, 0)
	}
	for _, id := range slices.Sorted(maps.Keys(t.Resources)) {
		if r := t.Resources[id]; r != nil {
			for _, v := range []any{r.Properties, r.Metadata, r.CreationPolicy, r.UpdatePolicy} {
				check(v)
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(t.Outputs)) {
		if o := t.Outputs[id]; o != nil {
			check(o.Value)
			if o.Export != nil {
				check(o.Export.Name)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("Template error: unresolved condition dependency %s in Fn::If", slices.Min(slices.Collect(maps.Keys(missing)))) //nolint:staticcheck // CloudFormation's wording
	}
	return nil
}

func walkIfConditions(v any, add func(string), depth int) {
	if depth > maxEvalDepth {
		return
	}
	switch v := v.(type) {
	case map[string]any:
		if l, ok := v["Fn::If"].([]any); ok && len(v) == 1 && len(l) > 0 {
			if name, ok := l[0].(string); ok {
				add(name)
			}
		}
		for _, x := range v {
			walkIfConditions(x, add, depth+1)
		}
	case []any:
		for _, x := range v {
			walkIfConditions(x, add, depth+1)
		}
	}
}

// Order sorts the resources of deps so that each comes after what it
// needs; ties are broken by name so the order is stable. Names a resource
// needs that are not keys of deps are ignored. A cycle is an error naming
// the resources in it ("Circular dependency between resources: [A, B]").
func Order(deps map[string][]string) ([]string, error) {
	pending := make(map[string]int, len(deps))         // name → needs not yet placed
	dependents := make(map[string][]string, len(deps)) // name → who needs it
	for name, needs := range deps {
		seen := map[string]bool{}
		for _, n := range needs {
			if _, ok := deps[n]; !ok || seen[n] {
				continue
			}
			seen[n] = true
			pending[name]++
			dependents[n] = append(dependents[n], name)
		}
	}
	var ready []string
	for name := range deps {
		if pending[name] == 0 {
			ready = append(ready, name)
		}
	}
	slices.Sort(ready)
	order := make([]string, 0, len(deps))
	for len(ready) > 0 {
		name := ready[0]
		ready = ready[1:]
		order = append(order, name)
		for _, d := range dependents[name] {
			pending[d]--
			if pending[d] == 0 {
				i, _ := slices.BinarySearch(ready, d)
				ready = slices.Insert(ready, i, d)
			}
		}
	}
	if len(order) == len(deps) {
		return order, nil
	}
	// What is left is in a cycle or needs one; drop, repeatedly, what no
	// remaining resource needs, leaving the cycles.
	left := map[string]bool{}
	for name := range deps {
		if pending[name] > 0 {
			left[name] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for name := range left {
			needed := false
			for _, d := range dependents[name] {
				if left[d] {
					needed = true
					break
				}
			}
			if !needed {
				delete(left, name)
				changed = true
			}
		}
	}
	return nil, fmt.Errorf("Circular dependency between resources: [%s]", strings.Join(slices.Sorted(maps.Keys(left)), ", ")) //nolint:staticcheck // CloudFormation's wording
}
