package daemon

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// inlineTemplate is a SAM function with inline Python code behind a public
// function URL; it answers with its Greeting parameter.
const inlineTemplate = `Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting:
    Type: String
    Default: hello
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        import os
        def handler(event, context):
            return {"statusCode": 200, "body": os.environ["GREETING"] + " from a change set"}
      Environment:
        Variables:
          GREETING: !Ref Greeting
      FunctionUrlConfig:
        AuthType: NONE
Outputs:
  Url:
    Value: !GetAtt HelloUrl.FunctionUrl
`

// TestChangeSetsWithTheSDK runs the sequence of `aws cloudformation deploy`
// with aws-sdk-go-v2 and its waiters against a real node: a CREATE change
// set (the stack REVIEW_IN_PROGRESS), executed; an UPDATE change set that
// lists only the function; an empty one, FAILED.
func TestChangeSetsWithTheSDK(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	c := n.cfn()
	caps := []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityAutoExpand}
	csWaiter := cloudformation.NewChangeSetCreateCompleteWaiter(c, func(o *cloudformation.ChangeSetCreateCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})

	created, err := c.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{
		StackName: aws.String("greeter"), ChangeSetName: aws.String("first"), ChangeSetType: cfntypes.ChangeSetTypeCreate,
		TemplateBody: aws.String(inlineTemplate), Capabilities: caps, Description: aws.String("the first deploy"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(aws.ToString(created.Id), ":changeSet/first/") || !strings.Contains(aws.ToString(created.StackId), ":stack/greeter/") {
		t.Fatalf("CreateChangeSet = %s, %s", aws.ToString(created.Id), aws.ToString(created.StackId))
	}
	if err := csWaiter.Wait(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: created.Id}, time.Minute); err != nil {
		t.Fatal(err)
	}
	st, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("greeter")})
	if err != nil || st.Stacks[0].StackStatus != cfntypes.StackStatusReviewInProgress {
		t.Fatalf("DescribeStacks before execution = %+v, %v", st, err)
	}
	cs, err := c.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: aws.String("first"), StackName: aws.String("greeter")})
	if err != nil || cs.ExecutionStatus != cfntypes.ExecutionStatusAvailable || aws.ToString(cs.Description) != "the first deploy" {
		t.Fatalf("DescribeChangeSet = %+v, %v", cs, err)
	}
	var added []string
	for _, ch := range cs.Changes {
		if ch.ResourceChange.Action != cfntypes.ChangeActionAdd {
			t.Errorf("change %+v in a CREATE change set", ch.ResourceChange)
		}
		added = append(added, aws.ToString(ch.ResourceChange.ResourceType))
	}
	for _, typ := range []string{"AWS::Lambda::Function", "AWS::IAM::Role", "AWS::Lambda::Url"} {
		if !slices.Contains(added, typ) {
			t.Errorf("added %v, want a %s", added, typ)
		}
	}

	if _, err := c.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: created.Id}); err != nil {
		t.Fatal(err)
	}
	s := waitStack(t, c, "greeter")
	if s.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack = %s (%s)", s.StackStatus, aws.ToString(s.StackStatusReason))
	}
	url := outputs(s)["Url"]
	get := func(want string) {
		t.Helper()
		m := urlIDRE.FindStringSubmatch(url)
		if m == nil {
			t.Fatalf("Url output = %q", url)
		}
		ans, body := urlRequest(t, n, m[1], "GET", "/", nil, nil)
		if ans.StatusCode != 200 || !bytes.Equal(body, []byte(want)) {
			t.Fatalf("GET %s = %d %q, want %q", url, ans.StatusCode, body, want)
		}
	}
	get("hello from a change set")

	// A new parameter value changes the function's environment, nothing else.
	upd, err := c.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{
		StackName: aws.String("greeter"), ChangeSetName: aws.String("hola"), UsePreviousTemplate: aws.Bool(true),
		Parameters:   []cfntypes.Parameter{{ParameterKey: aws.String("Greeting"), ParameterValue: aws.String("hola")}},
		Capabilities: caps,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := csWaiter.Wait(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: upd.Id}, time.Minute); err != nil {
		t.Fatal(err)
	}
	cs, err = c.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: upd.Id})
	if err != nil || len(cs.Changes) != 1 {
		t.Fatalf("DescribeChangeSet = %+v, %v; want one change", cs, err)
	}
	rc := cs.Changes[0].ResourceChange
	if rc.Action != cfntypes.ChangeActionModify || aws.ToString(rc.LogicalResourceId) != "Hello" || rc.Replacement != cfntypes.ReplacementFalse ||
		len(rc.Details) != 1 || aws.ToString(rc.Details[0].Target.Name) != "Environment" ||
		rc.Details[0].ChangeSource != cfntypes.ChangeSourceParameterReference || aws.ToString(rc.Details[0].CausingEntity) != "Greeting" {
		t.Fatalf("change %+v (details %+v)", rc, rc.Details)
	}
	if _, err := c.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: aws.String("hola"), StackName: aws.String("greeter")}); err != nil {
		t.Fatal(err)
	}
	updWaiter := cloudformation.NewStackUpdateCompleteWaiter(c, func(o *cloudformation.StackUpdateCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	if err := updWaiter.Wait(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("greeter")}, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	get("hola from a change set")

	// The same again: FAILED with CloudFormation's reason, and the waiter fails.
	_, err = c.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{
		StackName: aws.String("greeter"), ChangeSetName: aws.String("again"), UsePreviousTemplate: aws.Bool(true),
		Parameters:   []cfntypes.Parameter{{ParameterKey: aws.String("Greeting"), UsePreviousValue: aws.Bool(true)}},
		Capabilities: caps,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := csWaiter.Wait(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: aws.String("again"), StackName: aws.String("greeter")}, time.Minute); err == nil {
		t.Fatal("the waiter accepted an empty change set")
	}
	list, err := c.ListChangeSets(ctx, &cloudformation.ListChangeSetsInput{StackName: aws.String("greeter")})
	if err != nil || len(list.Summaries) != 3 {
		t.Fatalf("ListChangeSets = %+v, %v", list, err)
	}
	want := []cfntypes.ExecutionStatus{cfntypes.ExecutionStatusExecuteComplete, cfntypes.ExecutionStatusExecuteComplete, cfntypes.ExecutionStatusUnavailable}
	for i, sum := range list.Summaries {
		if sum.ExecutionStatus != want[i] {
			t.Errorf("change set %s is %s, want %s", aws.ToString(sum.ChangeSetName), sum.ExecutionStatus, want[i])
		}
	}
	if r := aws.ToString(list.Summaries[2].StatusReason); list.Summaries[2].Status != cfntypes.ChangeSetStatusFailed || !strings.Contains(r, "didn't contain changes") {
		t.Errorf("empty change set = %s (%s)", list.Summaries[2].Status, r)
	}
}
