package sfn_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/nimbus-serverless/nimbus/internal/sfn"
	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// fakeLambda is a Lambda API of functions written in Go: a function
// returns its payload, or an error (as the Lambda API reports a function
// error: FunctionError Unhandled and {errorType, errorMessage}).
type fakeLambda struct {
	mu    sync.Mutex
	calls map[string]int
	fns   map[string]func(in map[string]any, call int) (any, string)
}

func (f *fakeLambda) Invoke(_ context.Context, in *sfn.LambdaInput) (*sfn.LambdaOutput, error) {
	name := in.Function
	if i := strings.LastIndex(name, ":function:"); i >= 0 {
		name = name[i+len(":function:"):]
	}
	f.mu.Lock()
	fn, ok := f.fns[name]
	f.calls[name]++
	n := f.calls[name]
	f.mu.Unlock()
	if !ok {
		return nil, &sfn.APIError{Code: "ResourceNotFoundException", Message: "Function not found: " + in.Function}
	}
	var payload map[string]any
	_ = json.Unmarshal(in.Payload, &payload)
	out, errType := fn(payload, n)
	if errType != "" {
		b, _ := json.Marshal(map[string]any{"errorType": errType, "errorMessage": out})
		return &sfn.LambdaOutput{StatusCode: 200, Payload: b, FunctionError: "Unhandled", ExecutedVersion: "$LATEST"}, nil
	}
	b, _ := json.Marshal(out)
	return &sfn.LambdaOutput{StatusCode: 200, Payload: b, ExecutedVersion: "$LATEST", RequestID: "req"}, nil
}

func (f *fakeLambda) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

type env struct {
	svc    *sfn.Service
	client *awssfn.Client
	lambda *fakeLambda
	cancel context.CancelFunc
	done   chan struct{}
}

func start(t testing.TB, st *store.Store, lambda *fakeLambda) *env {
	t.Helper()
	if lambda == nil {
		lambda = &fakeLambda{calls: map[string]int{}, fns: map[string]func(map[string]any, int) (any, string){}}
	}
	svc, err := sfn.New(t.Context(), sfn.Options{JetStream: st.JetStream(), Tasks: sfn.Tasks{Lambda: lambda},
		Region: "us-east-1", AccountID: "123456789012", SingleNode: true, InlineWait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e := serve(t, svc)
	e.lambda = lambda
	return e
}

// serve runs svc and gives a client of it.
func serve(t testing.TB, svc *sfn.Service) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := svc.Run(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	srv := httptest.NewServer(svc)
	e := &env{svc: svc, cancel: cancel, done: done}
	t.Cleanup(func() { srv.Close(); e.stop() })
	e.client = awssfn.New(awssfn.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{},
	}, noHostPrefix)
	return e
}

// noHostPrefix keeps StartSyncExecution's "sync-" host prefix off the
// node's address (AWS serves it at sync-states.<region>.amazonaws.com;
// a client of a local endpoint turns the prefix off, as botocore's
// inject_host_prefix=False does).
func noHostPrefix(o *awssfn.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("NoHostPrefix",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				return next.HandleInitialize(smithyhttp.DisableEndpointHostPrefix(ctx, true), in)
			}), middleware.Before)
	})
}

func (e *env) stop() {
	e.cancel()
	<-e.done
}

func (e *env) machine(t testing.TB, name, def string) string {
	t.Helper()
	out, err := e.client.CreateStateMachine(t.Context(), &awssfn.CreateStateMachineInput{
		Name: aws.String(name), Definition: aws.String(def), RoleArn: aws.String("arn:aws:iam::123456789012:role/r")})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return *out.StateMachineArn
}

// run starts an execution and waits for its end.
func (e *env) run(t testing.TB, arn, input string) *awssfn.DescribeExecutionOutput {
	t.Helper()
	st, err := e.client.StartExecution(t.Context(), &awssfn.StartExecutionInput{StateMachineArn: aws.String(arn), Input: aws.String(input)})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return e.wait(t, *st.ExecutionArn)
}

// wait waits for the execution to end; the deadline is a guard against a
// hang (a loaded CI machine resumes a restarted node slowly), not a timing.
func (e *env) wait(t testing.TB, arn string) *awssfn.DescribeExecutionOutput {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		d, err := e.client.DescribeExecution(t.Context(), &awssfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("describe: %v", err)
		}
		if d.Status != types.ExecutionStatusRunning {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s still running", arn)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func jsonEq(t testing.TB, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("output %q: %v", got, err)
	}
	_ = json.Unmarshal([]byte(want), &w)
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("output %s, want %s", gb, wb)
	}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestPathsAndPass: InputPath, Parameters with .$ and intrinsics,
// ResultPath, OutputPath and the context object (AWS's documented
// input/output processing example).
func TestPathsAndPass(t *testing.T) {
	t.Parallel()
	e := start(t, storetest.Open(t), nil)
	arn := e.machine(t, "paths", `{
	  "StartAt": "P",
	  "States": {
	    "P": {"Type": "Pass", "InputPath": "$.library",
	      "Parameters": {"title.$": "$.books[0].title", "n.$": "States.ArrayLength($.books)", "greeting.$": "States.Format('Hello, {}!', $.owner)",
	        "exec.$": "$$.Execution.Name", "fixed": {"a": 1}},
	      "ResultPath": "$.result", "Next": "Q"},
	    "Q": {"Type": "Pass", "OutputPath": "$.result", "End": true}
	  }}`)
	d := e.run(t, arn, `{"library": {"owner": "Ana", "books": [{"title": "Dune"}, {"title": "Emma"}]}}`)
	if d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("status %s: %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	jsonEq(t, *d.Output, `{"title":"Dune","n":2,"greeting":"Hello, Ana!","exec":"`+*d.Name+`","fixed":{"a":1}}`)
}

// TestChoiceWaitSucceedFail covers Choice operators, a Wait and both ends.
func TestChoiceWaitSucceedFail(t *testing.T) {
	t.Parallel()
	e := start(t, storetest.Open(t), nil)
	arn := e.machine(t, "choice", `{
	  "StartAt": "C",
	  "States": {
	    "C": {"Type": "Choice", "Choices": [
	      {"And": [{"Variable": "$.n", "IsPresent": true}, {"Variable": "$.n", "NumericGreaterThanPath": "$.limit"}], "Next": "Big"},
	      {"And": [{"Variable": "$.name", "IsPresent": true}, {"Variable": "$.name", "StringMatches": "log-*.txt"}], "Next": "Log"},
	      {"And": [{"Variable": "$.ts", "IsPresent": true}, {"Variable": "$.ts", "IsTimestamp": true}, {"Not": {"Variable": "$.ts", "TimestampLessThan": "2020-01-01T00:00:00Z"}}], "Next": "W"}
	    ], "Default": "Bad"},
	    "Big": {"Type": "Pass", "Result": "big", "End": true},
	    "Log": {"Type": "Succeed"},
	    "W": {"Type": "Wait", "Seconds": 0, "Next": "Done"},
	    "Done": {"Type": "Pass", "Result": "waited", "End": true},
	    "Bad": {"Type": "Fail", "Error": "NoMatch", "CausePath": "States.Format('no rule for {}', $.name)"}
	  }}`)
	cases := []struct{ in, status, out, err string }{
		{`{"n": 5, "limit": 3}`, "SUCCEEDED", `"big"`, ""},
		{`{"name": "log-1.txt"}`, "SUCCEEDED", `{"name": "log-1.txt"}`, ""},
		{`{"ts": "2024-05-01T00:00:00Z"}`, "SUCCEEDED", `"waited"`, ""},
		{`{"name": "x"}`, "FAILED", "", "NoMatch"},
		{`{"ts": 5}`, "FAILED", "", "States.IntrinsicFailure"},
	}
	for _, c := range cases {
		d := e.run(t, arn, c.in)
		if string(d.Status) != c.status {
			t.Errorf("%s: status %s (%s %s), want %s", c.in, d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), c.status)
			continue
		}
		if c.out != "" {
			jsonEq(t, *d.Output, c.out)
		}
		if c.err != "" && aws.ToString(d.Error) != c.err {
			t.Errorf("%s: error %s, want %s", c.in, aws.ToString(d.Error), c.err)
		}
		if c.err == "NoMatch" && aws.ToString(d.Cause) != "no rule for x" {
			t.Errorf("cause %q", aws.ToString(d.Cause))
		}
	}
}

// TestSagaRetryCatch: a trip booking saga. The flight fails twice with a
// retriable error, then for good; Catch compensates the hotel in reverse.
func TestSagaRetryCatch(t *testing.T) {
	t.Parallel()
	lam := &fakeLambda{calls: map[string]int{}, fns: map[string]func(map[string]any, int) (any, string){
		"reserveHotel": func(in map[string]any, _ int) (any, string) { return map[string]any{"hotel": "H1"}, "" },
		"reserveFlight": func(in map[string]any, n int) (any, string) {
			if n <= 2 {
				return "busy", "FlightBusy"
			}
			return "no seats", "NoSeats"
		},
		"cancelHotel": func(in map[string]any, _ int) (any, string) { return map[string]any{"cancelled": true}, "" },
	}}
	e := start(t, storetest.Open(t), lam)
	arn := e.machine(t, "saga", `{
	  "StartAt": "ReserveHotel",
	  "States": {
	    "ReserveHotel": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
	      "Parameters": {"FunctionName": "reserveHotel", "Payload.$": "$"}, "ResultSelector": {"hotel.$": "$.Payload.hotel"},
	      "ResultPath": "$.hotel", "Next": "ReserveFlight"},
	    "ReserveFlight": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:reserveFlight",
	      "Retry": [{"ErrorEquals": ["FlightBusy"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 1.0}],
	      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "CancelHotel"}],
	      "ResultPath": "$.flight", "End": true},
	    "CancelHotel": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
	      "Parameters": {"FunctionName": "cancelHotel", "Payload.$": "$"}, "ResultPath": null, "Next": "Failed"},
	    "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "Cause": "trip not booked"}
	  }}`)
	d := e.run(t, arn, `{"trip": 7}`)
	if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "NoSeats" {
		t.Fatalf("status %s error %q cause %q, want FAILED NoSeats", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	if lam.count("reserveFlight") != 3 || lam.count("cancelHotel") != 1 {
		t.Errorf("flight tried %d times (want 3), hotel cancelled %d times (want 1)", lam.count("reserveFlight"), lam.count("cancelHotel"))
	}
	h, err := e.client.GetExecutionHistory(t.Context(), &awssfn.GetExecutionHistoryInput{ExecutionArn: d.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	var typesSeen []string
	for i, ev := range h.Events {
		if ev.Id != int64(i+1) {
			t.Errorf("event %d has id %d", i, ev.Id)
		}
		typesSeen = append(typesSeen, string(ev.Type))
	}
	joined := strings.Join(typesSeen, ",")
	for _, want := range []string{"ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,TaskSucceeded,TaskStateExited",
		"LambdaFunctionScheduled,LambdaFunctionStarted,LambdaFunctionFailed", "FailStateEntered,ExecutionFailed"} {
		if !strings.Contains(joined, want) {
			t.Errorf("history %s lacks %s", joined, want)
		}
	}
	if h.Events[0].ExecutionStartedEventDetails == nil || aws.ToString(h.Events[0].ExecutionStartedEventDetails.Input) != `{"trip": 7}` {
		t.Errorf("ExecutionStarted details: %+v", h.Events[0].ExecutionStartedEventDetails)
	}
}

// TestParallelAndMap runs branches and iterations and keeps their order.
func TestParallelAndMap(t *testing.T) {
	t.Parallel()
	e := start(t, storetest.Open(t), nil)
	arn := e.machine(t, "pm", `{
	  "StartAt": "Par",
	  "States": {
	    "Par": {"Type": "Parallel", "Next": "M", "ResultSelector": {"a.$": "$[0]", "b.$": "$[1]"}, "ResultPath": "$.par",
	      "Branches": [
	        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "End": true}}},
	        {"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 1, "Next": "B2"}, "B2": {"Type": "Pass", "Result": 2, "End": true}}}
	      ]},
	    "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
	      "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
	      "ItemProcessor": {"StartAt": "Dbl", "States": {"Dbl": {"Type": "Pass", "Parameters": {"r.$": "States.MathAdd($.v, $.v)", "i.$": "$.i"}, "End": true}}},
	      "ResultPath": "$.mapped", "End": true}
	  }}`)
	d := e.run(t, arn, `{"items": [1, 2, 3]}`)
	if d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("status %s: %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	jsonEq(t, *d.Output, `{"items":[1,2,3],"par":{"a":1,"b":2},"mapped":[{"r":2,"i":0},{"r":4,"i":1},{"r":6,"i":2}]}`)
}

// TestInvalidDefinitions: CreateStateMachine answers InvalidDefinition
// with AWS's wording, and nothing is created.
func TestInvalidDefinitions(t *testing.T) {
	t.Parallel()
	e := start(t, storetest.Open(t), nil)
	cases := []struct{ def, want string }{
		{`{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}`, "MISSING_TRANSITION_TARGET: Missing 'Next' target: B at /States/A/Next"},
		{`{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}, "B": {"Type": "Pass", "End": true}}}`, `MISSING_TRANSITION_TARGET: State "B" is not reachable. at /States/B`},
		{`{"States": {}}`, "SCHEMA_VALIDATION_FAILED: These fields are required: [StartAt] at /"},
		{`{"StartAt": "A", "States": {"A": {"Type": "Bogus", "End": true}}}`, "SCHEMA_VALIDATION_FAILED: The value for the field 'Type' must be one of"},
		{`{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "End": true}}}`, "Nimbus does not support the '.sync' integration pattern"},
		{`{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask", "End": true}}}`, "Nimbus does not support the Amazon ECS integration"},
		{`{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:ec2:describeInstances", "End": true}}}`, "Nimbus does not serve the service 'ec2' for the AWS SDK integration"},
		{`{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:createBucket", "End": true}}}`, "Nimbus does not support the AWS SDK integration action s3:createBucket"},
		{`{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:lambda:getFunction", "End": true}}}`, "Nimbus does not support the AWS SDK integration action lambda:getFunction"},
		{`{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:GetItem", "End": true}}}`, "the action in camelCase"},
		{`{"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"x.$": "States.Nope()"}, "End": true}}}`, "SCHEMA_VALIDATION_FAILED"},
		{`{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"}}, "End": true}}}`, "only supported in a Map whose ItemProcessor's ProcessorConfig.Mode is DISTRIBUTED"},
		{`{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "PARQUET"}, "Parameters": {"Bucket": "b", "Key": "k"}}, "End": true}}}`, "Nimbus does not support the ItemReader InputType PARQUET"},
		{`{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}}`, "The value for the field 'ExecutionType' must be one of [STANDARD, EXPRESS]"},
		{`{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "CSV"}, "Parameters": {"Bucket": "b", "Key": "k"}}, "End": true}}}`, "A CSV ItemReader needs CSVHeaderLocation FIRST_ROW or CSVHeaders"},
		{`{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "ResultWriter": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b"}}, "End": true}}}`, "The ResultWriter's Resource must be arn:aws:states:::s3:putObject"},
		{`not json`, "INVALID_JSON_DESCRIPTION"},
	}
	for _, c := range cases {
		_, err := e.client.CreateStateMachine(t.Context(), &awssfn.CreateStateMachineInput{
			Name: aws.String("bad"), Definition: aws.String(c.def), RoleArn: aws.String("arn:aws:iam::123456789012:role/r")})
		if apiCode(err) != "InvalidDefinition" || !strings.Contains(err.Error(), "Invalid State Machine Definition: '") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want InvalidDefinition with %q", c.def, err, c.want)
		}
	}
	l, err := e.client.ListStateMachines(t.Context(), &awssfn.ListStateMachinesInput{})
	if err != nil || len(l.StateMachines) != 0 {
		t.Errorf("list after refusals: %v %v", l, err)
	}
	v, err := e.client.ValidateStateMachineDefinition(t.Context(), &awssfn.ValidateStateMachineDefinitionInput{Definition: aws.String(cases[0].def)})
	if err != nil || v.Result != types.ValidateStateMachineDefinitionResultCodeFail || len(v.Diagnostics) != 1 || aws.ToString(v.Diagnostics[0].Location) != "/States/A/Next" {
		t.Errorf("validate: %+v %v", v, err)
	}
}

// TestExecutionNames: idempotent start while running, ExecutionAlreadyExists
// otherwise, and names over 80 characters or with forbidden characters.
func TestExecutionNames(t *testing.T) {
	t.Parallel()
	e := start(t, storetest.Open(t), nil)
	arn := e.machine(t, "names", `{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": true}}}`)
	in := &awssfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String("once"), Input: aws.String(`{"a":1}`)}
	a, err := e.client.StartExecution(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.client.StartExecution(t.Context(), in)
	if err != nil || *b.ExecutionArn != *a.ExecutionArn {
		t.Errorf("second start while running: %v %v", b, err)
	}
	in2 := *in
	in2.Input = aws.String(`{"a":2}`)
	if _, err := e.client.StartExecution(t.Context(), &in2); apiCode(err) != "ExecutionAlreadyExists" {
		t.Errorf("other input: %v", err)
	}
	e.wait(t, *a.ExecutionArn)
	if _, err := e.client.StartExecution(t.Context(), in); apiCode(err) != "ExecutionAlreadyExists" {
		t.Errorf("after the end: %v", err)
	}
	for _, name := range []string{strings.Repeat("x", 81), "a b", "a/b", "a:b", "x$y", "a\x01"} {
		_, err := e.client.StartExecution(t.Context(), &awssfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String(name)})
		if c := apiCode(err); c != "InvalidName" && c != "ValidationException" {
			t.Errorf("name %q: %v", name, err)
		}
	}
}

// TestExpress: StartSyncExecution answers with the execution's end;
// EXPRESS machines refuse callbacks; StartSyncExecution refuses STANDARD.
func TestExpress(t *testing.T) {
	t.Parallel()
	e := start(t, storetest.Open(t), nil)
	out, err := e.client.CreateStateMachine(t.Context(), &awssfn.CreateStateMachineInput{
		Name: aws.String("fast"), Type: types.StateMachineTypeExpress, RoleArn: aws.String("arn:aws:iam::123456789012:role/r"),
		Definition: aws.String(`{"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a, 1)"}, "Next": "F"},
		  "F": {"Type": "Choice", "Choices": [{"Variable": "$.sum", "NumericGreaterThan": 10, "Next": "Big"}], "Default": "Small"},
		  "Big": {"Type": "Fail", "Error": "TooBig", "Cause": "over ten"}, "Small": {"Type": "Succeed"}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.client.StartSyncExecution(t.Context(), &awssfn.StartSyncExecutionInput{StateMachineArn: out.StateMachineArn, Input: aws.String(`{"a": 2}`)})
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != types.SyncExecutionStatusSucceeded || aws.ToString(s.Output) != `{"sum":3}` || !strings.Contains(*s.ExecutionArn, ":express:fast:") {
		t.Errorf("sync: %s %s %s", s.Status, aws.ToString(s.Output), aws.ToString(s.ExecutionArn))
	}
	s, err = e.client.StartSyncExecution(t.Context(), &awssfn.StartSyncExecutionInput{StateMachineArn: out.StateMachineArn, Input: aws.String(`{"a": 20}`)})
	if err != nil || s.Status != types.SyncExecutionStatusFailed || aws.ToString(s.Error) != "TooBig" || aws.ToString(s.Cause) != "over ten" {
		t.Errorf("sync failure: %+v %v", s, err)
	}
	_, err = e.client.CreateStateMachine(t.Context(), &awssfn.CreateStateMachineInput{
		Name: aws.String("cb"), Type: types.StateMachineTypeExpress, RoleArn: aws.String("arn:aws:iam::123456789012:role/r"),
		Definition: aws.String(`{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "Parameters": {"FunctionName": "f"}, "End": true}}}`)})
	if apiCode(err) != "InvalidDefinition" {
		t.Errorf("express with a callback: %v", err)
	}
	std := e.machine(t, "std", `{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}`)
	if _, err := e.client.StartSyncExecution(t.Context(), &awssfn.StartSyncExecutionInput{StateMachineArn: aws.String(std)}); apiCode(err) != "StateMachineTypeNotSupported" {
		t.Errorf("sync on standard: %v", err)
	}
}

// TestAWSSDKLambdaInvoke: arn:aws:states:::aws-sdk:lambda:invoke answers
// as Lambda's API does, unlike the optimized integration: the payload
// stays the function's JSON text, and a function error is the answer's
// FunctionError rather than a failed task (AWS's "How the Optimized
// Lambda integration is different than the Lambda AWS SDK integration").
// An API error is Lambda.<Code>, caught like any other.
func TestAWSSDKLambdaInvoke(t *testing.T) {
	t.Parallel()
	lam := &fakeLambda{calls: map[string]int{}, fns: map[string]func(map[string]any, int) (any, string){
		"double": func(in map[string]any, _ int) (any, string) { return map[string]any{"n": in["n"].(float64) * 2}, "" },
		"broken": func(map[string]any, int) (any, string) { return "no", "Broken" },
	}}
	e := start(t, storetest.Open(t), lam)
	arn := e.machine(t, "sdklambda", `{
	  "StartAt": "Double",
	  "States": {
	    "Double": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:lambda:invoke",
	      "Parameters": {"FunctionName": "double", "Payload.$": "$"}, "ResultPath": "$.double", "Next": "Broken"},
	    "Broken": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:lambda:invoke",
	      "Parameters": {"FunctionName": "broken"}, "ResultPath": "$.broken", "Next": "Missing"},
	    "Missing": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:lambda:invoke",
	      "Parameters": {"FunctionName": "missing"},
	      "Catch": [{"ErrorEquals": ["Lambda.ResourceNotFoundException"], "ResultPath": "$.missing", "Next": "Done"}], "End": true},
	    "Done": {"Type": "Succeed"}
	  }}`)
	d := e.run(t, arn, `{"n": 21}`)
	if d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("status %s: %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	var out struct {
		Double  map[string]any
		Broken  map[string]any
		Missing map[string]any
	}
	if err := json.Unmarshal([]byte(aws.ToString(d.Output)), &out); err != nil {
		t.Fatal(err)
	}
	if out.Double["Payload"] != `{"n":42}` || out.Double["StatusCode"] != float64(200) || out.Double["ExecutedVersion"] != "$LATEST" {
		t.Errorf("the SDK answer of a success: %v (Payload must stay the JSON text)", out.Double)
	}
	if out.Broken["FunctionError"] != "Unhandled" || !strings.Contains(fmt.Sprint(out.Broken["Payload"]), `"errorType":"Broken"`) {
		t.Errorf("a function error through the SDK integration: %v (the task must succeed with FunctionError)", out.Broken)
	}
	if out.Missing["Error"] != "Lambda.ResourceNotFoundException" {
		t.Errorf("an API error: %v", out.Missing)
	}
}
