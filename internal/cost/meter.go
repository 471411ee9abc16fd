// Package cost meters invocations the way Lambda bills them and reports
// what they would cost on AWS. Meter is the pool's invocation observer: it
// turns each invocation into a Record (billed duration in 1 ms steps with
// the init phase included, memory, architecture, request) and stores the
// records durably on the backbone (the JetStream stream NIMBUS_METERING),
// batched off the invoke path into one group commit per flush. Report sums
// them per function, version and hour with a price table (the public AWS
// us-east-1 prices by default, or a JSON file) and what right-sizing
// memory would save. Only daemon and cli (the cost command's report)
// import it (and lambdaapi's handler reaches Report through an interface).
package cost

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// Stream layout.
const (
	StreamName    = "NIMBUS_METERING"
	subjectPrefix = "nimbus.metering."
	// batchSubject carries the batches: each message holds up to maxBatch
	// records as JSON lines (one message per record cost more CPU on the
	// invoke path's machine than the metrics themselves).
	batchSubject = subjectPrefix + "batch"
	// DefaultRetention: records older than this age out of the stream
	// (their hourly sums stay RollupRetention).
	DefaultRetention = 35 * 24 * time.Hour
	// flushEvery bounds how long a record waits for its batch.
	flushEvery = 200 * time.Millisecond
	// maxBatch is the most records published in one group commit.
	maxBatch = 1000
	// maxPending bounds the records held in memory while the backbone is
	// unavailable; past it records are dropped and counted.
	maxPending = 1 << 20
)

// Record is one metered invocation, as stored (JSON, one message each).
type Record struct {
	Time         time.Time `json:"t"` // start of the invocation
	RequestID    string    `json:"rid"`
	Function     string    `json:"fn"`
	Version      string    `json:"ver"`
	Qualifier    string    `json:"q,omitempty"`
	Architecture string    `json:"arch"`
	MemoryMB     int       `json:"mem"`
	// BilledMs is the billed duration (invoke + init, rounded up to 1 ms);
	// DurationMs and InitMs the measured phases.
	BilledMs   int64   `json:"billed_ms"`
	DurationMs float64 `json:"dur_ms"`
	InitMs     float64 `json:"init_ms,omitempty"`
	MaxMemMB   int     `json:"max_mem"`
	Error      bool    `json:"err,omitempty"`
}

// FromInvoke is the record of an invocation that ran (nil for throttled or
// platform-failed ones, which Lambda does not bill).
func FromInvoke(r *invoke.Record) *Record {
	if r.Throttled || r.PlatformError {
		return nil
	}
	return &Record{
		Time: r.Start.UTC(), RequestID: r.RequestID, Function: r.FunctionName, Version: r.Version,
		Qualifier: r.Qualifier, Architecture: r.Architecture, MemoryMB: r.MemorySizeMB,
		BilledMs:   r.BilledDuration.Milliseconds(),
		DurationMs: float64(r.Duration) / float64(time.Millisecond),
		InitMs:     float64(r.InitDuration) / float64(time.Millisecond),
		MaxMemMB:   r.MaxMemoryUsedMB,
		Error:      r.FunctionError != "",
	}
}

// GBSeconds is the record's compute: billed seconds times memory in GB.
func (r *Record) GBSeconds() float64 {
	return float64(r.BilledMs) / 1000 * float64(r.MemoryMB) / 1024
}

// Options configures a Meter.
type Options struct {
	JetStream jetstream.JetStream
	// Retention of the records (DefaultRetention when zero).
	Retention time.Duration
	// Replicas is how many copies the stream and bucket keep (0 means 1).
	Replicas int
	Logger   *slog.Logger
}

// Meter stores invocation records durably. It is safe for concurrent use;
// Run owns its flushing goroutine.
type Meter struct {
	js     jetstream.JetStream
	log    *slog.Logger
	stream jetstream.Stream
	kv     jetstream.KeyValue // hourly rollups
	now    func() time.Time
	kick   chan struct{} // wakes Run when a batch is full or Flush waits

	mu       sync.Mutex
	pending  []*Record     // guarded by mu
	waiters  []flushWaiter // guarded by mu
	enqueued uint64        // guarded by mu: records ever taken
	stored   uint64        // guarded by mu: records durably stored (in order)
	dropped  uint64        // guarded by mu
	retryN   int           // guarded by mu: length of a batch that failed, retried as is
	stopped  bool          // guarded by mu
}

type flushWaiter struct {
	upTo uint64
	done chan struct{}
}

// New creates (or updates) the metering stream and returns a Meter; call
// Run to start storing.
func New(ctx context.Context, opts Options) (*Meter, error) {
	if opts.JetStream == nil {
		return nil, errors.New("cost: JetStream is required")
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kv, err := opts.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: RollupBucket, Description: "hourly usage sums of the metering records",
		History: 1, Storage: jetstream.FileStorage, TTL: RollupRetention, Replicas: max(opts.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", RollupBucket, err)
	}
	st, err := opts.JetStream.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:     StreamName,
		Subjects: []string{subjectPrefix + ">"},
		Storage:  jetstream.FileStorage,
		// Usage history ages out oldest first: Discard Old is right for a
		// ledger with a retention period (nothing unread is waiting).
		Retention:  jetstream.LimitsPolicy,
		Discard:    jetstream.DiscardOld,
		MaxAge:     opts.Retention,
		Duplicates: 2 * time.Minute,
		Replicas:   max(opts.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", StreamName, err)
	}
	return &Meter{js: opts.JetStream, log: log, stream: st, kv: kv, now: time.Now, kick: make(chan struct{}, 1)}, nil
}

// InvokeStart implements the pool's observer (nothing to meter yet).
func (m *Meter) InvokeStart(context.Context, *function.Config, *invoke.Request) {}

// InvokeDone implements the pool's observer: the record joins the next
// batch. It never blocks on the backbone.
func (m *Meter) InvokeDone(_ context.Context, r *invoke.Record) {
	rec := FromInvoke(r)
	if rec == nil {
		return
	}
	m.mu.Lock()
	if len(m.pending) >= maxPending {
		m.dropped++
		m.mu.Unlock()
		return
	}
	m.pending = append(m.pending, rec)
	m.enqueued++
	full := len(m.pending) >= maxBatch
	m.mu.Unlock()
	if full {
		m.wake()
	}
}

func (m *Meter) wake() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Flush waits until every record taken before the call is stored.
func (m *Meter) Flush(ctx context.Context) error {
	m.mu.Lock()
	if m.stored >= m.enqueued {
		m.mu.Unlock()
		return nil
	}
	if m.stopped {
		m.mu.Unlock()
		return errors.New("cost: meter stopped")
	}
	w := flushWaiter{upTo: m.enqueued, done: make(chan struct{})}
	m.waiters = append(m.waiters, w)
	m.mu.Unlock()
	m.wake()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run stores batches until ctx ends, then stores what is left (bounded by
// a few seconds) and returns.
func (m *Meter) Run(ctx context.Context) error {
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	roll := time.NewTicker(rollupEvery)
	defer roll.Stop()
	m.rollupLogged(ctx)
	for {
		select {
		case <-roll.C:
			m.rollupLogged(ctx)
			continue
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			for m.flushOnce(fctx) {
			}
			cancel()
			m.mu.Lock()
			m.stopped = true
			left := len(m.pending)
			for _, w := range m.waiters {
				close(w.done)
			}
			m.waiters = nil
			m.mu.Unlock()
			if left > 0 {
				m.log.Warn("metering records not stored at shutdown", "count", left)
			}
			return nil
		case <-t.C:
		case <-m.kick:
		}
		for m.flushOnce(ctx) {
		}
	}
}

// flushOnce stores one batch as one message (its records as JSON lines)
// and reports whether another full batch may be waiting. A failed batch
// stays as it is and is retried on the next tick with the same message id,
// so a retry of a batch the server did store is deduplicated.
func (m *Meter) flushOnce(ctx context.Context) bool {
	m.mu.Lock()
	n := min(len(m.pending), maxBatch)
	if m.retryN > 0 {
		n = m.retryN // the same batch again, under the same id
	}
	batch := m.pending[:n:n]
	m.mu.Unlock()
	if n == 0 {
		return false
	}
	if err := m.publish(ctx, batch); err != nil {
		if ctx.Err() == nil {
			m.log.Warn("store metering records", "count", n, "err", err)
		}
		m.mu.Lock()
		m.retryN = n
		m.mu.Unlock()
		return false
	}
	m.mu.Lock()
	m.retryN = 0
	m.pending = append(m.pending[:0:0], m.pending[n:]...)
	m.stored += uint64(n)
	keep := m.waiters[:0]
	for _, w := range m.waiters {
		if m.stored >= w.upTo {
			close(w.done)
			continue
		}
		keep = append(keep, w)
	}
	m.waiters = keep
	more := len(m.pending) >= maxBatch
	m.mu.Unlock()
	return more
}

// publish stores batch as one message, with an id (a digest of its
// contents) that a retry of the same batch repeats and no other batch
// has. (Not the first request id and the length: an asynchronous event's
// retry runs under the same request id within the dedup window, and its
// batch was taken for a duplicate and dropped.)
func (m *Meter) publish(ctx context.Context, batch []*Record) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range batch {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("encode record %s: %w", r.RequestID, err)
		}
	}
	msg := &nats.Msg{Subject: batchSubject, Data: buf.Bytes(), Header: nats.Header{}}
	sum := sha256.Sum256(buf.Bytes())
	msg.Header.Set(jetstream.MsgIDHeader, "batch:"+hex.EncodeToString(sum[:]))
	if _, err := m.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("store %d records: %w", len(batch), err)
	}
	return nil
}

// Dropped is the number of records dropped because too many were waiting.
func (m *Meter) Dropped() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dropped
}

// Records returns the stored records that started at or after since, of
// function fn ("" for all), oldest first. Records still in a batch are
// flushed first.
func (m *Meter) Records(ctx context.Context, since time.Time, fn string) ([]Record, error) {
	if err := m.Flush(ctx); err != nil {
		return nil, fmt.Errorf("flush metering: %w", err)
	}
	var out []Record
	err := m.scan(ctx, since, fn, func(r *Record) {
		if !r.Time.Before(since) {
			out = append(out, *r)
		}
	})
	return out, err
}

// scan calls each for every stored record of fn ("" for all) stored at
// or after since (less a minute: a record is stored after its start), up
// to the last one stored when the scan began.
func (m *Meter) scan(ctx context.Context, since time.Time, fn string, each func(*Record)) error {
	info, err := m.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("read stream %s: %w", StreamName, err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 || last == 0 {
		return nil
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if !since.IsZero() {
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		st := since.Add(-time.Minute)
		cfg.OptStartTime = &st
	}
	cons, err := m.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("read stream %s: %w", StreamName, err)
	}
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			return fmt.Errorf("read stream %s: %w", StreamName, err)
		}
		n := 0
		var seq uint64
		for msg := range batch.Messages() {
			n++
			if md, err := msg.Metadata(); err == nil {
				seq = md.Sequence.Stream
			}
			dec := json.NewDecoder(bytes.NewReader(msg.Data()))
			for {
				var r Record
				if dec.Decode(&r) != nil {
					break
				}
				if fn == "" || r.Function == fn {
					each(&r)
				}
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return fmt.Errorf("read stream %s: %w", StreamName, err)
		}
		if n == 0 || seq >= last {
			return nil
		}
	}
}
