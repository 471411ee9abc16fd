package events

import (
	"context"
	"sync"

	"github.com/google/uuid"
)

// Group commit. JetStream fsyncs every message (SyncAlways) and concurrent
// publishes do not share an fsync, so concurrent PutEvents calls share one
// put message: the first caller to find no write under way writes every
// call waiting (its own included) as one message, answers them all, and
// repeats while more arrived meanwhile; the others wait for their answer.
// No goroutine of its own: the writer is always a caller.
const (
	maxGroupEvents = 256
	maxGroupBytes  = 1 << 20
)

type commitReq struct {
	events []stored
	size   int
	done   chan error
}

type committer struct {
	mu      sync.Mutex
	pending []*commitReq // guarded by mu
	writing bool         // guarded by mu: a caller is writing
}

// store writes events durably, sharing the write with concurrent calls.
func (s *Service) store(ctx context.Context, events []stored) error {
	req := &commitReq{events: events, done: make(chan error, 1)}
	for _, e := range events {
		req.size += len(e.Event) + 64
	}
	c := &s.commit
	c.mu.Lock()
	c.pending = append(c.pending, req)
	if c.writing {
		c.mu.Unlock()
		select {
		case err := <-req.done:
			return err
		case <-ctx.Done():
			// The write may still happen: the caller is told to retry
			// (PutEvents is at-least-once on a retry, as on AWS).
			return ctx.Err()
		}
	}
	c.writing = true
	for {
		group, rest := takeGroup(c.pending)
		c.pending = rest
		if len(group) == 0 {
			c.writing = false
			c.mu.Unlock()
			break
		}
		c.mu.Unlock()
		var msg putMsg
		for _, r := range group {
			msg.Events = append(msg.Events, r.events...)
		}
		// The leader's own context must not cancel the others' write.
		err := s.publish(context.WithoutCancel(ctx), subjectPut, &msg, "put/"+uuid.NewString())
		for _, r := range group {
			r.done <- err
		}
		c.mu.Lock()
	}
	return <-req.done
}

// takeGroup splits off the requests that fit one message (at least one).
func takeGroup(pending []*commitReq) (group, rest []*commitReq) {
	n, size := 0, 0
	for i, r := range pending {
		if i > 0 && (n+len(r.events) > maxGroupEvents || size+r.size > maxGroupBytes) {
			return pending[:i:i], pending[i:]
		}
		n += len(r.events)
		size += r.size
	}
	return pending, nil
}
