package sfn

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// arn:aws:states:::states:startExecution.sync and .sync:2: the Task
// starts the child execution (recording TaskSubmitted with
// StartExecution's answer, as AWS does) and then waits, as a
// .waitForTaskToken Task waits, for a result event that the child's end
// writes into the parent's journal:
//
//	parent Task ──StartExecution──► child record (Watch: parent token)
//	     │ suspended                      │ runs
//	     ◄──── TaskSucceeded/TaskFailed ──┘ end, StopExecution
//
// The parent registers its watch in the child's record (compare-and-
// set) every time it reaches the wait, and the child's end answers it.
// A child that ended before the watch was registered is answered by the
// registration itself; a notification lost in a crash between the
// child's end and the parent's journal is found by the parent's next
// look (it looks again every syncPoll while it waits).
//
// The result is DescribeExecution's answer in PascalCase with dates in
// epoch milliseconds; .sync gives Input and Output as JSON text, .sync:2
// as JSON values. A child that fails, times out or is aborted fails the
// Task with States.TaskFailed and that description (as JSON) as cause.

// syncPoll is how often a waiting parent looks at its child.
const syncPoll = time.Minute

// syncWatch is a parent Task waiting on a child execution.
type syncWatch struct {
	Token    string // the parent's task token for the result event
	Resource string // startExecution.sync or startExecution.sync:2
}

// children is what a durable run needs of the Service for .sync Tasks.
type children interface {
	machineType(ctx context.Context, arn string) (string, error)
	watch(ctx context.Context, childARN string, w syncWatch) error
}

func (s *Service) machineType(ctx context.Context, arn string) (string, error) {
	m, _, err := s.getMachine(ctx, arn)
	if err != nil {
		return "", err
	}
	return m.Type, nil
}

// watch registers w in the child's record, or answers it at once when
// the child has ended.
func (s *Service) watch(ctx context.Context, childARN string, w syncWatch) error {
	machine, name, ok := parseExecutionARN(childARN)
	if !ok {
		return errors.New("not a standard execution ARN")
	}
	key := execKey(machine, name)
	for {
		rec, rev, err := getJSON[execRecord](ctx, s.kv, key)
		if err != nil {
			return err
		}
		if rec.Status != StatusRunning {
			rec.Watch = &w
			s.answerWatch(ctx, rec)
			return nil
		}
		if rec.Watch != nil && rec.Watch.Token == w.Token {
			return nil
		}
		rec.Watch = &w
		b, _ := json.Marshal(rec)
		if _, err := s.kv.Update(ctx, key, b, rev); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			return err
		}
		return nil
	}
}

// answerWatch writes an ended child's result into its waiting parent's
// journal and wakes the parent. A parent that has its answer already,
// or has ended, is left alone.
func (s *Service) answerWatch(ctx context.Context, child *execRecord) {
	w := child.Watch
	if w == nil || child.Status == StatusRunning {
		return
	}
	parent, key, err := s.tokenTarget(ctx, w.Token)
	if err != nil {
		return
	}
	d := syncDescription(child, strings.HasSuffix(w.Resource, ":2"))
	ev := &Event{Key: key, Details: map[string]any{"resourceType": "states", "resource": w.Resource}}
	switch {
	case w.Resource == "mapRun" && child.Status == StatusSucceeded:
		ev.Type = "_ChildSucceeded"
		ev.Details = map[string]any{"output": child.Output}
	case w.Resource == "mapRun":
		ev.Type = "_ChildFailed"
		e, c := child.Error, child.Cause
		if child.Status == StatusAborted && e == "" {
			e = "States.Aborted"
		}
		ev.Details = map[string]any{"error": e, "cause": c}
	case child.Status == StatusSucceeded:
		ev.Type = "TaskSucceeded"
		ev.Details["output"], ev.Details["outputDetails"] = encodeJSON(d), map[string]any{"truncated": false}
	default:
		ev.Type = "TaskFailed"
		ev.Details["error"], ev.Details["cause"] = ErrTaskFailed, encodeJSON(d)
	}
	if err := s.appendEvent(ctx, parent, ev); err != nil {
		if !errors.Is(err, errRecorded) {
			s.log.Warn("answer a .sync parent", "execution", child.ARN, "err", err)
		}
		return
	}
	if err := s.schedule(ctx, parent.ARN, time.Time{}, ""); err != nil {
		s.log.Warn("wake a .sync parent", "execution", parent.ARN, "err", err)
	}
}

// syncDescription is a child's DescribeExecution as a .sync Task's
// result.
func syncDescription(rec *execRecord, v2 bool) map[string]any {
	out := map[string]any{
		"ExecutionArn": rec.ARN, "StateMachineArn": rec.StateMachineARN, "Name": rec.Name, "Status": rec.Status,
		"StartDate": rec.Start.UnixMilli(), "StopDate": rec.Stop.UnixMilli(),
		"Input": rec.Input, "InputDetails": map[string]any{"Included": true},
		"RedriveCount": 0, "RedriveStatus": "NOT_REDRIVABLE",
	}
	if rec.Status == StatusSucceeded {
		out["Output"], out["OutputDetails"] = rec.Output, map[string]any{"Included": true}
	}
	if rec.Error != "" {
		out["Error"] = rec.Error
	}
	if rec.Cause != "" {
		out["Cause"] = rec.Cause
	}
	if v2 {
		for _, k := range []string{"Input", "Output"} {
			if t, ok := out[k].(string); ok {
				if v, err := decodeJSON([]byte(t)); err == nil {
					out[k] = v
				}
			}
		}
	}
	return out
}

// checkSyncChild refuses a .sync Task whose child machine is EXPRESS
// (Nimbus runs those in memory, with no record to watch).
func (r *run) checkSyncChild(ctx context.Context, in integration, params any) *Failure {
	if in.sync == "" {
		return nil
	}
	if r.children == nil {
		return &Failure{Name: ErrRuntime, Cause: "Express state machine does not support '.sync' service integration patterns"}
	}
	m, _ := params.(map[string]any)
	arn, _ := m["StateMachineArn"].(string)
	if t, err := r.children.machineType(ctx, arn); err == nil && t == "EXPRESS" {
		return &Failure{Name: ErrRuntime, Cause: "Nimbus does not support " + in.resource + " for an EXPRESS child state machine yet (" + arn + ")"}
	}
	return nil
}

// watchChild registers the waiting Task with the child TaskSubmitted
// names.
func (r *run) watchChild(ctx context.Context, in integration, sub *Event, resultKey string) error {
	var started struct{ ExecutionArn string }
	if out, ok := sub.Details["output"].(string); ok {
		_ = json.Unmarshal([]byte(out), &started)
	}
	if started.ExecutionArn == "" || r.children == nil {
		return &Failure{Name: ErrRuntime, Cause: "The child execution of " + in.resource + " is not known"}
	}
	return r.children.watch(ctx, started.ExecutionArn, syncWatch{Token: r.x.token(resultKey), Resource: in.action + in.sync})
}
