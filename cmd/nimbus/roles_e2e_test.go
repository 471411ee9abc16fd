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

// testRoles are the roles the tests name for their functions
// (arn:aws:iam::000000000000:role/lambda, …/net): every server the
// tests start creates them, as a user creates a function's role, since
// under --iam enforce (the default) CreateFunction refuses a role Lambda
// cannot assume. A server that refuses (--insecure-no-auth, a restart
// that has them) is left as it is.
var testRoles = []string{"lambda", "net"}

func createTestRoles(t *testing.T, env []string, endpoint string) {
	t.Helper()
	c := awsiam.New(awsiam.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(envValue(env, "AWS_ACCESS_KEY_ID"), envValue(env, "AWS_SECRET_ACCESS_KEY"), "")})
	for _, name := range testRoles {
		if _, err := c.CreateRole(context.Background(), &awsiam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
			t.Logf("create test role %s: %v", name, err)
		}
	}
}
