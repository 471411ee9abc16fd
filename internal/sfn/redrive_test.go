package sfn_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/nimbus-serverless/nimbus/internal/sfn"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// redrive redrives arn and waits for its end.
func (e *env) redrive(t *testing.T, arn string) *awssfn.DescribeExecutionOutput {
	t.Helper()
	out, err := e.client.RedriveExecution(t.Context(), &awssfn.RedriveExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("redrive: %v", err)
	}
	if out.RedriveDate == nil {
		t.Errorf("no redriveDate")
	}
	return e.wait(t, arn)
}

func (e *env) history(t *testing.T, arn string) []types.HistoryEvent {
	t.Helper()
	var evs []types.HistoryEvent
	p := awssfn.NewGetExecutionHistoryPaginator(e.client, &awssfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, page.Events...)
	}
	return evs
}

// TestRedriveExecution: a failed execution redriven runs again from the
// state that failed, with the same input; what succeeded (the first
// Task, a Parallel's other branch, a Map's other iterations) is not run
// again. The Parallel's failing branch waits for a token the test
// answers with a failure once the other branch's result is in the
// history; the Map runs one item at a time (item 3, never started,
// runs in the last attempt). ExecutionRedriven events with their counts
// follow in the history, DescribeExecution and ListExecutions show
// redriveCount, redriveDate and redriveStatus, $$.Execution.RedriveCount
// is the count, and a SUCCEEDED execution is not redrivable.
func TestRedriveExecution(t *testing.T) {
	t.Parallel()
	e := start(t, storetest.Open(t), nil)
	var itemBroken atomic.Bool
	itemBroken.Store(true)
	tokens := make(chan string, 4)
	e.lambda.fns["first"] = func(in map[string]any, _ int) (any, string) { return map[string]any{"first": true}, "" }
	e.lambda.fns["steady"] = func(in map[string]any, _ int) (any, string) { return "steady", "" }
	e.lambda.fns["approve"] = func(in map[string]any, _ int) (any, string) {
		tokens <- in["token"].(string)
		return "asked", ""
	}
	var itemCalls sync.Map
	e.lambda.fns["item"] = func(in map[string]any, _ int) (any, string) {
		n, _ := in["n"].(float64)
		c, _ := itemCalls.LoadOrStore(n, new(atomic.Int32))
		c.(*atomic.Int32).Add(1)
		if n == 2 && itemBroken.Load() {
			return "item 2 down", "ItemDown"
		}
		return n * 10, ""
	}
	e.lambda.fns["last"] = func(in map[string]any, _ int) (any, string) { return in, "" }
	fn := func(name string) string { return "arn:aws:lambda:us-east-1:123456789012:function:" + name }
	arn := e.machine(t, "redrive", `{"StartAt": "First", "States": {
	  "First": {"Type": "Task", "Resource": "`+fn("first")+`", "ResultPath": "$.first", "Next": "Par"},
	  "Par": {"Type": "Parallel", "ResultPath": "$.par", "Next": "M", "Branches": [
	    {"StartAt": "Steady", "States": {"Steady": {"Type": "Task", "Resource": "`+fn("steady")+`", "End": true}}},
	    {"StartAt": "Approve", "States": {"Approve": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
	      "Parameters": {"FunctionName": "approve", "Payload": {"token.$": "$$.Task.Token"}}, "End": true}}}]},
	  "M": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.items", "Next": "Last", "MaxConcurrency": 1,
	    "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Task", "Resource": "`+fn("item")+`", "End": true}}}},
	  "Last": {"Type": "Task", "Resource": "`+fn("last")+`",
	    "Parameters": {"items.$": "$.items", "par.$": "$.par", "redriveCount.$": "$$.Execution.RedriveCount"}, "End": true}}}`)

	st, err := e.client.StartExecution(t.Context(), &awssfn.StartExecutionInput{StateMachineArn: aws.String(arn),
		Input: aws.String(`{"items": [{"n": 1}, {"n": 2}, {"n": 3}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	exec := *st.ExecutionArn
	old := recv(t, tokens)
	// The other branch's result is recorded before the failure.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		done := false
		for _, ev := range e.history(t, exec) {
			done = done || ev.Type == types.HistoryEventTypeLambdaFunctionSucceeded
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the steady branch did not finish")
		}
	}
	if _, err := e.client.SendTaskFailure(t.Context(), &awssfn.SendTaskFailureInput{TaskToken: aws.String(old), Error: aws.String("Rejected")}); err != nil {
		t.Fatal(err)
	}
	d := e.wait(t, exec)
	if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "Rejected" {
		t.Fatalf("first attempt: %s %s", d.Status, aws.ToString(d.Error))
	}
	if d.RedriveStatus != types.ExecutionRedriveStatusRedrivable || d.RedriveCount == nil || *d.RedriveCount != 0 {
		t.Errorf("failed: redriveStatus %s count %v", d.RedriveStatus, d.RedriveCount)
	}
	if _, err := e.client.RedriveExecution(t.Context(), &awssfn.RedriveExecutionInput{ExecutionArn: aws.String(exec)}); err != nil {
		t.Fatal(err)
	}
	fresh := recv(t, tokens)
	if _, err := e.client.SendTaskSuccess(t.Context(), &awssfn.SendTaskSuccessInput{TaskToken: aws.String(old), Output: aws.String(`"old"`)}); apiCode(err) != "TaskTimedOut" {
		t.Errorf("the first attempt's token: %v, want TaskTimedOut", err)
	}
	if _, err := e.client.SendTaskSuccess(t.Context(), &awssfn.SendTaskSuccessInput{TaskToken: aws.String(fresh), Output: aws.String(`"approved"`)}); err != nil {
		t.Fatal(err)
	}
	d = e.wait(t, exec)
	if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "ItemDown" || aws.ToInt32(d.RedriveCount) != 1 || d.RedriveDate == nil {
		t.Fatalf("second attempt: %s %s count %v", d.Status, aws.ToString(d.Error), d.RedriveCount)
	}
	itemBroken.Store(false)
	d = e.redrive(t, exec)
	if d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("third attempt: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	jsonEq(t, aws.ToString(d.Output), `{"items":[10,20,30],"par":["steady","approved"],"redriveCount":2}`)
	for name, want := range map[string]int{"first": 1, "steady": 1, "approve": 2, "last": 1} {
		if got := e.lambda.count(name); got != want {
			t.Errorf("%s called %d times, want %d", name, got, want)
		}
	}
	for n, want := range map[float64]int32{1: 1, 2: 2, 3: 1} {
		c, _ := itemCalls.Load(n)
		if c == nil || c.(*atomic.Int32).Load() != want {
			t.Errorf("item %v called %v times, want %d", n, c, want)
		}
	}
	if aws.ToInt32(d.RedriveCount) != 2 || d.RedriveStatus != types.ExecutionRedriveStatusNotRedrivable ||
		aws.ToString(d.RedriveStatusReason) != "Execution is SUCCEEDED and cannot be redriven" {
		t.Errorf("succeeded: count %v status %s reason %q", d.RedriveCount, d.RedriveStatus, aws.ToString(d.RedriveStatusReason))
	}
	if _, err := e.client.RedriveExecution(t.Context(), &awssfn.RedriveExecutionInput{ExecutionArn: d.ExecutionArn}); apiCode(err) != "ExecutionNotRedrivable" {
		t.Errorf("redrive a succeeded execution: %v", err)
	}

	// The history: every attempt's events, each ExecutionRedriven with its
	// count, ids in order, one ExecutionSucceeded at the end.
	evs := e.history(t, *d.ExecutionArn)
	var counts []int32
	var failed, succeeded int
	for i, ev := range evs {
		if ev.Id != int64(i+1) {
			t.Fatalf("event %d has id %d", i, ev.Id)
		}
		switch ev.Type {
		case types.HistoryEventTypeExecutionRedriven:
			counts = append(counts, aws.ToInt32(ev.ExecutionRedrivenEventDetails.RedriveCount))
		case types.HistoryEventTypeExecutionFailed:
			failed++
		case types.HistoryEventTypeExecutionSucceeded:
			succeeded++
		}
	}
	if len(counts) != 2 || counts[0] != 1 || counts[1] != 2 || failed != 2 || succeeded != 1 || evs[len(evs)-1].Type != types.HistoryEventTypeExecutionSucceeded {
		t.Errorf("history: redriven %v, %d failed, %d succeeded, last %s", counts, failed, succeeded, evs[len(evs)-1].Type)
	}

	list, err := e.client.ListExecutions(t.Context(), &awssfn.ListExecutionsInput{StateMachineArn: aws.String(arn), RedriveFilter: types.ExecutionRedriveFilterRedriven})
	if err != nil || len(list.Executions) != 1 || aws.ToInt32(list.Executions[0].RedriveCount) != 2 || list.Executions[0].RedriveDate == nil {
		t.Errorf("list redriven: %+v %v", list, err)
	}
	list, err = e.client.ListExecutions(t.Context(), &awssfn.ListExecutionsInput{StateMachineArn: aws.String(arn), RedriveFilter: types.ExecutionRedriveFilterNotRedriven})
	if err != nil || len(list.Executions) != 0 {
		t.Errorf("list not redriven: %+v %v", list, err)
	}
}

// TestRedriveAbortedCallback: an execution stopped while a Task waits
// for its token is redriven: the Task is called again with a new token;
// the token of the first attempt is refused (TaskTimedOut), the new one
// ends the execution. A redrive's clientToken makes it idempotent, and
// an unknown execution is ExecutionDoesNotExist.
func TestRedriveAbortedCallback(t *testing.T) {
	t.Parallel()
	e := start(t, storetest.Open(t), nil)
	tokens := make(chan string, 4)
	e.lambda.fns["ask"] = func(in map[string]any, _ int) (any, string) {
		tokens <- in["token"].(string)
		return "asked", ""
	}
	arn := e.machine(t, "redrive-cb", `{"StartAt": "Ask", "States": {
	  "Ask": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
	    "Parameters": {"FunctionName": "ask", "Payload": {"token.$": "$$.Task.Token"}}, "End": true}}}`)
	st, err := e.client.StartExecution(t.Context(), &awssfn.StartExecutionInput{StateMachineArn: aws.String(arn), Input: aws.String(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	old := recv(t, tokens)
	if _, err := e.client.StopExecution(t.Context(), &awssfn.StopExecutionInput{ExecutionArn: st.ExecutionArn, Error: aws.String("Stopped")}); err != nil {
		t.Fatal(err)
	}
	if d := e.wait(t, *st.ExecutionArn); d.Status != types.ExecutionStatusAborted || d.RedriveStatus != types.ExecutionRedriveStatusRedrivable {
		t.Fatalf("stopped: %s %s", d.Status, d.RedriveStatus)
	}
	r1, err := e.client.RedriveExecution(t.Context(), &awssfn.RedriveExecutionInput{ExecutionArn: st.ExecutionArn, ClientToken: aws.String("once")})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := e.client.RedriveExecution(t.Context(), &awssfn.RedriveExecutionInput{ExecutionArn: st.ExecutionArn, ClientToken: aws.String("once")})
	if err != nil || !r2.RedriveDate.Equal(*r1.RedriveDate) {
		t.Errorf("the same clientToken again: %v %v", r2, err)
	}
	if _, err := e.client.RedriveExecution(t.Context(), &awssfn.RedriveExecutionInput{ExecutionArn: st.ExecutionArn}); apiCode(err) != "ExecutionNotRedrivable" {
		t.Errorf("redrive a running execution: %v", err)
	}
	fresh := recv(t, tokens)
	if fresh == old {
		t.Fatal("the redriven Task got the first attempt's token")
	}
	if _, err := e.client.SendTaskSuccess(t.Context(), &awssfn.SendTaskSuccessInput{TaskToken: aws.String(old), Output: aws.String(`"old"`)}); apiCode(err) != "TaskTimedOut" {
		t.Errorf("the first attempt's token: %v, want TaskTimedOut", err)
	}
	if _, err := e.client.SendTaskSuccess(t.Context(), &awssfn.SendTaskSuccessInput{TaskToken: aws.String(fresh), Output: aws.String(`"new"`)}); err != nil {
		t.Fatal(err)
	}
	d := e.wait(t, *st.ExecutionArn)
	if d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Output) != `"new"` || aws.ToInt32(d.RedriveCount) != 1 {
		t.Errorf("redriven: %s %q count %v", d.Status, aws.ToString(d.Output), d.RedriveCount)
	}
	missing := strings.Replace(*st.ExecutionArn, ":redrive-cb:", ":redrive-cb:nope", 1)
	if _, err := e.client.RedriveExecution(t.Context(), &awssfn.RedriveExecutionInput{ExecutionArn: aws.String(missing)}); apiCode(err) != "ExecutionDoesNotExist" {
		t.Errorf("redrive a missing execution: %v", err)
	}
}

func recv(t *testing.T, c chan string) string {
	t.Helper()
	select {
	case s := <-c:
		return s
	case <-time.After(2 * time.Minute): // a guard against a hang, not a timing
		t.Fatal("no token")
		return ""
	}
}

// TestRedriveDistributedMap: a parent whose Map Run failed is redriven:
// the Map Run is redriven (MapRunRedriven, the same ARN, its
// redriveCount), only the failed child execution runs again (redriven
// itself: its redriveCount is 1, and it is REDRIVABLE_BY_MAP_RUN while
// failed, not redrivable on its own), the children that succeeded are
// not run again, the one never started (one child at a time) starts,
// and the parent succeeds with every item's result.
func TestRedriveDistributedMap(t *testing.T) {
	t.Parallel()
	e := start(t, storetest.Open(t), nil)
	var broken atomic.Bool
	broken.Store(true)
	var calls sync.Map
	e.lambda.fns["work"] = func(in map[string]any, _ int) (any, string) {
		n, _ := in["n"].(float64)
		c, _ := calls.LoadOrStore(n, new(atomic.Int32))
		c.(*atomic.Int32).Add(1)
		if n == 3 && broken.Load() {
			return "3 is down", "Down"
		}
		return n + 100, ""
	}
	arn := e.machine(t, "redrive-dm", `{"StartAt": "M", "States": {"M": {"Type": "Map", "Label": "work", "ItemsPath": "$.items", "MaxConcurrency": 1,
	  "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "W", "States": {
	    "W": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work", "End": true}}}, "End": true}}}`)
	d := e.run(t, arn, `{"items": [{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}]}`)
	if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "States.ExceedToleratedFailureThreshold" {
		t.Fatalf("first attempt: %s %s", d.Status, aws.ToString(d.Error))
	}
	runs, err := e.client.ListMapRuns(t.Context(), &awssfn.ListMapRunsInput{ExecutionArn: d.ExecutionArn})
	if err != nil || len(runs.MapRuns) != 1 {
		t.Fatalf("map runs: %+v %v", runs, err)
	}
	runARN := runs.MapRuns[0].MapRunArn
	kids, err := e.client.ListExecutions(t.Context(), &awssfn.ListExecutionsInput{MapRunArn: runARN, StatusFilter: types.ExecutionStatusFailed})
	if err != nil || len(kids.Executions) != 1 {
		t.Fatalf("failed children: %+v %v", kids, err)
	}
	kid := kids.Executions[0].ExecutionArn
	kd, err := e.client.DescribeExecution(t.Context(), &awssfn.DescribeExecutionInput{ExecutionArn: kid})
	if err != nil || kd.RedriveStatus != types.ExecutionRedriveStatusRedrivableByMapRun {
		t.Errorf("failed child: %v %v", kd, err)
	}
	if _, err := e.client.RedriveExecution(t.Context(), &awssfn.RedriveExecutionInput{ExecutionArn: kid}); apiCode(err) != "ExecutionNotRedrivable" {
		t.Errorf("redrive a child: %v", err)
	}
	broken.Store(false)
	d = e.redrive(t, *d.ExecutionArn)
	if d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("redriven: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	jsonEq(t, aws.ToString(d.Output), `[101,102,103,104]`)
	for n, want := range map[float64]int32{1: 1, 2: 1, 3: 2, 4: 1} {
		c, _ := calls.Load(n)
		if c == nil || c.(*atomic.Int32).Load() != want {
			t.Errorf("item %v called %v times, want %d", n, c, want)
		}
	}
	runs, err = e.client.ListMapRuns(t.Context(), &awssfn.ListMapRunsInput{ExecutionArn: d.ExecutionArn})
	if err != nil || len(runs.MapRuns) != 1 || aws.ToString(runs.MapRuns[0].MapRunArn) != aws.ToString(runARN) {
		t.Fatalf("map runs after the redrive: %+v %v", runs, err)
	}
	dr, err := e.client.DescribeMapRun(t.Context(), &awssfn.DescribeMapRunInput{MapRunArn: runARN})
	if err != nil || dr.Status != types.MapRunStatusSucceeded || aws.ToInt32(dr.RedriveCount) != 1 || dr.RedriveDate == nil ||
		dr.ItemCounts.Succeeded != 4 || dr.ItemCounts.Failed != 0 || dr.ItemCounts.Running != 0 {
		t.Errorf("map run: %+v %+v %v", dr, dr.ItemCounts, err)
	}
	kd, err = e.client.DescribeExecution(t.Context(), &awssfn.DescribeExecutionInput{ExecutionArn: kid})
	if err != nil || kd.Status != types.ExecutionStatusSucceeded || aws.ToInt32(kd.RedriveCount) != 1 {
		t.Errorf("redriven child: %+v %v", kd, err)
	}
	var redriven int
	for _, ev := range e.history(t, *d.ExecutionArn) {
		if ev.Type == types.HistoryEventTypeMapRunRedriven {
			redriven++
			if ev.MapRunRedrivenEventDetails == nil || aws.ToString(ev.MapRunRedrivenEventDetails.MapRunArn) != aws.ToString(runARN) ||
				aws.ToInt32(ev.MapRunRedrivenEventDetails.RedriveCount) != 1 {
				t.Errorf("MapRunRedriven: %+v", ev.MapRunRedrivenEventDetails)
			}
		}
	}
	if redriven != 1 {
		t.Errorf("%d MapRunRedriven events", redriven)
	}
}

// TestRedriveWindow: an execution that ended more than 14 days ago is
// not redrivable (DescribeExecution says why; RedriveExecution refuses
// it), one that ended 13 days ago is; EXPRESS executions are not.
func TestRedriveWindow(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	st := storetest.Open(t)
	svc, err := sfn.New(t.Context(), sfn.Options{JetStream: st.JetStream(), Region: "us-east-1", AccountID: "123456789012",
		SingleNode: true, InlineWait: 200 * time.Millisecond, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	e := serve(t, svc)
	arn := e.machine(t, "window", `{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}`)
	d := e.run(t, arn, `{}`)
	if d.Status != types.ExecutionStatusFailed {
		t.Fatalf("status %s", d.Status)
	}
	offset.Store(int64(15 * 24 * time.Hour))
	d, err = e.client.DescribeExecution(t.Context(), &awssfn.DescribeExecutionInput{ExecutionArn: d.ExecutionArn})
	if err != nil || d.RedriveStatus != types.ExecutionRedriveStatusNotRedrivable || aws.ToString(d.RedriveStatusReason) != "Execution redrivable period exceeded" {
		t.Errorf("after 15 days: %v %q %v", d.RedriveStatus, aws.ToString(d.RedriveStatusReason), err)
	}
	if _, err := e.client.RedriveExecution(t.Context(), &awssfn.RedriveExecutionInput{ExecutionArn: d.ExecutionArn}); apiCode(err) != "ExecutionNotRedrivable" {
		t.Errorf("redrive after 15 days: %v", err)
	}
	offset.Store(int64(13 * 24 * time.Hour))
	if _, err := e.client.RedriveExecution(t.Context(), &awssfn.RedriveExecutionInput{ExecutionArn: d.ExecutionArn}); err != nil {
		t.Errorf("redrive after 13 days: %v", err)
	}
	express, err := e.client.CreateStateMachine(t.Context(), &awssfn.CreateStateMachineInput{Name: aws.String("window-x"), Type: types.StateMachineTypeExpress,
		Definition: aws.String(`{"StartAt": "F", "States": {"F": {"Type": "Fail"}}}`), RoleArn: aws.String("arn:aws:iam::123456789012:role/r")})
	if err != nil {
		t.Fatal(err)
	}
	x, err := e.client.StartSyncExecution(t.Context(), &awssfn.StartSyncExecutionInput{StateMachineArn: express.StateMachineArn})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.RedriveExecution(t.Context(), &awssfn.RedriveExecutionInput{ExecutionArn: x.ExecutionArn}); apiCode(err) != "ExecutionNotRedrivable" {
		t.Errorf("redrive an EXPRESS execution: %v", err)
	}
}
