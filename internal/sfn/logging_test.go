package sfn_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/nimbus-serverless/nimbus/internal/sfn"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// memLogs is a logs service of one existing group, /sfn/logs, that the
// role ".../nologs" may not describe.
type memLogs struct {
	mu      sync.Mutex
	streams map[string][]string // stream -> messages
}

func (l *memLogs) Call(ctx context.Context, service, op string, body []byte) ([]byte, error) {
	if service != "logs" {
		return nil, &sfn.APIError{Code: "UnknownOperationException", Message: service}
	}
	var in struct{ LogGroupNamePrefix string }
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch op {
	case "DescribeLogGroups":
		if c, ok := sfn.CallerOf(ctx); ok && strings.HasSuffix(c.RoleArn, "/nologs") {
			return nil, &sfn.APIError{Code: "AccessDeniedException", Message: "no"}
		}
		if strings.HasPrefix("/sfn/logs", in.LogGroupNamePrefix) {
			return []byte(`{"logGroups":[{"logGroupName":"/sfn/logs"}]}`), nil
		}
		return []byte(`{"logGroups":[]}`), nil
	}
	return nil, &sfn.APIError{Code: "UnknownOperationException", Message: op}
}

// put is Options.Logs: the node's log store.
func (l *memLogs) put(_ context.Context, group, stream string, recs []sfn.LogRecord) error {
	if group != "/sfn/logs" {
		return errors.New("no group " + group)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range recs {
		l.streams[stream] = append(l.streams[stream], r.Message)
	}
	return nil
}

// records are the log records of the stream whose name contains part.
func (l *memLogs) records(t *testing.T, part string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for name, msgs := range l.streams {
		if !strings.Contains(name, part) {
			continue
		}
		for _, m := range msgs {
			var r map[string]any
			if err := json.Unmarshal([]byte(m), &r); err != nil {
				t.Fatalf("log record %q: %v", m, err)
			}
			out = append(out, r)
		}
	}
	return out
}

// TestLogging: LoggingConfiguration sends an execution's history events
// to its log group in AWS's record format: level ALL every event (with
// input and output only when includeExecutionData), ERROR the failures;
// Express (StartSyncExecution) and Standard executions alike. CreateStateMachine refuses a configuration
// without exactly one destination, a malformed log group ARN, a log
// group that does not exist, and a role that may not describe it
// (InvalidLoggingConfiguration).
func TestLogging(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	logs := &memLogs{streams: map[string][]string{}}
	svc, err := sfn.New(t.Context(), sfn.Options{JetStream: st.JetStream(), Tasks: sfn.Tasks{Call: logs}, Region: "us-east-1",
		AccountID: "123456789012", SingleNode: true, InlineWait: 200 * time.Millisecond, Logs: logs.put})
	if err != nil {
		t.Fatal(err)
	}
	e := serve(t, svc)
	group := "arn:aws:logs:us-east-1:123456789012:log-group:/sfn/logs:*"
	def := `{"StartAt": "C", "States": {
	  "C": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "IsPresent": true, "Next": "F"}], "Default": "P"},
	  "F": {"Type": "Fail", "Error": "Boom", "Cause": "asked to"},
	  "P": {"Type": "Pass", "Result": {"secret": "s3cr3t"}, "End": true}}}`
	create := func(name string, typ types.StateMachineType, level types.LogLevel, include bool, arn, role string) (string, error) {
		out, err := e.client.CreateStateMachine(t.Context(), &awssfn.CreateStateMachineInput{Name: aws.String(name), Type: typ,
			Definition: aws.String(def), RoleArn: aws.String("arn:aws:iam::123456789012:role/" + role),
			LoggingConfiguration: &types.LoggingConfiguration{Level: level, IncludeExecutionData: include,
				Destinations: []types.LogDestination{{CloudWatchLogsLogGroup: &types.CloudWatchLogsLogGroup{LogGroupArn: aws.String(arn)}}}}})
		if err != nil {
			return "", err
		}
		return *out.StateMachineArn, nil
	}
	for _, bad := range []struct{ arn, role string }{
		{"arn:aws:logs:us-east-1:123456789012:log-group:/sfn/logs", "r"},
		{"arn:aws:logs:us-east-1:123456789012:log-group:/sfn/missing:*", "r"},
		{group, "nologs"},
	} {
		if _, err := create("bad", types.StateMachineTypeExpress, types.LogLevelAll, true, bad.arn, bad.role); apiCode(err) != "InvalidLoggingConfiguration" {
			t.Errorf("%s as %s: %v, want InvalidLoggingConfiguration", bad.arn, bad.role, err)
		}
	}
	if _, err := e.client.CreateStateMachine(t.Context(), &awssfn.CreateStateMachineInput{Name: aws.String("bad"), Definition: aws.String(def),
		RoleArn: aws.String("arn:aws:iam::123456789012:role/r"), LoggingConfiguration: &types.LoggingConfiguration{Level: types.LogLevelError}}); apiCode(err) != "InvalidLoggingConfiguration" {
		t.Errorf("no destination: %v", err)
	}

	// Express, ALL with the execution's data.
	all, err := create("logs-all", types.StateMachineTypeExpress, types.LogLevelAll, true, group, "r")
	if err != nil {
		t.Fatal(err)
	}
	x, err := e.client.StartSyncExecution(t.Context(), &awssfn.StartSyncExecutionInput{StateMachineArn: aws.String(all), Input: aws.String(`{"n": 1}`)})
	if err != nil || x.Status != types.SyncExecutionStatusSucceeded {
		t.Fatalf("express: %v %v", x, err)
	}
	recs := logs.records(t, "states/logs-all/")
	var typesSeen []string
	for _, r := range recs {
		typesSeen = append(typesSeen, r["type"].(string))
		if r["execution_arn"] != *x.ExecutionArn || r["redrive_count"] != "0" {
			t.Errorf("record %v", r)
		}
	}
	if strings.Join(typesSeen, ",") != "ExecutionStarted,ChoiceStateEntered,ChoiceStateExited,PassStateEntered,PassStateExited,ExecutionSucceeded" {
		t.Errorf("ALL logged %v", typesSeen)
	}
	if len(recs) == 6 {
		first, last := recs[0], recs[5]
		if first["id"] != "1" || first["previous_event_id"] != "0" || first["details"].(map[string]any)["input"] != `{"n": 1}` ||
			last["details"].(map[string]any)["output"] != `{"secret":"s3cr3t"}` || last["event_timestamp"] == "" {
			t.Errorf("records: %v ... %v", first, last)
		}
	}

	// Standard, ERROR without the execution's data.
	errs, err := create("logs-error", types.StateMachineTypeStandard, types.LogLevelError, false, group, "r")
	if err != nil {
		t.Fatal(err)
	}
	d := e.run(t, errs, `{"fail": true, "secret": "s3cr3t"}`)
	if d.Status != types.ExecutionStatusFailed {
		t.Fatalf("standard: %s", d.Status)
	}
	recs = logs.records(t, "states/logs-error/")
	if len(recs) != 1 || recs[0]["type"] != "ExecutionFailed" || recs[0]["details"].(map[string]any)["error"] != "Boom" {
		t.Errorf("ERROR logged %v", recs)
	}
	d = e.run(t, errs, `{"secret": "s3cr3t"}`)
	if d.Status != types.ExecutionStatusSucceeded || len(logs.records(t, "states/logs-error/")) != 1 {
		t.Errorf("a success logged at ERROR: %v", logs.records(t, "states/logs-error/"))
	}

	// ALL without the execution's data leaves input and output out.
	if _, err := e.client.UpdateStateMachine(t.Context(), &awssfn.UpdateStateMachineInput{StateMachineArn: aws.String(all),
		LoggingConfiguration: &types.LoggingConfiguration{Level: types.LogLevelAll, IncludeExecutionData: false,
			Destinations: []types.LogDestination{{CloudWatchLogsLogGroup: &types.CloudWatchLogsLogGroup{LogGroupArn: aws.String(group)}}}}}); err != nil {
		t.Fatal(err)
	}
	x, err = e.client.StartSyncExecution(t.Context(), &awssfn.StartSyncExecutionInput{StateMachineArn: aws.String(all), Input: aws.String(`{"secret": "s3cr3t"}`)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range logs.records(t, "states/logs-all/") {
		if r["execution_arn"] != *x.ExecutionArn {
			continue
		}
		n++
		if b, _ := json.Marshal(r); strings.Contains(string(b), "s3cr3t") {
			t.Errorf("includeExecutionData false logged %s", b)
		}
	}
	if n != 6 {
		t.Errorf("%d records without the data", n)
	}
}
