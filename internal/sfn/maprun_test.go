package sfn_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// TestDistributedMapChildren: a STANDARD distributed Map runs each item
// as a child execution of a Map Run: ListMapRuns and DescribeMapRun
// show the run and its counts, ListExecutions with mapRunArn its
// children (not listed under the parent's machine), the parent's history
// has MapRunStarted/MapRunSucceeded and no per-item events, a tolerated
// failure is the item's {Error, Cause}, one past the threshold fails the
// Map, and UpdateMapRun raises MaxConcurrency of a running run.
func TestDistributedMapChildren(t *testing.T) {
	t.Parallel()
	e := start(t, storetest.Open(t), nil)
	def := func(tolerated int) string {
		return `{"StartAt": "M", "States": {"M": {"Type": "Map", "Label": "work", "ItemsPath": "$.items", "MaxConcurrency": 2,
		  "ToleratedFailureCount": ` + string(rune('0'+tolerated)) + `,
		  "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "C", "States": {
		    "C": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "IsPresent": true, "Next": "F"}], "Default": "W"},
		    "W": {"Type": "Wait", "Seconds": 1, "Next": "D"},
		    "D": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "End": true},
		    "F": {"Type": "Fail", "Error": "Bad", "Cause": "bad item"}}}, "End": true}}}`
	}
	arn := e.machine(t, "dm", def(1))
	d := e.run(t, arn, `{"items": [{"n": 1}, {"n": 2}, {"fail": true}, {"n": 4}, {"n": 5}]}`)
	if d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("parent: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	jsonEq(t, aws.ToString(d.Output), `[{"doubled":2},{"doubled":4},{"Error":"Bad","Cause":"bad item"},{"doubled":8},{"doubled":10}]`)

	runs, err := e.client.ListMapRuns(t.Context(), &awssfn.ListMapRunsInput{ExecutionArn: d.ExecutionArn})
	if err != nil || len(runs.MapRuns) != 1 {
		t.Fatalf("map runs: %+v %v", runs, err)
	}
	run := runs.MapRuns[0]
	if !strings.Contains(aws.ToString(run.MapRunArn), ":mapRun:dm/work:") || aws.ToString(run.StateMachineArn) != arn+"/work" {
		t.Errorf("map run %s of %s", aws.ToString(run.MapRunArn), aws.ToString(run.StateMachineArn))
	}
	dr, err := e.client.DescribeMapRun(t.Context(), &awssfn.DescribeMapRunInput{MapRunArn: run.MapRunArn})
	if err != nil {
		t.Fatal(err)
	}
	if dr.Status != types.MapRunStatusSucceeded || dr.MaxConcurrency != 2 || dr.ToleratedFailureCount != 1 ||
		dr.ItemCounts.Total != 5 || dr.ItemCounts.Succeeded != 4 || dr.ItemCounts.Failed != 1 || dr.ExecutionCounts.Running != 0 || dr.StopDate == nil {
		t.Errorf("describe: %s %+v", dr.Status, dr.ItemCounts)
	}
	kids, err := e.client.ListExecutions(t.Context(), &awssfn.ListExecutionsInput{MapRunArn: run.MapRunArn})
	if err != nil || len(kids.Executions) != 5 {
		t.Fatalf("children: %+v %v", kids, err)
	}
	failed := 0
	for _, k := range kids.Executions {
		if !strings.Contains(aws.ToString(k.ExecutionArn), ":execution:dm/work:") || aws.ToString(k.MapRunArn) != aws.ToString(run.MapRunArn) {
			t.Errorf("child %s of %s", aws.ToString(k.ExecutionArn), aws.ToString(k.MapRunArn))
		}
		if k.Status == types.ExecutionStatusFailed {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d children failed", failed)
	}
	child, err := e.client.DescribeExecution(t.Context(), &awssfn.DescribeExecutionInput{ExecutionArn: kids.Executions[0].ExecutionArn})
	if err != nil || aws.ToString(child.MapRunArn) != aws.ToString(run.MapRunArn) || aws.ToString(child.StateMachineArn) != arn+"/work" {
		t.Errorf("child: %+v %v", child, err)
	}
	sm, err := e.client.DescribeStateMachineForExecution(t.Context(), &awssfn.DescribeStateMachineForExecutionInput{ExecutionArn: kids.Executions[0].ExecutionArn})
	if err != nil || aws.ToString(sm.MapRunArn) != aws.ToString(run.MapRunArn) || aws.ToString(sm.Label) != "work" ||
		!strings.Contains(aws.ToString(sm.Definition), `"StartAt":"C"`) {
		t.Errorf("the child's machine: %+v %v", sm, err)
	}
	own, err := e.client.ListExecutions(t.Context(), &awssfn.ListExecutionsInput{StateMachineArn: aws.String(arn)})
	if err != nil || len(own.Executions) != 1 {
		t.Errorf("the machine's executions: %+v %v", own, err)
	}
	h, err := e.client.GetExecutionHistory(t.Context(), &awssfn.GetExecutionHistoryInput{ExecutionArn: d.ExecutionArn, MaxResults: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var typesSeen []string
	for _, ev := range h.Events {
		typesSeen = append(typesSeen, string(ev.Type))
	}
	if got := strings.Join(typesSeen, ","); got != "ExecutionStarted,MapStateEntered,MapStateStarted,MapRunStarted,MapRunSucceeded,MapStateSucceeded,MapStateExited,ExecutionSucceeded" {
		t.Errorf("parent history: %s", got)
	}

	// Past the tolerated failures the Map fails.
	strict := e.machine(t, "strict", def(0))
	if d := e.run(t, strict, `{"items": [{"n": 1}, {"fail": true}]}`); d.Status != types.ExecutionStatusFailed ||
		aws.ToString(d.Error) != "States.ExceedToleratedFailureThreshold" {
		t.Errorf("strict: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}

	// UpdateMapRun while the run is going.
	slow := e.machine(t, "slow", strings.Replace(def(0), `"MaxConcurrency": 2`, `"MaxConcurrency": 1`, 1))
	st, err := e.client.StartExecution(t.Context(), &awssfn.StartExecutionInput{StateMachineArn: aws.String(slow),
		Input: aws.String(`{"items": [{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	var runArn *string
	for deadline := time.Now().Add(2 * time.Minute); runArn == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if l, err := e.client.ListMapRuns(t.Context(), &awssfn.ListMapRunsInput{ExecutionArn: st.ExecutionArn}); err == nil && len(l.MapRuns) == 1 {
			runArn = l.MapRuns[0].MapRunArn
		}
	}
	if runArn == nil {
		t.Fatal("no map run")
	}
	if _, err := e.client.UpdateMapRun(t.Context(), &awssfn.UpdateMapRunInput{MapRunArn: runArn, MaxConcurrency: aws.Int32(4)}); err != nil {
		t.Fatal(err)
	}
	if d := e.wait(t, *st.ExecutionArn); d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("slow: %s %s", d.Status, aws.ToString(d.Cause))
	}
	dr, err = e.client.DescribeMapRun(t.Context(), &awssfn.DescribeMapRunInput{MapRunArn: runArn})
	if err != nil || dr.MaxConcurrency != 4 || dr.ItemCounts.Succeeded != 4 {
		t.Errorf("after UpdateMapRun: %+v %v", dr, err)
	}
	// Stopping the parent aborts its Map Run and the children running.
	stuck := e.machine(t, "stuck", strings.Replace(def(0), `"Seconds": 1`, `"Seconds": 3600`, 1))
	st2, err := e.client.StartExecution(t.Context(), &awssfn.StartExecutionInput{StateMachineArn: aws.String(stuck),
		Input: aws.String(`{"items": [{"n": 1}, {"n": 2}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	var stopRun *string
	for deadline := time.Now().Add(2 * time.Minute); stopRun == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if l, err := e.client.ListMapRuns(t.Context(), &awssfn.ListMapRunsInput{ExecutionArn: st2.ExecutionArn}); err == nil && len(l.MapRuns) == 1 {
			stopRun = l.MapRuns[0].MapRunArn
		}
	}
	if stopRun == nil {
		t.Fatal("no map run to stop")
	}
	if _, err := e.client.StopExecution(t.Context(), &awssfn.StopExecutionInput{ExecutionArn: st2.ExecutionArn}); err != nil {
		t.Fatal(err)
	}
	if dr, err := e.client.DescribeMapRun(t.Context(), &awssfn.DescribeMapRunInput{MapRunArn: stopRun}); err != nil || dr.Status != types.MapRunStatusAborted {
		t.Errorf("the stopped parent's run: %+v %v", dr, err)
	}
	if l, err := e.client.ListExecutions(t.Context(), &awssfn.ListExecutionsInput{MapRunArn: stopRun, StatusFilter: types.ExecutionStatusRunning}); err != nil || len(l.Executions) != 0 {
		t.Errorf("children still running: %+v %v", l, err)
	}

	// EXPRESS children run in the parent's runner; the run is recorded.
	quick := e.machine(t, "quick", strings.Replace(def(1), `"ExecutionType": "STANDARD"`, `"ExecutionType": "EXPRESS"`, 1))
	qd := e.run(t, quick, `{"items": [{"n": 1}, {"fail": true}, {"n": 3}]}`)
	if qd.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("quick: %s %s", qd.Status, aws.ToString(qd.Cause))
	}
	ql, err := e.client.ListMapRuns(t.Context(), &awssfn.ListMapRunsInput{ExecutionArn: qd.ExecutionArn})
	if err != nil || len(ql.MapRuns) != 1 {
		t.Fatalf("quick map runs: %+v %v", ql, err)
	}
	qr, err := e.client.DescribeMapRun(t.Context(), &awssfn.DescribeMapRunInput{MapRunArn: ql.MapRuns[0].MapRunArn})
	if err != nil || qr.Status != types.MapRunStatusSucceeded || qr.ItemCounts.Succeeded != 2 || qr.ItemCounts.Failed != 1 || qr.ItemCounts.Total != 3 {
		t.Errorf("quick run: %+v %v", qr, err)
	}
	if _, err := e.client.DescribeMapRun(t.Context(), &awssfn.DescribeMapRunInput{MapRunArn: aws.String(strings.Replace(*runArn, "/work:", "/work:0", 1))}); apiCode(err) != "ResourceNotFound" {
		t.Errorf("a missing map run: %v", err)
	}
}
