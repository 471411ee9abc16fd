package resource

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// Service names in handler messages, as CloudFormation writes them.
const (
	svcSecretsManager = "SecretsManager"
	svcSSM            = "Ssm"
	svcKMS            = "Kms"
)

func addSecrets(c *clients, ps map[string]stack.Provider) {
	ps["AWS::SecretsManager::Secret"] = &secretProvider{c}
	ps["AWS::SecretsManager::RotationSchedule"] = &rotationScheduleProvider{c}
	ps["AWS::SecretsManager::ResourcePolicy"] = &secretPolicyProvider{c}
	ps["AWS::SSM::Parameter"] = &parameterProvider{c}
	ps["AWS::KMS::Key"] = &keyProvider{c}
	ps["AWS::KMS::Alias"] = &kmsAliasProvider{c}
}

// --- AWS::SecretsManager::Secret -------------------------------------------

// generateSecretString is a Secret's GenerateSecretString property.
type generateSecretString struct {
	ExcludeCharacters       *string
	ExcludeLowercase        *bool
	ExcludeNumbers          *bool
	ExcludePunctuation      *bool
	ExcludeUppercase        *bool
	GenerateStringKey       *string
	IncludeSpace            *bool
	PasswordLength          *int64
	RequireEachIncludedType *bool
	SecretStringTemplate    *string
}

type secretProps struct {
	Name                 *string
	Description          *string
	KmsKeyId             *string //nolint:revive // CloudFormation's name
	SecretString         *string
	GenerateSecretString *generateSecretString
	ReplicaRegions       []any
	Tags                 []tag
}

type secretProvider struct{ c *clients }

// value is the secret string the properties ask for: SecretString as
// given, or one GenerateSecretString makes with GetRandomPassword (put
// under GenerateStringKey of SecretStringTemplate when both are given).
func (p *secretProvider) value(ctx context.Context, logicalID string, sp *secretProps) (string, error) {
	g := sp.GenerateSecretString
	switch {
	case sp.SecretString != nil && g != nil:
		return "", fmt.Errorf("Properties validation failed for resource %s with message: #: only 1 subschema matches out of 2 (SecretString and GenerateSecretString are exclusive)", logicalID) //nolint:staticcheck // CloudFormation's wording
	case sp.SecretString != nil:
		return *sp.SecretString, nil
	case g == nil:
		return "", nil
	}
	if (g.GenerateStringKey == nil) != (g.SecretStringTemplate == nil) {
		return "", fmt.Errorf("resource %s: GenerateSecretString needs both SecretStringTemplate and GenerateStringKey, or neither", logicalID)
	}
	var tmpl map[string]any
	if g.SecretStringTemplate != nil {
		if err := json.Unmarshal([]byte(*g.SecretStringTemplate), &tmpl); err != nil || tmpl == nil {
			return "", fmt.Errorf("resource %s: SecretStringTemplate is not a JSON object", logicalID)
		}
	}
	out, err := p.c.secrets.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{
		ExcludeCharacters: g.ExcludeCharacters, ExcludeLowercase: g.ExcludeLowercase, ExcludeNumbers: g.ExcludeNumbers,
		ExcludePunctuation: g.ExcludePunctuation, ExcludeUppercase: g.ExcludeUppercase, IncludeSpace: g.IncludeSpace,
		PasswordLength: g.PasswordLength, RequireEachIncludedType: g.RequireEachIncludedType,
	})
	if err != nil {
		return "", apiError(svcSecretsManager, err)
	}
	pw := aws.ToString(out.RandomPassword)
	if tmpl == nil {
		return pw, nil
	}
	tmpl[*g.GenerateStringKey] = pw
	b, err := json.Marshal(tmpl)
	if err != nil {
		return "", fmt.Errorf("encode secret string: %w", err)
	}
	return string(b), nil
}

func smTags(ts []tag) []smtypes.Tag {
	out := make([]smtypes.Tag, 0, len(ts))
	for _, t := range ts {
		out = append(out, smtypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	return out
}

func (p *secretProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var sp secretProps
	if err := props(r, &sp); err != nil {
		return nil, err
	}
	if len(sp.ReplicaRegions) > 0 {
		return nil, fmt.Errorf("resource %s: ReplicaRegions: Nimbus serves one Region; secret replication is not supported", r.LogicalID)
	}
	val, err := p.value(ctx, r.LogicalID, &sp)
	if err != nil {
		return nil, err
	}
	name := derefOr(sp.Name, "")
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 128)
	}
	in := &secretsmanager.CreateSecretInput{Name: &name, Description: sp.Description, KmsKeyId: sp.KmsKeyId}
	if len(sp.Tags) > 0 {
		in.Tags = smTags(sp.Tags)
	}
	if sp.SecretString != nil || sp.GenerateSecretString != nil {
		in.SecretString = &val
	}
	out, err := p.c.secrets.CreateSecret(ctx, in)
	if err != nil {
		return nil, apiError(svcSecretsManager, err)
	}
	arn := aws.ToString(out.ARN)
	return &stack.Result{PhysicalID: arn, Attrs: map[string]any{"Id": arn}}, nil
}

func (p *secretProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var sp, old secretProps
	if err := props(r, &sp); err != nil {
		return nil, err
	}
	_ = propsOf(r.LogicalID, prev.Properties, &old)
	ch := changed(prev.Properties, r.Properties)
	if ch["Name"] {
		return nil, replace(r.LogicalID, "Name")
	}
	if len(sp.ReplicaRegions) > 0 {
		return nil, fmt.Errorf("resource %s: ReplicaRegions: Nimbus serves one Region; secret replication is not supported", r.LogicalID)
	}
	arn := prev.PhysicalID
	in := &secretsmanager.UpdateSecretInput{SecretId: &arn}
	do := false
	if ch["Description"] {
		in.Description, do = aws.String(derefOr(sp.Description, "")), true
	}
	if ch["KmsKeyId"] {
		in.KmsKeyId, do = aws.String(derefOr(sp.KmsKeyId, "alias/aws/secretsmanager")), true
	}
	if anyChanged(ch, "SecretString", "GenerateSecretString") && (sp.SecretString != nil || sp.GenerateSecretString != nil) {
		val, err := p.value(ctx, r.LogicalID, &sp)
		if err != nil {
			return nil, err
		}
		in.SecretString, do = &val, true
	}
	if do {
		if _, err := p.c.secrets.UpdateSecret(ctx, in); err != nil {
			return nil, apiError(svcSecretsManager, err)
		}
	}
	if ch["Tags"] {
		var gone []string
		for k := range tagMap(old.Tags) {
			if _, ok := tagMap(sp.Tags)[k]; !ok {
				gone = append(gone, k)
			}
		}
		if len(gone) > 0 {
			if _, err := p.c.secrets.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: &arn, TagKeys: gone}); err != nil {
				return nil, apiError(svcSecretsManager, err)
			}
		}
		if len(sp.Tags) > 0 {
			if _, err := p.c.secrets.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: &arn, Tags: smTags(sp.Tags)}); err != nil {
				return nil, apiError(svcSecretsManager, err)
			}
		}
	}
	return &stack.Result{PhysicalID: arn, Attrs: map[string]any{"Id": arn}}, nil
}

// Delete deletes the secret at once, as CloudFormation's handler does
// (ForceDeleteWithoutRecovery): a stack's secret has no recovery window.
func (p *secretProvider) Delete(ctx context.Context, _ *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.secrets.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: &cur.PhysicalID,
		ForceDeleteWithoutRecovery: aws.Bool(true)})
	return ignoreNotFound(svcSecretsManager, err)
}

// --- AWS::SecretsManager::RotationSchedule ---------------------------------

type rotationScheduleProps struct {
	SecretId                  string //nolint:revive // CloudFormation's name
	RotationLambdaARN         *string
	RotationRules             *smtypes.RotationRulesType
	RotateImmediatelyOnUpdate *bool
	HostedRotationLambda      any
}

type rotationScheduleProvider struct{ c *clients }

func (p *rotationScheduleProvider) apply(ctx context.Context, r *stack.Request, immediately bool) (*stack.Result, error) {
	if err := requireProps(r.LogicalID, r.Properties, "SecretId"); err != nil {
		return nil, err
	}
	var rp rotationScheduleProps
	if err := props(r, &rp); err != nil {
		return nil, err
	}
	if rp.HostedRotationLambda != nil {
		return nil, fmt.Errorf("resource %s: HostedRotationLambda: Nimbus does not host AWS's rotation functions (its serverless application repository); give RotationLambdaARN", r.LogicalID)
	}
	if rp.RotationLambdaARN == nil {
		return nil, fmt.Errorf("Properties validation failed for resource %s with message: #: required key [RotationLambdaARN] not found", r.LogicalID) //nolint:staticcheck // CloudFormation's wording
	}
	out, err := p.c.secrets.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: &rp.SecretId,
		RotationLambdaARN: rp.RotationLambdaARN, RotationRules: rp.RotationRules, RotateImmediately: aws.Bool(immediately)})
	if err != nil {
		return nil, apiError(svcSecretsManager, err)
	}
	return &stack.Result{PhysicalID: aws.ToString(out.ARN)}, nil
}

func (p *rotationScheduleProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	return p.apply(ctx, r, true)
}

func (p *rotationScheduleProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	if changed(prev.Properties, r.Properties)["SecretId"] {
		return nil, replace(r.LogicalID, "SecretId")
	}
	var rp rotationScheduleProps
	_ = props(r, &rp)
	return p.apply(ctx, r, rp.RotateImmediatelyOnUpdate == nil || *rp.RotateImmediatelyOnUpdate)
}

func (p *rotationScheduleProvider) Delete(ctx context.Context, _ *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.secrets.CancelRotateSecret(ctx, &secretsmanager.CancelRotateSecretInput{SecretId: &cur.PhysicalID})
	return ignoreNotFound(svcSecretsManager, err)
}

// --- AWS::SecretsManager::ResourcePolicy -----------------------------------

type secretPolicyProps struct {
	SecretId          string //nolint:revive // CloudFormation's name
	ResourcePolicy    any
	BlockPublicPolicy *bool
}

type secretPolicyProvider struct{ c *clients }

func (p *secretPolicyProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	if err := requireProps(r.LogicalID, r.Properties, "SecretId", "ResourcePolicy"); err != nil {
		return nil, err
	}
	var pp secretPolicyProps
	if err := props(r, &pp); err != nil {
		return nil, err
	}
	doc, err := jsonText(pp.ResourcePolicy)
	if err != nil {
		return nil, err
	}
	out, err := p.c.secrets.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: &pp.SecretId,
		ResourcePolicy: &doc, BlockPublicPolicy: pp.BlockPublicPolicy})
	if err != nil {
		return nil, apiError(svcSecretsManager, err)
	}
	return &stack.Result{PhysicalID: aws.ToString(out.ARN)}, nil
}

func (p *secretPolicyProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	if changed(prev.Properties, r.Properties)["SecretId"] {
		return nil, replace(r.LogicalID, "SecretId")
	}
	return p.Create(ctx, r)
}

func (p *secretPolicyProvider) Delete(ctx context.Context, _ *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.secrets.DeleteResourcePolicy(ctx, &secretsmanager.DeleteResourcePolicyInput{SecretId: &cur.PhysicalID})
	return ignoreNotFound(svcSecretsManager, err)
}

// --- AWS::SSM::Parameter ----------------------------------------------------

type parameterProps struct {
	Name           *string
	Type           string
	Value          string
	Description    *string
	AllowedPattern *string
	Tier           *string
	Policies       *string
	DataType       *string
	Tags           map[string]string
}

type parameterProvider struct{ c *clients }

func (p *parameterProvider) put(ctx context.Context, r *stack.Request, name string, overwrite bool) (*parameterProps, error) {
	if err := requireProps(r.LogicalID, r.Properties, "Type", "Value"); err != nil {
		return nil, err
	}
	var pp parameterProps
	if err := props(r, &pp); err != nil {
		return nil, err
	}
	if pp.Type != "String" && pp.Type != "StringList" {
		// CloudFormation refuses SecureString parameters too.
		return nil, fmt.Errorf("Properties validation failed for resource %s with message: #/Type: %s is not a valid enum value", r.LogicalID, pp.Type) //nolint:staticcheck // CloudFormation's wording
	}
	in := &ssm.PutParameterInput{Name: &name, Type: ssmtypes.ParameterType(pp.Type), Value: &pp.Value, Description: pp.Description,
		AllowedPattern: pp.AllowedPattern, Policies: pp.Policies, DataType: pp.DataType, Overwrite: aws.Bool(overwrite)}
	if pp.Tier != nil {
		in.Tier = ssmtypes.ParameterTier(*pp.Tier)
	}
	if !overwrite {
		for _, k := range slices.Sorted(maps.Keys(pp.Tags)) {
			in.Tags = append(in.Tags, ssmtypes.Tag{Key: aws.String(k), Value: aws.String(pp.Tags[k])})
		}
	}
	if _, err := p.c.ssm.PutParameter(ctx, in); err != nil {
		return nil, apiError(svcSSM, err)
	}
	return &pp, nil
}

func (p *parameterProvider) result(name string, pp *parameterProps) *stack.Result {
	return &stack.Result{PhysicalID: name, Attrs: map[string]any{"Type": pp.Type, "Value": pp.Value}}
}

func (p *parameterProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	name, _ := r.Properties["Name"].(string)
	if name == "" {
		name = "CFN-" + physicalName(r.StackName, r.LogicalID, 1000)
	}
	pp, err := p.put(ctx, r, name, false)
	if err != nil {
		return nil, err
	}
	return p.result(name, pp), nil
}

func (p *parameterProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	ch := changed(prev.Properties, r.Properties)
	if ch["Name"] {
		return nil, replace(r.LogicalID, "Name")
	}
	name := prev.PhysicalID
	pp, err := p.put(ctx, r, name, true)
	if err != nil {
		return nil, err
	}
	if ch["Tags"] {
		var old parameterProps
		_ = propsOf(r.LogicalID, prev.Properties, &old)
		var gone []string
		for k := range old.Tags {
			if _, ok := pp.Tags[k]; !ok {
				gone = append(gone, k)
			}
		}
		if len(gone) > 0 {
			if _, err := p.c.ssm.RemoveTagsFromResource(ctx, &ssm.RemoveTagsFromResourceInput{ResourceId: &name,
				ResourceType: ssmtypes.ResourceTypeForTaggingParameter, TagKeys: gone}); err != nil {
				return nil, apiError(svcSSM, err)
			}
		}
		if len(pp.Tags) > 0 {
			in := &ssm.AddTagsToResourceInput{ResourceId: &name, ResourceType: ssmtypes.ResourceTypeForTaggingParameter}
			for _, k := range slices.Sorted(maps.Keys(pp.Tags)) {
				in.Tags = append(in.Tags, ssmtypes.Tag{Key: aws.String(k), Value: aws.String(pp.Tags[k])})
			}
			if _, err := p.c.ssm.AddTagsToResource(ctx, in); err != nil {
				return nil, apiError(svcSSM, err)
			}
		}
	}
	return p.result(name, pp), nil
}

func (p *parameterProvider) Delete(ctx context.Context, _ *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.ssm.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: &cur.PhysicalID})
	return ignoreNotFound(svcSSM, err)
}

// --- AWS::KMS::Key ----------------------------------------------------------

type keyProps struct {
	Description                    *string
	Enabled                        *bool
	EnableKeyRotation              *bool
	RotationPeriodInDays           *int64
	KeyPolicy                      any
	KeySpec                        *string
	KeyUsage                       *string
	MultiRegion                    *bool
	Origin                         *string
	PendingWindowInDays            *int64
	BypassPolicyLockoutSafetyCheck *bool
	Tags                           []tag
}

type keyProvider struct{ c *clients }

func kmsTags(ts []tag) []kmstypes.Tag {
	out := make([]kmstypes.Tag, 0, len(ts))
	for _, t := range ts {
		out = append(out, kmstypes.Tag{TagKey: aws.String(t.Key), TagValue: aws.String(t.Value)})
	}
	return out
}

func (p *keyProvider) result(id, arn string) *stack.Result {
	return &stack.Result{PhysicalID: id, Attrs: map[string]any{"Arn": arn, "KeyId": id}}
}

func (p *keyProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var kp keyProps
	if err := props(r, &kp); err != nil {
		return nil, err
	}
	if kp.EnableKeyRotation != nil && *kp.EnableKeyRotation {
		return nil, fmt.Errorf("resource %s: EnableKeyRotation: Nimbus's KMS does not rotate key material automatically", r.LogicalID)
	}
	pol, err := jsonText(kp.KeyPolicy)
	if err != nil {
		return nil, err
	}
	in := &kms.CreateKeyInput{Description: kp.Description, MultiRegion: kp.MultiRegion,
		BypassPolicyLockoutSafetyCheck: aws.ToBool(kp.BypassPolicyLockoutSafetyCheck)}
	if pol != "" {
		in.Policy = &pol
	}
	if kp.KeySpec != nil {
		in.KeySpec = kmstypes.KeySpec(*kp.KeySpec)
	}
	if kp.KeyUsage != nil {
		in.KeyUsage = kmstypes.KeyUsageType(*kp.KeyUsage)
	}
	if kp.Origin != nil {
		in.Origin = kmstypes.OriginType(*kp.Origin)
	}
	if len(kp.Tags) > 0 {
		in.Tags = kmsTags(kp.Tags)
	}
	out, err := p.c.kms.CreateKey(ctx, in)
	if err != nil {
		return nil, apiError(svcKMS, err)
	}
	id, arn := aws.ToString(out.KeyMetadata.KeyId), aws.ToString(out.KeyMetadata.Arn)
	if kp.Enabled != nil && !*kp.Enabled {
		if _, err := p.c.kms.DisableKey(ctx, &kms.DisableKeyInput{KeyId: &id}); err != nil {
			_, _ = p.c.kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &id, PendingWindowInDays: aws.Int32(7)})
			return nil, apiError(svcKMS, err)
		}
	}
	return p.result(id, arn), nil
}

func (p *keyProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var kp, old keyProps
	if err := props(r, &kp); err != nil {
		return nil, err
	}
	_ = propsOf(r.LogicalID, prev.Properties, &old)
	ch := changed(prev.Properties, r.Properties)
	if anyChanged(ch, "KeySpec", "KeyUsage", "MultiRegion", "Origin") {
		return nil, replace(r.LogicalID, "KeySpec, KeyUsage, MultiRegion or Origin")
	}
	if kp.EnableKeyRotation != nil && *kp.EnableKeyRotation {
		return nil, fmt.Errorf("resource %s: EnableKeyRotation: Nimbus's KMS does not rotate key material automatically", r.LogicalID)
	}
	id := prev.PhysicalID
	if ch["Description"] {
		if _, err := p.c.kms.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: &id,
			Description: aws.String(derefOr(kp.Description, ""))}); err != nil {
			return nil, apiError(svcKMS, err)
		}
	}
	if ch["KeyPolicy"] && kp.KeyPolicy != nil {
		pol, err := jsonText(kp.KeyPolicy)
		if err != nil {
			return nil, err
		}
		if _, err := p.c.kms.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: &id, PolicyName: aws.String("default"), Policy: &pol,
			BypassPolicyLockoutSafetyCheck: aws.ToBool(kp.BypassPolicyLockoutSafetyCheck)}); err != nil {
			return nil, apiError(svcKMS, err)
		}
	}
	if ch["Enabled"] {
		var err error
		if kp.Enabled == nil || *kp.Enabled {
			_, err = p.c.kms.EnableKey(ctx, &kms.EnableKeyInput{KeyId: &id})
		} else {
			_, err = p.c.kms.DisableKey(ctx, &kms.DisableKeyInput{KeyId: &id})
		}
		if err != nil {
			return nil, apiError(svcKMS, err)
		}
	}
	if ch["Tags"] {
		var gone []string
		for k := range tagMap(old.Tags) {
			if _, ok := tagMap(kp.Tags)[k]; !ok {
				gone = append(gone, k)
			}
		}
		if len(gone) > 0 {
			if _, err := p.c.kms.UntagResource(ctx, &kms.UntagResourceInput{KeyId: &id, TagKeys: gone}); err != nil {
				return nil, apiError(svcKMS, err)
			}
		}
		if len(kp.Tags) > 0 {
			if _, err := p.c.kms.TagResource(ctx, &kms.TagResourceInput{KeyId: &id, Tags: kmsTags(kp.Tags)}); err != nil {
				return nil, apiError(svcKMS, err)
			}
		}
	}
	d, err := p.c.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &id})
	if err != nil {
		return nil, apiError(svcKMS, err)
	}
	return p.result(id, aws.ToString(d.KeyMetadata.Arn)), nil
}

// Delete schedules the key's deletion after PendingWindowInDays (default
// 30), as CloudFormation does: a KMS key is never deleted at once.
func (p *keyProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	var kp keyProps
	_ = propsOf(r.LogicalID, cur.Properties, &kp)
	in := &kms.ScheduleKeyDeletionInput{KeyId: &cur.PhysicalID}
	if kp.PendingWindowInDays != nil {
		in.PendingWindowInDays = i32(kp.PendingWindowInDays)
	}
	_, err := p.c.kms.ScheduleKeyDeletion(ctx, in)
	if err != nil && !notFound(err) {
		if d, derr := p.c.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &cur.PhysicalID}); derr == nil &&
			d.KeyMetadata.KeyState == kmstypes.KeyStatePendingDeletion {
			return nil // already scheduled
		}
	}
	return ignoreNotFound(svcKMS, err)
}

// --- AWS::KMS::Alias --------------------------------------------------------

type kmsAliasProps struct {
	AliasName   string
	TargetKeyId string //nolint:revive // CloudFormation's name
}

type kmsAliasProvider struct{ c *clients }

func (p *kmsAliasProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	if err := requireProps(r.LogicalID, r.Properties, "AliasName", "TargetKeyId"); err != nil {
		return nil, err
	}
	var ap kmsAliasProps
	if err := props(r, &ap); err != nil {
		return nil, err
	}
	if _, err := p.c.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: &ap.AliasName, TargetKeyId: &ap.TargetKeyId}); err != nil {
		return nil, apiError(svcKMS, err)
	}
	return &stack.Result{PhysicalID: ap.AliasName}, nil
}

func (p *kmsAliasProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	if changed(prev.Properties, r.Properties)["AliasName"] {
		return nil, replace(r.LogicalID, "AliasName")
	}
	var ap kmsAliasProps
	if err := props(r, &ap); err != nil {
		return nil, err
	}
	if _, err := p.c.kms.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: &prev.PhysicalID, TargetKeyId: &ap.TargetKeyId}); err != nil {
		return nil, apiError(svcKMS, err)
	}
	return &stack.Result{PhysicalID: prev.PhysicalID}, nil
}

func (p *kmsAliasProvider) Delete(ctx context.Context, _ *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.kms.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: &cur.PhysicalID})
	return ignoreNotFound(svcKMS, err)
}
