package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
)

// Stream layout. A put message holds the accepted entries of one
// PutEvents call (or one scheduled firing) and is routed once; a retry
// message holds one event on its way to one target.
const (
	StreamName    = "NIMBUS_EVENTS"
	subjectPut    = "nimbus.events.put"
	subjectRetry  = "nimbus.events.retry"
	consumerName  = "nimbus-events-router"
	dedupWindow   = 10 * time.Minute
	maxAckPending = 10_000
	routerAckWait = 60 * time.Second
)

// stored is one accepted event as the stream keeps it.
type stored struct {
	Bus   string          `json:"bus"`
	Event json.RawMessage `json:"event"` // the envelope, as targets see it
	// Rule, for a scheduled event, is the only rule it goes to (its id).
	Rule string `json:"rule,omitempty"`
	// Accepted is when PutEvents accepted it (Unix ms): its age.
	Accepted int64 `json:"accepted"`
	// Replay names the replay that put the event back ("" otherwise):
	// it is not archived again, and goes only to the bus's pattern rules,
	// or to Rules (ids bus/name) when the replay has FilterArns.
	Replay string   `json:"replay,omitempty"`
	Rules  []string `json:"rules,omitempty"`
}

// putMsg is a put message's body.
type putMsg struct {
	Events []stored `json:"events"`
}

// retryMsg is a retry message's body: one delivery not yet done.
type retryMsg struct {
	Event    stored `json:"event"`
	Rule     string `json:"rule"` // rule id (bus/name)
	TargetID string `json:"target"`
	// Input is what the target receives (already transformed).
	Input     json.RawMessage `json:"input"`
	EventID   string          `json:"eventId"`
	Attempts  int             `json:"attempts"`
	NotBefore int64           `json:"notBefore"` // Unix ms
	Gen       int             `json:"gen"`
}

// DefaultMaxBytes bounds the stream when Options.MaxBytes is 0.
const DefaultMaxBytes = 1 << 30

func streamConfig(maxBytes int64) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamName,
		Description: "Nimbus EventBridge events accepted and not yet delivered",
		Subjects:    []string{"nimbus.events.>"},
		Retention:   jetstream.WorkQueuePolicy,
		Discard:     jetstream.DiscardNew,
		MaxMsgs:     1_000_000,
		MaxBytes:    maxBytes,
		MaxMsgSize:  2 << 20,
		Storage:     jetstream.FileStorage,
		Replicas:    1,
		Duplicates:  dedupWindow,
	}
}

func consumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       consumerName,
		Description:   "Nimbus EventBridge router",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       routerAckWait,
		MaxDeliver:    -1,
		MaxAckPending: maxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// publish writes body durably under msgID and returns once the backbone
// has acknowledged (fsynced) it.
func (s *Service) publish(ctx context.Context, subject string, body any, msgID string) error {
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode %s: %w", subject, err)
	}
	m := nats.NewMsg(subject)
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	if _, err := s.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	return nil
}

// route runs the router until ctx ends: every node pulls from the one
// durable consumer, so each message is routed by one node at a time.
func (s *Service) route(ctx context.Context) error {
	cc, err := s.cons.Consume(func(m jetstream.Msg) { s.handle(ctx, m) },
		jetstream.PullMaxMessages(64))
	if err != nil {
		return fmt.Errorf("consume %s: %w", StreamName, err)
	}
	<-ctx.Done()
	cc.Drain()
	<-cc.Closed()
	return nil
}

func (s *Service) handle(ctx context.Context, m jetstream.Msg) {
	switch m.Subject() {
	case subjectPut:
		var pm putMsg
		if err := json.Unmarshal(m.Data(), &pm); err != nil {
			s.log.Error("drop undecodable event message", "err", err)
			_ = m.Term()
			return
		}
		for i := range pm.Events {
			if !s.routeEvent(ctx, &pm.Events[i]) {
				_ = m.NakWithDelay(time.Second)
				return
			}
		}
		_ = m.Ack()
	case subjectRetry:
		var rm retryMsg
		if err := json.Unmarshal(m.Data(), &rm); err != nil {
			s.log.Error("drop undecodable retry message", "err", err)
			_ = m.Term()
			return
		}
		if wait := time.UnixMilli(rm.NotBefore).Sub(s.now()); wait > 0 {
			_ = m.NakWithDelay(wait)
			return
		}
		if !s.attempt(ctx, &rm) {
			_ = m.NakWithDelay(time.Second)
			return
		}
		_ = m.Ack()
	default:
		_ = m.Term()
	}
}

// routeEvent matches ev against its bus's rules and makes a first
// delivery attempt to every target of every matching rule. It reports
// false when a retry could not be recorded (the message is redelivered;
// deliveries already made are deduplicated downstream by their ids).
func (s *Service) routeEvent(ctx context.Context, ev *stored) bool {
	var rules []*compiledRule
	if ev.Rule != "" {
		if cr := s.cache.rule(ev.Rule); cr != nil && cr.rule.enabled() {
			rules = append(rules, cr)
		}
	} else {
		br := s.cache.forBus(ev.Bus)
		if len(br.rules) > 0 {
			idx, err := br.set.Match(ev.Event, nil)
			if err != nil {
				s.log.Error("match event", "bus", ev.Bus, "err", err)
			}
			for _, i := range idx {
				rules = append(rules, br.rules[i])
			}
		}
	}
	eventID := eventIDOf(ev.Event)
	if ev.Replay == "" && ev.Rule == "" {
		if err := s.archive(ctx, ev, eventID); err != nil {
			s.log.Warn("event not archived; will retry", "bus", ev.Bus, "err", err)
			return false
		}
	}
	if len(ev.Rules) > 0 {
		kept := rules[:0]
		for _, cr := range rules {
			if slices.Contains(ev.Rules, ruleID(cr.rule.Bus, cr.rule.Name)) {
				kept = append(kept, cr)
			}
		}
		rules = kept
	}
	for _, cr := range rules {
		s.counters.matched.Add(1)
		for i := range cr.rule.Targets {
			t := &cr.rule.Targets[i]
			input, err := transformInput(t, ev.Event, cr.rule, s.arns)
			if err != nil {
				s.log.Warn("target input not built; event not delivered", "rule", cr.rule.Name, "target", t.ID, "err", err)
				s.counters.failed.Add(1)
				continue
			}
			rm := &retryMsg{Event: *ev, Rule: ruleID(cr.rule.Bus, cr.rule.Name), TargetID: t.ID, Input: input, EventID: eventID}
			if !s.attempt(ctx, rm) {
				return false
			}
		}
	}
	return true
}

// attempt delivers rm once. On a failure that may pass it records the
// next attempt (a retry message) or, past the target's RetryPolicy, sends
// the event to the dead-letter queue. It reports false only when nothing
// could be recorded.
func (s *Service) attempt(ctx context.Context, rm *retryMsg) bool {
	cr := s.cache.rule(rm.Rule)
	if cr == nil {
		return true // the rule was deleted: nothing to deliver to
	}
	var t *Target
	for i := range cr.rule.Targets {
		if cr.rule.Targets[i].ID == rm.TargetID {
			t = &cr.rule.Targets[i]
		}
	}
	if t == nil {
		return true // the target was removed
	}
	err := s.deliver(ctx, t, rm)
	if err == nil {
		s.counters.invocations.Add(1)
		return true
	}
	s.counters.failed.Add(1)
	maxRetries, maxAge := retryLimits(t)
	age := s.now().Sub(time.UnixMilli(rm.Event.Accepted))
	if errors.Is(err, ErrUndeliverable) || rm.Attempts >= maxRetries || age >= maxAge {
		s.log.Warn("event not delivered to target", "rule", cr.rule.Name, "target", t.ID, "attempts", rm.Attempts+1, "err", err)
		s.deadLetter(ctx, t, rm, err)
		return true
	}
	next := *rm
	next.Attempts++
	next.Gen++
	next.NotBefore = s.now().Add(s.scaled(retryDelay(next.Attempts))).UnixMilli()
	id := fmt.Sprintf("retry/%s/%s/%s/%d", rm.EventID, rm.Rule, rm.TargetID, next.Gen)
	if err := s.publish(ctx, subjectRetry, &next, id); err != nil {
		s.log.Warn("record retry", "err", err)
		return false
	}
	return true
}

// retryLimits are the target's RetryPolicy with AWS's defaults (185
// attempts, 24 hours).
func retryLimits(t *Target) (int, time.Duration) {
	n, age := DefaultMaxRetries, DefaultMaxEventAge
	if p := t.RetryPolicy; p != nil {
		if p.MaximumRetryAttempts != nil {
			n = *p.MaximumRetryAttempts
		}
		if p.MaximumEventAgeInSeconds != nil {
			age = *p.MaximumEventAgeInSeconds
		}
	}
	return n, time.Duration(age) * time.Second
}

// retryDelay is the wait before attempt n (exponential, 1 s to 5 min
// with AWS's scale of back-off).
func retryDelay(n int) time.Duration {
	d := time.Second
	for i := 1; i < n && d < 5*time.Minute; i++ {
		d *= 2
	}
	return min(d, 5*time.Minute)
}

// deadLetter hands an undeliverable event to the target's DeadLetterConfig
// (with AWS's ERROR_CODE-style attributes in the body) or logs its loss.
func (s *Service) deadLetter(ctx context.Context, t *Target, rm *retryMsg, cause error) {
	if t.DeadLetterConfig == nil || t.DeadLetterConfig.Arn == "" {
		return
	}
	err := s.deliveries.Deliver(ctx, &Delivery{
		TargetArn: t.DeadLetterConfig.Arn,
		DedupID:   "dlq/" + rm.EventID + "/" + rm.Rule + "/" + rm.TargetID,
		Body:      rm.Event.Event,
		Attributes: deliver.Strings(map[string]string{
			"RULE_ARN":      s.arns.rule(splitRuleID(rm.Rule)),
			"TARGET_ARN":    t.Arn,
			"ERROR_MESSAGE": cause.Error(),
		}),
		// EventBridge sends as events.amazonaws.com for the rule: the
		// dead-letter queue's policy must allow it, as AWS requires.
		Source: &deliver.Source{Service: "events.amazonaws.com", Arn: s.arns.rule(splitRuleID(rm.Rule)), Account: s.account},
	})
	if err != nil {
		s.log.Error("dead-letter delivery failed", "arn", t.DeadLetterConfig.Arn, "err", err)
		return
	}
	s.counters.deadLetters.Add(1)
}

// eventIDOf reads the envelope's id.
func eventIDOf(ev json.RawMessage) string {
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(ev, &v)
	return v.ID
}
