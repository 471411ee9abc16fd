package resource_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// TestHTTPAPIFromBody deploys an HTTP API as SAM's AWS::Serverless::HttpApi
// makes it (an Api with a Body and a $default stage that deploys
// automatically), calls it, reimports a changed body, and deletes it.
func TestHTTPAPIFromBody(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	fn, fnArn := e.apiFunction(t, "v1")

	api := e.create(t, "HttpApi", "AWS::ApiGatewayV2::Api", map[string]any{
		"Body": openAPI("from-body", fnArn, "/hello"), "Name": "renamed", "Description": "d1",
	})
	id := api.PhysicalID
	if api.Attrs["ApiId"] != id || !strings.HasPrefix(api.Attrs["ApiEndpoint"].(string), "http://"+id+".execute-api.") {
		t.Errorf("attributes = %v", api.Attrs)
	}
	got, err := e.apigw2.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: &id})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.Name) != "renamed" || aws.ToString(got.Description) != "d1" {
		t.Errorf("imported API = %q %q: Name and Description override the body", aws.ToString(got.Name), aws.ToString(got.Description))
	}
	stage := e.create(t, "HttpApiStage", "AWS::ApiGatewayV2::Stage", map[string]any{
		"ApiId": id, "StageName": "$default", "AutoDeploy": true,
		"DefaultRouteSettings": map[string]any{"ThrottlingBurstLimit": "20", "ThrottlingRateLimit": float64(10)},
	})
	if stage.PhysicalID != "$default" {
		t.Errorf("stage Ref = %s", stage.PhysicalID)
	}
	if status, body := e.call(t, id, "GET", "/hello"); status != 200 || body != "v1 /hello" {
		t.Fatalf("GET /hello = %d %q", status, body)
	}

	api = e.update(t, api, map[string]any{"Body": openAPI("from-body", fnArn, "/hello", "/bye"), "Name": "renamed"})
	if status, body := e.call(t, id, "GET", "/bye"); status != 200 || body != "v1 /bye" {
		t.Fatalf("GET /bye after reimport = %d %q", status, body)
	}
	stage = e.update(t, stage, map[string]any{"ApiId": id, "StageName": "$default", "AutoDeploy": true,
		"StageVariables": map[string]any{"env": "dev"}})
	st, err := e.apigw2.GetStage(ctx, &apigatewayv2.GetStageInput{ApiId: &id, StageName: aws.String("$default")})
	if err != nil {
		t.Fatal(err)
	}
	if st.StageVariables["env"] != "dev" {
		t.Errorf("stage variables = %v", st.StageVariables)
	}

	e.delete(t, stage)
	e.delete(t, api)
	if _, err := e.apigw2.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: &id}); err == nil {
		t.Error("deleted API still exists")
	}
	if status, _ := e.call(t, id, "GET", "/hello"); status == 200 {
		t.Error("deleted API still answers")
	}

	// Quick create: a Target makes the route, integration and stage.
	quick := e.create(t, "Quick", "AWS::ApiGatewayV2::Api", map[string]any{"Name": "quick", "ProtocolType": "HTTP", "Target": fnArn})
	if status, body := e.call(t, quick.PhysicalID, "GET", "/anything"); status != 200 || body != "v1 /anything" {
		t.Fatalf("quick-create API = %d %q", status, body)
	}
	quick = e.update(t, quick, map[string]any{"Name": "quick2", "ProtocolType": "HTTP", "Target": fnArn})
	got, err = e.apigw2.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: &quick.PhysicalID})
	if err != nil || aws.ToString(got.Name) != "quick2" {
		t.Errorf("quick-create API after update = %v, %v", got, err)
	}
	// A new protocol needs a new API: a WebSocket API is another API.
	ws := map[string]any{"Name": "quick2", "ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.action"}
	p := e.ps["AWS::ApiGatewayV2::Api"]
	if _, err := p.Update(ctx, request("Quick", "AWS::ApiGatewayV2::Api", ws), quick); !errors.Is(err, stack.ErrReplace) {
		t.Errorf("protocol change = %v, want ErrReplace", err)
	}
	wsAPI, err := p.Create(ctx, request("Quick", "AWS::ApiGatewayV2::Api", ws))
	if err != nil || wsAPI.PhysicalID == quick.PhysicalID {
		t.Fatalf("create WEBSOCKET API = %v, %v", wsAPI, err)
	}
	e.delete(t, quick)
	if _, err := e.apigw2.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: &quick.PhysicalID}); err == nil {
		t.Error("deleted API still exists")
	}
	e.delete(t, fn)
}

// TestHTTPAPIFromResources builds an HTTP API from plain resources: an
// integration, a route, an authorizer, a deployment and a stage; updates
// the route in place; replaces the deployment; and deletes them.
func TestHTTPAPIFromResources(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	fn, fnArn := e.apiFunction(t, "v1")

	api := e.create(t, "Api", "AWS::ApiGatewayV2::Api", map[string]any{"Name": "plain", "ProtocolType": "HTTP"})
	id := api.PhysicalID
	integ := e.create(t, "Integ", "AWS::ApiGatewayV2::Integration", map[string]any{
		"ApiId": id, "IntegrationType": "AWS_PROXY", "IntegrationUri": fnArn, "PayloadFormatVersion": "2.0",
	})
	route := e.create(t, "Route", "AWS::ApiGatewayV2::Route", map[string]any{
		"ApiId": id, "RouteKey": "GET /items", "Target": "integrations/" + integ.PhysicalID,
	})
	authz := e.create(t, "Auth", "AWS::ApiGatewayV2::Authorizer", map[string]any{
		"ApiId": id, "Name": "jwt", "AuthorizerType": "JWT", "IdentitySource": []any{"$request.header.Authorization"},
		"JwtConfiguration": map[string]any{"Audience": []any{"aud"}, "Issuer": "https://issuer.example.com"},
	})
	dep := e.create(t, "Dep1", "AWS::ApiGatewayV2::Deployment", map[string]any{"ApiId": id})
	stage := e.create(t, "Stage", "AWS::ApiGatewayV2::Stage", map[string]any{"ApiId": id, "StageName": "prod", "DeploymentId": dep.PhysicalID})
	if status, body := e.call(t, id, "GET", "/prod/items"); status != 200 || body != "v1 /prod/items" {
		t.Fatalf("GET /prod/items = %d %q", status, body)
	}
	a, err := e.apigw2.GetAuthorizer(ctx, &apigatewayv2.GetAuthorizerInput{ApiId: &id, AuthorizerId: &authz.PhysicalID})
	if err != nil || a.JwtConfiguration == nil || aws.ToString(a.JwtConfiguration.Issuer) != "https://issuer.example.com" {
		t.Errorf("authorizer = %+v, %v", a, err)
	}

	// In place: the route moves; a new deployment carries it to the stage.
	route = e.update(t, route, map[string]any{"ApiId": id, "RouteKey": "GET /things", "Target": "integrations/" + integ.PhysicalID})
	integ = e.update(t, integ, map[string]any{
		"ApiId": id, "IntegrationType": "AWS_PROXY", "IntegrationUri": fnArn, "PayloadFormatVersion": "2.0", "TimeoutInMillis": "5000",
	})
	dep2 := e.replace(t, dep, map[string]any{"ApiId": id, "Description": "second"})
	stage = e.update(t, stage, map[string]any{"ApiId": id, "StageName": "prod", "DeploymentId": dep2.PhysicalID})
	if status, body := e.call(t, id, "GET", "/prod/things"); status != 200 || body != "v1 /prod/things" {
		t.Fatalf("GET /prod/things = %d %q", status, body)
	}
	if status, _ := e.call(t, id, "GET", "/prod/items"); status != 404 {
		t.Errorf("the old route answers %d after the update", status)
	}
	in, err := e.apigw2.GetIntegration(ctx, &apigatewayv2.GetIntegrationInput{ApiId: &id, IntegrationId: &integ.PhysicalID})
	if err != nil || aws.ToInt32(in.TimeoutInMillis) != 5000 {
		t.Errorf("integration after update = %+v, %v", in, err)
	}

	_, err = e.ps["AWS::ApiGatewayV2::Route"].Create(ctx, request("Bad", "AWS::ApiGatewayV2::Route", map[string]any{"ApiId": id, "RouteKey": "FETCH"}))
	wantErr(t, err, "Resource handler returned message:", "invalid RouteKey FETCH", "(Service: AmazonApiGatewayV2, Status Code: 400")

	for _, r := range []*stack.Resource{stage, dep2, authz, route, integ, api, fn} {
		e.delete(t, r)
	}
	if _, err := e.apigw2.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: &id}); err == nil {
		t.Error("deleted API still exists")
	}
}

// TestHTTPAPIServiceIntegrationsDeploy deploys what a SAM HttpApi with
// direct integrations becomes: a Body with an SQS-SendMessage service
// integration and an HTTP proxy, and a plain AWS::ApiGatewayV2::Integration
// of subtype EventBridge-PutEvents with parameter mappings; an AppConfig
// subtype is refused by name.
func TestHTTPAPIServiceIntegrationsDeploy(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	role := "arn:aws:iam::000000000000:role/apigw-direct"
	body := map[string]any{"openapi": "3.0.1", "info": map[string]any{"title": "direct", "version": "1"},
		"paths": map[string]any{
			"/orders": map[string]any{"post": map[string]any{"x-amazon-apigateway-integration": map[string]any{
				"type": "aws_proxy", "integrationSubtype": "SQS-SendMessage", "credentials": role, "payloadFormatVersion": "1.0",
				"requestParameters": map[string]any{"QueueUrl": "http://q/000000000000/orders", "MessageBody": "$request.body"}}}},
			"/up/{proxy+}": map[string]any{"x-amazon-apigateway-any-method": map[string]any{"x-amazon-apigateway-integration": map[string]any{
				"type": "http_proxy", "httpMethod": "ANY", "uri": "http://127.0.0.1:9/{proxy}", "payloadFormatVersion": "1.0"}}},
		}}
	api := e.create(t, "HttpApi", "AWS::ApiGatewayV2::Api", map[string]any{"Body": body})
	id := api.PhysicalID
	integ := e.create(t, "Events", "AWS::ApiGatewayV2::Integration", map[string]any{
		"ApiId": id, "IntegrationType": "AWS_PROXY", "IntegrationSubtype": "EventBridge-PutEvents", "CredentialsArn": role,
		"PayloadFormatVersion": "1.0",
		"RequestParameters":    map[string]any{"Detail": "$request.body", "DetailType": "placed", "Source": "shop"},
		"ResponseParameters":   map[string]any{"200": map[string]any{"overwrite:statuscode": "204"}},
	})
	out, err := e.apigw2.GetIntegrations(ctx, &apigatewayv2.GetIntegrationsInput{ApiId: &id})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, x := range out.Items {
		seen[string(x.IntegrationType)+"/"+aws.ToString(x.IntegrationSubtype)+"/"+aws.ToString(x.CredentialsArn)] = true
		if aws.ToString(x.IntegrationId) == integ.PhysicalID && x.ResponseParameters["200"]["overwrite:statuscode"] != "204" {
			t.Errorf("response parameters = %v", x.ResponseParameters)
		}
	}
	for _, k := range []string{"AWS_PROXY/SQS-SendMessage/" + role, "HTTP_PROXY//", "AWS_PROXY/EventBridge-PutEvents/" + role} {
		if !seen[k] {
			t.Errorf("integration %s missing: %v", k, seen)
		}
	}
	p := e.ps["AWS::ApiGatewayV2::Integration"]
	if _, err := p.Create(ctx, request("Cfg", "AWS::ApiGatewayV2::Integration", map[string]any{"ApiId": id, "IntegrationType": "AWS_PROXY",
		"IntegrationSubtype": "AppConfig-GetConfiguration", "CredentialsArn": role, "PayloadFormatVersion": "1.0",
		"RequestParameters": map[string]any{"Application": "a", "Environment": "e", "Configuration": "c", "ClientId": "x"}})); err == nil || !strings.Contains(err.Error(), "AppConfig") {
		t.Errorf("AppConfig subtype = %v", err)
	}
	e.delete(t, integ)
	e.delete(t, api)
}
