package resource

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	agtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// The REST API types that hang off an API: methods, authorizers, API
// keys and usage plans.

// --- AWS::ApiGateway::Method ------------------------------------------

type methodProps struct {
	ApiKeyRequired      *bool //nolint:revive // CloudFormation's name
	AuthorizationScopes []string
	AuthorizationType   *string
	AuthorizerId        *string //nolint:revive // CloudFormation's name
	HttpMethod          *string //nolint:revive // CloudFormation's name
	Integration         *integrationProps
	MethodResponses     []struct {
		ResponseModels     map[string]string
		ResponseParameters map[string]bool
		StatusCode         string
	}
	OperationName      *string
	RequestModels      map[string]string
	RequestParameters  map[string]bool
	RequestValidatorId *string //nolint:revive // CloudFormation's name
	ResourceId         *string //nolint:revive // CloudFormation's name
	RestApiId          *string //nolint:revive // CloudFormation's name
}

type integrationProps struct {
	CacheKeyParameters    []string
	CacheNamespace        *string
	ConnectionId          *string //nolint:revive // CloudFormation's name
	ConnectionType        agtypes.ConnectionType
	ContentHandling       agtypes.ContentHandlingStrategy
	Credentials           *string
	IntegrationHttpMethod *string //nolint:revive // CloudFormation's name
	IntegrationResponses  []struct {
		ContentHandling    agtypes.ContentHandlingStrategy
		ResponseParameters map[string]string
		ResponseTemplates  map[string]string
		SelectionPattern   *string
		StatusCode         string
	}
	PassthroughBehavior *string
	RequestParameters   map[string]string
	RequestTemplates    map[string]string
	TimeoutInMillis     *int64
	Type                agtypes.IntegrationType
	Uri                 *string //nolint:revive // CloudFormation's name
}

type methodProvider struct{ c *clients }

func (p *methodProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var mp methodProps
	if err := props(r, &mp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "HttpMethod", "ResourceId", "RestApiId"); err != nil {
		return nil, err
	}
	if err := p.put(ctx, &mp); err != nil {
		_ = p.remove(context.WithoutCancel(ctx), &mp) // best effort: the create failed anyway
		return nil, err
	}
	return &stack.Result{PhysicalID: *mp.RestApiId + "|" + *mp.ResourceId + "|" + strings.ToUpper(*mp.HttpMethod)}, nil
}

// put makes the method, its integration and their responses.
func (p *methodProvider) put(ctx context.Context, mp *methodProps) error {
	method := strings.ToUpper(*mp.HttpMethod)
	auth := derefOr(mp.AuthorizationType, "NONE")
	if _, err := p.c.apigw.PutMethod(ctx, &apigateway.PutMethodInput{
		RestApiId: mp.RestApiId, ResourceId: mp.ResourceId, HttpMethod: &method, AuthorizationType: &auth,
		ApiKeyRequired: aws.ToBool(mp.ApiKeyRequired), AuthorizationScopes: mp.AuthorizationScopes, AuthorizerId: mp.AuthorizerId,
		OperationName: mp.OperationName, RequestModels: mp.RequestModels, RequestParameters: mp.RequestParameters,
		RequestValidatorId: mp.RequestValidatorId,
	}); err != nil {
		return apiError(svcAPIGateway, err)
	}
	for _, mr := range mp.MethodResponses {
		if _, err := p.c.apigw.PutMethodResponse(ctx, &apigateway.PutMethodResponseInput{
			RestApiId: mp.RestApiId, ResourceId: mp.ResourceId, HttpMethod: &method, StatusCode: aws.String(mr.StatusCode),
			ResponseModels: mr.ResponseModels, ResponseParameters: mr.ResponseParameters,
		}); err != nil {
			return apiError(svcAPIGateway, err)
		}
	}
	in := mp.Integration
	if in == nil {
		return nil
	}
	if _, err := p.c.apigw.PutIntegration(ctx, &apigateway.PutIntegrationInput{
		RestApiId: mp.RestApiId, ResourceId: mp.ResourceId, HttpMethod: &method, Type: in.Type,
		CacheKeyParameters: in.CacheKeyParameters, CacheNamespace: in.CacheNamespace, ConnectionId: in.ConnectionId,
		ConnectionType: in.ConnectionType, ContentHandling: in.ContentHandling, Credentials: in.Credentials,
		IntegrationHttpMethod: in.IntegrationHttpMethod, PassthroughBehavior: in.PassthroughBehavior,
		RequestParameters: in.RequestParameters, RequestTemplates: in.RequestTemplates,
		TimeoutInMillis: i32(in.TimeoutInMillis), Uri: in.Uri,
	}); err != nil {
		return apiError(svcAPIGateway, err)
	}
	for _, ir := range in.IntegrationResponses {
		if _, err := p.c.apigw.PutIntegrationResponse(ctx, &apigateway.PutIntegrationResponseInput{
			RestApiId: mp.RestApiId, ResourceId: mp.ResourceId, HttpMethod: &method, StatusCode: aws.String(ir.StatusCode),
			ContentHandling: ir.ContentHandling, ResponseParameters: ir.ResponseParameters,
			ResponseTemplates: ir.ResponseTemplates, SelectionPattern: ir.SelectionPattern,
		}); err != nil {
			return apiError(svcAPIGateway, err)
		}
	}
	return nil
}

// remove deletes a method, reporting anything but its absence.
func (p *methodProvider) remove(ctx context.Context, mp *methodProps) error {
	method := strings.ToUpper(aws.ToString(mp.HttpMethod))
	_, err := p.c.apigw.DeleteMethod(ctx, &apigateway.DeleteMethodInput{RestApiId: mp.RestApiId, ResourceId: mp.ResourceId, HttpMethod: &method})
	return ignoreNotFound(svcAPIGateway, err)
}

// Update makes the method again with its new settings (API Gateway's
// PutMethod and PutIntegration replace the whole method).
func (p *methodProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var mp methodProps
	if err := props(r, &mp); err != nil {
		return nil, err
	}
	if anyChanged(changed(prev.Properties, r.Properties), "HttpMethod", "ResourceId", "RestApiId") {
		return nil, replace(r.LogicalID, "HttpMethod, ResourceId or RestApiId")
	}
	if err := p.remove(ctx, &mp); err != nil {
		return nil, err
	}
	if err := p.put(ctx, &mp); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: prev.PhysicalID}, nil
}

func (p *methodProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	var mp methodProps
	if err := propsOf(cur.LogicalID, cur.Properties, &mp); err != nil || mp.RestApiId == nil || mp.ResourceId == nil || mp.HttpMethod == nil {
		return nil // never made
	}
	return p.remove(ctx, &mp)
}

// --- AWS::ApiGateway::Authorizer --------------------------------------

type authorizerProps struct {
	AuthType                     *string
	AuthorizerCredentials        *string
	AuthorizerResultTTLInSeconds *int64
	AuthorizerUri                *string //nolint:revive // CloudFormation's name
	IdentitySource               *string
	IdentityValidationExpression *string
	Name                         *string
	ProviderARNs                 []string
	RestApiId                    *string //nolint:revive // CloudFormation's name
	Type                         agtypes.AuthorizerType
}

type authorizerProvider struct{ c *clients }

func (p *authorizerProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var ap authorizerProps
	if err := props(r, &ap); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "Name", "RestApiId", "Type"); err != nil {
		return nil, err
	}
	out, err := p.c.apigw.CreateAuthorizer(ctx, &apigateway.CreateAuthorizerInput{
		RestApiId: ap.RestApiId, Name: ap.Name, Type: ap.Type, AuthType: ap.AuthType,
		AuthorizerCredentials: ap.AuthorizerCredentials, AuthorizerResultTtlInSeconds: i32(ap.AuthorizerResultTTLInSeconds),
		AuthorizerUri: ap.AuthorizerUri, IdentitySource: ap.IdentitySource,
		IdentityValidationExpression: ap.IdentityValidationExpression, ProviderARNs: ap.ProviderARNs,
	})
	if err != nil {
		return nil, apiError(svcAPIGateway, err)
	}
	id := aws.ToString(out.Id)
	return &stack.Result{PhysicalID: id, Attrs: map[string]any{"AuthorizerId": id}}, nil
}

func (p *authorizerProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	return nil, replace(r.LogicalID, "an authorizer")
}

func (p *authorizerProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	api, _ := cur.Properties["RestApiId"].(string)
	if api == "" || cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw.DeleteAuthorizer(ctx, &apigateway.DeleteAuthorizerInput{RestApiId: &api, AuthorizerId: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGateway, err)
}

// --- AWS::ApiGateway::ApiKey ------------------------------------------

type apiKeyProps struct {
	CustomerId         *string //nolint:revive // CloudFormation's name
	Description        *string
	Enabled            *bool
	GenerateDistinctId *bool //nolint:revive // CloudFormation's name
	Name               *string
	StageKeys          []agtypes.StageKey
	Tags               []tag
	Value              *string
}

type apiKeyProvider struct{ c *clients }

func (p *apiKeyProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var kp apiKeyProps
	if err := props(r, &kp); err != nil {
		return nil, err
	}
	name := derefOr(kp.Name, "")
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 1024)
	}
	out, err := p.c.apigw.CreateApiKey(ctx, &apigateway.CreateApiKeyInput{
		Name: &name, CustomerId: kp.CustomerId, Description: kp.Description, Enabled: aws.ToBool(kp.Enabled),
		GenerateDistinctId: aws.ToBool(kp.GenerateDistinctId), StageKeys: kp.StageKeys, Tags: tagMap(kp.Tags), Value: kp.Value,
	})
	if err != nil {
		return nil, apiError(svcAPIGateway, err)
	}
	id := aws.ToString(out.Id)
	return &stack.Result{PhysicalID: id, Attrs: map[string]any{"APIKeyId": id}}, nil
}

func (p *apiKeyProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	return nil, replace(r.LogicalID, "an API key")
}

func (p *apiKeyProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw.DeleteApiKey(ctx, &apigateway.DeleteApiKeyInput{ApiKey: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGateway, err)
}

// --- AWS::ApiGateway::UsagePlan ---------------------------------------

type usagePlanProps struct {
	ApiStages     []agtypes.ApiStage //nolint:revive // CloudFormation's name
	Description   *string
	Quota         *agtypes.QuotaSettings
	Tags          []tag
	Throttle      *agtypes.ThrottleSettings
	UsagePlanName *string
}

type usagePlanProvider struct{ c *clients }

func (p *usagePlanProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var up usagePlanProps
	if err := props(r, &up); err != nil {
		return nil, err
	}
	name := derefOr(up.UsagePlanName, "")
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 255)
	}
	out, err := p.c.apigw.CreateUsagePlan(ctx, &apigateway.CreateUsagePlanInput{
		Name: &name, ApiStages: up.ApiStages, Description: up.Description, Quota: up.Quota,
		Tags: tagMap(up.Tags), Throttle: up.Throttle,
	})
	if err != nil {
		return nil, apiError(svcAPIGateway, err)
	}
	return &stack.Result{PhysicalID: aws.ToString(out.Id), Attrs: map[string]any{"Id": aws.ToString(out.Id)}}, nil
}

func (p *usagePlanProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	return nil, replace(r.LogicalID, "a usage plan")
}

func (p *usagePlanProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw.DeleteUsagePlan(ctx, &apigateway.DeleteUsagePlanInput{UsagePlanId: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGateway, err)
}

// --- AWS::ApiGateway::UsagePlanKey ------------------------------------

type usagePlanKeyProps struct {
	KeyId, KeyType, UsagePlanId *string //nolint:revive // CloudFormation's names
}

type usagePlanKeyProvider struct{ c *clients }

func (p *usagePlanKeyProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var kp usagePlanKeyProps
	if err := props(r, &kp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "KeyId", "KeyType", "UsagePlanId"); err != nil {
		return nil, err
	}
	out, err := p.c.apigw.CreateUsagePlanKey(ctx, &apigateway.CreateUsagePlanKeyInput{KeyId: kp.KeyId, KeyType: kp.KeyType, UsagePlanId: kp.UsagePlanId})
	if err != nil {
		return nil, apiError(svcAPIGateway, err)
	}
	return &stack.Result{PhysicalID: aws.ToString(out.Id), Attrs: map[string]any{"Id": aws.ToString(out.Id)}}, nil
}

func (p *usagePlanKeyProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	return nil, replace(r.LogicalID, "a usage plan key")
}

func (p *usagePlanKeyProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	plan, _ := cur.Properties["UsagePlanId"].(string)
	if plan == "" || cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw.DeleteUsagePlanKey(ctx, &apigateway.DeleteUsagePlanKeyInput{UsagePlanId: &plan, KeyId: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGateway, err)
}
