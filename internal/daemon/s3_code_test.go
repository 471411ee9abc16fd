package daemon

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/function"
)

// TestLambdaCodeFromS3 is Lambda's S3 code locations read from the
// node's own S3 as the caller: CreateFunction, UpdateFunctionCode and
// PublishLayerVersion from objects the caller may read work; an object
// the caller may not s3:GetObject (someone else's) is refused, through
// Lambda's API and through a stack alike; a missing object is S3's
// NoSuchKey inside Lambda's InvalidParameterValueException.
func TestLambdaCodeFromS3(t *testing.T) {
	t.Parallel()
	n, roleArn := iamNode(t, config.IAMEnforce, `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":["lambda:CreateFunction","lambda:UpdateFunctionCode","lambda:PublishLayerVersion","iam:PassRole",
	   "cloudformation:CreateStack","cloudformation:DescribeStacks"],"Resource":"*"},
	 {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::code/mine/*"}]}`)
	ctx := context.Background()
	root := awss3.NewFromConfig(n.awsConfig(), func(o *awss3.Options) { o.UsePathStyle = true })
	if _, err := root.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("code")}); err != nil {
		t.Fatal(err)
	}
	v1 := zipFiles(t, map[string]zipEntry{"bootstrap": {data: []byte("#!/bin/sh\necho one\n"), mode: 0o755}})
	v2 := zipFiles(t, map[string]zipEntry{"bootstrap": {data: []byte("#!/bin/sh\necho two\n"), mode: 0o755}})
	layer := zipFiles(t, map[string]zipEntry{"lib/x.txt": {data: []byte("x"), mode: 0o644}})
	for k, b := range map[string][]byte{"mine/v1.zip": v1, "mine/v2.zip": v2, "mine/layer.zip": layer, "theirs/v1.zip": v1} {
		if _, err := root.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("code"), Key: aws.String(k), Body: strings.NewReader(string(b))}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := functionConfig(t, n, roleArn, "mine")
	lc := lambda.NewFromConfig(cfg)
	create := func(name, key string) (*lambda.CreateFunctionOutput, error) {
		return lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: ltypes.RuntimeProvidedal2023,
			Handler: aws.String("bootstrap"), Role: aws.String(roleArn),
			Code: &ltypes.FunctionCode{S3Bucket: aws.String("code"), S3Key: aws.String(key)}})
	}
	out, err := create("from-s3", "mine/v1.zip")
	if err != nil {
		t.Fatalf("CreateFunction from a readable object: %v", err)
	}
	if aws.ToString(out.CodeSha256) != function.CodeSha256(v1) || out.CodeSize != int64(len(v1)) {
		t.Errorf("CodeSha256 %s size %d, want the object's", aws.ToString(out.CodeSha256), out.CodeSize)
	}
	up, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("from-s3"),
		S3Bucket: aws.String("code"), S3Key: aws.String("mine/v2.zip"), S3ObjectVersion: aws.String("null")})
	if err != nil || aws.ToString(up.CodeSha256) != function.CodeSha256(v2) {
		t.Errorf("UpdateFunctionCode from S3: %v", err)
	}
	lv, err := lc.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("lib"),
		Content: &ltypes.LayerVersionContentInput{S3Bucket: aws.String("code"), S3Key: aws.String("mine/layer.zip")}})
	if err != nil || aws.ToString(lv.Content.CodeSha256) != function.CodeSha256(layer) {
		t.Errorf("PublishLayerVersion from S3: %v", err)
	}

	// The attack: the caller may create functions, but not read
	// theirs/: the object's bytes must not become the caller's function.
	denied := "Your access has been denied by S3, please make sure your request credentials have permission to GetObject for code/theirs/v1.zip."
	_, err = create("stolen", "theirs/v1.zip")
	wantLambdaErr(t, "CreateFunction from someone's object", err, "InvalidParameterValueException", denied)
	_, err = lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("from-s3"),
		S3Bucket: aws.String("code"), S3Key: aws.String("theirs/v1.zip")})
	wantLambdaErr(t, "UpdateFunctionCode from someone's object", err, "InvalidParameterValueException", denied)
	_, err = lc.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("stolen"),
		Content: &ltypes.LayerVersionContentInput{S3Bucket: aws.String("code"), S3Key: aws.String("theirs/v1.zip")}})
	wantLambdaErr(t, "PublishLayerVersion from someone's object", err, "InvalidParameterValueException", denied)
	_, err = lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("stolen")})
	if err == nil {
		t.Error("the refused function exists")
	}
	// Through CloudFormation the provider calls Lambda as root: the stack
	// engine judges the caller when the stack is asked for.
	cc := cloudformation.NewFromConfig(cfg)
	tmpl := "Resources:\n  F:\n    Type: AWS::Lambda::Function\n    Properties:\n      Runtime: provided.al2023\n      Handler: bootstrap\n" +
		"      Role: " + roleArn + "\n      Code:\n        S3Bucket: code\n        S3Key: theirs/v1.zip\n"
	_, err = cc.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("steal"), TemplateBody: aws.String(tmpl)})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationError" || !strings.Contains(ae.ErrorMessage(), "Your access has been denied by S3") {
		t.Errorf("CreateStack with someone's object as code: %v, want ValidationError", err)
	}

	// An `aws cloudformation package`-style SAM template: CodeUri and
	// ContentUri name objects in the node's bucket.
	rcf := cloudformation.NewFromConfig(n.awsConfig())
	sam := "Transform: AWS::Serverless-2016-10-31\nResources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n" +
		"      Runtime: provided.al2023\n      Handler: bootstrap\n      CodeUri: s3://code/mine/v2.zip\n      Layers: [!Ref L]\n" +
		"  L:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      ContentUri: s3://code/mine/layer.zip\n"
	if _, err := rcf.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("packaged"), TemplateBody: aws.String(sam),
		Capabilities: []cftypes.Capability{cftypes.CapabilityCapabilityIam, cftypes.CapabilityCapabilityAutoExpand}}); err != nil {
		t.Fatalf("CreateStack packaged: %v", err)
	}
	if st := waitStack(t, rcf, "packaged"); st.StackStatus != cftypes.StackStatusCreateComplete {
		t.Fatalf("packaged stack: %s %s", st.StackStatus, aws.ToString(st.StackStatusReason))
	}

	// Root reads any object; a missing key is S3's answer in Lambda's words.
	rc := lambda.NewFromConfig(n.awsConfig())
	if _, err := rc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("from-s3"),
		S3Bucket: aws.String("code"), S3Key: aws.String("theirs/v1.zip")}); err != nil {
		t.Errorf("root UpdateFunctionCode: %v", err)
	}
	_, err = rc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("from-s3"),
		S3Bucket: aws.String("code"), S3Key: aws.String("absent.zip")})
	wantLambdaErr(t, "missing key", err, "InvalidParameterValueException",
		"Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The specified key does not exist.")
}

func wantLambdaErr(t *testing.T, what string, err error, code, msgPrefix string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || !strings.HasPrefix(ae.ErrorMessage(), msgPrefix) {
		t.Errorf("%s: %v, want %s %q", what, err, code, msgPrefix)
	}
}
