package events

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"
)

// runScheduler fires scheduled rules until ctx ends. Every node runs it;
// a firing is one put message whose Nats-Msg-Id names (rule, due time),
// so the backbone keeps one however many nodes publish it (the stream's
// dedup window, ten minutes, is far above the clock skew between nodes).
// Firings due while no node ran are not made up: EventBridge rules fire
// from the moment they are (again) in force.
func (s *Service) runScheduler(ctx context.Context) error {
	last := s.now() // firings after this one are due
	for {
		rules, changed := s.cache.schedules()
		now := s.now()
		// Fire everything due in (last, now].
		var wake, failedFrom time.Time
		for _, cr := range rules {
			anchor := time.UnixMilli(cr.rule.Created)
			from := last
			if anchor.After(from) {
				from = anchor // a rule fires from its creation on
			}
			for {
				due, ok := cr.schedule.Next(anchor, from)
				if !ok {
					break
				}
				if due.After(now) {
					if wake.IsZero() || due.Before(wake) {
						wake = due
					}
					break
				}
				if err := s.fire(ctx, cr, due); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					s.log.Warn("scheduled rule not fired; will retry", "rule", cr.rule.Name, "due", due, "err", err)
					if failedFrom.IsZero() || from.Before(failedFrom) {
						failedFrom = from // retried from here (dedup drops repeats)
					}
					wake = s.now().Add(time.Second)
					break
				}
				from = due
			}
		}
		last = now
		if !failedFrom.IsZero() {
			last = failedFrom
		}
		var timer <-chan time.Time
		if !wake.IsZero() {
			timer = s.clock.After(wake.Sub(s.now()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-timer:
		}
	}
}

// fire publishes rule cr's event for due: EventBridge's Scheduled Event,
// delivered to that rule's targets only.
func (s *Service) fire(ctx context.Context, cr *compiledRule, due time.Time) error {
	id := ruleID(cr.rule.Bus, cr.rule.Name)
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d/%d", id, cr.rule.Created, due.Unix()))
	env := Envelope{
		Version:    "0",
		ID:         uuidOf(sum[:16]),
		DetailType: "Scheduled Event",
		Source:     "aws.events",
		Account:    s.account,
		Time:       ingestionTime(due),
		Region:     s.region,
		Resources:  []string{s.arns.rule(cr.rule.Bus, cr.rule.Name)},
		Detail:     json.RawMessage("{}"),
	}
	ev, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("encode scheduled event: %w", err)
	}
	msg := putMsg{Events: []stored{{Bus: cr.rule.Bus, Event: ev, Rule: id, Accepted: due.UnixMilli()}}}
	if err := s.publish(ctx, subjectPut, &msg, "schedule/"+env.ID); err != nil {
		return err
	}
	s.counters.triggered.Add(1)
	return nil
}

// uuidOf formats 16 bytes as a version-4-shaped UUID.
func uuidOf(b []byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
