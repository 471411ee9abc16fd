package esm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/eventpattern"
)

// The source side of a mapping, shared with EventBridge Pipes
// (internal/pipes): a QueueSource or StreamSource gathers batches, drops
// what the filters reject, hands the rest to a Handler and settles the
// batch by its answer (SQS: deletes what succeeded; streams: moves the
// checkpoint). What a batch is handed to — a function, or a pipe's
// enrichment and target — is the caller's.

// Handler processes one batch. records are the records as Lambda's event
// carries them in Records[]. failed names the records to retry (SQS: the
// messageId; streams: the sequenceNumber); an error fails the whole
// batch. Naming a record not in the batch is the handler's error to
// report (it fails the whole batch, as Lambda does).
type Handler func(ctx context.Context, records []json.RawMessage) (failed []string, err error)

// QueueSource polls one SQS queue.
type QueueSource struct {
	Queues Queues
	// Arn is the queue's ARN; Region goes into each record.
	Arn, Region string
	// BatchSize and Window (seconds) bound a batch.
	BatchSize, Window int
	// Concurrency is the batches in flight at once (default five); with
	// Depth and a larger MaxConcurrency, the number it starts at.
	Concurrency int
	// MaxConcurrency, with Depth, makes the source scale with its
	// backlog up to this many batches at once (scale.go).
	MaxConcurrency int
	// Ceiling, when set, is MaxConcurrency read at every scaling look
	// (it follows the function's reserved concurrency).
	Ceiling func() int
	// Depth reads the queue's visible messages (nil: no scaling).
	Depth func(ctx context.Context) (int, error)
	// Slots shares MaxConcurrency with other nodes' sources of the same
	// mapping (nil: this node alone).
	Slots Slots
	// Tick paces scaling decisions (nil: every scaleEvery); tests drive it.
	Tick <-chan time.Time
	// Filters drop records (deleted from the queue, as Lambda does); nil
	// keeps every record.
	Filters *eventpattern.Filters
	// Check, when set, is asked before each poll: an error (the reader's
	// role may not read the queue) reads nothing and waits.
	Check func(ctx context.Context) error
	Log   *slog.Logger

	pool workers
	// throttled is set when a batch was throttled since the last
	// scaling look: the source then shrinks instead of growing.
	throttled atomic.Bool
	// handled counts the batches handled since the last scaling look.
	handled atomic.Int64
	// deletes are the deletes of handled batches still under way; a
	// worker does not wait for its batch's deletes before it polls again
	// (deleteSlots bounds them).
	deletes     sync.WaitGroup
	deleteSlots chan struct{}
}

// maxDeleting bounds a source's deletes under way at once: a worker
// polls again while its batch's deletes are stored (each is one fsync of
// the queue's stream, which the pollers' next receives need not wait
// for), and waits only when this many are pending.
const maxDeleting = 200

// checkWait is how long a source whose Check fails waits to ask again.
const checkWait = 5 * time.Second

// Run polls until ctx ends and returns once every worker has stopped.
func (q *QueueSource) Run(ctx context.Context, h Handler) {
	if q.Log == nil {
		q.Log = slog.New(slog.DiscardHandler)
	}
	q.deleteSlots = make(chan struct{}, maxDeleting)
	defer q.deletes.Wait()
	n := q.Concurrency
	if n <= 0 {
		n = defaultConcurrency
	}
	run := func(i int) { q.work(ctx, h, i) }
	if q.Depth != nil && (q.MaxConcurrency > n || q.Slots != nil || q.Ceiling != nil) {
		q.scale(ctx, n, run)
		return
	}
	q.pool.resize(n, run)
	<-ctx.Done()
	q.pool.resize(0, run)
	q.pool.wg.Wait()
}

// Running is the number of workers polling now.
func (q *QueueSource) Running() int { return q.pool.running() }

func (q *QueueSource) work(ctx context.Context, h Handler, i int) {
	acct, name, _ := sqsQueue(q.Arn)
	for ctx.Err() == nil && q.pool.keep(i) {
		if q.Check != nil {
			if err := q.Check(ctx); err != nil {
				q.Log.Warn("queue source may not read", "source", q.Arn, "err", err)
				pause(ctx, checkWait)
				continue
			}
		}
		batch, err := q.gather(ctx, acct, name)
		if err != nil {
			if ctx.Err() == nil {
				q.Log.Warn("queue source cannot receive", "source", q.Arn, "err", err)
				pause(ctx, 5*time.Second)
			}
			continue
		}
		if len(batch) == 0 {
			continue
		}
		if err := q.process(ctx, acct, name, batch, h); err != nil && ctx.Err() == nil {
			if errors.Is(err, errdefs.ErrThrottled) {
				q.throttled.Store(true)
			}
			q.Log.Info("queue source batch failed", "source", q.Arn, "messages", len(batch), "err", err)
			pause(ctx, time.Second)
		}
	}
}

// gather receives one batch: up to BatchSize messages, for up to the
// batching window once the first arrived (receives of at most 10).
func (q *QueueSource) gather(ctx context.Context, acct, name string) ([]Message, error) {
	first, err := q.Queues.Receive(ctx, acct, name, min(q.BatchSize, 10), pollWait)
	if err != nil || len(first) == 0 || q.Window == 0 || len(first) >= q.BatchSize {
		return first, err
	}
	deadline := time.Now().Add(time.Duration(q.Window) * time.Second)
	batch := first
	for len(batch) < q.BatchSize && ctx.Err() == nil {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		more, err := q.Queues.Receive(ctx, acct, name, min(q.BatchSize-len(batch), 10), min(left, pollWait))
		if err != nil {
			break
		}
		batch = append(batch, more...)
	}
	return batch, nil
}

// process filters a batch, hands it to h and deletes what is done.
func (q *QueueSource) process(ctx context.Context, acct, name string, batch []Message, h Handler) error {
	var (
		raws    []json.RawMessage
		handles = map[string]string{} // messageId -> receipt handle
		ids     []string
	)
	for i := range batch {
		r := queueRecord(q.Region, q.Arn, &batch[i])
		raw, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode record: %w", err)
		}
		if q.Filters != nil {
			if ok, err := q.Filters.Match(raw, eventpattern.EnvelopeSQS); err != nil || !ok {
				q.delete(ctx, acct, name, r.ReceiptHandle, nil)
				continue
			}
		}
		raws = append(raws, raw)
		handles[r.MessageID] = r.ReceiptHandle
		ids = append(ids, r.MessageID)
	}
	if len(raws) == 0 {
		return nil
	}
	failed, err := h(ctx, raws)
	if err != nil {
		return err
	}
	q.handled.Add(1)
	retry := map[string]bool{}
	for _, id := range failed {
		if _, ok := handles[id]; !ok {
			return fmt.Errorf("the handler names message %q, not in the batch: the whole batch returns to the queue", id)
		}
		retry[id] = true
	}
	var batchDeletes sync.WaitGroup
	for _, id := range ids {
		if !retry[id] {
			q.delete(ctx, acct, name, handles[id], &batchDeletes)
		}
	}
	if awaitDeletes {
		batchDeletes.Wait()
	}
	return nil
}

// awaitDeletes makes a worker wait for its batch's deletes before it
// polls again (BenchmarkDrain compares it with the default).
var awaitDeletes = false

// delete deletes a handled message without holding up the worker: the
// deletes of a batch go out together and the worker polls again while
// they are stored. A delete that fails leaves the message to come back
// after its visibility timeout (at least once, as Lambda's pollers).
// The source's Run waits for its deletes; a stopping source finishes
// them (each bounded by the queue's own timeout).
func (q *QueueSource) delete(ctx context.Context, acct, name, handle string, batch *sync.WaitGroup) {
	select {
	case q.deleteSlots <- struct{}{}:
	case <-ctx.Done():
		return
	}
	if batch != nil {
		batch.Add(1)
	}
	ctx = context.WithoutCancel(ctx)
	q.deletes.Go(func() {
		defer func() {
			<-q.deleteSlots
			if batch != nil {
				batch.Done()
			}
		}()
		if err := q.Queues.Delete(ctx, acct, name, handle); err != nil {
			q.Log.Warn("delete processed message", "source", q.Arn, "err", err)
		}
	})
}

func queueRecord(region, arn string, msg *Message) sqsRecord {
	r := sqsRecord{MessageID: msg.MessageID, ReceiptHandle: msg.ReceiptHandle, Body: msg.Body, Attributes: msg.Attributes,
		MessageAttributes: map[string]recordAttr{}, MD5OfBody: msg.MD5OfBody, EventSource: "aws:sqs",
		EventSourceARN: arn, AWSRegion: region}
	if msg.MD5OfAttributes != "" {
		r.MD5OfMessageAttributes = &msg.MD5OfAttributes
	}
	for k, v := range msg.MessageAttributes {
		r.MessageAttributes[k] = recordAttr{StringValue: v.StringValue, BinaryValue: v.BinaryValue,
			StringListValues: []string{}, BinaryListValues: []string{}, DataType: v.DataType}
	}
	if r.Attributes == nil {
		r.Attributes = map[string]string{}
	}
	return r
}

// StreamSource reads one stream in order from a checkpoint (one worker).
type StreamSource struct {
	Streams Streams
	Arn     string
	// BatchSize and Window (seconds) bound a batch.
	BatchSize, Window int
	// MaximumRetryAttempts (-1 or nil: until the record expires) and
	// MaximumRecordAgeInSeconds (-1 or nil: no limit) end a failing
	// batch's retries; Bisect halves it before each retry.
	MaximumRetryAttempts, MaximumRecordAgeInSeconds *int
	Bisect                                          bool
	// Filters skip records (nil keeps every record), read with Envelope.
	Filters  *eventpattern.Filters
	Envelope eventpattern.Envelope
	// Checkpoint is where reading resumes; SetCheckpoint records a new one.
	Checkpoint    func(ctx context.Context) uint64
	SetCheckpoint func(ctx context.Context, seq uint64)
	// OnFailure is told of a batch dropped after its retries (condition
	// RetryAttemptsExhausted or RecordAgeExceeded); nil: only logged.
	OnFailure func(ctx context.Context, batch []StreamRecord, attempts int, condition string)
	// IteratorAge, when set, hears the age of each batch's last record as
	// the batch is handed over (AWS/Lambda IteratorAge).
	IteratorAge func(age time.Duration)
	// Check, when set, is asked before each read: an error (the reader's
	// role may not read the stream) reads nothing and waits.
	Check func(ctx context.Context) error
	Log   *slog.Logger
}

// Run processes the stream until ctx ends.
func (s *StreamSource) Run(ctx context.Context, h Handler) {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	pos := s.Checkpoint(ctx)
	limit := s.BatchSize
	attempts := 0
	for ctx.Err() == nil {
		if s.Check != nil {
			if err := s.Check(ctx); err != nil {
				s.Log.Warn("stream source may not read", "source", s.Arn, "err", err)
				pause(ctx, checkWait)
				continue
			}
		}
		batch, next, err := s.gather(ctx, pos, limit)
		if err != nil {
			if ctx.Err() == nil {
				s.Log.Warn("stream source cannot read", "source", s.Arn, "err", err)
				pause(ctx, time.Second)
			}
			continue
		}
		if len(batch) == 0 {
			if next > pos {
				pos = next
				s.SetCheckpoint(ctx, pos)
			}
			pause(ctx, streamIdle)
			continue
		}
		// Records the filters reject are skipped, as Lambda does.
		var kept []StreamRecord
		for _, r := range batch {
			if s.Filters == nil {
				kept = append(kept, r)
				continue
			}
			if ok, err := s.Filters.Match(r.Event, s.Envelope); err == nil && ok {
				kept = append(kept, r)
			}
		}
		if len(kept) == 0 {
			pos = next
			s.SetCheckpoint(ctx, pos)
			continue
		}
		failedAt, err := s.handle(ctx, kept, h)
		if err == nil && failedAt == 0 {
			pos, limit, attempts = next, s.BatchSize, 0
			s.SetCheckpoint(ctx, pos)
			continue
		}
		if ctx.Err() != nil {
			return
		}
		attempts++
		if failedAt > 0 {
			pos = failedAt // retry from the first failed record
		}
		if cond := s.exhausted(attempts, kept); cond != "" {
			s.Log.Info("stream source dropped a failing batch", "source", s.Arn, "records", len(kept), "attempts", attempts)
			if s.OnFailure != nil {
				s.OnFailure(ctx, kept, attempts, cond)
			}
			pos, limit, attempts = next, s.BatchSize, 0
			s.SetCheckpoint(ctx, pos)
			continue
		}
		s.SetCheckpoint(ctx, pos)
		if s.Bisect && len(batch) > 1 {
			limit = max(1, len(batch)/2)
		}
		pause(ctx, 100*time.Millisecond)
	}
}

// gather reads up to limit records from pos, waiting up to the batching
// window for a full batch.
func (s *StreamSource) gather(ctx context.Context, pos uint64, limit int) ([]StreamRecord, uint64, error) {
	batch, next, err := s.Streams.Read(ctx, s.Arn, pos, min(limit, 1000))
	if err != nil || len(batch) == 0 || s.Window == 0 {
		return batch, next, err
	}
	deadline := time.Now().Add(time.Duration(s.Window) * time.Second)
	for len(batch) < limit && time.Now().Before(deadline) && ctx.Err() == nil {
		more, n, err := s.Streams.Read(ctx, s.Arn, next, min(limit-len(batch), 1000))
		if err != nil {
			break
		}
		batch, next = append(batch, more...), n
		if len(more) == 0 {
			pause(ctx, min(streamIdle*5, time.Until(deadline)))
		}
	}
	return batch, next, nil
}

// exhausted names why a failing batch is dropped ("" while it retries).
func (s *StreamSource) exhausted(attempts int, batch []StreamRecord) string {
	if a := s.MaximumRecordAgeInSeconds; a != nil && *a > 0 && time.Since(batch[0].Created) > time.Duration(*a)*time.Second {
		return "RecordAgeExceeded"
	}
	if r := s.MaximumRetryAttempts; r != nil && *r >= 0 && attempts > *r {
		return "RetryAttemptsExhausted"
	}
	return ""
}

// handle hands a batch to h. failedAt is the sequence of the first
// record h names.
func (s *StreamSource) handle(ctx context.Context, batch []StreamRecord, h Handler) (failedAt uint64, err error) {
	events := make([]json.RawMessage, len(batch))
	for i, r := range batch {
		events[i] = r.Event
	}
	if s.IteratorAge != nil {
		s.IteratorAge(time.Since(batch[len(batch)-1].Created))
	}
	failed, err := h(ctx, events)
	if err != nil {
		return 0, err
	}
	for _, id := range failed {
		found := false
		for _, r := range batch {
			if r.SequenceNumber == id {
				found = true
				if failedAt == 0 || r.Sequence < failedAt {
					failedAt = r.Sequence
				}
			}
		}
		if !found {
			return 0, fmt.Errorf("the handler names record %q, not in the batch", id)
		}
	}
	return failedAt, nil
}
