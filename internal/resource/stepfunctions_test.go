package resource_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
)

// TestStateMachineProvider: Definition as an object with
// DefinitionSubstitutions, Ref the ARN and GetAtt Name, an update in
// place, a rename (replacement), and refusals (an invalid definition,
// DefinitionS3Location) that store nothing.
func TestStateMachineProvider(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	c := awssfn.NewFromConfig(e.awsConfig())
	props := map[string]any{
		"RoleArn": testRole,
		"Definition": map[string]any{"StartAt": "A", "States": map[string]any{
			"A": map[string]any{"Type": "Pass", "Result": "${Greeting}", "End": true}}},
		"DefinitionSubstitutions": map[string]any{"Greeting": "hello"},
	}
	sm := e.create(t, "Flow", "AWS::StepFunctions::StateMachine", props)
	if !strings.HasPrefix(sm.PhysicalID, "arn:aws:states:us-east-1:000000000000:stateMachine:"+stackName+"-Flow-") ||
		sm.Attrs["Arn"] != sm.PhysicalID || !strings.HasSuffix(sm.PhysicalID, ":"+sm.Attrs["Name"].(string)) {
		t.Fatalf("state machine = %+v", sm.Result)
	}
	d, err := c.DescribeStateMachine(ctx, &awssfn.DescribeStateMachineInput{StateMachineArn: aws.String(sm.PhysicalID)})
	if err != nil || !strings.Contains(aws.ToString(d.Definition), `"Result":"hello"`) || d.Type != "STANDARD" {
		t.Fatalf("described: %+v %v", d, err)
	}
	props = map[string]any{"RoleArn": testRole, "DefinitionString": `{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}`}
	sm = e.update(t, sm, props)
	d, err = c.DescribeStateMachine(ctx, &awssfn.DescribeStateMachineInput{StateMachineArn: aws.String(sm.PhysicalID)})
	if err != nil || !strings.Contains(aws.ToString(d.Definition), `"B"`) {
		t.Fatalf("after update: %+v %v", d, err)
	}
	props = map[string]any{"RoleArn": testRole, "DefinitionString": `{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}`,
		"StateMachineName": "named"}
	old := sm.PhysicalID
	sm = e.replace(t, sm, props)
	if sm.PhysicalID != "arn:aws:states:us-east-1:000000000000:stateMachine:named" {
		t.Fatalf("replaced: %q", sm.PhysicalID)
	}
	e.delete(t, sm)
	for _, arn := range []string{old, sm.PhysicalID} {
		if _, err := c.DescribeStateMachine(ctx, &awssfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)}); err == nil {
			t.Errorf("%s is still there", arn)
		}
	}
	_, err = e.ps["AWS::StepFunctions::StateMachine"].Create(ctx, request("Bad", "AWS::StepFunctions::StateMachine",
		map[string]any{"RoleArn": testRole, "DefinitionString": `{"StartAt": "X", "States": {}}`}))
	wantErr(t, err, "Invalid State Machine Definition")
	_, err = e.ps["AWS::StepFunctions::StateMachine"].Create(ctx, request("Bad", "AWS::StepFunctions::StateMachine",
		map[string]any{"RoleArn": testRole, "DefinitionS3Location": map[string]any{"Bucket": "b", "Key": "k"}}))
	wantErr(t, err, "DefinitionS3Location")
	l, err := c.ListStateMachines(ctx, &awssfn.ListStateMachinesInput{})
	if err != nil || len(l.StateMachines) != 0 {
		t.Fatalf("left behind: %+v %v", l, err)
	}
}
