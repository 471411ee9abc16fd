package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// Group commit. The backbone stores with SyncAlways: every stored message
// is fsynced before its PubAck, and concurrent publishes to a stream do
// not share an fsync (the stream's writer syncs each message in turn), so
// a stream's durable write rate is about one message per fsync however
// many clients send. A Group gathers the writes that callers make to one
// stream while a commit is under way and hands them to one writer, which
// commits all of them at once (one JetStream message, or one atomic
// batch: one fsync of the stream, JetStream 2.12+) and answers every
// caller with that commit's outcome. A caller is answered only after its
// commit is durable.
//
// No goroutine of its own: the writer is always a caller. The first
// caller to find no commit under way becomes the writer and commits what
// has gathered (its own items first), again while more gathered, and
// after a few commits passes the writer's role to the oldest caller still
// waiting, so no caller stays the writer for long after its own answer.
//
//	Do ─append─> pending ──(no writer)──> writer: take ≤ limits ─commit─> answer all ─┐
//	                 │                                   ▲    (more waiting, < 4 turns)─┘
//	                 └─(writer busy)─> wait ◄────────────┴─ pass the role to pending[0]

// GroupLimits bounds one commit.
type GroupLimits struct {
	// MaxItems is the most items in one commit (at least one call's).
	MaxItems int
	// MaxBytes is the most bytes (as Size counts them) in one commit.
	MaxBytes int
}

// Group gathers concurrent writes into shared commits; see the top of
// this file. A call's items are never split across commits: they are
// stored together or not at all. The zero value is not usable; use
// NewGroup.
type Group[T any] struct {
	commit func(ctx context.Context, items []T) error
	size   func(T) int
	limits GroupLimits

	mu      sync.Mutex
	pending []*groupCall[T] // guarded by mu; oldest first
	busy    bool            // guarded by mu: a writer is committing
}

type groupCall[T any] struct {
	items []T
	size  int
	done  chan error    // buffered; receives once
	lead  chan struct{} // closed when this call becomes the writer
	taken bool          // guarded by Group.mu: in a commit under way
	led   bool          // guarded by Group.mu: lead was closed
}

// NewGroup returns a Group that writes with commit: one durable write of
// all the items given, all stored or none (its error answers every call
// in the group). size weighs an item against limits.MaxBytes (nil: 1).
func NewGroup[T any](commit func(ctx context.Context, items []T) error, size func(T) int, limits GroupLimits) *Group[T] {
	if size == nil {
		size = func(T) int { return 1 }
	}
	limits.MaxItems = max(limits.MaxItems, 1)
	limits.MaxBytes = max(limits.MaxBytes, 1)
	return &Group[T]{commit: commit, size: size, limits: limits}
}

// Do writes items durably as part of a shared commit and returns that
// commit's outcome. If ctx ends before the items were taken into a
// commit, they are not written and Do returns ctx's error; once taken,
// Do waits for the commit (which does not heed ctx: others share it).
func (g *Group[T]) Do(ctx context.Context, items []T) error {
	c := &groupCall[T]{items: items, done: make(chan error, 1), lead: make(chan struct{})}
	for _, it := range items {
		c.size += g.size(it)
	}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	if !g.busy {
		g.busy = true
		c.led = true
		g.mu.Unlock()
		g.write(ctx)
		return <-c.done
	}
	g.mu.Unlock()
	select {
	case err := <-c.done:
		return err
	case <-c.lead:
		g.write(ctx)
		return <-c.done
	case <-ctx.Done():
	}
	g.mu.Lock()
	switch {
	case c.led:
		g.mu.Unlock()
		g.write(ctx)
		return <-c.done
	case c.taken:
		g.mu.Unlock()
		return <-c.done
	}
	if i := slices.Index(g.pending, c); i >= 0 {
		g.pending = slices.Delete(g.pending, i, i+1)
	}
	g.mu.Unlock()
	return ctx.Err()
}

// writerTurns is the most commits a writer makes before it passes the
// role on: continuing saves waking another goroutine between commits
// (which a loaded machine makes slow), passing on bounds how long the
// writer's own caller waits after its answer.
const writerTurns = 4

// write is the writer's turn: commits of the oldest pending calls while
// some wait (at most writerTurns), then the role passes on (or lapses
// when nothing waits).
func (g *Group[T]) write(ctx context.Context) {
	g.mu.Lock()
	for turn := 0; len(g.pending) > 0; turn++ {
		if turn == writerTurns {
			next := g.pending[0]
			next.led = true
			close(next.lead)
			g.mu.Unlock()
			return
		}
		n, items, size := 0, 0, 0
		for _, c := range g.pending {
			if n > 0 && (items+len(c.items) > g.limits.MaxItems || size+c.size > g.limits.MaxBytes) {
				break
			}
			c.taken = true
			n, items, size = n+1, items+len(c.items), size+c.size
		}
		group := slices.Clone(g.pending[:n])
		g.pending = slices.Delete(g.pending, 0, n)
		g.mu.Unlock()

		all := make([]T, 0, items)
		for _, c := range group {
			all = append(all, c.items...)
		}
		// The writer's own context must not cancel the others' write.
		err := g.commit(context.WithoutCancel(ctx), all)
		for _, c := range group {
			c.done <- err
		}
		g.mu.Lock()
	}
	g.busy = false
	g.mu.Unlock()
}

// AtomicMin is the fewest messages PublishMany writes as one atomic
// batch. An atomic batch of a one-replica file stream is staged in a file
// store of its own (created, two directory fsyncs and the staged block's,
// removed) before the stream's one fsync: BenchmarkPublishAtomic measured
// one commit at ~40 ms whatever its size against ~0.9 ms for a plain
// publish at load ~25, and ~4 ms against ~0.35 ms on a quiet machine, so
// it pays from a few dozen messages on.
const AtomicMin = 32

// PublishMany stores msgs in one stream: fewer than AtomicMin as
// pipelined publishes (one fsync each; an error may leave some stored),
// more as one atomic batch (PublishAtomic).
func PublishMany(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg) error {
	if len(msgs) >= AtomicMin {
		return PublishAtomic(ctx, js, msgs)
	}
	futs := make([]jetstream.PubAckFuture, 0, len(msgs))
	var first error
	for _, m := range msgs {
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			first = err
			break
		}
		futs = append(futs, f)
	}
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			first = cmp.Or(first, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return first
}

// PublishAtomic stores msgs in one stream as one JetStream atomic batch
// (all or none, one fsync: the stream needs AllowAtomicPublish; a single
// message is a plain publish). A stream created without atomic batches
// (an older queue) gets the messages one by one. It sets the batch
// headers on msgs.
func PublishAtomic(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg) error {
	switch len(msgs) {
	case 0:
		return nil
	case 1:
		_, err := js.PublishMsg(ctx, msgs[0])
		return err
	}
	for _, m := range msgs {
		if m.Header == nil {
			m.Header = nats.Header{}
		}
	}
	// No acknowledgement of the first message: the commit's is the one
	// that says the batch is durable (waiting for the first costs a
	// round trip per batch).
	_, err := jetstreamext.PublishMsgBatch(ctx, js, msgs, jetstreamext.BatchFlowControl{AckFirst: false, AckTimeout: js.Options().DefaultTimeout})
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstreamext.JSErrCodeBatchPublishNotEnabled {
		for _, m := range msgs {
			m.Header.Del(jetstreamext.BatchIDHeader)
			m.Header.Del(jetstreamext.BatchSeqHeader)
			m.Header.Del(jetstreamext.BatchCommitHeader)
			if _, err := js.PublishMsg(ctx, m); err != nil {
				return fmt.Errorf("publish one by one: %w", err)
			}
		}
		return nil
	}
	return err
}
