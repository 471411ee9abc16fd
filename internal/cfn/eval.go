package cfn

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Bounds on one evaluation: nested Fn::Sub variable maps, Fn::Base64 and
// Fn::ToJsonString can each grow their input, so a small template could
// otherwise ask for an exponential amount of memory.
const (
	maxEvalBytes = 4 << 20
	maxEvalDepth = 256
)

// supported lists the functions Eval knows, in CloudFormation's error
// message.
const supported = "[Fn::Base64, Fn::Cidr, Fn::FindInMap, Fn::GetAZs, Fn::GetAtt, Fn::If, Fn::ImportValue, Fn::Join, Fn::Length, Fn::Select, Fn::Split, Fn::Sub, Fn::ToJsonString, Fn::And, Fn::Equals, Fn::Not, Fn::Or, Ref]"

// noValue is what a Ref to AWS::NoValue evaluates to: the map key or list
// item holding it is removed.
type noValue struct{}

var errTooLarge = errors.New("Template error: the evaluated template is too large") //nolint:staticcheck // CloudFormation-style message

type evaluator struct {
	env    *Env
	budget int
	// cond answers a condition by name; EvalConditions sets it to evaluate
	// the Conditions section lazily.
	cond func(name string) (bool, error)
	// inConditions is set while evaluating the Conditions section, where
	// resources cannot be referenced.
	inConditions bool
	// inRules is set while evaluating the Rules section, which has
	// functions of its own.
	inRules bool
}

func newEvaluator(env *Env) *evaluator {
	if env == nil {
		env = &Env{}
	}
	return &evaluator{env: env, budget: maxEvalBytes}
}

func (e *evaluator) spend(n int) error {
	e.budget -= n
	if e.budget < 0 {
		return errTooLarge
	}
	return nil
}

// Eval evaluates every intrinsic function in v: Ref, Fn::GetAtt, Fn::Sub
// (both forms), Fn::Join, Fn::Select, Fn::Split, Fn::If, Fn::Equals,
// Fn::And/Or/Not, Fn::FindInMap, Fn::GetAZs, Fn::Base64, Fn::Cidr,
// Fn::ImportValue, Fn::ToJsonString, Fn::Length and Condition (inside
// Fn::And, Fn::Or and Fn::Not). A Ref to AWS::NoValue removes the
// enclosing key or list item (and makes a whole value nil). v itself is
// not changed. Dynamic references ({{resolve:ssm:...}}) are answered by
// env.Dynamic, and refused without it.
func Eval(v any, env *Env) (any, error) {
	e := newEvaluator(env)
	r, err := e.eval(v, 0)
	if err != nil {
		return nil, err
	}
	if _, ok := r.(noValue); ok {
		return nil, nil
	}
	if env != nil && env.Dynamic != nil {
		n := 0
		return resolveDynamic(r, env.Dynamic, 0, &n)
	}
	if ref := dynamicReference(r, 0); ref != "" {
		return nil, fmt.Errorf("Template error: dynamic reference %s cannot be resolved: Nimbus has no Systems Manager Parameter Store or Secrets Manager; pass the value as a NoEcho parameter instead", ref) //nolint:staticcheck // CloudFormation-style message
	}
	return r, nil
}

// dynamicReference returns the first {{resolve:...}} reference in v.
func dynamicReference(v any, depth int) string {
	if depth > maxEvalDepth {
		return ""
	}
	switch v := v.(type) {
	case string:
		i := strings.Index(v, "{{resolve:")
		if i < 0 {
			return ""
		}
		ref := v[i:]
		if j := strings.Index(ref, "}}"); j >= 0 {
			ref = ref[:j+2]
		}
		if len(ref) > 100 {
			ref = ref[:100] + "..."
		}
		return ref
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if ref := dynamicReference(v[k], depth+1); ref != "" {
				return ref
			}
		}
	case []any:
		for _, x := range v {
			if ref := dynamicReference(x, depth+1); ref != "" {
				return ref
			}
		}
	}
	return ""
}

// isFunction reports whether a one-key map with key k is a function call.
func isFunction(k string) bool {
	return k == "Ref" || strings.HasPrefix(k, "Fn::")
}

func (e *evaluator) eval(v any, depth int) (any, error) {
	if depth > maxEvalDepth {
		return nil, fmt.Errorf("Template error: the value nests more than %d levels deep", maxEvalDepth) //nolint:staticcheck // CloudFormation-style message
	}
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			for k, arg := range v {
				if isFunction(k) {
					return e.call(k, arg, depth)
				}
			}
		}
		out := make(map[string]any, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			r, err := e.eval(v[k], depth+1)
			if err != nil {
				return nil, err
			}
			if _, ok := r.(noValue); ok {
				continue
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(v))
		for _, x := range v {
			r, err := e.eval(x, depth+1)
			if err != nil {
				return nil, err
			}
			if _, ok := r.(noValue); ok {
				continue
			}
			out = append(out, r)
		}
		return out, nil
	case []string:
		return normalize(v), nil
	case string:
		return v, e.spend(len(v))
	}
	return v, nil
}

// normalize turns what a resolver or parameter gives into the JSON data
// model ([]string becomes []any).
func normalize(v any) any {
	if l, ok := v.([]string); ok {
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out
	}
	return v
}

func (e *evaluator) call(fn string, arg any, depth int) (any, error) {
	switch fn {
	case "Ref":
		return e.ref(arg, depth)
	case "Fn::GetAtt":
		return e.getAtt(arg, depth)
	case "Fn::Sub":
		return e.sub(arg, depth)
	case "Fn::Join":
		return e.join(arg, depth)
	case "Fn::Select":
		return e.selectFn(arg, depth)
	case "Fn::Split":
		return e.split(arg, depth)
	case "Fn::If":
		return e.ifFn(arg, depth)
	case "Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not":
		return e.boolFn(fn, arg, depth)
	case "Fn::FindInMap":
		return e.findInMap(arg, depth)
	case "Fn::GetAZs":
		return e.getAZs(arg, depth)
	case "Fn::Base64":
		return e.base64(arg, depth)
	case "Fn::Cidr":
		return e.cidr(arg, depth)
	case "Fn::ImportValue":
		return e.importValue(arg, depth)
	case "Fn::Length":
		return e.length(arg, depth)
	case "Fn::ToJsonString":
		return e.toJSONString(arg, depth)
	case "Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn", "Fn::RefAll", "Fn::ValueOf", "Fn::ValueOfAll":
		if e.inRules {
			return e.ruleFn(fn, arg, depth)
		}
	case "Fn::Transform":
		return nil, errors.New("Template error: Fn::Transform is not supported: Nimbus runs no macros (AWS::Include included)") //nolint:staticcheck // CloudFormation-style message
	}
	return nil, fmt.Errorf("Template format error: Encountered unsupported function: %s Supported functions are: %s", fn, supported) //nolint:staticcheck // CloudFormation's wording
}

// pseudoValue answers a pseudo parameter other than AWS::NoValue.
func pseudoValue(name string, p Pseudo) (any, bool) {
	switch name {
	case "AWS::Region":
		return p.Region, true
	case "AWS::AccountId":
		return p.AccountID, true
	case "AWS::StackName":
		return p.StackName, true
	case "AWS::StackId":
		return p.StackID, true
	case "AWS::Partition":
		return partition(p), true
	case "AWS::URLSuffix":
		return urlSuffix(p), true
	case "AWS::NotificationARNs":
		l := make([]any, len(p.NotificationARNs))
		for i, s := range p.NotificationARNs {
			l[i] = s
		}
		return l, true
	}
	return nil, false
}

func unresolvedError(names ...string) error {
	return fmt.Errorf("Template format error: Unresolved resource dependencies [%s] in the Resources block of the template", strings.Join(names, ", ")) //nolint:staticcheck // CloudFormation's wording
}

// lookup answers a Ref by name: AWS::NoValue, parameters, pseudo
// parameters, then resources.
func (e *evaluator) lookup(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue{}, nil
	}
	if v, ok := e.env.Params[name]; ok {
		return Copy(normalize(v)), nil
	}
	if v, ok := pseudoValue(name, e.env.Pseudo); ok {
		return v, nil
	}
	if e.inConditions {
		return nil, fmt.Errorf("Template format error: Unresolved dependencies [%s]. Cannot reference resources in the Conditions block of the template", name) //nolint:staticcheck // CloudFormation's wording
	}
	if e.env.Resources == nil || strings.HasPrefix(name, "AWS::") {
		return nil, unresolvedError(name)
	}
	v, err := e.env.Resources.Ref(name)
	if err != nil {
		return nil, err
	}
	return normalize(v), nil
}

func (e *evaluator) ref(arg any, depth int) (any, error) {
	name, ok := arg.(string)
	if !ok {
		// AWS::LanguageExtensions lets Ref take a function giving a name.
		if _, isMap := arg.(map[string]any); isMap {
			v, err := e.eval(arg, depth+1)
			if err != nil {
				return nil, err
			}
			name, ok = v.(string)
		}
		if !ok {
			return nil, errors.New("Template format error: Every Ref object must have a single String value.") //nolint:staticcheck // CloudFormation's wording
		}
	}
	return e.lookup(name)
}

func (e *evaluator) getAttr(res, attr string) (any, error) {
	if e.inConditions {
		return nil, fmt.Errorf("Template format error: Unresolved dependencies [%s]. Cannot reference resources in the Conditions block of the template", res) //nolint:staticcheck // CloudFormation's wording
	}
	if e.env.Resources == nil {
		return nil, unresolvedError(res)
	}
	v, err := e.env.Resources.GetAtt(res, attr)
	if err != nil {
		return nil, err
	}
	return normalize(v), nil
}

const getAttError = "Template error: every Fn::GetAtt object requires two non-empty parameters"

func (e *evaluator) getAtt(arg any, depth int) (any, error) {
	var res, attr string
	switch a := arg.(type) {
	case string:
		res, attr, _ = strings.Cut(a, ".")
	case []any:
		if len(a) != 2 {
			return nil, errors.New(getAttError)
		}
		res, _ = a[0].(string)
		at, err := e.eval(a[1], depth+1)
		if err != nil {
			return nil, err
		}
		attr, _ = at.(string)
	}
	if res == "" || attr == "" {
		return nil, errors.New(getAttError)
	}
	return e.getAttr(res, attr)
}

// scalarOK renders a string, number or bool as a string.
func scalarOK(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	case int:
		return strconv.Itoa(v), true
	}
	return "", false
}

func scalarString(v any) string {
	s, _ := scalarOK(v)
	return s
}

// args checks that arg is a list of n (or, with max > n, n to max) items.
func args(arg any, n, maxN int, msg string) ([]any, error) {
	l, ok := arg.([]any)
	if !ok || len(l) < n || len(l) > maxN {
		return nil, errors.New(msg)
	}
	return l, nil
}

// evalString evaluates v and requires a string (numbers and booleans are
// rendered as strings).
func (e *evaluator) evalString(v any, depth int, msg string) (string, error) {
	r, err := e.eval(v, depth+1)
	if err != nil {
		return "", err
	}
	s, ok := scalarOK(r)
	if !ok {
		return "", errors.New(msg)
	}
	return s, nil
}

// evalStrings evaluates each of l with evalString.
func (e *evaluator) evalStrings(l []any, depth int, msg string) ([]string, error) {
	out := make([]string, len(l))
	for i, v := range l {
		s, err := e.evalString(v, depth, msg)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// evalPair checks that arg is a list of two items and evaluates both.
func (e *evaluator) evalPair(arg any, depth int, msg string) (x, y any, err error) {
	a, err := args(arg, 2, 2, msg)
	if err != nil {
		return nil, nil, err
	}
	if x, err = e.eval(a[0], depth+1); err != nil {
		return nil, nil, err
	}
	if y, err = e.eval(a[1], depth+1); err != nil {
		return nil, nil, err
	}
	return x, y, nil
}

// evalList evaluates v and requires a list.
func (e *evaluator) evalList(v any, depth int, msg string) ([]any, error) {
	r, err := e.eval(v, depth+1)
	if err != nil {
		return nil, err
	}
	l, ok := r.([]any)
	if !ok {
		return nil, errors.New(msg)
	}
	return l, nil
}

const joinError = "Template error: every Fn::Join object requires two parameters, (1) a string delimiter and (2) a list of strings to be joined or a function that returns a list of strings (such as Fn::GetAZs) to be joined."

var errJoin = errors.New(joinError) //nolint:staticcheck // CloudFormation's wording

func (e *evaluator) join(arg any, depth int) (any, error) {
	a, err := args(arg, 2, 2, joinError)
	if err != nil {
		return nil, err
	}
	d, err := e.eval(a[0], depth+1)
	if err != nil {
		return nil, err
	}
	delim, ok := d.(string)
	if !ok {
		return nil, errJoin
	}
	l, err := e.evalList(a[1], depth, joinError)
	if err != nil {
		return nil, err
	}
	parts := make([]string, len(l))
	n := len(delim) * len(l)
	for i, x := range l {
		s, ok := scalarOK(x)
		if !ok {
			return nil, errJoin
		}
		parts[i] = s
		n += len(s)
	}
	if err := e.spend(n); err != nil {
		return nil, err
	}
	return strings.Join(parts, delim), nil
}

const selectError = "Template error: Fn::Select requires a list argument with two elements: an integer index and a list"

func (e *evaluator) selectFn(arg any, depth int) (any, error) {
	a, err := args(arg, 2, 2, selectError)
	if err != nil {
		return nil, err
	}
	iv, err := e.eval(a[0], depth+1)
	if err != nil {
		return nil, err
	}
	f, ok := toNumber(iv)
	if !ok || f != float64(int(f)) {
		return nil, errors.New("Template error: Fn::Select requires an integer index") //nolint:staticcheck // CloudFormation-style message
	}
	l, err := e.evalList(a[1], depth, selectError)
	if err != nil {
		return nil, err
	}
	i := int(f)
	if i < 0 || i >= len(l) {
		return nil, fmt.Errorf("Template error: Fn::Select cannot select nonexistent value at index %d", i) //nolint:staticcheck // CloudFormation's wording
	}
	return l[i], nil
}

const splitError = "Template error: every Fn::Split object requires two parameters, (1) a string delimiter and (2) a string to be split or a function that returns a string to be split."

var errSplit = errors.New(splitError) //nolint:staticcheck // CloudFormation's wording

func (e *evaluator) split(arg any, depth int) (any, error) {
	a, err := args(arg, 2, 2, splitError)
	if err != nil {
		return nil, err
	}
	delim, err := e.evalString(a[0], depth, splitError)
	if err != nil {
		return nil, err
	}
	if delim == "" {
		return nil, errSplit
	}
	s, err := e.evalString(a[1], depth, splitError)
	if err != nil {
		return nil, err
	}
	if err := e.spend(16 * (strings.Count(s, delim) + 1)); err != nil {
		return nil, err
	}
	parts := strings.Split(s, delim)
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

// condition answers a condition by name.
func (e *evaluator) condition(name, fn string) (bool, error) {
	if e.cond != nil {
		return e.cond(name)
	}
	b, ok := e.env.Conditions[name]
	if !ok {
		return false, fmt.Errorf("Template error: unresolved condition dependency %s in %s", name, fn) //nolint:staticcheck // CloudFormation's wording
	}
	return b, nil
}

const ifError = "Template error: Fn::If requires a list argument with three elements: a condition name, a value if true and a value if false"

func (e *evaluator) ifFn(arg any, depth int) (any, error) {
	a, err := args(arg, 3, 3, ifError)
	if err != nil {
		return nil, err
	}
	name, ok := a[0].(string)
	if !ok {
		return nil, errors.New(ifError)
	}
	c, err := e.condition(name, "Fn::If")
	if err != nil {
		return nil, err
	}
	if c {
		return e.eval(a[1], depth+1)
	}
	return e.eval(a[2], depth+1)
}

// boolArg evaluates a condition operand: {"Condition": name}, a
// condition function or a boolean.
func (e *evaluator) boolArg(v any, fn string, depth int) (bool, error) {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		if c, ok := m["Condition"]; ok {
			name, ok := c.(string)
			if !ok {
				return false, fmt.Errorf("Template error: Condition in %s must name a condition", fn) //nolint:staticcheck // CloudFormation-style message
			}
			return e.condition(name, fn)
		}
	}
	r, err := e.eval(v, depth+1)
	if err != nil {
		return false, err
	}
	switch r := r.(type) {
	case bool:
		return r, nil
	case string:
		if b, err := strconv.ParseBool(r); err == nil && (r == "true" || r == "false") {
			return b, nil
		}
	}
	return false, fmt.Errorf("Template error: every %s object requires boolean parameters", fn) //nolint:staticcheck // CloudFormation-style message
}

func (e *evaluator) boolFn(fn string, arg any, depth int) (any, error) {
	switch fn {
	case "Fn::Equals":
		x, y, err := e.evalPair(arg, depth, "Template error: every Fn::Equals object requires a list of 2 string parameters.")
		if err != nil {
			return nil, err
		}
		return reflect.DeepEqual(equalForm(x), equalForm(y)), nil
	case "Fn::Not":
		a, err := args(arg, 1, 1, "Template error: every Fn::Not object requires one boolean parameter")
		if err != nil {
			return nil, err
		}
		b, err := e.boolArg(a[0], fn, depth)
		return !b, err
	}
	msg := fmt.Sprintf("Template error: every %s object requires a list of at least 2 and at most 10 boolean parameters.", fn)
	a, err := args(arg, 2, 10, msg)
	if err != nil {
		return nil, err
	}
	and := fn == "Fn::And"
	result := and
	for _, x := range a {
		b, err := e.boolArg(x, fn, depth)
		if err != nil {
			return nil, err
		}
		if and {
			result = result && b
		} else {
			result = result || b
		}
	}
	return result, nil
}

// equalForm renders scalars as strings so that Fn::Equals compares
// "3" and 3 (a parameter and a number in the template) as CloudFormation
// does.
func equalForm(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = equalForm(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = equalForm(x)
		}
		return out
	}
	if s, ok := scalarOK(v); ok {
		return s
	}
	return v
}

const findInMapError = "Template error: every Fn::FindInMap object requires three parameters, the map name, map key and the attribute for return value"

func (e *evaluator) findInMap(arg any, depth int) (any, error) {
	a, err := args(arg, 3, 4, findInMapError)
	if err != nil {
		return nil, err
	}
	keys, err := e.evalStrings(a[:3], depth, findInMapError)
	if err != nil {
		return nil, err
	}
	var v any
	found := false
	if m, ok := e.env.Mappings[keys[0]].(map[string]any); ok {
		if top, ok := m[keys[1]].(map[string]any); ok {
			v, found = top[keys[2]]
		}
	}
	if found {
		return Copy(normalize(v)), nil
	}
	if len(a) == 4 {
		if d, ok := a[3].(map[string]any); ok && len(d) == 1 {
			if dv, ok := d["DefaultValue"]; ok {
				return e.eval(dv, depth+1)
			}
		}
		return nil, errors.New("Template error: the fourth parameter of Fn::FindInMap must be {DefaultValue: value}") //nolint:staticcheck // CloudFormation-style message
	}
	return nil, fmt.Errorf("Template error: Unable to get mapping for %s::%s::%s", keys[0], keys[1], keys[2]) //nolint:staticcheck // CloudFormation's wording
}

func (e *evaluator) getAZs(arg any, depth int) (any, error) {
	region, err := e.evalString(arg, depth, "Template error: Fn::GetAZs requires a region name or an empty string")
	if err != nil {
		return nil, err
	}
	if region == "" {
		r, err := e.lookup("AWS::Region")
		if err != nil {
			return nil, err
		}
		region, _ = r.(string)
	}
	if region == "" {
		return []any{}, nil
	}
	return []any{region + "a", region + "b", region + "c"}, nil
}

func (e *evaluator) base64(arg any, depth int) (any, error) {
	s, err := e.evalString(arg, depth, "Template error: Fn::Base64 requires a string")
	if err != nil {
		return nil, err
	}
	if err := e.spend(base64.StdEncoding.EncodedLen(len(s))); err != nil {
		return nil, err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func (e *evaluator) importValue(arg any, depth int) (any, error) {
	name, err := e.evalString(arg, depth, "Template error: Fn::ImportValue requires a string")
	if err != nil {
		return nil, err
	}
	if e.env.ImportValue == nil {
		return nil, fmt.Errorf("Template error: Fn::ImportValue of %q cannot be resolved here", name) //nolint:staticcheck // CloudFormation-style message
	}
	v, err := e.env.ImportValue(name)
	if err != nil {
		return nil, err
	}
	return v, e.spend(len(v))
}

func (e *evaluator) length(arg any, depth int) (any, error) {
	l, err := e.evalList(arg, depth, "Template error: Fn::Length requires a list or a function that returns a list")
	if err != nil {
		return nil, err
	}
	return float64(len(l)), nil
}

func (e *evaluator) toJSONString(arg any, depth int) (any, error) {
	v, err := e.eval(arg, depth+1)
	if err != nil {
		return nil, err
	}
	switch v.(type) {
	case map[string]any, []any:
	default:
		return nil, errors.New("Template error: Fn::ToJsonString requires an object or a list") //nolint:staticcheck // CloudFormation-style message
	}
	b, err := marshalCompact(v)
	if err != nil {
		return nil, err
	}
	return string(b), e.spend(len(b))
}
