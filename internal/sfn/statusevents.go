package sfn

import (
	"context"
	"encoding/json"
	"time"
)

// Standard executions tell EventBridge of every status change, as AWS
// does: an event on the account's default bus with source aws.states and
// detail-type "Step Functions Execution Status Change" when an execution
// starts (RUNNING), is redriven (RUNNING again) and ends (SUCCEEDED,
// FAILED, TIMED_OUT, ABORTED). Express executions send none (AWS: they
// do not emit to EventBridge). Delivery is best effort, as on AWS: a
// refusal is logged, never the execution's failure.

// StatusDetailType is the detail-type of an execution's status events.
const StatusDetailType = "Step Functions Execution Status Change"

// maxEventPayload is how much escaped input and output an event carries
// (AWS: 248 KB; past it the input, then the output, is left out).
const maxEventPayload = 248 * 1024

// statusDetail is the event's detail: DescribeExecution's fields, each
// present (null when it has no value), dates in epoch milliseconds.
func (rec *execRecord) statusDetail(now time.Time) string {
	d := map[string]any{
		"executionArn": rec.ARN, "stateMachineArn": rec.StateMachineARN, "name": rec.Name, "status": rec.Status,
		"startDate": rec.Start.UnixMilli(), "stopDate": nil,
		"input": rec.Input, "inputDetails": map[string]any{"included": true},
		"output": nil, "outputDetails": nil, "error": nil, "cause": nil,
		"redriveCount": rec.RedriveCount, "redriveDate": nil,
	}
	if rec.Status != StatusRunning {
		d["stopDate"] = rec.Stop.UnixMilli()
	}
	if rec.Status == StatusSucceeded {
		d["output"], d["outputDetails"] = rec.Output, map[string]any{"included": true}
	}
	if rec.Error != "" || rec.Cause != "" {
		d["error"], d["cause"] = rec.Error, rec.Cause
	}
	if rec.RedriveCount > 0 {
		d["redriveDate"] = rec.RedriveDate.UnixMilli()
	}
	status, reason := rec.redriveStatus(now)
	d["redriveStatus"], d["redriveStatusReason"] = status, nil
	if reason != "" {
		d["redriveStatusReason"] = reason
	}
	if rec.MapRunARN != "" {
		d["mapRunArn"] = rec.MapRunARN
	}
	out, _ := d["output"].(string)
	if len(jsonString(rec.Input))+len(jsonString(out)) > maxEventPayload {
		d["input"], d["inputDetails"] = nil, map[string]any{"included": false}
	}
	if len(jsonString(out)) > maxEventPayload {
		d["output"], d["outputDetails"] = nil, map[string]any{"included": false}
	}
	b, _ := json.Marshal(d)
	return string(b)
}

func jsonString(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

// statusChanged sends rec's status event (Options.StatusChange).
func (s *Service) statusChanged(ctx context.Context, rec *execRecord) {
	if s.statusChange == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.statusChange(ctx, rec.ARN, rec.statusDetail(s.now())); err != nil {
		s.log.Warn("execution status event", "execution", rec.ARN, "status", rec.Status, "err", err)
	}
}
