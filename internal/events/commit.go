package events

import (
	"context"

	"github.com/google/uuid"

	"github.com/nimbus-serverless/nimbus/internal/store"
)

// Group commit. JetStream fsyncs every message (SyncAlways) and concurrent
// publishes do not share an fsync, so concurrent PutEvents calls share one
// put message through a store.Group: the calls that wait while a write is
// under way are written by one of them as one message (one fsync) and all
// answered once it is stored. The Group is the one shared with the queue
// service's batches (package store).
var commitLimits = store.GroupLimits{MaxItems: 256, MaxBytes: 1 << 20}

// newCommitter returns the service's group commit of put messages.
func (s *Service) newCommitter() *store.Group[stored] {
	return store.NewGroup(func(ctx context.Context, events []stored) error {
		return s.publish(ctx, subjectPut, &putMsg{Events: events}, "put/"+uuid.NewString())
	}, func(e stored) int { return len(e.Event) + 64 }, commitLimits)
}

// store writes events durably (one call's events in one put message),
// sharing the write with concurrent calls. If ctx ends first the events
// may not be written: the caller is told to retry (PutEvents is
// at-least-once on a retry, as on AWS).
func (s *Service) store(ctx context.Context, events []stored) error {
	return s.commit.Do(ctx, events)
}
