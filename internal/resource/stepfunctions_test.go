package resource_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
)

// TestStateMachineProvider: Definition as an object with
// DefinitionSubstitutions, Ref the ARN and GetAtt Name, an update in
// place, a rename (replacement), and refusals (an invalid definition,
// a DefinitionS3Location in no bucket) that store nothing.
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
	wantErr(t, err, "The specified bucket does not exist")
	l, err := c.ListStateMachines(ctx, &awssfn.ListStateMachinesInput{})
	if err != nil || len(l.StateMachines) != 0 {
		t.Fatalf("left behind: %+v %v", l, err)
	}
}

// TestStateMachineDefinitionS3Location: the definition is read from the
// node's S3 (a YAML object, substitutions made; a JSON object of a given
// version) or from the artifacts `nimbus deploy` uploaded; a missing
// object is the stack's error, naming it.
func TestStateMachineDefinitionS3Location(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	c := awssfn.NewFromConfig(e.awsConfig())
	s3c := s3.NewFromConfig(e.awsConfig(), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("defs")}); err != nil {
		t.Fatal(err)
	}
	put := func(key, body string) string {
		out, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("defs"), Key: aws.String(key), Body: strings.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.VersionId)
	}
	put("flow.asl.yaml", "StartAt: A\nStates:\n  A:\n    Type: Pass\n    Result: ${Greeting}\n    End: true\n")
	sm := e.create(t, "FromYAML", "AWS::StepFunctions::StateMachine", map[string]any{"RoleArn": testRole,
		"DefinitionS3Location": map[string]any{"Bucket": "defs", "Key": "flow.asl.yaml"}, "DefinitionSubstitutions": map[string]any{"Greeting": "hi"}})
	d, err := c.DescribeStateMachine(ctx, &awssfn.DescribeStateMachineInput{StateMachineArn: aws.String(sm.PhysicalID)})
	if err != nil || !strings.Contains(aws.ToString(d.Definition), `"Result":"hi"`) {
		t.Fatalf("from YAML: %+v %v", d, err)
	}
	put("flow.json", `{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}`)
	sm = e.update(t, sm, map[string]any{"RoleArn": testRole, "DefinitionS3Location": map[string]any{"Bucket": "defs", "Key": "flow.json"}})
	d, err = c.DescribeStateMachine(ctx, &awssfn.DescribeStateMachineInput{StateMachineArn: aws.String(sm.PhysicalID)})
	if err != nil || aws.ToString(d.Definition) != `{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}` {
		t.Fatalf("from JSON: %+v %v", d, err)
	}
	def := []byte(`{"StartAt": "C", "States": {"C": {"Type": "Succeed"}}}`)
	sum := sha256.Sum256(def)
	sha := hex.EncodeToString(sum[:])
	if err := e.artifacts.Put(ctx, sha, def); err != nil {
		t.Fatal(err)
	}
	art := e.create(t, "FromArtifact", "AWS::StepFunctions::StateMachine", map[string]any{"RoleArn": testRole,
		"DefinitionS3Location": map[string]any{"Bucket": "nimbus-artifacts", "Key": sha}})
	d, err = c.DescribeStateMachine(ctx, &awssfn.DescribeStateMachineInput{StateMachineArn: aws.String(art.PhysicalID)})
	if err != nil || !strings.Contains(aws.ToString(d.Definition), `"C"`) {
		t.Fatalf("from an artifact: %+v %v", d, err)
	}
	_, err = e.ps["AWS::StepFunctions::StateMachine"].Create(ctx, request("Missing", "AWS::StepFunctions::StateMachine",
		map[string]any{"RoleArn": testRole, "DefinitionS3Location": map[string]any{"Bucket": "defs", "Key": "nope.json"}}))
	wantErr(t, err, "s3://defs/nope.json")
	_, err = e.ps["AWS::StepFunctions::StateMachine"].Create(ctx, request("Both", "AWS::StepFunctions::StateMachine",
		map[string]any{"RoleArn": testRole, "DefinitionString": "{}", "DefinitionS3Location": map[string]any{"Bucket": "defs", "Key": "flow.json"}}))
	wantErr(t, err, "only one of")
}
