package resource_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	agtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// TestRestAPIExtraTypes creates, reads back and deletes the REST types
// beside methods, and checks the refused ones name themselves.
func TestRestAPIExtraTypes(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	api := e.create(t, "Api", "AWS::ApiGateway::RestApi", map[string]any{"Name": "extra"})
	id := api.PhysicalID
	model := e.create(t, "ThingModel", "AWS::ApiGateway::Model", map[string]any{"RestApiId": id, "ContentType": "application/json",
		"Schema": map[string]any{"type": "object", "required": []any{"name"}}})
	m, err := e.apigw.GetModel(ctx, &apigateway.GetModelInput{RestApiId: &id, ModelName: &model.PhysicalID})
	if err != nil || !strings.Contains(aws.ToString(m.Schema), `"required"`) {
		t.Fatalf("GetModel = %+v %v", m, err)
	}
	val := e.create(t, "BodyValidator", "AWS::ApiGateway::RequestValidator", map[string]any{"RestApiId": id, "ValidateRequestBody": true})
	if val.Attrs["RequestValidatorId"] != val.PhysicalID {
		t.Errorf("validator attrs %v", val.Attrs)
	}
	gr := e.create(t, "NotFound", "AWS::ApiGateway::GatewayResponse", map[string]any{"RestApiId": id, "ResponseType": "MISSING_AUTHENTICATION_TOKEN",
		"StatusCode": "404", "ResponseTemplates": map[string]any{"application/json": `{"error":"no route"}`}})
	got, err := e.apigw.GetGatewayResponse(ctx, &apigateway.GetGatewayResponseInput{RestApiId: &id, ResponseType: agtypes.GatewayResponseTypeMissingAuthenticationToken})
	if err != nil || aws.ToString(got.StatusCode) != "404" || got.DefaultResponse {
		t.Fatalf("GetGatewayResponse = %+v %v", got, err)
	}
	gr = e.update(t, gr, map[string]any{"RestApiId": id, "ResponseType": "MISSING_AUTHENTICATION_TOKEN", "StatusCode": "410"})
	part := e.create(t, "ApiDoc", "AWS::ApiGateway::DocumentationPart", map[string]any{"RestApiId": id,
		"Location": map[string]any{"Type": "API"}, "Properties": map[string]any{"description": "the extra API"}})
	ver := e.create(t, "DocV1", "AWS::ApiGateway::DocumentationVersion", map[string]any{"RestApiId": id, "DocumentationVersion": "v1"})
	acct := e.create(t, "Account", "AWS::ApiGateway::Account", map[string]any{"CloudWatchRoleArn": "arn:aws:iam::000000000000:role/cw"})
	a, err := e.apigw.GetAccount(ctx, &apigateway.GetAccountInput{})
	if err != nil || aws.ToString(a.CloudwatchRoleArn) != "arn:aws:iam::000000000000:role/cw" {
		t.Fatalf("GetAccount = %+v %v", a, err)
	}
	for _, r := range []*stack.Resource{ver, part, gr, val, model, acct} {
		e.delete(t, r)
	}
	if _, err := e.apigw.GetModel(ctx, &apigateway.GetModelInput{RestApiId: &id, ModelName: &model.PhysicalID}); err == nil {
		t.Error("the model outlived its delete")
	}
	for _, typ := range []string{"AWS::ApiGateway::VpcLink"} {
		_, err := e.ps[typ].Create(ctx, request("X", typ, map[string]any{}))
		if err == nil || !strings.Contains(err.Error(), typ) {
			t.Errorf("%s: %v, want a refusal naming it", typ, err)
		}
	}
}
