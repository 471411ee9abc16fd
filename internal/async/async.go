// Package async owns asynchronous invocation (InvocationType Event and the
// older InvokeAsync): the durable queue on the JetStream backbone, the
// group-commit publisher that lets concurrent enqueues share one fsync, the
// per-node dispatcher that invokes functions through the same
// invoke.Invoker as synchronous calls, Lambda's retry and event-age rules,
// and the destinations (OnSuccess, OnFailure, dead-letter) that invocation
// records go to.
//
// Who may import it: the daemon (wiring), lambdaapi (the Invoke edge, for
// Event) and events (EventBridge's Lambda targets). It imports function,
// invoke, errdefs and awsapi, and reaches the
// backbone only through the jetstream.JetStream it is given.
//
// # Life of an event
//
//	Enqueue ──publish (group commit: one message, one fsync for all
//	          the enqueues waiting)──> stream NIMBUS_ASYNC ──> 202
//	dispatcher worker: pull ─┬─ not due yet (retry delay) ─> NakWithDelay
//	                         ├─ older than MaximumEventAge ─> OnFailure/DLQ (EventAgeExceeded), ack
//	                         └─ invoke ─┬─ success ─> OnSuccess, ack
//	                                    ├─ function error, retries left ─> re-publish (+1 or +2 min), ack
//	                                    ├─ function error, none left ─> OnFailure/DLQ (RetriesExhausted), ack
//	                                    └─ throttle / platform error ─> re-publish (backoff 1 s .. 5 min), ack
//
// The event's state (enqueue time, attempts, invoke count, when it is due)
// travels in the message itself, so it survives restarts: a retry is a new
// message published before the old one is acknowledged. A crash between
// the two runs the event again (at-least-once, as Lambda promises), never
// loses it.
package async

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// Functions is what the dispatcher needs of the registry: the version an
// invocation runs and the function's asynchronous-invocation settings.
// *registry.Registry implements it.
type Functions interface {
	Resolve(ctx context.Context, name, qualifier string) (*function.Config, error)
	AsyncSettings(name, qualifier string) *function.EventInvokeConfig
	// Ready is closed once every function is known: no event is
	// dispatched before, or it would miss its settings.
	Ready() <-chan struct{}
}

// Defaults of Options.
const (
	DefaultConcurrency = 16
	DefaultAckWait     = 30 * time.Second
	DefaultMaxMsgs     = 1_000_000
	DefaultMaxBytes    = 4 << 30
)

// Options configures New.
type Options struct {
	JetStream jetstream.JetStream // required
	Functions Functions           // required
	Invoker   invoke.Invoker      // required
	Region    string
	AccountID string
	// DelayScale multiplies every asynchronous timing: retry delays,
	// throttle backoff and the maximum event age (1 = AWS's timing; the
	// server's --async-delay-scale 0.01 makes tests run in seconds).
	DelayScale float64
	// Concurrency is how many events this node's dispatcher runs at once.
	Concurrency int
	// AckWait is how long a pulled event stays invisible to other
	// dispatchers without a sign of life; running invocations send
	// in-progress acks every AckWait/3.
	AckWait time.Duration
	// MaxMsgs and MaxBytes bound the queue; a full queue refuses new
	// events (Discard New) rather than dropping queued ones.
	MaxMsgs  int64
	MaxBytes int64
	// SingleNode says this node is the only dispatcher (embedded
	// backbone): events left in flight by a previous process are
	// redelivered at start instead of after AckWait.
	SingleNode bool
	// Replicas is how many copies the queue stream keeps (0 means 1; 3
	// on a three-server cluster).
	Replicas int
	// Targets delivers invocation records to OnSuccess/OnFailure
	// destinations and events to DeadLetterConfig targets (SQS queues,
	// SNS topics, functions). Nil: a router of Lambda functions only.
	// Without a "lambda" deliverer, this service registers its own.
	Targets *deliver.Router
	// Storage, when set, reports a full disk (store.Store.StorageErr):
	// while it does, new events are refused at once with its error (the
	// awsapi.Unavailable category: ServiceException saying storage is
	// full) instead of after the publish times out.
	Storage func() error
	Logger  *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Service is one node's asynchronous invocation: queue and dispatcher.
type Service struct {
	storage func() error // nil: not watched
	js      jetstream.JetStream
	stream  jetstream.Stream
	cons    jetstream.Consumer
	fns     Functions
	inv     invoke.Invoker
	region  string
	account string
	scale   float64
	workers int
	ackWait time.Duration
	targets *deliver.Router
	log     *slog.Logger
	now     func() time.Time
	pub     *publisher
	// slots bound the events running at once on this node (Concurrency).
	slots chan struct{}

	counters counters

	runMu   sync.Mutex
	running bool // guarded by runMu
}

// counters are the service's monotonic counts (see Stats).
type counters struct {
	enqueued, invokes, succeeded, retries, throttles, exhausted,
	droppedForAge, dropped, destDelivered, destFailed atomic.Uint64
}

// New creates (or updates) the queue stream and the dispatcher's consumer.
// Nothing is dispatched until Run; Enqueue works once Run has started.
func New(ctx context.Context, opts Options) (*Service, error) {
	if opts.JetStream == nil || opts.Functions == nil || opts.Invoker == nil {
		return nil, errors.New("new async service: JetStream, Functions and Invoker are required")
	}
	s := &Service{
		storage: opts.Storage,
		js:      opts.JetStream,
		fns:     opts.Functions,
		inv:     opts.Invoker,
		region:  opts.Region,
		account: opts.AccountID,
		scale:   opts.DelayScale,
		workers: opts.Concurrency,
		ackWait: opts.AckWait,
		targets: opts.Targets,
		log:     opts.Logger,
		now:     opts.Now,
	}
	if s.scale <= 0 {
		s.scale = 1
	}
	if s.workers <= 0 {
		s.workers = DefaultConcurrency
	}
	if s.ackWait <= 0 {
		s.ackWait = DefaultAckWait
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.targets == nil {
		s.targets = deliver.NewRouter()
	}
	if !s.targets.Has("lambda") {
		s.targets.Handle("lambda", FunctionTarget(s, s.fns))
	}
	maxMsgs, maxBytes := opts.MaxMsgs, opts.MaxBytes
	if maxMsgs <= 0 {
		maxMsgs = DefaultMaxMsgs
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	var err error
	s.stream, err = s.js.CreateOrUpdateStream(ctx, streamConfig(maxMsgs, maxBytes, opts.Replicas))
	if err != nil {
		return nil, fmt.Errorf("new async service: stream %s: %w", StreamName, err)
	}
	if opts.SingleNode {
		// Events a killed process had pulled are pending on the consumer
		// until AckWait; with no other dispatcher they are orphans, and a
		// fresh consumer on the work queue delivers them now.
		if err := s.stream.DeleteConsumer(ctx, consumerName); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("new async service: reset consumer: %w", err)
		}
	}
	s.cons, err = s.stream.CreateOrUpdateConsumer(ctx, consumerConfig(s.ackWait))
	if err != nil {
		return nil, fmt.Errorf("new async service: consumer %s: %w", consumerName, err)
	}
	s.pub = newPublisher(s.js)
	s.slots = make(chan struct{}, s.workers)
	return s, nil
}

// Run runs the publisher and the dispatcher until ctx ends. Dispatching
// stops first (running invocations are cancelled and their events, not
// acknowledged, run again later), then the publisher.
func (s *Service) Run(ctx context.Context) error {
	s.runMu.Lock()
	if s.running {
		s.runMu.Unlock()
		return errors.New("async service: Run called twice")
	}
	s.running = true
	s.runMu.Unlock()

	pubCtx, stopPub := context.WithCancel(context.WithoutCancel(ctx))
	var pubWG sync.WaitGroup
	pubWG.Add(1)
	go func() {
		defer pubWG.Done()
		s.pub.run(pubCtx)
	}()

	var wg sync.WaitGroup
	select {
	case <-s.fns.Ready():
	case <-ctx.Done():
	}
	for i := range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.work(ctx, i)
		}()
	}
	wg.Wait()
	stopPub()
	pubWG.Wait()
	return nil
}

// Stats are the counters the telemetry reads. Counts are since the
// process started; QueueDepth and OldestEventAge are read from the
// stream.
type Stats struct {
	// QueueDepth is how many events are queued or running (including
	// events waiting for a retry, and the finished events of a group
	// message whose other events still run).
	QueueDepth uint64
	// OldestEventAge is how long the oldest queued message has waited
	// (a retried event counts from its latest retry).
	OldestEventAge time.Duration
	Enqueued       uint64 // events accepted (Invoke Event, InvokeAsync, destination records)
	Invocations    uint64 // invocations the dispatcher made
	Succeeded      uint64 // events whose invocation succeeded
	Retries        uint64 // function-error retries scheduled
	Throttles      uint64 // throttle and platform-error retries scheduled
	// RetriesExhausted are events that failed 1 + MaximumRetryAttempts times.
	RetriesExhausted uint64
	// DroppedForAge are events older than MaximumEventAgeInSeconds.
	DroppedForAge uint64
	// Dropped are events whose function no longer exists.
	Dropped               uint64
	DestinationDeliveries uint64 // records delivered (OnSuccess, OnFailure, DLQ)
	DestinationFailures   uint64 // records that could not be delivered
}

// Stats returns the current counters.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	c := &s.counters
	st := Stats{
		Enqueued:              c.enqueued.Load(),
		Invocations:           c.invokes.Load(),
		Succeeded:             c.succeeded.Load(),
		Retries:               c.retries.Load(),
		Throttles:             c.throttles.Load(),
		RetriesExhausted:      c.exhausted.Load(),
		DroppedForAge:         c.droppedForAge.Load(),
		Dropped:               c.dropped.Load(),
		DestinationDeliveries: c.destDelivered.Load(),
		DestinationFailures:   c.destFailed.Load(),
	}
	info, err := s.stream.Info(ctx, jetstream.WithSubjectFilter("nimbus.async.>"))
	if err != nil {
		return st, fmt.Errorf("async stats: stream info: %w", err)
	}
	for subj, msgs := range info.State.Subjects {
		n, err := strconv.Atoi(strings.TrimPrefix(subj, subject+"."))
		if err != nil || n < 1 {
			n = 1
		}
		st.QueueDepth += msgs * uint64(n)
	}
	if info.State.Msgs > 0 && !info.State.FirstTime.IsZero() {
		st.OldestEventAge = max(s.now().Sub(info.State.FirstTime), 0)
	}
	return st, nil
}

// scaled applies DelayScale to d (at least a millisecond).
func (s *Service) scaled(d time.Duration) time.Duration {
	return max(time.Duration(float64(d)*s.scale), time.Millisecond)
}
