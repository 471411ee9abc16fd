package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/events"
)

// StreamName is the stream of firings not yet delivered.
const StreamName = "NIMBUS_SCHEDULER"

const (
	subjectFire  = "nimbus.scheduler.fire"
	consumerName = "nimbus-scheduler-delivery"
	dedupWindow  = 10 * time.Minute
	ackWait      = 60 * time.Second
	// DefaultMaxBytes bounds the stream when Options.MaxBytes is 0.
	DefaultMaxBytes = 256 << 20
)

// BusPutter puts one event on an event bus (EventBridge's PutEvents for
// a schedule whose target is a bus); *events.Service implements it.
type BusPutter interface {
	PutEvent(ctx context.Context, bus, source, detailType, detail string, resources []string) error
}

// Options configures New.
type Options struct {
	JetStream jetstream.JetStream // required
	// Targets delivers to Lambda functions, SQS queues and the other
	// services the node registers (required).
	Targets *deliver.Router
	// Bus puts events for event-bus targets; nil refuses them.
	Bus       BusPutter
	Region    string
	AccountID string
	// MaxBytes bounds the stream of firings not yet delivered (0:
	// DefaultMaxBytes); a full stream delays firing, never drops it.
	MaxBytes int64
	// Lease, when set, runs the firing loop only while this node holds
	// the cluster's scheduler lease (internal/lease); nil fires on this
	// node always (a single node).
	Lease func(ctx context.Context, fn func(ctx context.Context) error) error
	// SingleNode resets the delivery consumer at start, so firings a
	// killed process had pulled are delivered at once.
	SingleNode bool
	// DelayScale multiplies retry delays (1 = AWS's timing).
	DelayScale float64
	// Clock is the time source of due times; the real one when nil.
	Clock  events.Clock
	Logger *slog.Logger
}

// Service is one node's EventBridge Scheduler.
type Service struct {
	js         jetstream.JetStream
	kv         jetstream.KeyValue
	tokens     jetstream.KeyValue // ClientTokens of recent creates (TokenBucket)
	cons       jetstream.Consumer
	deliveries *deliver.Router
	bus        BusPutter
	lease      func(ctx context.Context, fn func(ctx context.Context) error) error
	region     string
	account    string
	scale      float64
	clock      events.Clock
	log        *slog.Logger

	fired, invocations, failed, deadLetters atomic.Uint64

	runMu   sync.Mutex
	running bool // guarded by runMu
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Stats are the counters, named as Scheduler's metrics.
type Stats struct {
	// Fired counts the due times this node recorded on the stream.
	Fired uint64
	// Invocations, FailedInvocations (attempts that failed) and
	// DeadLetters (firings sent to a DeadLetterConfig).
	Invocations, FailedInvocations, DeadLetters uint64
}

// Stats reads the counters.
func (s *Service) Stats() Stats {
	return Stats{Fired: s.fired.Load(), Invocations: s.invocations.Load(), FailedInvocations: s.failed.Load(), DeadLetters: s.deadLetters.Load()}
}

// New opens the bucket, the stream and the delivery consumer and makes
// sure the default group exists. Nothing fires until Run.
func New(ctx context.Context, o Options) (*Service, error) {
	if o.JetStream == nil || o.Targets == nil {
		return nil, errors.New("new scheduler: JetStream and Targets are required")
	}
	s := &Service{js: o.JetStream, deliveries: o.Targets, bus: o.Bus, lease: o.Lease, region: o.Region,
		account: o.AccountID, scale: o.DelayScale, clock: o.Clock, log: o.Logger}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.scale <= 0 {
		s.scale = 1
	}
	var err error
	if s.kv, err = openBucket(ctx, s.js); err != nil {
		return nil, fmt.Errorf("new scheduler: %w", err)
	}
	if s.tokens, err = openTokens(ctx, s.js); err != nil {
		return nil, fmt.Errorf("new scheduler: %w", err)
	}
	now := epoch(s.clock.Now())
	g, _ := json.Marshal(Group{Name: DefaultGroup, Arn: s.groupArn(DefaultGroup), State: "ACTIVE", CreationDate: now, LastModificationDate: now})
	if _, err := s.kv.Create(ctx, groupKey(DefaultGroup), g); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("new scheduler: default group: %w", err)
	}
	maxBytes := o.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	stream, err := s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "Nimbus EventBridge Scheduler firings not yet delivered",
		Subjects:    []string{"nimbus.scheduler.>"},
		Retention:   jetstream.WorkQueuePolicy,
		Discard:     jetstream.DiscardNew,
		MaxBytes:    maxBytes,
		MaxMsgSize:  1 << 20,
		Storage:     jetstream.FileStorage,
		Replicas:    1,
		Duplicates:  dedupWindow,
	})
	if err != nil {
		return nil, fmt.Errorf("new scheduler: stream %s: %w", StreamName, err)
	}
	if o.SingleNode {
		if err := stream.DeleteConsumer(ctx, consumerName); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("new scheduler: reset consumer: %w", err)
		}
	}
	if s.cons, err = s.js.CreateOrUpdateConsumer(ctx, StreamName, jetstream.ConsumerConfig{
		Durable:       consumerName,
		Description:   "Nimbus EventBridge Scheduler delivery",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		MaxAckPending: 10_000,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}); err != nil {
		return nil, fmt.Errorf("new scheduler: consumer: %w", err)
	}
	return s, nil
}

// Run fires due schedules (under the lease, when there is one) and
// delivers firings until ctx ends; it returns when both have stopped.
func (s *Service) Run(ctx context.Context) error {
	s.runMu.Lock()
	if s.running {
		s.runMu.Unlock()
		return errors.New("scheduler already running")
	}
	s.running = true
	s.runMu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Go(func() { errs <- s.deliverLoop(ctx) })
	wg.Go(func() {
		if s.lease != nil {
			errs <- s.lease(ctx, s.fireLoop)
			return
		}
		errs <- s.fireLoop(ctx)
	})
	var first error
	select {
	case <-ctx.Done():
	case first = <-errs:
		cancel()
	}
	wg.Wait()
	return first
}
