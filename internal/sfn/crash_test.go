package sfn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/nimbus-serverless/nimbus/internal/crashtest"
	"github.com/nimbus-serverless/nimbus/internal/sfn"
	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// crashChildEnv makes the test binary run crashChild (see TestMain).
const crashChildEnv = "NIMBUS_SFN_CRASH_CHILD_DIR"

func TestMain(m *testing.M) { crashtest.Main(m, crashChildEnv, crashChild) }

// The crash test's machines: one waits (durably) between two Lambda
// tasks; one waits for a callback after sending its token to a queue.
const (
	waitDef = `{"StartAt": "One", "States": {
	  "One": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:one", "ResultPath": "$.one", "Next": "W"},
	  "W": {"Type": "Wait", "Seconds": 2, "Next": "Two"},
	  "Two": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:two", "ResultPath": "$.two", "End": true}}}`
	// mapDef runs three items as child executions that each wait, and
	// syncDef waits (.sync:2) for a child that waits.
	mapDef = `{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
	  "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "W", "States": {
	    "W": {"Type": "Wait", "Seconds": 2, "Next": "P"}, "P": {"Type": "Pass", "Parameters": {"got.$": "$.n"}, "End": true}}}, "End": true}}}`
	slowDef = `{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 2, "Next": "P"}, "P": {"Type": "Pass", "Result": "slow done", "End": true}}}`
	syncDef = `{"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
	  "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:slow", "Input": {}}, "OutputPath": "$.Output", "End": true}}}`
	tokenDef = `{"StartAt": "Ask", "States": {
	  "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
	    "Parameters": {"QueueUrl": "http://q/123456789012/approvals", "MessageBody": {"token.$": "$$.Task.Token"}}, "End": true}}}`
)

// queueCaller records the bodies a task sends to SQS and reports each
// task token on report; it sends "states" calls to the Service.
type queueCaller struct {
	report func(string)
	states *selfCaller
}

func (q queueCaller) Call(ctx context.Context, service, op string, body []byte) ([]byte, error) {
	if service == "states" {
		return q.states.Call(ctx, service, op, body)
	}
	var m struct{ MessageBody string }
	_ = json.Unmarshal(body, &m)
	var b struct{ Token string }
	_ = json.Unmarshal([]byte(m.MessageBody), &b)
	q.report("token " + b.Token)
	return []byte(`{"MessageId": "m-1", "MD5OfMessageBody": "x"}`), nil
}

func crashLambda(report func(string)) *fakeLambda {
	return &fakeLambda{calls: map[string]int{}, fns: map[string]func(map[string]any, int) (any, string){
		"one": func(map[string]any, int) (any, string) { report("one"); return "1", "" },
		"two": func(map[string]any, int) (any, string) { report("two"); return "2", "" },
	}}
}

func crashService(ctx context.Context, st *store.Store, report func(string)) (*sfn.Service, error) {
	states := &selfCaller{}
	svc, err := sfn.New(ctx, sfn.Options{JetStream: st.JetStream(), Tasks: sfn.Tasks{Lambda: crashLambda(report), Call: queueCaller{report, states}},
		Region: "us-east-1", AccountID: "123456789012", SingleNode: true, InlineWait: 100 * time.Millisecond})
	if err == nil {
		states.h = svc
	}
	return svc, err
}

// crashChild starts the executions, reports when the waiter is in its
// Wait and the Map's and the .sync Task's children have started (the
// asker reports its token), and then waits to be killed.
func crashChild(dir string) int {
	report := crashtest.Report().Line
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	svc, err := crashService(ctx, st, report)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	go func() { _ = svc.Run(ctx) }()
	srv := httptest.NewServer(svc)
	c := awssfn.New(awssfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{}})
	for _, m := range []struct{ name, def string }{{"slow", slowDef}, {"waiter", waitDef}, {"asker", tokenDef}, {"mapper", mapDef}, {"syncer", syncDef}} {
		o, err := c.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{Name: aws.String(m.name), Definition: aws.String(m.def),
			RoleArn: aws.String("arn:aws:iam::123456789012:role/r")})
		if err == nil && m.name != "slow" {
			_, err = c.StartExecution(ctx, &awssfn.StartExecutionInput{StateMachineArn: o.StateMachineArn, Name: aws.String("e1"),
				Input: aws.String(`{"n": 1, "items": [{"n": 1}, {"n": 2}, {"n": 3}]}`)})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	arn := "arn:aws:states:us-east-1:123456789012:execution:waiter:e1"
	for {
		h, err := c.GetExecutionHistory(ctx, &awssfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
		waiting := err == nil && len(h.Events) > 0 && h.Events[len(h.Events)-1].Type == types.HistoryEventTypeWaitStateEntered
		// The Map's children and the .sync child have started.
		runs, err := c.ListMapRuns(ctx, &awssfn.ListMapRunsInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:mapper:e1")})
		mapping := err == nil && len(runs.MapRuns) == 1
		slow, err := c.ListExecutions(ctx, &awssfn.ListExecutionsInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:slow")})
		syncing := err == nil && len(slow.Executions) == 1
		if waiting && mapping && syncing {
			report("waiting")
			select {}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKillDuringWaitAndCallback: kill -9 while one execution is in a Wait,
// another waits for its task token, a distributed Map's child executions
// wait and a .sync:2 Task waits for its child; after the restart the
// first resumes after its Wait without calling its first task again, the
// token, sent after the restart, completes the second, and the children
// (three, not more) end and answer their parents.
func TestKillDuringWaitAndCallback(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	var token string
	seen := map[string]int{}
	killed := false
	crashtest.Kill(t, crashChildEnv, dir, func(line string) bool {
		if killed {
			return true // what the child wrote before it died
		}
		if tok, ok := strings.CutPrefix(line, "token "); ok {
			token = tok
		}
		seen[line]++
		killed = seen["waiting"] > 0 && token != ""
		return killed
	})
	if seen["waiting"] == 0 || token == "" || seen["one"] != 1 {
		t.Fatalf("child reported %v before it was killed", seen)
	}

	st := storetest.OpenDir(t, dir)
	var mu sync.Mutex
	after := map[string]int{}
	report := func(s string) { mu.Lock(); after[s]++; mu.Unlock() }
	svc, err := crashService(t.Context(), st, report)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	srv := httptest.NewServer(svc)
	defer srv.Close()
	e := &env{svc: svc, client: awssfn.New(awssfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{}})}

	d := e.wait(t, "arn:aws:states:us-east-1:123456789012:execution:waiter:e1")
	if d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("waiter: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	jsonEq(t, *d.Output, `{"n": 1, "items": [{"n": 1}, {"n": 2}, {"n": 3}], "one": "1", "two": "2"}`)
	mu.Lock()
	if after["one"] != 0 || after["two"] != 1 {
		t.Errorf("after the restart: task one called %d times (want 0), task two %d (want 1)", after["one"], after["two"])
	}
	mu.Unlock()

	// The Map's children and the .sync child ran once each and answered
	// their parents.
	d = e.wait(t, "arn:aws:states:us-east-1:123456789012:execution:mapper:e1")
	if d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("mapper: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	jsonEq(t, *d.Output, `[{"got": 1}, {"got": 2}, {"got": 3}]`)
	runs, err := e.client.ListMapRuns(t.Context(), &awssfn.ListMapRunsInput{ExecutionArn: d.ExecutionArn})
	if err != nil || len(runs.MapRuns) != 1 {
		t.Fatalf("map runs: %+v %v", runs, err)
	}
	kids, err := e.client.ListExecutions(t.Context(), &awssfn.ListExecutionsInput{MapRunArn: runs.MapRuns[0].MapRunArn})
	if err != nil || len(kids.Executions) != 3 {
		t.Errorf("children: %+v %v", kids, err)
	}
	d = e.wait(t, "arn:aws:states:us-east-1:123456789012:execution:syncer:e1")
	if d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Output) != `"slow done"` {
		t.Errorf("syncer: %s %s %s", d.Status, aws.ToString(d.Output), aws.ToString(d.Cause))
	}

	// A forged token (another execution's key, the right shape) is refused.
	forged := token[:len(token)-4] + "AAAA"
	if _, err := e.client.SendTaskSuccess(t.Context(), &awssfn.SendTaskSuccessInput{TaskToken: aws.String(forged), Output: aws.String(`{}`)}); apiCode(err) != "InvalidToken" {
		t.Errorf("forged token: %v, want InvalidToken", err)
	}
	if _, err := e.client.SendTaskSuccess(t.Context(), &awssfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{"approved": true}`)}); err != nil {
		t.Fatal(err)
	}
	d = e.wait(t, "arn:aws:states:us-east-1:123456789012:execution:asker:e1")
	if d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("asker: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	jsonEq(t, *d.Output, `{"approved": true}`)
	if _, err := e.client.SendTaskSuccess(t.Context(), &awssfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{}`)}); apiCode(err) != "TaskTimedOut" {
		t.Errorf("second answer to one token: %v, want TaskTimedOut", err)
	}
}
