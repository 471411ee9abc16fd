package sam

import (
	"fmt"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

// apiKind describes the implicit REST API or HTTP API plugin.
type apiKind struct {
	eventType   string // Api or HttpApi
	idProp      string // RestApiId or ApiId
	implicitID  string // ServerlessRestApi or ServerlessHttpApi
	condition   string // name of the combined condition
	samType     string
	http        bool
	skeleton    func() map[string]any
	implicitAPI func() map[string]any
}

var restKind = apiKind{
	eventType: "Api", idProp: "RestApiId", implicitID: "ServerlessRestApi",
	condition: "ServerlessRestApiCondition", samType: typeAPI, skeleton: swaggerSkeleton,
	implicitAPI: func() map[string]any {
		return map[string]any{"StageName": "Prod", "DefinitionBody": swaggerSkeleton()}
	},
}

var httpKind = apiKind{
	eventType: "HttpApi", idProp: "ApiId", implicitID: "ServerlessHttpApi",
	condition: "ServerlessHttpApiCondition", samType: typeHTTPAPI, http: true, skeleton: openAPISkeleton,
	implicitAPI: func() map[string]any {
		return map[string]any{"DefinitionBody": openAPISkeleton()}
	},
}

// defaultDefinitionBodies gives every API without a definition SAM's
// skeleton, which SAM then manages (DefaultDefinitionBodyPlugin).
func (tr *translator) defaultDefinitionBodies() {
	for _, id := range sortedKeys(tr.sam) {
		r := tr.sam[id]
		if r.Type != typeAPI && r.Type != typeHTTPAPI {
			continue
		}
		if truthy(r.Properties["DefinitionBody"]) || truthy(r.Properties["DefinitionUri"]) {
			continue
		}
		if r.Type == typeHTTPAPI {
			r.Properties["DefinitionBody"] = openAPISkeleton()
		} else {
			r.Properties["DefinitionBody"] = swaggerSkeleton()
		}
		tr.managed[id] = true
	}
}

// apiID is Api.get_rest_api_id_string: the Ref'd name or the value.
func apiID(v any) any {
	if m, ok := v.(map[string]any); ok {
		if r, ok := m["Ref"]; ok {
			return r
		}
	}
	return v
}

type methodCond struct {
	path, method, cond string
}

// implicitAPIs is ImplicitRestApiPlugin / ImplicitHttpApiPlugin: it adds
// the implicit API, puts every API event's path and method in the
// definition of the API it names, and removes the implicit API again if
// no event uses it.
func (tr *translator) implicitAPIs(k apiKind) {
	existing := tr.sam[k.implicitID]
	tr.sam[k.implicitID] = &cfn.Resource{Type: k.samType, Properties: k.implicitAPI()}
	tr.managed[k.implicitID] = true
	conds := map[string][]methodCond{}
	var deletion, replace []string

	for _, fnID := range sortedKeys(tr.sam) {
		fn := tr.sam[fnID]
		if fn.Type != typeFunction {
			continue
		}
		events, ok := fn.Properties["Events"].(map[string]any)
		if !ok {
			continue
		}
		for _, evID := range sortedKeys(events) {
			ev, ok := events[evID].(map[string]any)
			if !ok || ev["Type"] != k.eventType {
				continue
			}
			if err := tr.implicitEvent(k, fn, evID, ev, conds, &deletion, &replace); err != nil {
				tr.errorf(fnID, "%s", err.Error())
			}
		}
	}

	if mcs := conds[k.implicitID]; len(mcs) > 0 {
		if c, ok := tr.combinedCondition(mcs, k.condition); ok {
			tr.sam[k.implicitID].Condition = c
		}
	}
	if p := strongestPolicy(deletion, []string{"Retain", "Delete"}); p != "" {
		tr.sam[k.implicitID].DeletionPolicy = p
	}
	if p := strongestPolicy(replace, []string{"Retain", "Snapshot", "Delete"}); p != "" {
		tr.sam[k.implicitID].UpdateReplacePolicy = p
	}
	tr.pathConditions(k, conds)

	body, _ := tr.sam[k.implicitID].Properties["DefinitionBody"].(map[string]any)
	if paths, _ := body["paths"].(map[string]any); len(paths) == 0 {
		if existing != nil {
			tr.sam[k.implicitID] = existing
		} else {
			delete(tr.sam, k.implicitID)
		}
		delete(tr.managed, k.implicitID)
	}
}

func (tr *translator) implicitEvent(k apiKind, fn *cfn.Resource, evID string, ev map[string]any,
	conds map[string][]methodCond, deletion, replace *[]string) error {
	props, isMap := ev["Properties"].(map[string]any)
	if ev["Properties"] != nil && !isMap {
		return eventErr(evID, "Properties should be a map.")
	}
	if len(props) == 0 {
		if !k.http {
			return nil
		}
		props = map[string]any{}
		ev["Properties"] = props
	}
	if _, ok := props[k.idProp]; !ok {
		tr.propagateTagsToImplicitAPI(k, fn)
		props[k.idProp] = ref(k.implicitID)
	}
	if k.http {
		p, _ := props["Path"].(string)
		m, _ := props["Method"].(string)
		if p == "" && m == "" && !truthy(props["Path"]) && !truthy(props["Method"]) {
			props["Path"] = defaultPath
			props["Method"] = xAnyMethod
		}
	}
	api := apiID(props[k.idProp])
	if props["Path"] == nil {
		return eventErr(evID, "Property 'Path' is required.")
	}
	if props["Method"] == nil {
		return eventErr(evID, "Property 'Method' is required.")
	}
	apiStr, ok := api.(string)
	if !ok {
		return eventErr(evID, "Property '%s' should be a string.", k.idProp)
	}
	path, ok := props["Path"].(string)
	if !ok {
		return eventErr(evID, "Property 'Path' should be a string.")
	}
	method, ok := props["Method"].(string)
	if !ok {
		return eventErr(evID, "Property 'Method' should be a string.")
	}
	conds[apiStr] = append(conds[apiStr], methodCond{path: path, method: method, cond: fn.Condition})
	*deletion = append(*deletion, fn.DeletionPolicy)
	*replace = append(*replace, fn.UpdateReplacePolicy)

	target, exists := tr.sam[apiStr]
	if !exists || (!k.http && target.Type == typeHTTPAPI) {
		return eventErr(evID, "%s must be a valid reference to an '%s' resource in same template.", k.idProp, k.samType)
	}
	body := target.Properties["DefinitionBody"]
	valid := swaggerValid(body)
	if k.http {
		valid = openAPIValid(body)
	}
	if !valid || !tr.managed[apiStr] {
		return nil
	}
	e, err := newEditor(body, k.http)
	if err != nil {
		return err
	}
	if err := e.addPath(path, method); err != nil {
		return err
	}
	target.Properties["DefinitionBody"] = e.document()
	if k.http {
		if rs, ok := props["RouteSettings"]; ok {
			if err := addRouteSettings(target, path, method, rs, fn.Condition); err != nil {
				return err
			}
		}
	}
	return nil
}

// propagateTagsToImplicitAPI gives the implicit API the tags of a function
// with PropagateTags that uses it (_add_tags_to_implicit_api_if_necessary).
func (tr *translator) propagateTagsToImplicitAPI(k apiKind, fn *cfn.Resource) {
	api := tr.sam[k.implicitID]
	globals, _ := tr.src.Globals["Function"].(map[string]any)
	propagate := fn.Properties["PropagateTags"]
	if !truthy(propagate) {
		propagate = globals["PropagateTags"]
	}
	tags := fn.Properties["Tags"]
	if !truthy(tags) {
		tags = globals["Tags"]
	}
	tm, ok := tags.(map[string]any)
	if api == nil || !ok || len(tm) == 0 || !truthy(propagate) {
		return
	}
	cur, _ := api.Properties["Tags"].(map[string]any)
	if cur == nil {
		cur = map[string]any{}
	}
	for key, v := range tm {
		cur[key] = deepCopy(v)
	}
	api.Properties["Tags"] = cur
	api.Properties["PropagateTags"] = true
}

func addRouteSettings(api *cfn.Resource, path, method string, rs any, condition string) error {
	route := strings.ToUpper(method) + " " + path
	if method == xAnyMethod {
		route = path
	}
	all, ok := api.Properties["RouteSettings"].(map[string]any)
	if api.Properties["RouteSettings"] != nil && !ok {
		return invalidf("Property 'RouteSettings' should be a map.")
	}
	if all == nil {
		all = map[string]any{}
	}
	ev := rs
	if condition != "" {
		ev = makeConditional(condition, rs)
	}
	evm, ok := ev.(map[string]any)
	if !ok {
		return invalidf("Property 'RouteSettings' should be a map.")
	}
	cur, _ := all[route].(map[string]any)
	if cur == nil {
		cur = map[string]any{}
	}
	for k, v := range evm {
		cur[k] = deepCopy(v)
	}
	all[route] = cur
	api.Properties["RouteSettings"] = all
	return nil
}

// strongestPolicy is the first of order that any function has.
func strongestPolicy(have []string, order []string) string {
	for _, p := range order {
		for _, h := range have {
			if h == p {
				return p
			}
		}
	}
	return ""
}

// combinedCondition returns the condition for something used only by
// conditional functions: the one condition, or a new Fn::Or of them all.
// It reports false if some use is unconditional.
func (tr *translator) combinedCondition(mcs []methodCond, name string) (string, bool) {
	set := map[string]bool{}
	for _, mc := range mcs {
		if mc.cond == "" {
			return "", false
		}
		set[mc.cond] = true
	}
	if len(set) == 1 {
		for c := range set {
			return c, true
		}
	}
	list := sortedKeys(set)
	tr.addCombinedCondition(name, list)
	return name, true
}

// addCombinedCondition is make_combined_condition: Fn::Or takes at most 10
// conditions, so longer lists are chained through numbered conditions.
func (tr *translator) addCombinedCondition(name string, list []string) {
	if tr.conditions == nil {
		tr.conditions = map[string]any{}
	}
	const maxConds = 10
	n := (len(list)-1+maxConds-2)/(maxConds-1) - 1
	for len(list) > 1 {
		cname := name
		if n > 0 {
			cname = fmt.Sprintf("%s%d", name, n)
			n--
		}
		end := min(maxConds, len(list))
		or := make([]any, 0, end)
		for _, c := range list[:end] {
			or = append(or, map[string]any{"Condition": c})
		}
		list = append(append([]string(nil), list[end:]...), cname)
		tr.conditions[cname] = map[string]any{"Fn::Or": or}
	}
}

// pathConditions makes a managed API's path conditional when every method
// on it comes from a conditional function.
func (tr *translator) pathConditions(k apiKind, conds map[string][]methodCond) {
	for _, id := range sortedKeys(tr.sam) {
		api := tr.sam[id]
		if api.Type != k.samType || !tr.managed[id] {
			continue
		}
		body := api.Properties["DefinitionBody"]
		e, err := newEditor(body, k.http)
		if err != nil {
			continue
		}
		byPath := map[string]map[string]string{}
		for _, mc := range conds[id] {
			if byPath[mc.path] == nil {
				byPath[mc.path] = map[string]string{}
			}
			byPath[mc.path][mc.method] = mc.cond
		}
		for _, path := range sortedKeys(e.paths) {
			set := map[string]bool{}
			for _, c := range byPath[path] {
				set[c] = true
			}
			if len(set) == 0 || set[""] {
				continue
			}
			if len(set) == 1 {
				for c := range set {
					e.makePathConditional(path, c)
				}
				continue
			}
			name := pathConditionName(id, path)
			tr.addCombinedCondition(name, sortedKeys(set))
			e.makePathConditional(path, name)
		}
		api.Properties["DefinitionBody"] = e.document()
	}
}

func pathConditionName(api, path string) string {
	p := strings.NewReplacer("/", "SLASH", "{", "OB", "}", "CB").Replace(path)
	return api + p + "PathCondition"
}

// Globals.

var globalProperties = map[string][]string{
	"Function": {"Handler", "Runtime", "CodeUri", "DeadLetterQueue", "Description", "MemorySize", "Timeout",
		"VpcConfig", "Environment", "Tags", "PropagateTags", "Tracing", "KmsKeyArn", "AutoPublishAlias",
		"AutoPublishAliasAllProperties", "Layers", "DeploymentPreference", "RolePath", "PermissionsBoundary",
		"ReservedConcurrentExecutions", "ProvisionedConcurrencyConfig", "AssumeRolePolicyDocument",
		"EventInvokeConfig", "FileSystemConfigs", "CodeSigningConfigArn", "Architectures", "SnapStart",
		"EphemeralStorage", "FunctionUrlConfig", "RuntimeManagementConfig", "LoggingConfig", "RecursiveLoop",
		"SourceKMSKeyArn", "TenancyConfig", "DurableConfig", "CapacityProviderConfig", "FunctionScalingConfig",
		"PublishToLatestPublished", "VersionDeletionPolicy"},
	"Api": {"Auth", "Name", "DefinitionUri", "CacheClusterEnabled", "CacheClusterSize", "MergeDefinitions",
		"Variables", "EndpointConfiguration", "MethodSettings", "BinaryMediaTypes", "MinimumCompressionSize",
		"Cors", "GatewayResponses", "AccessLogSetting", "CanarySetting", "TracingEnabled", "OpenApiVersion",
		"Domain", "AlwaysDeploy", "PropagateTags", "SecurityPolicy", "EndpointAccessMode"},
	"HttpApi": {"Auth", "AccessLogSettings", "StageVariables", "Tags", "CorsConfiguration",
		"DefaultRouteSettings", "Domain", "RouteSettings", "FailOnWarnings", "PropagateTags"},
	"SimpleTable":      {"SSESpecification"},
	"StateMachine":     {"PropagateTags"},
	"LayerVersion":     {"PublishLambdaVersion"},
	"CapacityProvider": {"VpcConfig", "OperatorRole", "Tags", "InstanceRequirements", "ScalingConfig", "KmsKeyArn", "PropagateTags"},
	"WebSocketApi": {"AccessLogSettings", "ApiKeySelectionExpression", "DefaultRouteSettings",
		"DisableExecuteApiEndpoint", "DisableSchemaValidation", "Domain", "FailOnWarnings", "IpAddressType",
		"PropagateTags", "RouteSelectionExpression", "RouteSettings", "StageVariables", "Tags"},
}

// applyGlobals merges the Globals section into every SAM resource of each
// section's type: local scalars win, maps merge recursively, lists are
// concatenated (globals first), and an intrinsic counts as a scalar.
func (tr *translator) applyGlobals(globals map[string]any) error {
	if globals == nil {
		return nil
	}
	sections := sortedKeys(globalProperties)
	for _, name := range sortedKeys(globals) {
		allowed, ok := globalProperties[name]
		if !ok {
			return &Error{Causes: []string{fmt.Sprintf("'Globals' section is invalid. '%s' is not supported. Must be one of the following values - %s", name, pyList(sections))}}
		}
		props, ok := globals[name].(map[string]any)
		if !ok {
			return &Error{Causes: []string{"'Globals' section is invalid. Value of ${section} must be a dictionary"}}
		}
		for _, key := range sortedKeys(props) {
			if !contains(allowed, key) {
				return &Error{Causes: []string{fmt.Sprintf("'Globals' section is invalid. '%s' is not a supported property of '%s'. Must be one of the following values - %s", key, name, pyList(allowed))}}
			}
		}
	}
	for _, id := range sortedKeys(tr.sam) {
		r := tr.sam[id]
		name, ok := strings.CutPrefix(r.Type, "AWS::Serverless::")
		if !ok {
			continue
		}
		g, ok := globals[name].(map[string]any)
		if !ok {
			continue
		}
		g, _ = deepCopy(g).(map[string]any)
		switch ig := r.IgnoreGlobals.(type) {
		case nil:
		case string:
			if ig != "*" {
				return &Error{Causes: []string{fmt.Sprintf("Resource with id [%s] has invalid resource attribute 'IgnoreGlobals'.", id)}}
			}
			g = map[string]any{}
		case []any:
			for _, k := range ig {
				ks, _ := k.(string)
				if _, ok := g[ks]; !ok {
					return &Error{Causes: []string{fmt.Sprintf("Resource with id [%s] has invalid resource attribute 'IgnoreGlobals' on item '%s'.", id, pyStr(k))}}
				}
				delete(g, ks)
			}
		default:
			return &Error{Causes: []string{fmt.Sprintf("Resource with id [%s] has invalid resource attribute 'IgnoreGlobals'.", id)}}
		}
		merged, _ := mergeGlobal(g, r.Properties).(map[string]any)
		r.Properties = merged
	}
	return nil
}

func globalToken(v any) string {
	switch v.(type) {
	case map[string]any:
		if isIntrinsic(v) {
			return "primitive"
		}
		return "dict"
	case []any:
		return "list"
	}
	return "primitive"
}

func mergeGlobal(global, local any) any {
	tg, tl := globalToken(global), globalToken(local)
	if tg != tl || tg == "primitive" {
		return local
	}
	if tg == "list" {
		return append(append([]any(nil), global.([]any)...), local.([]any)...)
	}
	g, l := global.(map[string]any), local.(map[string]any)
	out := make(map[string]any, len(g)+len(l))
	for k, v := range g {
		out[k] = v
	}
	for k, v := range l {
		if gv, ok := out[k]; ok {
			out[k] = mergeGlobal(gv, v)
		} else {
			out[k] = v
		}
	}
	return out
}

// fixOpenAPIVersions sets a managed REST API's definition to OpenApiVersion
// when that is 3.x (Globals.fix_openapi_definitions).
func (tr *translator) fixOpenAPIVersions() {
	for _, id := range sortedKeys(tr.sam) {
		r := tr.sam[id]
		if r.Type != typeAPI || !tr.managed[id] {
			continue
		}
		v, ok := r.Properties["OpenApiVersion"]
		if !ok || !openAPI3().MatchString(pyStr(v)) {
			continue
		}
		if _, isStr := v.(string); !isStr {
			v = pyStr(v)
			r.Properties["OpenApiVersion"] = v
		}
		if body, ok := r.Properties["DefinitionBody"].(map[string]any); ok {
			body["openapi"] = v
			if truthy(body["swagger"]) {
				delete(body, "swagger")
			}
		}
	}
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

// pyList formats a list of strings as Python prints it.
func pyList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = "'" + s + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}
