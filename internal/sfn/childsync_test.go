package sfn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/nimbus-serverless/nimbus/internal/sfn"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// selfCaller sends a Task's "states" calls to the Service itself, as
// the node's Tasks do through its API.
type selfCaller struct{ h http.Handler }

func (c *selfCaller) Call(ctx context.Context, service, op string, body []byte) ([]byte, error) {
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("X-Amz-Target", "AWSStepFunctions."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		return nil, &sfn.APIError{Code: e.Type, Message: e.Message}
	}
	return rec.Body.Bytes(), nil
}

// TestStartExecutionSync: states:startExecution.sync:2 and .sync wait
// for a Standard child (one that suspends in a Wait, so its end wakes
// the parent) and return its description with the output as JSON or as
// text; a failing child fails the Task with States.TaskFailed, which a
// Catcher sees; an EXPRESS child and .sync on other integrations are
// refused by name.
func TestStartExecutionSync(t *testing.T) {
	t.Parallel()
	caller := &selfCaller{}
	svc, err := sfn.New(t.Context(), sfn.Options{JetStream: storetest.Open(t).JetStream(), Tasks: sfn.Tasks{Call: caller},
		Region: "us-east-1", AccountID: "123456789012", SingleNode: true, InlineWait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	caller.h = svc
	e := serve(t, svc)
	child := e.machine(t, "child", `{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
	  "P": {"Type": "Pass", "Parameters": {"got.$": "$"}, "End": true}}}`)
	failing := e.machine(t, "failing", `{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "child broke"}}}`)
	parent := e.machine(t, "parent", `{"StartAt": "A", "States": {
	  "A": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
	    "Parameters": {"StateMachineArn": "`+child+`", "Input": {"x": 1}},
	    "ResultSelector": {"out.$": "$.Output", "status.$": "$.Status", "input.$": "$.Input"}, "ResultPath": "$.a", "Next": "B"},
	  "B": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
	    "Parameters": {"StateMachineArn": "`+child+`", "Input": {"x": 2}},
	    "ResultSelector": {"out.$": "$.Output"}, "ResultPath": "$.b", "Next": "C"},
	  "C": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
	    "Parameters": {"StateMachineArn": "`+failing+`"},
	    "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.c", "Next": "D"}], "End": true},
	  "D": {"Type": "Succeed"}}}`)
	d := e.run(t, parent, `{}`)
	if d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("parent: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	var out struct {
		A struct {
			Out    map[string]any
			Status string
			Input  map[string]any
		}
		B struct{ Out string }
		C struct{ Error, Cause string }
	}
	if err := json.Unmarshal([]byte(aws.ToString(d.Output)), &out); err != nil {
		t.Fatal(err)
	}
	if out.A.Status != "SUCCEEDED" || out.A.Out["got"] == nil || out.A.Input["x"] != 1.0 {
		t.Errorf(".sync:2 result: %+v", out.A)
	}
	if out.B.Out != `{"got":{"x":2}}` {
		t.Errorf(".sync result: %q", out.B.Out)
	}
	var cause map[string]any
	if out.C.Error != "States.TaskFailed" || json.Unmarshal([]byte(out.C.Cause), &cause) != nil || cause["Status"] != "FAILED" || cause["Error"] != "Boom" {
		t.Errorf("failing child: %+v", out.C)
	}
	h, err := e.client.GetExecutionHistory(t.Context(), &awssfn.GetExecutionHistoryInput{ExecutionArn: d.ExecutionArn, MaxResults: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, ev := range h.Events {
		if ev.TaskSubmittedEventDetails != nil {
			seen = append(seen, "submitted "+aws.ToString(ev.TaskSubmittedEventDetails.Resource))
		}
		if ev.TaskSucceededEventDetails != nil {
			seen = append(seen, "succeeded "+aws.ToString(ev.TaskSucceededEventDetails.Resource))
		}
	}
	if strings.Join(seen, ",") != "submitted startExecution.sync:2,succeeded startExecution.sync:2,submitted startExecution.sync,succeeded startExecution.sync,submitted startExecution.sync:2" {
		t.Errorf("history: %v", seen)
	}

	express, err := e.client.CreateStateMachine(t.Context(), &awssfn.CreateStateMachineInput{Name: aws.String("quick"), Type: types.StateMachineTypeExpress,
		Definition: aws.String(`{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}`), RoleArn: aws.String("arn:aws:iam::123456789012:role/r")})
	if err != nil {
		t.Fatal(err)
	}
	toExpress := e.machine(t, "to-express", `{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
	  "Parameters": {"StateMachineArn": "`+aws.ToString(express.StateMachineArn)+`"}, "End": true}}}`)
	if d := e.run(t, toExpress, `{}`); d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "States.Runtime" || !strings.Contains(aws.ToString(d.Cause), "EXPRESS") {
		t.Errorf("an EXPRESS child: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	_, err = e.client.CreateStateMachine(t.Context(), &awssfn.CreateStateMachineInput{Name: aws.String("lambda-sync"), RoleArn: aws.String("arn:aws:iam::123456789012:role/r"),
		Definition: aws.String(`{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.sync", "End": true}}}`)})
	if apiCode(err) != "InvalidDefinition" || !strings.Contains(err.Error(), ".sync") {
		t.Errorf("lambda:invoke.sync: %v", err)
	}
}

// TestSDKStepFunctions: aws-sdk:sfn takes and answers PascalCase names
// (the API's are camelCase) and names a refusal Sfn.<Code>Exception.
func TestSDKStepFunctions(t *testing.T) {
	t.Parallel()
	caller := &selfCaller{}
	svc, err := sfn.New(t.Context(), sfn.Options{JetStream: storetest.Open(t).JetStream(), Tasks: sfn.Tasks{Call: caller},
		Region: "us-east-1", AccountID: "123456789012", SingleNode: true, InlineWait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	caller.h = svc
	e := serve(t, svc)
	child := e.machine(t, "target", `{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}`)
	arn := e.machine(t, "sdk", `{"StartAt": "Start", "States": {
	  "Start": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:startExecution",
	    "Parameters": {"StateMachineArn": "`+child+`", "Name": "from-sdk", "Input": "{\"x\": 1}"}, "ResultSelector": {"arn.$": "$.ExecutionArn"}, "ResultPath": "$.started", "Next": "Describe"},
	  "Describe": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:describeStateMachine",
	    "Parameters": {"StateMachineArn": "`+child+`"}, "ResultSelector": {"name.$": "$.Name", "type.$": "$.Type"}, "ResultPath": "$.machine", "Next": "Missing"},
	  "Missing": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:describeExecution",
	    "Parameters": {"ExecutionArn": "arn:aws:states:us-east-1:123456789012:execution:target:nope"},
	    "Catch": [{"ErrorEquals": ["Sfn.ExecutionDoesNotExistException"], "ResultPath": "$.caught", "Next": "Done"}], "Next": "Done"},
	  "Done": {"Type": "Succeed"}}}`)
	d := e.run(t, arn, `{}`)
	if d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("%s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	var out struct {
		Started struct{ Arn string }
		Machine struct{ Name, Type string }
		Caught  struct{ Error string }
	}
	if err := json.Unmarshal([]byte(aws.ToString(d.Output)), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.Started.Arn, ":execution:target:from-sdk") || out.Machine.Name != "target" || out.Machine.Type != "STANDARD" ||
		out.Caught.Error != "Sfn.ExecutionDoesNotExistException" {
		t.Errorf("output %s", aws.ToString(d.Output))
	}
}
