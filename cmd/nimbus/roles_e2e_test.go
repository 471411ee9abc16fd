package main

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
)

// invokerRole creates, on the node at endpoint, the role "invoker": Lambda
// may assume it and it may invoke functions. Lambda sends a function's
// async records as the function's execution role (--iam enforce, the
// default), so a function whose OnSuccess destination is another function
// runs as a role allowed to invoke it.
func invokerRole(t *testing.T, endpoint string) string {
	t.Helper()
	env := awsEnv(endpoint)
	c := awsiam.New(awsiam.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(envValue(env, "AWS_ACCESS_KEY_ID"), envValue(env, "AWS_SECRET_ACCESS_KEY"), "")})
	ctx := context.Background()
	r, err := c.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("invoker"), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatalf("CreateRole invoker: %v", err)
	}
	if _, err := c.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("invoker"), PolicyName: aws.String("invoke"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"*"}]}`)}); err != nil {
		t.Fatalf("PutRolePolicy invoker: %v", err)
	}
	return aws.ToString(r.Role.Arn)
}
