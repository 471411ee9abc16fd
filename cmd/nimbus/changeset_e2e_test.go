package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// greeterTemplate is a SAM function with inline Python code behind a
// public function URL, answering with its Greeting parameter.
const greeterTemplate = `AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting:
    Type: String
    Default: hello
Resources:
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        import os
        def handler(event, context):
            return {"statusCode": 200, "body": os.environ["GREETING"] + ", deployed by the AWS CLI"}
      Environment:
        Variables:
          GREETING: !Ref Greeting
      FunctionUrlConfig:
        AuthType: NONE
Outputs:
  Url:
    Value: !GetAtt GreeterUrl.FunctionUrl
`

var changeSetARNRE = regexp.MustCompile(`arn:aws:cloudformation:[a-z0-9-]+:\d{12}:changeSet/[A-Za-z0-9-]+/[0-9a-f-]+`)

// TestAWSCLICloudFormationDeploy runs `aws cloudformation deploy` (change
// sets: create, wait, execute, wait) with each AWS CLI on this machine: a
// first deploy, a changed parameter, a change made with
// --no-execute-changeset, reviewed with describe-change-set and executed,
// then an unchanged redeploy ("No changes to deploy", exit 0 with
// --no-fail-on-empty-changeset).
func TestAWSCLICloudFormationDeploy(t *testing.T) {
	t.Parallel()
	clis := awsCLIs(t)
	requireTool(t, "curl")
	endpoint := startServer(t)
	env := awsEnv(endpoint)
	for version, awsPath := range clis {
		t.Run(version, func(t *testing.T) {
			t.Parallel() // each deploy that executes waits at least 30 s: the CLI's stack waiter delay
			work := t.TempDir()
			if err := os.WriteFile(filepath.Join(work, "t.yaml"), []byte(greeterTemplate), 0o644); err != nil {
				t.Fatal(err)
			}
			stack := "greeter-" + version
			aws := func(args ...string) (string, string, error) {
				return run(t, env, work, awsPath, append([]string{"--endpoint-url", endpoint}, args...)...)
			}
			deploy := func(extra ...string) string {
				t.Helper()
				args := append([]string{"cloudformation", "deploy", "--template-file", "t.yaml", "--stack-name", stack,
					"--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}, extra...)
				out, errOut, err := aws(args...)
				if err != nil {
					t.Fatalf("aws %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
				}
				return out
			}
			url := ""
			get := func(want string) {
				t.Helper()
				body, err := exec.Command("curl", "-sS", url).CombinedOutput() //nolint:gosec // test
				if err != nil || string(body) != want {
					t.Fatalf("curl %s = %q, %v; want %q", url, body, err, want)
				}
			}

			out := deploy()
			if !strings.Contains(out, "Successfully created/updated stack - "+stack) {
				t.Fatalf("first deploy:\n%s", out)
			}
			o, errOut, err := aws("cloudformation", "describe-stacks", "--stack-name", stack,
				"--query", "Stacks[0].[StackStatus, Outputs[?OutputKey=='Url'].OutputValue | [0]]", "--output", "text")
			fields := strings.Fields(o)
			if err != nil || len(fields) != 2 || fields[0] != "CREATE_COMPLETE" {
				t.Fatalf("describe-stacks: %v\n%s%s", err, o, errOut)
			}
			url = fields[1]
			get("hello, deployed by the AWS CLI")

			out = deploy("--parameter-overrides", "Greeting=hola")
			if !strings.Contains(out, "Successfully created/updated stack - "+stack) {
				t.Fatalf("second deploy:\n%s", out)
			}
			get("hola, deployed by the AWS CLI")

			// Review before executing.
			out = deploy("--parameter-overrides", "Greeting=hey", "--no-execute-changeset")
			arn := changeSetARNRE.FindString(out)
			if arn == "" {
				t.Fatalf("--no-execute-changeset printed no change set id:\n%s", out)
			}
			o, errOut, err = aws("cloudformation", "describe-change-set", "--change-set-name", arn)
			if err != nil {
				t.Fatalf("describe-change-set: %v\n%s", err, errOut)
			}
			var cs struct {
				StackName, Status, ExecutionStatus string
				Parameters                         []struct{ ParameterKey, ParameterValue string }
				Changes                            []struct {
					Type           string
					ResourceChange struct {
						Action, LogicalResourceId, ResourceType, Replacement string
						Scope                                                []string
						Details                                              []struct {
							Target        struct{ Attribute, Name, RequiresRecreation string }
							ChangeSource  string
							CausingEntity string
						}
					}
				}
			}
			if err := json.Unmarshal([]byte(o), &cs); err != nil {
				t.Fatalf("describe-change-set output: %v\n%s", err, o)
			}
			if cs.StackName != stack || cs.Status != "CREATE_COMPLETE" || cs.ExecutionStatus != "AVAILABLE" || len(cs.Changes) != 1 ||
				len(cs.Parameters) != 1 || cs.Parameters[0].ParameterValue != "hey" {
				t.Fatalf("describe-change-set:\n%s", o)
			}
			rc := cs.Changes[0].ResourceChange
			if cs.Changes[0].Type != "Resource" || rc.Action != "Modify" || rc.LogicalResourceId != "Greeter" ||
				rc.ResourceType != "AWS::Lambda::Function" || rc.Replacement != "False" || len(rc.Details) != 1 ||
				rc.Details[0].Target.Name != "Environment" || rc.Details[0].CausingEntity != "Greeting" {
				t.Fatalf("the change:\n%s", o)
			}
			get("hola, deployed by the AWS CLI")
			o, errOut, err = aws("cloudformation", "list-change-sets", "--stack-name", stack,
				"--query", "Summaries[].ExecutionStatus", "--output", "text")
			if err != nil || strings.Join(strings.Fields(o), " ") != "EXECUTE_COMPLETE EXECUTE_COMPLETE AVAILABLE" {
				t.Fatalf("list-change-sets: %v\n%s%s", err, o, errOut)
			}
			if _, errOut, err := aws("cloudformation", "execute-change-set", "--change-set-name", arn); err != nil {
				t.Fatalf("execute-change-set: %v\n%s", err, errOut)
			}
			// The CLI's stack waiters poll every 30 seconds; describe-stacks is quicker.
			deadline := time.Now().Add(2 * time.Minute)
			for {
				o, errOut, err := aws("cloudformation", "describe-stacks", "--stack-name", stack, "--query", "Stacks[0].StackStatus", "--output", "text")
				if err != nil {
					t.Fatalf("describe-stacks: %v\n%s", err, errOut)
				}
				if st := strings.TrimSpace(o); st == "UPDATE_COMPLETE" {
					break
				} else if !strings.HasSuffix(st, "_IN_PROGRESS") || time.Now().After(deadline) {
					t.Fatalf("stack %s after execute-change-set", st)
				}
				time.Sleep(200 * time.Millisecond)
			}
			get("hey, deployed by the AWS CLI")

			// Unchanged: an empty change set, which the CLI reports (exit 0
			// with --no-fail-on-empty-changeset).
			out = deploy("--parameter-overrides", "Greeting=hey", "--no-fail-on-empty-changeset")
			if !strings.Contains(out, "No changes to deploy. Stack "+stack+" is up to date") {
				t.Fatalf("unchanged deploy:\n%s", out)
			}
		})
	}
}

// TestSAMDeploySequence makes the CloudFormation calls of `sam deploy`
// (testdata/sam_deploy_sequence.py, after samcli's Deployer) with boto3:
// a create, an update by parameter that changes only the function, and an
// empty change set.
func TestSAMDeploySequence(t *testing.T) {
	t.Parallel()
	requireBoto3(t)
	endpoint := startServer(t)
	work := t.TempDir()
	tpl := filepath.Join(work, "template.yaml")
	if err := os.WriteFile(tpl, []byte(greeterTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := run(t, awsEnv(endpoint), work, "python3", filepath.Join(moduleRoot(t), "cmd/nimbus/testdata/sam_deploy_sequence.py"), endpoint, tpl)
	if err != nil || !strings.Contains(out, "sam deploy sequence: ok") {
		t.Fatalf("sam deploy sequence: %v\n%s%s", err, out, errOut)
	}
}
