package resource_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

const apiSource = `def handler(event, context):
    return {"statusCode": 200, "body": "%s " + (event.get("path") or event.get("rawPath") or "")}
`

// apiFunction creates a Python function answering API Gateway proxy
// events with "<version> <path>" and returns it and its ARN.
func (e *env) apiFunction(t *testing.T, version string) (*stack.Resource, string) {
	t.Helper()
	fn := e.create(t, "ApiFn", "AWS::Lambda::Function", map[string]any{
		"Runtime": "python3.12", "Handler": "index.handler", "Role": testRole,
		"Code": map[string]any{"ZipFile": strings.Replace(apiSource, "%s", version, 1)},
	})
	return fn, fn.Attrs["Arn"].(string)
}

func integrationURI(fnArn string) string {
	return "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fnArn + "/invocations"
}

// openAPI is a definition with one GET route per path, all to fnArn.
func openAPI(title, fnArn string, paths ...string) map[string]any {
	ps := map[string]any{}
	for _, p := range paths {
		ps[p] = map[string]any{"get": map[string]any{"x-amazon-apigateway-integration": map[string]any{
			"type": "aws_proxy", "httpMethod": "POST", "uri": integrationURI(fnArn), "payloadFormatVersion": "2.0",
		}}}
	}
	return map[string]any{"openapi": "3.0.1", "info": map[string]any{"title": title, "version": "1.0"}, "paths": ps}
}

// call sends a request to an API by its execute-api host name.
func (e *env) call(t *testing.T, apiID, method, path string) (int, string) {
	t.Helper()
	return e.hostRequest(t, apiID+".execute-api.us-east-1.localhost", method, path)
}

// TestRestAPIFromBody deploys a REST API as SAM's AWS::Serverless::Api
// makes it (a RestApi with a Body, a Deployment with StageName Stage, a
// Stage, a Permission), calls it, changes its body (PutRestApi), replaces
// the deployment, updates the stage, and deletes it all.
func TestRestAPIFromBody(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	fn, fnArn := e.apiFunction(t, "v1")

	api := e.create(t, "Api", "AWS::ApiGateway::RestApi", map[string]any{
		"Body": openAPI("from-body", fnArn, "/hello"), "Name": "named-api", "BinaryMediaTypes": []any{"image/png"},
	})
	id := api.PhysicalID
	got, err := e.apigw.GetRestApi(ctx, &apigateway.GetRestApiInput{RestApiId: &id})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.Name) != "named-api" || len(got.BinaryMediaTypes) != 1 || got.BinaryMediaTypes[0] != "image/png" {
		t.Errorf("imported API = name %q binary %v: Name and BinaryMediaTypes override the body", aws.ToString(got.Name), got.BinaryMediaTypes)
	}
	if api.Attrs["RootResourceId"] != aws.ToString(got.RootResourceId) || api.Attrs["RootResourceId"] == "" {
		t.Errorf("RootResourceId = %v, API says %s", api.Attrs["RootResourceId"], aws.ToString(got.RootResourceId))
	}
	perm := e.create(t, "ApiPermission", "AWS::Lambda::Permission", map[string]any{
		"Action": "lambda:InvokeFunction", "FunctionName": fn.PhysicalID, "Principal": "apigateway.amazonaws.com",
		"SourceArn": "arn:aws:execute-api:us-east-1:000000000000:" + id + "/*/*/*",
	})
	dep := e.create(t, "ApiDeployment1", "AWS::ApiGateway::Deployment", map[string]any{
		"RestApiId": id, "Description": "first", "StageName": "Stage",
	})
	stage := e.create(t, "ApiProdStage", "AWS::ApiGateway::Stage", map[string]any{
		"RestApiId": id, "DeploymentId": dep.PhysicalID, "StageName": "Prod",
		"Variables":      map[string]any{"env": "prod", "gone": "soon"},
		"MethodSettings": []any{map[string]any{"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingBurstLimit": "100", "ThrottlingRateLimit": float64(50)}},
	})
	if stage.PhysicalID != "Prod" {
		t.Errorf("stage Ref = %s, want Prod", stage.PhysicalID)
	}
	if status, body := e.call(t, id, "GET", "/Prod/hello"); status != 200 || body != "v1 /hello" {
		t.Fatalf("GET /Prod/hello = %d %q", status, body)
	}
	if status, _ := e.call(t, id, "GET", "/Stage/hello"); status != 200 {
		t.Errorf("the deployment's own stage answers %d", status)
	}
	st, err := e.apigw.GetStage(ctx, &apigateway.GetStageInput{RestApiId: &id, StageName: aws.String("Prod")})
	if err != nil {
		t.Fatal(err)
	}
	if ms := st.MethodSettings["*/*"]; ms.ThrottlingBurstLimit != 100 || ms.ThrottlingRateLimit != 50 {
		t.Errorf("method settings = %+v", st.MethodSettings)
	}

	// A new body: PutRestApi overwrites the API in place; SAM gives the
	// deployment a new logical id, and the stage moves to it.
	api = e.update(t, api, map[string]any{"Body": openAPI("from-body", fnArn, "/hello", "/bye"), "Name": "named-api"})
	if api.PhysicalID != id {
		t.Fatalf("body update replaced the API: %s", api.PhysicalID)
	}
	got, err = e.apigw.GetRestApi(ctx, &apigateway.GetRestApiInput{RestApiId: &id})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.BinaryMediaTypes) != 0 {
		t.Errorf("binary media types after their removal = %v", got.BinaryMediaTypes)
	}
	dep2 := e.replace(t, dep, map[string]any{"RestApiId": id, "Description": "second", "StageName": "Stage"})
	stage = e.update(t, stage, map[string]any{
		"RestApiId": id, "DeploymentId": dep2.PhysicalID, "StageName": "Prod", "Variables": map[string]any{"env": "production"},
		"MethodSettings": []any{map[string]any{"ResourcePath": "/bye", "HttpMethod": "GET", "ThrottlingBurstLimit": float64(7)}},
	})
	if status, body := e.call(t, id, "GET", "/Prod/bye"); status != 200 || body != "v1 /bye" {
		t.Fatalf("GET /Prod/bye after the update = %d %q", status, body)
	}
	st, err = e.apigw.GetStage(ctx, &apigateway.GetStageInput{RestApiId: &id, StageName: aws.String("Prod")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(st.DeploymentId) != dep2.PhysicalID || len(st.Variables) != 1 || st.Variables["env"] != "production" {
		t.Errorf("stage after update: deployment %s variables %v", aws.ToString(st.DeploymentId), st.Variables)
	}
	if _, ok := st.MethodSettings["*/*"]; ok || st.MethodSettings["~1bye/GET"].ThrottlingBurstLimit != 7 {
		t.Errorf("method settings after update = %+v", st.MethodSettings)
	}

	// Stack deletion, in reverse order.
	e.delete(t, stage)
	e.delete(t, dep2)
	pol, err := e.lambda.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: &fn.PhysicalID})
	if err != nil || !strings.Contains(aws.ToString(pol.Policy), perm.PhysicalID) {
		t.Errorf("policy = %v, %v; want statement %s", pol, err, perm.PhysicalID)
	}
	e.delete(t, perm)
	_, err = e.lambda.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: &fn.PhysicalID})
	wantErr(t, err, "ResourceNotFoundException")
	e.delete(t, api)
	e.delete(t, fn)
	if _, err := e.apigw.GetRestApi(ctx, &apigateway.GetRestApiInput{RestApiId: &id}); err == nil {
		t.Error("deleted REST API still exists")
	}
	if status, _ := e.call(t, id, "GET", "/Prod/hello"); status == 200 {
		t.Error("deleted REST API still answers")
	}
}

// TestRestAPIFromResources builds a REST API from plain resources (a
// Resource, a Method with an integration and responses, an Authorizer,
// a Deployment, an ApiKey, a UsagePlan and its key), updates the method
// in place, replaces the resource, and deletes them all.
func TestRestAPIFromResources(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	fn, fnArn := e.apiFunction(t, "v1")

	api := e.create(t, "Api", "AWS::ApiGateway::RestApi", map[string]any{"Name": "plain", "Description": "d"})
	id := api.PhysicalID
	res := e.create(t, "Items", "AWS::ApiGateway::Resource", map[string]any{
		"RestApiId": id, "ParentId": api.Attrs["RootResourceId"], "PathPart": "items",
	})
	methodProps := func(auth string, extra map[string]any) map[string]any {
		p := map[string]any{
			"RestApiId": id, "ResourceId": res.PhysicalID, "HttpMethod": "get", "AuthorizationType": auth,
			"Integration":     map[string]any{"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST", "Uri": integrationURI(fnArn)},
			"MethodResponses": []any{map[string]any{"StatusCode": "200"}},
		}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	method := e.create(t, "ItemsGet", "AWS::ApiGateway::Method", methodProps("NONE", nil))
	if want := id + "|" + res.PhysicalID + "|GET"; method.PhysicalID != want {
		t.Errorf("method id = %s, want %s", method.PhysicalID, want)
	}
	authz := e.create(t, "Auth", "AWS::ApiGateway::Authorizer", map[string]any{
		"RestApiId": id, "Name": "tok", "Type": "TOKEN", "AuthorizerUri": integrationURI(fnArn),
		"IdentitySource": "method.request.header.Authorization",
	})
	dep := e.create(t, "Dep", "AWS::ApiGateway::Deployment", map[string]any{"RestApiId": id, "StageName": "dev"})
	if status, body := e.call(t, id, "GET", "/dev/items"); status != 200 || body != "v1 /items" {
		t.Fatalf("GET /dev/items = %d %q", status, body)
	}

	// In place: the method now needs the authorizer.
	method = e.update(t, method, methodProps("CUSTOM", map[string]any{"AuthorizerId": authz.PhysicalID}))
	m, err := e.apigw.GetMethod(ctx, &apigateway.GetMethodInput{RestApiId: &id, ResourceId: &res.PhysicalID, HttpMethod: aws.String("GET")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(m.AuthorizationType) != "CUSTOM" || aws.ToString(m.AuthorizerId) != authz.PhysicalID || m.MethodIntegration == nil {
		t.Errorf("method after update = auth %s %s integration %v", aws.ToString(m.AuthorizationType), aws.ToString(m.AuthorizerId), m.MethodIntegration)
	}

	key := e.create(t, "Key", "AWS::ApiGateway::ApiKey", map[string]any{"Enabled": true, "Value": "0123456789abcdefghij"})
	plan := e.create(t, "Plan", "AWS::ApiGateway::UsagePlan", map[string]any{
		"ApiStages": []any{map[string]any{"ApiId": id, "Stage": "dev"}},
		"Throttle":  map[string]any{"BurstLimit": "10", "RateLimit": float64(5)},
		"Quota":     map[string]any{"Limit": float64(1000), "Period": "DAY"},
	})
	planKey := e.create(t, "PlanKey", "AWS::ApiGateway::UsagePlanKey", map[string]any{
		"KeyId": key.PhysicalID, "KeyType": "API_KEY", "UsagePlanId": plan.PhysicalID,
	})
	k, err := e.apigw.GetApiKey(ctx, &apigateway.GetApiKeyInput{ApiKey: &key.PhysicalID})
	if err != nil || !strings.HasPrefix(aws.ToString(k.Name), stackName+"-Key-") || !k.Enabled {
		t.Errorf("API key = %+v, %v", k, err)
	}
	up, err := e.apigw.GetUsagePlan(ctx, &apigateway.GetUsagePlanInput{UsagePlanId: &plan.PhysicalID})
	if err != nil || up.Throttle == nil || up.Throttle.BurstLimit != 10 || up.Quota == nil || up.Quota.Limit != 1000 || len(up.ApiStages) != 1 {
		t.Errorf("usage plan = %+v, %v", up, err)
	}
	keys, err := e.apigw.GetUsagePlanKeys(ctx, &apigateway.GetUsagePlanKeysInput{UsagePlanId: &plan.PhysicalID})
	if err != nil || len(keys.Items) != 1 || aws.ToString(keys.Items[0].Id) != planKey.PhysicalID {
		t.Errorf("usage plan keys = %+v, %v", keys, err)
	}

	// Replacing the resource: a new path.
	res2 := e.replace(t, res, map[string]any{"RestApiId": id, "ParentId": api.Attrs["RootResourceId"], "PathPart": "things"})
	rs, err := e.apigw.GetResources(ctx, &apigateway.GetResourcesInput{RestApiId: &id})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, r := range rs.Items {
		paths = append(paths, aws.ToString(r.Path))
	}
	if strings.Join(paths, ",") != "/,/things" && strings.Join(paths, ",") != "/things,/" {
		t.Errorf("paths after replacing the resource = %v", paths)
	}

	// An API's refusal is the resource's error.
	_, err = e.ps["AWS::ApiGateway::Resource"].Create(ctx, request("Bad", "AWS::ApiGateway::Resource", map[string]any{
		"RestApiId": id, "ParentId": "nope", "PathPart": "x",
	}))
	wantErr(t, err, "Resource handler returned message:", "(Service: ApiGateway, Status Code: 404")

	for _, r := range []*stack.Resource{planKey, plan, key, dep, authz, method, res2, api} {
		e.delete(t, r)
	}
	if _, err := e.apigw.GetApiKey(ctx, &apigateway.GetApiKeyInput{ApiKey: &key.PhysicalID}); err == nil {
		t.Error("deleted API key still exists")
	}
	if _, err := e.apigw.GetUsagePlan(ctx, &apigateway.GetUsagePlanInput{UsagePlanId: &plan.PhysicalID}); err == nil {
		t.Error("deleted usage plan still exists")
	}
	if _, err := e.apigw.GetRestApi(ctx, &apigateway.GetRestApiInput{RestApiId: &id}); err == nil {
		t.Error("deleted REST API still exists")
	}
	e.delete(t, fn)
}
