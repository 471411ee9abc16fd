package daemon

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/fakeclock"
)

// secretsTemplate is a SAM application that keeps its configuration as
// AWS's examples do: a customer KMS key and alias, a generated database
// secret under that key with a resource policy, a rotation schedule driven
// by a rotation function, an SSM parameter, and a function that reads the
// secret and the parameter with the SDK (granted by SAM's policy
// templates) and gets the password in its environment through a dynamic
// reference.
func secretsTemplate(readerSha, rotatorSha string) string {
	return `AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      Description: application key
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Sid: Enable IAM policies
            Effect: Allow
            Principal: {AWS: !Sub "arn:aws:iam::${AWS::AccountId}:root"}
            Action: kms:*
            Resource: "*"
  KeyAlias:
    Type: AWS::KMS::Alias
    Properties:
      AliasName: alias/orders
      TargetKeyId: !Ref Key
  DbSecret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: orders/db
      KmsKeyId: !GetAtt Key.Arn
      GenerateSecretString:
        SecretStringTemplate: '{"username":"orders"}'
        GenerateStringKey: password
        PasswordLength: 24
        ExcludePunctuation: true
  DbSecretPolicy:
    Type: AWS::SecretsManager::ResourcePolicy
    Properties:
      SecretId: !Ref DbSecret
      BlockPublicPolicy: true
      ResourcePolicy:
        Version: "2012-10-17"
        Statement:
          - Effect: Deny
            Principal: {AWS: !Sub "arn:aws:iam::${AWS::AccountId}:root"}
            Action: secretsmanager:DeleteResourcePolicy
            Resource: "*"
  Config:
    Type: AWS::SSM::Parameter
    Properties:
      Name: /orders/config
      Type: String
      Value: batch=10
  Rotator:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: orders-rotator
      CodeUri: s3://nimbus-artifacts/` + rotatorSha + `
      Handler: bootstrap
      Runtime: provided.al2023
      Timeout: 30
      Policies:
        - AWSSecretsManagerRotationPolicy:
            FunctionName: orders-rotator
        - KMSDecryptPolicy: {KeyId: !Ref Key}
  RotatorPermission:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !Ref Rotator
      Action: lambda:InvokeFunction
      Principal: secretsmanager.amazonaws.com
  Rotation:
    Type: AWS::SecretsManager::RotationSchedule
    DependsOn: RotatorPermission
    Properties:
      SecretId: !Ref DbSecret
      RotationLambdaARN: !GetAtt Rotator.Arn
      RotationRules:
        AutomaticallyAfterDays: 30
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: s3://nimbus-artifacts/` + readerSha + `
      Handler: bootstrap
      Runtime: provided.al2023
      Timeout: 30
      Environment:
        Variables:
          SECRET_ID: !Ref DbSecret
          PARAM_NAME: !Ref Config
          DB_PASSWORD: "{{resolve:secretsmanager:orders/db:SecretString:username}}"
      Policies:
        - AWSSecretsManagerGetSecretValuePolicy: {SecretArn: !Ref DbSecret}
        - SSMParameterReadPolicy: {ParameterName: orders/config}
        - KMSDecryptPolicy: {KeyId: !Ref Key}
Outputs:
  SecretArn:
    Value: !Ref DbSecret
  KeyId:
    Value: !Ref Key
  KeyArn:
    Value: !GetAtt Key.Arn
  Alias:
    Value: !Ref KeyAlias
  Param:
    Value: !Ref Config
  ParamValue:
    Value: !GetAtt Config.Value
  Reader:
    Value: !Ref Reader
`
}

// TestSAMSecretsApp deploys secretsTemplate on a node that enforces IAM:
// the reader function gets the generated secret and the parameter through
// the SDK with only what SAM's policy templates grant, the rotation
// schedule rotates the secret through the rotation function at once and
// again when the node's clock passes 30 days, and deleting
// the stack deletes the secret and the parameter and schedules the key's
// deletion.
func TestSAMSecretsApp(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Now())
	n := startNodeHooked(t, t.TempDir(), func(c *config.Config) { c.IAM = config.IAMEnforce }, hooks{clock: clock})
	ctx := t.Context()
	reader := uploadArtifact(t, n, goZip(t, "./internal/daemon/testdata/secretreader"))
	rotator := uploadArtifact(t, n, goZip(t, "./internal/daemon/testdata/rotator"))
	c := n.cfn()
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("orders"),
		TemplateBody: aws.String(secretsTemplate(reader, rotator)),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityAutoExpand}}); err != nil {
		t.Fatal(err)
	}
	s := waitStack(t, c, "orders")
	if s.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack = %s (%s)", s.StackStatus, aws.ToString(s.StackStatusReason))
	}
	out := outputs(s)
	arnPrefix := "arn:aws:secretsmanager:" + n.d.cfg.Region + ":" + n.d.cfg.AccountID + ":secret:orders/db-"
	if !strings.HasPrefix(out["SecretArn"], arnPrefix) || out["KeyArn"] != "arn:aws:kms:"+n.d.cfg.Region+":"+n.d.cfg.AccountID+":key/"+out["KeyId"] ||
		out["Alias"] != "alias/orders" || out["Param"] != "/orders/config" || out["ParamValue"] != "batch=10" {
		t.Fatalf("outputs %v", out)
	}

	// The rotation schedule rotated the secret at once, as
	// CloudFormation's RotationSchedule does.
	smc := sm.NewFromConfig(n.awsConfig())
	deadline := time.Now().Add(90 * time.Second)
	var desc *sm.DescribeSecretOutput
	for {
		var err error
		desc, err = smc.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(out["SecretArn"])})
		if err != nil {
			t.Fatal(err)
		}
		if desc.LastRotatedDate != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the scheduled rotation did not finish: %+v", desc.VersionIdsToStages)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !aws.ToBool(desc.RotationEnabled) || desc.RotationRules == nil || aws.ToInt64(desc.RotationRules.AutomaticallyAfterDays) != 30 ||
		desc.NextRotationDate == nil {
		t.Fatalf("rotation settings %+v", desc)
	}

	// 30 days later (on the node's clock) the schedule rotates it again.
	first := aws.ToString(mustCurrent(t, smc, out["SecretArn"]).VersionId)
	clock.Advance(30 * 24 * time.Hour)
	deadline = time.Now().Add(90 * time.Second)
	for {
		cur := mustCurrent(t, smc, out["SecretArn"])
		if aws.ToString(cur.VersionId) != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the schedule did not rotate the secret 30 days later")
		}
		clock.Advance(2 * time.Minute) // the rotation check waits a minute on this clock
		time.Sleep(50 * time.Millisecond)
	}

	inv, err := n.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(out["Reader"])})
	if err != nil || inv.FunctionError != nil {
		t.Fatalf("invoke reader: %v %s", err, inv.Payload)
	}
	var got struct{ Secret, Parameter, FromEnv string }
	if err := json.Unmarshal(inv.Payload, &got); err != nil {
		t.Fatalf("reader answered %s", inv.Payload)
	}
	cur, err := smc.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(out["SecretArn"])})
	if err != nil || got.Secret != aws.ToString(cur.SecretString) || got.Parameter != "batch=10" || got.FromEnv != "orders" {
		t.Fatalf("reader got %+v, current secret %v", got, err)
	}

	if _, err := c.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("orders")}); err != nil {
		t.Fatal(err)
	}
	if s := waitStack(t, c, aws.ToString(s.StackId)); s.StackStatus != cfntypes.StackStatusDeleteComplete {
		t.Fatalf("delete = %s (%s)", s.StackStatus, aws.ToString(s.StackStatusReason))
	}
	if _, err := smc.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(out["SecretArn"])}); err == nil {
		t.Error("the secret outlived its stack")
	}
	k, err := kms.NewFromConfig(n.awsConfig()).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(out["KeyId"])})
	if err != nil || k.KeyMetadata.KeyState != kmstypes.KeyStatePendingDeletion {
		t.Fatalf("key after the stack: %+v %v", k, err)
	}
}

func mustCurrent(t *testing.T, c *sm.Client, id string) *sm.GetSecretValueOutput {
	t.Helper()
	v, err := c.GetSecretValue(t.Context(), &sm.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}
