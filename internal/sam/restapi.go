package sam

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

// restAPI is SamApi.to_cloudformation (ApiGenerator): the RestApi with its
// definition, a Deployment named by a hash of the definition, the Stage,
// and permissions for Lambda authorizers.
func (tr *translator) restAPI(id string, r *cfn.Resource) ([]generated, error) {
	p := r.Properties
	for _, name := range []string{"BinaryMediaTypes", "Auth"} {
		v, err := tr.res.resolve(p[name])
		if err != nil {
			return nil, err
		}
		if v != nil {
			p[name] = v
		}
	}
	for _, name := range []string{"Auth", "Variables", "Tags", "Models", "GatewayResponses", "AccessLogSetting", "CanarySetting"} {
		if _, err := optMap(p, name); err != nil {
			return nil, err
		}
	}
	if _, err := optList(p, "MethodSettings"); err != nil {
		return nil, err
	}
	if _, ok := p["StageName"]; !ok {
		return nil, invalidf("Missing required property 'StageName'.")
	}
	body := p["DefinitionBody"]
	uri := p["DefinitionUri"]
	if truthy(uri) && truthy(body) {
		return nil, invalidf("Specify either 'DefinitionUri' or 'DefinitionBody' property and not both.")
	}
	if truthy(uri) {
		if merge, _ := p["MergeDefinitions"].(bool); merge {
			return nil, invalidf("Cannot set 'MergeDefinitions' to True when using `DefinitionUri`.")
		}
	}
	oav := p["OpenApiVersion"]
	if oav != nil && !openAPIVersions().MatchString(pyStr(oav)) {
		return nil, invalidf("The OpenApiVersion value must be of the format '3.0.0'.")
	}

	rest := &cfn.Resource{Type: "AWS::ApiGateway::RestApi", Properties: map[string]any{},
		DependsOn: r.DependsOn, Condition: r.Condition, DeletionPolicy: r.DeletionPolicy,
		UpdateReplacePolicy: r.UpdateReplacePolicy, Metadata: r.Metadata, UpdatePolicy: r.UpdatePolicy}
	rp := rest.Properties
	if v := p["BinaryMediaTypes"]; v != nil {
		rp["BinaryMediaTypes"] = v
	}
	if v := p["MinimumCompressionSize"]; v != nil {
		rp["MinimumCompressionSize"] = v
	}
	if ec := p["EndpointConfiguration"]; truthy(ec) {
		if err := setEndpointConfiguration(rp, ec); err != nil {
			return nil, err
		}
	}
	g := &restGen{tr: tr, id: id, p: p, body: body}
	for _, step := range []func() error{g.cors, g.auth, g.gatewayResponses, g.binaryMediaTypes, g.models} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if truthy(p["FailOnWarnings"]) {
		rp["FailOnWarnings"] = p["FailOnWarnings"]
	}
	if v, ok := p["DisableExecuteApiEndpoint"]; ok && v != nil {
		if !truthy(g.body) {
			return nil, invalidf("DisableExecuteApiEndpoint works only within 'DefinitionBody' property.")
		}
		e, err := newEditor(g.body, false)
		if err != nil {
			return nil, err
		}
		doc := e.document()
		if ver, ok := doc["openapi"]; ok && openAPI3().MatchString(pyStr(ver)) {
			servers, _ := doc["servers"].([]any)
			if len(servers) == 0 {
				servers = []any{map[string]any{}}
			}
			for i, s := range servers {
				sm, ok := s.(map[string]any)
				if !ok {
					return nil, invalidf("Invalid OpenAPI definition of 'servers[%d]'.", i)
				}
				ec, _ := sm["x-amazon-apigateway-endpoint-configuration"].(map[string]any)
				if ec == nil {
					ec = map[string]any{}
				}
				ec["disableExecuteApiEndpoint"] = v
				sm["x-amazon-apigateway-endpoint-configuration"] = ec
			}
			doc["servers"] = servers
		} else {
			ec, _ := doc["x-amazon-apigateway-endpoint-configuration"].(map[string]any)
			if ec == nil {
				ec = map[string]any{}
			}
			ec["disableExecuteApiEndpoint"] = v
			doc["x-amazon-apigateway-endpoint-configuration"] = ec
		}
		g.body = doc
	}
	var swagger any
	if truthy(uri) {
		loc, err := s3Location(uri, "DefinitionUri")
		if err != nil {
			return nil, err
		}
		bl := map[string]any{"Bucket": loc["S3Bucket"], "Key": loc["S3Key"]}
		if v, ok := loc["S3ObjectVersion"]; ok {
			bl["Version"] = v
		}
		rp["BodyS3Location"] = bl
		swagger = bl
	} else if truthy(g.body) {
		bm, ok := g.body.(map[string]any)
		if !ok {
			return nil, invalidf("Property 'DefinitionBody' should be a map.")
		}
		g.body = g.openAPIPostprocess(bm)
		rp["Body"] = g.body
		swagger = g.body
	}
	for _, k := range []string{"Name", "Description", "Mode", "ApiKeySourceType", "Policy", "SecurityPolicy", "EndpointAccessMode"} {
		if truthy(p[k]) {
			rp[k] = p[k]
		}
	}

	attrs := func(typ string) *cfn.Resource { return passthrough(r, typ) }
	deploymentID := id + "Deployment"
	deployment := attrs("AWS::ApiGateway::Deployment")
	deployment.Properties["RestApiId"] = ref(id)
	if oav == nil {
		deployment.Properties["StageName"] = "Stage"
	}

	stageName := p["StageName"]
	prefix, _ := stageName.(string)
	stageID := id + prefix + "Stage"
	if !isAlnum(prefix) {
		stageID = logicalID(id+"Stage", prefix)
	}
	stage := attrs("AWS::ApiGateway::Stage")
	sp := stage.Properties
	sp["RestApiId"] = ref(id)
	sp["StageName"] = stageName
	for _, k := range []string{"CacheClusterEnabled", "CacheClusterSize", "Variables", "MethodSettings", "AccessLogSetting", "CanarySetting", "TracingEnabled"} {
		if v := p[k]; v != nil {
			sp[k] = v
		}
	}
	if truthy(swagger) {
		hashInput := pyJSON(swagger)
		if oav != nil {
			hashInput += "||" + pyStr(oav)
		}
		if always, _ := p["AlwaysDeploy"].(bool); always {
			// A new deployment on every transform, as samtranslator's
			// hash of the time does.
			hashInput = strconv.FormatInt(time.Now().UnixNano(), 10)
		}
		digest := sha1Hex(hashInput)
		deploymentID += digest[:10]
		deployment.Properties["Description"] = "RestApi deployment id: " + digest
	}
	sp["DeploymentId"] = ref(deploymentID)
	if tags, _ := optMap(p, "Tags"); tags != nil {
		sp["Tags"] = tagList(tags)
	}

	out := []generated{{id, rest}, {deploymentID, deployment}, {stageID, stage}}
	if v, ok := p["Domain"]; ok && v != nil {
		dom, err := tr.restDomain(id, r, v, stageID)
		if err != nil {
			return nil, err
		}
		out = append(out, dom...)
	}
	perms, err := g.authorizerPermissions(r)
	if err != nil {
		return nil, err
	}
	out = append(out, perms...)
	if auth, _ := p["Auth"].(map[string]any); auth != nil {
		plans, err := tr.usagePlan(id, r, auth, stageID)
		if err != nil {
			return nil, err
		}
		out = append(out, plans...)
	}
	if truthy(p["PropagateTags"]) {
		if tags, _ := optMap(p, "Tags"); len(tags) > 0 {
			for _, o := range out {
				if hasTagsProperty(o.r.Type) {
					o.r.Properties["Tags"] = tagList(tags)
				}
			}
		}
	}
	tr.addRef(id, "Stage", stageID)
	tr.addRef(id, "Deployment", deploymentID)
	return out, nil
}

func setEndpointConfiguration(rp map[string]any, v any) error {
	if m, ok := v.(map[string]any); ok && truthy(m["Type"]) {
		rp["Parameters"] = map[string]any{"endpointConfigurationTypes": m["Type"]}
		ec := map[string]any{"Types": []any{m["Type"]}}
		_, a := m["VPCEndpointIds"]
		_, b := m["VpcEndpointIds"]
		if a && b {
			return invalidf("'VPCEndpointIds' and 'VpcEndpointIds' cannot be used together in EndpointConfiguration.")
		}
		if a || b {
			ids := m["VPCEndpointIds"]
			if !truthy(ids) {
				ids = m["VpcEndpointIds"]
			}
			ec["VpcEndpointIds"] = ids
		}
		if t, ok := m["IpAddressType"]; ok {
			ec["IpAddressType"] = t
		}
		rp["EndpointConfiguration"] = ec
		return nil
	}
	rp["EndpointConfiguration"] = map[string]any{"Types": []any{v}}
	rp["Parameters"] = map[string]any{"endpointConfigurationTypes": v}
	return nil
}

// restGen carries a REST API's definition through the generator's steps.
type restGen struct {
	tr   *translator
	id   string
	p    map[string]any
	body any
}

var corsKeys = []string{"AllowMethods", "AllowHeaders", "AllowOrigin", "MaxAge", "AllowCredentials"}

func (g *restGen) cors() error {
	c := g.p["Cors"]
	if !truthy(c) {
		return nil
	}
	if !truthy(g.body) {
		return invalidf("Cors works only with inline Swagger specified in 'DefinitionBody' property.")
	}
	props := map[string]any{"AllowOrigin": "'*'", "AllowCredentials": false}
	switch x := c.(type) {
	case string:
		props["AllowOrigin"] = x
	case map[string]any:
		if isIntrinsic(x) {
			props["AllowOrigin"] = x
			break
		}
		for _, k := range sortedKeys(x) {
			if !contains(corsKeys, k) {
				return invalidf("Invalid key '%s' for 'Cors' property.", k)
			}
			props[k] = x[k]
		}
	default:
		return invalidf("Invalid value for 'Cors' property")
	}
	if !swaggerValid(g.body) {
		return invalidf("Unable to add Cors configuration because 'DefinitionBody' does not contain a valid Swagger definition.")
	}
	if props["AllowCredentials"] == true && props["AllowOrigin"] == "'*'" {
		return invalidf("Unable to add Cors configuration because 'AllowCredentials' can not be true when 'AllowOrigin' is \"'*'\" or not set")
	}
	e, err := newEditor(g.body, false)
	if err != nil {
		return err
	}
	done := map[string]bool{}
	for _, path := range sortedKeys(e.paths) {
		norm := path
		if path != "/" {
			norm = strings.TrimRight(path, "/")
		}
		if done[norm] {
			continue
		}
		done[norm] = true
		if err := addCORS(e, path, props); err != nil {
			return err
		}
	}
	g.body = e.document()
	return nil
}

var allHTTPMethods = []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}

// addCORS adds the OPTIONS mock integration SAM generates for CORS.
func addCORS(e *editor, path string, props map[string]any) error {
	items, err := e.pathItems(path)
	if err != nil {
		return err
	}
	for _, it := range items {
		if _, ok := it["options"]; ok {
			continue
		}
		origin := props["AllowOrigin"]
		if !truthy(origin) {
			return invalidf("Invalid input. Value for AllowedOrigins is required")
		}
		methods := props["AllowMethods"]
		if !truthy(methods) {
			set := map[string]bool{"OPTIONS": true}
			if _, ok := it[xAnyMethod]; ok {
				for _, m := range allHTTPMethods {
					set[m] = true
				}
			} else {
				for k := range it {
					set[strings.ToUpper(k)] = true
				}
			}
			methods = "'" + strings.Join(sortedKeys(set), ",") + "'"
		}
		params := map[string]any{"method.response.header.Access-Control-Allow-Origin": origin}
		headers := map[string]any{"Access-Control-Allow-Origin": map[string]any{"type": "string"}}
		if h := props["AllowHeaders"]; truthy(h) {
			params["method.response.header.Access-Control-Allow-Headers"] = h
			headers["Access-Control-Allow-Headers"] = map[string]any{"type": "string"}
		}
		params["method.response.header.Access-Control-Allow-Methods"] = methods
		headers["Access-Control-Allow-Methods"] = map[string]any{"type": "string"}
		if ma, ok := props["MaxAge"]; ok && ma != nil {
			params["method.response.header.Access-Control-Max-Age"] = ma
			headers["Access-Control-Max-Age"] = map[string]any{"type": "integer"}
		}
		if props["AllowCredentials"] == true {
			params["method.response.header.Access-Control-Allow-Credentials"] = "'true'"
			headers["Access-Control-Allow-Credentials"] = map[string]any{"type": "string"}
		}
		it["options"] = map[string]any{
			"summary":  "CORS support",
			"consumes": []any{"application/json"},
			"produces": []any{"application/json"},
			xIntegration: map[string]any{
				"type":             "mock",
				"requestTemplates": map[string]any{"application/json": "{\n  \"statusCode\" : 200\n}\n"},
				"responses": map[string]any{"default": map[string]any{
					"statusCode":         "200",
					"responseParameters": params,
					"responseTemplates":  map[string]any{"application/json": "{}\n"},
				}},
			},
			"responses": map[string]any{"200": map[string]any{
				"description": "Default response for CORS method",
				"headers":     headers,
			}},
		}
	}
	return nil
}

var gatewayResponseKeys = []string{"ResponseParameters", "ResponseTemplates", "StatusCode"}

// gatewayResponses writes x-amazon-apigateway-gateway-responses.
func (g *restGen) gatewayResponses() error {
	grs, _ := g.p["GatewayResponses"].(map[string]any)
	if len(grs) == 0 {
		return nil
	}
	if !truthy(g.body) {
		return invalidf("GatewayResponses works only with inline Swagger specified in 'DefinitionBody' property.")
	}
	for _, name := range sortedKeys(grs) {
		v := grs[name]
		if isIntrinsic(v) {
			return invalidf("Unable to set GatewayResponses attribute because intrinsic functions are not supported for this field.")
		}
		m, ok := v.(map[string]any)
		if !ok {
			return invalidf("Invalid property type for GatewayResponses. Expected an object of type 'GatewayResponse'.")
		}
		for _, k := range sortedKeys(m) {
			if !contains(gatewayResponseKeys, k) {
				return invalidf("Invalid property '%s' in 'GatewayResponses' property '%s'.", k, name)
			}
		}
	}
	if !swaggerValid(g.body) {
		return invalidf("Unable to add Auth configuration because 'DefinitionBody' does not contain a valid Swagger definition.")
	}
	e, err := newEditor(g.body, false)
	if err != nil {
		return err
	}
	out, _ := e.doc["x-amazon-apigateway-gateway-responses"].(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	for _, name := range sortedKeys(grs) {
		r := grs[name].(map[string]any)
		params := map[string]any{}
		if rp := r["ResponseParameters"]; truthy(rp) {
			rpm, ok := rp.(map[string]any)
			if !ok {
				return invalidf("Property 'GatewayResponses.%s.ResponseParameters' should be a map.", name)
			}
			for _, k := range sortedKeys(rpm) {
				if k != "Headers" && k != "Paths" && k != "QueryStrings" {
					return invalidf("Invalid gateway response parameter '%s'", k)
				}
			}
			for _, kp := range [][2]string{{"Headers", "header."}, {"Paths", "path."}, {"QueryStrings", "querystring."}} {
				v, ok := rpm[kp[0]]
				if !ok {
					continue
				}
				vm, ok := v.(map[string]any)
				if !ok {
					return invalidf("Property 'ResponseParameters.%s' should be a map.", kp[0])
				}
				for k, pv := range vm {
					params["gatewayresponse."+kp[1]+k] = pv
				}
			}
		}
		sw := map[string]any{"responseParameters": params}
		if rt := r["ResponseTemplates"]; truthy(rt) {
			sw["responseTemplates"] = rt
		} else {
			sw["responseTemplates"] = map[string]any{}
		}
		if sc, ok := r["StatusCode"]; ok && sc != nil {
			code := pyStr(sc)
			if f, isNum := sc.(float64); isNum {
				code = pyNumber(f)
			}
			if truthy(sc) && !statusCode().MatchString(code) {
				return invalidf("Property 'StatusCode' must be numeric")
			}
			if code != "" {
				sw["statusCode"] = code
			}
		}
		out[name] = sw
	}
	e.doc["x-amazon-apigateway-gateway-responses"] = out
	g.body = e.document()
	return nil
}

var statusCode = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]{1,3}$`) })

func (g *restGen) binaryMediaTypes() error {
	bmt := g.p["BinaryMediaTypes"]
	if !truthy(bmt) || !truthy(g.body) {
		return nil
	}
	e, err := newEditor(g.body, false)
	if err != nil {
		return err
	}
	e.doc["x-amazon-apigateway-binary-media-types"] = replaceTilde(deepCopy(bmt))
	g.body = e.document()
	return nil
}

func replaceTilde(v any) any {
	switch x := v.(type) {
	case string:
		return strings.ReplaceAll(x, "~1", "/")
	case []any:
		for i, e := range x {
			x[i] = replaceTilde(e)
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[strings.ReplaceAll(k, "~1", "/")] = replaceTilde(e)
		}
		return out
	}
	return v
}

func (g *restGen) models() error {
	models := g.p["Models"]
	if !truthy(models) {
		return nil
	}
	if !truthy(g.body) {
		return invalidf("Models works only with inline Swagger specified in 'DefinitionBody' property.")
	}
	if !swaggerValid(g.body) {
		return invalidf("Unable to add Models definitions because 'DefinitionBody' does not contain a valid Swagger definition.")
	}
	mm, _ := models.(map[string]any)
	for _, v := range mm {
		if _, ok := v.(map[string]any); !ok {
			return invalidf("Invalid value for 'Models' property")
		}
	}
	e, err := newEditor(g.body, false)
	if err != nil {
		return err
	}
	defs, _ := e.doc["definitions"].(map[string]any)
	if defs == nil {
		defs = map[string]any{}
	}
	for name, schema := range mm {
		if !truthy(schema.(map[string]any)["type"]) {
			return invalidf("'Models' schema is missing 'type'.")
		}
		defs[strings.ToLower(name)] = schema
	}
	e.doc["definitions"] = defs
	g.body = g.openAPIPostprocess(e.document())
	return nil
}

// openAPIPostprocess moves Swagger 2 sections to OpenAPI 3 places when
// OpenApiVersion is 3.x (ApiGenerator._openapi_postprocess).
func (g *restGen) openAPIPostprocess(body map[string]any) map[string]any {
	if body["swagger"] != nil {
		return body
	}
	version := g.p["OpenApiVersion"]
	if body["openapi"] != nil && version == nil {
		version = body["openapi"]
	}
	if version == nil || !openAPI3().MatchString(pyStr(version)) {
		return body
	}
	if sd := body["securityDefinitions"]; truthy(sd) {
		comp, _ := body["components"].(map[string]any)
		if comp == nil {
			comp = map[string]any{}
		}
		comp["securitySchemes"] = sd
		body["components"] = comp
		delete(body, "securityDefinitions")
	}
	if d := body["definitions"]; truthy(d) {
		comp, _ := body["components"].(map[string]any)
		if comp == nil {
			comp = map[string]any{}
		}
		comp["schemas"] = d
		body["components"] = comp
		delete(body, "definitions")
	}
	paths, _ := body["paths"].(map[string]any)
	for _, item := range paths {
		im, _ := item.(map[string]any)
		opts, ok := im["options"].(map[string]any)
		if !ok {
			continue
		}
		delete(opts, "produces")
		delete(opts, "consumes")
		resp, _ := opts["responses"].(map[string]any)
		r200, _ := resp["200"].(map[string]any)
		headers, _ := r200["headers"].(map[string]any)
		for h, v := range headers {
			headers[h] = map[string]any{"schema": v}
		}
	}
	return body
}
