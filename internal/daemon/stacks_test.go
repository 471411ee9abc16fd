package daemon

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// uploadArtifact PUTs zip to /_nimbus/artifacts/<sha256>, signed for
// "cloudformation" as `nimbus deploy` does, and returns the sha.
func uploadArtifact(t testing.TB, n *node, zip []byte) string {
	t.Helper()
	sum := sha256.Sum256(zip)
	sha := hex.EncodeToString(sum[:])
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, n.endpoint()+"/_nimbus/artifacts/"+sha, bytes.NewReader(zip))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := n.httpClient("cloudformation").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload artifact = %d\n%s", resp.StatusCode, body)
	}
	return sha
}

// functionTemplate is a plain CloudFormation template with one Python
// function whose code is an uploaded artifact, a parameter, an exported
// output and a GetAtt.
func functionTemplate(sha string) string {
	return `AWSTemplateFormatVersion: "2010-09-09"
Description: one function from an uploaded artifact
Parameters:
  Who:
    Type: String
    Default: world
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Role: ` + testRole + `
      Code:
        S3Bucket: nimbus-artifacts
        S3Key: ` + sha + `
      Environment:
        Variables:
          WHO: !Ref Who
Outputs:
  FnArn:
    Description: the function's ARN
    Value: !GetAtt Fn.Arn
    Export:
      Name: !Sub "${AWS::StackName}-fn-arn"
  FnName:
    Value: !Ref Fn
`
}

// waitStack polls DescribeStacks until the stack leaves *_IN_PROGRESS and
// returns it (a poll of the engine's state, not a sleep standing in for
// synchronisation: the API offers nothing to wait on).
func waitStack(t *testing.T, c *cloudformation.Client, nameOrID string) cfntypes.Stack {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := c.DescribeStacks(t.Context(), &cloudformation.DescribeStacksInput{StackName: aws.String(nameOrID)})
		if err != nil {
			t.Fatalf("DescribeStacks %s: %v", nameOrID, err)
		}
		s := out.Stacks[0]
		if !strings.HasSuffix(string(s.StackStatus), "_IN_PROGRESS") {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("stack %s still %s after 2 minutes", nameOrID, s.StackStatus)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func outputs(s cfntypes.Stack) map[string]string {
	m := map[string]string{}
	for _, o := range s.Outputs {
		m[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return m
}

// TestStackWithTheSDK deploys a Lambda function from an uploaded artifact
// with aws-sdk-go-v2's CloudFormation client against a real node: create,
// outputs, invoke, events, resources, exports, template, update, delete.
func TestStackWithTheSDK(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	c := n.cfn()
	sha := uploadArtifact(t, n, dirZip(t, "examples/hello-python"))
	body := functionTemplate(sha)

	v, err := c.ValidateTemplate(ctx, &cloudformation.ValidateTemplateInput{TemplateBody: aws.String(body)})
	if err != nil || len(v.Parameters) != 1 || aws.ToString(v.Parameters[0].DefaultValue) != "world" || aws.ToString(v.Description) != "one function from an uploaded artifact" {
		t.Fatalf("ValidateTemplate = %+v, %v", v, err)
	}

	sum, err := c.GetTemplateSummary(ctx, &cloudformation.GetTemplateSummaryInput{TemplateBody: aws.String(body)})
	if err != nil || len(sum.ResourceTypes) != 1 || sum.ResourceTypes[0] != "AWS::Lambda::Function" || len(sum.Parameters) != 1 ||
		aws.ToString(sum.Parameters[0].ParameterType) != "String" || aws.ToString(sum.Version) != "2010-09-09" {
		t.Errorf("GetTemplateSummary = %+v, %v", sum, err)
	}

	created, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String("app"), TemplateBody: aws.String(body),
		Parameters: []cfntypes.Parameter{{ParameterKey: aws.String("Who"), ParameterValue: aws.String("stacks")}},
		Tags:       []cfntypes.Tag{{Key: aws.String("team"), Value: aws.String("core")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	stackID := aws.ToString(created.StackId)
	if !strings.HasPrefix(stackID, "arn:aws:cloudformation:us-east-1:") {
		t.Errorf("StackId = %q", stackID)
	}
	s := waitStack(t, c, "app")
	if s.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack = %s (%s)", s.StackStatus, aws.ToString(s.StackStatusReason))
	}
	out := outputs(s)
	fnName := out["FnName"]
	if !strings.HasPrefix(fnName, "app-Fn-") || !strings.HasSuffix(out["FnArn"], ":function:"+fnName) {
		t.Fatalf("outputs = %v", out)
	}
	if len(s.Tags) != 1 || aws.ToString(s.Tags[0].Key) != "team" || len(s.Parameters) != 1 || aws.ToString(s.Parameters[0].ParameterValue) != "stacks" {
		t.Errorf("tags %+v, parameters %+v", s.Tags, s.Parameters)
	}

	// The function the stack made runs, with the parameter in its environment.
	fn, err := n.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fnName)})
	if err != nil || fn.Configuration.Environment.Variables["WHO"] != "stacks" {
		t.Fatalf("GetFunction = %+v, %v", fn, err)
	}
	inv, err := n.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fnName), Payload: []byte(`{"name":"cfn"}`)})
	if err != nil || inv.FunctionError != nil || !bytes.Contains(inv.Payload, []byte("Hello, cfn!")) {
		t.Fatalf("Invoke = %+v %s, %v", inv, inv.Payload, err)
	}

	events, err := c.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, e := range events.StackEvents {
		seen = append(seen, aws.ToString(e.LogicalResourceId)+" "+string(e.ResourceStatus))
	}
	if len(seen) < 4 || seen[0] != "app CREATE_COMPLETE" || !contains(seen, "Fn CREATE_COMPLETE") || !contains(seen, "Fn CREATE_IN_PROGRESS") {
		t.Errorf("events (newest first) = %v", seen)
	}
	res, err := c.DescribeStackResource(ctx, &cloudformation.DescribeStackResourceInput{StackName: aws.String("app"), LogicalResourceId: aws.String("Fn")})
	if err != nil || aws.ToString(res.StackResourceDetail.PhysicalResourceId) != fnName || aws.ToString(res.StackResourceDetail.ResourceType) != "AWS::Lambda::Function" {
		t.Errorf("DescribeStackResource = %+v, %v", res, err)
	}
	ex, err := c.ListExports(ctx, &cloudformation.ListExportsInput{})
	if err != nil || len(ex.Exports) != 1 || aws.ToString(ex.Exports[0].Name) != "app-fn-arn" || aws.ToString(ex.Exports[0].Value) != out["FnArn"] {
		t.Errorf("ListExports = %+v, %v", ex, err)
	}
	tpl, err := c.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String("app")})
	if err != nil || aws.ToString(tpl.TemplateBody) != body {
		t.Errorf("GetTemplate = %v (body equal: %v)", err, tpl != nil && aws.ToString(tpl.TemplateBody) == body)
	}

	// Update with the previous template and a new parameter value.
	if _, err := c.UpdateStack(ctx, &cloudformation.UpdateStackInput{
		StackName: aws.String("app"), UsePreviousTemplate: aws.Bool(true),
		Parameters: []cfntypes.Parameter{{ParameterKey: aws.String("Who"), ParameterValue: aws.String("again")}},
	}); err != nil {
		t.Fatal(err)
	}
	if s := waitStack(t, c, "app"); s.StackStatus != cfntypes.StackStatusUpdateComplete || outputs(s)["FnName"] != fnName {
		t.Fatalf("after update: %s (%s), outputs %v", s.StackStatus, aws.ToString(s.StackStatusReason), outputs(s))
	}
	if fn, err := n.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fnName)}); err != nil || fn.Configuration.Environment.Variables["WHO"] != "again" {
		t.Errorf("after update GetFunction = %+v, %v", fn, err)
	}

	if _, err := c.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	if s := waitStack(t, c, stackID); s.StackStatus != cfntypes.StackStatusDeleteComplete {
		t.Fatalf("after delete: %s (%s)", s.StackStatus, aws.ToString(s.StackStatusReason))
	}
	_, err = n.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fnName)})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("the stack's function after delete: %v", err)
	}
	if ds, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{}); err != nil || len(ds.Stacks) != 0 {
		t.Errorf("live stacks after delete = %+v, %v", ds, err)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestStackWithTheAWSCLI drives the same deploy with the AWS CLI
// (botocore's query serialiser and XML parsers): validate-template,
// create-stack --template-body file://, describe-stacks, list-exports,
// describe-stack-events, delete-stack.
func TestStackWithTheAWSCLI(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("aws"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the AWS CLI is required in CI")
		}
		t.Skip("no aws CLI")
	}
	n := startNode(t, t.TempDir())
	creds := n.creds()
	cli := func(args ...string) (map[string]any, error) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), "aws", append(args, "--endpoint-url", n.endpoint(), "--output", "json")...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
			"AWS_SESSION_TOKEN=", "AWS_DEFAULT_REGION=us-east-1", "AWS_REGION=us-east-1", "AWS_PAGER=",
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, errors.New(err.Error() + ": " + stderr.String())
		}
		m := map[string]any{}
		if len(bytes.TrimSpace(out)) > 0 {
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("aws %v: %v\n%s", args, err, out)
			}
		}
		return m, nil
	}
	must := func(args ...string) map[string]any {
		t.Helper()
		m, err := cli(args...)
		if err != nil {
			t.Fatalf("aws %v: %v", args, err)
		}
		return m
	}

	if m := must("cloudformation", "describe-stacks"); len(m["Stacks"].([]any)) != 0 {
		t.Errorf("describe-stacks on a new node = %v", m)
	}
	if m := must("cloudformation", "list-exports"); len(m["Exports"].([]any)) != 0 {
		t.Errorf("list-exports on a new node = %v", m)
	}
	_, err := cli("cloudformation", "describe-stacks", "--stack-name", "nope")
	if err == nil || !strings.Contains(err.Error(), "(ValidationError)") || !strings.Contains(err.Error(), "Stack with id nope does not exist") {
		t.Errorf("describe-stacks of a missing stack: %v", err)
	}

	sha := uploadArtifact(t, n, dirZip(t, "examples/hello-python"))
	file := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(file, []byte(functionTemplate(sha)), 0o600); err != nil {
		t.Fatal(err)
	}
	v := must("cloudformation", "validate-template", "--template-body", "file://"+file)
	if ps, _ := v["Parameters"].([]any); len(ps) != 1 || ps[0].(map[string]any)["ParameterKey"] != "Who" {
		t.Errorf("validate-template = %v", v)
	}
	created := must("cloudformation", "create-stack", "--stack-name", "cli", "--template-body", "file://"+file,
		"--parameters", "ParameterKey=Who,ParameterValue=cli", "--capabilities", "CAPABILITY_IAM")
	stackID, _ := created["StackId"].(string)
	if !strings.Contains(stackID, ":stack/cli/") {
		t.Fatalf("create-stack = %v", created)
	}
	if s := waitStack(t, n.cfn(), "cli"); s.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack = %s (%s)", s.StackStatus, aws.ToString(s.StackStatusReason))
	}
	ds := must("cloudformation", "describe-stacks", "--stack-name", "cli")
	st := ds["Stacks"].([]any)[0].(map[string]any)
	if st["StackStatus"] != "CREATE_COMPLETE" || st["StackId"] != stackID || st["CreationTime"] == nil || len(st["Outputs"].([]any)) != 2 {
		t.Errorf("describe-stacks = %v", st)
	}
	ex := must("cloudformation", "list-exports")
	if e := ex["Exports"].([]any); len(e) != 1 || e[0].(map[string]any)["Name"] != "cli-fn-arn" {
		t.Errorf("list-exports = %v", ex)
	}
	ev := must("cloudformation", "describe-stack-events", "--stack-name", "cli")
	if e := ev["StackEvents"].([]any); len(e) < 4 || e[0].(map[string]any)["ResourceStatus"] != "CREATE_COMPLETE" {
		t.Errorf("describe-stack-events = %v", ev)
	}
	if _, err := cli("cloudformation", "create-stack", "--stack-name", "cli", "--template-body", "file://"+file); err == nil ||
		!strings.Contains(err.Error(), "AlreadyExistsException") {
		t.Errorf("create-stack of an existing stack: %v", err)
	}
	must("cloudformation", "delete-stack", "--stack-name", "cli")
	if s := waitStack(t, n.cfn(), stackID); s.StackStatus != cfntypes.StackStatusDeleteComplete {
		t.Fatalf("after delete-stack: %s", s.StackStatus)
	}
}

// TestStackSurvivesRestart: a stack and its function are there after the
// node restarts on the same data directory, and can be deleted then.
func TestStackSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := startNode(t, dir)
	sha := uploadArtifact(t, n, dirZip(t, "examples/hello-python"))
	if _, err := n.cfn().CreateStack(t.Context(), &cloudformation.CreateStackInput{
		StackName: aws.String("kept"), TemplateBody: aws.String(functionTemplate(sha)),
	}); err != nil {
		t.Fatal(err)
	}
	s := waitStack(t, n.cfn(), "kept")
	if s.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack = %s (%s)", s.StackStatus, aws.ToString(s.StackStatusReason))
	}
	n.stop()

	n = startNode(t, dir)
	c := n.cfn()
	s = waitStack(t, c, "kept")
	fnName := outputs(s)["FnName"]
	if s.StackStatus != cfntypes.StackStatusCreateComplete || fnName == "" {
		t.Fatalf("after restart: %s, outputs %v", s.StackStatus, outputs(s))
	}
	if inv, err := n.client.Invoke(t.Context(), &lambda.InvokeInput{FunctionName: aws.String(fnName)}); err != nil || inv.FunctionError != nil {
		t.Fatalf("Invoke after restart = %+v, %v", inv, err)
	}
	if _, err := c.DeleteStack(t.Context(), &cloudformation.DeleteStackInput{StackName: aws.String("kept")}); err != nil {
		t.Fatal(err)
	}
	if s := waitStack(t, c, aws.ToString(s.StackId)); s.StackStatus != cfntypes.StackStatusDeleteComplete {
		t.Fatalf("after delete: %s (%s)", s.StackStatus, aws.ToString(s.StackStatusReason))
	}
}
