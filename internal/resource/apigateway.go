package resource

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	agtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
	"github.com/nimbus-serverless/nimbus/internal/yamldoc"
)

const svcAPIGateway = "ApiGateway"

// The REST API types (API Gateway v1).
func addAPIGateway(c *clients, ps map[string]stack.Provider) {
	ps["AWS::ApiGateway::RestApi"] = &restAPIProvider{c}
	ps["AWS::ApiGateway::Deployment"] = &deploymentProvider{c}
	ps["AWS::ApiGateway::Stage"] = &stageProvider{c}
	ps["AWS::ApiGateway::Resource"] = &restResourceProvider{c}
	ps["AWS::ApiGateway::Method"] = &methodProvider{c}
	ps["AWS::ApiGateway::Authorizer"] = &authorizerProvider{c}
	ps["AWS::ApiGateway::ApiKey"] = &apiKeyProvider{c}
	ps["AWS::ApiGateway::UsagePlan"] = &usagePlanProvider{c}
	ps["AWS::ApiGateway::UsagePlanKey"] = &usagePlanKeyProvider{c}
}

// s3Location is a BodyS3Location / DefinitionS3Location.
type s3Location struct {
	Bucket, Key   *string
	Version, ETag *string
}

// body returns an API definition: Body (an object, or a string holding
// JSON or YAML), or BodyS3Location naming an artifact `nimbus deploy`
// uploaded. nil if the template gives neither.
func (c *clients) body(ctx context.Context, logicalID string, body any, loc *s3Location) ([]byte, error) {
	switch b := body.(type) {
	case nil:
	case string:
		return []byte(b), nil
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("%s: Body: %w", logicalID, err)
		}
		return data, nil
	}
	if loc != nil {
		return c.artifact(ctx, logicalID, aws.ToString(loc.Bucket), aws.ToString(loc.Key))
	}
	return nil, nil
}

// --- AWS::ApiGateway::RestApi -----------------------------------------

type restAPIProps struct {
	ApiKeySourceType          *string //nolint:revive // CloudFormation's name
	BinaryMediaTypes          []string
	Body                      any
	BodyS3Location            *s3Location
	CloneFrom                 *string
	Description               *string
	DisableExecuteApiEndpoint *bool //nolint:revive // CloudFormation's name
	EndpointConfiguration     *agtypes.EndpointConfiguration
	FailOnWarnings            *bool
	MinimumCompressionSize    *int64
	Mode                      *string
	Name                      *string
	Parameters                map[string]string
	Policy                    any
	Tags                      []tag
}

type restAPIProvider struct{ c *clients }

func (p *restAPIProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var rp restAPIProps
	if err := props(r, &rp); err != nil {
		return nil, err
	}
	body, err := p.c.body(ctx, r.LogicalID, rp.Body, rp.BodyS3Location)
	if err != nil {
		return nil, err
	}
	var id, root string
	if body != nil {
		if rp.Name != nil {
			body = withTitle(body, *rp.Name)
		}
		out, err := p.c.apigw.ImportRestApi(ctx, &apigateway.ImportRestApiInput{
			Body: body, FailOnWarnings: aws.ToBool(rp.FailOnWarnings), Parameters: rp.Parameters,
		})
		if err != nil {
			return nil, apiError(svcAPIGateway, err)
		}
		id, root = aws.ToString(out.Id), aws.ToString(out.RootResourceId)
		// Properties given beside the body override it, as in CloudFormation.
		if err := p.patch(ctx, id, overrides(&rp)); err != nil {
			p.undo(ctx, id)
			return nil, err
		}
	} else {
		if rp.Name == nil {
			return nil, fmt.Errorf("%s: a REST API needs a Name when it has no Body or BodyS3Location", r.LogicalID)
		}
		in := &apigateway.CreateRestApiInput{
			Name: rp.Name, BinaryMediaTypes: rp.BinaryMediaTypes, CloneFrom: rp.CloneFrom, Description: rp.Description,
			DisableExecuteApiEndpoint: aws.ToBool(rp.DisableExecuteApiEndpoint), EndpointConfiguration: rp.EndpointConfiguration,
			MinimumCompressionSize: i32(rp.MinimumCompressionSize), Tags: tagMap(rp.Tags),
		}
		if rp.ApiKeySourceType != nil {
			in.ApiKeySource = agtypes.ApiKeySourceType(*rp.ApiKeySourceType)
		}
		if in.Policy, err = jsonString(rp.Policy); err != nil {
			return nil, fmt.Errorf("%s: Policy: %w", r.LogicalID, err)
		}
		out, err := p.c.apigw.CreateRestApi(ctx, in)
		if err != nil {
			return nil, apiError(svcAPIGateway, err)
		}
		id, root = aws.ToString(out.Id), aws.ToString(out.RootResourceId)
	}
	return restAPIResult(id, root), nil
}

// withTitle gives a definition without info.title the API's Name as its
// title: CloudFormation applies Name over the body and needs a title only
// when there is no Name. A body it cannot read is returned as it is (the
// import reports what is wrong with it).
func withTitle(body []byte, name string) []byte {
	v, err := yamldoc.Decode(body, yamldoc.Options{Noun: "definition"})
	doc, ok := v.(map[string]any)
	if err != nil || !ok {
		return body
	}
	info, _ := doc["info"].(map[string]any)
	if info == nil {
		info = map[string]any{}
	}
	if t, _ := info["title"].(string); t != "" {
		return body
	}
	info["title"] = name
	doc["info"] = info
	b, err := json.Marshal(doc)
	if err != nil {
		return body
	}
	return b
}

func restAPIResult(id, root string) *stack.Result {
	return &stack.Result{PhysicalID: id, Attrs: map[string]any{"RestApiId": id, "RootResourceId": root}}
}

func (p *restAPIProvider) undo(ctx context.Context, id string) {
	if _, err := p.c.apigw.DeleteRestApi(context.WithoutCancel(ctx), &apigateway.DeleteRestApiInput{RestApiId: &id}); err != nil && !notFound(err) {
		p.c.log.Warn("undo rest api create", "rest_api_id", id, "err", err)
	}
}

// overrides are the UpdateRestApi operations that apply the properties a
// template gives beside an imported body.
func overrides(rp *restAPIProps) []agtypes.PatchOperation {
	var ops []agtypes.PatchOperation
	if rp.Name != nil {
		ops = append(ops, replaceOp("/name", *rp.Name))
	}
	if rp.Description != nil {
		ops = append(ops, replaceOp("/description", *rp.Description))
	}
	for _, t := range rp.BinaryMediaTypes {
		ops = append(ops, agtypes.PatchOperation{Op: agtypes.OpAdd, Path: aws.String("/binaryMediaTypes/" + escapePath(t))})
	}
	if rp.DisableExecuteApiEndpoint != nil {
		ops = append(ops, replaceOp("/disableExecuteApiEndpoint", strconv.FormatBool(*rp.DisableExecuteApiEndpoint)))
	}
	return ops
}

func replaceOp(path, value string) agtypes.PatchOperation {
	return agtypes.PatchOperation{Op: agtypes.OpReplace, Path: aws.String(path), Value: aws.String(value)}
}

// escapePath escapes a JSON Pointer segment as API Gateway's patch paths
// do ("/" is "~1").
func escapePath(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func (p *restAPIProvider) patch(ctx context.Context, id string, ops []agtypes.PatchOperation) error {
	if len(ops) == 0 {
		return nil
	}
	_, err := p.c.apigw.UpdateRestApi(ctx, &apigateway.UpdateRestApiInput{RestApiId: &id, PatchOperations: ops})
	return apiError(svcAPIGateway, err)
}

func (p *restAPIProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var rp, old restAPIProps
	if err := props(r, &rp); err != nil {
		return nil, err
	}
	_ = propsOf(r.LogicalID, prev.Properties, &old) // applied before, so valid
	ch := changed(prev.Properties, r.Properties)
	if ch["CloneFrom"] {
		return nil, replace(r.LogicalID, "CloneFrom")
	}
	id := prev.PhysicalID
	root, _ := prev.Attrs["RootResourceId"].(string)
	body, err := p.c.body(ctx, r.LogicalID, rp.Body, rp.BodyS3Location)
	if err != nil {
		return nil, err
	}
	if body != nil && anyChanged(ch, "Body", "BodyS3Location", "Parameters", "FailOnWarnings", "Mode") {
		mode := agtypes.PutModeOverwrite
		if rp.Mode != nil {
			mode = agtypes.PutMode(*rp.Mode)
		}
		out, err := p.c.apigw.PutRestApi(ctx, &apigateway.PutRestApiInput{
			RestApiId: &id, Body: body, Mode: mode, FailOnWarnings: aws.ToBool(rp.FailOnWarnings), Parameters: rp.Parameters,
		})
		if err != nil {
			return nil, apiError(svcAPIGateway, err)
		}
		if out.RootResourceId != nil {
			root = *out.RootResourceId
		}
		if err := p.patch(ctx, id, append(removedBinaryTypes(&old, &rp), overrides(&rp)...)); err != nil {
			return nil, err
		}
		return restAPIResult(id, root), nil
	}
	ops := removedBinaryTypes(&old, &rp)
	if ch["Name"] && rp.Name != nil {
		ops = append(ops, replaceOp("/name", *rp.Name))
	}
	if ch["Description"] {
		ops = append(ops, replaceOp("/description", derefOr(rp.Description, "")))
	}
	for _, t := range rp.BinaryMediaTypes {
		if !slices.Contains(old.BinaryMediaTypes, t) {
			ops = append(ops, agtypes.PatchOperation{Op: agtypes.OpAdd, Path: aws.String("/binaryMediaTypes/" + escapePath(t))})
		}
	}
	if ch["DisableExecuteApiEndpoint"] {
		ops = append(ops, replaceOp("/disableExecuteApiEndpoint", strconv.FormatBool(aws.ToBool(rp.DisableExecuteApiEndpoint))))
	}
	if ch["ApiKeySourceType"] {
		ops = append(ops, replaceOp("/apiKeySource", derefOr(rp.ApiKeySourceType, "HEADER")))
	}
	if ch["MinimumCompressionSize"] {
		v := ""
		if rp.MinimumCompressionSize != nil {
			v = strconv.FormatInt(*rp.MinimumCompressionSize, 10)
		}
		ops = append(ops, replaceOp("/minimumCompressionSize", v))
	}
	if ch["Policy"] {
		pol, err := jsonString(rp.Policy)
		if err != nil {
			return nil, fmt.Errorf("%s: Policy: %w", r.LogicalID, err)
		}
		ops = append(ops, replaceOp("/policy", aws.ToString(pol)))
	}
	if err := p.patch(ctx, id, ops); err != nil {
		return nil, err
	}
	return restAPIResult(id, root), nil
}

// removedBinaryTypes are the operations that remove the binary media
// types a template no longer lists.
func removedBinaryTypes(old, cur *restAPIProps) []agtypes.PatchOperation {
	var ops []agtypes.PatchOperation
	for _, t := range old.BinaryMediaTypes {
		if !slices.Contains(cur.BinaryMediaTypes, t) {
			ops = append(ops, agtypes.PatchOperation{Op: agtypes.OpRemove, Path: aws.String("/binaryMediaTypes/" + escapePath(t))})
		}
	}
	return ops
}

func (p *restAPIProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw.DeleteRestApi(ctx, &apigateway.DeleteRestApiInput{RestApiId: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGateway, err)
}

// jsonString is a policy document property as the API takes it: a string
// as is, an object as JSON; nil stays nil.
func jsonString(v any) (*string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return &v, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return aws.String(string(b)), nil
}

// --- AWS::ApiGateway::Deployment --------------------------------------

type deploymentProps struct {
	DeploymentCanarySettings any
	Description              *string
	RestApiId                *string //nolint:revive // CloudFormation's name
	StageDescription         *stageSettings
	StageName                *string
}

// stageSettings are the stage properties a Deployment's StageDescription
// and a Stage share.
type stageSettings struct {
	AccessLogSetting     any
	CacheClusterEnabled  *bool
	CacheClusterSize     *string
	CacheDataEncrypted   *bool
	CacheTtlInSeconds    *int64 //nolint:revive // CloudFormation's name
	CachingEnabled       *bool
	CanarySetting        any
	ClientCertificateId  *string //nolint:revive // CloudFormation's name
	DataTraceEnabled     *bool
	Description          *string
	DocumentationVersion *string
	LoggingLevel         *string
	MethodSettings       []methodSetting
	MetricsEnabled       *bool
	Tags                 []tag
	ThrottlingBurstLimit *int64
	ThrottlingRateLimit  *float64
	TracingEnabled       *bool
	Variables            map[string]string
}

// methodSetting is one entry of a stage's MethodSettings.
type methodSetting struct {
	CacheDataEncrypted   *bool
	CacheTtlInSeconds    *int64 //nolint:revive // CloudFormation's name
	CachingEnabled       *bool
	DataTraceEnabled     *bool
	HttpMethod           *string //nolint:revive // CloudFormation's name
	LoggingLevel         *string
	MetricsEnabled       *bool
	ResourcePath         *string
	ThrottlingBurstLimit *int64
	ThrottlingRateLimit  *float64
}

// key is the patch path prefix of a method setting: /~1items/GET, or
// /*/* for every method.
func (m methodSetting) key() string {
	rp := strings.TrimPrefix(derefOr(m.ResourcePath, "/*"), "/")
	if rp != "*" {
		rp = escapePath("/" + rp)
	}
	return "/" + rp + "/" + derefOr(m.HttpMethod, "*")
}

// ops are the UpdateStage operations that set a method setting.
func (m methodSetting) ops() []agtypes.PatchOperation {
	k := m.key()
	var ops []agtypes.PatchOperation
	add := func(path, v string) { ops = append(ops, replaceOp(k+path, v)) }
	if m.ThrottlingBurstLimit != nil {
		add("/throttling/burstLimit", strconv.FormatInt(*m.ThrottlingBurstLimit, 10))
	}
	if m.ThrottlingRateLimit != nil {
		add("/throttling/rateLimit", strconv.FormatFloat(*m.ThrottlingRateLimit, 'f', -1, 64))
	}
	if m.CachingEnabled != nil {
		add("/caching/enabled", strconv.FormatBool(*m.CachingEnabled))
	}
	if m.CacheTtlInSeconds != nil {
		add("/caching/ttlInSeconds", strconv.FormatInt(*m.CacheTtlInSeconds, 10))
	}
	if m.CacheDataEncrypted != nil {
		add("/caching/dataEncrypted", strconv.FormatBool(*m.CacheDataEncrypted))
	}
	if m.LoggingLevel != nil {
		add("/logging/loglevel", *m.LoggingLevel)
	}
	if m.DataTraceEnabled != nil {
		add("/logging/dataTrace", strconv.FormatBool(*m.DataTraceEnabled))
	}
	if m.MetricsEnabled != nil {
		add("/metrics/enabled", strconv.FormatBool(*m.MetricsEnabled))
	}
	return ops
}

// stageOps are the UpdateStage operations that take a stage from old's
// settings to cur's (old nil: a stage just made with cur's basic
// settings, so only its method settings remain to apply).
func stageOps(old, cur *stageSettings) []agtypes.PatchOperation {
	var ops []agtypes.PatchOperation
	// A Deployment's StageDescription gives the settings of every method
	// at its top level.
	all := methodSetting{
		CacheDataEncrypted: cur.CacheDataEncrypted, CacheTtlInSeconds: cur.CacheTtlInSeconds, CachingEnabled: cur.CachingEnabled,
		DataTraceEnabled: cur.DataTraceEnabled, LoggingLevel: cur.LoggingLevel, MetricsEnabled: cur.MetricsEnabled,
		ThrottlingBurstLimit: cur.ThrottlingBurstLimit, ThrottlingRateLimit: cur.ThrottlingRateLimit,
	}
	settings := cur.MethodSettings
	if len(all.ops()) > 0 {
		settings = append([]methodSetting{all}, settings...)
	}
	if old != nil {
		if !equalPtr(old.Description, cur.Description) {
			ops = append(ops, replaceOp("/description", derefOr(cur.Description, "")))
		}
		if aws.ToBool(old.CacheClusterEnabled) != aws.ToBool(cur.CacheClusterEnabled) {
			ops = append(ops, replaceOp("/cacheClusterEnabled", strconv.FormatBool(aws.ToBool(cur.CacheClusterEnabled))))
		}
		if !equalPtr(old.CacheClusterSize, cur.CacheClusterSize) && cur.CacheClusterSize != nil {
			ops = append(ops, replaceOp("/cacheClusterSize", *cur.CacheClusterSize))
		}
		if aws.ToBool(old.TracingEnabled) != aws.ToBool(cur.TracingEnabled) {
			ops = append(ops, replaceOp("/tracingEnabled", strconv.FormatBool(aws.ToBool(cur.TracingEnabled))))
		}
		for k := range old.Variables {
			if _, ok := cur.Variables[k]; !ok {
				ops = append(ops, agtypes.PatchOperation{Op: agtypes.OpRemove, Path: aws.String("/variables/" + escapePath(k))})
			}
		}
		for k, v := range cur.Variables {
			if ov, ok := old.Variables[k]; !ok || ov != v {
				ops = append(ops, replaceOp("/variables/"+escapePath(k), v))
			}
		}
		keep := map[string]bool{}
		for _, m := range settings {
			keep[m.key()] = true
		}
		for _, m := range old.MethodSettings {
			if !keep[m.key()] {
				ops = append(ops, agtypes.PatchOperation{Op: agtypes.OpRemove, Path: aws.String(m.key() + "/throttling/burstLimit")})
			}
		}
	}
	for _, m := range settings {
		ops = append(ops, m.ops()...)
	}
	return ops
}

func equalPtr[T comparable](a, b *T) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

type deploymentProvider struct{ c *clients }

func (p *deploymentProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var dp deploymentProps
	if err := props(r, &dp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "RestApiId"); err != nil {
		return nil, err
	}
	sd := dp.StageDescription
	if sd == nil {
		sd = &stageSettings{}
	}
	in := &apigateway.CreateDeploymentInput{
		RestApiId: dp.RestApiId, StageName: dp.StageName, Description: dp.Description,
		StageDescription: sd.Description, CacheClusterEnabled: sd.CacheClusterEnabled,
		TracingEnabled: sd.TracingEnabled, Variables: sd.Variables,
	}
	if sd.CacheClusterSize != nil {
		in.CacheClusterSize = agtypes.CacheClusterSize(*sd.CacheClusterSize)
	}
	out, err := p.c.apigw.CreateDeployment(ctx, in)
	if err != nil {
		return nil, apiError(svcAPIGateway, err)
	}
	id := aws.ToString(out.Id)
	if ops := stageOps(nil, sd); dp.StageName != nil && len(ops) > 0 {
		if _, err := p.c.apigw.UpdateStage(ctx, &apigateway.UpdateStageInput{RestApiId: dp.RestApiId, StageName: dp.StageName, PatchOperations: ops}); err != nil {
			_ = p.Delete(context.WithoutCancel(ctx), r, &stack.Resource{LogicalID: r.LogicalID, Properties: r.Properties, Result: stack.Result{PhysicalID: id}})
			return nil, apiError(svcAPIGateway, err)
		}
	}
	return &stack.Result{PhysicalID: id, Attrs: map[string]any{"DeploymentId": id}}, nil
}

func (p *deploymentProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	return nil, replace(r.LogicalID, "any property of a deployment")
}

// Delete removes the stage the deployment made (StageName) if that stage
// still serves this deployment, then the deployment.
func (p *deploymentProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	var dp deploymentProps
	if err := propsOf(cur.LogicalID, cur.Properties, &dp); err != nil || dp.RestApiId == nil || cur.PhysicalID == "" {
		return nil // never made
	}
	if dp.StageName != nil {
		st, err := p.c.apigw.GetStage(ctx, &apigateway.GetStageInput{RestApiId: dp.RestApiId, StageName: dp.StageName})
		switch {
		case err == nil && aws.ToString(st.DeploymentId) == cur.PhysicalID:
			if _, err := p.c.apigw.DeleteStage(ctx, &apigateway.DeleteStageInput{RestApiId: dp.RestApiId, StageName: dp.StageName}); err != nil && !notFound(err) {
				return apiError(svcAPIGateway, err)
			}
		case err != nil && !notFound(err):
			return apiError(svcAPIGateway, err)
		}
	}
	_, err := p.c.apigw.DeleteDeployment(ctx, &apigateway.DeleteDeploymentInput{RestApiId: dp.RestApiId, DeploymentId: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGateway, err)
}

// --- AWS::ApiGateway::Stage -------------------------------------------

type stageProps struct {
	stageSettings `cfn:"-"`
	DeploymentId  *string //nolint:revive // CloudFormation's name
	RestApiId     *string //nolint:revive // CloudFormation's name
	StageName     *string
}

// decodeStage decodes a Stage's properties: its own three and the
// settings it shares with a Deployment's StageDescription.
func decodeStage(logicalID string, p map[string]any) (*stageProps, error) {
	own := map[string]any{}
	rest := map[string]any{}
	for k, v := range p {
		switch k {
		case "DeploymentId", "RestApiId", "StageName":
			own[k] = v
		default:
			rest[k] = v
		}
	}
	var sp stageProps
	if err := propsOf(logicalID, own, &sp); err != nil {
		return nil, err
	}
	if err := propsOf(logicalID, rest, &sp.stageSettings); err != nil {
		return nil, err
	}
	return &sp, nil
}

type stageProvider struct{ c *clients }

func (p *stageProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	sp, err := decodeStage(r.LogicalID, r.Properties)
	if err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "RestApiId", "DeploymentId"); err != nil {
		return nil, err
	}
	name := derefOr(sp.StageName, "")
	if name == "" {
		return nil, requireProps(r.LogicalID, r.Properties, "StageName")
	}
	in := &apigateway.CreateStageInput{
		RestApiId: sp.RestApiId, StageName: &name, DeploymentId: sp.DeploymentId, Description: sp.Description,
		CacheClusterEnabled: aws.ToBool(sp.CacheClusterEnabled), TracingEnabled: aws.ToBool(sp.TracingEnabled),
		Variables: sp.Variables, Tags: tagMap(sp.Tags), DocumentationVersion: sp.DocumentationVersion,
	}
	if sp.CacheClusterSize != nil {
		in.CacheClusterSize = agtypes.CacheClusterSize(*sp.CacheClusterSize)
	}
	if _, err := p.c.apigw.CreateStage(ctx, in); err != nil {
		return nil, apiError(svcAPIGateway, err)
	}
	if ops := stageOps(nil, &sp.stageSettings); len(ops) > 0 {
		if _, err := p.c.apigw.UpdateStage(ctx, &apigateway.UpdateStageInput{RestApiId: sp.RestApiId, StageName: &name, PatchOperations: ops}); err != nil {
			_, _ = p.c.apigw.DeleteStage(context.WithoutCancel(ctx), &apigateway.DeleteStageInput{RestApiId: sp.RestApiId, StageName: &name})
			return nil, apiError(svcAPIGateway, err)
		}
	}
	return &stack.Result{PhysicalID: name}, nil
}

func (p *stageProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	sp, err := decodeStage(r.LogicalID, r.Properties)
	if err != nil {
		return nil, err
	}
	old, err := decodeStage(r.LogicalID, prev.Properties)
	if err != nil {
		return nil, err
	}
	if anyChanged(changed(prev.Properties, r.Properties), "RestApiId", "StageName") {
		return nil, replace(r.LogicalID, "RestApiId or StageName")
	}
	var ops []agtypes.PatchOperation
	if !equalPtr(old.DeploymentId, sp.DeploymentId) {
		ops = append(ops, replaceOp("/deploymentId", aws.ToString(sp.DeploymentId)))
	}
	ops = append(ops, stageOps(&old.stageSettings, &sp.stageSettings)...)
	if len(ops) > 0 {
		if _, err := p.c.apigw.UpdateStage(ctx, &apigateway.UpdateStageInput{RestApiId: sp.RestApiId, StageName: &prev.PhysicalID, PatchOperations: ops}); err != nil {
			return nil, apiError(svcAPIGateway, err)
		}
	}
	return &stack.Result{PhysicalID: prev.PhysicalID}, nil
}

func (p *stageProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	api, _ := cur.Properties["RestApiId"].(string)
	if api == "" || cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw.DeleteStage(ctx, &apigateway.DeleteStageInput{RestApiId: &api, StageName: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGateway, err)
}

// --- AWS::ApiGateway::Resource ----------------------------------------

type restResourceProps struct {
	ParentId, PathPart, RestApiId *string //nolint:revive // CloudFormation's names
}

type restResourceProvider struct{ c *clients }

func (p *restResourceProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var rp restResourceProps
	if err := props(r, &rp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "ParentId", "PathPart", "RestApiId"); err != nil {
		return nil, err
	}
	out, err := p.c.apigw.CreateResource(ctx, &apigateway.CreateResourceInput{RestApiId: rp.RestApiId, ParentId: rp.ParentId, PathPart: rp.PathPart})
	if err != nil {
		return nil, apiError(svcAPIGateway, err)
	}
	id := aws.ToString(out.Id)
	return &stack.Result{PhysicalID: id, Attrs: map[string]any{"ResourceId": id}}, nil
}

func (p *restResourceProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	return nil, replace(r.LogicalID, "ParentId, PathPart or RestApiId")
}

func (p *restResourceProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	api, _ := cur.Properties["RestApiId"].(string)
	if api == "" || cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.apigw.DeleteResource(ctx, &apigateway.DeleteResourceInput{RestApiId: &api, ResourceId: &cur.PhysicalID})
	return ignoreNotFound(svcAPIGateway, err)
}
