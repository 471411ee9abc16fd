package sqs

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/nimbus-serverless/nimbus/internal/store"
)

// Group commit of batches. With SyncAlways JetStream fsyncs every message
// it stores and shares no fsync between concurrent publishes, so the
// SendMessageBatch requests to a standard queue go through the queue's
// store.Group: the batches that wait while a commit is under way are
// written together by one writer (store.PublishMany: from AtomicMin
// messages on, one JetStream atomic batch, one fsync of the stream; the
// queue's stream allows atomic batches) and each request is answered once
// its messages are durable.
//
// Single sends to a standard queue are group-committed through the
// intake instead (intake.go): concurrent ones are stored as one pack
// message (one fsync) and moved to their queues afterwards, because an
// atomic batch on a one-replica file stream is staged in a file store of
// its own (created, two directory fsyncs, its block fsynced, removed)
// before the stream's one fsync, which costs more than the ~8-16 single
// fsyncs a group of SendMessage calls from 16 clients would save
// (store.AtomicMin, docs/design/queues.md). FIFO queues publish one by
// one: a duplicate Nats-Msg-Id (deduplication) fails a whole atomic batch.

// groupCommit turns group commit and the intake on (the benchmark
// compares them with pipelined publishes).
var groupCommit = true

// commitLimits bound one group: the server's atomic batch limit is 1,000
// messages; 8 MiB keeps a group of large messages to a few.
var commitLimits = store.GroupLimits{MaxItems: 256, MaxBytes: 8 << 20}

func (s *Service) committer(q *queue) *store.Group[*nats.Msg] {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.committers[q.streamName()]
	if g == nil {
		g = store.NewGroup(func(ctx context.Context, msgs []*nats.Msg) error {
			if err := store.PublishMany(ctx, s.js, msgs); err != nil {
				return fmt.Errorf("publish messages: %w", err)
			}
			return nil
		}, func(m *nats.Msg) int { return len(m.Data) + 512 }, commitLimits)
		s.committers[q.streamName()] = g
	}
	return g
}
