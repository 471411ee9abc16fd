package sqs

import (
	"context"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// watchRecords drops a cached queue record as soon as the bucket says
// the queue changed or was deleted (by this node or another), so a send
// to a queue deleted elsewhere is refused with QueueDoesNotExist within
// the watch's delivery (milliseconds) rather than accepted for up to
// recordTTL and dropped. It runs until ctx ends.
func (s *Service) watchRecords(ctx context.Context) error {
	w, err := s.kv.Watch(ctx, "q.>", jetstream.UpdatesOnly())
	if err != nil {
		return err
	}
	s.wg.Go(func() {
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					continue
				}
				account, name, ok := strings.Cut(strings.TrimPrefix(e.Key(), "q."), ".")
				if ok {
					s.uncache(account, name)
				}
			}
		}
	})
	return nil
}
