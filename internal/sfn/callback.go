package sfn

import (
	"context"
	"errors"
	"time"
)

// maxTokenLength is AWS's bound on a task token.
const maxTokenLength = 1024

type tokenInput struct {
	TaskToken string  `json:"taskToken"`
	Output    *string `json:"output"`
	Error     string  `json:"error"`
	Cause     string  `json:"cause"`
}

// tokenTarget checks a task token and finds its execution and the key of
// the result event it answers.
func (s *Service) tokenTarget(ctx context.Context, tok string) (*execRecord, string, error) {
	if tok == "" || len(tok) > maxTokenLength {
		return nil, "", bad("InvalidToken", "Invalid Token: 'Invalid token'")
	}
	arn, key, ok := parseToken(tok)
	if !ok {
		return nil, "", bad("InvalidToken", "Invalid Token: 'Invalid token'")
	}
	machine, name, ok := parseExecutionARN(arn)
	if !ok {
		return nil, "", bad("InvalidToken", "Invalid Token: 'Invalid token'")
	}
	rec, _, err := getJSON[execRecord](ctx, s.kv, execKey(machine, name))
	if err != nil || rec.ARN != arn {
		return nil, "", bad("InvalidToken", "Invalid Token: 'Invalid token'")
	}
	x := &Execution{ARN: rec.ARN, Seed: rec.Seed}
	if !x.checkToken(tok) {
		return nil, "", bad("InvalidToken", "Invalid Token: 'Invalid token'")
	}
	if rec.Status != StatusRunning {
		return nil, "", bad("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")
	}
	return rec, key, nil
}

func (s *Service) answerTask(ctx context.Context, body []byte, success bool) (any, error) {
	var in tokenInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	ev := &Event{Key: "", Details: map[string]any{}}
	if success {
		out, err := checkInput(in.Output)
		if err != nil {
			var ae *apiError
			if errors.As(err, &ae) && ae.code == "InvalidExecutionInput" {
				return nil, bad("InvalidOutput", "Invalid Output: 'The output is not valid JSON'")
			}
			return nil, err
		}
		ev.Type = "TaskSucceeded"
		ev.Details["output"], ev.Details["outputDetails"] = out, map[string]any{"truncated": false}
	} else {
		if len(in.Error) > 256 || len(in.Cause) > 32768 {
			return nil, validation("The error must be at most 256 characters and the cause at most 32768.")
		}
		ev.Type = "TaskFailed"
		ev.Details["error"], ev.Details["cause"] = in.Error, in.Cause
	}
	rec, key, err := s.tokenTarget(ctx, in.TaskToken)
	if err != nil {
		return nil, err
	}
	ev.Key = key
	if err := s.appendEvent(ctx, rec, ev); err != nil {
		if errors.Is(err, errRecorded) {
			return nil, bad("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")
		}
		return nil, err
	}
	if err := s.schedule(ctx, rec.ARN, time.Time{}, ""); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

func (s *Service) sendTaskSuccess(ctx context.Context, body []byte) (any, error) {
	return s.answerTask(ctx, body, true)
}

func (s *Service) sendTaskFailure(ctx context.Context, body []byte) (any, error) {
	return s.answerTask(ctx, body, false)
}

func (s *Service) sendTaskHeartbeat(ctx context.Context, body []byte) (any, error) {
	var in tokenInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	rec, key, err := s.tokenTarget(ctx, in.TaskToken)
	if err != nil {
		return nil, err
	}
	// A heartbeat is bookkeeping (id 0), not a history event.
	if err := s.appendEvent(ctx, rec, &Event{Key: "hb:" + key, Type: "_Heartbeat"}); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}
