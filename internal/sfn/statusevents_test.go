package sfn_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/nimbus-serverless/nimbus/internal/sfn"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

type statusEvents struct {
	mu  sync.Mutex
	evs []map[string]any
}

func (s *statusEvents) put(_ context.Context, arn, detail string) error {
	var d map[string]any
	if err := json.Unmarshal([]byte(detail), &d); err != nil {
		return err
	}
	if d["executionArn"] != arn {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evs = append(s.evs, d)
	return nil
}

func (s *statusEvents) of(arn string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, d := range s.evs {
		if d["executionArn"] == arn {
			out = append(out, d)
		}
	}
	return out
}

// TestStatusEvents: a Standard execution's start, end, redrive and stop
// each produce one status event whose detail has DescribeExecution's
// fields as AWS's examples show them (every field present, null when it
// has no value, dates in epoch milliseconds); an Express execution
// produces none. A redrive is observed (AWS/States ExecutionsRedriven),
// and so is the redriven execution's end (RedrivenExecutionsFailed).
func TestStatusEvents(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	got := &statusEvents{}
	var observedMu sync.Mutex
	observed := map[string]int{}
	svc, err := sfn.New(t.Context(), sfn.Options{JetStream: st.JetStream(), Region: "us-east-1", AccountID: "123456789012",
		SingleNode: true, InlineWait: 200 * time.Millisecond, StatusChange: got.put,
		Observe: func(_, status string, _ time.Duration) { observedMu.Lock(); observed[status]++; observedMu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	e := serve(t, svc)
	arn := e.machine(t, "events", `{"StartAt": "C", "States": {
	  "C": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "IsPresent": true, "Next": "F"}], "Default": "P"},
	  "F": {"Type": "Fail", "Error": "Boom", "Cause": "asked to"},
	  "P": {"Type": "Pass", "Result": {"ok": true}, "End": true}}}`)
	d := e.run(t, arn, `{"n": 1}`)
	evs := got.of(*d.ExecutionArn)
	if len(evs) != 2 {
		t.Fatalf("%d events: %v", len(evs), evs)
	}
	if evs[0]["status"] != "RUNNING" || evs[0]["stopDate"] != nil || evs[0]["input"] != `{"n": 1}` || evs[0]["output"] != nil ||
		evs[0]["redriveStatus"] != "NOT_REDRIVABLE" || evs[0]["redriveStatusReason"] != "Execution is RUNNING and cannot be redriven" {
		t.Errorf("start: %v", evs[0])
	}
	if evs[1]["status"] != "SUCCEEDED" || evs[1]["output"] != `{"ok":true}` || evs[1]["stopDate"] == nil || evs[1]["error"] != nil ||
		evs[1]["startDate"] != float64(d.StartDate.UnixMilli()) || evs[1]["stateMachineArn"] != arn || evs[1]["name"] != aws.ToString(d.Name) {
		t.Errorf("end: %v", evs[1])
	}
	for _, k := range []string{"executionArn", "stateMachineArn", "name", "status", "startDate", "stopDate", "input", "inputDetails",
		"output", "outputDetails", "error", "cause", "redriveCount", "redriveDate", "redriveStatus", "redriveStatusReason"} {
		if _, ok := evs[1][k]; !ok {
			t.Errorf("the detail lacks %s", k)
		}
	}

	d = e.run(t, arn, `{"fail": true}`)
	if _, err := e.client.RedriveExecution(t.Context(), &awssfn.RedriveExecutionInput{ExecutionArn: d.ExecutionArn}); err != nil {
		t.Fatal(err)
	}
	e.wait(t, *d.ExecutionArn)
	evs = got.of(*d.ExecutionArn)
	var statuses []any
	for _, ev := range evs {
		statuses = append(statuses, ev["status"])
	}
	if len(evs) != 4 || statuses[1] != "FAILED" || evs[1]["error"] != "Boom" || evs[1]["cause"] != "asked to" || evs[1]["redriveStatus"] != "REDRIVABLE" ||
		statuses[2] != "RUNNING" || evs[2]["redriveCount"] != float64(1) || evs[2]["redriveDate"] == nil || statuses[3] != "FAILED" {
		t.Errorf("failed and redriven: %v", evs)
	}
	observedMu.Lock()
	if observed["REDRIVEN"] != 1 || observed["STARTED"] != 2 || observed["FAILED"] != 2 || observed["REDRIVEN_FAILED"] != 1 || observed["REDRIVEN_SUCCEEDED"] != 0 {
		t.Errorf("observed %v (AWS/States ExecutionsRedriven counts the redrive, RedrivenExecutionsFailed its end)", observed)
	}
	observedMu.Unlock()

	wait := e.machine(t, "events-wait", `{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}}`)
	s, err := e.client.StartExecution(t.Context(), &awssfn.StartExecutionInput{StateMachineArn: aws.String(wait)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.StopExecution(t.Context(), &awssfn.StopExecutionInput{ExecutionArn: s.ExecutionArn, Error: aws.String("Stop")}); err != nil {
		t.Fatal(err)
	}
	if evs := got.of(*s.ExecutionArn); len(evs) != 2 || evs[1]["status"] != "ABORTED" || evs[1]["error"] != "Stop" {
		t.Errorf("stopped: %v", evs)
	}

	express, err := e.client.CreateStateMachine(t.Context(), &awssfn.CreateStateMachineInput{Name: aws.String("events-express"), Type: types.StateMachineTypeExpress,
		Definition: aws.String(`{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}`), RoleArn: aws.String("arn:aws:iam::123456789012:role/r")})
	if err != nil {
		t.Fatal(err)
	}
	x, err := e.client.StartSyncExecution(t.Context(), &awssfn.StartSyncExecutionInput{StateMachineArn: express.StateMachineArn})
	if err != nil || x.Status != types.SyncExecutionStatusSucceeded {
		t.Fatalf("express: %v %v", x, err)
	}
	if evs := got.of(*x.ExecutionArn); len(evs) != 0 {
		t.Errorf("an Express execution sent %v", evs)
	}
}
