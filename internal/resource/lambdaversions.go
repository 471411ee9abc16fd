package resource

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// The Lambda types around a function: versions, aliases, permissions,
// URLs, asynchronous invocation configuration and layers.
func addLambdaVersions(c *clients, ps map[string]stack.Provider) {
	ps["AWS::Lambda::Version"] = &versionProvider{c}
	ps["AWS::Lambda::Alias"] = &aliasProvider{c}
	ps["AWS::Lambda::Permission"] = &permissionProvider{c}
	ps["AWS::Lambda::Url"] = &urlProvider{c}
	ps["AWS::Lambda::EventInvokeConfig"] = &eventInvokeConfigProvider{c}
	ps["AWS::Lambda::LayerVersion"] = &layerVersionProvider{c}
	ps["AWS::Lambda::LayerVersionPermission"] = &layerVersionPermissionProvider{c}
}

// provisioned is the ProvisionedConcurrencyConfig of a version or alias.
type provisioned struct{ ProvisionedConcurrentExecutions *int64 }

// putProvisioned sets a qualifier's provisioned concurrency and waits
// until it is READY, as CloudFormation does.
func (c *clients) putProvisioned(ctx context.Context, fn, qualifier string, pc *provisioned) error {
	if _, err := c.lambda.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{
		FunctionName: &fn, Qualifier: &qualifier, ProvisionedConcurrentExecutions: i32(pc.ProvisionedConcurrentExecutions),
	}); err != nil {
		return apiError(svcLambda, err)
	}
	return poll(ctx, "provisioned concurrency of "+fn+":"+qualifier, func(ctx context.Context) (bool, error) {
		out, err := c.lambda.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: &fn, Qualifier: &qualifier})
		if err != nil {
			return false, apiError(svcLambda, err)
		}
		if out.Status == types.ProvisionedConcurrencyStatusEnumFailed {
			return false, fmt.Errorf("provisioned concurrency of %s:%s failed: %s", fn, qualifier, aws.ToString(out.StatusReason))
		}
		return out.Status == types.ProvisionedConcurrencyStatusEnumReady, nil
	})
}

// --- AWS::Lambda::Version ---------------------------------------------

type versionProps struct {
	FunctionName                 *string
	CodeSha256                   *string
	Description                  *string
	ProvisionedConcurrencyConfig *provisioned
	RuntimePolicy                map[string]any
}

type versionProvider struct{ c *clients }

func (p *versionProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var vp versionProps
	if err := props(r, &vp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "FunctionName"); err != nil {
		return nil, err
	}
	out, err := p.c.lambda.PublishVersion(ctx, &lambda.PublishVersionInput{
		FunctionName: vp.FunctionName, CodeSha256: vp.CodeSha256, Description: vp.Description,
	})
	if err != nil {
		return nil, apiError(svcLambda, err)
	}
	arn, version := aws.ToString(out.FunctionArn), aws.ToString(out.Version)
	if pc := vp.ProvisionedConcurrencyConfig; pc != nil {
		if err := p.c.putProvisioned(ctx, *vp.FunctionName, version, pc); err != nil {
			_, derr := p.c.lambda.DeleteFunction(context.WithoutCancel(ctx), &lambda.DeleteFunctionInput{FunctionName: vp.FunctionName, Qualifier: &version})
			if derr != nil && !notFound(derr) {
				p.c.log.Warn("undo version publish", "function", *vp.FunctionName, "version", version, "err", derr)
			}
			return nil, err
		}
	}
	return &stack.Result{PhysicalID: arn, Attrs: map[string]any{"Version": version, "FunctionArn": arn}}, nil
}

func (p *versionProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	return nil, replace(r.LogicalID, "any property of a version")
}

func (p *versionProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	fn, version, ok := splitQualified(cur.PhysicalID)
	if !ok {
		return nil
	}
	_, err := p.c.lambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: &fn, Qualifier: &version})
	return ignoreNotFound(svcLambda, err)
}

// splitQualified splits a qualified function ARN (…:function:name:qualifier)
// into the unqualified ARN and the qualifier.
func splitQualified(arn string) (fn, qualifier string, ok bool) {
	parts := strings.Split(arn, ":")
	if len(parts) != 8 || parts[0] != "arn" {
		return arn, "", false
	}
	return strings.Join(parts[:7], ":"), parts[7], true
}

// --- AWS::Lambda::Alias -----------------------------------------------

type aliasProps struct {
	FunctionName, FunctionVersion, Name *string
	Description                         *string
	RoutingConfig                       *struct {
		AdditionalVersionWeights []struct {
			FunctionVersion string
			FunctionWeight  float64
		}
	}
	ProvisionedConcurrencyConfig *provisioned
}

func (a *aliasProps) routing() *types.AliasRoutingConfiguration {
	rc := &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{}}
	if a.RoutingConfig != nil {
		for _, w := range a.RoutingConfig.AdditionalVersionWeights {
			rc.AdditionalVersionWeights[w.FunctionVersion] = w.FunctionWeight
		}
	}
	return rc
}

type aliasProvider struct{ c *clients }

func (p *aliasProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var ap aliasProps
	if err := props(r, &ap); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "FunctionName", "FunctionVersion", "Name"); err != nil {
		return nil, err
	}
	out, err := p.c.lambda.CreateAlias(ctx, &lambda.CreateAliasInput{
		FunctionName: ap.FunctionName, FunctionVersion: ap.FunctionVersion, Name: ap.Name,
		Description: ap.Description, RoutingConfig: ap.routing(),
	})
	if err != nil {
		return nil, apiError(svcLambda, err)
	}
	arn := aws.ToString(out.AliasArn)
	if pc := ap.ProvisionedConcurrencyConfig; pc != nil {
		if err := p.c.putProvisioned(ctx, *ap.FunctionName, *ap.Name, pc); err != nil {
			if _, derr := p.c.lambda.DeleteAlias(context.WithoutCancel(ctx), &lambda.DeleteAliasInput{FunctionName: ap.FunctionName, Name: ap.Name}); derr != nil && !notFound(derr) {
				p.c.log.Warn("undo alias create", "alias", arn, "err", derr)
			}
			return nil, err
		}
	}
	return &stack.Result{PhysicalID: arn, Attrs: map[string]any{"AliasArn": arn}}, nil
}

func (p *aliasProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var ap aliasProps
	if err := props(r, &ap); err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	if anyChanged(ch, "FunctionName", "Name") {
		return nil, replace(r.LogicalID, "FunctionName or Name")
	}
	if anyChanged(ch, "FunctionVersion", "Description", "RoutingConfig") {
		desc := ap.Description
		if desc == nil {
			desc = aws.String("")
		}
		if _, err := p.c.lambda.UpdateAlias(ctx, &lambda.UpdateAliasInput{
			FunctionName: ap.FunctionName, Name: ap.Name, FunctionVersion: ap.FunctionVersion,
			Description: desc, RoutingConfig: ap.routing(),
		}); err != nil {
			return nil, apiError(svcLambda, err)
		}
	}
	if ch["ProvisionedConcurrencyConfig"] {
		if pc := ap.ProvisionedConcurrencyConfig; pc != nil {
			if err := p.c.putProvisioned(ctx, *ap.FunctionName, *ap.Name, pc); err != nil {
				return nil, err
			}
		} else if _, err := p.c.lambda.DeleteProvisionedConcurrencyConfig(ctx, &lambda.DeleteProvisionedConcurrencyConfigInput{
			FunctionName: ap.FunctionName, Qualifier: ap.Name,
		}); err != nil && !notFound(err) {
			return nil, apiError(svcLambda, err)
		}
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: prev.Attrs}, nil
}

func (p *aliasProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	fn, name, ok := splitQualified(cur.PhysicalID)
	if !ok {
		return nil
	}
	_, err := p.c.lambda.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: &fn, Name: &name})
	return ignoreNotFound(svcLambda, err)
}

// --- AWS::Lambda::Permission ------------------------------------------

type permissionProps struct {
	Action, FunctionName, Principal *string
	EventSourceToken                *string
	FunctionURLAuthType             types.FunctionUrlAuthType
	InvokedViaFunctionURL           *bool
	PrincipalOrgID                  *string
	SourceAccount, SourceArn        *string
}

type permissionProvider struct{ c *clients }

func (p *permissionProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var pp permissionProps
	if err := props(r, &pp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "Action", "FunctionName", "Principal"); err != nil {
		return nil, err
	}
	sid := physicalName(r.StackName, r.LogicalID, 100)
	fn, qualifier, _ := splitQualified(*pp.FunctionName)
	in := &lambda.AddPermissionInput{
		Action: pp.Action, FunctionName: &fn, Principal: pp.Principal, StatementId: &sid,
		EventSourceToken: pp.EventSourceToken, FunctionUrlAuthType: pp.FunctionURLAuthType,
		InvokedViaFunctionUrl: pp.InvokedViaFunctionURL, PrincipalOrgID: pp.PrincipalOrgID,
		SourceAccount: pp.SourceAccount, SourceArn: pp.SourceArn,
	}
	if qualifier != "" {
		in.Qualifier = &qualifier
	}
	if _, err := p.c.lambda.AddPermission(ctx, in); err != nil {
		return nil, apiError(svcLambda, err)
	}
	return &stack.Result{PhysicalID: sid}, nil
}

func (p *permissionProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	return nil, replace(r.LogicalID, "any property of a permission")
}

func (p *permissionProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	fnProp, _ := cur.Properties["FunctionName"].(string)
	if fnProp == "" || cur.PhysicalID == "" {
		return nil
	}
	fn, qualifier, _ := splitQualified(fnProp)
	in := &lambda.RemovePermissionInput{FunctionName: &fn, StatementId: &cur.PhysicalID}
	if qualifier != "" {
		in.Qualifier = &qualifier
	}
	_, err := p.c.lambda.RemovePermission(ctx, in)
	return ignoreNotFound(svcLambda, err)
}

// --- AWS::Lambda::Url -------------------------------------------------

type urlProps struct {
	TargetFunctionArn *string
	Qualifier         *string
	AuthType          types.FunctionUrlAuthType
	Cors              *types.Cors
	InvokeMode        types.InvokeMode
}

// target is the function and qualifier a URL is for: TargetFunctionArn
// is a name, an ARN or an alias's ARN; Qualifier may name the alias.
func (u *urlProps) target() (fn string, qualifier *string) {
	fn, q, ok := splitQualified(aws.ToString(u.TargetFunctionArn))
	if ok {
		return fn, &q
	}
	return fn, u.Qualifier
}

type urlProvider struct{ c *clients }

func (p *urlProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var up urlProps
	if err := props(r, &up); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "TargetFunctionArn", "AuthType"); err != nil {
		return nil, err
	}
	fn, q := up.target()
	out, err := p.c.lambda.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{
		FunctionName: &fn, Qualifier: q, AuthType: up.AuthType, Cors: up.Cors, InvokeMode: up.InvokeMode,
	})
	if err != nil {
		return nil, apiError(svcLambda, err)
	}
	return urlResult(aws.ToString(out.FunctionArn), aws.ToString(out.FunctionUrl)), nil
}

func urlResult(arn, url string) *stack.Result {
	return &stack.Result{PhysicalID: arn, Attrs: map[string]any{"FunctionArn": arn, "FunctionUrl": url}}
}

func (p *urlProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var up urlProps
	if err := props(r, &up); err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	if anyChanged(ch, "TargetFunctionArn", "Qualifier") {
		return nil, replace(r.LogicalID, "TargetFunctionArn or Qualifier")
	}
	fn, q := up.target()
	cors := up.Cors
	if cors == nil {
		cors = &types.Cors{}
	}
	invokeMode := up.InvokeMode
	if invokeMode == "" {
		invokeMode = types.InvokeModeBuffered
	}
	out, err := p.c.lambda.UpdateFunctionUrlConfig(ctx, &lambda.UpdateFunctionUrlConfigInput{
		FunctionName: &fn, Qualifier: q, AuthType: up.AuthType, Cors: cors, InvokeMode: invokeMode,
	})
	if err != nil {
		return nil, apiError(svcLambda, err)
	}
	return urlResult(aws.ToString(out.FunctionArn), aws.ToString(out.FunctionUrl)), nil
}

func (p *urlProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	var up urlProps
	if err := propsOf(cur.LogicalID, cur.Properties, &up); err != nil || up.TargetFunctionArn == nil {
		return nil // never made
	}
	fn, q := up.target()
	_, err := p.c.lambda.DeleteFunctionUrlConfig(ctx, &lambda.DeleteFunctionUrlConfigInput{FunctionName: &fn, Qualifier: q})
	return ignoreNotFound(svcLambda, err)
}

// --- AWS::Lambda::EventInvokeConfig -----------------------------------

type eventInvokeConfigProps struct {
	FunctionName, Qualifier  *string
	MaximumEventAgeInSeconds *int64
	MaximumRetryAttempts     *int64
	DestinationConfig        *types.DestinationConfig
}

type eventInvokeConfigProvider struct{ c *clients }

func (p *eventInvokeConfigProvider) put(ctx context.Context, r *stack.Request) error {
	var ep eventInvokeConfigProps
	if err := props(r, &ep); err != nil {
		return err
	}
	if err := requireProps(r.LogicalID, r.Properties, "FunctionName", "Qualifier"); err != nil {
		return err
	}
	_, err := p.c.lambda.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: ep.FunctionName, Qualifier: ep.Qualifier, DestinationConfig: ep.DestinationConfig,
		MaximumEventAgeInSeconds: i32(ep.MaximumEventAgeInSeconds), MaximumRetryAttempts: i32(ep.MaximumRetryAttempts),
	})
	return apiError(svcLambda, err)
}

func (p *eventInvokeConfigProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	if err := p.put(ctx, r); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: physicalName(r.StackName, r.LogicalID, 255)}, nil
}

// Update puts the whole configuration again: what the template leaves out
// goes back to its default, as PutFunctionEventInvokeConfig does.
func (p *eventInvokeConfigProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	if anyChanged(changed(prev.Properties, r.Properties), "FunctionName", "Qualifier") {
		return nil, replace(r.LogicalID, "FunctionName or Qualifier")
	}
	if err := p.put(ctx, r); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: prev.PhysicalID}, nil
}

func (p *eventInvokeConfigProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	var ep eventInvokeConfigProps
	if err := propsOf(cur.LogicalID, cur.Properties, &ep); err != nil || ep.FunctionName == nil {
		return nil // never made
	}
	_, err := p.c.lambda.DeleteFunctionEventInvokeConfig(ctx, &lambda.DeleteFunctionEventInvokeConfigInput{
		FunctionName: ep.FunctionName, Qualifier: ep.Qualifier,
	})
	return ignoreNotFound(svcLambda, err)
}

// --- AWS::Lambda::LayerVersion ----------------------------------------

type layerVersionProps struct {
	CompatibleArchitectures []types.Architecture
	CompatibleRuntimes      []types.Runtime
	Content                 *struct{ S3Bucket, S3Key, S3ObjectVersion *string }
	Description             *string
	LayerName               *string
	LicenseInfo             *string
}

type layerVersionProvider struct{ c *clients }

func (p *layerVersionProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var lp layerVersionProps
	if err := props(r, &lp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "Content"); err != nil {
		return nil, err
	}
	content := &types.LayerVersionContentInput{S3Bucket: lp.Content.S3Bucket, S3Key: lp.Content.S3Key, S3ObjectVersion: lp.Content.S3ObjectVersion}
	if aws.ToString(lp.Content.S3Bucket) == stack.ArtifactBucket {
		zf, err := p.c.artifact(ctx, r.LogicalID, stack.ArtifactBucket, aws.ToString(lp.Content.S3Key))
		if err != nil {
			return nil, err
		}
		content = &types.LayerVersionContentInput{ZipFile: zf}
	}
	name := aws.ToString(lp.LayerName)
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 140)
	}
	out, err := p.c.lambda.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{
		LayerName: &name, Content: content,
		CompatibleArchitectures: lp.CompatibleArchitectures, CompatibleRuntimes: lp.CompatibleRuntimes,
		Description: lp.Description, LicenseInfo: lp.LicenseInfo,
	})
	if err != nil {
		return nil, apiError(svcLambda, err)
	}
	arn := aws.ToString(out.LayerVersionArn)
	return &stack.Result{PhysicalID: arn, Attrs: map[string]any{"LayerVersionArn": arn}}, nil
}

func (p *layerVersionProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	return nil, replace(r.LogicalID, "any property of a layer version")
}

func (p *layerVersionProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	name, version, ok := splitLayerVersion(cur.PhysicalID)
	if !ok {
		return nil
	}
	_, err := p.c.lambda.DeleteLayerVersion(ctx, &lambda.DeleteLayerVersionInput{LayerName: &name, VersionNumber: &version})
	return ignoreNotFound(svcLambda, err)
}

// splitLayerVersion splits arn:aws:lambda:<region>:<acct>:layer:<name>:<n>
// into the layer's ARN and version.
func splitLayerVersion(arn string) (layer string, version int64, ok bool) {
	i := strings.LastIndexByte(arn, ':')
	if i < 0 || !strings.Contains(arn[:i], ":layer:") {
		return "", 0, false
	}
	v, err := strconv.ParseInt(arn[i+1:], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return arn[:i], v, true
}

// --- AWS::Lambda::LayerVersionPermission ------------------------------

type layerVersionPermissionProps struct {
	Action, LayerVersionArn, Principal *string
	OrganizationId                     *string //nolint:revive // CloudFormation's name
}

type layerVersionPermissionProvider struct{ c *clients }

func (p *layerVersionPermissionProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var lp layerVersionPermissionProps
	if err := props(r, &lp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "Action", "LayerVersionArn", "Principal"); err != nil {
		return nil, err
	}
	layer, version, ok := splitLayerVersion(*lp.LayerVersionArn)
	if !ok {
		return nil, fmt.Errorf("%s: LayerVersionArn %s is not a layer version ARN", r.LogicalID, *lp.LayerVersionArn)
	}
	sid := physicalName(r.StackName, r.LogicalID, 100)
	if _, err := p.c.lambda.AddLayerVersionPermission(ctx, &lambda.AddLayerVersionPermissionInput{
		LayerName: &layer, VersionNumber: &version, StatementId: &sid,
		Action: lp.Action, Principal: lp.Principal, OrganizationId: lp.OrganizationId,
	}); err != nil {
		return nil, apiError(svcLambda, err)
	}
	return &stack.Result{PhysicalID: *lp.LayerVersionArn + "#" + sid}, nil
}

func (p *layerVersionPermissionProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	return nil, replace(r.LogicalID, "any property of a layer version permission")
}

func (p *layerVersionPermissionProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	arn, sid, ok := strings.Cut(cur.PhysicalID, "#")
	if !ok {
		return nil
	}
	layer, version, ok := splitLayerVersion(arn)
	if !ok {
		return nil
	}
	_, err := p.c.lambda.RemoveLayerVersionPermission(ctx, &lambda.RemoveLayerVersionPermissionInput{
		LayerName: &layer, VersionNumber: &version, StatementId: &sid,
	})
	return ignoreNotFound(svcLambda, err)
}
