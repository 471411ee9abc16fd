package resource_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
)

// TestCustomDomainNamesDeploy deploys custom domain names as templates
// declare them — an AWS::ApiGateway::DomainName with a BasePathMapping to
// a REST API stage, an AWS::ApiGatewayV2::DomainName with an ApiMapping
// to an HTTP API — and calls them through the node by Host: the mapped
// stage answers; a path no mapping names, and a Host that is no domain,
// do not reach any API.
func TestCustomDomainNamesDeploy(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	fn, fnArn := e.apiFunction(t, "v1")
	rest := e.create(t, "Api", "AWS::ApiGateway::RestApi", map[string]any{"Body": openAPI("rest", fnArn, "/hello")})
	dep := e.create(t, "Dep", "AWS::ApiGateway::Deployment", map[string]any{"RestApiId": rest.PhysicalID, "StageName": "Prod"})
	httpAPI := e.create(t, "HttpApi", "AWS::ApiGatewayV2::Api", map[string]any{"Body": openAPI("http", fnArn, "/hello")})
	st := e.create(t, "HttpStage", "AWS::ApiGatewayV2::Stage", map[string]any{"ApiId": httpAPI.PhysicalID, "StageName": "$default", "AutoDeploy": true})

	cert := "arn:aws:acm:us-east-1:000000000000:certificate/11111111-2222-3333-4444-555555555555"
	d1 := e.create(t, "RestDomain", "AWS::ApiGateway::DomainName", map[string]any{"DomainName": "rest.example.com",
		"RegionalCertificateArn": cert, "EndpointConfiguration": map[string]any{"Types": []any{"REGIONAL"}}})
	if d1.PhysicalID != "rest.example.com" || d1.Attrs["RegionalDomainName"] == "" {
		t.Errorf("DomainName = %s %v", d1.PhysicalID, d1.Attrs)
	}
	bp := e.create(t, "RestMapping", "AWS::ApiGateway::BasePathMapping", map[string]any{"DomainName": "rest.example.com",
		"RestApiId": rest.PhysicalID, "Stage": "Prod", "BasePath": "v1"})
	d2 := e.create(t, "HttpDomain", "AWS::ApiGatewayV2::DomainName", map[string]any{"DomainName": "http.example.com",
		"DomainNameConfigurations": []any{map[string]any{"CertificateArn": cert, "EndpointType": "REGIONAL"}}})
	am := e.create(t, "HttpMapping", "AWS::ApiGatewayV2::ApiMapping", map[string]any{"DomainName": "http.example.com",
		"ApiId": httpAPI.PhysicalID, "Stage": "$default", "ApiMappingKey": "api/v2"})

	// The events carry the path the client sent, base path included, as
	// API Gateway's do (routes match below it).
	if status, body := e.hostRequest(t, "rest.example.com", "GET", "/v1/hello"); status != 200 || body != "v1 /v1/hello" {
		t.Errorf("GET http://rest.example.com/v1/hello = %d %q", status, body)
	}
	if status, body := e.hostRequest(t, "http.example.com:443", "GET", "/api/v2/hello"); status != 200 || body != "v1 /api/v2/hello" {
		t.Errorf("GET http://http.example.com/api/v2/hello = %d %q", status, body)
	}
	// The certificate is recorded (the node serves its own).
	got, err := e.apigw2.GetDomainName(ctx, &apigatewayv2.GetDomainNameInput{DomainName: aws.String("http.example.com")})
	if err != nil || len(got.DomainNameConfigurations) != 1 || aws.ToString(got.DomainNameConfigurations[0].CertificateArn) != cert {
		t.Errorf("GetDomainName = %+v %v", got, err)
	}
	v1, err := e.apigw.GetDomainName(ctx, &apigateway.GetDomainNameInput{DomainName: aws.String("rest.example.com")})
	if err != nil || aws.ToString(v1.RegionalCertificateArn) != cert {
		t.Errorf("GetDomainName (REST) = %+v %v", v1, err)
	}
	// Attacks: a path no mapping names is API Gateway's 403; a Host that
	// is no domain reaches no API.
	for _, c := range []struct{ host, path string }{{"rest.example.com", "/v2/hello"}, {"rest.example.com", "/hello"}, {"http.example.com", "/api/hello"}} {
		if status, body := e.hostRequest(t, c.host, "GET", c.path); status != 403 || !strings.Contains(body, "Forbidden") {
			t.Errorf("GET %s%s = %d %q, want 403 Forbidden", c.host, c.path, status, body)
		}
	}
	if status, body := e.hostRequest(t, "other.example.com", "GET", "/v1/hello"); status == 200 || strings.Contains(body, "v1 /") {
		t.Errorf("an unknown domain reached the API: %d %q", status, body)
	}

	// Moving the mapping to another key: the old path is gone.
	am = e.update(t, am, map[string]any{"DomainName": "http.example.com", "ApiId": httpAPI.PhysicalID, "Stage": "$default", "ApiMappingKey": "v3"})
	if status, _ := e.hostRequest(t, "http.example.com", "GET", "/v3/hello"); status != 200 {
		t.Errorf("after the mapping's update: %d", status)
	}
	e.delete(t, am)
	e.delete(t, d2)
	e.delete(t, bp)
	e.delete(t, d1)
	if status, body := e.hostRequest(t, "rest.example.com", "GET", "/v1/hello"); status == 200 {
		t.Errorf("deleted domain still answers: %d %q", status, body)
	}
	e.delete(t, st)
	e.delete(t, httpAPI)
	e.delete(t, dep)
	e.delete(t, rest)
	e.delete(t, fn)
}
