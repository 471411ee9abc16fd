package daemon

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
)

// samTemplate is a SAM application: a Python function from an uploaded
// artifact with an alias and a public function URL, plus (when extra is
// set) a resource type Nimbus does not have.
func samTemplate(sha, extra string) string {
	return `AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 10
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: s3://nimbus-artifacts/` + sha + `
      Handler: app.handler
      Runtime: python3.12
      AutoPublishAlias: live
      FunctionUrlConfig:
        AuthType: NONE
` + extra + `Outputs:
  Url:
    Value: !GetAtt HelloUrl.FunctionUrl
`
}

// TestSAMStack deploys a SAM template through the CloudFormation API: the
// transform, the function URL reached over HTTP, the processed template,
// and an unsupported resource type refused unless the stack's
// nimbus:skip-unsupported tag says to leave it out.
func TestSAMStack(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	c := n.cfn()
	sha := uploadArtifact(t, n, dirZip(t, "examples/hello-python"))
	caps := []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityAutoExpand}

	v, err := c.ValidateTemplate(ctx, &cloudformation.ValidateTemplateInput{TemplateBody: aws.String(samTemplate(sha, ""))})
	if err != nil || len(v.DeclaredTransforms) != 1 || v.DeclaredTransforms[0] != "AWS::Serverless-2016-10-31" {
		t.Errorf("ValidateTemplate of a SAM template = %+v, %v", v, err)
	}
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String("sam"), TemplateBody: aws.String(samTemplate(sha, "")), Capabilities: caps,
	}); err != nil {
		t.Fatal(err)
	}
	s := waitStack(t, c, "sam")
	if s.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack = %s (%s)", s.StackStatus, aws.ToString(s.StackStatusReason))
	}
	u := outputs(s)["Url"]
	m := urlIDRE.FindStringSubmatch(u)
	if m == nil {
		t.Fatalf("Url output = %q", u)
	}
	ans, body := urlRequest(t, n, m[1], "GET", "/", nil, nil)
	if ans.StatusCode != 200 || !bytes.Contains(body, []byte("Hello, world!")) {
		t.Errorf("GET %s = %d %s", u, ans.StatusCode, body)
	}
	tpl, err := c.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String("sam"), TemplateStage: cfntypes.TemplateStageProcessed})
	if err != nil || !strings.Contains(aws.ToString(tpl.TemplateBody), "AWS::Lambda::Url") || strings.Contains(aws.ToString(tpl.TemplateBody), "AWS::Serverless::Function") {
		t.Errorf("processed template = %v\n%s", err, aws.ToString(tpl.TemplateBody))
	}

	queue := "  Queue:\n    Type: AWS::AppSync::GraphQLApi\n"
	_, err = c.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String("withqueue"), TemplateBody: aws.String(samTemplate(sha, queue)), Capabilities: caps,
	})
	if err == nil {
		s := waitStack(t, c, "withqueue")
		if !strings.Contains(aws.ToString(s.StackStatusReason), "AWS::AppSync::GraphQLApi") || s.StackStatus == cfntypes.StackStatusCreateComplete {
			t.Errorf("a stack with an AppSync API = %s (%s), want it failed naming AWS::AppSync::GraphQLApi", s.StackStatus, aws.ToString(s.StackStatusReason))
		}
	} else if ae := (smithy.APIError)(nil); !errors.As(err, &ae) || !strings.Contains(ae.ErrorMessage(), "AWS::AppSync::GraphQLApi") {
		t.Errorf("CreateStack with an AppSync API = %v, want an error naming AWS::AppSync::GraphQLApi", err)
	}

	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String("skipping"), TemplateBody: aws.String(samTemplate(sha, queue)), Capabilities: caps,
		Tags: []cfntypes.Tag{{Key: aws.String("nimbus:skip-unsupported"), Value: aws.String("true")}},
	}); err != nil {
		t.Fatal(err)
	}
	if s := waitStack(t, c, "skipping"); s.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("a stack skipping its queue = %s (%s)", s.StackStatus, aws.ToString(s.StackStatusReason))
	}
	events, err := c.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String("skipping")})
	if err != nil {
		t.Fatal(err)
	}
	warned := false
	for _, e := range events.StackEvents {
		if aws.ToString(e.LogicalResourceId) == "Queue" {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no event for the skipped queue")
	}
}

// TestSAMStackWithAPIs deploys a SAM function behind an HTTP API and a
// REST API (the implicit ServerlessHttpApi and ServerlessRestApi) and
// calls both through their execute-api hosts.
func TestSAMStackWithAPIs(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	c := n.cfn()
	// A proxy-integration answer, which REST APIs require.
	app := "def handler(event, context):\n    return {'statusCode': 200, 'body': 'Hello, world! ' + event.get('path', event.get('rawPath', ''))}\n"
	sha := uploadArtifact(t, n, zipFiles(t, map[string]zipEntry{"app.py": {data: []byte(app)}}))
	body := `Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: s3://nimbus-artifacts/` + sha + `
      Handler: app.handler
      Runtime: python3.12
      Events:
        Http:
          Type: HttpApi
          Properties:
            Path: /hello
            Method: GET
        Rest:
          Type: Api
          Properties:
            Path: /hello
            Method: GET
`
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String("apis"), TemplateBody: aws.String(body),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityAutoExpand},
	}); err != nil {
		t.Fatal(err)
	}
	if s := waitStack(t, c, "apis"); s.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack = %s (%s)", s.StackStatus, aws.ToString(s.StackStatusReason))
	}
	physical := func(logical string) string {
		t.Helper()
		r, err := c.DescribeStackResource(ctx, &cloudformation.DescribeStackResourceInput{StackName: aws.String("apis"), LogicalResourceId: aws.String(logical)})
		if err != nil {
			t.Fatalf("DescribeStackResource %s: %v", logical, err)
		}
		return aws.ToString(r.StackResourceDetail.PhysicalResourceId)
	}
	if r := callAPI(t, n, physical("ServerlessHttpApi"), "GET", "/hello", nil, nil); r.status != 200 || r.body != "Hello, world! /hello" {
		t.Errorf("HTTP API GET /hello = %d %s", r.status, r.body)
	}
	if r := callAPI(t, n, physical("ServerlessRestApi"), "GET", "/Prod/hello", nil, nil); r.status != 200 || r.body != "Hello, world! /hello" {
		t.Errorf("REST API GET /Prod/hello = %d %s", r.status, r.body)
	}
}
