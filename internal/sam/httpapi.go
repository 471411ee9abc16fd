package sam

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

var openAPIVersions = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\A[2-3](\.\d)(\.\d)?$`) })

// httpAPI is SamHttpApi.to_cloudformation (HttpApiGenerator): the
// ApiGatewayV2 Api with its OpenAPI body, the stage ($default with
// AutoDeploy unless StageName says otherwise) and Lambda authorizer
// permissions.
func (tr *translator) httpAPI(id string, r *cfn.Resource) ([]generated, error) {
	p := r.Properties
	cors, err := tr.res.resolve(p["CorsConfiguration"])
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"Auth", "Tags", "StageVariables", "AccessLogSettings", "DefaultRouteSettings", "RouteSettings"} {
		if _, err := optMap(p, name); err != nil {
			return nil, err
		}
	}
	body := p["DefinitionBody"]
	uri := p["DefinitionUri"]
	if truthy(uri) && truthy(body) {
		return nil, invalidf("Specify either 'DefinitionUri' or 'DefinitionBody' property and not both.")
	}
	userTags, _ := optMap(p, "Tags")
	tags := copyMap(userTags)

	api := &cfn.Resource{Type: "AWS::ApiGatewayV2::Api", Properties: map[string]any{},
		DependsOn: r.DependsOn, Condition: r.Condition, DeletionPolicy: r.DeletionPolicy,
		UpdateReplacePolicy: r.UpdateReplacePolicy, Metadata: r.Metadata, UpdatePolicy: r.UpdatePolicy}
	edit := func(f func(e *editor) error) error {
		e, err := newEditor(body, true)
		if err != nil {
			return err
		}
		if err := f(e); err != nil {
			return err
		}
		body = e.document()
		return nil
	}

	if truthy(cors) {
		if !truthy(body) {
			return nil, invalidf("Cors works only with inline OpenApi specified in 'DefinitionBody' property.")
		}
		props := map[string]any{"AllowCredentials": false}
		switch x := cors.(type) {
		case bool:
			props["AllowOrigins"] = []any{"*"}
		case map[string]any:
			if isIntrinsic(x) {
				props["AllowOrigins"] = x
				break
			}
			for _, k := range sortedKeys(x) {
				if !contains([]string{"AllowMethods", "AllowHeaders", "AllowOrigins", "MaxAge", "ExposeHeaders", "AllowCredentials"}, k) {
					return nil, invalidf("Invalid key '%s' for 'Cors' property.", k)
				}
				props[k] = x[k]
			}
		default:
			return nil, invalidf("Invalid value for 'Cors' property.")
		}
		if !openAPIValid(body) {
			return nil, invalidf("Unable to add Cors configuration because 'DefinitionBody' does not contain a valid OpenApi definition.")
		}
		if props["AllowCredentials"] == true && pyJSON(props["AllowOrigins"]) == `["*"]` {
			return nil, invalidf("Unable to add Cors configuration because 'AllowCredentials' can not be true when 'AllowOrigin' is \"'*'\" or not set.")
		}
		if err := edit(func(e *editor) error { return addHTTPCors(e, props) }); err != nil {
			return nil, err
		}
	}
	auth, _ := p["Auth"].(map[string]any)
	var azs map[string]*httpAuthorizer
	var order []string
	if len(auth) > 0 {
		if !truthy(body) {
			return nil, invalidf("Auth works only with inline OpenApi specified in the 'DefinitionBody' property.")
		}
		for k := range auth {
			if k != "Authorizers" && k != "DefaultAuthorizer" && k != "EnableIamAuthorizer" {
				return nil, invalidf("Invalid value for 'Auth' property")
			}
		}
		if !openAPIValid(body) {
			return nil, invalidf("Unable to add Auth configuration because 'DefinitionBody' does not contain a valid OpenApi definition.")
		}
		iam, _ := auth["EnableIamAuthorizer"].(bool)
		if azs, order, err = tr.httpAuthorizers(auth["Authorizers"], iam); err != nil {
			return nil, err
		}
		err := edit(func(e *editor) error {
			if len(azs) > 0 {
				comp, _ := e.doc["components"].(map[string]any)
				if comp == nil {
					comp = map[string]any{}
				}
				schemes, _ := comp["securitySchemes"].(map[string]any)
				if schemes == nil {
					schemes = map[string]any{}
				}
				for _, name := range order {
					schemes[name] = azs[name].openAPI(tr.partition)
				}
				comp["securitySchemes"] = schemes
				e.doc["components"] = comp
			}
			return setHTTPDefaultAuthorizer(e, auth["DefaultAuthorizer"], azs)
		})
		if err != nil {
			return nil, err
		}
	}
	if truthy(tags) && !truthy(body) {
		return nil, invalidf("Tags works only with inline OpenApi specified in the 'DefinitionBody' property.")
	}
	if truthy(body) {
		if truthy(tags) && !openAPIValid(body) {
			return nil, invalidf("Unable to add `Tags` because 'DefinitionBody' does not contain a valid OpenApi definition.")
		}
		if openAPIValid(body) {
			if tags == nil {
				tags = map[string]any{}
			}
			tags["httpapi:createdBy"] = "SAM"
			err := edit(func(e *editor) error {
				list, ok := e.doc["tags"].([]any)
				if e.doc["tags"] != nil && !ok {
					return invalidf("Tags in OpenApi DefinitionBody needs to be a list.")
				}
				names := sortedKeys(tags)
				if _, user := userTags["httpapi:createdBy"]; !user {
					// samtranslator appends its tag after the template's.
					names = append(slices.DeleteFunc(names, func(n string) bool { return n == "httpapi:createdBy" }), "httpapi:createdBy")
				}
				for _, name := range names {
					found := false
					for _, t := range list {
						if tm, ok := t.(map[string]any); ok && tm["name"] == name {
							tm["x-amazon-apigateway-tag-value"] = tags[name]
							found = true
							break
						}
					}
					if !found {
						list = append(list, map[string]any{"name": name, "x-amazon-apigateway-tag-value": tags[name]})
					}
				}
				e.doc["tags"] = list
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	if truthy(p["FailOnWarnings"]) {
		api.Properties["FailOnWarnings"] = p["FailOnWarnings"]
	}
	if v, ok := p["DisableExecuteApiEndpoint"]; ok && v != nil {
		if !truthy(body) {
			return nil, invalidf("DisableExecuteApiEndpoint works only within 'DefinitionBody' property.")
		}
		err := edit(func(e *editor) error {
			servers, _ := e.doc["servers"].([]any)
			if len(servers) == 0 {
				servers = []any{map[string]any{}}
			}
			for _, s := range servers {
				sm, ok := s.(map[string]any)
				if !ok {
					return invalidf("Value of 'servers' item must be a dictionary according to Swagger spec.")
				}
				ec, _ := sm["x-amazon-apigateway-endpoint-configuration"].(map[string]any)
				if ec == nil {
					ec = map[string]any{}
				}
				ec["disableExecuteApiEndpoint"] = v
				sm["x-amazon-apigateway-endpoint-configuration"] = ec
			}
			e.doc["servers"] = servers
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if name := p["Name"]; truthy(name) {
		if !truthy(body) {
			return nil, invalidf("Name works only with inline OpenApi specified in the 'DefinitionBody' property.")
		}
		bm, _ := body.(map[string]any)
		info, _ := bm["info"].(map[string]any)
		if pyJSON(info["title"]) != pyJSON(ref("AWS::StackName")) {
			return nil, invalidf("Unable to set Name because it is already defined within inline OpenAPI specified in the 'DefinitionBody' property.")
		}
		if err := edit(func(e *editor) error {
			info, _ := e.doc["info"].(map[string]any)
			if info == nil {
				info = map[string]any{}
				e.doc["info"] = info
			}
			info["title"] = name
			return nil
		}); err != nil {
			return nil, err
		}
	}
	if desc := p["Description"]; truthy(desc) {
		if !truthy(body) {
			return nil, invalidf("Description works only with inline OpenApi specified in the 'DefinitionBody' property.")
		}
		bm, _ := body.(map[string]any)
		info, _ := bm["info"].(map[string]any)
		if truthy(info["description"]) {
			return nil, invalidf("Unable to set Description because it is already defined within inline OpenAPI specified in the 'DefinitionBody' property.")
		}
		if err := edit(func(e *editor) error {
			info, _ := e.doc["info"].(map[string]any)
			if info == nil {
				info = map[string]any{}
				e.doc["info"] = info
			}
			info["description"] = desc
			return nil
		}); err != nil {
			return nil, err
		}
	}
	if truthy(p["FailOnWarnings"]) && truthy(body) {
		bm, _ := body.(map[string]any)
		if paths, ok := bm["paths"].(map[string]any); ok {
			if v, ok := paths[defaultPath]; ok {
				delete(paths, defaultPath)
				paths["/"+defaultPath] = v
			}
		}
	}
	switch {
	case truthy(uri):
		loc, err := s3Location(uri, "DefinitionUri")
		if err != nil {
			return nil, err
		}
		bl := map[string]any{"Bucket": loc["S3Bucket"], "Key": loc["S3Key"]}
		if v, ok := loc["S3ObjectVersion"]; ok {
			bl["Version"] = v
		}
		api.Properties["BodyS3Location"] = bl
	case truthy(body):
		api.Properties["Body"] = body
	default:
		return nil, invalidf("'DefinitionUri' or 'DefinitionBody' are required properties of an 'AWS::Serverless::HttpApi'. Add a value for one of these properties or add a 'HttpApi' event to an 'AWS::Serverless::Function'.")
	}

	out := []generated{{id, api}}
	for _, name := range order {
		a := azs[name]
		if !truthy(a.functionArn) || !a.defaultPerms {
			continue
		}
		perm := passthrough(r, "AWS::Lambda::Permission")
		perm.Properties["Action"] = "lambda:InvokeFunction"
		perm.Properties["FunctionName"] = a.functionArn
		perm.Properties["Principal"] = "apigateway.amazonaws.com"
		perm.Properties["SourceArn"] = fnSub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${__ApiId__}/authorizers/*",
			map[string]any{"__ApiId__": ref(id)})
		out = append(out, generated{id + name + "AuthorizerPermission", perm})
	}

	stageName := p["StageName"]
	if !truthy(stageName) {
		stageName = defaultPath
	}
	prefix, _ := stageName.(string)
	var stageID string
	switch {
	case isAlnum(prefix):
		stageID = id + prefix + "Stage"
	case prefix == defaultPath:
		stageID = id + "ApiGatewayDefaultStage"
	default:
		stageID = logicalID(id+"Stage", prefix)
	}
	stage := passthrough(r, "AWS::ApiGatewayV2::Stage")
	sp := stage.Properties
	sp["ApiId"] = ref(id)
	sp["StageName"] = stageName
	for _, k := range []string{"StageVariables", "AccessLogSettings", "DefaultRouteSettings", "RouteSettings"} {
		if v := p[k]; v != nil {
			sp[k] = v
		}
	}
	if tags != nil {
		sp["Tags"] = tags
	}
	sp["AutoDeploy"] = true
	if v, ok := p["Domain"]; ok && v != nil {
		dom, err := tr.httpDomain(id, r, v, stageID)
		if err != nil {
			return nil, err
		}
		out = append(out, dom...)
	}
	out = append(out, generated{stageID, stage})
	tr.addRef(id, "Stage", stageID)
	return out, nil
}

// addHTTPCors sets x-amazon-apigateway-cors (OpenApiEditor.add_cors).
func addHTTPCors(e *editor, props map[string]any) error {
	conf, ok := e.doc["x-amazon-apigateway-cors"].(map[string]any)
	if e.doc["x-amazon-apigateway-cors"] != nil && !ok {
		return invalidf("Value of 'x-amazon-apigateway-cors' must be a dictionary according to Swagger spec.")
	}
	if conf == nil {
		conf = map[string]any{}
	}
	origins := props["AllowOrigins"]
	if truthy(origins) && isIntrinsic(origins) {
		b, err := json.Marshal(origins)
		if err != nil {
			return err
		}
		s := string(b)
		for _, h := range []string{"allowOrigins", "allowHeaders", "allowMethods", "exposeHeaders", "maxAge", "allowCredentials"} {
			s = strings.ReplaceAll(s, strings.ToUpper(h[:1])+h[1:], h)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return err
		}
		for k, v := range m {
			conf[k] = v
		}
	} else {
		for _, kv := range [][2]string{{"AllowOrigins", "allowOrigins"}, {"AllowHeaders", "allowHeaders"}, {"AllowMethods", "allowMethods"}, {"ExposeHeaders", "exposeHeaders"}} {
			if v := props[kv[0]]; truthy(v) {
				conf[kv[1]] = v
			}
		}
		if v, ok := props["MaxAge"]; ok && v != nil {
			conf["maxAge"] = v
		}
		if props["AllowCredentials"] == true {
			conf["allowCredentials"] = true
		}
	}
	e.doc["x-amazon-apigateway-cors"] = conf
	return nil
}

// httpAuthorizer is samtranslator's ApiGatewayV2Authorizer.
type httpAuthorizer struct {
	name          string
	iam           bool
	scopes        any
	jwt           map[string]any
	idSource      any
	functionArn   any
	invokeRole    any
	identity      any
	payloadFormat any
	simple        any
	defaultPerms  bool
}

func (a *httpAuthorizer) kind() string {
	switch {
	case a.iam:
		return "AWS_IAM"
	case a.jwt != nil:
		return "JWT"
	}
	return "REQUEST"
}

func (tr *translator) httpAuthorizers(conf any, iam bool) (map[string]*httpAuthorizer, []string, error) {
	out := map[string]*httpAuthorizer{}
	var order []string
	if iam {
		out["AWS_IAM"] = &httpAuthorizer{name: "AWS_IAM", iam: true}
		order = append(order, "AWS_IAM")
	}
	if !truthy(conf) {
		return out, order, nil
	}
	cm, ok := conf.(map[string]any)
	if !ok {
		return nil, nil, invalidf("Property 'Auth.Authorizers' should be a map.")
	}
	for _, name := range sortedKeys(cm) {
		a, ok := cm[name].(map[string]any)
		if !ok {
			return nil, nil, invalidf("Property 'Auth.Authorizers.%s' should be a map.", name)
		}
		if _, ok := a["OpenIdConnectUrl"]; ok {
			return nil, nil, invalidf("'OpenIdConnectUrl' is no longer a supported property for authorizer '%s'. Please refer to the AWS SAM documentation.", name)
		}
		ha := &httpAuthorizer{name: name, scopes: a["AuthorizationScopes"], idSource: a["IdentitySource"],
			functionArn: a["FunctionArn"], invokeRole: a["FunctionInvokeRole"], identity: a["Identity"],
			payloadFormat: a["AuthorizerPayloadFormatVersion"], simple: a["EnableSimpleResponses"]}
		if j := a["JwtConfiguration"]; truthy(j) {
			jm, ok := j.(map[string]any)
			if !ok {
				return nil, nil, invalidf("Property 'JwtConfiguration' should be a map.")
			}
			ha.jwt = map[string]any{}
			for k, v := range jm {
				ha.jwt[strings.ToLower(k)] = v
			}
		}
		if ha.scopes != nil {
			if _, ok := ha.scopes.([]any); !ok {
				return nil, nil, invalidf("AuthorizationScopes must be a list.")
			}
		}
		kind := ha.kind()
		allowed := map[string][]string{
			"JWT":     {"AuthorizationScopes", "JwtConfiguration", "IdentitySource"},
			"REQUEST": {"FunctionArn", "FunctionInvokeRole", "Identity", "AuthorizerPayloadFormatVersion", "EnableSimpleResponses", "EnableFunctionDefaultPermissions"},
		}[kind]
		hints := map[string]string{"AuthorizationScopes": "OAuth2 Authorizer", "JwtConfiguration": "OAuth2 Authorizer",
			"IdentitySource": "OAuth2 Authorizer. For Lambda Authorizer, use the 'Identity' property instead"}
		for _, k := range []string{"AuthorizationScopes", "JwtConfiguration", "IdentitySource", "FunctionArn", "FunctionInvokeRole", "Identity", "AuthorizerPayloadFormatVersion", "EnableSimpleResponses", "EnableFunctionDefaultPermissions"} {
			if v, ok := a[k]; ok && v != nil && !contains(allowed, k) {
				hint := hints[k]
				if hint == "" {
					hint = "Lambda Authorizer"
				}
				return nil, nil, invalidf("%s is only supported for %s.", k, hint)
			}
		}
		switch kind {
		case "JWT":
			if !truthy(ha.idSource) {
				return nil, nil, invalidf("%s OAuth2 Authorizer must define 'IdentitySource'.", name)
			}
		case "REQUEST":
			if !truthy(ha.functionArn) {
				return nil, nil, invalidf("%s Lambda Authorizer must define 'FunctionArn'.", name)
			}
			if !truthy(ha.payloadFormat) {
				return nil, nil, invalidf("%s Lambda Authorizer must define 'AuthorizerPayloadFormatVersion'.", name)
			}
		}
		if v, ok := a["EnableFunctionDefaultPermissions"]; ok && v != nil {
			b, isBool := v.(bool)
			if !isBool {
				return nil, nil, invalidf("Property 'Authorizers.%s.EnableFunctionDefaultPermissions' should be a boolean.", name)
			}
			ha.defaultPerms = b
		}
		if _, dup := out[name]; !dup {
			order = append(order, name)
		}
		out[name] = ha
	}
	return out, order, nil
}

func (a *httpAuthorizer) openAPI(partition string) map[string]any {
	switch a.kind() {
	case "AWS_IAM":
		return map[string]any{"type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "awsSigv4"}
	case "JWT":
		return map[string]any{"type": "oauth2", "x-amazon-apigateway-authorizer": map[string]any{
			"jwtConfiguration": a.jwt, "identitySource": a.idSource, "type": "jwt"}}
	}
	az := map[string]any{"type": "request", "authorizerUri": fnSub(
		"arn:"+partition+":apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${__FunctionArn__}/invocations",
		map[string]any{"__FunctionArn__": a.functionArn})}
	if truthy(a.invokeRole) && a.invokeRole != "NONE" {
		az["authorizerCredentials"] = a.invokeRole
	}
	if id, ok := a.identity.(map[string]any); ok && len(id) > 0 {
		if v, ok := id["ReauthorizeEvery"]; ok && v != nil {
			az["authorizerResultTtlInSeconds"] = v
		}
		var src []any
		for _, kp := range [][2]string{{"Headers", "$request.header."}, {"QueryStrings", "$request.querystring."},
			{"StageVariables", "$stageVariables."}, {"Context", "$context."}} {
			l, _ := id[kp[0]].([]any)
			for _, e := range l {
				if s, ok := e.(string); ok {
					src = append(src, kp[1]+s)
				}
			}
		}
		if src == nil {
			src = []any{}
		}
		az["identitySource"] = src
	}
	az["authorizerPayloadFormatVersion"] = a.payloadFormat
	if truthy(a.simple) {
		az["enableSimpleResponses"] = a.simple
	}
	return map[string]any{"type": "apiKey", "name": "Unused", "in": "header", "x-amazon-apigateway-authorizer": az}
}

func setHTTPDefaultAuthorizer(e *editor, def any, azs map[string]*httpAuthorizer) error {
	if !truthy(def) || isNoValue(def) {
		return nil
	}
	name, ok := def.(string)
	if !ok {
		return invalidf("Property 'Auth.DefaultAuthorizer' should be a string.")
	}
	a := azs[name]
	if a == nil {
		return invalidf("Unable to set DefaultAuthorizer because '%s' was not defined in 'Authorizers'.", name)
	}
	for _, path := range sortedKeys(e.paths) {
		items, err := e.pathItems(path)
		if err != nil {
			return err
		}
		for _, it := range items {
			for _, method := range sortedKeys(it) {
				if normalizeMethod(method) == "parameters" || normalizeMethod(method) == "options" {
					continue
				}
				defs, err := conditionalContents(it[method])
				if err != nil {
					return err
				}
				for _, d := range defs {
					dm, ok := d.(map[string]any)
					if !ok {
						return invalidf("Definition of method '%s' for path '%s' should be a map.", method, path)
					}
					if !hasIntegrationDef(dm) || truthy(dm["security"]) {
						continue
					}
					var scopes any = []any{}
					if a.scopes != nil {
						scopes = a.scopes
					}
					dm["security"] = []any{map[string]any{name: scopes}}
				}
			}
		}
	}
	return nil
}
