package sam

import (
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

// REST API authorizers (Auth on AWS::Serverless::Api): the swagger
// securityDefinitions, the default authorizer and API key requirement on
// every method, and the permissions for Lambda authorizers.

var authKeys = []string{"Authorizers", "DefaultAuthorizer", "InvokeRole", "AddDefaultAuthorizerToCorsPreflight",
	"AddApiKeyRequiredToCorsPreflight", "ApiKeyRequired", "ResourcePolicy", "UsagePlan"}

// restAuthorizer is samtranslator's ApiGatewayAuthorizer.
type restAuthorizer struct {
	name        string
	iam         bool
	userPool    any
	functionArn any
	identity    map[string]any
	payload     string
	invokeRole  any
	scopes      any
	noPerms     bool
}

func (g *restGen) authorizers(conf any, def any) (map[string]*restAuthorizer, []string, error) {
	out := map[string]*restAuthorizer{}
	var order []string
	if def == "AWS_IAM" {
		out["AWS_IAM"] = &restAuthorizer{name: "AWS_IAM", iam: true}
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
		ra := &restAuthorizer{name: name, userPool: a["UserPoolArn"], functionArn: a["FunctionArn"],
			invokeRole: a["FunctionInvokeRole"], scopes: a["AuthorizationScopes"]}
		if v, ok := a["Identity"]; ok && v != nil {
			if ra.identity, ok = v.(map[string]any); !ok {
				return nil, nil, invalidf("Auth.Authorizers.<Authorizer>.Identity must be a dict (LambdaTokenAuthorizationIdentity, LambdaRequestAuthorizationIdentity or CognitoAuthorizationIdentity).")
			}
		}
		if v, ok := a["FunctionPayloadType"]; ok && v != nil {
			s, _ := v.(string)
			if s != "TOKEN" && s != "REQUEST" {
				return nil, nil, invalidf("%s Authorizer has invalid 'FunctionPayloadType': %s.", name, pyStr(v))
			}
			ra.payload = s
		}
		if ra.payload == "REQUEST" && missingIdentitySource(ra.identity) {
			return nil, nil, invalidf("%s Authorizer must specify Identity with at least one of Headers, QueryStrings, StageVariables, or Context.", name)
		}
		if ra.scopes != nil {
			if _, ok := ra.scopes.([]any); !ok {
				return nil, nil, invalidf("Property 'Authorizers.%s.AuthorizationScopes' should be a list.", name)
			}
		}
		if v, ok := a["DisableFunctionDefaultPermissions"]; ok && v != nil {
			b, isBool := v.(bool)
			if !isBool {
				return nil, nil, invalidf("Property 'Authorizers.%s.DisableFunctionDefaultPermissions' should be a boolean.", name)
			}
			ra.noPerms = b
		}
		if _, dup := out[name]; !dup {
			order = append(order, name)
		}
		out[name] = ra
	}
	return out, order, nil
}

func missingIdentitySource(id map[string]any) bool {
	if len(id) == 0 {
		return true
	}
	missing := !truthy(id["Headers"]) && !truthy(id["QueryStrings"]) && !truthy(id["StageVariables"]) && !truthy(id["Context"])
	ttl, ok := id["ReauthorizeEvery"].(float64)
	if id["ReauthorizeEvery"] == nil || !ok {
		return missing
	}
	return ttl > 0 && missing
}

func (a *restAuthorizer) kind() string {
	switch {
	case a.iam:
		return "AWS_IAM"
	case truthy(a.userPool):
		return "COGNITO_USER_POOLS"
	}
	return "LAMBDA"
}

func (a *restAuthorizer) payloadType() string {
	if a.payload == "" {
		return "TOKEN"
	}
	return a.payload
}

func (g *restGen) swaggerFor(a *restAuthorizer) (map[string]any, error) {
	kind := a.kind()
	header := any("Authorization")
	if truthy(a.identity["Header"]) {
		header = a.identity["Header"]
	}
	if kind == "LAMBDA" && a.payloadType() == "REQUEST" {
		header = "Unused"
	}
	authType := map[string]string{"AWS_IAM": "awsSigv4", "COGNITO_USER_POOLS": "cognito_user_pools", "LAMBDA": "custom"}[kind]
	sw := map[string]any{"type": "apiKey", "name": header, "in": "header", "x-amazon-apigateway-authtype": authType}
	var az map[string]any
	switch kind {
	case "COGNITO_USER_POOLS":
		arns := a.userPool
		if _, ok := arns.([]any); !ok {
			arns = []any{arns}
		}
		az = map[string]any{"type": "cognito_user_pools", "providerARNs": arns}
	case "LAMBDA":
		typ := "token"
		if a.payloadType() == "REQUEST" {
			typ = "request"
		}
		az = map[string]any{"type": typ, "authorizerUri": fnSub(
			"arn:"+g.tr.partition+":apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${__FunctionArn__}/invocations",
			map[string]any{"__FunctionArn__": a.functionArn})}
		if a.identity != nil {
			if v, ok := a.identity["ReauthorizeEvery"]; ok && v != nil {
				az["authorizerResultTtlInSeconds"] = v
			}
		}
		if truthy(a.invokeRole) && a.invokeRole != "NONE" {
			az["authorizerCredentials"] = a.invokeRole
		}
		if a.payloadType() == "REQUEST" {
			src, err := identitySource(a)
			if err != nil {
				return nil, err
			}
			if src != "" {
				az["identitySource"] = src
			}
		}
	}
	if az != nil {
		sw["x-amazon-apigateway-authorizer"] = az
	}
	if kind == "COGNITO_USER_POOLS" || (kind == "LAMBDA" && a.payloadType() == "TOKEN") {
		if v := a.identity["ValidationExpression"]; truthy(v) {
			if az == nil {
				az = map[string]any{}
				sw["x-amazon-apigateway-authorizer"] = az
			}
			az["identityValidationExpression"] = v
		}
	}
	return sw, nil
}

func identitySource(a *restAuthorizer) (string, error) {
	var parts []string
	for _, kp := range [][2]string{{"Headers", "method.request.header."}, {"QueryStrings", "method.request.querystring."},
		{"StageVariables", "stageVariables."}, {"Context", "context."}} {
		v := a.identity[kp[0]]
		if !truthy(v) {
			continue
		}
		l, ok := v.([]any)
		if !ok {
			return "", invalidf("Property 'Auth.Authorizers.%s.Identity.%s' should be a list.", a.name, kp[0])
		}
		for i, e := range l {
			s, ok := e.(string)
			if !ok {
				return "", invalidf("Property 'Auth.Authorizers.%s.Identity.%s[%d]' should be a string.", a.name, kp[0], i)
			}
			parts = append(parts, kp[1]+s)
		}
	}
	return strings.Join(parts, ", "), nil
}

func (g *restGen) auth() error {
	auth, _ := g.p["Auth"].(map[string]any)
	if len(auth) == 0 {
		return nil
	}
	if !truthy(g.body) {
		return invalidf("Auth works only with inline Swagger specified in 'DefinitionBody' property.")
	}
	for k := range auth {
		if !contains(authKeys, k) {
			return invalidf("Invalid value for 'Auth' property")
		}
	}
	if !swaggerValid(g.body) {
		return invalidf("Unable to add Auth configuration because 'DefinitionBody' does not contain a valid Swagger definition.")
	}
	e, err := newEditor(g.body, false)
	if err != nil {
		return err
	}
	def := auth["DefaultAuthorizer"]
	azs, order, err := g.authorizers(auth["Authorizers"], def)
	if err != nil {
		return err
	}
	if len(azs) > 0 {
		sd := securityDefinitions(e.doc)
		for _, name := range order {
			sw, err := g.swaggerFor(azs[name])
			if err != nil {
				return err
			}
			sd[name] = sw
		}
		if truthy(def) {
			name, ok := def.(string)
			if !ok {
				return invalidf("DefaultAuthorizer is not a string.")
			}
			if azs[name] == nil && name != "AWS_IAM" {
				return invalidf("Unable to set DefaultAuthorizer because '%s' was not defined in 'Authorizers'.", name)
			}
			preflight := true
			if b, ok := auth["AddDefaultAuthorizerToCorsPreflight"].(bool); ok {
				preflight = b
			} else if v, ok := auth["AddDefaultAuthorizerToCorsPreflight"]; ok {
				preflight = truthy(v)
			}
			for _, path := range sortedKeys(e.paths) {
				if err := setDefaultAuthorizer(e, path, name, azs, preflight); err != nil {
					return err
				}
			}
		}
	}
	if truthy(auth["ApiKeyRequired"]) {
		addAPIKeySecurityDefinition(e.doc)
		preflight := true
		if v, ok := auth["AddApiKeyRequiredToCorsPreflight"]; ok {
			preflight = truthy(v)
		}
		for _, path := range sortedKeys(e.paths) {
			if err := setDefaultAPIKey(e, path, preflight); err != nil {
				return err
			}
		}
	}
	if truthy(auth["ResourcePolicy"]) {
		return invalidf("'Auth.ResourcePolicy' is not supported by Nimbus yet.")
	}
	g.body = g.openAPIPostprocess(e.document())
	return nil
}

func securityList(def map[string]any, path, method string) ([]map[string]any, error) {
	v, ok := def["security"]
	if !ok || v == nil {
		return nil, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, invalidf("Type of security for path %s method %s must be a list", path, method)
	}
	out := make([]map[string]any, 0, len(l))
	for _, s := range l {
		m, ok := s.(map[string]any)
		if !ok {
			return nil, invalidf("%s in Security for path %s method %s is not a valid dictionary.", pyStr(s), path, method)
		}
		out = append(out, m)
	}
	return out, nil
}

func setDefaultAuthorizer(e *editor, path, def string, azs map[string]*restAuthorizer, preflight bool) error {
	names, defs, err := e.allMethodDefs(path)
	if err != nil {
		return err
	}
	for i, d := range defs {
		method := names[i]
		if !preflight && method == "options" {
			continue
		}
		known := map[string]bool{"AWS_IAM": true}
		for n := range azs {
			known[n] = true
		}
		existing, err := securityList(d, path, method)
		if err != nil {
			return err
		}
		var nonAuth, auth []any
		for _, s := range existing {
			hit := false
			for k := range s {
				if known[k] {
					hit = true
				}
			}
			if hit {
				auth = append(auth, s)
			} else {
				nonAuth = append(nonAuth, s)
			}
		}
		noneIdx := -1
		for j, s := range nonAuth {
			if _, ok := s.(map[string]any)["NONE"]; ok {
				noneIdx = j
				break
			}
		}
		var authSec []any
		switch {
		case noneIdx > -1:
			nonAuth = append(nonAuth[:noneIdx:noneIdx], nonAuth[noneIdx+1:]...)
		case len(auth) > 0:
			authSec = auth
		default:
			var scopes any = []any{}
			if a := azs[def]; a != nil && a.scopes != nil {
				scopes = a.scopes
			}
			authSec = []any{map[string]any{def: scopes}}
		}
		sec := append(nonAuth, authSec...)
		if len(sec) > 0 {
			d["security"] = sec
			if first, _ := sec[0].(map[string]any); first != nil {
				if _, ok := first["AWS_IAM"]; ok {
					addAWSIAMSecurityDefinition(e.doc)
				}
			}
		}
	}
	return nil
}

func setDefaultAPIKey(e *editor, path string, preflight bool) error {
	names, defs, err := e.allMethodDefs(path)
	if err != nil {
		return err
	}
	for i, d := range defs {
		method := names[i]
		existing, err := securityList(d, path, method)
		if err != nil {
			return err
		}
		var nonKey, key []any
		for _, s := range existing {
			_, a := s["api_key"]
			_, b := s["api_key_false"]
			if a || b {
				key = append(key, s)
			} else {
				nonKey = append(nonKey, s)
			}
		}
		falseIdx := -1
		for j, s := range key {
			if _, ok := s.(map[string]any)["api_key_false"]; ok {
				falseIdx = j
				break
			}
		}
		var keySec []any
		if falseIdx == -1 {
			keySec = []any{map[string]any{"api_key": []any{}}}
		}
		sec := append(append([]any(nil), nonKey...), keySec...)
		if method == "options" && !preflight {
			sec = nonKey
		}
		if pyJSON(sec) != pyJSON(toAnySlice(existing)) {
			d["security"] = sec
		}
	}
	return nil
}

func toAnySlice(l []map[string]any) []any {
	out := make([]any, len(l))
	for i, m := range l {
		out[i] = m
	}
	return out
}

func (g *restGen) authorizerPermissions(r *cfn.Resource) ([]generated, error) {
	auth, _ := g.p["Auth"].(map[string]any)
	if len(auth) == 0 {
		return nil, nil
	}
	azs, order, err := g.authorizers(auth["Authorizers"], nil)
	if err != nil {
		return nil, err
	}
	var out []generated
	for _, name := range order {
		a := azs[name]
		if !truthy(a.functionArn) || a.noPerms {
			continue
		}
		perm := passthrough(r, "AWS::Lambda::Permission")
		perm.Properties["Action"] = "lambda:InvokeFunction"
		perm.Properties["FunctionName"] = a.functionArn
		perm.Properties["Principal"] = "apigateway.amazonaws.com"
		perm.Properties["SourceArn"] = fnSub("arn:"+g.tr.partition+":execute-api:${AWS::Region}:${AWS::AccountId}:${__ApiId__}/authorizers/*",
			map[string]any{"__ApiId__": ref(g.id)})
		out = append(out, generated{g.id + name + "AuthorizerPermission", perm})
	}
	return out, nil
}
