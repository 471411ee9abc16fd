package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/async"
	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// DefaultBus is the bus every account has.
const DefaultBus = "default"

// AWS's RetryPolicy defaults.
const (
	DefaultMaxRetries  = 185
	DefaultMaxEventAge = 86_400 // seconds
)

// Clock is the time source of schedules and retries; tests drive it.
type Clock interface {
	Now() time.Time
	// After fires once d has passed on this clock.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options configures New.
type Options struct {
	JetStream jetstream.JetStream // required
	Functions Functions           // required
	Async     Enqueuer            // required: Lambda targets are invoked through it
	Region    string
	AccountID string
	// Targets is the node's shared delivery router (internal/deliver):
	// every target and dead letter goes through it. Nil: a router of
	// Lambda functions only (through Async). Without a "lambda"
	// deliverer, one through Async and Functions is registered.
	Targets *deliver.Router
	// MaxBytes bounds the stream of events not yet routed (reserved out
	// of JetStream's storage when it is created); a full stream refuses
	// PutEvents rather than dropping events. 0: DefaultMaxBytes.
	MaxBytes int64
	// DelayScale multiplies retry delays (1 = AWS's timing).
	DelayScale float64
	// SingleNode says this node is the only router: events a killed
	// process had pulled are redelivered at start instead of after the
	// ack wait.
	SingleNode bool
	Logger     *slog.Logger
	// Clock is the time source; the real one when nil.
	Clock Clock
	// Lease runs fn on one node of the cluster at a time (internal/lease):
	// the archive retention sweep. Nil: fn runs here (a single node).
	Lease func(ctx context.Context, fn func(context.Context) error) error
}

// Service is one node's EventBridge: API, router and scheduler.
type Service struct {
	js         jetstream.JetStream
	kv         jetstream.KeyValue
	stream     jetstream.Stream
	cons       jetstream.Consumer
	fns        Functions
	async      Enqueuer
	deliveries *deliver.Router
	arns       arns
	region     string
	account    string
	scale      float64
	log        *slog.Logger
	clock      Clock
	lease      func(context.Context, func(context.Context) error) error
	cache      *cache
	ready      chan struct{} // closed once the cache holds the stored rules

	counters counters
	commit   *store.Group[stored] // group commit of put messages (commit.go)

	archives   archiveSet
	archiveStr jetstream.Stream

	replayMu  sync.Mutex
	replayCtx context.Context // guarded by replayMu: set while Run runs
	replaying map[string]bool // guarded by replayMu: replays running here
	replayWG  sync.WaitGroup

	runMu   sync.Mutex
	running bool // guarded by runMu
}

// counters are the service's monotonic counts, named as EventBridge's
// metrics.
type counters struct {
	putEvents, matched, invocations, failed, deadLetters, triggered atomic.Uint64
}

// Stats are the counters (for /metrics and tests).
type Stats struct {
	PutEvents, MatchedEvents, Invocations, FailedInvocations, DeadLetterInvocations, TriggeredRules uint64
}

// Stats reads the counters.
func (s *Service) Stats() Stats {
	return Stats{
		PutEvents:             s.counters.putEvents.Load(),
		MatchedEvents:         s.counters.matched.Load(),
		Invocations:           s.counters.invocations.Load(),
		FailedInvocations:     s.counters.failed.Load(),
		DeadLetterInvocations: s.counters.deadLetters.Load(),
		TriggeredRules:        s.counters.triggered.Load(),
	}
}

// New creates (or updates) the bucket, the stream and the router's
// consumer, and makes sure the default bus exists. Nothing is routed or
// fired until Run.
func New(ctx context.Context, opts Options) (*Service, error) {
	if opts.JetStream == nil || opts.Functions == nil || opts.Async == nil {
		return nil, errors.New("new events service: JetStream, Functions and Async are required")
	}
	s := &Service{
		js:         opts.JetStream,
		fns:        opts.Functions,
		async:      opts.Async,
		deliveries: opts.Targets,
		arns:       arns{region: opts.Region, account: opts.AccountID},
		region:     opts.Region,
		account:    opts.AccountID,
		scale:      opts.DelayScale,
		log:        opts.Logger,
		clock:      opts.Clock,
		lease:      opts.Lease,
		cache:      newCache(),
		archives:   archiveSet{m: map[string]*compiledArchive{}},
		replaying:  map[string]bool{},
		ready:      make(chan struct{}),
	}
	s.commit = s.newCommitter()
	if s.deliveries == nil {
		s.deliveries = deliver.NewRouter()
	}
	if !s.deliveries.Has("lambda") {
		s.deliveries.Handle("lambda", async.FunctionTarget(opts.Async, opts.Functions))
	}
	if s.scale <= 0 {
		s.scale = 1
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	var err error
	if s.kv, err = openConfig(ctx, s.js); err != nil {
		return nil, fmt.Errorf("new events service: %w", err)
	}
	if err := s.ensureDefaultBus(ctx); err != nil {
		return nil, fmt.Errorf("new events service: %w", err)
	}
	maxBytes := opts.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if s.stream, err = s.js.CreateOrUpdateStream(ctx, streamConfig(maxBytes)); err != nil {
		return nil, fmt.Errorf("new events service: stream %s: %w", StreamName, err)
	}
	if s.archiveStr, err = s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        ArchiveStream,
		Description: "Nimbus EventBridge archives (one subject per archive)",
		Subjects:    []string{"nimbus.archive.>"},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld, // a full store drops an archive's oldest events
		MaxBytes:    maxBytes / 2,
		MaxMsgSize:  2 << 20,
		Storage:     jetstream.FileStorage,
		Replicas:    1,
		Duplicates:  dedupWindow,
	}); err != nil {
		return nil, fmt.Errorf("new events service: stream %s: %w", ArchiveStream, err)
	}
	if opts.SingleNode {
		// Messages a killed process had pulled wait out the ack wait on
		// the old consumer; a fresh one on the work queue delivers them now.
		if err := s.stream.DeleteConsumer(ctx, consumerName); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("new events service: reset consumer: %w", err)
		}
	}
	// Through s.js, not s.stream: on a cluster the store's JetStream
	// retries a create that the meta leader left unanswered while the
	// nodes were still forming (store.clusterJS).
	if s.cons, err = s.js.CreateOrUpdateConsumer(ctx, StreamName, consumerConfig()); err != nil {
		return nil, fmt.Errorf("new events service: consumer: %w", err)
	}
	return s, nil
}

// Run keeps the rule cache current, routes events, fires schedules and
// sweeps archives until ctx ends; it returns when all have stopped.
func (s *Service) Run(ctx context.Context) error {
	s.runMu.Lock()
	if s.running {
		s.runMu.Unlock()
		return errors.New("events service already running")
	}
	s.running = true
	s.runMu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	archivesReady := make(chan struct{})
	wg.Go(func() { errs <- s.cache.watch(ctx, s.kv, s.ready) })
	wg.Go(func() { errs <- s.watchArchives(ctx, archivesReady) })
	for _, ready := range []chan struct{}{s.ready, archivesReady} {
		select {
		case <-ready:
		case <-ctx.Done():
			wg.Wait()
			return nil
		case err := <-errs:
			cancel()
			wg.Wait()
			return err
		}
	}
	s.replayMu.Lock()
	s.replayCtx = ctx
	s.replayMu.Unlock()
	defer s.replayWG.Wait()
	if rps, err := s.replays(ctx); err == nil {
		for _, rp := range rps {
			if activeReplay(rp.State) {
				s.runReplay(rp.ReplayName) // resumed: repeats within the dedup window are dropped
			}
		}
	}
	wg.Go(func() { errs <- s.route(ctx) })
	wg.Go(func() { errs <- s.runScheduler(ctx) })
	wg.Go(func() { errs <- s.runArchiveSweep(ctx) })
	var first error
	select {
	case <-ctx.Done():
	case first = <-errs:
		cancel()
	}
	wg.Wait()
	return first
}

func (s *Service) now() time.Time { return s.clock.Now() }

func (s *Service) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * s.scale)
}
