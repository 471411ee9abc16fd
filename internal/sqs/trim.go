package sqs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The acknowledged-floor layout of standard queues. A work-queue stream
// removes each message when it is acknowledged, and JetStream's file
// store writes and fsyncs a tombstone for every such removal, one after
// another on the stream's goroutine: a queue drained at most one message
// per fsync. A standard queue created with layoutFloor keeps its
// messages in a limits-retention stream instead. A DeleteMessage is the
// consumer's acknowledgement only (kept in the consumer's state, which
// JetStream writes to disk at most ten times a second), and the node's
// trimmer purges the stream below the consumer's acknowledgement floor
// (every message at or below it is deleted) in one request per queue
// per round: one fsync for many deletes.
//
//	DeleteMessage ─> +ACK (consumer state) ─> trimLater(queue)
//	trimmer, every trimEvery while deletes happen:
//	    consumer info ─> ack floor F ─> purge the stream below F+1
//	    (once trimMin deletes gathered, or trimAfter since the last purge)
//
// After a kill -9 a delete answered since the consumer's last state
// write (about 100 ms) and not yet purged comes back once: SQS's own
// at-least-once allowance for deleted messages. A message is never
// purged before it is acknowledged, so an answered send is never lost.
// FIFO queues and queues created before this layout keep work-queue
// retention (the FIFO gate reads a group's head from the stream, so a
// deleted message must leave it at once; JetStream cannot change a
// stream's retention from or to work-queue).

// layoutFloor is a queue record's Layout for the acknowledged-floor
// layout; 0 is the work-queue layout.
const layoutFloor = 1

// trimEvery paces a node's looks at a queue's floor. A look purges once
// trimMin messages were deleted since the last purge, or trimAfter after
// it: a purge costs a few fsyncs (the compaction's and the consumer's
// state, written with it), which a queue taking one message at a time
// should not pay per message.
const (
	trimEvery = 100 * time.Millisecond
	trimMin   = 128
	trimAfter = time.Second
)

// trimmer purges the acknowledged prefix of layoutFloor queues.
type trimmer struct {
	s *Service

	mu      sync.Mutex
	dirty   map[string]*queue    // guarded by mu: queues with deletes since their last purge, by stream
	floor   map[string]uint64    // guarded by mu: the last purge's sequence per stream
	last    map[string]time.Time // guarded by mu: when the last purge (or the first look) was, per stream
	running bool                 // guarded by mu
	closed  bool                 // guarded by mu

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newTrimmer(s *Service) *trimmer {
	t := &trimmer{s: s, dirty: map[string]*queue{}, floor: map[string]uint64{}, last: map[string]time.Time{}}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	return t
}

// later notes a delete on q; the trimmer purges q's floor soon.
func (t *trimmer) later(q *queue) {
	if q.Layout != layoutFloor {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dirty[q.streamName()] = q
	if !t.running && !t.closed {
		t.running = true
		t.wg.Go(t.run)
	}
}

// forget drops a deleted queue's state.
func (t *trimmer) forget(stream string) {
	t.mu.Lock()
	delete(t.dirty, stream)
	delete(t.floor, stream)
	delete(t.last, stream)
	t.mu.Unlock()
}

// run purges the dirty queues every trimEvery until a round finds none.
func (t *trimmer) run() {
	tick := time.NewTimer(trimEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-t.ctx.Done():
		}
		t.mu.Lock()
		dirty := t.dirty
		t.dirty = map[string]*queue{}
		if len(dirty) == 0 || t.ctx.Err() != nil {
			t.running = false
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
		for _, q := range dirty {
			if err := t.trim(q); err != nil && t.ctx.Err() == nil {
				t.s.log.Warn("sqs trim", "queue", q.Name, "err", err)
			}
		}
		tick.Reset(trimEvery)
	}
}

// trim purges q's stream below its consumer's acknowledgement floor.
func (t *trimmer) trim(q *queue) error {
	ctx, cancel := context.WithTimeout(t.ctx, 5*time.Second)
	defer cancel()
	c, err := t.s.consumer(ctx, q)
	if err != nil {
		return err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return fmt.Errorf("read queue consumer: %w", err)
	}
	floor := info.AckFloor.Stream
	st := q.streamName()
	t.mu.Lock()
	done, last := t.floor[st], t.last[st]
	if last.IsZero() {
		t.last[st] = time.Now()
	}
	wait := floor > done && floor-done < trimMin && time.Since(last) < trimAfter
	if wait && !t.closed {
		t.dirty[st] = q // look again next round
	}
	t.mu.Unlock()
	if floor <= done || wait {
		return nil
	}
	strm, err := t.s.stream(ctx, q)
	if err != nil {
		return err
	}
	if err := strm.Purge(ctx, jetstream.WithPurgeSequence(floor+1)); err != nil {
		return fmt.Errorf("purge deleted messages: %w", err)
	}
	t.mu.Lock()
	t.floor[st], t.last[st] = floor, time.Now()
	t.mu.Unlock()
	return nil
}

// close stops the trimmer after its round (what it did not purge is
// purged after the next delete, or stays until its retention ends).
func (t *trimmer) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeGrace):
		t.cancel()
		<-done
	}
	t.cancel()
}
