package sam

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

// functionEvents translates a function's events (samtranslator's
// _generate_event_resources). Only Api and HttpApi remain: Transform has
// already refused the event types Nimbus has no service for.
func (tr *translator) functionEvents(s *fnState) error {
	events, _ := optMap(s.p, "Events")
	for _, evID := range sortedEvents(events) {
		ev, ok := events[evID].(map[string]any)
		if !ok {
			return eventErr(evID, "Event should be a map.")
		}
		props := map[string]any{}
		if pv, ok := ev["Properties"]; ok && pv != nil {
			if props, ok = pv.(map[string]any); !ok {
				return eventErr(evID, "Properties should be a map.")
			}
		}
		var err error
		switch typ, _ := ev["Type"].(string); typ {
		case "Api":
			err = tr.apiEvent(s, evID, props)
		case "HttpApi":
			err = tr.httpAPIEvent(s, evID, props)
		default:
			if svc, ok := UnsupportedEvents[typ]; ok {
				return eventErr(evID, "Events of type %s need %s, which Nimbus does not have yet", typ, svc)
			}
			switch typ {
			case "SQS", "Kinesis", "DynamoDB":
				err = tr.pullEvent(s, evID, typ, props)
			case "Schedule", "CloudWatchEvent", "EventBridgeRule":
				err = tr.ruleEvent(s, evID, typ, props)
			case "SNS":
				err = tr.snsEvent(s, evID, props)
			case "ScheduleV2":
				err = tr.scheduleV2Event(s, evID, props)
			case "CloudWatchLogs":
				err = tr.logsEvent(s, evID, props)
			case "S3":
				err = tr.s3Event(s, evID, props)
			case "MSK", "MQ", "DocumentDB", "SelfManagedKafka", "IoTRule", "AlexaSkill", "Cognito":
				return eventErr(evID, "Events of type %s are not translated by Nimbus yet", typ)
			default:
				return eventErr(evID, "Type '%s' is not a supported event type.", pyStr(ev["Type"]))
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (tr *translator) permission(s *fnState, prefix, suffix string, sourceArn any) generated {
	var id string
	if isAlnum(suffix) {
		id = prefix + "Permission" + suffix
	} else {
		id = logicalID(prefix+"Permission", suffix)
	}
	perm := &cfn.Resource{Type: "AWS::Lambda::Permission", Properties: map[string]any{}}
	src := s.fn
	if s.alias != nil {
		src = s.alias
	}
	perm.Condition, perm.DeletionPolicy, perm.UpdateReplacePolicy = src.Condition, src.DeletionPolicy, src.UpdateReplacePolicy
	_, _, name := s.target()
	perm.Properties["Action"] = "lambda:InvokeFunction"
	perm.Properties["FunctionName"] = name
	perm.Properties["Principal"] = "apigateway.amazonaws.com"
	perm.Properties["SourceArn"] = sourceArn
	return generated{id, perm}
}

func requiredString(props map[string]any, evID, name string) (string, error) {
	v, ok := props[name]
	if !ok || v == nil {
		return "", eventErr(evID, "Missing required property '%s'.", name)
	}
	str, ok := v.(string)
	if !ok {
		return "", eventErr(evID, "Type of property '%s' is invalid.", name)
	}
	return str, nil
}

// apiEvent is the Api event source: the permission for API Gateway and,
// for an API whose definition SAM manages, the aws_proxy integration.
var (
	apiEventProperties     = []string{"Path", "Method", "RestApiId", "Stage", "Auth", "RequestModel", "RequestParameters", "TimeoutInMillis", "ResponseTransferMode"}
	httpAPIEventProperties = []string{"Path", "Method", "ApiId", "Stage", "Auth", "TimeoutInMillis", "RouteSettings", "PayloadFormatVersion"}
)

func (tr *translator) apiEvent(s *fnState, evID string, props map[string]any) error {
	for _, k := range sortedKeys(props) {
		if !contains(apiEventProperties, k) {
			return eventErr(evID, "property %s not defined for resource of type Api", k)
		}
	}
	path, err := requiredString(props, evID, "Path")
	if err != nil {
		return err
	}
	method, err := requiredString(props, evID, "Method")
	if err != nil {
		return err
	}
	method = strings.ToLower(method)
	restID, ok := props["RestApiId"]
	if !ok || restID == nil {
		return eventErr(evID, "Missing required property 'RestApiId'.")
	}
	for _, k := range []string{"Auth", "RequestModel"} {
		if _, err := optMap(props, k); err != nil {
			return eventErr(evID, "%s", err.Error())
		}
	}

	// resources_to_link: the explicit API's properties and stage.
	suffix := "AllStages"
	var api *cfn.Resource
	apiName, isStr := apiID(restID).(string)
	if isStr {
		api = tr.sam[apiName]
		if api == nil {
			return eventErr(evID, "RestApiId property of Api event must reference a valid resource in the same template.")
		}
		switch st := api.Properties["StageName"].(type) {
		case string:
			if st == "" {
				return invalidf("Resource with id [%s] is invalid. StageName cannot be empty.", apiName)
			}
			suffix = st
		default:
			suffix = "Stage"
		}
	}

	permPath := permissionPath(path, false)
	m := strings.ToUpper(method)
	if method == "any" {
		m = "*"
	}
	srcArn := fnSub("arn:"+tr.partition+":execute-api:${AWS::Region}:${AWS::AccountId}:${__ApiId__}/${__Stage__}/"+m+permPath,
		map[string]any{"__ApiId__": restID, "__Stage__": "*"})
	s.out = append(s.out, tr.permission(s, s.id+evID, suffix, srcArn))

	if api == nil {
		return nil
	}
	merge, _ := api.Properties["MergeDefinitions"].(bool)
	if tr.managed[apiName] || merge {
		if err := tr.addSwaggerIntegration(s, evID, apiName, api, path, method, props, suffix); err != nil {
			return err
		}
	}
	auth, _ := props["Auth"].(map[string]any)
	if body := api.Properties["DefinitionBody"]; truthy(body) && truthy(auth["OverrideApiAuth"]) {
		// The event's Auth applies to a definition the template wrote.
		if !truthy(auth["Authorizer"]) && !truthy(auth["ApiKeyRequired"]) && !truthy(auth["ResourcePolicy"]) {
			return eventErr(evID, "Must define one of: Authorizer, ApiKeyRequired or ResourcePolicy when using the OverrideApiAuth property.")
		}
		e, err := newEditor(body, false)
		if err != nil {
			return err
		}
		if err := tr.addMethodAuth(e, evID, api, path, method, auth); err != nil {
			return err
		}
		api.Properties["DefinitionBody"] = e.document()
	}
	return nil
}

func (tr *translator) addSwaggerIntegration(s *fnState, evID, apiName string, api *cfn.Resource, path, method string, props map[string]any, stage string) error {
	body := api.Properties["DefinitionBody"]
	if body == nil {
		return nil
	}
	merge, _ := api.Properties["MergeDefinitions"].(bool)
	if merge {
		body = swaggerSkeleton()
	}
	_, arn, _ := s.target()
	uri := fnSub("arn:"+tr.partition+":apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"+shorthand(arn)+"/invocations", nil)
	extra := map[string]any{}
	if props["ResponseTransferMode"] == "RESPONSE_STREAM" {
		uri = fnSub("arn:"+tr.partition+":apigateway:${AWS::Region}:lambda:path/2021-11-15/functions/"+shorthand(arn)+"/response-streaming-invocations", nil)
		extra["responseTransferMode"] = "STREAM"
	}
	e, err := newEditor(body, false)
	if err != nil {
		return err
	}
	if ok, err := e.hasIntegration(path, method); err != nil {
		return err
	} else if ok {
		return eventErr(evID, "API method \"%s\" defined multiple times for path \"%s\".", method, path)
	}
	methodAuth, _ := props["Auth"].(map[string]any)
	apiAuth, err := optMap(api.Properties, "Auth")
	if err != nil {
		return err
	}
	if methodAuth["Authorizer"] == "AWS_IAM" || (apiAuth["DefaultAuthorizer"] == "AWS_IAM" && len(methodAuth) == 0) {
		role := methodAuth["InvokeRole"]
		if !truthy(role) {
			if _, ok := methodAuth["InvokeRole"]; ok {
				role = "NONE"
			}
		}
		apiRole := apiAuth["InvokeRole"]
		if !truthy(apiRole) {
			if _, ok := apiAuth["InvokeRole"]; ok {
				apiRole = "NONE"
			}
		}
		cred := role
		if !truthy(cred) {
			cred = apiRole
		}
		if !truthy(cred) || cred == "CALLER_CREDENTIALS" { //nolint:gosec // a marker value, not a credential
			cred = "arn:" + tr.partition + ":iam::*:user/*"
		}
		if cred != "NONE" {
			extra["credentials"] = cred
		}
	}
	if err := e.addLambdaIntegration(path, method, uri, s.fn.Condition, extra); err != nil {
		return err
	}
	if len(methodAuth) > 0 {
		if err := tr.addMethodAuth(e, evID, api, path, method, methodAuth); err != nil {
			return err
		}
	}
	if t := props["TimeoutInMillis"]; truthy(t) {
		if err := e.addTimeout(path, method, t); err != nil {
			return err
		}
	}
	if rm, _ := props["RequestModel"].(map[string]any); len(rm) > 0 {
		if err := requestModel(e, evID, api, path, method, rm); err != nil {
			return err
		}
	}
	if err := tr.requestParameters(e, evID, path, method, props["RequestParameters"]); err != nil {
		return err
	}
	doc := e.document()
	if merge {
		doc, err = mergeDefinitions(api.Properties["DefinitionBody"], doc, path, method)
		if err != nil {
			return err
		}
	}
	api.Properties["DefinitionBody"] = doc
	_ = stage
	return nil
}

// mergeDefinitions puts SAM's generated method into the template's own
// definition (MergeDefinitions: true).
func mergeDefinitions(src any, generatedDoc map[string]any, path, method string) (map[string]any, error) {
	merged, _ := deepCopy(src).(map[string]any)
	if merged == nil {
		merged = map[string]any{}
	}
	paths, _ := merged["paths"].(map[string]any)
	if paths == nil {
		paths = map[string]any{}
	}
	pathItem, _ := paths[path].(map[string]any)
	existing, _ := pathItem[method].(map[string]any)
	genPaths, _ := generatedDoc["paths"].(map[string]any)
	genItem, _ := genPaths[path].(map[string]any)
	gen, _ := genItem[normalizeMethod(method)].(map[string]any)
	out := map[string]any{}
	for k, v := range existing {
		out[k] = v
	}
	for k, v := range gen {
		out[k] = v
	}
	if pathItem == nil {
		pathItem = map[string]any{}
		paths[path] = pathItem
	}
	pathItem[method] = out
	merged["paths"] = paths
	return merged, nil
}

// requestModel is the Api event's RequestModel: the body parameter (or
// OpenAPI 3 requestBody) naming one of the API's Models, and a request
// validator when ValidateBody or ValidateParameters is set.
func requestModel(e *editor, evID string, api *cfn.Resource, path, method string, rm map[string]any) error {
	model := rm["Model"]
	if !truthy(model) {
		return nil
	}
	where := fmt.Sprintf("Unable to set RequestModel [%s] on API method [%s] for path [%s] because", pyStr(model), method, path)
	models := api.Properties["Models"]
	if !truthy(models) {
		return eventErr(evID, "%s the related API does not define any Models.", where)
	}
	mm, isMap := models.(map[string]any)
	if !isIntrinsic(models) && !isMap {
		return eventErr(evID, "%s the related API Models defined is of invalid type.", where)
	}
	name, ok := model.(string)
	if !ok {
		return eventErr(evID, "%s the related API does not contain valid Models.", where)
	}
	if !truthy(mm[name]) {
		return eventErr(evID, "%s it wasn't defined in the API's Models.", where)
	}
	lower := strings.ToLower(name)
	required, hasRequired := rm["Required"]
	defs, err := e.methodDefs(path, method, false)
	if err != nil {
		return err
	}
	for _, d := range defs {
		if e.doc["swagger"] != nil {
			params, _ := d["parameters"].([]any)
			p := map[string]any{"in": "body", "name": lower, "schema": map[string]any{"$ref": "#/definitions/" + lower}}
			if hasRequired && required != nil {
				p["required"] = required
			}
			d["parameters"] = append(params, p)
		} else if v, ok := e.doc["openapi"]; ok && openAPI3().MatchString(pyStr(v)) {
			body := map[string]any{"content": map[string]any{"application/json": map[string]any{
				"schema": map[string]any{"$ref": "#/components/schemas/" + lower}}}}
			if hasRequired && required != nil {
				body["required"] = required
			}
			d["requestBody"] = body
		}
	}
	vb, hasVB := rm["ValidateBody"]
	vp, hasVP := rm["ValidateParameters"]
	if (!hasVB || vb == nil) && (!hasVP || vp == nil) {
		return nil
	}
	if vb == nil {
		vb = false
	}
	if vp == nil {
		vp = false
	}
	b, ok1 := vb.(bool)
	p, ok2 := vp.(bool)
	if !ok1 || !ok2 {
		return eventErr(evID, "Unable to set Validator to RequestModel [%s] on API method [%s] for path [%s] ValidateBody and ValidateParameters must be a boolean type, strings or intrinsics are not supported.", name, method, path)
	}
	validator := "no-validation"
	switch {
	case b && p:
		validator = "body-and-params"
	case b:
		validator = "body-only"
	case p:
		validator = "params-only"
	}
	vs, _ := e.doc["x-amazon-apigateway-request-validators"].(map[string]any)
	if vs == nil {
		vs = map[string]any{}
		e.doc["x-amazon-apigateway-request-validators"] = vs
	}
	if _, ok := vs[validator]; !ok {
		vs[validator] = map[string]any{"validateRequestBody": b, "validateRequestParameters": p}
	}
	for _, d := range defs {
		d["x-amazon-apigateway-request-validator"] = validator
	}
	return nil
}

var requestParamPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^method\.request\.(querystring|path|header)\.`) })

func (tr *translator) requestParameters(e *editor, evID, path, method string, v any) error {
	if !truthy(v) {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		return eventErr(evID, "Type of property 'RequestParameters' is invalid.")
	}
	var params []map[string]any
	for _, item := range list {
		settings := map[string]any{"Required": false, "Caching": false}
		switch x := item.(type) {
		case map[string]any:
			var name string
			var val any
			for k, v := range x {
				name, val = k, v
				break
			}
			if !requestParamPattern().MatchString(name) {
				return eventErr(evID, "Invalid value for 'RequestParameters' property. Keys must be in the format 'method.request.[querystring|path|header].{value}', e.g 'method.request.header.Authorization'.")
			}
			vm, ok := val.(map[string]any)
			if ok {
				for k := range vm {
					if k != "Required" && k != "Caching" {
						ok = false
					}
				}
			}
			if !ok {
				return eventErr(evID, "Invalid value for 'RequestParameters' property. Values must be an object, e.g { Required: true, Caching: false }")
			}
			for k, v := range vm {
				settings[k] = v
			}
			settings["Name"] = name
		case string:
			if !requestParamPattern().MatchString(x) {
				return eventErr(evID, "Invalid value for 'RequestParameters' property. Keys must be in the format 'method.request.[querystring|path|header].{value}', e.g 'method.request.header.Authorization'.")
			}
			settings["Name"] = x
		default:
			return eventErr(evID, "Invalid value for 'RequestParameters' property. Property must be either a string or an object")
		}
		params = append(params, settings)
	}
	defs, err := e.methodDefs(path, method, false)
	if err != nil {
		return err
	}
	for _, d := range defs {
		existing, _ := d["parameters"].([]any)
		var cacheKeys []any
		for _, p := range params {
			name, _ := p["Name"].(string)
			loc := strings.SplitN(strings.TrimPrefix(name, "method.request."), ".", 2)
			in := loc[0]
			if in == "querystring" {
				in = "query"
			}
			pname := ""
			if len(loc) > 1 {
				pname = loc[1]
			}
			param := map[string]any{"in": in, "name": pname, "required": p["Required"], "type": "string"}
			existing = append(existing, param)
			if c, _ := p["Caching"].(bool); c {
				cacheKeys = append(cacheKeys, name)
			}
		}
		d["parameters"] = existing
		if len(cacheKeys) > 0 {
			if integ, ok := d[xIntegration].(map[string]any); ok {
				integ["cacheKeyParameters"] = cacheKeys
			}
		}
	}
	return nil
}

// addMethodAuth is Api.add_auth_to_swagger: the method's Authorizer and
// ApiKeyRequired settings.
func (tr *translator) addMethodAuth(e *editor, evID string, api *cfn.Resource, path, method string, auth map[string]any) error {
	apiAuthAny, err := tr.res.resolve(deepCopy(api.Properties["Auth"]))
	if err != nil {
		return err
	}
	apiAuth, _ := apiAuthAny.(map[string]any)
	authorizer := auth["Authorizer"]
	var authorizers map[string]any
	if a, ok := apiAuth["Authorizers"]; ok && truthy(a) {
		if authorizers, ok = a.(map[string]any); !ok {
			return invalidf("Property 'Auth.Authorizers' should be a map.")
		}
	}
	if truthy(authorizer) && authorizer != "AWS_IAM" {
		name, isStr := authorizer.(string)
		if authorizer != "NONE" {
			if len(authorizers) == 0 {
				return eventErr(evID, "Unable to set Authorizer [%s] on API method [%s] for path [%s] because the related API does not define any Authorizers.", pyStr(authorizer), method, path)
			}
			if !isStr {
				return eventErr(evID, "Unable to set Authorizer [%s] on API method [%s] for path [%s]. The method authorizer must be a string with a corresponding dict entry in the api authorizer.", pyStr(authorizer), method, path)
			}
			if !truthy(authorizers[name]) {
				return eventErr(evID, "Unable to set Authorizer [%s] on API method [%s] for path [%s] because it wasn't defined in the API's Authorizers.", name, method, path)
			}
		} else if !truthy(apiAuth["DefaultAuthorizer"]) {
			return eventErr(evID, "Unable to set Authorizer on API method [%s] for path [%s] because 'NONE' is only a valid value when a DefaultAuthorizer on the API is specified.", method, path)
		}
	}
	if truthy(auth["ResourcePolicy"]) {
		return eventErr(evID, "'Auth.ResourcePolicy' is not supported by Nimbus yet.")
	}
	scopes := auth["AuthorizationScopes"]
	if truthy(scopes) {
		if _, ok := scopes.([]any); !ok {
			return eventErr(evID, "Property 'Auth.AuthorizationScopes' should be a list.")
		}
		if !truthy(authorizer) {
			return eventErr(evID, "AuthorizationScopes works only when Authorizer is set")
		}
	}
	keyReq, hasKeyReq := auth["ApiKeyRequired"]
	if hasKeyReq && keyReq != nil && !truthy(keyReq) && !truthy(apiAuth["ApiKeyRequired"]) {
		return eventErr(evID, "Unable to set ApiKeyRequired [False] on API method [%s] for path [%s] because the related API does not specify any ApiKeyRequired.", method, path)
	}
	if truthy(authorizer) {
		name, _ := authorizer.(string)
		defs, err := e.methodDefs(path, method, false)
		if err != nil {
			return err
		}
		for _, d := range defs {
			var sec any = []any{}
			if name != "NONE" && authorizers != nil {
				a, _ := authorizers[name].(map[string]any)
				ms := a["AuthorizationScopes"]
				if scopes != nil {
					ms = scopes
				}
				if authorizers[name] != nil && ms != nil {
					sec = ms
				}
			}
			existing, ok := d["security"].([]any)
			if d["security"] != nil && !ok {
				return invalidf("Type of security for path %s method %s must be a list", path, method)
			}
			d["security"] = append(append([]any(nil), existing...), map[string]any{name: sec})
			if first, _ := d["security"].([]any)[0].(map[string]any); first != nil {
				if _, ok := first["AWS_IAM"]; ok {
					addAWSIAMSecurityDefinition(e.doc)
				}
			}
		}
	}
	if hasKeyReq && keyReq != nil {
		defs, err := e.methodDefs(path, method, false)
		if err != nil {
			return err
		}
		for _, d := range defs {
			key := "api_key_false"
			if truthy(keyReq) {
				key = "api_key"
				addAPIKeySecurityDefinition(e.doc)
			}
			existing, _ := d["security"].([]any)
			d["security"] = append(append([]any(nil), existing...), map[string]any{key: []any{}})
		}
	}
	return nil
}

func securityDefinitions(doc map[string]any) map[string]any {
	sd, _ := doc["securityDefinitions"].(map[string]any)
	if sd == nil {
		sd = map[string]any{}
		doc["securityDefinitions"] = sd
	}
	return sd
}

func addAWSIAMSecurityDefinition(doc map[string]any) {
	sd := securityDefinitions(doc)
	if _, ok := sd["AWS_IAM"]; !ok {
		sd["AWS_IAM"] = map[string]any{"x-amazon-apigateway-authtype": "awsSigv4", "type": "apiKey", "name": "Authorization", "in": "header"}
	}
}

func addAPIKeySecurityDefinition(doc map[string]any) {
	sd := securityDefinitions(doc)
	if _, ok := sd["api_key"]; !ok {
		sd["api_key"] = map[string]any{"type": "apiKey", "name": "x-api-key", "in": "header"}
	}
}

var fnArnPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`([A-Za-z0-9]+\.Arn)`) })

// httpAPIEvent is the HttpApi event source.
func (tr *translator) httpAPIEvent(s *fnState, evID string, props map[string]any) error {
	for _, k := range sortedKeys(props) {
		if !contains(httpAPIEventProperties, k) {
			return eventErr(evID, "property %s not defined for resource of type HttpApi", k)
		}
	}
	path, _ := props["Path"].(string)
	method, _ := props["Method"].(string)
	if path == "" || method == "" {
		return eventErr(evID, "Path and Method must be strings.")
	}
	method = strings.ToLower(method)
	apiRef := props["ApiId"]
	apiName, ok := apiID(apiRef).(string)
	if !ok {
		return eventErr(evID, "ApiId must be a valid reference to an 'AWS::Serverless::HttpApi' resource in same template.")
	}
	api := tr.sam[apiName]
	if api == nil {
		return eventErr(evID, "ApiId must be a valid reference to an 'AWS::Serverless::HttpApi' resource in same template.")
	}
	if _, err := optMap(props, "Auth"); err != nil {
		return eventErr(evID, "%s", err.Error())
	}

	permPath := trailing().ReplaceAllString(path, "$1")
	var e *editor
	if body := api.Properties["DefinitionBody"]; truthy(body) {
		var err error
		if e, err = newEditor(body, true); err != nil {
			return invalidf("Resource with id [%s] is invalid. %s", apiName, err.Error())
		}
	}
	targetID, arn, _ := s.target()
	skip := false
	if permPath == defaultPath {
		permPath = ""
	} else if e != nil {
		skip = tr.defaultRouteIsFunction(e, targetID)
	}
	if !skip {
		permPath = permissionPath(permPath, true)
		m := strings.ToUpper(method)
		if method == "any" || method == xAnyMethod {
			m = "*"
		}
		resource := "${__ApiId__}/${__Stage__}"
		if method == "any" && permPath == "/"+defaultPath {
			resource += permPath
		} else {
			resource += "/" + m + permPath
		}
		srcArn := fnSub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"+resource,
			map[string]any{"__ApiId__": apiRef, "__Stage__": "*"})
		s.out = append(s.out, tr.permission(s, s.id+evID, "", srcArn))
	}

	if e == nil {
		return nil
	}
	uri := fnSub("arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"+shorthand(arn)+"/invocations", nil)
	if tr.managed[apiName] {
		if ok, err := e.hasIntegration(path, method); err != nil {
			return err
		} else if ok {
			return eventErr(evID, "API method '%s' defined multiple times for path '%s'.", method, path)
		}
	}
	if err := e.addLambdaIntegration(path, method, uri, s.fn.Condition, nil); err != nil {
		return err
	}
	if auth, _ := props["Auth"].(map[string]any); len(auth) > 0 {
		if err := tr.httpMethodAuth(e, evID, api, path, method, auth); err != nil {
			return err
		}
	}
	if t := props["TimeoutInMillis"]; truthy(t) {
		if err := e.addTimeout(path, method, t); err != nil {
			return err
		}
	}
	if params := pathParams().FindAllStringSubmatch(path, -1); len(params) > 0 {
		defs, err := e.methodDefs(path, method, false)
		if err != nil {
			return err
		}
		for _, d := range defs {
			list, _ := d["parameters"].([]any)
			for _, pm := range params {
				name := pm[1]
				found := false
				for _, ex := range list {
					if exm, ok := ex.(map[string]any); ok && exm["name"] == name {
						exm["in"], exm["required"] = "path", true
						found = true
						break
					}
				}
				if !found {
					list = append(list, map[string]any{"name": name, "in": "path", "required": true})
				}
			}
			d["parameters"] = list
		}
	}
	if v := props["PayloadFormatVersion"]; truthy(v) {
		defs, err := e.methodDefs(path, method, false)
		if err != nil {
			return err
		}
		for _, d := range defs {
			if integ, ok := d[xIntegration].(map[string]any); ok {
				integ["payloadFormatVersion"] = v
			}
		}
	}
	api.Properties["DefinitionBody"] = e.document()
	return nil
}

var pathParams = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{(.*?)\}`) })

// defaultRouteIsFunction reports whether the API's $default route already
// integrates this function, whose permission then covers every path.
func (tr *translator) defaultRouteIsFunction(e *editor, fnID string) bool {
	ok, err := e.hasIntegration(defaultPath, xAnyMethod)
	if err != nil || !ok {
		return false
	}
	defs, err := e.methodDefs(defaultPath, xAnyMethod, true)
	if err != nil {
		return false
	}
	for _, d := range defs {
		integ, _ := d[xIntegration].(map[string]any)
		uri, ok := integ["uri"].(map[string]any)
		if !ok {
			return false
		}
		contents, err := conditionalContents(uri)
		if err != nil {
			return false
		}
		for _, c := range contents {
			cm, _ := c.(map[string]any)
			arn, _ := cm["Fn::Sub"].(string)
			m := fnArnPattern().FindStringSubmatch(arn)
			if m == nil || strings.Split(m[1], ".Arn")[0] != fnID {
				return false
			}
		}
	}
	return true
}

func (tr *translator) httpMethodAuth(e *editor, evID string, api *cfn.Resource, path, method string, auth map[string]any) error {
	apiAuth, err := optMap(api.Properties, "Auth")
	if err != nil {
		return err
	}
	authorizer := auth["Authorizer"]
	if !truthy(authorizer) {
		if !truthy(apiAuth["DefaultAuthorizer"]) {
			return eventErr(evID, "'Auth' section requires either an explicit 'Authorizer' set or a 'DefaultAuthorizer' configured on the HttpApi.")
		}
		authorizer = apiAuth["DefaultAuthorizer"]
		auth["Authorizer"] = authorizer
	}
	authorizers, _ := apiAuth["Authorizers"].(map[string]any)
	iam, _ := apiAuth["EnableIamAuthorizer"].(bool)
	name, isStr := authorizer.(string)
	builtinIAM := name == "AWS_IAM" && iam
	if name != "NONE" && !builtinIAM {
		if !isStr || (apiAuth["Authorizers"] != nil && authorizers == nil) {
			return eventErr(evID, "Unable to set Authorizer [%s] on API method [%s] for path [%s]. The method authorizer must be a string with a corresponding dict entry in the api authorizer.", pyStr(authorizer), method, path)
		}
	}
	if name == "NONE" {
		if !truthy(apiAuth["DefaultAuthorizer"]) {
			return eventErr(evID, "Unable to set Authorizer on API method [%s] for path [%s] because 'NONE' is only a valid value when a DefaultAuthorizer on the API is specified.", method, path)
		}
	} else if !builtinIAM {
		if len(authorizers) == 0 {
			return eventErr(evID, "Unable to set Authorizer [%s] on API method [%s] for path [%s] because the related API does not define any Authorizers.", name, method, path)
		}
		if !truthy(authorizers[name]) {
			return eventErr(evID, "Unable to set Authorizer [%s] on API method [%s] for path [%s] because it wasn't defined in the API's Authorizers.", name, method, path)
		}
	}
	scopes := auth["AuthorizationScopes"]
	if truthy(scopes) {
		if _, ok := scopes.([]any); !ok {
			return eventErr(evID, "Unable to set Authorizer on API method [%s] for path [%s] because 'AuthorizationScopes' must be a list of strings.", method, path)
		}
	}
	defs, err := e.methodDefs(path, method, false)
	if err != nil {
		return err
	}
	for _, d := range defs {
		var sec any = []any{}
		if name != "NONE" && name != "AWS_IAM" {
			a, ok := authorizers[name].(map[string]any)
			if !ok {
				return invalidf("Type of authorizer '%s' must be a dictionary", name)
			}
			ms := a["AuthorizationScopes"]
			if truthy(scopes) {
				ms = scopes
			}
			if truthy(ms) {
				sec = ms
			}
		}
		existing, ok := d["security"].([]any)
		if d["security"] != nil && !ok {
			return invalidf("Type of security for path %s method %s must be a list", path, method)
		}
		d["security"] = append(append([]any(nil), existing...), map[string]any{name: sec})
	}
	return nil
}
