package scheduler

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// entry is a schedule as the firing loop keeps it.
type entry struct {
	key  string
	rev  uint64
	st   stored
	expr *Expr
}

// fireMsg is one firing on the stream: the target travels in it, so a
// schedule deleted after firing (ActionAfterCompletion DELETE) is still
// delivered.
type fireMsg struct {
	ScheduleArn string `json:"arn"`
	Due         int64  `json:"due"` // Unix ms
	ExecutionID string `json:"execution"`
	Target      Target `json:"target"`
}

// maxCatchUp bounds the due times a pass walks to find the latest one
// missed while no node ran.
const maxCatchUp = 10_000

// fireLoop keeps every schedule of the bucket in memory (a watch) and
// fires each due time once: it publishes the firing with a message id
// derived from (schedule, creation, due time), so the backbone keeps one
// however many nodes publish it, then records the due time in the
// schedule (Fired), so a restart goes on from there.
func (s *Service) fireLoop(ctx context.Context) error {
	w, err := s.kv.Watch(ctx, "sched.>")
	if err != nil {
		return fmt.Errorf("watch schedules: %w", err)
	}
	defer func() { _ = w.Stop() }()
	cache := map[string]*entry{}
	ready := false
	var timer <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-w.Updates():
			if !ok {
				return errors.New("schedule watch ended")
			}
			if u == nil {
				ready = true
			} else {
				s.apply(cache, u)
			}
		case <-timer:
		}
		if ready {
			timer = s.pass(ctx, cache)
		}
	}
}

func (s *Service) apply(cache map[string]*entry, u jetstream.KeyValueEntry) {
	if u.Operation() != jetstream.KeyValuePut {
		delete(cache, u.Key())
		return
	}
	if e := cache[u.Key()]; e != nil && e.rev >= u.Revision() {
		return
	}
	var st stored
	if err := json.Unmarshal(u.Value(), &st); err != nil {
		s.log.Error("skip undecodable schedule", "key", u.Key(), "err", err)
		delete(cache, u.Key())
		return
	}
	expr, err := ParseExpr(st.ScheduleExpression, st.ScheduleExpressionTimezone)
	if err != nil {
		s.log.Error("skip schedule with an invalid expression", "schedule", st.Arn, "err", err)
		delete(cache, u.Key())
		return
	}
	cache[u.Key()] = &entry{key: u.Key(), rev: u.Revision(), st: st, expr: expr}
}

// next is e's first due time after what it has fired, and when to fire
// it (later within a FLEXIBLE window); done when no due time is left.
func (s *Service) next(e *entry) (due, at time.Time, done bool) {
	created := fromEpoch(e.st.CreationDate)
	anchor, from := created, created
	if e.st.StartDate != nil {
		start := fromEpoch(*e.st.StartDate)
		anchor = start
		if start.Add(-time.Millisecond).After(from) {
			from = start.Add(-time.Millisecond)
		}
	}
	if e.st.Fired > 0 && time.UnixMilli(e.st.Fired).After(from) {
		from = time.UnixMilli(e.st.Fired)
	}
	due, ok := e.expr.Next(anchor, from)
	if !ok || (e.st.EndDate != nil && due.After(fromEpoch(*e.st.EndDate))) {
		return time.Time{}, time.Time{}, true
	}
	return due, due.Add(s.flex(e, due)), false
}

// flex is a firing's place in its FLEXIBLE window: the same on every
// node (a hash of schedule and due time), so every node fires it at once.
func (s *Service) flex(e *entry, due time.Time) time.Duration {
	w := e.st.FlexibleTimeWindow
	if w.Mode != "FLEXIBLE" || w.MaximumWindowInMinutes == nil {
		return 0
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", e.st.Arn, due.UnixMilli()))
	window := uint64(*w.MaximumWindowInMinutes) * 60                            //nolint:gosec // 1..1440, checked at create
	return time.Duration(binary.BigEndian.Uint64(sum[:8])%window) * time.Second //nolint:gosec // below 86,400
}

// pass fires everything due and returns a timer for the next due time.
func (s *Service) pass(ctx context.Context, cache map[string]*entry) <-chan time.Time {
	now := s.clock.Now()
	var wake time.Time
	for key, e := range cache {
		if e.st.State != "ENABLED" {
			continue
		}
		due, at, done := s.next(e)
		if done {
			if e.st.ActionAfterCompletion == "DELETE" {
				if err := s.kv.Delete(ctx, key, jetstream.LastRevision(e.rev)); err != nil && ctx.Err() == nil {
					s.log.Warn("delete completed schedule", "schedule", e.st.Arn, "err", err)
				}
			}
			continue
		}
		if at.After(now) {
			if wake.IsZero() || at.Before(wake) {
				wake = at
			}
			continue
		}
		// Due times missed while no node ran fire once, as the latest.
		for range maxCatchUp {
			n, ok := e.expr.Next(anchorOf(e), due)
			if !ok || n.Add(s.flex(e, n)).After(now) || (e.st.EndDate != nil && n.After(fromEpoch(*e.st.EndDate))) {
				break
			}
			due = n
		}
		if err := s.fire(ctx, e, due); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Warn("schedule not fired; will retry", "schedule", e.st.Arn, "due", due, "err", err)
			retry := now.Add(time.Second)
			if wake.IsZero() || retry.Before(wake) {
				wake = retry
			}
			continue
		}
		wake = now // look at this schedule's next due time at once
	}
	if wake.IsZero() {
		return nil
	}
	return s.clock.After(wake.Sub(s.clock.Now()))
}

func anchorOf(e *entry) time.Time {
	if e.st.StartDate != nil {
		return fromEpoch(*e.st.StartDate)
	}
	return fromEpoch(e.st.CreationDate)
}

// fire publishes e's firing for due and records due as fired.
func (s *Service) fire(ctx context.Context, e *entry, due time.Time) error {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%v/%d", e.st.Arn, e.st.CreationDate, due.UnixMilli()))
	execID := uuidOf(sum[:16])
	data, err := json.Marshal(fireMsg{ScheduleArn: e.st.Arn, Due: due.UnixMilli(), ExecutionID: execID, Target: e.st.Target})
	if err != nil {
		return fmt.Errorf("encode firing: %w", err)
	}
	m := nats.NewMsg(subjectFire)
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, "schedule/"+execID)
	if _, err := s.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("publish firing: %w", err)
	}
	s.fired.Add(1)
	// Record it; on a conflict (an update, another node) read and retry.
	for range 5 {
		e.st.Fired = due.UnixMilli()
		b, _ := json.Marshal(e.st)
		rev, err := s.kv.Update(ctx, e.key, b, e.rev)
		if err == nil {
			e.rev = rev
			return nil
		}
		cur, gerr := s.kv.Get(ctx, e.key)
		if errors.Is(gerr, jetstream.ErrKeyNotFound) {
			return nil // deleted meanwhile
		}
		if gerr != nil {
			return fmt.Errorf("record firing: %w", err)
		}
		var st stored
		if json.Unmarshal(cur.Value(), &st) != nil {
			return nil
		}
		if st.Fired >= due.UnixMilli() {
			e.st, e.rev = st, cur.Revision()
			return nil
		}
		e.st, e.rev = st, cur.Revision()
	}
	return errors.New("record firing: the schedule kept changing")
}

// uuidOf formats 16 bytes as a version-4-shaped UUID.
func uuidOf(b []byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
