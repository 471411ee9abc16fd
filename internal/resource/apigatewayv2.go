package resource

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	v2types "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

const svcAPIGatewayV2 = "AmazonApiGatewayV2"

// The HTTP API types (API Gateway v2).
func addAPIGatewayV2(c *clients, ps map[string]stack.Provider) {
	ps["AWS::ApiGatewayV2::Api"] = &httpAPIProvider{c}
	ps["AWS::ApiGatewayV2::Stage"] = &httpStageProvider{c}
	ps["AWS::ApiGatewayV2::Route"] = &routeProvider{c}
	ps["AWS::ApiGatewayV2::Integration"] = &integrationProvider{c}
	ps["AWS::ApiGatewayV2::Deployment"] = &httpDeploymentProvider{c}
	ps["AWS::ApiGatewayV2::Authorizer"] = &httpAuthorizerProvider{c}
	ps["AWS::ApiGatewayV2::RouteResponse"] = &routeResponseProvider{c}
}

// --- AWS::ApiGatewayV2::Api -------------------------------------------

type httpAPIProps struct {
	ApiKeySelectionExpression *string //nolint:revive // CloudFormation's name
	BasePath                  *string
	Body                      any
	BodyS3Location            *s3Location
	CorsConfiguration         *v2types.Cors
	CredentialsArn            *string
	Description               *string
	DisableExecuteApiEndpoint *bool //nolint:revive // CloudFormation's name
	DisableSchemaValidation   *bool
	FailOnWarnings            *bool
	IPAddressType             v2types.IpAddressType
	Name                      *string
	ProtocolType              v2types.ProtocolType
	RouteKey                  *string
	RouteSelectionExpression  *string
	Tags                      map[string]string
	Target                    *string
	Version                   *string
}

// update is the UpdateApi call that applies the properties a template
// gives beside a body or a quick create; nil if there are none.
func (hp *httpAPIProps) update(id string) *apigatewayv2.UpdateApiInput {
	in := &apigatewayv2.UpdateApiInput{
		ApiId: &id, ApiKeySelectionExpression: hp.ApiKeySelectionExpression, CorsConfiguration: hp.CorsConfiguration,
		Description: hp.Description, DisableExecuteApiEndpoint: hp.DisableExecuteApiEndpoint,
		DisableSchemaValidation: hp.DisableSchemaValidation, Name: hp.Name,
		RouteSelectionExpression: hp.RouteSelectionExpression, Version: hp.Version,
	}
	if *in == (apigatewayv2.UpdateApiInput{ApiId: &id}) {
		return nil
	}
	return in
}

type httpAPIProvider struct{ c *clients }

func (p *httpAPIProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var hp httpAPIProps
	if err := props(r, &hp); err != nil {
		return nil, err
	}
	body, err := p.c.body(ctx, r.LogicalID, hp.Body, hp.BodyS3Location)
	if err != nil {
		return nil, err
	}
	var id, endpoint string
	if body != nil {
		out, err := p.c.apigw2.ImportApi(ctx, &apigatewayv2.ImportApiInput{
			Body: aws.String(string(body)), Basepath: hp.BasePath, FailOnWarnings: hp.FailOnWarnings,
		})
		if err != nil {
			return nil, apiError(svcAPIGatewayV2, err)
		}
		id, endpoint = aws.ToString(out.ApiId), aws.ToString(out.ApiEndpoint)
		if in := hp.update(id); in != nil {
			if _, err := p.c.apigw2.UpdateApi(ctx, in); err != nil {
				p.undo(ctx, id)
				return nil, apiError(svcAPIGatewayV2, err)
			}
		}
	} else {
		if err := requireProps(r.LogicalID, r.Properties, "Name", "ProtocolType"); err != nil {
			return nil, err
		}
		out, err := p.c.apigw2.CreateApi(ctx, &apigatewayv2.CreateApiInput{
			Name: hp.Name, ProtocolType: hp.ProtocolType, ApiKeySelectionExpression: hp.ApiKeySelectionExpression,
			CorsConfiguration: hp.CorsConfiguration, CredentialsArn: hp.CredentialsArn, Description: hp.Description,
			DisableExecuteApiEndpoint: hp.DisableExecuteApiEndpoint, DisableSchemaValidation: hp.DisableSchemaValidation,
			IpAddressType: hp.IPAddressType, RouteKey: hp.RouteKey, RouteSelectionExpression: hp.RouteSelectionExpression,
			Tags: hp.Tags, Target: hp.Target, Version: hp.Version,
		})
		if err != nil {
			return nil, apiError(svcAPIGatewayV2, err)
		}
		id, endpoint = aws.ToString(out.ApiId), aws.ToString(out.ApiEndpoint)
	}
	return httpAPIResult(id, endpoint), nil
}

func httpAPIResult(id, endpoint string) *stack.Result {
	return &stack.Result{PhysicalID: id, Attrs: map[string]any{"ApiId": id, "ApiEndpoint": endpoint}}
}

func (p *httpAPIProvider) undo(ctx context.Context, id string) {
	if _, err := p.c.apigw2.DeleteApi(context.WithoutCancel(ctx), &apigatewayv2.DeleteApiInput{ApiId: &id}); err != nil && !notFound(err) {
		p.c.log.Warn("undo http api create", "api_id", id, "err", err)
	}
}

func (p *httpAPIProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var hp httpAPIProps
	if err := props(r, &hp); err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	if ch["ProtocolType"] {
		return nil, replace(r.LogicalID, "ProtocolType")
	}
	id := prev.PhysicalID
	endpoint, _ := prev.Attrs["ApiEndpoint"].(string)
	body, err := p.c.body(ctx, r.LogicalID, hp.Body, hp.BodyS3Location)
	if err != nil {
		return nil, err
	}
	if body != nil && anyChanged(ch, "Body", "BodyS3Location", "BasePath", "FailOnWarnings") {
		out, err := p.c.apigw2.ReimportApi(ctx, &apigatewayv2.ReimportApiInput{
			ApiId: &id, Body: aws.String(string(body)), Basepath: hp.BasePath, FailOnWarnings: hp.FailOnWarnings,
		})
		if err != nil {
			return nil, apiError(svcAPIGatewayV2, err)
		}
		if out.ApiEndpoint != nil {
			endpoint = *out.ApiEndpoint
		}
		if in := hp.update(id); in != nil {
			if _, err := p.c.apigw2.UpdateApi(ctx, in); err != nil {
				return nil, apiError(svcAPIGatewayV2, err)
			}
		}
		return httpAPIResult(id, endpoint), nil
	}
	if !onlyChanged(ch, "Body", "BodyS3Location", "BasePath", "FailOnWarnings", "Tags") {
		in := hp.update(id)
		if in == nil {
			in = &apigatewayv2.UpdateApiInput{ApiId: &id}
		}
		if body == nil {
			in.Target, in.RouteKey, in.CredentialsArn = hp.Target, hp.RouteKey, hp.CredentialsArn
		}
		if ch["Description"] && in.Description == nil {
			in.Description = aws.String("")
		}
		if ch["CorsConfiguration"] && in.CorsConfiguration == nil {
			in.CorsConfiguration = &v2types.Cors{}
		}
		if _, err := p.c.apigw2.UpdateApi(ctx, in); err != nil {
			return nil, apiError(svcAPIGatewayV2, err)
		}
	}
	return httpAPIResult(id, endpoint), nil
}

func (p *httpAPIProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw2.DeleteApi(ctx, &apigatewayv2.DeleteApiInput{ApiId: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGatewayV2, err)
}

// onlyChanged reports whether every changed property is one of names.
func onlyChanged(ch map[string]bool, names ...string) bool {
	n := 0
	for _, name := range names {
		if ch[name] {
			n++
		}
	}
	return n == len(ch)
}

// apiIDOf is the ApiId property of a child of an HTTP API.
func apiIDOf(cur *stack.Resource) string {
	id, _ := cur.Properties["ApiId"].(string)
	return id
}

// --- AWS::ApiGatewayV2::Stage -----------------------------------------

type httpStageProps struct {
	AccessLogSettings    *v2types.AccessLogSettings
	AccessPolicyId       *string //nolint:revive // CloudFormation's name
	ApiId                *string //nolint:revive // CloudFormation's name
	AutoDeploy           *bool
	ClientCertificateId  *string //nolint:revive // CloudFormation's name
	DefaultRouteSettings *v2types.RouteSettings
	DeploymentId         *string //nolint:revive // CloudFormation's name
	Description          *string
	RouteSettings        map[string]v2types.RouteSettings
	StageName            *string
	StageVariables       map[string]string
	Tags                 map[string]string
}

type httpStageProvider struct{ c *clients }

func (p *httpStageProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var sp httpStageProps
	if err := props(r, &sp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "ApiId", "StageName"); err != nil {
		return nil, err
	}
	out, err := p.c.apigw2.CreateStage(ctx, &apigatewayv2.CreateStageInput{
		ApiId: sp.ApiId, StageName: sp.StageName, AccessLogSettings: sp.AccessLogSettings, AutoDeploy: sp.AutoDeploy,
		ClientCertificateId: sp.ClientCertificateId, DefaultRouteSettings: sp.DefaultRouteSettings,
		DeploymentId: sp.DeploymentId, Description: sp.Description, RouteSettings: sp.RouteSettings,
		StageVariables: sp.StageVariables, Tags: sp.Tags,
	})
	if err != nil {
		return nil, apiError(svcAPIGatewayV2, err)
	}
	return &stack.Result{PhysicalID: aws.ToString(out.StageName)}, nil
}

func (p *httpStageProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var sp httpStageProps
	if err := props(r, &sp); err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	if anyChanged(ch, "ApiId", "StageName") {
		return nil, replace(r.LogicalID, "ApiId or StageName")
	}
	in := &apigatewayv2.UpdateStageInput{
		ApiId: sp.ApiId, StageName: &prev.PhysicalID, AccessLogSettings: sp.AccessLogSettings, AutoDeploy: sp.AutoDeploy,
		ClientCertificateId: sp.ClientCertificateId, DefaultRouteSettings: sp.DefaultRouteSettings,
		DeploymentId: sp.DeploymentId, Description: sp.Description, RouteSettings: sp.RouteSettings,
		StageVariables: sp.StageVariables,
	}
	// What the template no longer says goes back to its default.
	if ch["AutoDeploy"] && in.AutoDeploy == nil {
		in.AutoDeploy = aws.Bool(false)
	}
	if ch["Description"] && in.Description == nil {
		in.Description = aws.String("")
	}
	if ch["DefaultRouteSettings"] && in.DefaultRouteSettings == nil {
		in.DefaultRouteSettings = &v2types.RouteSettings{}
	}
	if ch["StageVariables"] && in.StageVariables == nil {
		in.StageVariables = map[string]string{}
	}
	if ch["RouteSettings"] && in.RouteSettings == nil {
		in.RouteSettings = map[string]v2types.RouteSettings{}
	}
	if _, err := p.c.apigw2.UpdateStage(ctx, in); err != nil {
		return nil, apiError(svcAPIGatewayV2, err)
	}
	return &stack.Result{PhysicalID: prev.PhysicalID}, nil
}

func (p *httpStageProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	api := apiIDOf(cur)
	if api == "" || cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw2.DeleteStage(ctx, &apigatewayv2.DeleteStageInput{ApiId: &api, StageName: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGatewayV2, err)
}

// --- AWS::ApiGatewayV2::Route -----------------------------------------

type routeProps struct {
	ApiId                            *string //nolint:revive // CloudFormation's name
	ApiKeyRequired                   *bool   //nolint:revive // CloudFormation's name
	AuthorizationScopes              []string
	AuthorizationType                v2types.AuthorizationType
	AuthorizerId                     *string //nolint:revive // CloudFormation's name
	ModelSelectionExpression         *string
	OperationName                    *string
	RequestModels                    map[string]string
	RequestParameters                map[string]v2types.ParameterConstraints
	RouteKey                         *string
	RouteResponseSelectionExpression *string
	Target                           *string
}

type routeProvider struct{ c *clients }

func (p *routeProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var rp routeProps
	if err := props(r, &rp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "ApiId", "RouteKey"); err != nil {
		return nil, err
	}
	out, err := p.c.apigw2.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{
		ApiId: rp.ApiId, RouteKey: rp.RouteKey, ApiKeyRequired: rp.ApiKeyRequired, AuthorizationScopes: rp.AuthorizationScopes,
		AuthorizationType: rp.AuthorizationType, AuthorizerId: rp.AuthorizerId, ModelSelectionExpression: rp.ModelSelectionExpression,
		OperationName: rp.OperationName, RequestModels: rp.RequestModels, RequestParameters: rp.RequestParameters,
		RouteResponseSelectionExpression: rp.RouteResponseSelectionExpression, Target: rp.Target,
	})
	if err != nil {
		return nil, apiError(svcAPIGatewayV2, err)
	}
	id := aws.ToString(out.RouteId)
	return &stack.Result{PhysicalID: id, Attrs: map[string]any{"RouteId": id}}, nil
}

func (p *routeProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var rp routeProps
	if err := props(r, &rp); err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	if ch["ApiId"] {
		return nil, replace(r.LogicalID, "ApiId")
	}
	in := &apigatewayv2.UpdateRouteInput{
		ApiId: rp.ApiId, RouteId: &prev.PhysicalID, RouteKey: rp.RouteKey, ApiKeyRequired: rp.ApiKeyRequired,
		AuthorizationScopes: rp.AuthorizationScopes, AuthorizationType: rp.AuthorizationType, AuthorizerId: rp.AuthorizerId,
		ModelSelectionExpression: rp.ModelSelectionExpression, OperationName: rp.OperationName, RequestModels: rp.RequestModels,
		RequestParameters: rp.RequestParameters, RouteResponseSelectionExpression: rp.RouteResponseSelectionExpression, Target: rp.Target,
	}
	if ch["AuthorizationType"] && in.AuthorizationType == "" {
		in.AuthorizationType = v2types.AuthorizationTypeNone
	}
	if ch["AuthorizerId"] && in.AuthorizerId == nil {
		in.AuthorizerId = aws.String("")
	}
	if ch["Target"] && in.Target == nil {
		in.Target = aws.String("")
	}
	if _, err := p.c.apigw2.UpdateRoute(ctx, in); err != nil {
		return nil, apiError(svcAPIGatewayV2, err)
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: prev.Attrs}, nil
}

func (p *routeProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	api := apiIDOf(cur)
	if api == "" || cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw2.DeleteRoute(ctx, &apigatewayv2.DeleteRouteInput{ApiId: &api, RouteId: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGatewayV2, err)
}

// --- AWS::ApiGatewayV2::Integration -----------------------------------

type integrationV2Props struct {
	ApiId                       *string //nolint:revive // CloudFormation's name
	ConnectionId                *string //nolint:revive // CloudFormation's name
	ConnectionType              v2types.ConnectionType
	ContentHandlingStrategy     v2types.ContentHandlingStrategy
	CredentialsArn              *string
	Description                 *string
	IntegrationMethod           *string
	IntegrationSubtype          *string
	IntegrationType             v2types.IntegrationType
	IntegrationUri              *string //nolint:revive // CloudFormation's name
	PassthroughBehavior         v2types.PassthroughBehavior
	PayloadFormatVersion        *string
	RequestParameters           map[string]string
	RequestTemplates            map[string]string
	ResponseParameters          map[string]map[string]string
	TemplateSelectionExpression *string
	TimeoutInMillis             *int64
	TlsConfig                   *v2types.TlsConfigInput //nolint:revive // CloudFormation's name
}

type integrationProvider struct{ c *clients }

func (p *integrationProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var ip integrationV2Props
	if err := props(r, &ip); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "ApiId", "IntegrationType"); err != nil {
		return nil, err
	}
	out, err := p.c.apigw2.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{
		ApiId: ip.ApiId, IntegrationType: ip.IntegrationType, ConnectionId: ip.ConnectionId, ConnectionType: ip.ConnectionType,
		ContentHandlingStrategy: ip.ContentHandlingStrategy, CredentialsArn: ip.CredentialsArn, Description: ip.Description,
		IntegrationMethod: ip.IntegrationMethod, IntegrationSubtype: ip.IntegrationSubtype, IntegrationUri: ip.IntegrationUri,
		PassthroughBehavior: ip.PassthroughBehavior, PayloadFormatVersion: ip.PayloadFormatVersion,
		RequestParameters: ip.RequestParameters, RequestTemplates: ip.RequestTemplates, ResponseParameters: ip.ResponseParameters,
		TemplateSelectionExpression: ip.TemplateSelectionExpression, TimeoutInMillis: i32(ip.TimeoutInMillis), TlsConfig: ip.TlsConfig,
	})
	if err != nil {
		return nil, apiError(svcAPIGatewayV2, err)
	}
	id := aws.ToString(out.IntegrationId)
	return &stack.Result{PhysicalID: id, Attrs: map[string]any{"IntegrationId": id}}, nil
}

func (p *integrationProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var ip integrationV2Props
	if err := props(r, &ip); err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	if ch["ApiId"] {
		return nil, replace(r.LogicalID, "ApiId")
	}
	in := &apigatewayv2.UpdateIntegrationInput{
		ApiId: ip.ApiId, IntegrationId: &prev.PhysicalID, IntegrationType: ip.IntegrationType, ConnectionId: ip.ConnectionId,
		ConnectionType: ip.ConnectionType, ContentHandlingStrategy: ip.ContentHandlingStrategy, CredentialsArn: ip.CredentialsArn,
		Description: ip.Description, IntegrationMethod: ip.IntegrationMethod, IntegrationSubtype: ip.IntegrationSubtype,
		IntegrationUri: ip.IntegrationUri, PassthroughBehavior: ip.PassthroughBehavior, PayloadFormatVersion: ip.PayloadFormatVersion,
		RequestParameters: ip.RequestParameters, RequestTemplates: ip.RequestTemplates, ResponseParameters: ip.ResponseParameters,
		TemplateSelectionExpression: ip.TemplateSelectionExpression, TimeoutInMillis: i32(ip.TimeoutInMillis), TlsConfig: ip.TlsConfig,
	}
	if ch["Description"] && in.Description == nil {
		in.Description = aws.String("")
	}
	if ch["TimeoutInMillis"] && in.TimeoutInMillis == nil {
		in.TimeoutInMillis = aws.Int32(30000)
	}
	if _, err := p.c.apigw2.UpdateIntegration(ctx, in); err != nil {
		return nil, apiError(svcAPIGatewayV2, err)
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: prev.Attrs}, nil
}

func (p *integrationProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	api := apiIDOf(cur)
	if api == "" || cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw2.DeleteIntegration(ctx, &apigatewayv2.DeleteIntegrationInput{ApiId: &api, IntegrationId: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGatewayV2, err)
}

// --- AWS::ApiGatewayV2::Deployment ------------------------------------

type httpDeploymentProps struct {
	ApiId       *string //nolint:revive // CloudFormation's name
	Description *string
	StageName   *string
}

type httpDeploymentProvider struct{ c *clients }

func (p *httpDeploymentProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var dp httpDeploymentProps
	if err := props(r, &dp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "ApiId"); err != nil {
		return nil, err
	}
	out, err := p.c.apigw2.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: dp.ApiId, Description: dp.Description, StageName: dp.StageName})
	if err != nil {
		return nil, apiError(svcAPIGatewayV2, err)
	}
	id := aws.ToString(out.DeploymentId)
	return &stack.Result{PhysicalID: id, Attrs: map[string]any{"DeploymentId": id}}, nil
}

func (p *httpDeploymentProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	return nil, replace(r.LogicalID, "any property of a deployment")
}

func (p *httpDeploymentProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	api := apiIDOf(cur)
	if api == "" || cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw2.DeleteDeployment(ctx, &apigatewayv2.DeleteDeploymentInput{ApiId: &api, DeploymentId: &cur.PhysicalID})
	if err != nil && strings.Contains(err.Error(), "Active stages pointing to this deployment") {
		// A replaced deployment a stage still serves stays (API Gateway
		// refuses to delete it); it goes with the API.
		return nil
	}
	return ignoreNotFound(svcAPIGatewayV2, err)
}

// --- AWS::ApiGatewayV2::Authorizer ------------------------------------

type httpAuthorizerProps struct {
	ApiId                          *string //nolint:revive // CloudFormation's name
	AuthorizerCredentialsArn       *string
	AuthorizerPayloadFormatVersion *string
	AuthorizerResultTTLInSeconds   *int64
	AuthorizerType                 v2types.AuthorizerType
	AuthorizerUri                  *string //nolint:revive // CloudFormation's name
	EnableSimpleResponses          *bool
	IdentitySource                 []string
	IdentityValidationExpression   *string
	JwtConfiguration               *v2types.JWTConfiguration
	Name                           *string
}

type httpAuthorizerProvider struct{ c *clients }

func (p *httpAuthorizerProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var ap httpAuthorizerProps
	if err := props(r, &ap); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "ApiId", "AuthorizerType", "Name"); err != nil {
		return nil, err
	}
	out, err := p.c.apigw2.CreateAuthorizer(ctx, &apigatewayv2.CreateAuthorizerInput{
		ApiId: ap.ApiId, AuthorizerType: ap.AuthorizerType, IdentitySource: ap.IdentitySource, Name: ap.Name,
		AuthorizerCredentialsArn: ap.AuthorizerCredentialsArn, AuthorizerPayloadFormatVersion: ap.AuthorizerPayloadFormatVersion,
		AuthorizerResultTtlInSeconds: i32(ap.AuthorizerResultTTLInSeconds), AuthorizerUri: ap.AuthorizerUri,
		EnableSimpleResponses: ap.EnableSimpleResponses, IdentityValidationExpression: ap.IdentityValidationExpression,
		JwtConfiguration: ap.JwtConfiguration,
	})
	if err != nil {
		return nil, apiError(svcAPIGatewayV2, err)
	}
	id := aws.ToString(out.AuthorizerId)
	return &stack.Result{PhysicalID: id, Attrs: map[string]any{"AuthorizerId": id}}, nil
}

func (p *httpAuthorizerProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	return nil, replace(r.LogicalID, "an authorizer")
}

func (p *httpAuthorizerProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	api := apiIDOf(cur)
	if api == "" || cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw2.DeleteAuthorizer(ctx, &apigatewayv2.DeleteAuthorizerInput{ApiId: &api, AuthorizerId: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGatewayV2, err)
}

// --- AWS::ApiGatewayV2::RouteResponse ---------------------------------

type routeResponseProps struct {
	ApiId                    *string //nolint:revive // CloudFormation's name
	ModelSelectionExpression *string
	ResponseModels           map[string]string
	ResponseParameters       map[string]v2types.ParameterConstraints
	RouteId                  *string //nolint:revive // CloudFormation's name
	RouteResponseKey         *string
}

// routeResponseProvider makes a WebSocket route two-way.
type routeResponseProvider struct{ c *clients }

func (p *routeResponseProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var rp routeResponseProps
	if err := props(r, &rp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "ApiId", "RouteId", "RouteResponseKey"); err != nil {
		return nil, err
	}
	out, err := p.c.apigw2.CreateRouteResponse(ctx, &apigatewayv2.CreateRouteResponseInput{
		ApiId: rp.ApiId, RouteId: rp.RouteId, RouteResponseKey: rp.RouteResponseKey,
		ModelSelectionExpression: rp.ModelSelectionExpression, ResponseModels: rp.ResponseModels, ResponseParameters: rp.ResponseParameters,
	})
	if err != nil {
		return nil, apiError(svcAPIGatewayV2, err)
	}
	return &stack.Result{PhysicalID: aws.ToString(out.RouteResponseId)}, nil
}

func (p *routeResponseProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var rp routeResponseProps
	if err := props(r, &rp); err != nil {
		return nil, err
	}
	if anyChanged(changed(prev.Properties, r.Properties), "ApiId", "RouteId") {
		return nil, replace(r.LogicalID, "ApiId or RouteId")
	}
	if _, err := p.c.apigw2.UpdateRouteResponse(ctx, &apigatewayv2.UpdateRouteResponseInput{
		ApiId: rp.ApiId, RouteId: rp.RouteId, RouteResponseId: &prev.PhysicalID, RouteResponseKey: rp.RouteResponseKey,
		ModelSelectionExpression: rp.ModelSelectionExpression, ResponseModels: rp.ResponseModels, ResponseParameters: rp.ResponseParameters,
	}); err != nil {
		return nil, apiError(svcAPIGatewayV2, err)
	}
	return &stack.Result{PhysicalID: prev.PhysicalID}, nil
}

func (p *routeResponseProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	api, _ := cur.Properties["ApiId"].(string)
	route, _ := cur.Properties["RouteId"].(string)
	if api == "" || route == "" || cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw2.DeleteRouteResponse(ctx, &apigatewayv2.DeleteRouteResponseInput{ApiId: &api, RouteId: &route, RouteResponseId: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGatewayV2, err)
}
