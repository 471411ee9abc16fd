package resource_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// TestSecretsProviders: a KMS key with a policy, its alias, a secret
// generated under that key (GenerateSecretString with a template), its
// resource policy and an SSM parameter are made, updated in place,
// replaced on a rename and deleted as CloudFormation does (the secret at
// once, the key scheduled for deletion); bad properties are refused.
func TestSecretsProviders(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	cfg := e.awsConfig()
	k, smc, p := kms.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg), ssm.NewFromConfig(cfg)

	policy := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Sid": "root", "Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::000000000000:root"},
		"Action": "kms:*", "Resource": "*"}}}
	key := e.create(t, "Key", "AWS::KMS::Key", map[string]any{"Description": "app key", "KeyPolicy": policy,
		"Tags": []any{map[string]any{"Key": "team", "Value": "a"}}})
	if !strings.HasSuffix(key.Attrs["Arn"].(string), ":key/"+key.PhysicalID) || key.Attrs["KeyId"] != key.PhysicalID {
		t.Fatalf("key = %+v", key.Result)
	}
	key = e.update(t, key, map[string]any{"Description": "app key v2", "KeyPolicy": policy, "Enabled": false})
	d, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &key.PhysicalID})
	if err != nil || aws.ToString(d.KeyMetadata.Description) != "app key v2" || d.KeyMetadata.Enabled {
		t.Fatalf("after update: %+v %v", d, err)
	}
	key = e.update(t, key, map[string]any{"Description": "app key v2", "KeyPolicy": policy, "Enabled": true})
	alias := e.create(t, "Alias", "AWS::KMS::Alias", map[string]any{"AliasName": "alias/app", "TargetKeyId": key.PhysicalID})
	if alias.PhysicalID != "alias/app" {
		t.Fatalf("alias = %+v", alias.Result)
	}

	sec := e.create(t, "Secret", "AWS::SecretsManager::Secret", map[string]any{
		"Description": "db", "KmsKeyId": "alias/app",
		"GenerateSecretString": map[string]any{"SecretStringTemplate": `{"username":"app"}`, "GenerateStringKey": "password",
			"PasswordLength": 20.0, "ExcludePunctuation": true}})
	if !strings.HasPrefix(sec.PhysicalID, "arn:aws:secretsmanager:us-east-1:000000000000:secret:"+stackName+"-Secret-") ||
		sec.Attrs["Id"] != sec.PhysicalID {
		t.Fatalf("secret = %+v", sec.Result)
	}
	v, err := smc.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &sec.PhysicalID})
	var val struct{ Username, Password string }
	if err != nil || json.Unmarshal([]byte(aws.ToString(v.SecretString)), &val) != nil || val.Username != "app" ||
		len(val.Password) != 20 || strings.ContainsAny(val.Password, "!#$%&()*+,-./:;<=>?@[]^_`{|}~") {
		t.Fatalf("generated secret: %v %v", v, err)
	}
	ds, err := smc.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &sec.PhysicalID})
	if err != nil || aws.ToString(ds.KmsKeyId) != "alias/app" {
		t.Fatalf("describe secret: %+v %v", ds, err)
	}
	// Disabling the key makes the secret unreadable, as on AWS.
	if _, err := k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: &key.PhysicalID}); err != nil {
		t.Fatal(err)
	}
	if _, err := smc.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &sec.PhysicalID}); err == nil ||
		!strings.Contains(err.Error(), "disabled") {
		t.Fatalf("read under a disabled key: %v", err)
	}
	if _, err := k.EnableKey(ctx, &kms.EnableKeyInput{KeyId: &key.PhysicalID}); err != nil {
		t.Fatal(err)
	}
	sec = e.update(t, sec, map[string]any{"Description": "db v2", "KmsKeyId": "alias/app", "SecretString": "plain",
		"Tags": []any{map[string]any{"Key": "env", "Value": "prod"}}})
	v, err = smc.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &sec.PhysicalID})
	if err != nil || aws.ToString(v.SecretString) != "plain" {
		t.Fatalf("after update: %v %v", v, err)
	}
	pol := e.create(t, "Policy", "AWS::SecretsManager::ResourcePolicy", map[string]any{"SecretId": sec.PhysicalID,
		"ResourcePolicy": map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Deny",
			"Principal": map[string]any{"AWS": "*"}, "Action": "secretsmanager:DeleteSecret", "Resource": "*"}}}})
	rp, err := smc.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: &sec.PhysicalID})
	if err != nil || !strings.Contains(aws.ToString(rp.ResourcePolicy), "secretsmanager:DeleteSecret") || pol.PhysicalID != sec.PhysicalID {
		t.Fatalf("resource policy: %+v %v", rp, err)
	}
	e.delete(t, pol)
	if rp, err := smc.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: &sec.PhysicalID}); err != nil || rp.ResourcePolicy != nil {
		t.Fatalf("policy after delete: %+v %v", rp, err)
	}
	_, err = e.ps["AWS::SecretsManager::Secret"].Create(ctx, request("Both", "AWS::SecretsManager::Secret",
		map[string]any{"SecretString": "a", "GenerateSecretString": map[string]any{}}))
	wantErr(t, err, "Properties validation failed")
	_, err = e.ps["AWS::SecretsManager::RotationSchedule"].Create(ctx, request("Rot", "AWS::SecretsManager::RotationSchedule",
		map[string]any{"SecretId": sec.PhysicalID, "HostedRotationLambda": map[string]any{"RotationType": "MySQLSingleUser"}}))
	wantErr(t, err, "HostedRotationLambda")

	param := e.create(t, "Param", "AWS::SSM::Parameter", map[string]any{"Type": "String", "Value": "v1", "Tags": map[string]any{"a": "b"}})
	if !strings.HasPrefix(param.PhysicalID, "CFN-"+stackName+"-Param-") || param.Attrs["Value"] != "v1" || param.Attrs["Type"] != "String" {
		t.Fatalf("parameter = %+v", param.Result)
	}
	param = e.update(t, param, map[string]any{"Type": "StringList", "Value": "a,b", "Tags": map[string]any{"c": "d"}})
	g, err := p.GetParameter(ctx, &ssm.GetParameterInput{Name: &param.PhysicalID})
	if err != nil || aws.ToString(g.Parameter.Value) != "a,b" || g.Parameter.Version != 2 || param.Attrs["Type"] != "StringList" {
		t.Fatalf("after update: %+v %v", g, err)
	}
	tags, err := p.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceId: &param.PhysicalID, ResourceType: "Parameter"})
	if err != nil || len(tags.TagList) != 1 || aws.ToString(tags.TagList[0].Key) != "c" {
		t.Fatalf("tags after update: %+v %v", tags, err)
	}
	named := e.replace(t, param, map[string]any{"Name": "/app/config", "Type": "String", "Value": "x"})
	if named.PhysicalID != "/app/config" {
		t.Fatalf("renamed parameter = %q", named.PhysicalID)
	}
	_, err = e.ps["AWS::SSM::Parameter"].Create(ctx, request("Sec", "AWS::SSM::Parameter",
		map[string]any{"Type": "SecureString", "Value": "x"}))
	wantErr(t, err, "SecureString is not a valid enum value")
	_, err = e.ps["AWS::SSM::Parameter"].Create(ctx, request("Big", "AWS::SSM::Parameter",
		map[string]any{"Type": "String", "Value": strings.Repeat("x", 4097)}))
	wantErr(t, err, "HandlerErrorCode: InvalidRequest")

	e.delete(t, named)
	e.delete(t, sec)
	if _, err := smc.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &sec.PhysicalID}); err == nil {
		t.Error("the secret outlived its resource (CloudFormation deletes it without recovery)")
	}
	e.delete(t, alias)
	e.delete(t, key)
	d, err = k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &key.PhysicalID})
	if err != nil || d.KeyMetadata.KeyState != kmstypes.KeyStatePendingDeletion {
		t.Fatalf("key after delete: %+v %v", d, err)
	}
	as, err := k.ListAliases(ctx, &kms.ListAliasesInput{KeyId: &key.PhysicalID})
	if err != nil || len(as.Aliases) != 0 {
		t.Fatalf("aliases left: %+v %v", as, err)
	}
}
