package daemon

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	cwt "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
)

// TestStepFunctionsSagaWithRealFunctions: a trip-booking saga on the node
// calls real Python functions through the Lambda API; the flight's
// custom exception is the error Catch sees (its errorType), the hotel is
// compensated, and an SQS callback step gets its token through a real
// queue and completes on SendTaskSuccess.
func TestStepFunctionsSagaWithRealFunctions(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	app := `
class NoSeats(Exception):
    pass

def hotel(event, context):
    return {"hotel": "H-" + str(event["trip"])}

def flight(event, context):
    raise NoSeats("no seats on " + str(event["trip"]))

def cancel(event, context):
    return {"cancelled": event["hotel"]["hotel"]}
`
	for _, h := range []string{"hotel", "flight", "cancel"} {
		create(t, n, &lambda.CreateFunctionInput{
			FunctionName: aws.String(h), Runtime: types.RuntimePython312, Handler: aws.String("app." + h),
			Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: zipFiles(t, map[string]zipEntry{"app.py": {data: []byte(app)}})},
		})
	}
	q := awssqs.NewFromConfig(n.awsConfig())
	qu, err := q.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("approvals")})
	if err != nil {
		t.Fatal(err)
	}
	c := awssfn.NewFromConfig(n.awsConfig())
	// The Tasks call as the machine's role: it may invoke the functions
	// and send to the approvals queue.
	sagaRole := createServiceRole(t, n, "saga-role", "states.amazonaws.com", `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:000000000000:function:*"},
	  {"Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:000000000000:approvals"}]}`)
	def := `{
	  "StartAt": "Approve",
	  "States": {
	    "Approve": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
	      "Parameters": {"QueueUrl": "` + *qu.QueueUrl + `", "MessageBody": {"token.$": "$$.Task.Token", "trip.$": "$.trip"}},
	      "ResultPath": "$.approval", "HeartbeatSeconds": 600, "Next": "Hotel"},
	    "Hotel": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
	      "Parameters": {"FunctionName": "hotel", "Payload.$": "$"}, "ResultSelector": {"hotel.$": "$.Payload.hotel"},
	      "ResultPath": "$.hotel", "Next": "Flight"},
	    "Flight": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:flight",
	      "Retry": [{"ErrorEquals": ["Lambda.ServiceException", "Lambda.TooManyRequestsException"], "MaxAttempts": 2}],
	      "Catch": [{"ErrorEquals": ["NoSeats"], "ResultPath": "$.error", "Next": "Cancel"}], "End": true},
	    "Cancel": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
	      "Parameters": {"FunctionName": "cancel", "Payload.$": "$"}, "OutputPath": "$.Payload", "Next": "Done"},
	    "Done": {"Type": "Succeed"}
	  }}`
	m, err := c.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{Name: aws.String("trip"), Definition: aws.String(def),
		RoleArn: aws.String(sagaRole)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.StartExecution(ctx, &awssfn.StartExecutionInput{StateMachineArn: m.StateMachineArn, Input: aws.String(`{"trip": 42}`)})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := q.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: qu.QueueUrl, WaitTimeSeconds: 20})
	if err != nil || len(msg.Messages) != 1 {
		t.Fatalf("approval message: %+v %v", msg, err)
	}
	var body struct {
		Token string `json:"token"`
		Trip  int    `json:"trip"`
	}
	if err := json.Unmarshal([]byte(*msg.Messages[0].Body), &body); err != nil || body.Token == "" || body.Trip != 42 {
		t.Fatalf("message body %s: %v", *msg.Messages[0].Body, err)
	}
	if _, err := c.SendTaskHeartbeat(ctx, &awssfn.SendTaskHeartbeatInput{TaskToken: aws.String(body.Token)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendTaskSuccess(ctx, &awssfn.SendTaskSuccessInput{TaskToken: aws.String(body.Token), Output: aws.String(`{"ok": true}`)}); err != nil {
		t.Fatal(err)
	}
	d := waitExecution(ctx, t, c, *st.ExecutionArn)
	if d.Status != sfntypes.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"cancelled":"H-42"}` {
		t.Fatalf("execution %s: output %s error %s cause %s", d.Status, aws.ToString(d.Output), aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	h, err := c.GetExecutionHistory(ctx, &awssfn.GetExecutionHistoryInput{ExecutionArn: st.ExecutionArn, MaxResults: 500})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, ev := range h.Events {
		seen = append(seen, string(ev.Type))
		if ev.Type == sfntypes.HistoryEventTypeLambdaFunctionFailed {
			if d := ev.LambdaFunctionFailedEventDetails; d == nil || aws.ToString(d.Error) != "NoSeats" || !strings.Contains(aws.ToString(d.Cause), "no seats on 42") {
				t.Errorf("LambdaFunctionFailed details %+v", d)
			}
		}
	}
	for _, want := range []string{"TaskScheduled,TaskStarted,TaskSubmitted,TaskSucceeded", "LambdaFunctionScheduled,LambdaFunctionStarted,LambdaFunctionFailed"} {
		if !strings.Contains(strings.Join(seen, ","), want) {
			t.Errorf("history lacks %s: %v", want, seen)
		}
	}
	// The execution is counted in AWS/States by StateMachineArn.
	cw := cloudwatchClient(n)
	dims := []cwt.Dimension{{Name: aws.String("StateMachineArn"), Value: m.StateMachineArn}}
	for metric, want := range map[string]float64{"ExecutionsStarted": 1, "ExecutionsSucceeded": 1} {
		if got := sumOver(t, cw, "AWS/States", metric, dims, want); got != want {
			t.Errorf("AWS/States %s = %v, want %v", metric, got, want)
		}
	}
}

func waitExecution(ctx context.Context, t *testing.T, c *awssfn.Client, arn string) *awssfn.DescribeExecutionOutput {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		d, err := c.DescribeExecution(ctx, &awssfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning || time.Now().After(deadline) {
			return d
		}
		time.Sleep(50 * time.Millisecond) // polling the execution's status, as a client does
	}
}

// TestSAMStateMachineDeploysAndRuns: a SAM saga (a Python function, an
// AWS::Serverless::StateMachine with Retry and Catch, Policies,
// DefinitionSubstitutions and an EventBridgeRule event) deploys through
// CloudFormation; an event on the bus starts an execution, which books
// and compensates.
func TestSAMStateMachineDeploysAndRuns(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	zip := zipFiles(t, map[string]zipEntry{"app.py": {data: []byte(`
class PaymentDeclined(Exception):
    pass

def handler(event, context):
    if event.get("step") == "pay":
        raise PaymentDeclined("card declined for " + event["order"])
    return {"step": event.get("step"), "order": event.get("order")}
`)}})
	sha := uploadArtifact(t, n, zip)
	body := `AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Step:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: s3://nimbus-artifacts/` + sha + `
      Handler: app.handler
      Runtime: python3.12
  Saga:
    Type: AWS::Serverless::StateMachine
    Properties:
      Policies:
        - LambdaInvokePolicy:
            FunctionName: !Ref Step
      DefinitionSubstitutions:
        StepArn: !GetAtt Step.Arn
      Definition:
        StartAt: Reserve
        States:
          Reserve:
            Type: Task
            Resource: arn:aws:states:::lambda:invoke
            Parameters:
              FunctionName: ${StepArn}
              Payload:
                step: reserve
                order.$: $.detail.order
            ResultSelector:
              reserved.$: $.Payload.step
            ResultPath: $.reserve
            Next: Pay
          Pay:
            Type: Task
            Resource: ${StepArn}
            Parameters:
              step: pay
              order.$: $.detail.order
            Retry:
              - ErrorEquals: [Lambda.ServiceException]
                MaxAttempts: 2
            Catch:
              - ErrorEquals: [PaymentDeclined]
                ResultPath: $.error
                Next: Release
            End: true
          Release:
            Type: Task
            Resource: ${StepArn}
            Parameters:
              step: release
              order.$: $.detail.order
              why.$: $.error.Error
            End: true
      Events:
        Ordered:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [shop]
Outputs:
  SagaArn:
    Value: !Ref Saga
  SagaName:
    Value: !GetAtt Saga.Name
`
	c := n.cfn()
	cs, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("saga"), TemplateBody: aws.String(body),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityAutoExpand}})
	if err != nil {
		t.Fatal(err)
	}
	st := waitStack(t, c, *cs.StackId)
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack %s: %s", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	out := outputs(st)
	if !strings.HasPrefix(out["SagaArn"], "arn:aws:states:us-east-1:000000000000:stateMachine:") || !strings.HasSuffix(out["SagaArn"], ":"+out["SagaName"]) {
		t.Fatalf("outputs %v", out)
	}
	eb := eventbridge.NewFromConfig(n.awsConfig())
	pe, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String("shop"), DetailType: aws.String("order"), Detail: aws.String(`{"order": "o-7"}`)}}})
	if err != nil || pe.FailedEntryCount != 0 {
		t.Fatalf("PutEvents: %+v %v", pe, err)
	}
	sc := awssfn.NewFromConfig(n.awsConfig())
	var execArn string
	deadline := time.Now().Add(60 * time.Second)
	for execArn == "" && time.Now().Before(deadline) {
		l, err := sc.ListExecutions(ctx, &awssfn.ListExecutionsInput{StateMachineArn: aws.String(out["SagaArn"])})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Executions) > 0 {
			execArn = *l.Executions[0].ExecutionArn
		}
		time.Sleep(50 * time.Millisecond) // waiting for the rule to deliver
	}
	if execArn == "" {
		t.Fatal("the rule started no execution")
	}
	d := waitExecution(ctx, t, sc, execArn)
	var res map[string]string
	_ = json.Unmarshal([]byte(aws.ToString(d.Output)), &res)
	if d.Status != sfntypes.ExecutionStatusSucceeded || res["step"] != "release" || res["order"] != "o-7" {
		t.Fatalf("execution %s: %s %s %s", d.Status, aws.ToString(d.Output), aws.ToString(d.Error), aws.ToString(d.Cause))
	}
}

// TestStepFunctionsWithBoto3AndTheCLI: boto3 creates a machine, starts
// an execution (a second start with the same name and another input is
// its modeled ExecutionAlreadyExists), runs a synchronous Express
// execution with the host prefix off, reads the history, redrives a
// failed execution (RedriveExecution, its modeled ExecutionNotRedrivable,
// every answer's members checked against botocore's model); the AWS CLI
// lists the machine and describes the execution.
func TestStepFunctionsWithBoto3AndTheCLI(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	needTool(t, "python3", "-c", "import boto3")
	script := `
import boto3, botocore, json, time
c = boto3.client("stepfunctions")
role = "arn:aws:iam::000000000000:role/r"
d = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"v.$": "States.Format('hi {}', $.who)"}, "End": True}}})
arn = c.create_state_machine(name="hello", definition=d, roleArn=role)["stateMachineArn"]
e = c.start_execution(stateMachineArn=arn, name="run-1", input='{"who": "ana"}')["executionArn"]
try:
    c.start_execution(stateMachineArn=arn, name="run-1", input='{"who": "bo"}')
    dup = "no error"
except c.exceptions.ExecutionAlreadyExists as err:
    dup = err.response["Error"]["Code"]
while c.describe_execution(executionArn=e)["status"] == "RUNNING":
    time.sleep(0.05)
out = c.describe_execution(executionArn=e)
hist = [ev["type"] for ev in c.get_execution_history(executionArn=e)["events"]]
x = c.create_state_machine(name="quick", definition=d, roleArn=role, type="EXPRESS")["stateMachineArn"]
sync = boto3.client("stepfunctions", config=botocore.config.Config(inject_host_prefix=False))
s = sync.start_sync_execution(stateMachineArn=x, input='{"who": "cy"}')
try:
    c.create_state_machine(name="bad", definition='{"StartAt": "X", "States": {"A": {"Type": "Pass", "End": true}}}', roleArn=role)
    bad = "no error"
except c.exceptions.InvalidDefinition as err:
    bad = err.response["Error"]["Message"]
# Redrive: the first attempt fails, the redriven one (RedriveCount 1)
# succeeds; every answer's members are in botocore's output shapes.
model = c.meta.service_model
shape_errors = []
def check(op, resp, lists=()):
    members = model.operation_model(op).output_shape.members
    for k, v in resp.items():
        if k == "ResponseMetadata":
            continue
        if k not in members:
            shape_errors.append(op + "." + k)
        elif k in lists:
            item = members[k].member.members
            for it in v:
                shape_errors.extend(op + "." + k + "[]." + ik for ik in it if ik not in item)
rd = json.dumps({"StartAt": "C", "States": {
    "C": {"Type": "Choice", "Choices": [{"Variable": "$$.Execution.RedriveCount", "NumericEquals": 0, "Next": "F"}], "Default": "S"},
    "F": {"Type": "Fail", "Error": "First", "Cause": "first attempt"}, "S": {"Type": "Succeed"}}})
rarn = c.create_state_machine(name="redrive", definition=rd, roleArn=role)["stateMachineArn"]
re_ = c.start_execution(stateMachineArn=rarn, input="{}")["executionArn"]
while c.describe_execution(executionArn=re_)["status"] == "RUNNING":
    time.sleep(0.05)
failed = c.describe_execution(executionArn=re_)
check("DescribeExecution", failed)
r = c.redrive_execution(executionArn=re_, clientToken="t-1")
check("RedriveExecution", r)
while c.describe_execution(executionArn=re_)["status"] == "RUNNING":
    time.sleep(0.05)
redriven = c.describe_execution(executionArn=re_)
check("DescribeExecution", redriven)
check("ListExecutions", c.list_executions(stateMachineArn=rarn, redriveFilter="REDRIVEN"), ("executions",))
h = c.get_execution_history(executionArn=re_)
check("GetExecutionHistory", h, ("events",))
try:
    c.redrive_execution(executionArn=re_)
    again = "no error"
except c.exceptions.ExecutionNotRedrivable as err:
    again = err.response["Error"]["Code"]
print(json.dumps({"status": out["status"], "output": out["output"], "dup": dup, "hist": hist,
                  "sync": s["status"], "syncOut": s.get("output"), "bad": bad,
                  "redrive": [failed["status"], failed["redriveStatus"], redriven["status"], str(redriven["redriveCount"]), again],
                  "redriveEvents": [ev["type"] for ev in h["events"] if ev["type"].startswith("Execution")],
                  "shapeErrors": shape_errors}))
`
	cmd := exec.Command("python3", "-c", script)
	cmd.Env = n.toolEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
	var res struct {
		Status, Output, Dup, Sync, SyncOut, Bad   string
		Hist, Redrive, RedriveEvents, ShapeErrors []string
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Status != "SUCCEEDED" || res.Output != `{"v":"hi ana"}` ||
		res.Dup != "ExecutionAlreadyExists" || res.Sync != "SUCCEEDED" || res.SyncOut != `{"v":"hi cy"}` ||
		!strings.Contains(res.Bad, "MISSING_TRANSITION_TARGET") ||
		strings.Join(res.Hist, ",") != "ExecutionStarted,PassStateEntered,PassStateExited,ExecutionSucceeded" {
		t.Fatalf("boto3 answered %s (%v)", out, err)
	}
	if strings.Join(res.Redrive, ",") != "FAILED,REDRIVABLE,SUCCEEDED,1,ExecutionNotRedrivable" ||
		strings.Join(res.RedriveEvents, ",") != "ExecutionStarted,ExecutionFailed,ExecutionRedriven,ExecutionSucceeded" || len(res.ShapeErrors) != 0 {
		t.Errorf("redrive through boto3: %v, events %v, members not in botocore's model %v", res.Redrive, res.RedriveEvents, res.ShapeErrors)
	}

	needTool(t, "aws", "--version")
	cmd = exec.Command("aws", "stepfunctions", "list-state-machines", "--output", "json")
	cmd.Env = n.toolEnv()
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"name": "hello"`) || !strings.Contains(string(out), `"type": "EXPRESS"`) {
		t.Fatalf("aws cli list: %v\n%s", err, out)
	}
	cmd = exec.Command("aws", "stepfunctions", "describe-execution", "--output", "json",
		"--execution-arn", "arn:aws:states:us-east-1:000000000000:execution:hello:run-1")
	cmd.Env = n.toolEnv()
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"status": "SUCCEEDED"`) {
		t.Fatalf("aws cli describe: %v\n%s", err, out)
	}
}
