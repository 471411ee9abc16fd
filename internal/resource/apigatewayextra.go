package resource

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	agtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// The REST API types beside methods: models, request validators, gateway
// responses, documentation parts and versions, the account's settings;
// and the ones Nimbus refuses by name (VPC links, custom domain names and
// their base path mappings, client certificates).
func addAPIGatewayExtra(c *clients, ps map[string]stack.Provider) {
	ps["AWS::ApiGateway::Model"] = &modelProvider{c}
	ps["AWS::ApiGateway::RequestValidator"] = &validatorProvider{c}
	ps["AWS::ApiGateway::GatewayResponse"] = &gatewayResponseProvider{c}
	ps["AWS::ApiGateway::Account"] = &accountProvider{c}
	ps["AWS::ApiGateway::DocumentationPart"] = &docPartProvider{c}
	ps["AWS::ApiGateway::DocumentationVersion"] = &docVersionProvider{c}
	ps["AWS::ApiGateway::VpcLink"] = refusedProvider("Nimbus does not support AWS::ApiGateway::VpcLink: there is no VPC; " +
		"HTTP integrations reach loopback or allowed hosts directly")
	ps["AWS::ApiGateway::ClientCertificate"] = refusedProvider("Nimbus does not support AWS::ApiGateway::ClientCertificate: " +
		"integrations are not called over mutual TLS")
}

// --- AWS::ApiGateway::Model -------------------------------------------

type modelProvider struct{ c *clients }

func (p *modelProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var mp struct {
		ContentType *string
		Description *string
		Name        *string
		RestApiId   *string //nolint:revive // CloudFormation's name
		Schema      any
	}
	if err := props(r, &mp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "RestApiId"); err != nil {
		return nil, err
	}
	name := derefOr(mp.Name, "")
	if name == "" {
		name = strings.Map(func(c rune) rune {
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
				return c
			}
			return -1
		}, physicalName(r.StackName, r.LogicalID, 128))
	}
	in := &apigateway.CreateModelInput{RestApiId: mp.RestApiId, Name: &name, ContentType: aws.String(derefOr(mp.ContentType, "application/json")),
		Description: mp.Description}
	if mp.Schema != nil {
		txt, err := jsonText(mp.Schema)
		if err != nil {
			return nil, err
		}
		in.Schema = &txt
	}
	if _, err := p.c.apigw.CreateModel(ctx, in); err != nil {
		return nil, apiError(svcAPIGateway, err)
	}
	return &stack.Result{PhysicalID: name}, nil
}

func (p *modelProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	return nil, replace(r.LogicalID, "a model")
}

func (p *modelProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	api, _ := cur.Properties["RestApiId"].(string)
	if api == "" || cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw.DeleteModel(ctx, &apigateway.DeleteModelInput{RestApiId: &api, ModelName: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGateway, err)
}

// --- AWS::ApiGateway::RequestValidator --------------------------------

type validatorProvider struct{ c *clients }

func (p *validatorProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var vp struct {
		Name                      *string
		RestApiId                 *string //nolint:revive // CloudFormation's name
		ValidateRequestBody       *bool
		ValidateRequestParameters *bool
	}
	if err := props(r, &vp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "RestApiId"); err != nil {
		return nil, err
	}
	out, err := p.c.apigw.CreateRequestValidator(ctx, &apigateway.CreateRequestValidatorInput{RestApiId: vp.RestApiId, Name: vp.Name,
		ValidateRequestBody: aws.ToBool(vp.ValidateRequestBody), ValidateRequestParameters: aws.ToBool(vp.ValidateRequestParameters)})
	if err != nil {
		return nil, apiError(svcAPIGateway, err)
	}
	id := aws.ToString(out.Id)
	return &stack.Result{PhysicalID: id, Attrs: map[string]any{"RequestValidatorId": id}}, nil
}

func (p *validatorProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	return nil, replace(r.LogicalID, "a request validator")
}

func (p *validatorProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	api, _ := cur.Properties["RestApiId"].(string)
	if api == "" || cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw.DeleteRequestValidator(ctx, &apigateway.DeleteRequestValidatorInput{RestApiId: &api, RequestValidatorId: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGateway, err)
}

// --- AWS::ApiGateway::GatewayResponse ---------------------------------

type gatewayResponseProvider struct{ c *clients }

type gatewayResponseProps struct {
	ResponseParameters map[string]string
	ResponseTemplates  map[string]string
	ResponseType       *string
	RestApiId          *string //nolint:revive // CloudFormation's name
	StatusCode         *string
}

func (p *gatewayResponseProvider) put(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var gp gatewayResponseProps
	if err := props(r, &gp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "ResponseType", "RestApiId"); err != nil {
		return nil, err
	}
	if _, err := p.c.apigw.PutGatewayResponse(ctx, &apigateway.PutGatewayResponseInput{RestApiId: gp.RestApiId,
		ResponseType: agtypes.GatewayResponseType(*gp.ResponseType), StatusCode: gp.StatusCode,
		ResponseParameters: gp.ResponseParameters, ResponseTemplates: gp.ResponseTemplates}); err != nil {
		return nil, apiError(svcAPIGateway, err)
	}
	return &stack.Result{PhysicalID: *gp.RestApiId + "|" + *gp.ResponseType}, nil
}

func (p *gatewayResponseProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	return p.put(ctx, r)
}

func (p *gatewayResponseProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	if r.Properties["RestApiId"] != prev.Properties["RestApiId"] || r.Properties["ResponseType"] != prev.Properties["ResponseType"] {
		return nil, replace(r.LogicalID, "RestApiId", "ResponseType")
	}
	return p.put(ctx, r)
}

func (p *gatewayResponseProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	api, typ, ok := strings.Cut(cur.PhysicalID, "|")
	if !ok {
		return nil
	}
	_, err := p.c.apigw.DeleteGatewayResponse(ctx, &apigateway.DeleteGatewayResponseInput{RestApiId: &api, ResponseType: agtypes.GatewayResponseType(typ)})
	return ignoreNotFound(svcAPIGateway, err)
}

// --- AWS::ApiGateway::Account -----------------------------------------

type accountProvider struct{ c *clients }

func (p *accountProvider) put(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var ap struct{ CloudWatchRoleArn *string }
	if err := props(r, &ap); err != nil {
		return nil, err
	}
	if _, err := p.c.apigw.UpdateAccount(ctx, &apigateway.UpdateAccountInput{PatchOperations: []agtypes.PatchOperation{
		replaceOp("/cloudwatchRoleArn", derefOr(ap.CloudWatchRoleArn, ""))}}); err != nil {
		return nil, apiError(svcAPIGateway, err)
	}
	return &stack.Result{PhysicalID: physicalName(r.StackName, r.LogicalID, 64)}, nil
}

func (p *accountProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	return p.put(ctx, r)
}

func (p *accountProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	res, err := p.put(ctx, r)
	if err != nil {
		return nil, err
	}
	res.PhysicalID = prev.PhysicalID
	return res, nil
}

// Delete leaves the account's settings, as CloudFormation does.
func (p *accountProvider) Delete(context.Context, *stack.Request, *stack.Resource) error { return nil }

// --- AWS::ApiGateway::DocumentationPart -------------------------------

type docPartProvider struct{ c *clients }

func (p *docPartProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var dp struct {
		Location struct {
			Method, Name, Path, StatusCode *string
			Type                           agtypes.DocumentationPartType
		}
		Properties any
		RestApiId  *string //nolint:revive // CloudFormation's name
	}
	if err := props(r, &dp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "Location", "Properties", "RestApiId"); err != nil {
		return nil, err
	}
	txt, err := jsonText(dp.Properties)
	if err != nil {
		return nil, err
	}
	l := dp.Location
	out, err := p.c.apigw.CreateDocumentationPart(ctx, &apigateway.CreateDocumentationPartInput{RestApiId: dp.RestApiId, Properties: &txt,
		Location: &agtypes.DocumentationPartLocation{Type: l.Type, Method: l.Method, Name: l.Name, Path: l.Path, StatusCode: l.StatusCode}})
	if err != nil {
		return nil, apiError(svcAPIGateway, err)
	}
	id := aws.ToString(out.Id)
	return &stack.Result{PhysicalID: id, Attrs: map[string]any{"DocumentationPartId": id}}, nil
}

func (p *docPartProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	return nil, replace(r.LogicalID, "a documentation part")
}

func (p *docPartProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	api, _ := cur.Properties["RestApiId"].(string)
	if api == "" || cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw.DeleteDocumentationPart(ctx, &apigateway.DeleteDocumentationPartInput{RestApiId: &api, DocumentationPartId: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGateway, err)
}

// --- AWS::ApiGateway::DocumentationVersion ----------------------------

type docVersionProvider struct{ c *clients }

func (p *docVersionProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var vp struct {
		Description          *string
		DocumentationVersion *string
		RestApiId            *string //nolint:revive // CloudFormation's name
	}
	if err := props(r, &vp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "DocumentationVersion", "RestApiId"); err != nil {
		return nil, err
	}
	if _, err := p.c.apigw.CreateDocumentationVersion(ctx, &apigateway.CreateDocumentationVersionInput{RestApiId: vp.RestApiId,
		DocumentationVersion: vp.DocumentationVersion, Description: vp.Description}); err != nil {
		return nil, apiError(svcAPIGateway, err)
	}
	return &stack.Result{PhysicalID: *vp.DocumentationVersion}, nil
}

func (p *docVersionProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	return nil, replace(r.LogicalID, "a documentation version")
}

func (p *docVersionProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	api, _ := cur.Properties["RestApiId"].(string)
	if api == "" || cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw.DeleteDocumentationVersion(ctx, &apigateway.DeleteDocumentationVersionInput{RestApiId: &api, DocumentationVersion: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGateway, err)
}
