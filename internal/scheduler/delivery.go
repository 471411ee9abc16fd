package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
)

// deliverLoop delivers firings until ctx ends: every node pulls from the
// one durable consumer, so each firing is delivered by one node at a time.
func (s *Service) deliverLoop(ctx context.Context) error {
	cc, err := s.cons.Consume(func(m jetstream.Msg) { s.handle(ctx, m) }, jetstream.PullMaxMessages(64))
	if err != nil {
		return fmt.Errorf("consume %s: %w", StreamName, err)
	}
	<-ctx.Done()
	cc.Drain()
	<-cc.Closed()
	return nil
}

// backoff is the wait before attempt n+1: 1 s doubling, at most 5 min.
func (s *Service) backoff(n int) time.Duration {
	d := time.Second << min(n-1, 9)
	d = min(d, 5*time.Minute)
	return time.Duration(float64(d) * s.scale)
}

// handle makes one attempt at a firing. A failure that may pass is
// retried (the message is redelivered after the back-off; its delivery
// count is the attempt number) until the target's RetryPolicy runs out;
// then, or at once for a failure that cannot pass, the firing goes to
// the DeadLetterConfig queue if there is one.
func (s *Service) handle(ctx context.Context, m jetstream.Msg) {
	var fm fireMsg
	if err := json.Unmarshal(m.Data(), &fm); err != nil {
		s.log.Error("drop undecodable firing", "err", err)
		_ = m.Term()
		return
	}
	attempt := 1
	if md, err := m.Metadata(); err == nil {
		attempt = int(md.NumDelivered) //nolint:gosec // a delivery count
	}
	body := input(&fm, attempt)
	err := s.deliverOnce(ctx, &fm, body)
	if err == nil {
		s.invocations.Add(1)
		_ = m.Ack()
		return
	}
	if ctx.Err() != nil {
		_ = m.Nak()
		return
	}
	s.failed.Add(1)
	p := fm.Target.RetryPolicy
	maxRetries, maxAge := defaultMaxRetries, defaultMaxEventAge
	if p != nil && p.MaximumRetryAttempts != nil {
		maxRetries = *p.MaximumRetryAttempts
	}
	if p != nil && p.MaximumEventAgeInSeconds != nil {
		maxAge = *p.MaximumEventAgeInSeconds
	}
	age := s.clock.Now().Sub(time.UnixMilli(fm.Due))
	if !errors.Is(err, deliver.ErrUndeliverable) && attempt-1 < maxRetries && age < time.Duration(maxAge)*time.Second {
		_ = m.NakWithDelay(s.backoff(attempt))
		return
	}
	s.log.Warn("schedule target not delivered", "schedule", fm.ScheduleArn, "target", fm.Target.Arn, "attempts", attempt, "err", err)
	if d := fm.Target.DeadLetterConfig; d != nil && d.Arn != "" {
		code := "TargetError"
		if errors.Is(err, deliver.ErrUndeliverable) {
			code = "ResourceNotFound"
		}
		derr := s.deliveries.Deliver(ctx, &deliver.Delivery{TargetArn: d.Arn, DedupID: "scheduler-dlq/" + fm.ExecutionID,
			Body: body, Attributes: deliver.Strings(map[string]string{
				"ERROR_CODE": code, "ERROR_MESSAGE": err.Error(), "EXECUTION_ID": fm.ExecutionID,
				"RETRY_ATTEMPTS": strconv.Itoa(attempt - 1), "TARGET_ARN": fm.Target.Arn, "SCHEDULE_ARN": fm.ScheduleArn,
			}),
			// Scheduler sends to the dead-letter queue as the schedule's
			// role, whose policies must allow sqs:SendMessage on it.
			Source: &deliver.Source{Service: "scheduler.amazonaws.com", Arn: fm.ScheduleArn, Account: s.account, RoleArn: fm.Target.RoleArn}})
		if derr != nil && !errors.Is(derr, deliver.ErrUndeliverable) {
			_ = m.NakWithDelay(s.backoff(1))
			return
		}
		if derr == nil {
			s.deadLetters.Add(1)
		}
	}
	_ = m.Ack()
}

// input is the target's Input with Scheduler's context attributes
// filled in, or {} when it has none.
func input(fm *fireMsg, attempt int) []byte {
	if fm.Target.Input == nil {
		return []byte("{}")
	}
	return []byte(strings.NewReplacer(
		"<aws.scheduler.schedule-arn>", fm.ScheduleArn,
		"<aws.scheduler.scheduled-time>", time.UnixMilli(fm.Due).UTC().Format("2006-01-02T15:04:05Z"),
		"<aws.scheduler.execution-id>", fm.ExecutionID,
		"<aws.scheduler.attempt-number>", strconv.Itoa(attempt),
	).Replace(*fm.Target.Input))
}

// deliverOnce hands body to the firing's target.
func (s *Service) deliverOnce(ctx context.Context, fm *fireMsg, body []byte) error {
	t := fm.Target
	d := &deliver.Delivery{TargetArn: t.Arn, DedupID: "scheduler/" + fm.ExecutionID, Body: body,
		// Scheduler reaches the target as the schedule's role: the role's
		// policies must allow the target's action.
		Source: &deliver.Source{Service: "scheduler.amazonaws.com", Arn: fm.ScheduleArn, Account: s.account, RoleArn: t.RoleArn}}
	if rest, ok := strings.CutPrefix(t.Arn, "arn:aws:scheduler:::aws-sdk:"); ok {
		if err := s.universal(rest, body, d); err != nil {
			return err
		}
		return s.deliveries.Deliver(ctx, d)
	}
	if deliver.Service(t.Arn) == "events" {
		if s.bus == nil {
			return deliver.Undeliverable("no event bus service on this node")
		}
		i := strings.Index(t.Arn, ":event-bus/")
		p := t.EventBridgeParameters
		if i < 0 || p == nil {
			return deliver.Undeliverable("%s is not an event bus target", t.Arn)
		}
		// Put directly, but judged like every delivery: the schedule's
		// role must allow events:PutEvents on the bus.
		if err := s.deliveries.Authorize(ctx, d); err != nil {
			return err
		}
		return s.bus.PutEvent(ctx, t.Arn[i+len(":event-bus/"):], p.Source, p.DetailType, string(body), []string{fm.ScheduleArn})
	}
	if t.SqsParameters != nil {
		d.GroupID = t.SqsParameters.MessageGroupID
	}
	return s.deliveries.Deliver(ctx, d)
}

// universal turns a universal target's request (the Input) into a
// delivery: aws-sdk:sqs:sendMessage and aws-sdk:lambda:invoke.
func (s *Service) universal(action string, body []byte, d *deliver.Delivery) error {
	switch action {
	case "sqs:sendMessage":
		var in struct {
			QueueURL       string `json:"QueueUrl"`
			MessageBody    string
			MessageGroupID string `json:"MessageGroupId"`
		}
		if err := json.Unmarshal(body, &in); err != nil || in.QueueURL == "" || in.MessageBody == "" {
			return deliver.Undeliverable("aws-sdk:sqs:sendMessage needs QueueUrl and MessageBody")
		}
		u, err := url.Parse(in.QueueURL)
		p := strings.Split(strings.Trim(u.Path, "/"), "/")
		if err != nil || len(p) != 2 {
			return deliver.Undeliverable("%s is not a queue URL", in.QueueURL)
		}
		d.TargetArn = "arn:aws:sqs:" + s.region + ":" + p[0] + ":" + p[1]
		d.Body, d.GroupID = []byte(in.MessageBody), in.MessageGroupID
	case "lambda:invoke":
		var in struct {
			FunctionName string
			Payload      json.RawMessage
		}
		if err := json.Unmarshal(body, &in); err != nil || in.FunctionName == "" {
			return deliver.Undeliverable("aws-sdk:lambda:invoke needs FunctionName")
		}
		d.TargetArn = in.FunctionName
		if !strings.HasPrefix(in.FunctionName, "arn:") {
			d.TargetArn = "arn:aws:lambda:" + s.region + ":" + s.account + ":function:" + in.FunctionName
		}
		d.Body = []byte("{}")
		if len(in.Payload) > 0 {
			var str string
			if json.Unmarshal(in.Payload, &str) == nil {
				d.Body = []byte(str) // a payload given as a string is the payload's text
			} else {
				d.Body = in.Payload
			}
		}
	default:
		return deliver.Undeliverable("universal target aws-sdk:%s is not served", action)
	}
	if a, ok := deliver.Parse(d.TargetArn); !ok || a.Account != s.account || a.Region != s.region {
		return deliver.Undeliverable("%s is not a resource of this account and region", d.TargetArn)
	}
	return nil
}
