package sqs

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// Group commit of batches. With SyncAlways JetStream fsyncs every message
// it stores and shares no fsync between concurrent publishes, so the
// SendMessageBatch requests to a standard queue that wait together are
// written as one atomic batch (a JetStream 2.12 feature the stream
// allows): one commit, one acknowledgement. No goroutine of its own: the
// first sender to find the queue's committer idle leads, committing what
// has gathered until nothing waits; the others wait for their answer.
// Single sends stay pipelined publishes (combining them measured slower
// here, BenchmarkSend); FIFO queues publish one by one, since a
// duplicate Nats-Msg-Id fails a whole atomic batch.

// groupCommit turns group commit on (the benchmark compares it with
// pipelined publishes).
var groupCommit = true

// maxCommit bounds a group (the server's atomic batch limit is 1,000).
const maxCommit = 256

type pubReq struct {
	msg  *nats.Msg
	done chan error // buffered; receives once
}

type committer struct {
	mu      sync.Mutex
	pending []*pubReq // guarded by mu
	busy    bool      // a leader is committing; guarded by mu
}

func (s *Service) committer(q *queue) *committer {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.committers[q.streamName()]
	if c == nil {
		c = &committer{}
		s.committers[q.streamName()] = c
	}
	return c
}

// publishGroup publishes msgs (of one standard queue) durably, sharing
// the write with concurrent senders; errs[i] is msgs[i]'s outcome.
func (s *Service) publishGroup(ctx context.Context, q *queue, msgs []*nats.Msg) []error {
	c := s.committer(q)
	reqs := make([]*pubReq, len(msgs))
	for i, m := range msgs {
		reqs[i] = &pubReq{msg: m, done: make(chan error, 1)}
	}
	c.mu.Lock()
	c.pending = append(c.pending, reqs...)
	lead := !c.busy
	c.busy = true
	c.mu.Unlock()
	if lead {
		for {
			c.mu.Lock()
			n := min(len(c.pending), maxCommit)
			group := c.pending[:n:n]
			c.pending = c.pending[n:]
			if n == 0 {
				c.busy = false
				c.mu.Unlock()
				break
			}
			c.mu.Unlock()
			s.commitGroup(context.WithoutCancel(ctx), group)
		}
	}
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		errs[i] = <-r.done
	}
	return errs
}

// commitGroup writes group as one atomic batch (one message: a plain
// publish) and answers every request: all succeed or all fail.
func (s *Service) commitGroup(ctx context.Context, group []*pubReq) {
	answer := func(err error) {
		if err != nil {
			err = fmt.Errorf("publish messages: %w", err)
		}
		for _, r := range group {
			r.done <- err
		}
	}
	if len(group) == 1 {
		_, err := s.js.PublishMsg(ctx, group[0].msg)
		answer(err)
		return
	}
	b, err := jetstreamext.NewBatchPublisher(s.js)
	if err != nil {
		answer(err)
		return
	}
	for _, r := range group[:len(group)-1] {
		if err := b.AddMsg(r.msg); err != nil {
			_ = b.Discard()
			answer(err)
			return
		}
	}
	_, err = b.CommitMsg(ctx, group[len(group)-1].msg)
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstreamext.JSErrCodeBatchPublishNotEnabled {
		// A queue created before streams allowed atomic batches: one by one.
		for _, r := range group {
			_, err := s.js.PublishMsg(ctx, r.msg)
			if err != nil {
				err = fmt.Errorf("publish message: %w", err)
			}
			r.done <- err
		}
		return
	}
	answer(err)
}
