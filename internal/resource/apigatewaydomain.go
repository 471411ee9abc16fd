package resource

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	agtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	v2types "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// Custom domain names (docs/design/api-gateway.md): AWS::ApiGateway::
// DomainName and BasePathMapping, AWS::ApiGatewayV2::DomainName and
// ApiMapping. The node serves every domain with its own certificate; the
// certificate ARNs are recorded.

func addAPIGatewayDomains(c *clients, ps map[string]stack.Provider) {
	ps["AWS::ApiGateway::DomainName"] = &domainV1Provider{c}
	ps["AWS::ApiGateway::BasePathMapping"] = &basePathProvider{c}
	ps["AWS::ApiGatewayV2::DomainName"] = &domainV2Provider{c}
	ps["AWS::ApiGatewayV2::ApiMapping"] = &apiMappingProvider{c}
}

// --- AWS::ApiGateway::DomainName ----------------------------------------

type domainV1Props struct {
	CertificateArn         *string
	DomainName             *string
	EndpointConfiguration  *struct{ Types []string }
	RegionalCertificateArn *string
	SecurityPolicy         *string
}

type domainV1Provider struct{ c *clients }

func domainAttrs(name string, regional string) map[string]any {
	return map[string]any{"DomainName": name, "RegionalDomainName": regional, "RegionalHostedZoneId": "Z1UJRXOUMOOFQ8",
		"DistributionDomainName": regional, "DistributionHostedZoneId": "Z2FDTNDATAQYW2"}
}

func (p *domainV1Provider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var dp domainV1Props
	if err := props(r, &dp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "DomainName"); err != nil {
		return nil, err
	}
	in := &apigateway.CreateDomainNameInput{DomainName: dp.DomainName, CertificateArn: dp.CertificateArn,
		RegionalCertificateArn: dp.RegionalCertificateArn}
	types := []agtypes.EndpointType{agtypes.EndpointTypeRegional}
	if dp.EndpointConfiguration != nil && len(dp.EndpointConfiguration.Types) > 0 {
		types = nil
		for _, t := range dp.EndpointConfiguration.Types {
			types = append(types, agtypes.EndpointType(t))
		}
	}
	in.EndpointConfiguration = &agtypes.EndpointConfiguration{Types: types}
	if dp.SecurityPolicy != nil {
		in.SecurityPolicy = agtypes.SecurityPolicy(*dp.SecurityPolicy)
	}
	out, err := p.c.apigw.CreateDomainName(ctx, in)
	if err != nil {
		return nil, apiError(svcAPIGateway, err)
	}
	name := aws.ToString(out.DomainName)
	a := domainAttrs(name, aws.ToString(out.RegionalDomainName))
	a["DomainNameArn"] = aws.ToString(out.DomainNameArn)
	return &stack.Result{PhysicalID: name, Attrs: a}, nil
}

func (p *domainV1Provider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var dp domainV1Props
	if err := props(r, &dp); err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	if ch["DomainName"] || ch["EndpointConfiguration"] {
		return nil, replace(r.LogicalID, "DomainName", "EndpointConfiguration")
	}
	var ops []agtypes.PatchOperation
	set := func(path string, v *string) {
		ops = append(ops, agtypes.PatchOperation{Op: agtypes.OpReplace, Path: aws.String(path), Value: aws.String(aws.ToString(v))})
	}
	if ch["RegionalCertificateArn"] || ch["CertificateArn"] {
		if dp.RegionalCertificateArn != nil {
			set("/regionalCertificateArn", dp.RegionalCertificateArn)
		} else {
			set("/certificateArn", dp.CertificateArn)
		}
	}
	if ch["SecurityPolicy"] && dp.SecurityPolicy != nil {
		set("/securityPolicy", dp.SecurityPolicy)
	}
	if len(ops) > 0 {
		if _, err := p.c.apigw.UpdateDomainName(ctx, &apigateway.UpdateDomainNameInput{DomainName: &prev.PhysicalID, PatchOperations: ops}); err != nil {
			return nil, apiError(svcAPIGateway, err)
		}
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: prev.Attrs}, nil
}

func (p *domainV1Provider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw.DeleteDomainName(ctx, &apigateway.DeleteDomainNameInput{DomainName: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGateway, err)
}

// --- AWS::ApiGateway::BasePathMapping -----------------------------------

type basePathProps struct {
	BasePath   *string
	DomainName *string
	RestApiId  *string //nolint:revive // CloudFormation's name
	Stage      *string
}

type basePathProvider struct{ c *clients }

func (p *basePathProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var bp basePathProps
	if err := props(r, &bp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "DomainName", "RestApiId"); err != nil {
		return nil, err
	}
	out, err := p.c.apigw.CreateBasePathMapping(ctx, &apigateway.CreateBasePathMappingInput{DomainName: bp.DomainName,
		RestApiId: bp.RestApiId, BasePath: bp.BasePath, Stage: bp.Stage})
	if err != nil {
		return nil, apiError(svcAPIGateway, err)
	}
	return &stack.Result{PhysicalID: aws.ToString(bp.DomainName) + "/" + aws.ToString(out.BasePath)}, nil
}

func splitBasePathID(id string) (domain, basePath string) {
	domain, basePath, _ = strings.Cut(id, "/")
	return domain, basePath
}

func (p *basePathProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var bp basePathProps
	if err := props(r, &bp); err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	if ch["DomainName"] || ch["BasePath"] {
		return nil, replace(r.LogicalID, "DomainName", "BasePath")
	}
	domain, base := splitBasePathID(prev.PhysicalID)
	var ops []agtypes.PatchOperation
	if ch["RestApiId"] {
		ops = append(ops, agtypes.PatchOperation{Op: agtypes.OpReplace, Path: aws.String("/restapiId"), Value: bp.RestApiId})
	}
	if ch["Stage"] {
		ops = append(ops, agtypes.PatchOperation{Op: agtypes.OpReplace, Path: aws.String("/stage"), Value: bp.Stage})
	}
	if len(ops) > 0 {
		if _, err := p.c.apigw.UpdateBasePathMapping(ctx, &apigateway.UpdateBasePathMappingInput{DomainName: &domain, BasePath: &base,
			PatchOperations: ops}); err != nil {
			return nil, apiError(svcAPIGateway, err)
		}
	}
	return &stack.Result{PhysicalID: prev.PhysicalID}, nil
}

func (p *basePathProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	domain, base := splitBasePathID(cur.PhysicalID)
	if domain == "" {
		return nil
	}
	_, err := p.c.apigw.DeleteBasePathMapping(ctx, &apigateway.DeleteBasePathMappingInput{DomainName: &domain, BasePath: &base})
	return ignoreNotFound(svcAPIGateway, err)
}

// --- AWS::ApiGatewayV2::DomainName --------------------------------------

type domainV2Props struct {
	DomainName               *string
	DomainNameConfigurations []struct {
		CertificateArn  *string
		CertificateName *string
		EndpointType    *string
		SecurityPolicy  *string
	}
	MutualTlsAuthentication *struct { //nolint:revive // CloudFormation's name
		TruststoreUri *string //nolint:revive // CloudFormation's name
	}
	Tags map[string]string
}

func (dp *domainV2Props) configurations() []v2types.DomainNameConfiguration {
	var out []v2types.DomainNameConfiguration
	for _, c := range dp.DomainNameConfigurations {
		dc := v2types.DomainNameConfiguration{CertificateArn: c.CertificateArn, CertificateName: c.CertificateName}
		if c.EndpointType != nil {
			dc.EndpointType = v2types.EndpointType(*c.EndpointType)
		}
		if c.SecurityPolicy != nil {
			dc.SecurityPolicy = v2types.SecurityPolicy(*c.SecurityPolicy)
		}
		out = append(out, dc)
	}
	return out
}

type domainV2Provider struct{ c *clients }

func (p *domainV2Provider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var dp domainV2Props
	if err := props(r, &dp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "DomainName"); err != nil {
		return nil, err
	}
	in := &apigatewayv2.CreateDomainNameInput{DomainName: dp.DomainName, DomainNameConfigurations: dp.configurations(), Tags: dp.Tags}
	if m := dp.MutualTlsAuthentication; m != nil {
		in.MutualTlsAuthentication = &v2types.MutualTlsAuthenticationInput{TruststoreUri: m.TruststoreUri}
	}
	out, err := p.c.apigw2.CreateDomainName(ctx, in)
	if err != nil {
		return nil, apiError(svcAPIGatewayV2, err)
	}
	name := aws.ToString(out.DomainName)
	regional := name
	if len(out.DomainNameConfigurations) > 0 {
		regional = aws.ToString(out.DomainNameConfigurations[0].ApiGatewayDomainName)
	}
	a := domainAttrs(name, regional)
	a["DomainNameArn"] = aws.ToString(out.DomainNameArn)
	return &stack.Result{PhysicalID: name, Attrs: a}, nil
}

func (p *domainV2Provider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var dp domainV2Props
	if err := props(r, &dp); err != nil {
		return nil, err
	}
	if changed(prev.Properties, r.Properties)["DomainName"] {
		return nil, replace(r.LogicalID, "DomainName")
	}
	if _, err := p.c.apigw2.UpdateDomainName(ctx, &apigatewayv2.UpdateDomainNameInput{DomainName: &prev.PhysicalID,
		DomainNameConfigurations: dp.configurations()}); err != nil {
		return nil, apiError(svcAPIGatewayV2, err)
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: prev.Attrs}, nil
}

func (p *domainV2Provider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw2.DeleteDomainName(ctx, &apigatewayv2.DeleteDomainNameInput{DomainName: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGatewayV2, err)
}

// --- AWS::ApiGatewayV2::ApiMapping --------------------------------------

type apiMappingProps struct {
	ApiId         *string //nolint:revive // CloudFormation's name
	ApiMappingKey *string //nolint:revive // CloudFormation's name
	DomainName    *string
	Stage         *string
}

type apiMappingProvider struct{ c *clients }

func (p *apiMappingProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var mp apiMappingProps
	if err := props(r, &mp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "ApiId", "DomainName", "Stage"); err != nil {
		return nil, err
	}
	out, err := p.c.apigw2.CreateApiMapping(ctx, &apigatewayv2.CreateApiMappingInput{ApiId: mp.ApiId, DomainName: mp.DomainName,
		Stage: mp.Stage, ApiMappingKey: mp.ApiMappingKey})
	if err != nil {
		return nil, apiError(svcAPIGatewayV2, err)
	}
	id := aws.ToString(out.ApiMappingId)
	return &stack.Result{PhysicalID: id, Attrs: map[string]any{"ApiMappingId": id}}, nil
}

func (p *apiMappingProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var mp apiMappingProps
	if err := props(r, &mp); err != nil {
		return nil, err
	}
	if changed(prev.Properties, r.Properties)["DomainName"] {
		return nil, replace(r.LogicalID, "DomainName")
	}
	if _, err := p.c.apigw2.UpdateApiMapping(ctx, &apigatewayv2.UpdateApiMappingInput{ApiMappingId: &prev.PhysicalID, DomainName: mp.DomainName,
		ApiId: mp.ApiId, Stage: mp.Stage, ApiMappingKey: aws.String(aws.ToString(mp.ApiMappingKey))}); err != nil {
		return nil, apiError(svcAPIGatewayV2, err)
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: prev.Attrs}, nil
}

func (p *apiMappingProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	domain, _ := cur.Properties["DomainName"].(string)
	if domain == "" || cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw2.DeleteApiMapping(ctx, &apigatewayv2.DeleteApiMappingInput{DomainName: &domain, ApiMappingId: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGatewayV2, err)
}
